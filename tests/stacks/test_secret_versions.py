"""A secret's replaced version stays readable while a tagged rollout still serves the revision that pins it.

Services read a pinned version at instance start. A new value replaces the SecretVersion, and by default Pulumi
destroys the old one; under `grid:rollout.strategy: tagged` the stable revision keeps 100% of the traffic, pinned
to that old version, until the candidate is promoted, so it could not start another instance. Tagged stacks
therefore abandon replaced versions (Secret Manager keeps them enabled) instead of destroying them.
"""

from __future__ import annotations

import pytest

VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
RUN = "gcp:cloudrunv2/service:Service"


def _read_by_services(plan) -> set[str]:
    """Short IDs of the secrets a Cloud Run service's environment pins."""
    read = set()
    for service in plan.of_type(RUN):
        for container in service.inputs["template"]["containers"]:
            for env in container.get("envs", []):
                if ref := (env.get("valueSource") or {}).get("secretKeyRef"):
                    read.add(ref["secret"])
    return read


def _policies(plan) -> dict[str, str | None]:
    return {v.inputs["secret"].rsplit("/", 1)[-1]: v.inputs.get("deletionPolicy") for v in plan.of_type(VERSION)}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_tagged_stacks_keep_every_replaced_version_a_service_pins(synth, stack) -> None:
    plan = synth(stack)
    policies, read = _policies(plan), _read_by_services(plan)
    assert read, "the services read secrets"
    # Every secret a service pins but the signing key, which rotates by generation (a secret per generation).
    rotating = {s for s in read if "jwt-signing-key" not in s}
    assert rotating and {s: policies[s] for s in rotating} == dict.fromkeys(rotating, "ABANDON")


def test_immediate_stacks_destroy_replaced_versions(synth) -> None:
    plan = synth("dev")
    assert set(_policies(plan).values()) == {None}  # the provider's default: DELETE
