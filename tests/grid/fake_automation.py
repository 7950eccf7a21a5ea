"""A stand-in for ``pulumi.automation`` ($GRID_PULUMI_AUTOMATION) so `grid up` runs end to end without the Pulumi
CLI: every call is appended to $GRID_FAKE_AUTOMATION_LOG as one JSON line, so a test sees what would have run."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any


class CommandError(Exception):
    pass


def _log(call: str, **details: Any) -> None:
    with open(os.environ["GRID_FAKE_AUTOMATION_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"call": call, **details}) + "\n")


@dataclass
class PreviewResult:
    change_summary: dict[str, int]
    stdout: str = ""
    stderr: str = ""


@dataclass
class UpdateSummary:
    result: str
    resource_changes: dict[str, int]


@dataclass
class UpResult:
    summary: UpdateSummary
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    deployment: dict[str, Any]


# What the fake stack "has deployed": one Cloud SQL instance, so the cost change has a real before.
DEPLOYED = {
    "resources": [
        {
            "urn": "urn:pulumi:dev::grid::gcp:sql/databaseInstance:DatabaseInstance::old-db",
            "type": "gcp:sql/databaseInstance:DatabaseInstance",
            "custom": True,
            "inputs": {"settings": {"tier": "db-custom-2-7680"}, "region": "us-central1"},
        }
    ]
}


class Stack:
    def __init__(self, name: str) -> None:
        self.name = name

    def preview(self, **options: Any) -> PreviewResult:
        options.pop("on_output")("Previewing update (fake):\n    + 3 to create\n")
        _log("preview", **options)
        if os.environ.get("GRID_FAKE_AUTOMATION_FAIL") == "preview":
            raise CommandError("code: 255\n stderr: error: preview failed (fake)")
        changes = json.loads(os.environ.get("GRID_FAKE_AUTOMATION_CHANGES", '{"create": 3, "same": 1}'))
        return PreviewResult(change_summary=changes)

    def up(self, **options: Any) -> UpResult:
        options.pop("on_output")("Updating (fake):\n    + 3 created\n")
        _log("up", **options)
        return UpResult(summary=UpdateSummary(result="succeeded", resource_changes={"create": 3}))

    def set_config(self, key: str, value: Any, path: bool = False) -> None:
        _log("set_config", key=key)

    def export_stack(self) -> Deployment:
        return Deployment(deployment=DEPLOYED)


def select_stack(stack_name: str, work_dir: str) -> Stack:
    _log("select_stack", stack_name=stack_name, work_dir=work_dir)
    return Stack(stack_name)
