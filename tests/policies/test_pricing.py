"""Prices against bills computed by hand from the list prices in policies/price_catalog.py."""

from __future__ import annotations

import pytest

from policies import price_catalog
from policies.pricing import (
    PRICERS,
    USAGE_KEYS,
    PricingInput,
    estimate,
    estimate_monthly_usd,
    price_resources,
    usage_for,
)
from policies.props import UNKNOWN_SENTINELS

UNKNOWN = next(iter(UNKNOWN_SENTINELS))
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
RUN = "gcp:cloudrunv2/service:Service"


def sql(tier: str, **settings) -> dict:
    return {"region": settings.pop("region", "us-central1"), "settings": {"tier": tier, **settings}}


def run_service(cpu: str = "1", memory: str = "512Mi", **template) -> dict:
    return {
        "location": template.pop("location", "us-central1"),
        "template": {
            "containers": [{"resources": {"limits": {"cpu": cpu, "memory": memory}, **template.pop("resources", {})}}],
            **template,
        },
    }


@pytest.mark.parametrize(
    ("resource_type", "props", "usage", "expected"),
    [
        # db-custom-2-7680 REGIONAL: (2 x 0.0413 + 7.5 x 0.0070) x 730 x 2 + 20 x 0.17 x 2 + 10 GB backups x 0.08
        (
            SQL,
            sql("db-custom-2-7680", availabilityType="REGIONAL", diskSize=20, backupConfiguration={"enabled": True}),
            {"backupGb": 10},
            (2 * 0.0413 + 7.5 * 0.0070) * 730 * 2 + 20 * 0.17 * 2 + 10 * 0.08,
        ),
        # shared core in Belgium: (0.0105 x 730 + 10 x 0.17) x 1.10
        (SQL, sql("db-f1-micro", region="europe-west1", diskSize=10), None, (0.0105 * 730 + 10 * 0.17) * 1.10),
        # Enterprise Plus N-2: 2 vCPU, 16 GB, 10 GB default SSD; backups default to half the disk
        (
            SQL,
            sql("db-perf-optimized-N-2", backupConfiguration={"enabled": True}),
            None,
            (2 * 0.0537 + 16 * 0.0091) * 730 + 10 * 0.17 + 5 * 0.08,
        ),
        (
            SQL,
            sql("db-custom-1-3840", diskType="PD_HDD", diskSize=100),
            None,
            (0.0413 + 3.75 * 0.007) * 730 + 100 * 0.09,
        ),
        ("gcp:redis/instance:Instance", {"tier": "STANDARD_HA", "memorySizeGb": 5}, None, 0.054 * 5 * 730),
        (
            "gcp:redis/instance:Instance",
            {"tier": "BASIC", "memorySizeGb": 1, "region": "asia-northeast3"},
            None,
            0.049 * 730 * 1.29,
        ),
        # Cloud Run, request-based, 1M requests x 0.2 s, 2 idle min instances the rest of the month
        (
            RUN,
            run_service(scaling={"minInstanceCount": 2}),
            None,
            200_000 * (0.000024 + 0.5 * 0.0000025) + 0.40 + (2 * 2_628_000 - 200_000) * (0.0000025 + 0.5 * 0.0000025),
        ),
        # Cloud Run, instance-based (cpuIdle=false), 2 min instances cover the month
        (
            RUN,
            run_service("2", "1Gi", resources={"cpuIdle": False}, scaling={"minInstanceCount": 2}),
            None,
            2 * 2_628_000 * (2 * 0.000018 + 1 * 0.000002),
        ),
        # Cloud Run, instance-based, min 0: billed for the instance's whole life, not its busy seconds alone.
        # 1M requests a month arrive far less than 15 minutes apart, so Cloud Run never lets the idle instance go
        # and it is up (and billed) all month (the pricer used to charge the 200,000 busy seconds only).
        (
            RUN,
            run_service("2", "1Gi", resources={"cpuIdle": False}),
            None,
            2_628_000 * (2 * 0.000018 + 1 * 0.000002),
        ),
        # ... and with 1,000 requests a month, each keeps it up to 15 minutes after: 900,000 instance-seconds.
        (
            RUN,
            run_service("2", "1Gi", resources={"cpuIdle": False}),
            {"requestsPerMonth": 1000},
            1000 * 900 * (2 * 0.000018 + 1 * 0.000002),
        ),
        # GPU L4 in a Tier 2 region (x1.4), min 1
        (
            RUN,
            run_service(
                "4",
                "16Gi",
                location="asia-northeast3",
                nodeSelector={"accelerator": "nvidia-l4"},
                scaling={"minInstanceCount": 1},
            ),
            None,
            2_628_000 * (4 * 0.000018 + 16 * 0.000002 + 0.0001867) * 1.4,
        ),
        # Function 256M: default 0.167 vCPU, 256e6 bytes of memory
        (
            "gcp:cloudfunctionsv2/function:Function",
            {"serviceConfig": {"availableMemory": "256M"}},
            {"requestsPerMonth": 2_000_000, "avgRequestSeconds": 0.5},
            1_000_000 * (0.167 * 0.000024 + 256e6 / 2**30 * 0.0000025) + 2 * 0.40,
        ),
        (
            "gcp:cloudrunv2/job:Job",
            {"template": {"taskCount": 2, "template": {"containers": [{}]}}},
            {"executionsPerMonth": 30, "taskSeconds": 60},
            30 * 2 * 60 * (0.000018 + 0.5 * 0.000002),
        ),
        ("gcp:vpcaccess/connector:Connector", {"machineType": "e2-micro", "minInstances": 2}, None, 2 * 730 * 0.008376),
        ("gcp:compute/routerNat:RouterNat", {}, None, 2 * 730 * 0.0014 + 10 * 0.045),
        ("gcp:compute/globalForwardingRule:GlobalForwardingRule", {}, {"gbProcessedPerMonth": 100}, 730 * 0.025 + 0.8),
        ("gcp:compute/globalAddress:GlobalAddress", {}, {"attached": False}, 730 * 0.01),
        ("gcp:compute/globalAddress:GlobalAddress", {"purpose": "VPC_PEERING", "addressType": "INTERNAL"}, None, 0.0),
        (
            "gcp:compute/securityPolicy:SecurityPolicy",
            {"rules": [{}, {}, {}]},
            {"requestsPerMonth": 2_000_000},
            5 + 3 + 2 * 0.75,
        ),
        (
            "gcp:compute/projectCloudArmorTier:ProjectCloudArmorTier",
            {"cloudArmorTier": "CA_ENTERPRISE_PAYGO"},
            None,
            200,
        ),
        ("gcp:compute/backendService:BackendService", {"enableCdn": True}, None, 10 * 0.08 + 1 * 0.01 + 100 * 0.0075),
        ("gcp:compute/backendService:BackendService", {}, None, 0.0),
        ("gcp:apigateway/gateway:Gateway", {}, {"requestsPerMonth": 5_000_000}, 5 * 3.0),
        ("gcp:secretmanager/secretVersion:SecretVersion", {}, None, 0.06),
        ("gcp:secretmanager/secret:Secret", {}, {"accessOpsPerMonth": 50_000}, 5 * 0.03),
        ("gcp:artifactregistry/repository:Repository", {}, {"storageGb": 12}, 1.2),
        ("gcp:pubsub/topic:Topic", {}, {"throughputGbPerMonth": 1024}, 40.0),
        ("gcp:pubsub/subscription:Subscription", {}, None, 0.0),
        ("gcp:cloudscheduler/job:Job", {}, None, 0.10),
        ("gcp:cloudtasks/queue:Queue", {}, {"operationsPerMonth": 3_000_000}, 3 * 0.40),
        ("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig", {"period": "60s"}, None, 6 * 43_800 / 1000 * 0.30),
        (
            "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig",
            {"period": "300s", "selectedRegions": ["USA", "EUROPE", "ASIA_PACIFIC"]},
            None,
            3 * 8_760 / 1000 * 0.30,
        ),
        ("gcp:monitoring/alertPolicy:AlertPolicy", {"conditions": [{}, {}]}, None, 2 * 1.5 + 2 * 43_800 / 1e6 * 0.35),
        ("gcp:storage/bucket:Bucket", {"location": "US"}, {"storageGb": 10}, 10 * 0.026),
        (
            "gcp:storage/bucket:Bucket",
            {"location": "ASIA-NORTHEAST3", "storageClass": "NEARLINE"},
            {"storageGb": 10},
            10 * 0.010 * 1.15,
        ),
    ],
)
def test_hand_computed_prices(resource_type: str, props: dict, usage: dict | None, expected: float) -> None:
    assert estimate_monthly_usd(resource_type, props, usage) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    "resource_type",
    [
        "gcp:compute/network:Network",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:serviceaccount/account:Account",
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
        "random:index/randomPassword:RandomPassword",
        "gcp:projects/service:Service",
        "gcp:billing/budget:Budget",
        "gcp:compute/subnetwork:Subnetwork",
        "gcp:compute/router:Router",
        "pulumi:providers:gcp",
    ],
)
def test_free_types_cost_zero(resource_type: str) -> None:
    assert estimate_monthly_usd(resource_type, {}) == 0.0
    assert estimate(resource_type, {}).basis.startswith("free: ")


