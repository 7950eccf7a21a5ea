"""A fake Google Cloud provider for the offline engine: realistic computed outputs, deterministically.

Pulumi's mock runtime asks ``new_resource`` for each resource's ID and output state. Real providers compute
IDs, self links, IPs, connection names and auto-names; components chain them (a connection URL from a private
IP, a peering from a range name). Each value here has the shape Google Cloud returns, derived from a hash of
the resource's name so plans are stable from run to run.

One module per Google Cloud service, each exporting ``OUTPUTS`` (resource type → computed outputs) and
``AUTONAMED`` (its types Pulumi auto-names); they import only ``core``, and this module joins them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import ModuleType

import pulumi

from grid.fakecloud.core import Cloud, Outputs, State, unwrap

# Every module of this package but ``core`` is one service: adding a file adds the service.
SERVICES: tuple[ModuleType, ...] = tuple(
    importlib.import_module(f"{__name__}.{module.name}")
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name)
    if module.name != "core"
)


def _join(services: tuple[ModuleType, ...]) -> dict[str, Outputs]:
    """Every service's outputs in one table; a type two services claim is a mistake, not an override."""
    table: dict[str, Outputs] = {}
    for service in services:
        for resource_type, outputs in service.OUTPUTS.items():
            if resource_type in table:
                raise ValueError(f"grid.fakecloud: {resource_type} is handled twice ({service.__name__} again)")
            table[resource_type] = outputs
    return table


OUTPUTS: Mapping[str, Outputs] = _join(SERVICES)
# Types whose ``name`` Pulumi auto-generates as ``<logical>-<7 hex>`` when the program leaves it out.
AUTONAMED: frozenset[str] = frozenset().union(*(service.AUTONAMED for service in SERVICES))


class FakeCloud(Cloud, pulumi.runtime.Mocks):
    """Mocks whose outputs look like Google Cloud's, for ``project`` in ``region``."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        # Outputs are computed from plain values, but inputs keep their secret marking in the returned state:
        # a secret that goes in comes back out as a secret, as with a real provider.
        plain: State = unwrap(args.inputs)
        state: State = dict(args.inputs)
        if args.typ in AUTONAMED and not plain.get("name"):
            plain["name"] = state["name"] = f"{args.name}-{self.digest(args.name, 7)}"
        plain.setdefault("project", self.project)
        state.setdefault("project", self.project)
        compute_outputs = OUTPUTS.get(args.typ)
        if compute_outputs is not None:
            state.update(compute_outputs(self, args.name, plain))
        resource_id = state.pop("__id", None) or state.get("id") or f"{args.name}-{self.digest(args.name)}"
        state.pop("id", None)
        return str(resource_id), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"projectId": self.project, "number": self.project_number, "name": self.project}, []
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"project": self.project, "region": self.region, "accessToken": "offline"}, []
        return {}, []


__all__ = ["AUTONAMED", "OUTPUTS", "SERVICES", "Cloud", "FakeCloud", "Outputs", "State", "unwrap"]
