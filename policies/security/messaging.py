"""Secrets, Pub/Sub, Artifact Registry and scheduled/pushed HTTP calls: private and authenticated."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, Policy

from policies.gcp import PUBSUB_IAM, PUBSUB_SUBSCRIPTION, REGISTRY_IAM, SCHEDULER_JOB, SECRET_IAM
from policies.props import get
from policies.rule import Meta, Subject, checkov, google_doc, resource_policy
from policies.security.public_iam import not_public_policy


def _push_authenticated(r: Subject) -> Iterator[str]:
    push = get(r.props, "pushConfig")
    if push is not None and get(push, "oidcToken") is None:
        yield "push subscription sends unauthenticated requests; set pushConfig.oidcToken"


def _scheduler_authenticated(r: Subject) -> Iterator[str]:
    target = get(r.props, "httpTarget")
    if target is not None and get(target, "oidcToken") is None and get(target, "oauthToken") is None:
        yield "HTTP target has neither oidcToken nor oauthToken, so the endpoint must be public"


POLICIES: list[Policy] = [
    not_public_policy(
        "secret-iam-not-public",
        "Access to a Secret Manager secret",
        SECRET_IAM,
        (google_doc("https://cloud.google.com/secret-manager/docs/access-control", "secret-iam"),),
    ),
    not_public_policy(
        "pubsub-iam-not-public", "Access to a Pub/Sub topic or subscription", PUBSUB_IAM, (checkov("CKV_GCP_99"),)
    ),
    not_public_policy(
        "registry-iam-not-public", "Access to an Artifact Registry repository", REGISTRY_IAM, (checkov("CKV_GCP_101"),)
    ),
    resource_policy(
        Meta(
            name="pubsub-push-authenticated",
            description="Pub/Sub push subscriptions must authenticate with an OIDC token.",
            remediation="Set pushConfig.oidcToken.serviceAccountEmail to a service account that holds "
            "roles/run.invoker on the target only.",
            sources=(google_doc("https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions", "push-auth"),),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (PUBSUB_SUBSCRIPTION,),
        _push_authenticated,
    ),
    resource_policy(
        Meta(
            name="scheduler-http-authenticated",
            description="Cloud Scheduler HTTP jobs must authenticate to their target.",
            remediation="Set httpTarget.oidcToken (Cloud Run, functions) or oauthToken (Google APIs).",
            sources=(google_doc("https://cloud.google.com/scheduler/docs/http-target-auth", "scheduler-auth"),),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (SCHEDULER_JOB,),
        _scheduler_authenticated,
    ),
]
