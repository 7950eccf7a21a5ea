"""First-deploy rules: what Google Cloud refuses when a resource is created before what it relies on.

Each rule is an ordering or identity invariant a stack change could break without any resource looking wrong
on its own, so they are stack rules: they read the dependency edges the engine will follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import (
    BUCKET_IAM,
    FUNCTION,
    PROJECT_IAM,
    PROJECT_IAM_POLICY,
    REGISTRY_IAM,
    RUN_JOB,
    RUN_SERVICE,
    SECRET_IAM,
    default_service_account_problem,
    grants,
    workload_template,
)
from policies.props import UNKNOWN, get, known_items
from policies.rule import Meta, StackResource, StackSubject, google_doc, stack_policy

SECRET: str = "gcp:secretmanager/secret:Secret"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
_BUILD_GRANT_TYPES = frozenset({*PROJECT_IAM, PROJECT_IAM_POLICY, *BUCKET_IAM, *REGISTRY_IAM})


def _last_segment(value: Any) -> Any:
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else value


def _identity(resource: StackResource) -> Any:
    """The runtime service account email of a service, job or function (UNKNOWN or None when not known)."""
    if resource.type == FUNCTION:
        return get(resource.props, "serviceConfig.serviceAccountEmail")
    template = workload_template(resource.type, resource.props)
    return UNKNOWN if template is UNKNOWN else get(template, "serviceAccount")


def _secrets_read(resource: StackResource) -> set[str]:
    """Short IDs of the secrets a workload reads, as environment variables or volumes."""
    found: list[Any] = []
    if resource.type == FUNCTION:
        found += [get(v, "secret") for v in known_items(resource.props, "serviceConfig.secretEnvironmentVariables")]
        found += [get(v, "secret") for v in known_items(resource.props, "serviceConfig.secretVolumes")]
    else:
        template = workload_template(resource.type, resource.props)
        for container in known_items(template, "containers"):
            found += [get(env, "valueSource.secretKeyRef.secret") for env in known_items(container, "envs")]
        found += [get(volume, "secret.secret") for volume in known_items(template, "volumes")]
    return {_last_segment(name) for name in found if isinstance(name, str)}


def _secret_grants(resources: Iterable[StackResource]) -> tuple[dict[str, list[tuple[Any, str]]], set[Any]]:
    """Accessor grants by member as (secret short ID, or None for project-wide, urn); and the secrets whose
    grants name a member the plan cannot know yet (then a missing grant cannot be judged)."""
    by_member: dict[str, list[tuple[Any, str]]] = {}
    unjudged: set[Any] = set()
    for resource in resources:
        if resource.type in SECRET_IAM:
            secret = _last_segment(get(resource.props, "secretId"))
        elif resource.type in (*PROJECT_IAM, PROJECT_IAM_POLICY):
            secret = None
        else:
            continue
        if get(resource.props, "member") is UNKNOWN or get(resource.props, "members") is UNKNOWN:
            unjudged.add(secret)
        for role, member in grants(resource.props):
            if role == SECRET_ACCESSOR:
                by_member.setdefault(member, []).append((secret, resource.urn))
    return by_member, unjudged


def _waits_for_secret_grants(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    by_member, unjudged = _secret_grants(s.resources)
    stack_secrets = {get(r.props, "secretId") for r in s.resources if r.type == SECRET}
    for workload in (r for r in s.resources if r.type in (RUN_SERVICE, RUN_JOB, FUNCTION)):
        email = _identity(workload)
        if not isinstance(email, str) or not email:
            continue  # unknown until the account exists, or the default account (another rule's finding)
        candidates = by_member.get(f"serviceAccount:{email}", [])
        for secret in sorted(_secrets_read(workload)):
            # A grant whose secret is not known yet may be this one's.
            own = [urn for name, urn in candidates if name is None or name is UNKNOWN or name == secret]
            if not own:
                if secret in stack_secrets and not unjudged & {secret, None, UNKNOWN}:
                    yield workload.urn, f"reads secret {secret}, but nothing in this stack grants {email} access"
            elif not set(own) & set(workload.dependencies):
                yield (
                    workload.urn,
                    (
                        f"reads secret {secret} but does not depend on its accessor grant "
                        f"({', '.join(sorted(_last_segment(urn.rsplit('::', 1)[-1]) for urn in own))}): "
                        "its first revision can be created before its identity may read the secret"
                    ),
                )


def _grant_members(props: Mapping[str, Any]) -> set[str]:
    return {member for _, member in grants(props)}


def _function_build_account(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    build_grants = [r for r in s.resources if r.type in _BUILD_GRANT_TYPES]
    for function in (r for r in s.resources if r.type == FUNCTION):
        account = get(function.props, "buildConfig.serviceAccount")
        if account is UNKNOWN:
            continue
        if not account:
            yield (
                function.urn,
                (
                    "buildConfig.serviceAccount is not set: the build runs as the default build account, "
                    "which has no roles in projects created since mid-2024"
                ),
            )
            continue
        email = _last_segment(account)
        problem = default_service_account_problem(email)
        if problem:
            yield function.urn, f"the build: {problem}"
            continue
        own = [r.urn for r in build_grants if f"serviceAccount:{email}" in _grant_members(r.props)]
        if missing := sorted(set(own) - set(function.dependencies)):
            yield (
                function.urn,
                (
                    f"does not depend on its build account's grants ({', '.join(u.rsplit('::', 1)[-1] for u in missing)}): "
                    "the build can start before it may write logs, push the image or read the source"
                ),
            )


POLICIES: list[Policy] = [
    stack_policy(
        Meta(
            name="workload-waits-for-secret-grants",
            description="Every Cloud Run service, job and function depends on the accessor grant of each secret "
            "it reads, for its own identity.",
            remediation="Grant roles/secretmanager.secretAccessor on the secret to the workload's service account "
            "and add that grant to the workload's dependsOn.",
            sources=(
                google_doc(
                    "https://cloud.google.com/run/docs/configuring/services/secrets#access-secret", "run-secret-access"
                ),
                google_doc(
                    "https://cloud.google.com/functions/docs/configuring/secrets#grant_access", "function-secret-access"
                ),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
        ),
        _waits_for_secret_grants,
    ),
    stack_policy(
        Meta(
            name="function-build-account",
            description="Every gen2 function builds as a dedicated service account and waits for that account's "
            "grants.",
            remediation="Set buildConfig.serviceAccount to an account with roles/logging.logWriter, "
            "roles/artifactregistry.writer on the image repository and read access to the source "
            "bucket, and add those grants to the function's dependsOn.",
            sources=(
                google_doc(
                    "https://cloud.google.com/run/docs/configuring/services/build-service-account",
                    "build-service-account",
                ),
                google_doc(
                    "https://cloud.google.com/build/docs/cloud-build-service-account-updates", "build-account-change"
                ),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
        ),
        _function_build_account,
    ),
]
