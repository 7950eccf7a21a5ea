"""Artifact Registry: the Docker repositories the service images are pushed to."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _repository(cloud: Cloud, _logical: str, state: State) -> State:
    location = state.get("location") or cloud.region
    path = f"projects/{cloud.project}/locations/{location}/repositories/{state['repositoryId']}"
    return {
        "__id": path,
        "name": state["repositoryId"],
        "registryUri": f"{location}-docker.pkg.dev/{cloud.project}/{state['repositoryId']}",
    }


OUTPUTS: dict[str, Outputs] = {"gcp:artifactregistry/repository:Repository": _repository}
AUTONAMED: frozenset[str] = frozenset()
