"""Serverless workloads (Cloud Run services and jobs, Cloud Functions gen2).

Identity, secrets handling, ingress, who may invoke them, and what image they run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import (
    FUNCTION,
    FUNCTION_IAM,
    RUN_JOB,
    RUN_JOB_IAM,
    RUN_SERVICE,
    RUN_SERVICE_IAM,
    default_service_account_problem,
    public_grants,
    workload_template,
)
from policies.props import UNKNOWN, get, is_known, known_items
from policies.rule import (
    Meta,
    StackResource,
    StackSubject,
    Subject,
    checkov,
    google_doc,
    resource_policy,
    stack_policy,
)

_WORKLOADS = (RUN_SERVICE, RUN_JOB, FUNCTION)
_SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PWD", "SECRET", "TOKEN", "KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATE"}
)
# scheme://user:password@host — a connection string with credentials inlined.
_CREDENTIALS_IN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:\s]+:[^/@\s]+@", re.IGNORECASE)
# A Pulumi secret in a plain env var is plaintext too, but the engine hands policies secrets already unwrapped:
# no rule here can tell. `grid plan` reports that case from its own records (grid/secret_exposure.py).

# The variables the services read their Postgres and Redis URLs from (app/common/settings.py): whatever the value
# looks like (a URL with the password in a query parameter, an external provider's), they are Secret Manager refs.
DATASTORE_URL_VARS = frozenset({"DATABASE_URL", "REDIS_URL"})

_INTERNAL_RUN_INGRESS = frozenset({"INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"})
_INTERNAL_FUNCTION_INGRESS = frozenset({"ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"})
_INVOKER_ROLES = frozenset({"roles/run.invoker", "roles/cloudfunctions.invoker"})


def secret_looking_name(name: str) -> bool:
    """PASSWORD, DB_PASSWORD, JWT_SECRET, API_KEY, OPENAI_API_KEY, GITHUB_TOKEN... (split on `_`)."""
    return any(segment in _SECRET_WORDS for segment in re.split(r"[_\-.]", name.upper()))


def plaintext_secret_problem(name: Any, value: Any) -> str | None:
    """Why a plain (non-Secret-Manager) environment variable exposes a secret, if it does."""
    if not isinstance(name, str):
        return None
    if secret_looking_name(name):
        return f"env {name} looks like a secret but is a plain value"
    if isinstance(value, str) and _CREDENTIALS_IN_URL.match(value):
        return f"env {name} is a connection string with inline credentials"
    return None


def _container_env_problems(template: Any) -> Iterator[str]:
    for container in known_items(template, "containers"):
        for env in known_items(container, "envs"):
            if get(env, "valueSource.secretKeyRef") is not None:
                continue
            problem = plaintext_secret_problem(get(env, "name"), get(env, "value"))
            if problem:
                yield f"{problem}; use valueSource.secretKeyRef"


def _function_env_problems(props: Mapping[str, Any]) -> Iterator[str]:
    for path in ("serviceConfig.environmentVariables", "buildConfig.environmentVariables"):
        variables = get(props, path, {})
        if not isinstance(variables, Mapping):
            continue
        for name, value in variables.items():
            problem = plaintext_secret_problem(name, value)
            if problem:
                yield f"{problem} in {path}; use serviceConfig.secretEnvironmentVariables"


def _no_plaintext_secrets(r: Subject) -> Iterator[str]:
    if r.type == FUNCTION:
        yield from _function_env_problems(r.props)
    else:
        yield from _container_env_problems(workload_template(r.type, r.props))


def _datastore_urls_from_secret_manager(r: Subject) -> Iterator[str]:
    if r.type == FUNCTION:
        for path in ("serviceConfig.environmentVariables", "buildConfig.environmentVariables"):
            variables = get(r.props, path, {})
            for name in sorted(DATASTORE_URL_VARS & set(variables if isinstance(variables, Mapping) else ())):
                yield f"{name} is a plain value in {path}; use serviceConfig.secretEnvironmentVariables"
        return
    for container in known_items(workload_template(r.type, r.props), "containers"):
        for env in known_items(container, "envs"):
            name = get(env, "name")
            if name in DATASTORE_URL_VARS and get(env, "valueSource.secretKeyRef") is None:
                yield f"env {name} is a plain value; use valueSource.secretKeyRef"


def _dedicated_service_account(r: Subject) -> Iterator[str]:
    if r.type == FUNCTION:
        email = get(r.props, "serviceConfig.serviceAccountEmail")
    else:
        template = workload_template(r.type, r.props)
        email = UNKNOWN if template is UNKNOWN else get(template, "serviceAccount")
    problem = default_service_account_problem(email)
    if problem:
        yield problem


def ingress_restricted(resource_type: str, props: Mapping[str, Any]) -> bool | None:
    """True when only internal traffic and the load balancer reach the workload; None if unknown."""
    if resource_type == FUNCTION:
        setting, allowed = get(props, "serviceConfig.ingressSettings", "ALLOW_ALL"), _INTERNAL_FUNCTION_INGRESS
    else:
        setting, allowed = get(props, "ingress", "INGRESS_TRAFFIC_ALL"), _INTERNAL_RUN_INGRESS
    return setting in allowed if is_known(setting) else None


def _ingress_restricted(r: Subject) -> Iterator[str]:
    if ingress_restricted(r.type, r.props) is False:
        setting = get(r.props, "serviceConfig.ingressSettings" if r.type == FUNCTION else "ingress")
        yield f"ingress is {setting or 'the default (all traffic)'}: the default URL is reachable from the internet"


def _image_pinned_by_digest(r: Subject) -> Iterator[str]:
    for container in known_items(workload_template(r.type, r.props), "containers"):
        image = get(container, "image")
        if isinstance(image, str) and "@sha256:" not in image:
            yield f"image {image} is a mutable tag; deploy by digest (image@sha256:...)"


def _last_segment(value: Any) -> str | None:
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else None


def _invoked_workload(grant: StackResource, by_urn: Mapping[str, StackResource]) -> StackResource | None:
    """The service or function an invoker grant applies to: by dependency first, then by name.

    A gen2 function runs as a Cloud Run service of the same name, so roles/run.invoker on that service (the
    documented way to allow invocation) targets the function.
    """
    targets = (FUNCTION,) if grant.type in FUNCTION_IAM else (RUN_SERVICE, FUNCTION)
    for urn in grant.dependencies:
        candidate = by_urn.get(urn)
        if candidate is not None and candidate.type in targets:
            return candidate
    wanted = _last_segment(get(grant.props, "cloudFunction" if targets == (FUNCTION,) else "name"))
    for candidate in by_urn.values():
        if candidate.type in targets and wanted and _last_segment(get(candidate.props, "name")) == wanted:
            return candidate
    return None


def _invoker_not_public(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    by_urn = {resource.urn: resource for resource in s.resources}
    for resource in s.resources:
        if resource.type == RUN_SERVICE and get(resource.props, "invokerIamDisabled") is True:
            if ingress_restricted(RUN_SERVICE, resource.props) is False:
                yield resource.urn, "invokerIamDisabled=true on a service whose ingress is open to the internet"
            continue
        if resource.type not in (*RUN_SERVICE_IAM, *FUNCTION_IAM, *RUN_JOB_IAM):
            continue
        for role, member in public_grants(resource.props, _INVOKER_ROLES):
            if resource.type in RUN_JOB_IAM:
                yield resource.urn, f"{member} is granted {role} on a Cloud Run job"
                continue
            target = _invoked_workload(resource, by_urn)
            if target is None:
                yield resource.urn, f"{member} is granted {role} on a workload that is not in this stack"
            elif ingress_restricted(target.type, target.props) is False:
                yield (
                    resource.urn,
                    (
                        f"{member} is granted {role} on {target.name}, whose ingress is open: "
                        "anyone on the internet can call it directly, bypassing Cloud Armor"
                    ),
                )


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="workload-no-plaintext-secrets",
            description="Cloud Run and Cloud Functions must read secrets from Secret Manager, "
            "not plain environment values.",
            remediation="Store the value in Secret Manager and reference it with env.valueSource.secretKeyRef "
            "(Cloud Run) or serviceConfig.secretEnvironmentVariables (functions).",
            sources=(
                google_doc("https://cloud.google.com/run/docs/configuring/services/secrets", "run-secrets"),
                google_doc("https://cloud.google.com/functions/docs/configuring/secrets", "function-secrets"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _WORKLOADS,
        _no_plaintext_secrets,
    ),
    resource_policy(
        Meta(
            name="datastore-url-is-secret",
            description="DATABASE_URL and REDIS_URL (Cloud SQL's and Memorystore's, or an external Postgres's "
            "and Redis's such as Supabase and Upstash) come from Secret Manager, never a plain value.",
            remediation="Reference the URL's Secret Manager secret (env.valueSource.secretKeyRef, or "
            "serviceConfig.secretEnvironmentVariables for functions); for an external store set the URL "
            "with `pulumi config set --secret` and name that key in grid:database/grid:cache.external.",
            sources=(google_doc("https://cloud.google.com/run/docs/configuring/services/secrets", "run-secrets"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _WORKLOADS,
        _datastore_urls_from_secret_manager,
    ),
    resource_policy(
        Meta(
            name="workload-dedicated-service-account",
            description="Every Cloud Run service, job and function runs as its own service account, "
            "never the default compute account.",
            remediation="Create a service account per workload, grant it only what it needs, and set "
            "template.serviceAccount (Cloud Run) or serviceConfig.serviceAccountEmail (functions).",
            sources=(
                google_doc("https://cloud.google.com/run/docs/securing/service-identity", "service-identity"),
                checkov("CKV_GCP_30"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _WORKLOADS,
        _dedicated_service_account,
    ),
    resource_policy(
        Meta(
            name="serverless-ingress-restricted",
            description="Cloud Run services and functions accept traffic only from the load balancer or "
            "inside the VPC (prod).",
            remediation="Set ingress=INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER (Cloud Run) or "
            "serviceConfig.ingressSettings=ALLOW_INTERNAL_AND_GCLB (functions) and route "
            "through the HTTPS load balancer.",
            sources=(
                google_doc("https://cloud.google.com/run/docs/securing/ingress", "run-ingress"),
                checkov("CKV_GCP_124"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (RUN_SERVICE, FUNCTION),
        _ingress_restricted,
    ),
    stack_policy(
        Meta(
            name="run-invoker-not-public",
            description="allUsers/allAuthenticatedUsers may invoke a Cloud Run service or function only "
            "when its ingress is limited to the load balancer.",
            remediation="Remove the public invoker grant, or set the service's ingress to "
            "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER so public traffic must pass Cloud Armor.",
            sources=(
                checkov("CKV_GCP_102"),
                checkov("CKV_GCP_107"),
                google_doc("https://cloud.google.com/run/docs/authenticating/public", "run-public"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _invoker_not_public,
    ),
    resource_policy(
        Meta(
            name="workload-image-pinned-by-digest",
            description="Cloud Run containers are deployed by immutable digest, not a mutable tag.",
            remediation="Resolve the tag to its digest at build time and deploy image@sha256:<digest>.",
            sources=(
                google_doc("https://cloud.google.com/run/docs/deploying#service", "deploy-by-digest"),
                google_doc("https://cloud.google.com/binary-authorization/docs/overview", "binary-authorization"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        (RUN_SERVICE, RUN_JOB),
        _image_pinned_by_digest,
    ),
]
