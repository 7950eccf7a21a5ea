"""Cloud Billing: budgets and billing-account IAM."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _budget(cloud: Cloud, logical: str, state: State) -> State:
    name = f"billingAccounts/{state.get('billingAccount')}/budgets/{cloud.uuid(logical)}"
    return {"__id": name, "name": name}


OUTPUTS: dict[str, Outputs] = {
    "gcp:billing/budget:Budget": _budget,
    "gcp:billing/accountIamMember:AccountIamMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset()