def test_unknown_types_are_unpriced() -> None:
    assert estimate_monthly_usd("gcp:redis/cluster:Cluster", {"shardCount": 3}) is None


def test_basis_explains_the_sum() -> None:
    result = estimate(SQL, sql("db-custom-2-7680", availabilityType="REGIONAL", diskSize=20))
    assert result.basis == (
        "db-custom-2-7680 REGIONAL: 2 vCPU x 730 h x $0.0413/vCPU-hour x2 HA + "
        "7.5 GB x 730 h x $0.007/GB-hour x2 HA + 20 GB PD_SSD x $0.17/GB-month x2 HA"
    )


def test_regions_outside_the_catalog_are_flagged_in_the_basis() -> None:
    result = estimate(SQL, sql("db-f1-micro", region="mars-north1"))
    assert "not in catalog" in result.basis
    assert result.monthly == pytest.approx(0.0105 * 730 + 10 * 0.17)


def test_unknown_values_fall_back_or_leave_unpriced() -> None:
    assert estimate_monthly_usd(SQL, {"settings": {"tier": UNKNOWN}}) is None
    assert estimate_monthly_usd(RUN, {"template": UNKNOWN}) == estimate_monthly_usd(RUN, {})
    assert estimate_monthly_usd("gcp:redis/instance:Instance", {"tier": UNKNOWN, "memorySizeGb": 1}) == pytest.approx(
        0.049 * 730
    )


