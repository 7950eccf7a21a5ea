"""The session caches behind ``synth`` and ``shipped_plan`` hand each test its own copy."""

from __future__ import annotations

from tests.conftest import shipped_plan

SQL = "gcp:sql/databaseInstance:DatabaseInstance"


def test_a_test_that_edits_its_synth_result_cannot_change_the_next_ones(synth) -> None:
    first = synth("dev")
    first.one(SQL).inputs["settings"]["tier"] = "edited"
    first.resources.clear()
    again = synth("dev")
    assert again.one(SQL).inputs["settings"]["tier"] != "edited"


def test_overrides_are_a_variant_of_their_own(synth) -> None:
    bigger = synth("dev", {"grid:database": {"diskSizeGb": 15}})
    assert bigger.one(SQL).inputs["settings"]["diskSize"] == 15
    assert synth("dev").one(SQL).inputs["settings"]["diskSize"] != 15


def test_a_shipped_plan_is_copied_per_call() -> None:
    plan = shipped_plan("dev")
    plan.violations.append({"policy": "edited"})
    plan.run.resources.clear()
    again = shipped_plan("dev")
    assert again.run.resources and {"policy": "edited"} not in again.violations
