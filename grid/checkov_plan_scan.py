"""Checkov's Terraform-plan scan of plan files, run by the interpreter of Checkov's own virtualenv (grid/scanner.py).

``python checkov_plan_scan.py PLAN.json ...`` prints one JSON document on stdout, in the shape of ``checkov --output
json``: a list with one report whose ``results`` hold ``failed_checks`` and ``passed_checks``, each check with its
``check_id``, ``check_name``, ``resource`` and ``file_abs_path``.

Why not the ``checkov`` command: it imports the runner of every framework it knows (Ansible, CloudFormation,
Kubernetes, ...) and the resource checks of every cloud, and renders a full report. A Grid plan holds only google_*
resources, which only the Google Cloud checks judge (``CKV_GCP_*``, ``CKV2_GCP_*``; the skip file names no other),
so this imports only the Terraform-plan runner and the gcp package of resource checks, and asks the runner for those
checks alone: the same findings for about half of Checkov's CPU time (docs/benchmarks.md).

Standard library and Checkov only: Grid is not installed in that virtualenv.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
import types
from pathlib import Path

GOOGLE_CHECKS = ["CKV_GCP_*", "CKV2_GCP_*"]
RESOURCE_CHECKS = "checkov.terraform.checks.resource"


def _only_google_resource_checks() -> None:
    """Checkov's resource checks register themselves when their provider's package is imported, and the package of
    all of them imports every provider's. Each provider's package but gcp's is stood in for by an empty module
    before that import, so that no other cloud's checks are loaded (none of them applies to a google_* type)."""
    spec = importlib.util.find_spec("checkov")
    assert spec is not None and spec.submodule_search_locations, "checkov is not importable here"
    directory = Path(next(iter(spec.submodule_search_locations))) / "terraform" / "checks" / "resource"
    for provider in directory.iterdir():
        if provider.is_dir() and (provider / "__init__.py").is_file() and provider.name != "gcp":
            sys.modules[f"{RESOURCE_CHECKS}.{provider.name}"] = types.ModuleType(f"{RESOURCE_CHECKS}.{provider.name}")


def scan(files: list[str]) -> list[dict]:
    _only_google_resource_checks()
    from checkov.runner_filter import RunnerFilter
    from checkov.terraform.plan_runner import Runner

    report = Runner().run(
        root_folder=None,
        files=[str(Path(f).resolve()) for f in files],
        runner_filter=RunnerFilter(framework=["terraform_plan"], checks=GOOGLE_CHECKS, download_external_modules=False),
    )

    def checks(records: list) -> list[dict]:
        return [
            {
                "check_id": r.check_id,
                "check_name": r.check_name,
                "resource": r.resource,
                "file_abs_path": r.file_abs_path,
            }
            for r in records
        ]

    return [{"results": {"failed_checks": checks(report.failed_checks), "passed_checks": checks(report.passed_checks)}}]


if __name__ == "__main__":
    # One scan, then the process exits: the cyclic collector's passes over Checkov's ~2,000 modules and its graph
    # free nothing that matters before then (the five shipped stacks: 5.2 -> 3.9 CPU s, peak memory 173 MB either way).
    gc.disable()
    json.dump(scan(sys.argv[1:]), sys.stdout)