def test_usage_for_most_specific_wins() -> None:
    stack_usage = {
        "default": {"requestsPerMonth": 1, "gbProcessedPerMonth": 5},
        "types": {RUN: {"requestsPerMonth": 2}},
        "resources": {"api": {"requestsPerMonth": 3}, "grid-api-svc": {"avgRequestSeconds": 1}},
    }
    props = {"name": "grid-api-svc", "labels": {"grid-service": "api"}}
    assert usage_for(RUN, "api-service", props, stack_usage) == {
        "requestsPerMonth": 3,
        "gbProcessedPerMonth": 5,
        "avgRequestSeconds": 1,
    }
    assert usage_for(SQL, "db", {}, stack_usage) == {"requestsPerMonth": 1, "gbProcessedPerMonth": 5}


def test_plan_applies_account_free_tiers_once() -> None:
    jobs = [PricingInput(f"urn:job{i}", "gcp:cloudscheduler/job:Job", f"job{i}", {}) for i in range(4)]
    plan = price_resources(jobs)
    assert [r.monthly for r in plan.resources] == [0.0, 0.0, 0.0, 0.10]
    assert "scheduler-jobs free tier" in plan.resources[0].basis
    assert plan.monthly == pytest.approx(0.10)


def test_plan_cloud_run_free_tier() -> None:
    service = PricingInput("urn:api", RUN, "api", run_service())
    plan = price_resources([service])
    # 200,000 vCPU-s (180,000 free), 100,000 GiB-s (360,000 free), 1M requests (2M free)
    assert plan.monthly == pytest.approx(20_000 * 0.000024)


def test_plan_lists_unpriced_types_once() -> None:
    plan = price_resources([PricingInput(f"urn:{i}", "gcp:redis/cluster:Cluster", "c", {}) for i in range(2)])
    assert plan.unpriced == ("gcp:redis/cluster:Cluster",) and plan.resources == ()


def test_catalog_prices_carry_source_and_date() -> None:
    prices = [value for value in vars(price_catalog).values() if isinstance(value, price_catalog.Price)]
    for table in (price_catalog.SQL_COMPUTE, price_catalog.REDIS_GB_HOUR):
        prices += [price for rates in table.values() for price in rates.values()]
    assert len(prices) > 20
    assert all(p.source.startswith("https://cloud.google.com/") and p.as_of for p in prices)


def test_every_usage_key_is_documented_with_a_default() -> None:
    assert all(len(description) > 5 for description, _default in USAGE_KEYS.values())
    assert {"requestsPerMonth", "avgRequestSeconds", "egressGbPerMonth", "gbProcessedPerMonth"} <= set(USAGE_KEYS)
    assert len(PRICERS) >= 25


def test_kms_key_versions_accumulate_with_rotation() -> None:
    # 90-day rotation: 1 + 365 // 90 = 5 live versions after a year x $0.06, plus 10k operations x $0.03.
    from policies.pricing import estimate_monthly_usd

    assert estimate_monthly_usd("gcp:kms/cryptoKey:CryptoKey", {"rotationPeriod": "7776000s"}) == pytest.approx(0.33)
    assert estimate_monthly_usd("gcp:kms/cryptoKey:CryptoKey", {}) == pytest.approx(0.09)
