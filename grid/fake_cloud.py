"""A fake Google Cloud provider for the offline engine: realistic computed outputs, deterministically.

Pulumi's mock runtime asks ``new_resource`` for each resource's ID and output state. Real providers compute
IDs, self links, IPs, connection names and auto-names; components chain them (a connection URL from a private
IP, a peering from a range name). Each value here has the shape Google Cloud returns, derived from a hash of
the resource's name so plans are stable from run to run.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import rpc

State = dict[str, Any]
Outputs = Callable[["FakeCloud", str, State], State]

# Types whose ``name`` Pulumi auto-generates as ``<logical>-<7 hex>`` when the program leaves it out.
AUTONAMED: frozenset[str] = frozenset(
    {
        "gcp:compute/network:Network",
        "gcp:compute/subnetwork:Subnetwork",
        "gcp:compute/router:Router",
        "gcp:compute/routerNat:RouterNat",
        "gcp:compute/globalAddress:GlobalAddress",
        "gcp:compute/address:Address",
        "gcp:compute/firewall:Firewall",
        "gcp:vpcaccess/connector:Connector",
        "gcp:sql/databaseInstance:DatabaseInstance",
        "gcp:redis/instance:Instance",
        "gcp:cloudrunv2/service:Service",
        "gcp:cloudrunv2/job:Job",
        "gcp:cloudfunctionsv2/function:Function",
        "gcp:storage/bucket:Bucket",
        "gcp:pubsub/topic:Topic",
        "gcp:pubsub/subscription:Subscription",
        "gcp:cloudscheduler/job:Job",
        "gcp:cloudtasks/queue:Queue",
        "gcp:compute/backendService:BackendService",
        "gcp:compute/globalForwardingRule:GlobalForwardingRule",
        "gcp:compute/uRLMap:URLMap",
        "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
        "gcp:compute/targetHttpProxy:TargetHttpProxy",
        "gcp:compute/managedSslCertificate:ManagedSslCertificate",
        "gcp:compute/sSLPolicy:SSLPolicy",
        "gcp:compute/securityPolicy:SecurityPolicy",
        "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup",
    }
)


def unwrap(value: Any) -> Any:
    """Strip Pulumi's secret wrappers so outputs can be computed from plain inputs."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class FakeCloud(pulumi.runtime.Mocks):
    """Mocks whose outputs look like Google Cloud's, for ``project`` in ``region``."""

    def __init__(self, project: str, region: str) -> None:
        self.project = project
        self.region = region
        self.project_number = str(int(self.digest(project), 16) % 10**12).zfill(12)

    @staticmethod
    def digest(text: str, length: int = 8) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:length]

    def location_of(self, state: State) -> str:
        """The resource's location or region input, else the stack's region (what the provider defaults to)."""
        return str(state.get("location") or state.get("region") or self.region)

    def private_ip(self, seed: str, cidr: str = "10.20.0.0/16") -> str:
        net = ipaddress.ip_network(cidr)
        offset = 2 + int(self.digest(seed), 16) % max(net.num_addresses - 4, 1)
        return str(net.network_address + offset)

    def public_ip(self, seed: str) -> str:
        n = int(self.digest(seed), 16)
        return f"34.{96 + n % 32}.{(n >> 8) % 256}.{(n >> 16) % 254 + 1}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        # Outputs are computed from plain values, but inputs keep their secret marking in the returned state:
        # a secret that goes in comes back out as a secret, as with a real provider.
        plain: State = unwrap(args.inputs)
        state: State = dict(args.inputs)
        if args.typ in AUTONAMED and not plain.get("name"):
            plain["name"] = state["name"] = f"{args.name}-{self.digest(args.name, 7)}"
        plain.setdefault("project", self.project)
        state.setdefault("project", self.project)
        compute = _OUTPUTS.get(args.typ)
        if compute is not None:
            state.update(compute(self, args.name, plain))
        resource_id = state.pop("__id", None) or state.get("id") or f"{args.name}-{self.digest(args.name)}"
        state.pop("id", None)
        return str(resource_id), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"projectId": self.project, "number": self.project_number, "name": self.project}, []
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"project": self.project, "region": self.region, "accessToken": "offline"}, []
        return {}, []


