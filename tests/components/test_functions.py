"""Cloud Functions (gen2) sizing: what Google requires of a function's vCPU, timeout and memory, built alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.compute import CloudFunction
from components.compute.functions import FunctionSize
from tests.components.test_standalone import build_alone

FUNCTION = "gcp:cloudfunctionsv2/function:Function"


@pytest.mark.parametrize(
    ("memory", "concurrency", "cpu"),
    [("512Mi", 1, None), ("256Mi", 4, "1"), ("512Mi", 8, "1"), ("1Gi", 2, "1"), ("2Gi", 8, None), ("4Gi", 80, None)],
)
def test_a_concurrent_function_gets_the_full_vcpu_google_requires(
    tmp_path: Path, memory: str, concurrency: int, cpu: str | None
) -> None:
    """More than one request at a time needs 1 vCPU or more (https://cloud.google.com/functions/docs/configuring/
    concurrency); below 2 GiB a function's memory alone gives it less (512 MiB: .333 vCPU), so Grid asks for one."""
    size = FunctionSize.model_validate({"memory": memory, "concurrency": concurrency})
    function = build_alone(CloudFunction, tmp_path, config=size).one(FUNCTION)
    service = function.inputs["serviceConfig"]
    assert service.get("availableCpu") == cpu
    assert service["maxInstanceRequestConcurrency"] == concurrency
