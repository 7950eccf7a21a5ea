"""Apigee: the organization, its instance, environment groups and environments."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _organization(cloud: Cloud, _logical: str, state: State) -> State:
    return {
        "__id": f"organizations/{state.get('projectId', cloud.project)}",
        "name": state.get("projectId", cloud.project),
    }


def _instance(cloud: Cloud, logical: str, state: State) -> State:
    name = state.get("name") or f"{logical}-{cloud.digest(logical, 7)}"
    return {
        "__id": f"{state.get('orgId')}/instances/{name}",
        "name": name,
        "host": cloud.private_ip(logical, "10.20.0.0/16"),
    }


def _in_org(collection: str) -> Outputs:
    def outputs(_cloud: Cloud, _logical: str, state: State) -> State:
        return {"__id": f"{state.get('orgId')}/{collection}/{state.get('name')}"}

    return outputs


OUTPUTS: dict[str, Outputs] = {
    "gcp:apigee/organization:Organization": _organization,
    "gcp:apigee/instance:Instance": _instance,
    "gcp:apigee/envGroup:EnvGroup": _in_org("envgroups"),
    "gcp:apigee/environment:Environment": _in_org("environments"),
}
AUTONAMED: frozenset[str] = frozenset()