# --- per-type computed outputs ------------------------------------------------------------------------------


def _compute_link(kind: str, scope: str = "global") -> Outputs:
    def outputs(cloud: FakeCloud, _logical: str, state: State) -> State:
        where = "global" if scope == "global" else f"regions/{state.get('region') or cloud.region}"
        path = f"projects/{cloud.project}/{where}/{kind}/{state['name']}"
        return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}

    return outputs


def _network(cloud: FakeCloud, logical: str, state: State) -> State:
    out = _compute_link("networks")(cloud, logical, state)
    return out | {"numericId": str(int(cloud.digest(logical), 16))}


def _subnetwork(cloud: FakeCloud, logical: str, state: State) -> State:
    out = _compute_link("subnetworks", scope="region")(cloud, logical, state)
    cidr = ipaddress.ip_network(state.get("ipCidrRange", "10.0.0.0/24"))
    return out | {"gatewayAddress": str(cidr.network_address + 1), "region": state.get("region") or cloud.region}


def _global_address(cloud: FakeCloud, logical: str, state: State, scope: str = "global") -> State:
    out = _compute_link("addresses", scope)(cloud, logical, state)
    address = state.get("address") or (
        cloud.private_ip(logical) if state.get("addressType") == "INTERNAL" else cloud.public_ip(logical)
    )
    return out | {"address": address}


def _peering(cloud: FakeCloud, _logical: str, state: State) -> State:
    network = str(state.get("network", "")).rsplit("/", 1)[-1]
    return {"__id": f"{network}:servicenetworking.googleapis.com", "peering": "servicenetworking-googleapis-com"}


def _connector(cloud: FakeCloud, _logical: str, state: State) -> State:
    region = state.get("region") or cloud.region
    path = f"projects/{cloud.project}/locations/{region}/connectors/{state['name']}"
    return {"__id": path, "selfLink": path, "state": "READY"}


# The server CA a Cloud SQL or Memorystore (TLS) instance reports offline; `grid local` reports its own CA instead.
OFFLINE_CA_PEM = "-----BEGIN CERTIFICATE-----\nOFFLINE\n-----END CERTIFICATE-----\n"


def _sql_instance(cloud: FakeCloud, logical: str, state: State) -> State:
    region = state.get("region") or cloud.region
    ip = cloud.private_ip(logical)
    return {
        "__id": state["name"],
        "connectionName": f"{cloud.project}:{region}:{state['name']}",
        "privateIpAddress": ip,
        "publicIpAddress": "",
        "firstIpAddress": ip,
        "ipAddresses": [{"ipAddress": ip, "type": "PRIVATE"}],
        "selfLink": f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{cloud.project}/instances/{state['name']}",
        "serviceAccountEmailAddress": f"p{cloud.project_number}-{cloud.digest(logical, 6)}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        "dnsName": f"{cloud.digest(logical, 12)}.{region}.sql.goog.",
        # Every instance has its server CA from creation on (its per-instance CA by default).
        "serverCaCerts": [{"cert": OFFLINE_CA_PEM}],
    }


def _sql_child(kind: str) -> Outputs:
    def outputs(cloud: FakeCloud, _logical: str, state: State) -> State:
        return {"__id": f"projects/{cloud.project}/instances/{state.get('instance')}/{kind}/{state.get('name')}"}

    return outputs


def _redis(cloud: FakeCloud, logical: str, state: State) -> State:
    region = state.get("region") or cloud.region
    tls = state.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    out: State = {
        "__id": f"projects/{cloud.project}/locations/{region}/instances/{state['name']}",
        "host": cloud.private_ip(logical),
        "port": 6378 if tls else 6379,
        "currentLocationId": f"{region}-a",
        "persistenceIamIdentity": f"serviceAccount:service-{cloud.project_number}@cloud-redis.iam.gserviceaccount.com",
        "serverCaCerts": [{"cert": OFFLINE_CA_PEM}] if tls else [],
    }
    if state.get("authEnabled"):
        out["authString"] = rpc.wrap_rpc_secret(f"offline-{cloud.digest(logical, 32)}")
    return out


