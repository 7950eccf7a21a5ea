"""VPC, subnet, NAT, private service access and serverless egress."""

from __future__ import annotations

from pathlib import Path

from components.networking import NetworkConfig, Networking
from tests.components.test_standalone import build_alone


def test_custom_mode_vpc_and_private_subnet_with_flow_logs(tmp_path: Path) -> None:
    config = NetworkConfig.model_validate(
        {"subnetCidr": "10.50.0.0/20", "secondaryRanges": {"services": "10.50.16.0/20"}, "flowLogs": {"sampling": 0.5}}
    )
    alone = build_alone(Networking, tmp_path, config=config)
    vpc = alone.one("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    subnet = alone.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["ipCidrRange"] == "10.50.0.0/20"
    assert subnet.inputs["logConfig"]["flowSampling"] == 0.5
    assert subnet.inputs["secondaryIpRanges"] == [{"rangeName": "services", "ipCidrRange": "10.50.16.0/20"}]
    assert vpc.outputs["selfLink"].endswith("/" + subnet.inputs["network"])  # the VPC's id


def test_prod_plans_its_subnet_from_the_stack_file_and_exports_the_network(synth) -> None:
    plan = synth("prod")
    subnet = plan.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["ipCidrRange"] == "10.50.0.0/20" and subnet.inputs["logConfig"]["flowSampling"] == 0.5
    assert subnet.inputs["network"] == plan.outputs["networkId"]


def test_private_service_access_range_and_peering(synth) -> None:
    plan = synth("prod")
    psa = plan.one("gcp:compute/globalAddress:GlobalAddress", "-net-psa")
    assert psa.inputs["purpose"] == "VPC_PEERING" and psa.inputs["addressType"] == "INTERNAL"
    assert (psa.inputs["address"], psa.inputs["prefixLength"]) == ("10.60.0.0", 16)
    peering = plan.one("gcp:servicenetworking/connection:Connection")
    assert peering.inputs["service"] == "servicenetworking.googleapis.com"
    assert peering.inputs["reservedPeeringRanges"] == [psa.inputs["name"]]


def test_nat_in_prod_only(synth) -> None:
    prod = synth("prod")
    nat = prod.one("gcp:compute/routerNat:RouterNat")
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat.inputs["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}
    assert prod.of_type("gcp:compute/router:Router")
    dev = synth("dev")
    assert dev.of_type("gcp:compute/routerNat:RouterNat") == [] and dev.of_type("gcp:compute/router:Router") == []


def test_nat_egresses_from_as_many_reserved_static_addresses_as_configured(tmp_path: Path) -> None:
    config = NetworkConfig.model_validate({"nat": {"enabled": True, "addresses": 2}})
    alone = build_alone(Networking, tmp_path, config=config)
    nat = alone.one("gcp:compute/routerNat:RouterNat")
    addresses = alone.of_type("gcp:compute/address:Address")
    assert nat.inputs["natIpAllocateOption"] == "MANUAL_ONLY"
    assert sorted(nat.inputs["natIps"]) == sorted(a.outputs["selfLink"] for a in addresses) and len(addresses) == 2
    assert all(a.inputs["addressType"] == "EXTERNAL" for a in addresses)


def test_connector_only_when_configured(synth, tmp_path: Path) -> None:
    assert synth("dev").of_type("gcp:vpcaccess/connector:Connector") == []
    assert build_alone(Networking, tmp_path).of_type("gcp:vpcaccess/connector:Connector") == []
    # Named as the dev stack names it (grid-dev-net): Serverless VPC Access takes at most 25 characters.
    # https://cloud.google.com/vpc/docs/configure-serverless-vpc-access#create-connector
    config = NetworkConfig.model_validate({"egress": "connector"})
    alone = build_alone(Networking, tmp_path, name="grid-dev-net", config=config)
    connector = alone.one("gcp:vpcaccess/connector:Connector")
    assert connector.inputs["ipCidrRange"] == "10.8.0.0/28"
    assert connector.inputs["machineType"] == "e2-micro"
    assert (connector.inputs["minInstances"], connector.inputs["maxInstances"]) == (2, 3)
    assert len(connector.inputs["name"]) <= 25
