"""VPC, subnet, NAT, private service access and serverless egress."""

from __future__ import annotations


def test_custom_mode_vpc_and_private_subnet_with_flow_logs(synth) -> None:
    plan = synth("prod", {"grid:network": {"secondaryRanges": {"services": "10.50.16.0/20"}}})
    vpc = plan.one("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    subnet = plan.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["ipCidrRange"] == "10.50.0.0/20"
    assert subnet.inputs["logConfig"]["flowSampling"] == 0.5
    assert subnet.inputs["secondaryIpRanges"] == [{"rangeName": "services", "ipCidrRange": "10.50.16.0/20"}]
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


def test_connector_only_when_configured(synth) -> None:
    assert synth("dev").of_type("gcp:vpcaccess/connector:Connector") == []
    plan = synth("dev", {"grid:network": {"egress": "connector"}})
    connector = plan.one("gcp:vpcaccess/connector:Connector")
    assert connector.inputs["ipCidrRange"] == "10.8.0.0/28"
    assert connector.inputs["machineType"] == "e2-micro"
    assert (connector.inputs["minInstances"], connector.inputs["maxInstances"]) == (2, 3)
    assert len(connector.inputs["name"]) <= 25
