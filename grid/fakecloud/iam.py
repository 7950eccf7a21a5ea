"""IAM: service accounts, project IAM (members, custom roles, audit configs) and Workload Identity Federation."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _service_account(cloud: Cloud, logical: str, state: State) -> State:
    email = f"{state['accountId']}@{cloud.project}.iam.gserviceaccount.com"
    return {
        "__id": f"projects/{cloud.project}/serviceAccounts/{email}",
        "email": email,
        "member": f"serviceAccount:{email}",
        "uniqueId": str(int(cloud.digest(logical, 12), 16)),
        "name": f"projects/{cloud.project}/serviceAccounts/{email}",
    }


def _custom_role(cloud: Cloud, _logical: str, state: State) -> State:
    # The role's resource name is what IAM bindings use as the role (projects/P/roles/ID).
    name = f"projects/{state.get('project') or cloud.project}/roles/{state['roleId']}"
    return {"__id": name, "name": name, "deleted": False, "stage": state.get("stage") or "GA"}


def _pool_name(cloud: Cloud, state: State) -> str:
    # Principal identifiers use the project *number*, as the real `name` output does.
    return f"projects/{cloud.project_number}/locations/global/workloadIdentityPools/{state['workloadIdentityPoolId']}"


def _pool(cloud: Cloud, _logical: str, state: State) -> State:
    name = _pool_name(cloud, state)
    return {"__id": name, "name": name, "state": "ACTIVE"}


def _pool_provider(cloud: Cloud, _logical: str, state: State) -> State:
    name = f"{_pool_name(cloud, state)}/providers/{state['workloadIdentityPoolProviderId']}"
    return {"__id": name, "name": name, "state": "ACTIVE"}


OUTPUTS: dict[str, Outputs] = {
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:serviceaccount/iAMMember:IAMMember": iam_member,
    "gcp:projects/iAMMember:IAMMember": iam_member,
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": iam_member,
    "gcp:projects/iAMCustomRole:IAMCustomRole": _custom_role,
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _pool,
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _pool_provider,
}
AUTONAMED: frozenset[str] = frozenset()
