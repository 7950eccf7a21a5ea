"""Stack config: presets, overrides and Google Cloud's limits, without the Pulumi CLI."""

from __future__ import annotations

from typing import Any

import pytest

from gridlib.config_errors import ConfigError
from stacks.config import StackConfig, load_stack_config
from stacks.presets import preset
from tests.conftest import STACKS, deep_update, stack_values

BASE = {
    "gcp:project": "acme-grid-dev",
    "gcp:region": "us-central1",
    "grid:environment": "dev",
    "grid:monitoring": {"alertEmails": ["ops@acme.example"]},
}


def load(overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> StackConfig:
    return load_stack_config(deep_update(base or BASE, overrides or {}), stack="dev", source="Pulumi.dev.yaml")


def problems(overrides: dict[str, Any], base: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(overrides, base)
    return caught.value.lines


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_files_validate(stack: str) -> None:
    secret_keys = frozenset(k for k, v in stack_values(stack).items() if isinstance(v, dict) and "secure" in v)
    config = load_stack_config(stack_values(stack), stack=stack, source=f"Pulumi.{stack}.yaml", secret_keys=secret_keys)
    assert config.environment == stack.split("-")[0]  # dev-external is a dev
    assert config.name_prefix == f"grid-{stack}"


def test_presets_follow_the_environment_table() -> None:
    dev = load()
    assert dev.database.tier == "db-f1-micro" and dev.database.availability == "zonal"
    assert dev.database.backups.enabled and not dev.database.backups.pitr
    assert dev.cache.tier == "none" and not dev.network.nat.enabled
    assert dev.services.api.min_instances == 0 and dev.services.ai.gpu == 0
    prod = load_stack_config(
        deep_update(
            BASE,
            {
                "grid:environment": "prod",
                "grid:pagerdutyRoutingKey": "x",
                "grid:gateway": {"domains": ["api.acme.example"]},
            },
        ),
        stack="prod",
        source="Pulumi.prod.yaml",
        secret_keys=frozenset({"grid:pagerdutyRoutingKey"}),
    )
    assert prod.database.availability == "regional" and prod.database.backups.pitr
    assert prod.database.backups.retained_backups == 30 and prod.database.deletion_protection
    assert prod.database.replica_region == "us-east1"
    assert prod.cache.tier == "STANDARD_HA" and prod.cache.auth_enabled and prod.cache.transit_encryption
    assert prod.services.api.min_instances >= 2 and prod.services.auth.min_instances >= 2
    assert prod.services.ai.gpu == 1 and not prod.services.ai.cpu_idle
    assert prod.gateway.type == "loadBalancer" and prod.gateway.cdn and prod.gateway.armor.adaptive_protection
    assert prod.monitoring.paging and prod.monitoring.slos and dev.gateway.type == "apiGateway"
    assert not dev.monitoring.latency_alerts and dev.monitoring.budget.monthly_usd == 18


def test_stack_file_overrides_preset_key_by_key() -> None:
    config = load({"grid:database": {"diskSizeGb": 15, "backups": {"retainedBackups": 9}}})
    assert config.database.disk_size_gb == 15
    assert config.database.backups.retained_backups == 9
    assert config.database.backups.start_time == "02:00"  # untouched keys keep the preset
    assert config.database.tier == "db-f1-micro"


def test_structured_config_as_json_strings_like_the_language_host_passes_it() -> None:
    config = load({"grid:database": '{"diskSizeGb": 18}'})
    assert config.database.disk_size_gb == 18


def test_models_are_frozen() -> None:
    config = load()
    with pytest.raises(Exception, match="frozen"):
        config.database.tier = "db-g1-small"  # type: ignore[misc]


# --- each bad-config case gives one line naming the file and the field --------------------------------------


def test_invalid_enum_names_valid_values() -> None:
    assert problems({"grid:database": {"availability": "regionall"}}) == [
        "Pulumi.dev.yaml: grid:database.availability: must be one of zonal, regional (got 'regionall')"
    ]


def test_unknown_nested_key_suggests_the_right_one() -> None:
    [line] = problems({"grid:database": {"diskSize": 20}})
    assert line.startswith("Pulumi.dev.yaml: grid:database.diskSize: unknown key; did you mean 'diskSizeGb'?")


def test_unknown_top_level_grid_key() -> None:
    [line] = problems({"grid:databse": {"tier": "db-f1-micro"}})
    assert line.startswith("Pulumi.dev.yaml: grid:databse: unknown key; did you mean 'database'?")


def test_wrong_type() -> None:
    assert problems({"grid:database": {"diskSizeGb": "lots"}}) == [
        "Pulumi.dev.yaml: grid:database.diskSizeGb: must be a whole number (got 'lots')"
    ]
    [line] = problems({"grid:cache": "BASIC"})
    assert line == "Pulumi.dev.yaml: grid:cache: must be a mapping of keys to values (got 'BASIC')"


def test_min_above_max() -> None:
    [line] = problems({"grid:services": {"api": {"minInstances": 5, "maxInstances": 2}}})
    assert line.startswith("Pulumi.dev.yaml: grid:services.api: minInstances (5) is above maxInstances (2)")


def test_missing_required_keys() -> None:
    lines = problems({}, base={"gcp:region": "us-central1"})
    assert (
        "Pulumi.dev.yaml: grid:environment: required: run `pulumi config set grid:environment <dev|staging|prod>`"
        in lines
    )
    assert any(line.startswith("Pulumi.dev.yaml: gcp:project: required") for line in lines)


def test_several_problems_are_all_reported() -> None:
    lines = problems({"grid:database": {"availability": "x", "diskSizeGb": 1}, "grid:cache": {"tier": "HUGE"}})
    assert len(lines) == 3
    assert all(line.startswith("Pulumi.dev.yaml: grid:") for line in lines)


def test_plaintext_secret_is_rejected() -> None:
    [line] = problems({"grid:completionApiKey": "sk-live-123"})
    assert "pulumi config set --secret grid:completionApiKey" in line
    assert "sk-live-123" not in line


# --- Google Cloud limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "fragment"),
    [
        ("db-custom-3-7680", "even number"),
        ("db-custom-2-1024", "at least 3840 MB"),
        ("db-custom-2-7000", "multiple of 256"),
        ("db-n1-standard-2", "unknown Cloud SQL tier"),
        ("db-perf-optimized-N-4", "ENTERPRISE_PLUS"),
    ],
)
def test_cloud_sql_tier_rules(tier: str, fragment: str) -> None:
    [line] = problems({"grid:database": {"tier": tier}})
    assert line.startswith("Pulumi.dev.yaml: grid:database") and fragment in line


def test_enterprise_plus_rules() -> None:
    ok = load({"grid:database": {"tier": "db-perf-optimized-N-2", "edition": "ENTERPRISE_PLUS"}})
    assert ok.database.sql_tier.vcpus == 2
    [line] = problems(
        {"grid:database": {"tier": "db-perf-optimized-N-2", "edition": "ENTERPRISE_PLUS", "diskType": "PD_HDD"}}
    )
    assert "PD_SSD" in line
    [line] = problems({"grid:database": {"backups": {"logRetentionDays": 14}}})
    assert "at most 7 in the ENTERPRISE edition" in line


def test_pitr_needs_backups() -> None:
    [line] = problems({"grid:database": {"backups": {"enabled": False, "pitr": True}}})
    assert line == "Pulumi.dev.yaml: grid:database.backups: pitr needs backups: set enabled: true or pitr: false"


def test_redis_limits() -> None:
    assert "must be <= 300" in problems({"grid:cache": {"tier": "BASIC", "memorySizeGb": 500}})[0]
    assert "readReplicas need tier STANDARD_HA" in problems({"grid:cache": {"tier": "BASIC", "readReplicas": 1}})[0]
    assert "allkeys-lru" in problems({"grid:cache": {"tier": "BASIC", "maxmemoryPolicy": "lru"}})[0]


def test_cidr_validity_and_overlap() -> None:
    [line] = problems({"grid:network": {"subnetCidr": "10.10.0.1/20"}})
    assert line.startswith("Pulumi.dev.yaml: grid:network.subnetCidr: '10.10.0.1/20' is not a valid IPv4 CIDR")
    [line] = problems({"grid:network": {"subnetCidr": "10.20.4.0/22"}})
    assert "overlaps privateServiceCidr" in line
    [line] = problems({"grid:network": {"subnetCidr": "8.8.0.0/20"}})
    assert "not a private range" in line
    [line] = problems({"grid:network": {"egress": "connector", "connector": {"cidr": "10.8.0.0/27"}}})
    assert "must be a /28" in line


def test_region_names() -> None:
    [line] = problems({"gcp:region": "us-centrall1"})
    assert line == "Pulumi.dev.yaml: gcp:region: unknown region 'us-centrall1'; did you mean 'us-central1'?"
    assert "must differ" in problems({"grid:database": {"replicaRegion": "us-central1"}})[0]


def test_derived_name_lengths() -> None:
    [line] = problems({"grid:namePrefix": "a-much-too-long-prefix-x"})
    assert line.startswith("Pulumi.dev.yaml: grid:namePrefix:") and "over the limit of 30" in line


@pytest.mark.parametrize(
    ("service", "fragment"),
    [
        ({"cpu": 1, "memory": "8Gi"}, "needs memory between"),
        ({"cpu": 3}, "not allowed"),
        ({"cpu": 0.5, "memory": "512Mi"}, "fraction of a vCPU only in the first-generation execution environment"),
        ({"cpu": 2, "memory": "8Gi", "gpu": 1, "cpuIdle": False}, "at least 4 CPU and 16Gi"),
        ({"cpu": 4, "memory": "16Gi", "gpu": 1, "cpuIdle": True}, "cpuIdle: false"),
        ({"memory": "1GB"}, "512Mi or 4Gi"),
    ],
)
def test_cloud_run_resources(service: dict[str, Any], fragment: str) -> None:
    [line] = problems({"grid:services": {"ai": service}})
    assert line.startswith("Pulumi.dev.yaml: grid:services.ai") and fragment in line


@pytest.mark.parametrize(
    ("job", "fragment"),
    [({"cpu": 0.25, "memory": "1Gi"}, "at most 512Mi"), ({"cpu": 0.5, "memory": "2Gi"}, "at most 1024Mi")],
)
def test_a_fractional_cpu_allows_the_memory_google_documents(job: dict[str, Any], fragment: str) -> None:
    """https://cloud.google.com/run/docs/configuring/cpu: 0.5 vCPU allows up to 1 GiB, less than that 512 MiB."""
    from stacks.config import JobConfig

    assert JobConfig.model_validate({"cpu": 0.5, "memory": "1Gi"}).memory == "1Gi"
    with pytest.raises(ValueError, match=fragment):
        JobConfig.model_validate(job)


def test_gpu_region_support() -> None:
    gpu = {"cpu": 4, "memory": "16Gi", "gpu": 1, "cpuIdle": False}
    [line] = problems({"gcp:region": "us-west1", "grid:services": {"ai": gpu}})
    assert line.startswith("Pulumi.dev.yaml: grid:services.ai.gpu: Cloud Run GPUs are not offered in us-west1")


def test_label_rules() -> None:
    [line] = problems({"grid:labels": {"Team": "x"}})
    assert "label key 'Team'" in line


def test_serving_rules() -> None:
    assert "needs at least one entry in domains" in problems({"grid:gateway": {"type": "loadBalancer"}})[0]
    [apigee] = problems({"grid:gateway": {"type": "apigee", "domains": ["a.example.com"]}})
    assert "apigee is no longer offered" in apigee and "docs/adr/0008-no-apigee.md" in apigee
    for origins, message in (
        (["*"], "name each origin"),
        (["https://app.example.com/"], "is not an origin"),
        (["http://app.example.com"], "http only for localhost"),
    ):
        assert message in problems({"grid:gateway": {"allowedOrigins": origins}})[0]
    origins = ["https://app.example.com", "http://localhost:5173"]
    assert load({"grid:gateway": {"allowedOrigins": origins}}).gateway.allowed_origins == origins
    assert (
        "quotaPerMinute is enforced by API Gateway only"
        in problems({"grid:gateway": {"type": "loadBalancer", "domains": ["a.example.com"], "quotaPerMinute": 60}})[0]
    )
    assert "quotaPerMinute: must be >= 1" in problems({"grid:gateway": {"quotaPerMinute": 0}})[0]
    assert "must be pinned by digest" in problems({"grid:images": {"prebuilt": {"api": "gcr.io/x/api:latest"}}})[0]
    assert "needs an image for" in problems({"grid:images": {"source": "prebuilt"}})[0]
    [line] = problems({"grid:monitoring": {"alertEmails": []}})
    assert line.startswith("Pulumi.dev.yaml: grid:monitoring.alertEmails: name at least one")
    [line] = problems({"grid:monitoring": {"paging": True}})
    assert "pulumi config set --secret grid:pagerdutyRoutingKey" in line
    assert "five-field cron" in problems({"grid:messaging": {"analyticsSchedule": "daily"}})[0]
    assert (
        "'Mars/Olympus' is not a tz database time zone name"
        in problems({"grid:messaging": {"timeZone": "Mars/Olympus"}})[0]
    )
    assert "must be one of 128Mi" in problems({"grid:functions": {"koreanNlp": {"memory": "300M"}}})[0]


@pytest.mark.parametrize("stack", STACKS)
def test_a_partial_functions_block_keeps_each_functions_own_defaults(stack: str) -> None:
    """Every preset names only maxInstances per function: korean-nlp keeps its 512Mi (it peaks near 350 MB)."""
    secret_keys = frozenset(k for k, v in stack_values(stack).items() if isinstance(v, dict) and "secure" in v)
    config = load_stack_config(stack_values(stack), stack=stack, source=f"Pulumi.{stack}.yaml", secret_keys=secret_keys)
    assert config.functions.korean_nlp.memory == "512Mi"
    assert config.functions.ml_analytics.memory == "256Mi"


def test_partial_blocks_keep_per_workload_defaults_and_still_override_what_they_name() -> None:
    from stacks.config import FunctionsConfig, ServicesConfig

    assert ServicesConfig.model_validate({"ai": {"maxInstances": 2}}).ai.memory == "2Gi"
    assert ServicesConfig.model_validate({"ai": {"memory": "4Gi"}}).ai.memory == "4Gi"
    fns = FunctionsConfig.model_validate({"koreanNlp": {"timeoutSeconds": 30}})
    assert (fns.korean_nlp.memory, fns.korean_nlp.timeout_seconds) == ("512Mi", 30)
    assert load({"grid:functions": {"koreanNlp": {"memory": "1Gi"}}}).functions.korean_nlp.memory == "1Gi"


def test_an_http_function_may_run_as_long_as_google_allows() -> None:
    """Grid's functions are HTTP-triggered: up to 60 minutes, not the 9 of an event-triggered one
    (https://cloud.google.com/functions/docs/configuring/timeout)."""
    assert load({"grid:functions": {"ml-analytics": {"timeoutSeconds": 3600}}}).functions.ml_analytics.timeout_seconds
    [line] = problems({"grid:functions": {"ml-analytics": {"timeoutSeconds": 3601}}})
    assert "timeoutSeconds" in line and "3600" in line


def test_gpu_regions_are_the_ones_a_new_project_can_use() -> None:
    """asia-south1 offers Cloud Run L4s by invitation only: a fresh project has no quota there."""
    gpu = {"cpu": 4, "memory": "16Gi", "gpu": 1, "cpuIdle": False}
    [line] = problems({"gcp:region": "asia-south1", "grid:services": {"ai": gpu}})
    assert "Cloud Run GPUs are not offered in asia-south1" in line
    assert load({"gcp:region": "us-east4", "grid:services": {"ai": gpu}}).services.ai.gpu == 1


def test_workload_settings_map_onto_the_compute_components_sizes() -> None:
    """The stack hands each Cloud Run service and function the size its component declares (narrow): every field
    of the component's model must come from the stack's, or it would silently take the component's default."""
    from components.compute import FunctionSize, ServiceSize
    from gridlib.config_base import narrow
    from stacks.config import FunctionConfig, ServiceConfig

    assert set(ServiceSize.model_fields) <= set(ServiceConfig.model_fields)
    assert set(FunctionSize.model_fields) <= set(FunctionConfig.model_fields)
    api = ServiceConfig.model_validate({"cpu": 2, "memory": "4Gi", "minInstances": 1, "timeoutSeconds": 900})
    assert narrow(api, ServiceSize).model_dump() == api.model_dump(include=set(ServiceSize.model_fields))
    fn = FunctionConfig.model_validate({"memory": "1Gi", "concurrency": 4})
    assert narrow(fn, FunctionSize) == FunctionSize.model_validate({"memory": "1Gi", "concurrency": 4})


def test_metrics_export_interval_is_a_stack_knob_within_what_the_services_accept() -> None:
    from annotated_types import Ge, Le

    from app.common.metrics import MIN_EXPORT_INTERVAL_SECONDS
    from app.common.settings import ServiceSettings
    from components.monitoring.component import METRICS_EXPORT_INTERVAL_BOUNDS

    [line] = problems({"grid:monitoring": {"metricsExportIntervalSeconds": 5}})
    assert line == "Pulumi.dev.yaml: grid:monitoring.metricsExportIntervalSeconds: must be >= 10 (got 5)"
    [line] = problems({"grid:monitoring": {"metricsExportIntervalSeconds": 7200}})
    assert line.endswith("metricsExportIntervalSeconds: must be <= 3600 (got 7200)")
    config = load({"grid:monitoring": {"metricsExportIntervalSeconds": 300}})
    assert config.monitoring.metrics_export_interval_seconds == 300
    # What the stack accepts, every service starts with (app/common/settings.py refuses the rest).
    bounds = {type(m): m for m in ServiceSettings.model_fields["metrics_export_interval_seconds"].metadata}
    assert (bounds[Ge].ge, bounds[Le].le) == METRICS_EXPORT_INTERVAL_BOUNDS
    assert METRICS_EXPORT_INTERVAL_BOUNDS[0] == MIN_EXPORT_INTERVAL_SECONDS


def test_dev_and_staging_export_app_metrics_every_two_minutes_prod_every_minute() -> None:
    # Why (stacks/presets.py): at 60 s, dev's and staging's three services would ingest 249 MiB a month, 99 MiB
    # past Cloud Monitoring's free 150 MiB ($25 more than either budget has); grid plan prices what remains.
    assert load().monitoring.metrics_export_interval_seconds == 120
    staging = load({"grid:environment": "staging", "grid:gateway": {"domains": ["api.acme.example"]}})
    assert staging.monitoring.metrics_export_interval_seconds == 120
    assert "metricsExportIntervalSeconds" not in preset("prod", "us-central1")["monitoring"]  # the services' 60 s
