"""Checkov over the Terraform-plan export of every shipped stack: zero failures beyond the reviewed skips, no stale
skip, and a faithful export — injected faults flip the Checkov check a security team would expect.

One Checkov run covers every target and prod's faulted resources (Checkov's start-up dominates its run time).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grid import scanner
from grid.engine import Registration
from grid.tfplan import export

FAULTS = "faults"


def _one(resources: list[Registration], type_: str, suffix: str) -> Registration:
    matches = [r for r in resources if r.type == type_ and r.name.endswith(suffix)]
    assert len(matches) == 1, f"expected one {type_} *{suffix}, got {[r.name for r in matches]}"
    return matches[0]


def _changed(resource: Registration, change: Callable[[dict[str, Any]], None]) -> Registration:
    faulty = copy.deepcopy(resource)
    change(faulty.inputs)
    change(faulty.policy_inputs)  # what the pack is handed (the engine's view) carries the fault too
    return faulty


def _added(like: Registration, type_: str, name: str, inputs: dict[str, Any]) -> Registration:
    return Registration(
        urn=f"{like.urn}-{name}",
        type=type_,
        name=name,
        parent=like.parent,
        custom=True,
        protect=False,
        dependencies=[],
        inputs=inputs,
        outputs=dict(inputs),
        policy_inputs=dict(inputs),
    )


def inject_faults(resources: list[Registration]) -> tuple[list[Registration], dict[str, str]]:
    """prod with one fault per kind a security team asks about; returns the resources and address → check id."""
    sql = _one(resources, "gcp:sql/databaseInstance:DatabaseInstance", "-db-instance")
    redis = _one(resources, "gcp:redis/instance:Instance", "")
    tls = _one(resources, "gcp:compute/sSLPolicy:SSLPolicy", "")
    faulty = {
        sql.urn: _changed(sql, lambda p: p["settings"]["ipConfiguration"].update(ipv4Enabled=True)),
        redis.urn: _changed(redis, lambda p: p.update(authEnabled=False)),
        tls.urn: _changed(tls, lambda p: p.update(minTlsVersion="TLS_1_0", profile="COMPATIBLE")),
    }
    added = [
        _added(
            sql,
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            "fault-public-bucket",
            {"bucket": "grid-prod-db-exports-bucket", "role": "roles/storage.objectViewer", "member": "allUsers"},
        ),
        _added(
            sql,
            "gcp:projects/iAMMember:IAMMember",
            "fault-basic-role",
            {"project": "acme-grid-prod", "role": "roles/editor", "member": "user:dev@example.com"},
        ),
        _added(
            sql,
            "gcp:compute/firewall:Firewall",
            "fault-open-firewall",
            {
                "network": "grid",
                "direction": "INGRESS",
                "sourceRanges": ["0.0.0.0/0"],
                "allows": [{"protocol": "tcp", "ports": ["22"]}],
            },
        ),
    ]
    expected = {
        f"google_sql_database_instance.{sql.name}": "CKV_GCP_60",  # public IP
        f"google_redis_instance.{redis.name}": "CKV_GCP_95",  # no AUTH
        f"google_compute_ssl_policy.{tls.name}": "CKV_GCP_4",  # weak TLS
        "google_storage_bucket_iam_member.fault-public-bucket": "CKV_GCP_28",  # allUsers
        "google_project_iam_member.fault-basic-role": "CKV_GCP_117",  # basic role
        "google_compute_firewall.fault-open-firewall": "CKV_GCP_2",  # SSH open to the internet
    }
    return [faulty.get(r.urn, r) for r in resources] + added, expected


@pytest.fixture(scope="module")
def targets() -> dict[str, tuple[str, str]]:
    return scanner.targets()


Exports = dict[str, tuple[list[Registration], dict[str, Any]]]


@dataclass(frozen=True)
class Scan:
    """Every target's Terraform-plan export, and the one Checkov run over them and prod's faults, under way."""

    exports: Exports
    findings: Future[list[scanner.Finding]]


def start_scan(plans: Mapping[str, Any], directory: Path) -> Scan:
    """Export each target's plan (target -> Plan), write the files and start Checkov over them in a thread.

    Checkov is a process of its own that takes longer than anything else in the unit suite, so the session starts it
    with its first test (``scan`` in tests/conftest.py) and the other tests run while it works."""
    exports: Exports = {}
    for target, (project, stack) in scanner.targets().items():
        resources = plans[target].run.resources
        exports[target] = (resources, export(resources, stack=stack, project=project))
    documents = {target: document for target, (_, document) in exports.items()}
    faulty, expected = inject_faults(exports["prod"][0])
    # Only the faulted and the added resources: the rest of the copy is prod's own, which Checkov already judges in
    # prod's file (scanning the whole copy again cost as much Checkov time as prod itself).
    names = {address.split(".", 1)[1] for address in expected}
    documents[FAULTS] = export([r for r in faulty if r.name in names], stack="prod", project="grid")
    paths = {}
    for target, document in documents.items():
        paths[target] = directory / f"{target}.json"
        paths[target].write_text(json.dumps(document), encoding="utf-8")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkov")
    findings = pool.submit(scanner.run_checkov, paths)
    pool.shutdown(wait=False)  # the thread ends with the Checkov process; nothing else is queued
    return Scan(exports, findings)


@pytest.fixture(scope="module")
def exports(scan: Scan) -> Exports:
    return scan.exports


@pytest.fixture(scope="module")
def expected_faults(exports) -> dict[str, str]:
    return inject_faults(exports["prod"][0])[1]


@pytest.fixture(scope="module")
def findings(scan: Scan) -> list[scanner.Finding]:
    try:
        return scan.findings.result()
    except scanner.ScannerMissing as missing:
        pytest.fail(str(missing))


def test_every_bridged_resource_is_exported(exports) -> None:
    for target, (resources, document) in exports.items():
        reasons = {entry["reason"] for entry in document["comment"]["untranslated"]}
        assert not [r for r in reasons if r.startswith("no entry")], f"{target}: regenerate grid/tfmapping.json"
        planned = document["planned_values"]["root_module"]["resources"]
        assert len(planned) + len(document["comment"]["untranslated"]) == len(resources), target
        assert len({r["address"] for r in planned}) == len(planned), f"{target}: addresses must be unique"
        assert "[secret]" not in json.dumps(document), f"{target}: a secret placeholder leaked into the export"


@pytest.mark.parametrize("target", ["dev", "staging", "prod", "dev-external", "bootstrap"])
def test_checkov_finds_nothing_beyond_the_reviewed_skips(findings, targets, target: str) -> None:
    assert target in targets
    assert any(f.target == target for f in findings), f"checkov judged nothing in {target}"
    failures = scanner.unskipped([f for f in findings if f.target == target], scanner.load_skips())
    assert not failures, "\n".join(f"{f.check} {f.address}: {f.name}" for f in failures)


def test_every_skip_is_still_needed(findings) -> None:
    failed = {(f.target, f.check) for f in findings if not f.passed}
    stale = [
        (skip.check, target)
        for skip in scanner.load_skips()
        for target in skip.targets
        if (target, skip.check) not in failed
    ]
    assert not stale, f"skips that no longer fail, remove them from policies/scanner-skips.yaml: {stale}"


def test_injected_faults_flip_the_matching_checks(findings, expected_faults: dict[str, str]) -> None:
    results = {(f.target, f.check, f.address): f.passed for f in findings}
    for address, check in expected_faults.items():
        assert results.get((FAULTS, check, address)) is False, f"{check} did not fail on the faulty {address}"
        if (("prod", check, address)) in results:  # a resource prod has: the same check passed before the fault
            assert results[("prod", check, address)] is True, f"{check} already failed on prod's {address}"
    modified = [a for a in expected_faults if not a.split(".", 1)[1].startswith("fault-")]
    assert all(("prod", expected_faults[a], a) in results for a in modified)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"check": "CKV_AWS_1", "targets": ["dev"], "reason": "A reason."}, "Checkov GCP check id"),
        ({"check": "CKV_GCP_6", "targets": [], "reason": "A reason."}, "targets must be"),
        ({"check": "CKV_GCP_6", "targets": ["qa"], "reason": "A reason."}, "targets must be"),
        ({"check": "CKV_GCP_6", "targets": ["dev"], "reason": "No full stop"}, "one sentence"),
        ({"check": "CKV_GCP_6", "targets": ["dev"], "reason": "One. Two."}, "one sentence"),
    ],
)
def test_a_skip_without_check_targets_or_one_sentence_is_rejected(tmp_path: Path, entry, problem: str) -> None:
    path = tmp_path / "skips.yaml"
    path.write_text(json.dumps({"skips": [entry]}))
    with pytest.raises(ValueError, match=problem):
        scanner.load_skips(path, known_targets=("dev", "prod"))


@pytest.mark.parametrize(
    ("head", "found"),
    [
        ("#!{python}\n", True),
        ("#!/usr/bin/env {name}\n", True),
        ("#!/usr/bin/env -S {name}\n", True),
        ("#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\"\n' '''\n", True),  # pip's launcher for a path with spaces
        ("#!/bin/sh\n", False),
        ("\x7fELF", False),
    ],
)
def test_checkov_runs_in_the_interpreter_its_script_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: str, found: bool
) -> None:
    """grid/checkov_plan_scan.py needs the interpreter that can import Checkov: the one its console script names."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    script = tmp_path / "checkov"
    script.write_text(head.format(python=sys.executable, name=Path(sys.executable).name) + "print()\n")
    if found:
        assert Path(scanner.checkov_python(str(script))).name.startswith("python")
    else:
        with pytest.raises(scanner.ScannerMissing, match="not a Python console script of checkov"):
            scanner.checkov_python(str(script))


def test_a_virtualenvs_checkov_runs_in_the_python_beside_it(tmp_path: Path) -> None:
    (tmp_path / "python").symlink_to(sys.executable)
    script = tmp_path / "checkov"
    script.write_text("#!/bin/sh\nexec something-else\n")
    assert scanner.checkov_python(str(script)) == str(tmp_path / "python")


def test_security_doc_lists_every_rule_and_every_skipped_check() -> None:
    from grid.projects import REPO_ROOT
    from policies import all_policies

    doc = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    rules = [p.name for p in all_policies if not p.name.startswith(("cost-", "reliability-"))]
    assert not [name for name in rules if f"`{name}`" not in doc], "add the rule to docs/security.md's table"
    assert not [skip.check for skip in scanner.load_skips() if skip.check not in doc]
