"""What breaks once a first deploy is running (issue 16 items 11-16), checked on the offline plan."""

from __future__ import annotations

import pytest

from components.compute.run import STARTUP_CONNECT_SECONDS
from tests.conftest import STACKS

RUN_SERVICE = "gcp:cloudrunv2/service:Service"
RUN_JOB = "gcp:cloudrunv2/job:Job"


def _env(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["envs"]}


@pytest.mark.parametrize("stack", STACKS)
def test_startup_probes_outlast_direct_vpc_egress_and_the_app_retries_inside_them(synth, stack: str) -> None:
    plan = synth(stack)
    for service in plan.of_type(RUN_SERVICE):
        [container] = service.inputs["template"]["containers"]
        probe = container["startupProbe"]
        waits = probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"]
        assert 120 <= waits <= 240, f"{service.name}: the startup probe gives up after {waits}s"
        assert int(_env(container)["STARTUP_CONNECT_SECONDS"]) == STARTUP_CONNECT_SECONDS < waits
    [job] = plan.of_type(RUN_JOB)
    [container] = job.inputs["template"]["template"]["containers"]
    assert int(_env(container)["STARTUP_CONNECT_SECONDS"]) == STARTUP_CONNECT_SECONDS
    assert int(job.inputs["template"]["template"]["timeout"].rstrip("s")) > STARTUP_CONNECT_SECONDS
