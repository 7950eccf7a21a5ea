"""Serverless VPC Access: the connector Cloud Run and Cloud Functions reach the VPC through."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _connector(cloud: Cloud, _logical: str, state: State) -> State:
    path = f"projects/{cloud.project}/locations/{cloud.region_of(state)}/connectors/{state['name']}"
    return {"__id": path, "selfLink": path, "state": "READY"}


OUTPUTS: dict[str, Outputs] = {"gcp:vpcaccess/connector:Connector": _connector}
AUTONAMED: frozenset[str] = frozenset(OUTPUTS)
