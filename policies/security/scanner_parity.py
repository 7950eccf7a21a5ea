"""Rules that make the pack a superset of Checkov on the resource types Grid deploys.

Each rule here is the pack's equivalent of a Checkov check that Grid's stacks pass (after the fixes of issue 17)
and that the pack had no rule for; ``docs/security.md`` lists Grid's rules beside Checkov's and CIS's, and
``policies/scanner-skips.yaml`` the Checkov checks Grid fails on purpose, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import (
    FUNCTION,
    PROJECT_IAM,
    PROJECT_IAM_POLICY,
    RUN_JOB,
    RUN_SERVICE,
    SQL_INSTANCE,
    default_service_account_problem,
    grants,
    workload_template,
)
from policies.props import UNKNOWN, get, is_known, items, known_items
from policies.rule import Meta, StackSubject, Subject, checkov, google_doc, resource_policy, stack_policy
from policies.security.sql import FlagRequirement, flag_rule

SECURITY_POLICY: Final = "gcp:compute/securityPolicy:SecurityPolicy"
AUDIT_CONFIG: Final = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
WORKFLOW: Final = "gcp:workflows/workflow:Workflow"
SECRET: Final = "gcp:secretmanager/secret:Secret"
BUCKET: Final = "gcp:storage/bucket:Bucket"
_PROJECT_IAM_TYPES = (*PROJECT_IAM, PROJECT_IAM_POLICY)
# Checkov CKV_GCP_42's notion of an admin role: any *Admin/*admin role, editor or owner.
_ADMIN_ROLE = re.compile(r".*([Aa]dmin|editor|owner)")
_LOG4J_EXPRESSIONS = frozenset({"evaluatePreconfiguredWaf('cve-canary')", "evaluatePreconfiguredExpr('cve-canary')"})
# The services whose data Grid keeps (components/audit.py), keyed by the resource type that holds it.
_AUDITED_BY_TYPE: Final = {
    SQL_INSTANCE: "cloudsql.googleapis.com",
    SECRET: "secretmanager.googleapis.com",
    BUCKET: "storage.googleapis.com",
}
_DATA_LOG_TYPES = frozenset({"DATA_READ", "DATA_WRITE"})

# Per-module performance statistics: each writes a block of counters for every statement (PostgreSQL default off).
_STATS_WHY = "per-statement performance statistics flood the log and can stall a busy instance"
STATS_FLAGS: tuple[FlagRequirement, ...] = tuple(
    FlagRequirement(f"sql-{flag.replace('_', '-')}-off", flag, frozenset({"off"}), "off", None, check, _STATS_WHY)
    for flag, check in (
        ("log_executor_stats", "CKV2_GCP_14"),
        ("log_parser_stats", "CKV2_GCP_15"),
        ("log_planner_stats", "CKV2_GCP_16"),
        ("log_statement_stats", "CKV2_GCP_17"),
    )
)

DIAGNOSTIC_FLAGS: tuple[FlagRequirement, ...] = (
    FlagRequirement(
        "sql-log-checkpoints",
        "log_checkpoints",
        frozenset({"on"}),
        "off",
        None,
        "CKV_GCP_51",
        "checkpoint timing explains I/O spikes and slow recovery",
    ),
    FlagRequirement(
        "sql-log-lock-waits",
        "log_lock_waits",
        frozenset({"on"}),
        "off",
        None,
        "CKV_GCP_54",
        "waits longer than deadlock_timeout show lock contention",
    ),
)


def _workload_identities(resources) -> dict[str, str]:
    """serviceAccount member → the workload that runs as it (Cloud Run, functions, workflows)."""
    found: dict[str, str] = {}
    for resource in resources:
        if resource.type in (RUN_SERVICE, RUN_JOB):
            template = workload_template(resource.type, resource.props)
            email = get(template, "serviceAccount") if is_known(template) else None
        elif resource.type == FUNCTION:
            email = get(resource.props, "serviceConfig.serviceAccountEmail")
        elif resource.type == WORKFLOW:
            email = get(resource.props, "serviceAccount")
        else:
            continue
        if isinstance(email, str) and email and default_service_account_problem(email) is None:
            found[f"serviceAccount:{email}"] = resource.name
    return found


def _workload_no_admin(stack: StackSubject) -> Iterator[tuple[str | None, str]]:
    workloads = _workload_identities(stack.resources)
    for resource in stack.resources:
        if resource.type not in _PROJECT_IAM_TYPES:
            continue
        for role, member in grants(resource.props):
            if member in workloads and _ADMIN_ROLE.match(role):
                yield (
                    resource.urn,
                    (
                        f"{member}, the identity {workloads[member]} runs as, is granted {role} on the "
                        "project: a compromised workload could reconfigure or delete what that role covers"
                    ),
                )


def _no_default_account_grants(r: Subject) -> Iterator[str]:
    for role, member in grants(r.props):
        email = member.split(":", 1)[1] if member.startswith("serviceAccount:") else None
        if email and default_service_account_problem(email):
            yield f"the default service account {email} is granted {role} on the project"


def _log4j_rule(r: Subject) -> Iterator[str]:
    rules = items(r.props, "rules")
    if rules is UNKNOWN:
        return
    for rule in rules:
        fields = (rule, *(get(rule, path) for path in ("match.expr.expression", "preview", "action")))
        if not all(is_known(field) for field in fields):
            return  # the rule may be there once known
        expression, preview, action = fields[1:]
        if expression in _LOG4J_EXPRESSIONS and preview is not True and action != "allow":
            return
    yield "no enforced rule evaluates the cve-canary preconfigured WAF rule set (Log4j CVE-2021-44228/45046)"


def _data_access_logged(stack: StackSubject) -> Iterator[tuple[str | None, str]]:
    logged: set[str] = set()
    for resource in stack.resources:
        if resource.type != AUDIT_CONFIG:
            continue
        configs, service = items(resource.props, "auditLogConfigs"), get(resource.props, "service")
        if configs is UNKNOWN or not is_known(service):
            return  # cannot judge until the config is known (the engine analyses again during the update)
        types = {get(c, "logType") for c in configs if is_known(c) and not known_items(c, "exemptedMembers")}
        if types >= _DATA_LOG_TYPES:
            logged.add(str(service))
    for resource_type, service in _AUDITED_BY_TYPE.items():
        holders = [r for r in stack.resources if r.type == resource_type]
        if holders and service not in logged and "allServices" not in logged:
            yield (
                None,
                (
                    f"{len(holders)} {resource_type.rsplit(':', 1)[-1]} resource(s) hold data but no IAM audit "
                    f"config logs DATA_READ and DATA_WRITE for {service} without exempted members"
                ),
            )


def _flag_policy(requirement: FlagRequirement) -> Policy:
    return resource_policy(
        Meta(
            name=requirement.policy,
            description=f"Cloud SQL PostgreSQL flag {requirement.flag} must be one of {sorted(requirement.allowed)}.",
            remediation=f"Set {{name: '{requirement.flag}', value: '{sorted(requirement.allowed)[0]}'}} "
            "in settings.databaseFlags (or leave it out when PostgreSQL's default complies).",
            sources=(
                checkov(str(requirement.checkov_id)),
                google_doc("https://cloud.google.com/sql/docs/postgres/flags"),
            ),
            severity=Severity.LOW,
        ),
        (SQL_INSTANCE,),
        flag_rule(requirement),
    )


POLICIES: list[Policy] = [
    stack_policy(
        Meta(
            name="iam-workload-no-admin",
            description="A service account a workload runs as must not hold admin, editor or owner roles on the project.",
            remediation="Grant the workload's identity a predefined role without admin rights, or a custom role with "
            "the permissions it uses, conditioned to the resource it needs.",
            sources=(
                checkov("CKV_GCP_42"),
                google_doc("https://cloud.google.com/iam/docs/best-practices-service-accounts", "least-privilege"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
        ),
        _workload_no_admin,
    ),
    resource_policy(
        Meta(
            name="iam-no-default-service-account-grants",
            description="The Compute Engine and App Engine default service accounts must get no project roles.",
            remediation="Give the workload a dedicated service account and grant roles to that one.",
            sources=(
                checkov("CKV_GCP_46"),
                google_doc("https://cloud.google.com/iam/docs/service-account-types#default", "default-accounts"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _PROJECT_IAM_TYPES,
        _no_default_account_grants,
    ),
    resource_policy(
        Meta(
            name="armor-log4j-rule",
            description="Cloud Armor policies must enforce the cve-canary preconfigured WAF rule (Log4j).",
            remediation="Add a deny rule matching evaluatePreconfiguredWaf('cve-canary'), not in preview.",
            sources=(checkov("CKV_GCP_73"), google_doc("https://cloud.google.com/armor/docs/waf-rules", "cve-canary")),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (SECURITY_POLICY,),
        _log4j_rule,
    ),
    stack_policy(
        Meta(
            name="audit-data-access-logged",
            description="Data Access audit logs must record reads and writes of Cloud SQL, Secret Manager and "
            "Cloud Storage wherever the stack keeps data in them.",
            remediation="Add a gcp.projects.IAMAuditConfig per service with DATA_READ and DATA_WRITE "
            "(components/audit.py).",
            sources=(
                checkov("CKV_GCP_62"),
                checkov("CKV2_GCP_5"),
                google_doc("https://cloud.google.com/logging/docs/audit/configure-data-access", "data-access"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _data_access_logged,
    ),
    *(_flag_policy(requirement) for requirement in (*DIAGNOSTIC_FLAGS, *STATS_FLAGS)),
]
