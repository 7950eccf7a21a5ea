"""Compute: Cloud Run services and jobs, Cloud Functions (gen2), and the images they run."""

from components.compute.functions import (
    CloudFunction,
    CloudFunctionArgs,
    FunctionBuilds,
    FunctionBuildsArgs,
    FunctionSize,
    FunctionSourceBucket,
)
from components.compute.images import ServiceImage, ServiceImageArgs
from components.compute.run import CloudRunJob, CloudRunJobArgs, CloudRunService, CloudRunServiceArgs, ServiceSize
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
    "FunctionSize",
    "FunctionSourceBucket",
    "SecretRef",
    "ServiceImage",
    "ServiceImageArgs",
    "ServiceSize",
]
