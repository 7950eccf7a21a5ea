"""Failing and passing fixtures for the rules that mirror Checkov checks (policies/security/scanner_parity.py)."""

from __future__ import annotations

from typing import Any

from policies import gcp
from policies.security.scanner_parity import AUDIT_CONFIG, SECRET, SECURITY_POLICY, WORKFLOW
from tests.policies.fixtures import BUCKET, CIS_FLAGS, SERVICE, SQL, Case, flag_case, iam
from tests.policies.harness import stack_resource, tweak

_ARMOR_RULE = {
    "priority": 1000,
    "action": "deny(403)",
    "match": {"expr": {"expression": "evaluatePreconfiguredWaf('xss-v33-stable', {'sensitivity': 1})"}},
}
_LOG4J_RULE = {
    "priority": 1010,
    "action": "deny(403)",
    "match": {"expr": {"expression": "evaluatePreconfiguredWaf('cve-canary')"}},
}

PARITY_RESOURCE_CASES: list[Case] = [
    Case(
        "iam-no-default-service-account-grants",
        gcp.PROJECT_IAM[0],
        iam("serviceAccount:123-compute@developer.gserviceaccount.com", "roles/storage.objectViewer", project="p"),
        iam("serviceAccount:grid-api@p.iam.gserviceaccount.com", "roles/storage.objectViewer", project="p"),
    ),
    Case(
        "armor-log4j-rule",
        SECURITY_POLICY,
        {"rules": [_ARMOR_RULE, {**_LOG4J_RULE, "preview": True}]},
        {"rules": [_ARMOR_RULE, _LOG4J_RULE]},
    ),
    flag_case("sql-log-checkpoints", "log_checkpoints", "off"),
    flag_case("sql-log-lock-waits", "log_lock_waits", "off"),
    *(
        Case(
            f"sql-{flag.replace('_', '-')}-off",
            gcp.SQL_INSTANCE,
            tweak(SQL, {"settings.databaseFlags": [*CIS_FLAGS, {"name": flag, "value": "on"}]}),
            SQL,
        )
        for flag in ("log_executor_stats", "log_parser_stats", "log_planner_stats", "log_statement_stats")
    ),
]


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:prod::grid::{type_}::{name}"


_RUNNER = "grid-backup@p.iam.gserviceaccount.com"
_WORKFLOW = stack_resource(_urn(WORKFLOW, "exports"), WORKFLOW, {"serviceAccount": _RUNNER, "region": "us-central1"})
_API = stack_resource(_urn(gcp.RUN_SERVICE, "api"), gcp.RUN_SERVICE, SERVICE)


def _grant(name: str, role: str, member: str) -> dict[str, Any]:
    return stack_resource(_urn(gcp.PROJECT_IAM[0], name), gcp.PROJECT_IAM[0], iam(member, role, project="p"))


def _audit(service: str, exempt: bool = False) -> dict[str, Any]:
    logs = [
        {"logType": t, **({"exemptedMembers": ["user:ops@example.com"]} if exempt else {})}
        for t in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")
    ]
    return stack_resource(
        _urn(AUDIT_CONFIG, service), AUDIT_CONFIG, {"project": "p", "service": service, "auditLogConfigs": logs}
    )


_DATA = [
    stack_resource(_urn(gcp.SQL_INSTANCE, "db"), gcp.SQL_INSTANCE, SQL),
    stack_resource(_urn(SECRET, "token"), SECRET, {"secretId": "token", "replication": {"auto": {}}}),
    stack_resource(_urn(gcp.BUCKET, "exports"), gcp.BUCKET, BUCKET),
]
_AUDITED = ["cloudsql.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com"]


def parity_stack_cases(case_type: type) -> list[Any]:
    """The stack cases, built with stack_fixtures' StackCase (passed in: that module imports this one)."""
    return [
        # The backup runner (a workflow's identity) with Cloud SQL Editor: issue 17's CKV_GCP_42 finding.
        case_type(
            "iam-workload-no-admin",
            [_WORKFLOW, _API, _grant("runner", "roles/cloudsql.editor", f"serviceAccount:{_RUNNER}")],
            # The same role for a deployer no workload runs as, and a read-only role for the runner, pass.
            [
                _WORKFLOW,
                _API,
                _grant("runner", "roles/cloudsql.viewer", f"serviceAccount:{_RUNNER}"),
                _grant("deployer", "roles/run.admin", "serviceAccount:deployer@ops.iam.gserviceaccount.com"),
            ],
            {},
        ),
        case_type(
            "audit-data-access-logged",
            [*_DATA, *(_audit(s) for s in _AUDITED[:2]), _audit(_AUDITED[2], exempt=True)],
            [*_DATA, *(_audit(s) for s in _AUDITED)],
            {},
        ),
    ]


__all__ = ["PARITY_RESOURCE_CASES", "parity_stack_cases", "tweak"]
