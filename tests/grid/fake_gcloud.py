"""A fake ``gcloud`` executable for tests: answers exact command lines with canned JSON, logs what it ran.

``install(tmp_path, monkeypatch, {"compute ssl-certificates list --project=p --format=json": [ok([...])]})``
puts it first on PATH. Each command maps to a list of answers played in order (the last one repeats), so a
test can script a status that changes between polls. Any other command fails as gcloud would.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

# -S: no site import (the fake needs only the standard library), so each of the dozens of calls a polling test makes
# starts in about half the time.
_SCRIPT = """#!{python} -S
import json, os, sys
key = " ".join(sys.argv[1:])
log = os.environ["FAKE_GCLOUD_LOG"]
with open(log, "a") as handle:
    handle.write(key + "\\n")
with open(os.environ["FAKE_GCLOUD_RESPONSES"]) as handle:
    responses = json.load(handle)
if key not in responses:
    sys.stderr.write("ERROR: (gcloud) fake: no canned answer for: " + key + "\\n")
    sys.exit(1)
with open(log) as handle:
    calls = sum(1 for line in handle if line.rstrip("\\n") == key)
answer = responses[key][min(calls, len(responses[key])) - 1]
if "error" in answer:
    sys.stderr.write("ERROR: (gcloud) " + answer["error"] + "\\n")
    sys.exit(1)
print(json.dumps(answer["json"]))
"""


def ok(value: Any) -> dict[str, Any]:
    return {"json": value}


def error(message: str) -> dict[str, Any]:
    return {"error": message}


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, responses: dict[str, list[dict[str, Any]]]) -> Path:
    """Put the fake first on PATH; returns the log of the command lines it was asked."""
    directory = tmp_path / "fake-bin"
    directory.mkdir(exist_ok=True)
    gcloud = directory / "gcloud"
    gcloud.write_text(_SCRIPT.format(python=sys.executable))
    gcloud.chmod(0o755)
    (tmp_path / "gcloud-responses.json").write_text(json.dumps(responses))
    log = tmp_path / "gcloud.log"
    log.write_text("")
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_GCLOUD_RESPONSES", str(tmp_path / "gcloud-responses.json"))
    monkeypatch.setenv("FAKE_GCLOUD_LOG", str(log))
    return log
