"""Custom-mode VPC, private subnet, NAT, private service access and serverless egress settings."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components._base import GridComponent
from stacks.config import NetworkConfig


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
        super().__init__(name, opts)
        cfg = args.config
        self.egress_addresses = []
        vpc = gcp.compute.Network(
            self.child_name("vpc"),
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
            self.child_name("subnet"),
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
            connector = gcp.vpcaccess.Connector(
                self.child_name("cx"),
                project=args.project,
                region=args.region,
                network=vpc.name,
                ip_cidr_range=cfg.connector.cidr,
                machine_type=cfg.connector.machine_type,
                min_instances=cfg.connector.min_instances,
                max_instances=cfg.connector.max_instances,
                opts=self.child_opts(),
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
