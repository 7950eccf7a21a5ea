"""A fake ``gcloud`` executable for tests: answers exact command lines with canned JSON, logs what it ran.

``install(tmp_path, monkeypatch, {"compute ssl-certificates list --project=p --format=json": [ok([...])]})``
puts it first on PATH. Each command maps to a list of answers played in order (the last one repeats), so a
test can script a status that changes between polls. Any other command fails as gcloud would.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

# A shell script (sh, grep, cut and cat), not Python: a polling test asks dozens of times, and each Python start
# (even without site) took ~40 ms where the script takes ~5. The answers are files install() writes: keys (one command line per line,
# its line number the command's index), <index>.count, and <index>-<n>.out (stdout) or <index>-<n>.err (stderr,
# exit 1) for its n-th answer.
_SCRIPT = """#!/bin/sh
key="$*"
printf '%s\\n' "$key" >> "$FAKE_GCLOUD_LOG"
answers="$FAKE_GCLOUD_ANSWERS"
index=$(grep -nxF -e "$key" "$answers/keys" | cut -d: -f1)
if [ -z "$index" ]; then
    printf 'ERROR: (gcloud) fake: no canned answer for: %s\\n' "$key" >&2
    exit 1
fi
calls=$(grep -cxF -e "$key" "$FAKE_GCLOUD_LOG")
read -r count < "$answers/$index.count"
if [ "$calls" -gt "$count" ]; then
    calls=$count
fi
if [ -f "$answers/$index-$calls.err" ]; then
    cat "$answers/$index-$calls.err" >&2
    exit 1
fi
cat "$answers/$index-$calls.out"
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
    gcloud.write_text(_SCRIPT)
    gcloud.chmod(0o755)
    answers = tmp_path / "gcloud-answers"
    shutil.rmtree(answers, ignore_errors=True)  # a second install() replaces the first one's answers, all of them
    answers.mkdir()
    assert all("\n" not in key for key in responses), "a command line is one line"
    (answers / "keys").write_text("".join(f"{key}\n" for key in responses), encoding="utf-8")
    for index, played in enumerate(responses.values(), start=1):
        (answers / f"{index}.count").write_text(f"{len(played)}\n")
        for n, answer in enumerate(played, start=1):
            if "error" in answer:
                (answers / f"{index}-{n}.err").write_text(f"ERROR: (gcloud) {answer['error']}\n", encoding="utf-8")
            else:
                (answers / f"{index}-{n}.out").write_text(json.dumps(answer["json"]) + "\n", encoding="utf-8")
    log = tmp_path / "gcloud.log"
    log.write_text("")
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_GCLOUD_ANSWERS", str(answers))
    monkeypatch.setenv("FAKE_GCLOUD_LOG", str(log))
    return log
