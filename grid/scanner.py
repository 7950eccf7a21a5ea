"""Checkov over the Terraform-plan export of every shipped stack, judged against the reviewed skip file.

``python -m grid.scanner [TARGET ...]`` exports each target (``dev``, ``staging``, ``prod``: the Grid stacks;
``bootstrap``: the bootstrap project's stack) with ``grid plan --format tfplan``, runs Checkov's Google Cloud checks
once over all of them (grid/checkov_plan_scan.py, in Checkov's own interpreter), and prints every failed check that
``policies/scanner-skips.yaml`` does not skip for that target. Exit 0 when there is none, 1 otherwise, 2 when Checkov
is missing.

Checkov pins ``packaging<24`` and ``networkx<2.7`` while Pulumi needs ``packaging>=26``, so it cannot share
Grid's virtualenv: it lives in its own (``make scanner`` creates ``.grid/scanner`` from
``policies/scanner-requirements.txt``). ``GRID_CHECKOV`` names another checkov console script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from grid.projects import REPO_ROOT
from grid.stackfile import load_yaml

SKIPS_FILE: Final = REPO_ROOT / "policies" / "scanner-skips.yaml"
SCANNER_VENV: Final = REPO_ROOT / ".grid" / "scanner"
BOOTSTRAP: Final = "bootstrap"
_CHECK_ID = re.compile(r"^CKV2?_GCP_\d+$")
# pip's launcher when the interpreter's path cannot be a #! line: #!/bin/sh, then '''exec' "<python>" "$0" "$@"
_PIP_LAUNCHER = re.compile(r"^'''exec' \"([^\"]+)\"")


class ScannerMissing(RuntimeError):
    """No checkov executable: the message says how to install it."""


@dataclass(frozen=True)
class Skip:
    check: str
    targets: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Finding:
    target: str
    check: str
    address: str
    name: str
    passed: bool


def targets() -> dict[str, tuple[str, str]]:
    """Scan target → (project, stack): every Grid stack file, and the bootstrap project's one stack."""
    from grid.plan import project_root, project_spec
    from grid.stackfile import stack_names

    found = {stack: ("grid", stack) for stack in stack_names(project_root(project_spec("grid")))}
    bootstrap_stacks = stack_names(project_root(project_spec(BOOTSTRAP)))
    if len(bootstrap_stacks) != 1:
        raise ValueError(f"the bootstrap project should have one stack file, found {bootstrap_stacks}")
    found[BOOTSTRAP] = (BOOTSTRAP, bootstrap_stacks[0])
    return found


def load_skips(path: Path = SKIPS_FILE, known_targets: Iterable[str] | None = None) -> list[Skip]:
    """The reviewed skips; raises ValueError naming the entry that lacks a check id, targets or a reason."""
    document = load_yaml(path.read_text(encoding="utf-8")) or {}
    known = set(known_targets) if known_targets is not None else set(targets())
    skips: list[Skip] = []
    for index, entry in enumerate(document.get("skips") or []):
        where = f"{path.name}: skips[{index}]"
        check = str(entry.get("check", ""))
        if not _CHECK_ID.match(check):
            raise ValueError(f"{where}: check must be a Checkov GCP check id (CKV_GCP_n or CKV2_GCP_n), got {check!r}")
        scope = tuple(entry.get("targets") or ())
        if not scope or not set(scope) <= known:
            raise ValueError(f"{where} ({check}): targets must be a non-empty list of {sorted(known)}, got {scope}")
        reason = " ".join(str(entry.get("reason", "")).split())
        if not reason.endswith(".") or reason.count(". ") > 0:
            raise ValueError(f"{where} ({check}): reason must be one sentence ending with a full stop")
        skips.append(Skip(check, scope, reason))
    return skips


