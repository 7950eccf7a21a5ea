"""Secret Manager: secrets (named by project number, as the API returns them), versions and their IAM."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _secret(cloud: Cloud, _logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/secrets/{state['secretId']}",
        "name": f"projects/{cloud.project_number}/secrets/{state['secretId']}",
    }


def _version(_cloud: Cloud, _logical: str, state: State) -> State:
    secret = str(state.get("secret", ""))
    return {"__id": f"{secret}/versions/1", "name": f"{secret}/versions/1", "version": "1"}


OUTPUTS: dict[str, Outputs] = {
    "gcp:secretmanager/secret:Secret": _secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _version,
    "gcp:secretmanager/secretIamMember:SecretIamMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset()
