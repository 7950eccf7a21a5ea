"""Compute Engine: VPC networks, routers, addresses, firewalls and the external HTTPS load balancer's pieces
(certificates, SSL and Cloud Armor policies, backend services, URL maps, proxies, forwarding rules, serverless NEGs)."""

from __future__ import annotations

import ipaddress

from grid.fakecloud.core import Cloud, Outputs, State


def _self_link(collection: str, *, regional: bool = False) -> Outputs:
    """A compute resource's ID and selfLink: ``projects/P/{global|regions/R}/<collection>/<name>``."""

    def outputs(cloud: Cloud, _logical: str, state: State) -> State:
        where = f"regions/{cloud.region_of(state)}" if regional else "global"
        path = f"projects/{cloud.project}/{where}/{collection}/{state['name']}"
        return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}

    return outputs


def _network(cloud: Cloud, logical: str, state: State) -> State:
    return _self_link("networks")(cloud, logical, state) | {"numericId": str(int(cloud.digest(logical), 16))}


def _subnetwork(cloud: Cloud, logical: str, state: State) -> State:
    out = _self_link("subnetworks", regional=True)(cloud, logical, state)
    cidr = ipaddress.ip_network(state.get("ipCidrRange", "10.0.0.0/24"))
    return out | {"gatewayAddress": str(cidr.network_address + 1), "region": cloud.region_of(state)}


def _address(*, regional: bool) -> Outputs:
    def outputs(cloud: Cloud, logical: str, state: State) -> State:
        out = _self_link("addresses", regional=regional)(cloud, logical, state)
        address = state.get("address") or (
            cloud.private_ip(logical) if state.get("addressType") == "INTERNAL" else cloud.public_ip(logical)
        )
        return out | {"address": address}

    return outputs


def _router_nat(cloud: Cloud, _logical: str, state: State) -> State:
    return {"__id": f"{cloud.project}/{cloud.region}/{state.get('router')}/{state['name']}"}


OUTPUTS: dict[str, Outputs] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/router:Router": _self_link("routers", regional=True),
    "gcp:compute/routerNat:RouterNat": _router_nat,
    "gcp:compute/globalAddress:GlobalAddress": _address(regional=False),
    "gcp:compute/address:Address": _address(regional=True),
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": _self_link("sslCertificates"),
    "gcp:compute/sSLPolicy:SSLPolicy": _self_link("sslPolicies"),
    "gcp:compute/backendService:BackendService": _self_link("backendServices"),
    "gcp:compute/uRLMap:URLMap": _self_link("urlMaps"),
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": _self_link("targetHttpsProxies"),
    "gcp:compute/targetHttpProxy:TargetHttpProxy": _self_link("targetHttpProxies"),
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": _self_link("forwardingRules"),
    "gcp:compute/securityPolicy:SecurityPolicy": _self_link("securityPolicies"),
    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup": _self_link(
        "networkEndpointGroups", regional=True
    ),
}

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