def _service_account(cloud: FakeCloud, logical: str, state: State) -> State:
    email = f"{state['accountId']}@{cloud.project}.iam.gserviceaccount.com"
    return {
        "__id": f"projects/{cloud.project}/serviceAccounts/{email}",
        "email": email,
        "member": f"serviceAccount:{email}",
        "uniqueId": str(int(cloud.digest(logical, 12), 16)),
        "name": f"projects/{cloud.project}/serviceAccounts/{email}",
    }


def _secret(cloud: FakeCloud, _logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/secrets/{state['secretId']}",
        "name": f"projects/{cloud.project_number}/secrets/{state['secretId']}",
    }


def _secret_version(cloud: FakeCloud, _logical: str, state: State) -> State:
    secret = str(state.get("secret", ""))
    return {"__id": f"{secret}/versions/1", "name": f"{secret}/versions/1", "version": "1"}


def _iam_member(cloud: FakeCloud, logical: str, _state: State) -> State:
    return {"etag": f"BwY{cloud.digest(logical, 9)}="}


def _repository(cloud: FakeCloud, _logical: str, state: State) -> State:
    location = state.get("location") or cloud.region
    path = f"projects/{cloud.project}/locations/{location}/repositories/{state['repositoryId']}"
    return {
        "__id": path,
        "name": state["repositoryId"],
        "registryUri": f"{location}-docker.pkg.dev/{cloud.project}/{state['repositoryId']}",
    }


def _project_service(cloud: FakeCloud, _logical: str, state: State) -> State:
    return {"__id": f"{cloud.project}/{state.get('service')}"}


def _random_password(cloud: FakeCloud, logical: str, state: State) -> State:
    length = int(state.get("length", 32))
    fake = (cloud.digest(logical, 64) * 4)[:length]
    return {"__id": "none", "result": rpc.wrap_rpc_secret(fake), "bcryptHash": rpc.wrap_rpc_secret("$2a$10$offline")}


_OUTPUTS: dict[str, Outputs] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/router:Router": _compute_link("routers", scope="region"),
    "gcp:compute/routerNat:RouterNat": lambda c, n, s: {
        "__id": f"{c.project}/{c.region}/{s.get('router')}/{s['name']}"
    },
    "gcp:compute/globalAddress:GlobalAddress": _global_address,
    "gcp:compute/address:Address": lambda c, n, s: _global_address(c, n, s, scope="region"),
    "gcp:servicenetworking/connection:Connection": _peering,
    "gcp:vpcaccess/connector:Connector": _connector,
    "gcp:sql/databaseInstance:DatabaseInstance": _sql_instance,
    "gcp:sql/database:Database": _sql_child("databases"),
    "gcp:sql/user:User": lambda c, n, s: {"__id": f"{s.get('name')}//{s.get('instance')}"},
    "gcp:redis/instance:Instance": _redis,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:secretmanager/secret:Secret": _secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _secret_version,
    "gcp:secretmanager/secretIamMember:SecretIamMember": _iam_member,
    "gcp:projects/iAMMember:IAMMember": _iam_member,
    "gcp:artifactregistry/repository:Repository": _repository,
    "gcp:projects/service:Service": _project_service,
    "random:index/randomPassword:RandomPassword": _random_password,
}


def register_outputs(resource_type: str) -> Callable[[Outputs], Outputs]:
    """Decorator for modules that teach the fake cloud another resource type."""

    def decorate(fn: Outputs) -> Outputs:
        _OUTPUTS[resource_type] = fn
        return fn

    return decorate


def known_types() -> Mapping[str, Outputs]:
    return dict(_OUTPUTS)


import grid.fake_cloud_bootstrap  # noqa: E402  (registers bootstrap resource outputs: KMS, WIF)
import grid.fake_cloud_iam  # noqa: E402  (registers custom role and audit config outputs)
import grid.fake_cloud_ops  # noqa: E402  (registers serving/ops resource outputs)
import grid.fake_cloud_serving  # noqa: E402,F401  (registers compute/gateway resource outputs)
