"""A Pulumi secret in a plain env value: the pack is handed the unwrapped value (as by the engine), grid plan knows."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

import grid.policy_eval as policy_eval
from grid import secret_exposure
from grid.engine import SECRET_SIG, SECRET_SIG_KEY, Registration
from tests.conftest import REPO_ROOT

SECRET = {SECRET_SIG_KEY: SECRET_SIG, "value": "s3cr3t"}


def registration(type_: str, policy_inputs: dict[str, Any]) -> Registration:
    return Registration(
        urn=f"urn:{type_}",
        type=type_,
        name="w",
        parent=None,
        custom=True,
        protect=False,
        dependencies=[],
        inputs={},
        policy_inputs=policy_inputs,
    )


def test_secrets_in_plain_env_values_are_found_in_services_jobs_and_functions() -> None:
    service = registration(
        "gcp:cloudrunv2/service:Service",
        {
            "template": {
                "containers": [{"envs": [{"name": "OK", "value": "plain"}, {"name": "TOKEN_URL", "value": SECRET}]}]
            }
        },
    )
    job = registration("gcp:cloudrunv2/job:Job", {"template": {"template": {"containers": [{"envs": SECRET}]}}})
    function = registration(
        "gcp:cloudfunctionsv2/function:Function",
        {
            "serviceConfig": {"environmentVariables": {"A": "1", "B": SECRET}},
            "buildConfig": {"environmentVariables": SECRET},
        },
    )
    assert secret_exposure.problems(service) == [
        "env TOKEN_URL holds a Pulumi secret as a plain value; use valueSource.secretKeyRef"
    ]
    assert secret_exposure.problems(job) == ["the container's env list is a Pulumi secret passed as plain values"]
    assert secret_exposure.problems(function) == [
        "env B holds a Pulumi secret as a plain value in serviceConfig.environmentVariables; "
        "use serviceConfig.secretEnvironmentVariables",
        "buildConfig.environmentVariables is a Pulumi secret passed as plain values",
    ]
    # A secret read from Secret Manager is not a plain value.
    safe = registration(
        "gcp:cloudrunv2/service:Service",
        {
            "template": {
                "containers": [
                    {"envs": [{"name": "T", "valueSource": {"secretKeyRef": {"secret": "t", "version": "latest"}}}]}
                ]
            }
        },
    )
    assert secret_exposure.problems(safe) == []
    assert secret_exposure.violations([service], "disabled", "d") == []


def test_the_pack_is_handed_the_unwrapped_secret_as_by_the_engine(monkeypatch) -> None:
    seen: list[Any] = []
    probe = ResourceValidationPolicy(
        name="probe",
        description="Records what it is given.",
        validate=lambda args, report: seen.append(args.props["password"]),
        enforcement_level=EnforcementLevel.ADVISORY,
    )
    monkeypatch.setattr(policy_eval, "all_policies", [probe])
    resource = {
        "urn": "urn:u",
        "type": "gcp:sql/user:User",
        "name": "u",
        "parent": None,
        "custom": True,
        "protect": False,
        "dependencies": [],
        "inputs": {"password": SECRET},
    }
    assert policy_eval.evaluate([resource], "prod", raw_config={}) == []
    assert seen == ["s3cr3t"]


def test_grid_plan_hands_the_pack_secret_values_and_shows_only_placeholders(monkeypatch, synth) -> None:
    """What make_plan does with the program's run: the run is the session's of the shipped dev stack (the same
    program on the same file), so the program is not run again only to be judged by a probe."""
    from grid import engine
    from grid.plan import make_plan

    session_run = synth("dev").run

    def run_program(stack_file, **_: Any) -> Any:
        assert stack_file.path.resolve() == (REPO_ROOT / "Pulumi.dev.yaml").resolve()
        return session_run

    monkeypatch.setattr(engine, "run_program", run_program)  # what make_plan runs the program with
    seen: list[Any] = []
    probe = ResourceValidationPolicy(
        name="probe",
        description="Records what it is given.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=lambda args, report: (
            seen.append(args.props["password"]) if args.resource_type.endswith("User") else None
        ),
    )
    monkeypatch.setattr(policy_eval, "all_policies", [*policy_eval.all_policies, probe])
    plan = make_plan("dev")
    assert seen and all(isinstance(value, str) and value != "[secret]" for value in seen)
    users = [r for r in plan.to_json()["resources"] if r["type"] == "gcp:sql/user:User"]
    assert users and all(r["inputs"]["password"] == "[secret]" for r in users)
