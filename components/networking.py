"""Custom-mode VPC, private subnet, NAT, private service access and serverless egress settings."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator, model_validator

from components._base import GridComponent
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel

# --- config: the typed, validated input of this component (grid:network in a stack file) ---


class FlowLogsConfig(ConfigModel):
    enabled: bool = True
    sampling: float = Field(0.5, ge=0.0, le=1.0, description="Fraction of flows logged.")
    interval: Literal[
        "INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"
    ] = "INTERVAL_5_SEC"
    metadata: Literal["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"] = "INCLUDE_ALL_METADATA"


class NatConfig(ConfigModel):
    enabled: bool = False
    addresses: int = Field(
        1, ge=1, le=16, description="Static external addresses reserved for egress (a stable, allow-listable source)."
    )
    log: Literal["ERRORS_ONLY", "TRANSLATIONS_ONLY", "ALL", "off"] = "ERRORS_ONLY"
    min_ports_per_vm: int = Field(64, ge=2, le=65536)


class ConnectorConfig(ConfigModel):
    """Serverless VPC Access connector; only created when ``network.egress`` is ``connector``."""

    cidr: str = "10.8.0.0/28"
    machine_type: Literal["f1-micro", "e2-micro", "e2-standard-4"] = "e2-micro"
    min_instances: int = Field(2, ge=2, le=9)
    max_instances: int = Field(3, ge=3, le=10)

    @model_validator(mode="after")
    def _min_below_max(self) -> ConnectorConfig:
        if self.min_instances >= self.max_instances:
            raise ValueError(f"minInstances ({self.min_instances}) must be below maxInstances ({self.max_instances})")
        return self


class NetworkConfig(ConfigModel):
    subnet_cidr: str = "10.10.0.0/20"
    secondary_ranges: dict[str, str] = Field(default_factory=dict)
    private_service_cidr: str = Field(
        "10.20.0.0/16", description="Private-service-access range peered to Cloud SQL and Memorystore."
    )
    flow_logs: FlowLogsConfig = FlowLogsConfig()
    nat: NatConfig = NatConfig()
    egress: Literal["direct", "connector"] = "direct"
    egress_traffic: Literal["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"] = "PRIVATE_RANGES_ONLY"
    connector: ConnectorConfig = ConnectorConfig()

    @field_validator("subnet_cidr", "private_service_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        if problem := gcp_limits.cidr_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("secondary_ranges")
    @classmethod
    def _secondary(cls, value: dict[str, str]) -> dict[str, str]:
        for name, cidr in value.items():
            if problem := gcp_limits.name_problem("compute", name):
                raise ValueError(f"range name {problem}")
            if problem := gcp_limits.cidr_problem(cidr):
                raise ValueError(f"{name}: {problem}")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> NetworkConfig:
        prefix = int(self.private_service_cidr.split("/")[1])
        if not 16 <= prefix <= 24:
            raise ValueError(
                f"privateServiceCidr must be between /16 and /24 for Cloud SQL and Memorystore, got /{prefix}"
            )
        ranges = {"subnetCidr": self.subnet_cidr, "privateServiceCidr": self.private_service_cidr}
        ranges.update({f"secondaryRanges.{k}": v for k, v in self.secondary_ranges.items()})
        if self.egress == "connector":
            if problem := gcp_limits.cidr_problem(self.connector.cidr):
                raise ValueError(f"connector.cidr: {problem}")
            if not self.connector.cidr.endswith("/28"):
                raise ValueError(f"connector.cidr must be a /28 range, got {self.connector.cidr}")
            ranges["connector.cidr"] = self.connector.cidr
        for a, b in gcp_limits.overlapping(ranges):
            raise ValueError(f"{a} ({ranges[a]}) overlaps {b} ({ranges[b]}): pick disjoint ranges")
        if self.egress_traffic == "ALL_TRAFFIC" and not self.nat.enabled:
            raise ValueError("egressTraffic ALL_TRAFFIC sends internet traffic into the VPC: set nat.enabled: true")
        return self


@dataclass(frozen=True)
class PrivateAccess:
    """What a private-service-access client (Cloud SQL, Memorystore) needs from the network."""

    network_id: pulumi.Input[str]
    """VPC the private IP lives in."""
    range_name: pulumi.Input[str]
    """Private-service-access range to allocate the IP from."""
    peering: pulumi.Resource
    """The service-networking connection; nothing gets a private IP before it exists."""


@dataclass
class NetworkingArgs:
    config: NetworkConfig
    """Ranges, NAT, flow logs and egress mode from ``grid:network``."""
    region: str
    """Region of the subnet, router and connector."""
    project: str
    private_service_access: bool = True
    """Reserve the private-service-access range and peer it: only Cloud SQL and Memorystore need it, so a stack
    whose Postgres and Redis are both external (or absent) goes without."""


class Networking(GridComponent):
    """The stack's network. Cloud SQL and Memorystore reach it through private service access; Cloud Run
    reaches it through Direct VPC egress (no connector bill) or, where configured, a Serverless VPC connector."""

    _module = "networking"
    # Children whose physical names Google limits (``limited_child_name``; a stack checks them up front too).
    VPC, SUBNET, CONNECTOR = "vpc", "subnet", "cx"

    network_id: pulumi.Output[str]
    network_name: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    connector_id: pulumi.Output[str] | None
    egress_addresses: list[pulumi.Output[str]]
    """The NAT's static egress addresses (empty without NAT)."""
    private_access: PrivateAccess | None
    """What Cloud SQL and Memorystore need; its peering must exist before anything gets a private IP (None
    without private service access)."""

    def __init__(self, name: str, args: NetworkingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        # A connector name is at most 25 characters, so a long component name gets a fitted one instead of being
        # refused (https://cloud.google.com/vpc/docs/serverless-vpc-access, as gridlib/gcp_limits.py).
        fitted = {self.CONNECTOR: "vpc_connector"} if cfg.egress == "connector" else {}
        super().__init__(name, opts, limited={self.VPC: "compute", self.SUBNET: "compute"}, fitted=fitted)
        self.egress_addresses = []
        vpc = gcp.compute.Network(
            self.limited_child_name(self.VPC),
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description="Grid private network (custom mode).",
            opts=self.child_opts(),
        )
        log_config = (
            gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval=cfg.flow_logs.interval,
                flow_sampling=cfg.flow_logs.sampling,
                metadata=cfg.flow_logs.metadata,
            )
            if cfg.flow_logs.enabled
            else None
        )
        subnet = gcp.compute.Subnetwork(
            self.limited_child_name(self.SUBNET),
            project=args.project,
            region=args.region,
            network=vpc.id,
            ip_cidr_range=cfg.subnet_cidr,
            private_ip_google_access=True,
            log_config=log_config,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=range_name, ip_cidr_range=cidr)
                for range_name, cidr in sorted(cfg.secondary_ranges.items())
            ],
            opts=self.child_opts(),
        )
        if cfg.nat.enabled:
            router = gcp.compute.Router(
                self.child_name("router"),
                project=args.project,
                region=args.region,
                network=vpc.id,
                opts=self.child_opts(),
            )
            # Reserved addresses, not auto-allocated ones: auto-allocated NAT addresses change as Cloud NAT scales
            # or is recreated, so partners could not allow-list the stack's egress.
            # https://cloud.google.com/nat/docs/ports-and-addresses#addresses
            addresses = [
                gcp.compute.Address(
                    self.child_name(f"nat-ip-{index}"),
                    project=args.project,
                    region=args.region,
                    address_type="EXTERNAL",
                    description="Cloud NAT egress address (stable: allow-list it at partners).",
                    opts=self.child_opts(),
                )
                for index in range(cfg.nat.addresses)
            ]
            self.egress_addresses = [address.address for address in addresses]
            gcp.compute.RouterNat(
                self.child_name("nat"),
                project=args.project,
                region=args.region,
                router=router.name,
                nat_ip_allocate_option="MANUAL_ONLY",
                nat_ips=[address.self_link for address in addresses],
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[
                    gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
                ],
                min_ports_per_vm=cfg.nat.min_ports_per_vm,
                log_config=gcp.compute.RouterNatLogConfigArgs(
                    enable=cfg.nat.log != "off", filter=cfg.nat.log if cfg.nat.log != "off" else "ERRORS_ONLY"
                ),
                opts=self.child_opts(),
            )
        self.private_access = self._private_service_access(args, vpc) if args.private_service_access else None
        self.connector_id = None
        if cfg.egress == "connector":
            name, physical = self.fitted_child_name(self.CONNECTOR)
            connector = gcp.vpcaccess.Connector(
                name,
                name=physical,
                project=args.project,
                region=args.region,
                network=vpc.name,
                ip_cidr_range=cfg.connector.cidr,
                machine_type=cfg.connector.machine_type,
                min_instances=cfg.connector.min_instances,
                max_instances=cfg.connector.max_instances,
                opts=self.child_opts(delete_before_replace=physical is not None),
            )
            self.connector_id = connector.id
        self._egress = cfg.egress
        self._egress_traffic = cfg.egress_traffic
        self.network_id = vpc.id
        self.network_name = vpc.name
        self.subnet_id = subnet.id
        self.register_outputs(
            {
                "network_id": self.network_id,
                "subnet_id": self.subnet_id,
                "psa_range": self.private_access.range_name if self.private_access else None,
            }
        )

    def _private_service_access(self, args: NetworkingArgs, vpc: gcp.compute.Network) -> PrivateAccess:
        """The range Cloud SQL and Memorystore take their private IPs from, peered to Google's services."""
        psa = ipaddress.ip_network(args.config.private_service_cidr)
        psa_range = gcp.compute.GlobalAddress(
            self.child_name("psa"),
            project=args.project,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            address=str(psa.network_address),
            prefix_length=psa.prefixlen,
            network=vpc.id,
            description="Private service access range for Cloud SQL and Memorystore.",
            opts=self.child_opts(),
        )
        peering = gcp.servicenetworking.Connection(
            self.child_name("psa-peering"),
            network=vpc.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[psa_range.name],
            # Deleting the peering while Cloud SQL still uses it fails; abandon it with the network instead.
            deletion_policy="ABANDON",
            opts=self.child_opts(),
        )
        return PrivateAccess(vpc.id, psa_range.name, peering)

    def service_vpc_access(self) -> gcp.cloudrunv2.ServiceTemplateVpcAccessArgs:
        """VPC access for a Cloud Run service: Direct VPC egress into the subnet, or the connector."""
        if self._egress == "connector":
            return gcp.cloudrunv2.ServiceTemplateVpcAccessArgs(connector=self.connector_id, egress=self._egress_traffic)
        return gcp.cloudrunv2.ServiceTemplateVpcAccessArgs(
            egress=self._egress_traffic,
            network_interfaces=[
                gcp.cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs(
                    network=self.network_id, subnetwork=self.subnet_id
                )
            ],
        )

    def function_network_interface(self) -> gcp.cloudfunctionsv2.FunctionServiceConfigDirectVpcNetworkInterfaceArgs:
        """Direct VPC egress for a Cloud Function: the same subnet as the services."""
        return gcp.cloudfunctionsv2.FunctionServiceConfigDirectVpcNetworkInterfaceArgs(
            network=self.network_id, subnetwork=self.subnet_id
        )
