"""VPC, firewall and load-balancer front door."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import BACKEND_SERVICE, FIREWALL, NETWORK, SSL_POLICY, SUBNETWORK, TARGET_HTTPS_PROXY
from policies.props import get, is_known, items, known_items
from policies.rule import Meta, Subject, checkov, cis, google_doc, resource_policy

_OPEN_RANGES = frozenset({"0.0.0.0/0", "::/0"})
# Proxy-only and PSC subnets carry no VM traffic: flow logs and Private Google Access do not apply.
_SPECIAL_PURPOSE_SUBNETS = frozenset(
    {
        "REGIONAL_MANAGED_PROXY",
        "GLOBAL_MANAGED_PROXY",
        "PRIVATE_SERVICE_CONNECT",
        "INTERNAL_HTTPS_LOAD_BALANCER",
        "PRIVATE_NAT",
    }
)
_EXTERNAL_SCHEMES = frozenset({"EXTERNAL", "EXTERNAL_MANAGED"})


def _custom_subnets(r: Subject) -> Iterator[str]:
    if get(r.props, "autoCreateSubnetworks", True) is True:
        yield "autoCreateSubnetworks is true (the default): an auto-mode network gets a subnet in every region"


def _special_purpose(props: Any) -> bool:
    purpose = get(props, "purpose", "PRIVATE")
    return not is_known(purpose) or purpose in _SPECIAL_PURPOSE_SUBNETS


def _private_google_access(r: Subject) -> Iterator[str]:
    if not _special_purpose(r.props) and get(r.props, "privateIpGoogleAccess", False) is False:
        yield "privateIpGoogleAccess is not true: private workloads cannot reach Google APIs without NAT"


def _flow_logs(r: Subject) -> Iterator[str]:
    if not _special_purpose(r.props) and get(r.props, "logConfig") is None:
        yield "logConfig is not set: VPC flow logs are off"


def _port_in(port: int, spec: Any) -> bool:
    if not isinstance(spec, str):
        return False
    low, _, high = spec.partition("-")
    try:
        return int(low) <= port <= int(high or low)
    except ValueError:
        return False


def allows_from_internet(props: Any, port: int) -> bool:
    """Whether an enabled ingress rule lets 0.0.0.0/0 reach TCP `port`."""
    if get(props, "direction", "INGRESS") != "INGRESS" or get(props, "disabled") is True:
        return False
    if not _OPEN_RANGES.intersection(known_items(props, "sourceRanges")):
        return False
    for allow in known_items(props, "allows"):
        if get(allow, "protocol") not in ("tcp", "all", "6"):
            continue
        ports = items(allow, "ports")
        if is_known(ports) and (not ports or any(_port_in(port, spec) for spec in ports)):
            return True
    return False


def firewall_rule(port: int, service: str):
    def check(r: Subject) -> Iterator[str]:
        if allows_from_internet(r.props, port):
            yield f"ingress from 0.0.0.0/0 is allowed to TCP {port} ({service})"

    return check


# (policy, TCP port, service, CIS item, Checkov check)
PUBLIC_PORT_RULES: tuple[tuple[str, int, str, str, str], ...] = (
    ("firewall-no-public-ssh", 22, "SSH", "3.6", "CKV_GCP_2"),
    ("firewall-no-public-rdp", 3389, "RDP", "3.7", "CKV_GCP_3"),
)


def _firewall_policy(name: str, port: int, service: str, cis_item: str, checkov_id: str) -> Policy:
    return resource_policy(
        Meta(
            name=name,
            description=f"Firewall rules must not allow {service} (TCP {port}) from 0.0.0.0/0.",
            remediation="Restrict sourceRanges to IAP's range 35.235.240.0/20 and use IAP TCP forwarding.",
            sources=(cis(cis_item), checkov(checkov_id)),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        (FIREWALL,),
        firewall_rule(port, service),
    )


def _modern_tls(r: Subject) -> Iterator[str]:
    version = get(r.props, "minTlsVersion", "TLS_1_0")
    profile = get(r.props, "profile", "COMPATIBLE")
    if is_known(version) and version not in ("TLS_1_2", "TLS_1_3"):
        yield f"minTlsVersion is {version}; require TLS_1_2 or later"
    if is_known(profile) and profile not in ("MODERN", "RESTRICTED"):
        yield f"profile is {profile}; it allows weak cipher suites"


def _https_proxy_ssl_policy(r: Subject) -> Iterator[str]:
    if get(r.props, "sslPolicy") is None:
        yield "sslPolicy is not set, so Google's default (TLS 1.0, COMPATIBLE ciphers) applies"


def _backend_cloud_armor(r: Subject) -> Iterator[str]:
    scheme = get(r.props, "loadBalancingScheme", "EXTERNAL")
    if is_known(scheme) and scheme in _EXTERNAL_SCHEMES and get(r.props, "securityPolicy") is None:
        yield f"{scheme} backend service has no Cloud Armor securityPolicy"


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="network-custom-subnets",
            description="VPC networks must be custom-mode (no automatic subnets in every region).",
            remediation="Set autoCreateSubnetworks=false and declare the subnets Grid needs.",
            sources=(cis("3.1"), google_doc("https://cloud.google.com/vpc/docs/vpc#subnet-ranges", "auto-mode-vpc")),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        (NETWORK,),
        _custom_subnets,
    ),
    resource_policy(
        Meta(
            name="subnet-private-google-access",
            description="Subnets must enable Private Google Access.",
            remediation="Set privateIpGoogleAccess=true.",
            sources=(
                checkov("CKV_GCP_74"),
                google_doc("https://cloud.google.com/vpc/docs/private-google-access", "pga"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        (SUBNETWORK,),
        _private_google_access,
    ),
    resource_policy(
        Meta(
            name="subnet-flow-logs",
            description="Subnets must have VPC flow logs enabled.",
            remediation="Set logConfig (e.g. aggregationInterval INTERVAL_5_SEC, flowSampling 0.5, "
            "metadata INCLUDE_ALL_METADATA).",
            sources=(cis("3.8"), checkov("CKV_GCP_26")),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        (SUBNETWORK,),
        _flow_logs,
    ),
    *(_firewall_policy(*exposure) for exposure in PUBLIC_PORT_RULES),
    resource_policy(
        Meta(
            name="ssl-policy-modern-tls",
            description="SSL policies must require TLS 1.2+ with the MODERN or RESTRICTED profile.",
            remediation="Set minTlsVersion=TLS_1_2 and profile=MODERN (or RESTRICTED).",
            sources=(cis("3.9"), checkov("CKV_GCP_4")),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (SSL_POLICY,),
        _modern_tls,
    ),
    resource_policy(
        Meta(
            name="https-proxy-ssl-policy",
            description="HTTPS proxies must reference an SSL policy instead of Google's permissive default.",
            remediation="Create a gcp.compute.SSLPolicy (TLS_1_2, MODERN) and set sslPolicy on the proxy.",
            sources=(
                cis("3.9"),
                google_doc("https://cloud.google.com/load-balancing/docs/ssl-policies-concepts", "ssl-policies"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (TARGET_HTTPS_PROXY,),
        _https_proxy_ssl_policy,
    ),
    resource_policy(
        Meta(
            name="backend-cloud-armor",
            description="Every external backend service must be protected by a Cloud Armor security policy.",
            remediation="Set securityPolicy to the Grid Cloud Armor policy (WAF rules and rate limiting).",
            sources=(google_doc("https://cloud.google.com/armor/docs/security-policy-overview", "cloud-armor"),),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (BACKEND_SERVICE,),
        _backend_cloud_armor,
    ),
]
