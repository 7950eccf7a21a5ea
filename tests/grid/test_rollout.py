"""Tagged rollouts: traffic in the plan, and what promote/rollback change in the stack config."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grid.rollout import plan_change
from grid.stackfile import UsageError
from tests.conftest import REPO_ROOT

TAGGED = {
    "strategy": "tagged",
    "stable": {"api": "grid-prod-api-00007-abc"},
    "previous": {"api": "grid-prod-api-00006-xyz"},
}


def _traffic(plan, service: str) -> list[dict]:
    run = next(
        s for s in plan.of_type("gcp:cloudrunv2/service:Service") if s.inputs["labels"]["grid-service"] == service
    )
    return run.inputs["traffics"]


def test_tagged_stack_pins_stable_and_tags_latest_at_zero(synth) -> None:
    plan = synth("prod", {"grid:rollout": {"stable": {"api": "grid-prod-api-00007-abc"}}})
    assert _traffic(plan, "api") == [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "grid-prod-api-00007-abc", "percent": 100},
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 0, "tag": "candidate"},
    ]
    # Before its first promote a service sends everything to the latest revision, still tagged.
    assert _traffic(plan, "auth") == [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100, "tag": "candidate"}
    ]
    assert set(plan.outputs["serviceRevisions"]) == {"auth", "api", "ai"}


def test_immediate_stack_sends_all_traffic_to_latest(synth) -> None:
    assert _traffic(synth("dev"), "api") == [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]


def test_stable_revision_must_belong_to_the_service(synth) -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match="is not a revision of grid-prod-api"):
        synth("prod", {"grid:rollout": {"stable": {"api": "grid-prod-auth-00001-abc"}}})


def test_promote_pins_latest_and_remembers_the_old_stable() -> None:
    change = plan_change(TAGGED, "api", "promote", "grid-prod-api-00008-new")
    assert change.set == {
        "grid:rollout.stable.api": "grid-prod-api-00008-new",
        "grid:rollout.previous.api": "grid-prod-api-00007-abc",
    }
    assert change.remove == []


def test_rollback_restores_previous() -> None:
    change = plan_change(TAGGED, "api", "rollback", "grid-prod-api-00008-new")
    assert change.set == {"grid:rollout.stable.api": "grid-prod-api-00006-xyz"}
    assert change.remove == ["grid:rollout.previous.api"]


@pytest.mark.parametrize(
    ("rollout", "service", "action", "latest", "message"),
    [
        ({"strategy": "immediate"}, "api", "promote", "r", "rolls out immediately"),
        (TAGGED, "api", "promote", "grid-prod-api-00007-abc", "already serves all traffic"),
        (TAGGED, "api", "promote", None, "no ready revision"),
        (TAGGED, "auth", "rollback", None, "no previous revision"),
        (TAGGED, "db", "promote", "r", "unknown service"),
    ],
)
def test_refusals_say_why(rollout, service, action, latest, message) -> None:
    with pytest.raises(UsageError, match=message):
        plan_change(rollout, service, action, latest)


def test_cli_without_pulumi_says_what_to_install() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "grid.cli", "rollout", "prod", "api", "promote"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": "/nonexistent", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 2 and "Pulumi CLI is not installed" in result.stderr
