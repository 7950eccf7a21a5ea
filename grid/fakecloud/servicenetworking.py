"""Service Networking: the private services access peering Cloud SQL and Memorystore are reached through."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _peering(_cloud: Cloud, _logical: str, state: State) -> State:
    network = str(state.get("network", "")).rsplit("/", 1)[-1]
    return {"__id": f"{network}:servicenetworking.googleapis.com", "peering": "servicenetworking-googleapis-com"}


OUTPUTS: dict[str, Outputs] = {"gcp:servicenetworking/connection:Connection": _peering}
AUTONAMED: frozenset[str] = frozenset()
