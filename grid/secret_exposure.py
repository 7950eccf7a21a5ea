"""What only `grid plan` can see: a Pulumi secret passed to a workload as a plain environment value.

The Pulumi engine hands a policy pack every secret input already unwrapped (pulumi_policy's analyzer deserializes
them without the secret marker), so under `pulumi preview --policy-pack` a secret in a plain env var is just a
string: `workload-no-plaintext-secrets` can judge its name and form, not its secrecy. The offline engine still holds
the marker (``Registration.policy_inputs``), so `grid plan` reports that case itself, under the same policy and its
configured enforcement, and the pack keeps giving the engine's verdict everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from grid.engine import SECRET_SIG, SECRET_SIG_KEY, Registration

POLICY: Final = "workload-no-plaintext-secrets"
_RUN_SERVICE = "gcp:cloudrunv2/service:Service"
_RUN_JOB = "gcp:cloudrunv2/job:Job"
_FUNCTION = "gcp:cloudfunctionsv2/function:Function"


def _secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def _inner(value: Any) -> Any:
    return value["value"] if _secret(value) else value


def _container_envs(template: Any) -> Iterator[str]:
    for container in _inner((_inner(template) or {}).get("containers")) or []:
        envs = _inner(container).get("envs")
        if _secret(envs):
            yield "the container's env list is a Pulumi secret passed as plain values"
            continue
        for env in envs or []:
            if _secret(env) or (isinstance(env, Mapping) and _secret(env.get("value"))):
                yield f"env {_inner(env).get('name')} holds a Pulumi secret as a plain value; use valueSource.secretKeyRef"


def _function_envs(inputs: Mapping[str, Any]) -> Iterator[str]:
    for block in ("serviceConfig", "buildConfig"):
        variables = _inner(_inner(inputs.get(block) or {}).get("environmentVariables"))
        if _secret(_inner(inputs.get(block) or {}).get("environmentVariables")):
            yield f"{block}.environmentVariables is a Pulumi secret passed as plain values"
            continue
        for name, value in (variables or {}).items():
            if _secret(value):
                yield (
                    f"env {name} holds a Pulumi secret as a plain value in {block}.environmentVariables; "
                    "use serviceConfig.secretEnvironmentVariables"
                )


def problems(resource: Registration) -> list[str]:
    inputs = resource.policy_inputs
    if resource.type == _FUNCTION:
        return list(_function_envs(inputs))
    if resource.type == _RUN_SERVICE:
        return list(_container_envs(inputs.get("template")))
    if resource.type == _RUN_JOB:
        return list(_container_envs((_inner(inputs.get("template")) or {}).get("template")))
    return []


def violations(resources: Sequence[Registration], enforcement: str, description: str) -> list[dict[str, Any]]:
    """The engine-shaped violations (`grid plan --json`'s) for every secret passed as a plain env value."""
    if enforcement == "disabled":
        return []
    return [
        {"policy": POLICY, "enforcement": enforcement, "urn": resource.urn, "message": f"{description}\n{problem}"}
        for resource in resources
        for problem in problems(resource)
    ]
