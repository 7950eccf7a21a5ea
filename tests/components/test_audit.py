"""Data Access audit logs where Grid keeps data: the database, its dumps, its secrets (and the bootstrap state)."""

from __future__ import annotations

from components.audit import AUDITED_SERVICES, LOG_TYPES
from tests.conftest import shipped_plan

AUDIT = "gcp:projects/iAMAuditConfig:IAMAuditConfig"


def _configs(resources) -> dict[str, dict]:
    return {r.inputs["service"]: r.inputs for r in resources if r.type == AUDIT}


def test_every_stack_logs_reads_and_writes_of_its_data_services(synth) -> None:
    configs = _configs(synth("dev").resources)
    assert (
        set(configs)
        == set(AUDITED_SERVICES)
        == {"cloudsql.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com"}
    )
    for service, inputs in configs.items():
        assert inputs["project"] == "acme-grid-dev"
        logs = inputs["auditLogConfigs"]
        assert sorted(log["logType"] for log in logs) == sorted(LOG_TYPES), service
        assert not any(log.get("exemptedMembers") for log in logs), f"{service}: nobody is exempt"


def test_bootstrap_logs_who_reads_the_state_and_uses_its_key() -> None:
    configs = _configs(shipped_plan("example", project="bootstrap").run.resources)
    assert set(configs) == {"storage.googleapis.com", "cloudkms.googleapis.com"}
    assert {inputs["project"] for inputs in configs.values()} == {"acme-grid-ops"}
