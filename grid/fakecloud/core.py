"""What every fake Google Cloud service shares: the cloud's identity and the helpers that derive values from names.

A service module (``compute``, ``sql``, ...) maps each of its resource types to an ``Outputs`` function that gets
this ``Cloud`` and returns the computed state; it imports nothing from the package but this module.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Callable
from typing import Any

from pulumi.runtime import rpc

State = dict[str, Any]
Outputs = Callable[["Cloud", str, State], State]


# The server CA a Cloud SQL or Memorystore (TLS) instance reports offline; `grid local` reports its own CA instead.
OFFLINE_CA_PEM = "-----BEGIN CERTIFICATE-----\nOFFLINE\n-----END CERTIFICATE-----\n"


def unwrap(value: Any) -> Any:
    """Strip Pulumi's secret wrappers so outputs can be computed from plain inputs."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class Cloud:
    """The project and region resources are planned in, and the name-derived values Google would assign."""

    def __init__(self, project: str, region: str) -> None:
        self.project = project
        self.region = region
        self.project_number = str(int(self.digest(project), 16) % 10**12).zfill(12)

    @staticmethod
    def digest(text: str, length: int = 8) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:length]

    def uuid(self, seed: str) -> str:
        """A UUID derived from ``seed``, where Google assigns one (dashboards, budgets)."""
        return str(uuid.UUID(self.digest(seed, 32)))

    def location_of(self, state: State) -> str:
        """The resource's location or region input, else the stack's region (what the provider defaults to)."""
        return str(state.get("location") or state.get("region") or self.region)

    def region_of(self, state: State) -> str:
        """The resource's region input, else the stack's region."""
        return str(state.get("region") or self.region)

    def private_ip(self, seed: str, cidr: str = "10.20.0.0/16") -> str:
        net = ipaddress.ip_network(cidr)
        offset = 2 + int(self.digest(seed), 16) % max(net.num_addresses - 4, 1)
        return str(net.network_address + offset)

    def public_ip(self, seed: str) -> str:
        n = int(self.digest(seed), 16)
        return f"34.{96 + n % 32}.{(n >> 8) % 256}.{(n >> 16) % 254 + 1}"


def iam_member(cloud: Cloud, logical: str, _state: State) -> State:
    """Every IAM member and audit config (project, resource or billing level) only computes the policy's etag."""
    return {"etag": f"BwY{cloud.digest(logical, 9)}="}
