"""Tagged rollouts: traffic in the plan, and what promote/rollback change in the stack config."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grid.rollout import plan_change
from grid.stackfile import UsageError
from tests.conftest import PROD_VARIANT, REPO_ROOT

# The shared prod variant pins api under prod's tagged rollout (its other overrides leave auth and api alone).
PINNED = PROD_VARIANT["grid:rollout"]["stable"]["api"]
TAGGED = {
    "strategy": "tagged",
    "stable": {"api": PINNED},
    "previous": {"api": "grid-prod-api-00006-xyz"},
}


def _traffic(plan, service: str) -> list[dict]:
    run = next(
        s for s in plan.of_type("gcp:cloudrunv2/service:Service") if s.inputs["labels"]["grid-service"] == service
    )
    return run.inputs["traffics"]


def test_tagged_stack_pins_stable_and_tags_latest_at_zero(synth) -> None:
    plan = synth("prod", PROD_VARIANT)
    assert _traffic(plan, "api") == [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": PINNED, "percent": 100},
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
        "grid:rollout.previous.api": PINNED,
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
        (TAGGED, "api", "promote", PINNED, "already serves all traffic"),
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


def _deployment(plan) -> dict:
    """The stack's state after an update, as `pulumi stack export` gives it (the part rollouts read)."""
    return {"resources": [{"type": r.type, "urn": r.urn, "inputs": r.inputs} for r in plan.resources]}


def _nested(leaves: dict[str, str]) -> dict:
    """Config leaves (grid:rollout.stable.api -> rev) as the nested stack-file value they set."""
    rollout: dict = {}
    for path, revision in leaves.items():
        _, key, service = path.split(".")
        rollout.setdefault(key, {})[service] = revision
    return rollout


def test_a_promotion_is_kept_by_the_next_deploy_from_a_fresh_checkout(synth) -> None:
    from grid.rollout import overrides, recorded
    from tests.conftest import stack_values

    # An earlier promote left PINNED serving; the stack file in git pins nothing.
    before = _deployment(synth("prod", PROD_VARIANT))
    restored = overrides(stack_values("prod"), recorded(before))
    assert restored == {"grid:rollout.stable.api": PINNED}

    # `grid rollout prod api promote` on a CI runner, then its targeted update records the decision in the state.
    change = plan_change({"strategy": "tagged", **_nested(restored)}, "api", "promote", "grid-prod-api-00008-new")
    after = _deployment(synth("prod", {"grid:rollout": _nested(change.set)}))

    # The next deploy, from another fresh checkout: still routed to the promoted revision...
    leaves = overrides(stack_values("prod"), recorded(after))
    next_deploy = synth("prod", {"grid:rollout": _nested(leaves)})
    assert _traffic(next_deploy, "api")[0] == {
        "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
        "revision": "grid-prod-api-00008-new",
        "percent": 100,
    }
    # ...and rollback has something to return to.
    back = plan_change({"strategy": "tagged", **_nested(leaves)}, "api", "rollback", "grid-prod-api-00009-bad")
    assert back.set == {"grid:rollout.stable.api": PINNED}


def test_a_revision_pinned_in_the_stack_file_wins_over_the_recorded_one() -> None:
    from grid.rollout import overrides

    state = {"stable": {"api": "grid-prod-api-00008-new", "ai": "grid-prod-ai-00003-abc"}, "previous": {}}
    pinned = {"grid:rollout": {"stable": {"api": "grid-prod-api-00007-abc"}}}
    assert overrides(pinned, state) == {"grid:rollout.stable.ai": "grid-prod-ai-00003-abc"}


def test_a_deploy_runs_with_the_recorded_decision_and_leaves_the_stack_file_as_it_was(tmp_path, synth) -> None:
    from types import SimpleNamespace

    from grid.rollout import recorded_rollout

    state = _deployment(synth("prod", PROD_VARIANT))
    checkout = tmp_path / "checkout"  # a fresh one: the shipped stack file, no pins
    checkout.mkdir()
    stack_file = checkout / "Pulumi.prod.yaml"
    stack_file.write_bytes((REPO_ROOT / "Pulumi.prod.yaml").read_bytes())
    set_during_run: dict[str, str] = {}

    class WorkspaceStack:  # the two Automation API calls recorded_rollout makes; set_config edits the file
        def export_stack(self):
            return SimpleNamespace(deployment=state)

        def set_config(self, key, value, path):
            set_during_run[key] = value.value
            stack_file.write_text(stack_file.read_text() + f"\n# {key}: {value.value}\n")

    with recorded_rollout(WorkspaceStack(), checkout, "prod"):
        assert set_during_run == {"grid:rollout.stable.api": PINNED}
    assert stack_file.read_bytes() == (REPO_ROOT / "Pulumi.prod.yaml").read_bytes()
