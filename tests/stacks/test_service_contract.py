"""The infra <-> app contract (DESIGN §7): each service's settings class and the stack agree on its env vars."""

from __future__ import annotations

import pytest

from app.envdoc import SERVICES as SETTINGS

# Every bundled service that reads its environment through a settings class (gridlib/workloads.py).
SERVICES = list(SETTINGS)


def settings_class(service: str):
    return SETTINGS[service]


def stack_env(plan, service: str) -> dict[str, bool]:
    """Variable -> provided as a Secret Manager reference, for one Cloud Run service in the plan."""
    run = next(
        s for s in plan.of_type("gcp:cloudrunv2/service:Service") if s.inputs["labels"]["grid-service"] == service
    )
    [container] = run.inputs["template"]["containers"]
    return {e["name"]: "valueSource" in e for e in container["envs"]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("service", SERVICES)
def test_stack_sets_exactly_what_the_service_reads(synth, stack: str, service: str) -> None:
    cls = settings_class(service)
    provided = stack_env(synth(stack), service)
    declared = {v.name: v for v in cls.env_vars()}
    required = {name for name, v in declared.items() if v.required}
    assert required <= set(provided), f"{service} requires {sorted(required - set(provided))} but the stack omits them"
    assert set(provided) <= set(declared), (
        f"the stack sets {sorted(set(provided) - set(declared))}, unread by {service}"
    )
    for name, is_ref in provided.items():
        assert is_ref == declared[name].secret, f"{name}: secret={declared[name].secret} but stack ref={is_ref}"


def test_every_secret_the_app_reads_reaches_it_only_by_reference(synth) -> None:
    plan = synth("prod")
    for service in SERVICES:
        declared = {v.name: v for v in settings_class(service).env_vars()}
        for name, is_ref in stack_env(plan, service).items():
            if declared[name].secret:
                assert is_ref
