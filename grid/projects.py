"""The Pulumi projects `grid plan` knows: where each one's stack files and program live, and how to read its
config into what a plan needs (environment for the policy config, usage for prices, budget for the report)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grid.stackfile import StackFile
from gridlib.plan_settings import PlanSettings
from gridlib.workloads import load_reference

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    """Pulumi project name (un-namespaced config keys belong to it)."""
    root: Path
    """Directory of Pulumi.yaml and the Pulumi.<stack>.yaml files."""
    program: Path
    """The program's entry file."""
    settings: str
    """``module:function`` taking a StackFile and returning PlanSettings; raises ConfigError on bad config."""

    def plan_settings(self, stack_file: StackFile) -> PlanSettings:
        loader: Callable[[StackFile], PlanSettings] = load_reference(self.settings)
        return loader(stack_file)


PROJECTS: dict[str, ProjectSpec] = {
    "grid": ProjectSpec("grid", REPO_ROOT, REPO_ROOT / "stacks" / "__main__.py", "stacks.config:plan_settings"),
    "bootstrap": ProjectSpec(
        "grid-bootstrap",
        REPO_ROOT / "bootstrap",
        REPO_ROOT / "bootstrap" / "__main__.py",
        "bootstrap.config:plan_settings",
    ),
}
