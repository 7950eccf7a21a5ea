"""Cloud Functions (2nd gen)."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _function(cloud: Cloud, _logical: str, state: State) -> State:
    location = cloud.location_of(state)
    name = state["name"]
    return {
        "__id": f"projects/{cloud.project}/locations/{location}/functions/{name}",
        "url": f"https://{location}-{cloud.project}.cloudfunctions.net/{name}",
        "state": "ACTIVE",
        "environment": "GEN_2",
    }


OUTPUTS: dict[str, Outputs] = {"gcp:cloudfunctionsv2/function:Function": _function}
AUTONAMED: frozenset[str] = frozenset(OUTPUTS)
