"""Run the Google Cloud CLI for its JSON: the one place Grid's read-only checks call ``gcloud``."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

TIMEOUT_SECONDS = 120


class GcloudError(Exception):
    """A gcloud command failed: the message is its last error line (what gcloud says is wrong)."""


def available() -> bool:
    return shutil.which("gcloud") is not None


def gcloud_json(*args: str) -> Any:
    """``gcloud ARGS --format=json`` parsed; raises GcloudError with gcloud's own message on failure."""
    command = ["gcloud", *args, "--format=json"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GcloudError(f"{' '.join(command)}: {exc}") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise GcloudError(lines[-1] if lines else f"{' '.join(command)} exited {result.returncode}")
    try:
        return json.loads(result.stdout or "null")
    except json.JSONDecodeError:
        raise GcloudError(f"{' '.join(command)}: output is not JSON") from None
