"""The policy-pack contract (DESIGN §6): importable without a server, documented, configured per environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from grid.policy_eval import CONFIG_DIR, resolve_settings
from grid.stackfile import load_yaml
from policies import all_policies

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")


def test_import_from_repo_root_does_not_start_a_server() -> None:
    # PolicyPack() would block serving gRPC forever; a prompt exit proves only Policy objects were built.
    result = subprocess.run(
        [sys.executable, "-c", "from policies import all_policies; print(len(all_policies))"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(result.stdout) == len(all_policies) >= 40


@pytest.fixture(scope="module")
def served_pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """`python policies/__main__.py` as the Pulumi CLI starts it (in the pack's directory): a stub of the analyzer it
    serves on the port it printed. One process for this module's tests (each start is ~0.5 CPU s of imports)."""
    import grpc

    from tests.policies.test_pack_location import serving

    with serving([sys.executable, str(REPO_ROOT / "policies" / "__main__.py")], REPO_ROOT / "policies") as line:
        port = line()
        assert port.isdigit(), port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)


def test_main_serves_the_pack(served_pack: analyzer_pb2_grpc.AnalyzerStub) -> None:
    """`__main__.py` builds the PolicyPack, which prints the port it serves on (what the CLI reads), and answers
    the engine's calls: a resource and the stack (every stack policy failed once when the servicer it installs
    was not a class: tests/policies/test_analyzer.py)."""
    from google.protobuf import struct_pb2

    bucket = {"type": "gcp:storage/bucket:Bucket", "urn": "urn:pulumi:dev::grid::b", "name": "b"}
    served_pack.Analyze(analyzer_pb2.AnalyzeRequest(properties=struct_pb2.Struct(), **bucket), timeout=30)
    resource = analyzer_pb2.AnalyzerResource(properties=struct_pb2.Struct(), **bucket)
    served_pack.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[resource]), timeout=30)


def test_the_served_pack_reports_the_manifests_version(served_pack: analyzer_pb2_grpc.AnalyzerStub) -> None:
    """One version: what the analyzer tells the engine is PulumiPolicy.yaml's, which `grid plan` reports too."""
    from google.protobuf import empty_pb2

    from policies import pack_version

    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "grid-policies"
    assert info.version == pack_version() == "0.1.0"


def test_manifest_and_requirements() -> None:
    manifest = load_yaml((REPO_ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python" and manifest["version"]
    requirements = (REPO_ROOT / "policies" / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements


def test_names_are_unique_kebab_case() -> None:
    names = [policy.name for policy in all_policies]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)


@pytest.mark.parametrize("policy", all_policies, ids=lambda policy: policy.name)
def test_every_policy_is_documented(policy) -> None:
    assert isinstance(policy.enforcement_level, EnforcementLevel)
    assert policy.description and policy.remediation_steps and policy.url
    assert policy.framework is not None and policy.framework.name and policy.framework.reference
    assert isinstance(policy, (ResourceValidationPolicy, StackValidationPolicy))


def test_rule_counts() -> None:
    tags = [set(policy.tags or []) for policy in all_policies]
    security = [p for p in all_policies if not p.name.startswith(("cost-", "reliability-"))]
    assert len(security) >= 30
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in security)
    assert sum("cost" in tag for tag in tags) >= 10


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_file_names_every_policy_and_validates(environment: str) -> None:
    raw = json.loads((CONFIG_DIR / f"{environment}.json").read_text())
    assert set(raw) == {policy.name for policy in all_policies}
    assert all("enforcementLevel" in entry for entry in raw.values())
    settings = resolve_settings(all_policies, raw)  # raises on unknown names or schema violations
    assert len(settings) == len(all_policies)


def test_environments_differ_where_the_design_says() -> None:
    levels = {
        env: resolve_settings(all_policies, json.loads((CONFIG_DIR / f"{env}.json").read_text()))
        for env in ENVIRONMENTS
    }
    assert levels["dev"]["sql-point-in-time-recovery"].enforcement == EnforcementLevel.DISABLED
    assert levels["staging"]["sql-point-in-time-recovery"].enforcement == EnforcementLevel.MANDATORY
    assert levels["prod"]["reliability-sql-regional"].enforcement == EnforcementLevel.MANDATORY
    assert levels["dev"]["reliability-sql-regional"].enforcement == EnforcementLevel.DISABLED
    budgets = [levels[env]["cost-monthly-budget"].config["maxMonthlyUsd"] for env in ENVIRONMENTS]
    assert budgets == sorted(budgets) and budgets[0] < budgets[-1]
    for env in ENVIRONMENTS:  # security never relaxes below mandatory except the prod-only rules
        for name in ("sql-no-public-ip", "workload-no-plaintext-secrets", "iam-no-basic-roles"):
            assert levels[env][name].enforcement == EnforcementLevel.MANDATORY
