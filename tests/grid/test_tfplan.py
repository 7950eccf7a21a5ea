"""`grid plan --format tfplan`: Pulumi registrations back into Terraform's names, blocks, maps and references."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grid.engine import SECRET, Registration
from grid.tfplan import export, snake_case, terraform_name
from tests.grid.test_cli import grid

NETWORK = "gcp:compute/network:Network"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
FIREWALL = "gcp:compute/firewall:Firewall"
MEMBER = "gcp:projects/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"


def registration(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any] | None = None,
    dependencies: tuple[str, ...] = (),
    custom: bool = True,
) -> Registration:
    urn = f"urn:pulumi:t::grid::{type_}::{name}"
    return Registration(
        urn=urn,
        type=type_,
        name=name,
        parent=None,
        custom=custom,
        protect=False,
        dependencies=list(dependencies),
        inputs=inputs,
        outputs=outputs or dict(inputs),
    )


VPC = registration(
    NETWORK,
    "vpc",
    {"name": "vpc-1", "autoCreateSubnetworks": False},
    {"name": "vpc-1", "selfLink": "https://www.googleapis.com/compute/v1/projects/p/global/networks/vpc-1"},
)
SA = registration(ACCOUNT, "sa", {"accountId": "runner"}, {"email": "runner@p.iam.gserviceaccount.com"})


def by_address(document: dict[str, Any], section: str = "planned_values") -> dict[str, dict[str, Any]]:
    resources = (
        document[section]["root_module"]["resources"] if section != "resource_changes" else document["resource_changes"]
    )
    return {resource["address"]: resource for resource in resources}


def test_names_come_back_as_terraform_spells_them() -> None:
    assert snake_case("enablePrivatePathForGoogleCloudServices") == "enable_private_path_for_google_cloud_services"
    assert snake_case("ipv4Enabled") == "ipv4_enabled"
    blocks = {"allow": {"one": False, "blocks": {}}, "deny": {"one": False, "blocks": {}}}
    # The bridge pluralised these list blocks; Terraform names them in the singular.
    assert terraform_name("allows", blocks, {}) == "allow"
    assert terraform_name("denies", blocks, {}) == "deny"
    assert terraform_name("sourceRanges", blocks, {}) == "source_ranges"
    # Older bridges record their renames: they win.
    assert terraform_name("streetAddresses", {}, {"streetAddresses": "street_address"}) == "street_address"


def test_flattened_blocks_become_lists_and_maps_keep_their_keys() -> None:
    sql = registration(
        SQL,
        "db",
        {
            "databaseVersion": "POSTGRES_16",
            "settings": {
                "tier": "db-f1-micro",
                "userLabels": {"grid-service": "db"},
                "ipConfiguration": {"ipv4Enabled": False, "sslMode": "ENCRYPTED_ONLY"},
                "backupConfiguration": {"backupRetentionSettings": {"retainedBackups": 7}},
                "databaseFlags": [{"name": "log_lock_waits", "value": "on"}],
            },
        },
    )
    values = by_address(export([sql], stack="t", project="grid"))["google_sql_database_instance.db"]["values"]
    settings = values["settings"]
    assert isinstance(settings, list) and len(settings) == 1
    assert settings[0]["ip_configuration"] == [{"ipv4_enabled": False, "ssl_mode": "ENCRYPTED_ONLY"}]
    assert settings[0]["backup_configuration"] == [{"backup_retention_settings": [{"retained_backups": 7}]}]
    assert settings[0]["database_flags"] == [{"name": "log_lock_waits", "value": "on"}]
    assert settings[0]["user_labels"] == {"grid-service": "db"}  # a map: keys are data, not attribute names


def test_a_pluralised_list_block_goes_back_to_its_terraform_name() -> None:
    rule = registration(
        FIREWALL,
        "fw",
        {"network": "vpc-1", "sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["22"]}]},
    )
    values = by_address(export([rule], stack="t", project="grid"))["google_compute_firewall.fw"]["values"]
    assert values["allow"] == [{"protocol": "tcp", "ports": ["22"]}]
    assert values["source_ranges"] == ["0.0.0.0/0"]


def test_references_to_dependencies_become_terraform_references() -> None:
    sql = registration(
        SQL,
        "db",
        {"settings": {"ipConfiguration": {"privateNetwork": "projects/p/global/networks/vpc-1"}}},
        dependencies=(VPC.urn,),
    )
    grant = registration(
        MEMBER,
        "grant",
        {"role": "roles/cloudsql.client", "member": "serviceAccount:runner@p.iam.gserviceaccount.com"},
        dependencies=(SA.urn,),
    )
    document = export([VPC, SA, sql, grant], stack="t", project="grid")
    configured = by_address(document, "configuration")
    ip_configuration = configured["google_sql_database_instance.db"]["expressions"]["settings"][0]["ip_configuration"][
        0
    ]
    # A plain reference: known after apply (as under `pulumi preview` of a new stack), so scanners follow the edge.
    assert ip_configuration["private_network"] == {
        "references": ["google_compute_network.vpc.id", "google_compute_network.vpc"]
    }
    planned = by_address(document)["google_sql_database_instance.db"]["values"]
    assert "private_network" not in planned["settings"][0]["ip_configuration"][0]
    change = by_address(document, "resource_changes")["google_sql_database_instance.db"]["change"]
    assert change["after_unknown"]["settings"][0]["ip_configuration"][0]["private_network"] is True
    # An interpolation keeps its value, so checks on the member's kind still see it, and records the reference.
    member = configured["google_project_iam_member.grant"]["expressions"]["member"]
    assert member == {"references": ["google_service_account.sa.email", "google_service_account.sa"]}
    assert by_address(document)["google_project_iam_member.grant"]["values"]["member"].startswith("serviceAccount:")
    assert configured["google_sql_database_instance.db"]["depends_on"] == ["google_compute_network.vpc"]


def test_secrets_are_marked_sensitive_and_never_written() -> None:
    sql = registration(SQL, "db", {"rootPassword": SECRET, "settings": {"tier": "db-f1-micro"}})
    document = export([sql], stack="t", project="grid")
    resource = by_address(document)["google_sql_database_instance.db"]
    assert "root_password" not in resource["values"]
    assert resource["sensitive_values"] == {"root_password": True}
    assert SECRET not in json.dumps(document)


def test_resources_without_a_terraform_twin_are_listed_with_a_reason() -> None:
    component = registration("grid:database:Database", "db", {}, custom=False)
    image = registration("docker-build:index:Image", "api", {"push": True})
    document = export([component, image, VPC], stack="t", project="grid")
    untranslated = {entry["type"]: entry["reason"] for entry in document["comment"]["untranslated"]}
    assert set(untranslated) == {"grid:database:Database", "docker-build:index:Image"}
    assert "component" in untranslated["grid:database:Database"]
    assert "not a bridged Terraform provider" in untranslated["docker-build:index:Image"]
    assert list(by_address(document)) == ["google_compute_network.vpc"]
    assert document["format_version"] and document["terraform_version"]


def test_an_unmapped_bridged_type_is_reported_not_dropped() -> None:
    unknown = registration("gcp:compute/instance:Instance", "vm", {"machineType": "e2-micro"})
    document = export([unknown], stack="t", project="grid")
    assert document["comment"]["untranslated"][0]["reason"].startswith("no entry in grid/tfmapping.json")


@pytest.mark.parametrize("argv", [["--json", "--format", "tfplan"], ["--format", "yaml"]])
def test_conflicting_or_unknown_formats_are_usage_errors(argv: list[str]) -> None:
    result = grid("plan", "--stack", "dev", *argv)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
