"""Compute: Cloud Run services and jobs, Cloud Functions (gen2), and the images they run."""

from components.compute.functions import (
    CloudFunction,
    CloudFunctionArgs,
    FunctionBuilds,
    FunctionBuildsArgs,
    FunctionSourceBucket,
)
from components.compute.images import ServiceImage, ServiceImageArgs
from components.compute.run import CloudRunJob, CloudRunJobArgs, CloudRunService, CloudRunServiceArgs
from components.secrets import SecretRef

__all__ = [
    "CloudFunction",
    "CloudFunctionArgs",
    "CloudRunJob",
    "CloudRunJobArgs",
    "CloudRunService",
    "CloudRunServiceArgs",
    "FunctionBuilds",
    "FunctionBuildsArgs",
    "FunctionSourceBucket",
    "SecretRef",
    "ServiceImage",
    "ServiceImageArgs",
]