def checkov_executable() -> str:
    for candidate in (os.environ.get("GRID_CHECKOV"), str(SCANNER_VENV / "bin" / "checkov"), shutil.which("checkov")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ScannerMissing("checkov is not installed: run `make scanner` (or set GRID_CHECKOV to its path)")


def checkov_python(executable: str) -> str:
    """The interpreter of a checkov console script: the one that can import Checkov, and so runs
    grid/checkov_plan_scan.py. pip names it on the script's ``#!`` line or, when that path cannot be one (spaces,
    over 127 bytes), on the ``exec`` line of a ``#!/bin/sh`` launcher; a virtualenv also has it beside the script."""
    with open(executable, "rb") as script:
        head = script.read(4096).decode(errors="replace").splitlines()
    candidates: list[str] = []
    if head and head[0].startswith("#!"):
        words = head[0][2:].split()
        if words and Path(words[0]).name == "env":
            words = [w for w in words[1:] if not w.startswith("-")]
        candidates += words[:1]
    if len(head) > 1 and (launcher := _PIP_LAUNCHER.match(head[1])):
        candidates.append(launcher.group(1))
    candidates.append(str(Path(executable).with_name("python")))
    for candidate in candidates:
        interpreter = candidate if "/" in candidate else shutil.which(candidate)
        if interpreter and Path(interpreter).name.startswith("python") and Path(interpreter).is_file():
            return interpreter
    raise ScannerMissing(
        f"{executable} is not a Python console script of checkov: run `make scanner` (or set GRID_CHECKOV to the "
        "checkov script pip installed)"
    )


def run_checkov(plans: Mapping[str, Path]) -> list[Finding]:
    """Every passed and failed Google Cloud check of one Checkov run over the plan files (target → path), offline."""
    paths = {str(path.resolve()): target for target, path in plans.items()}
    command = [checkov_python(checkov_executable()), str(Path(__file__).with_name("checkov_plan_scan.py")), *paths]
    # BC_SKIP_MAPPING: don't ask Prisma Cloud's API for guideline links (the run must work offline).
    # CHECKOV_MAX_IAC_FILE_SIZE: Checkov reads a JSON plan smaller than this with its pure-Python YAML loader, only
    # to know each resource's line, and a larger one with json.loads; findings here are by address, never by line,
    # so every plan takes the json.loads path: the same findings for half of Checkov's CPU time
    # (docs/benchmarks.md, unit part of the test suite).
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "CHECKOV_MAX_IAC_FILE_SIZE": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"checkov failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    findings: list[Finding] = []
    for report in json.loads(result.stdout):
        for outcome, passed in (("failed_checks", False), ("passed_checks", True)):
            for check in report["results"][outcome]:
                target = paths.get(check["file_abs_path"])
                if target is None:  # grid/checkov_plan_scan.py reports the absolute paths it was given
                    raise RuntimeError(f"checkov reported a file it was not given: {check['file_abs_path']}")
                findings.append(Finding(target, check["check_id"], check["resource"], check["check_name"], passed))
    return findings


def export(project: str, stack: str) -> dict[str, Any]:
    from grid.plan import make_plan
    from grid.tfplan import export as tfplan_export

    plan = make_plan(stack, project=project)
    return tfplan_export(plan.run.resources, stack=stack, project=project)


def unskipped(findings: Iterable[Finding], skips: Sequence[Skip]) -> list[Finding]:
    """The failed checks no reviewed skip covers."""
    skipped = {(target, skip.check) for skip in skips for target in skip.targets}
    return [f for f in findings if not f.passed and (f.target, f.check) not in skipped]


def main(argv: Sequence[str]) -> int:
    known = targets()
    chosen = list(argv) or list(known)
    unknown = [target for target in chosen if target not in known]
    if unknown:
        print(f"grid.scanner: unknown target {', '.join(unknown)} (known: {', '.join(known)})", file=sys.stderr)
        return 2
    skips = load_skips(known_targets=known)
    with tempfile.TemporaryDirectory(prefix="grid-scan-") as directory:
        plans = {}
        for target in chosen:
            plans[target] = Path(directory) / f"{target}.tfplan.json"
            plans[target].write_text(json.dumps(export(*known[target])), encoding="utf-8")
        try:
            findings = run_checkov(plans)
        except ScannerMissing as missing:
            print(f"grid.scanner: {missing}", file=sys.stderr)
            return 2
    failures = unskipped(findings, skips)
    for finding in failures:
        print(f"{finding.target}: {finding.check} {finding.address}: {finding.name}")
    failed = sum(1 for finding in findings if not finding.passed)
    print(
        f"{len(findings) - failed} passed, {failed} failed: {failed - len(failures)} skipped by {SKIPS_FILE.name}, "
        f"{len(failures)} unreviewed",
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
