"""grid/tfmapping.json holds exactly the types Grid plans or judges: none missing, none left behind."""

from __future__ import annotations

from grid.tfmapping import judged_tokens, load, planned_tokens
from tests.conftest import shipped_plan


def test_the_mapping_file_is_exactly_what_the_plans_and_the_policy_pack_name() -> None:
    expected = planned_tokens(shipped_plan) | judged_tokens()
    kept = set(load())
    assert not expected - kept, (
        f"regenerate grid/tfmapping.json (python -m grid.tfmapping): missing {sorted(expected - kept)}"
    )
    # A type nothing plans or judges any more (Apigee's, after ADR 0008) is dead weight a reader takes for support.
    assert not kept - expected, f"stale entries in grid/tfmapping.json: {sorted(kept - expected)}"
