"""The Google APIs a stack needs and their service agents, ready before anything that uses them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


@dataclass
class ServiceAgentsArgs:
    project: str
    roles: Mapping[str, Sequence[str]]
    """API (``pubsub.googleapis.com``) -> project roles its Google-managed service agent must hold (may be
    empty: the agent only has to exist before something grants it access to a resource)."""


class ServiceAgents(GridComponent):
    """The Google-managed service agents the stack grants access to or relies on, created up front.

    An agent is created lazily, some time after its API is enabled. In a fresh project a grant to an agent that
    does not exist yet is refused, and the first Eventarc trigger fails until the Eventarc agent exists and
    holds its role ("Permission denied while using the Eventarc Service Agent": pulumi/pulumi-gcp#1290,
    hashicorp/terraform-provider-google#25294). Creating them (``services.generateServiceIdentity``) and granting
    their roles here gives every consumer a dependency edge to wait on.
    """

    _module = "project"

    members: dict[str, pulumi.Output[str]]
    """API -> ``serviceAccount:<agent email>``."""
    ready: dict[str, list[pulumi.Resource]]
    """API -> its agent and role grants: what a resource that needs the agent waits for."""

    def __init__(self, name: str, args: ServiceAgentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.members, self.ready = {}, {}
        for api, roles in sorted(args.roles.items()):
            short = api.split(".", 1)[0]
            agent = gcp.projects.ServiceIdentity(
                self.child_name(short), project=args.project, service=api, opts=self.child_opts()
            )
            self.members[api] = agent.member
            self.ready[api] = [agent]
            for role in roles:
                grant = gcp.projects.IAMMember(
                    self.child_name(f"{short}-{role.rsplit('/', 1)[-1].replace('.', '-').lower()}"),
                    project=args.project,
                    role=role,
                    member=agent.member,
                    opts=self.child_opts(),
                )
                self.ready[api].append(grant)
        self.register_outputs({"members": self.members})
