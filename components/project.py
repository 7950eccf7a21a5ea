"""The Google APIs a stack needs, enabled before anything that uses them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components._base import GridComponent


@dataclass
class ProjectServicesArgs:
    project: str
    """Project to enable the APIs in."""
    apis: Sequence[str]
    """Service names, e.g. ``run.googleapis.com``."""


class ProjectServices(GridComponent):
    """Enables APIs and leaves them enabled on destroy: other stacks in the project may rely on them."""

    _module = "project"

    services: list[gcp.projects.Service]

    def __init__(self, name: str, args: ProjectServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.services = [
            gcp.projects.Service(
                self.child_name(api.split(".", 1)[0]),
                project=args.project,
                service=api,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=self.child_opts(),
            )
            for api in sorted(set(args.apis))
        ]
        self.register_outputs({"apis": sorted(set(args.apis))})
