"""Project IAM: no basic roles, no project-wide impersonation, no user-managed keys."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import PROJECT_IAM, PROJECT_IAM_POLICY, SERVICE_ACCOUNT_KEY, grants
from policies.rule import Meta, Subject, checkov, cis, google_doc, resource_policy

_PROJECT_IAM_TYPES = (*PROJECT_IAM, PROJECT_IAM_POLICY)
_BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
_IMPERSONATION_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"})


def _no_basic_roles(r: Subject) -> Iterator[str]:
    for role, member in grants(r.props):
        if role in _BASIC_ROLES:
            yield f"{member} is granted the basic role {role} on the project"


def _no_project_impersonation(r: Subject) -> Iterator[str]:
    for role, member in grants(r.props):
        if role in _IMPERSONATION_ROLES:
            yield f"{member} is granted {role} on the whole project, so it can act as every service account"


def _no_service_account_keys(r: Subject) -> Iterator[str]:
    yield "a user-managed service account key is created; its private key ends up in the Pulumi state"


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="iam-no-basic-roles",
            description="Basic roles (owner, editor, viewer) must not be granted at project level.",
            remediation="Grant predefined roles scoped to the resource the principal needs.",
            sources=(
                checkov("CKV_GCP_117"),
                cis("1.5"),
                google_doc("https://cloud.google.com/iam/docs/roles-overview#basic", "basic-roles"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _PROJECT_IAM_TYPES,
        _no_basic_roles,
    ),
    resource_policy(
        Meta(
            name="iam-no-project-impersonation",
            description="Service Account User / Token Creator must not be granted at project level.",
            remediation="Grant roles/iam.serviceAccountUser or serviceAccountTokenCreator on the one "
            "service account (gcp.serviceaccount.IAMMember) that needs to be used.",
            sources=(cis("1.6"), checkov("CKV_GCP_41"), checkov("CKV_GCP_49")),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _PROJECT_IAM_TYPES,
        _no_project_impersonation,
    ),
    resource_policy(
        Meta(
            name="iam-no-service-account-keys",
            description="User-managed service account keys must not be created.",
            remediation="Use attached service accounts, Workload Identity Federation (CI) or impersonation.",
            sources=(
                cis("1.4"),
                google_doc(
                    "https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys",
                    "service-account-keys",
                ),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        (SERVICE_ACCOUNT_KEY,),
        _no_service_account_keys,
    ),
]
