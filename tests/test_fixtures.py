"""The session caches behind ``synth`` and ``shipped_plan`` hand each test its own copy."""

from __future__ import annotations

from tests.conftest import PROD_VARIANT, shipped_plan

SQL = "gcp:sql/databaseInstance:DatabaseInstance"


def test_a_test_that_edits_its_synth_result_cannot_change_the_next_ones(synth) -> None:
    first = synth("dev")
    first.one(SQL).inputs["settings"]["tier"] = "edited"
    first.resources.clear()
    again = synth("dev")
    assert again.one(SQL).inputs["settings"]["tier"] != "edited"


def _min_instances(plan, service: str) -> int:
    run = plan.one("gcp:cloudrunv2/service:Service", f"-{service}-service")
    return run.inputs["template"]["scaling"]["minInstanceCount"]


def test_overrides_are_a_variant_of_their_own(synth) -> None:
    """The shared prod variant (a variant is a whole program run, so the suite asks for one)."""
    warm = PROD_VARIANT["grid:services"]["ai"]["minInstances"]
    assert _min_instances(synth("prod", PROD_VARIANT), "ai") == warm
    assert _min_instances(synth("prod"), "ai") != warm


def test_a_shipped_plan_is_copied_per_call() -> None:
    plan = shipped_plan("dev")
    plan.violations.append({"policy": "edited"})
    plan.run.resources.clear()
    again = shipped_plan("dev")
    assert again.run.resources and {"policy": "edited"} not in again.violations
