"""The functions log as the services do, from the source archive as it is deployed: Cloud Logging JSON on stdout,
INFO lines included, each with a severity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gridlib.workloads import Workload, bundled
from stacks.serving import FUNCTION_SHARED_FILES

FUNCTIONS = bundled("function")

REPO = Path(__file__).resolve().parents[3]

# A request that makes each function log without a database, and the line it must log.
_CALLS = {
    "korean-nlp": ("/analyze", {"text": "안녕"}, "INFO", "model loaded"),
    "ml-analytics": (
        "/events",
        {"message": {"attributes": {"type": "message.created"}, "data": "!!"}},
        "WARNING",
        "malformed",
    ),
}
# cost-cap is a CloudEvent function that logs only on odd notifications: check that importing it configures logging.
COST_CAP = Workload("cost-cap", "function", "app/functions/cost_cap", entry_point="cost_cap")


def _deployed_source(spec, root: Path) -> Path:
    """The function's source directory plus the shared files, laid out as the archive stacks/serving.py uploads."""
    src = root / spec.name
    shutil.copytree(REPO / spec.source, src, ignore=shutil.ignore_patterns("__pycache__"))
    for name in FUNCTION_SHARED_FILES:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, src / name)
    return src


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[f.name for f in FUNCTIONS])
def test_functions_log_cloud_logging_json_with_severity_as_deployed(spec, tmp_path):
    path, body, severity, text = _CALLS[spec.name]
    src = _deployed_source(spec, tmp_path)
    script = (
        "from functions_framework import create_app\n"
        f"app = create_app(target={spec.entry_point!r}, source='main.py')\n"
        f"r = app.test_client().post({path!r}, json={body!r})\n"
        "assert r.status_code < 500, r.status_code\n"
    )
    # The function's own directory first, as on Cloud Functions: `app.common.logging` must come from the archive.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOG_LEVEL")}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=src, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert any(e["severity"] == severity and text in e["message"] for e in lines), run.stdout + run.stderr
    assert all("severity" in e and "logging.googleapis.com/sourceLocation" in e for e in lines)
    assert not run.stderr.strip(), run.stderr  # nothing logged as plain text


def test_cost_cap_logs_cloud_logging_json_as_deployed(tmp_path):
    src = _deployed_source(COST_CAP, tmp_path)
    script = (
        "import logging\n"
        "from functions_framework import create_app\n"
        "create_app(target='cost_cap', source='main.py', signature_type='cloudevent')\n"
        "logging.getLogger('cost-cap').info('configured')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOG_LEVEL")}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=src, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    [entry] = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert entry["severity"] == "INFO" and entry["message"] == "configured"
