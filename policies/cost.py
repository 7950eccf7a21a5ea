"""Cost guardrails: sizes and features each environment may pay for, and a monthly budget.

Thresholds are policy parameters; policies/config/<environment>.json sets them per environment.
The defaults below are the strictest (dev-like) values, so a stack run without a config file
errs on the cheap side.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

import pulumi.runtime
from pulumi_policy import EnforcementLevel, Policy, Severity

from policies import price_catalog
from policies.gcp import (
    BUDGET,
    CLOUD_ARMOR_TIER,
    FUNCTION,
    REDIS_INSTANCE,
    RUN_JOB,
    RUN_SERVICE,
    SQL_INSTANCE,
    VPC_CONNECTOR,
    workload_template,
)
from policies.pricers import cpu_count, function_shape, memory_gib, run_shape, sql_tier_shape
from policies.pricing import PlanPrice, PricingInput, price_resources
from policies.props import UNKNOWN, as_number, get, is_known, known_items
from policies.rule import Meta, StackSubject, Subject, google_doc, pricing_page, resource_policy, stack_policy
from policies.security.sql import is_replica


def _number(config: Mapping[str, Any], key: str) -> float:
    value = as_number(config[key])
    return 0.0 if value is None else value


def _sql_tier(r: Subject) -> Iterator[str]:
    tier = get(r.props, "settings.tier")
    if not isinstance(tier, str):
        return
    if not any(fnmatchcase(tier, pattern) for pattern in r.config["allowedTiers"]):
        yield f"tier {tier} is not one of {list(r.config['allowedTiers'])}"
    shape = sql_tier_shape(tier)
    if shape is not None and shape[0] > _number(r.config, "maxVcpus"):
        yield f"tier {tier} has {shape[0]:g} vCPUs; the limit is {_number(r.config, 'maxVcpus'):g}"


def _sql_high_availability(r: Subject) -> Iterator[str]:
    if get(r.props, "settings.availabilityType") == "REGIONAL" and not r.config["allowRegional"]:
        yield "REGIONAL availability doubles compute and storage cost; this environment runs ZONAL"


def _sql_read_replicas(r: Subject) -> Iterator[str]:
    if is_replica(r.props) and not r.config["allowReplicas"]:
        yield "read replicas are not budgeted in this environment"


def _sql_disk(r: Subject) -> Iterator[str]:
    limit = _number(r.config, "maxDiskGb")
    size = as_number(get(r.props, "settings.diskSize", 10))
    if size is not None and size > limit:
        yield f"diskSize {size:g} GB exceeds {limit:g} GB"
    if get(r.props, "settings.diskAutoresize", True) is True:
        ceiling = as_number(get(r.props, "settings.diskAutoresizeLimit", 0))
        if ceiling is not None and (ceiling == 0 or ceiling > limit):
            shown = "unlimited" if ceiling == 0 else f"{ceiling:g} GB"
            yield f"disk autoresize can grow to {shown}; set diskAutoresizeLimit <= {limit:g}"


def _redis_tier(r: Subject) -> Iterator[str]:
    tier = get(r.props, "tier", "BASIC")
    if is_known(tier) and tier not in r.config["allowedTiers"]:
        yield f"tier {tier} is not one of {list(r.config['allowedTiers'])}"


def _redis_memory(r: Subject) -> Iterator[str]:
    size = as_number(get(r.props, "memorySizeGb"))
    limit = _number(r.config, "maxMemoryGb")
    if size is not None and size > limit:
        yield f"memorySizeGb {size:g} exceeds {limit:g}"


def _max_instances_problem(value: Any, limit: float, default: int) -> str | None:
    if value is UNKNOWN:
        return None
    if value is None:
        return f"max instances is unset (Google defaults to {default}); set it to at most {limit:g}"
    count = as_number(value)
    return f"max instances {count:g} exceeds {limit:g}" if count is not None and count > limit else None


def _run_max_instances(r: Subject) -> Iterator[str]:
    value = get(r.props, "template.scaling.maxInstanceCount")
    if value is None:
        value = get(r.props, "scaling.maxInstanceCount")
    problem = _max_instances_problem(value, _number(r.config, "maxInstances"), 100)
    if problem:
        yield problem


def _function_max_instances(r: Subject) -> Iterator[str]:
    problem = _max_instances_problem(
        get(r.props, "serviceConfig.maxInstanceCount"), _number(r.config, "maxInstances"), 100
    )
    if problem:
        yield problem


def _warm_instances(r: Subject) -> Iterator[str]:
    paths = (
        ("serviceConfig.minInstanceCount",)
        if r.type == FUNCTION
        else ("template.scaling.minInstanceCount", "scaling.minInstanceCount")
    )
    limit = _number(r.config, "maxMinInstances")
    for path in paths:
        count = as_number(get(r.props, path))
        if count is not None and count > limit:
            yield f"{path} is {count:g}: warm instances bill around the clock; the limit here is {limit:g}"


def _gpus(r: Subject) -> Iterator[str]:
    shape = run_shape(r.type, r.props)
    if shape.gpus and not r.config["allowGpu"]:
        yield f"{shape.gpus:g} GPU(s) requested; GPUs are not budgeted in this environment"
    elif shape.gpus > _number(r.config, "maxGpus"):
        yield f"{shape.gpus:g} GPUs per instance exceeds {_number(r.config, 'maxGpus'):g}"


def _cpu_always_allocated(r: Subject) -> Iterator[str]:
    containers = known_items(workload_template(r.type, r.props), "containers")
    if any(get(c, "resources.cpuIdle") is False for c in containers) and not r.config["allowAlwaysAllocated"]:
        yield "resources.cpuIdle=false bills CPU for the whole instance lifetime (instance-based billing)"


def _instance_size(r: Subject) -> Iterator[str]:
    max_cpu, max_memory = _number(r.config, "maxCpu"), _number(r.config, "maxMemoryGib")
    if r.type == FUNCTION:
        shape = function_shape(r.props)
        sizes = [(shape.vcpu, shape.memory_gib)]
    else:
        sizes = [
            (cpu_count(get(c, "resources.limits.cpu"), 1.0), memory_gib(get(c, "resources.limits.memory"), 0.5))
            for c in known_items(workload_template(r.type, r.props), "containers")
        ]
    for vcpu, memory in sizes:
        if vcpu > max_cpu:
            yield f"{vcpu:g} vCPU per instance exceeds {max_cpu:g}"
        if memory > max_memory:
            yield f"{memory:g} GiB per instance exceeds {max_memory:g} GiB"


def _vpc_connector(r: Subject) -> Iterator[str]:
    machine = get(r.props, "machineType", "e2-micro")
    if is_known(machine) and machine not in r.config["allowedMachineTypes"]:
        yield f"machineType {machine} is not one of {list(r.config['allowedMachineTypes'])}"
    most = as_number(get(r.props, "maxInstances", 10))
    least = as_number(get(r.props, "minInstances", 2))
    if most is not None and most > _number(r.config, "maxInstances"):
        yield f"maxInstances {most:g} exceeds {_number(r.config, 'maxInstances'):g}"
    if least is not None and least > _number(r.config, "maxMinInstances"):
        yield f"minInstances {least:g} exceeds {_number(r.config, 'maxMinInstances'):g} (they run around the clock)"


def _cloud_armor_enterprise(r: Subject) -> Iterator[str]:
    tier = get(r.props, "cloudArmorTier", "CA_STANDARD")
    if is_known(tier) and tier != "CA_STANDARD" and not r.config["allowEnterprise"]:
        yield f"{tier} costs at least $200 a month; this environment uses Cloud Armor Standard"


def stack_usage_from_config() -> Mapping[str, Any]:
    """`grid:usage` from the stack config the Pulumi CLI passes to the policy pack, if any."""
    raw = pulumi.runtime.get_config("grid:usage")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _stack_price(s: StackSubject) -> PlanPrice:
    """The stack's monthly list price under its usage assumptions (the stack config's, or `grid:usage`)."""
    usage = s.config.get("usage") or stack_usage_from_config()
    return price_resources(
        (PricingInput(r.urn, r.type, r.name, r.props) for r in s.resources if not r.type.startswith("grid:")),
        usage,
    )


def _largest(plan: PlanPrice) -> str:
    top = sorted(plan.resources, key=lambda resource: resource.monthly, reverse=True)[:3]
    return ", ".join(f"{r.urn.rsplit('::', 1)[-1]} ${r.monthly:,.2f}" for r in top)


def _monthly_budget(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    plan = _stack_price(s)
    limit = _number(s.config, "maxMonthlyUsd")
    if plan.monthly > limit:
        yield None, f"estimated ${plan.monthly:,.2f}/month exceeds the ${limit:,.2f} budget (largest: {_largest(plan)})"


def _budget_amount(props: Mapping[str, Any]) -> float | None:
    """A budget's specified amount in its currency (units + nanos), or None when it follows last period's spend."""
    units = as_number(get(props, "amount.specifiedAmount.units"))
    if units is None:
        return None
    return units + (as_number(get(props, "amount.specifiedAmount.nanos")) or 0) / 1e9


def _budget_headroom(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    """The planned month must leave room under every budget the stack creates.

    A budget sends its alert mails when actual spend passes each threshold, 100% included, and a budget with a
    Pub/Sub topic (Grid's cost cap) acts on it (https://cloud.google.com/billing/docs/how-to/budgets). The
    plan's estimate is a normal month under the usage assumptions; a budget sized at the estimate alerts in
    every month a little busier than assumed, and a capped stack stops its services then.
    """
    budgets = [(r, _budget_amount(r.props)) for r in s.resources if r.type == BUDGET]
    budgets = [(r, amount) for r, amount in budgets if amount]
    if not budgets:
        return
    headroom = _number(s.config, "minHeadroom")
    plan = _stack_price(s)
    for resource, amount in budgets:
        if plan.monthly <= amount * (1 - headroom):
            continue
        topic = get(resource.props, "allUpdatesRule.pubsubTopic")
        capped = is_known(topic) and bool(topic)
        consequence = "and the cost cap stops the services" if capped else "and its 100% alert fires"
        yield (
            resource.urn,
            f"estimated ${plan.monthly:,.2f}/month is {plan.monthly / amount:.0%} of the ${amount:,.2f} budget: a "
            f"month {headroom:.0%} busier than the usage assumptions passes it {consequence}; raise the budget "
            f"(grid:monitoring.budget.monthlyUsd) to at least ${plan.monthly / (1 - headroom):,.2f} or shrink the "
            f"largest resources ({_largest(plan)})",
        )


def _cost(name: str, description: str, remediation: str, url: str, params: Mapping[str, Any]) -> Meta:
    return Meta(
        name=name,
        description=description,
        remediation=remediation,
        sources=(pricing_page(url),),
        enforcement=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        params=params,
        tags=("cost",),
    )


_BOOL = {"type": "boolean", "default": False}
# The stack's usage assumptions (grid:usage), which every rule that prices the whole stack reads.
_USAGE = {"type": "object", "default": {}}
_WORKLOADS = (RUN_SERVICE, RUN_JOB, FUNCTION)

POLICIES: list[Policy] = [
    resource_policy(
        _cost(
            "cost-sql-tier",
            "Cloud SQL tiers are limited to the environment's list and vCPU count.",
            "Pick a smaller tier (dev: db-f1-micro/db-g1-small) or raise the limit in the environment's config.",
            price_catalog.SQL_URL,
            {
                "allowedTiers": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": ["db-f1-micro", "db-g1-small", "db-custom-1-*"],
                },
                "maxVcpus": {"type": "number", "minimum": 0, "default": 1},
            },
        ),
        (SQL_INSTANCE,),
        _sql_tier,
    ),
    resource_policy(
        _cost(
            "cost-sql-high-availability",
            "Cloud SQL HA (REGIONAL) only where the environment allows it.",
            "Set settings.availabilityType=ZONAL outside production.",
            price_catalog.SQL_URL,
            {"allowRegional": _BOOL},
        ),
        (SQL_INSTANCE,),
        _sql_high_availability,
    ),
    resource_policy(
        _cost(
            "cost-sql-read-replicas",
            "Cloud SQL read replicas only where the environment allows them.",
            "Remove the replica (masterInstanceName) outside production.",
            price_catalog.SQL_URL,
            {"allowReplicas": _BOOL},
        ),
        (SQL_INSTANCE,),
        _sql_read_replicas,
    ),
    resource_policy(
        _cost(
            "cost-sql-disk-size",
            "Cloud SQL disks (and their autoresize ceiling) stay under the environment's cap.",
            "Lower settings.diskSize and set settings.diskAutoresizeLimit.",
            price_catalog.SQL_URL,
            {"maxDiskGb": {"type": "number", "minimum": 10, "default": 20}},
        ),
        (SQL_INSTANCE,),
        _sql_disk,
    ),
    resource_policy(
        _cost(
            "cost-redis-tier",
            "Memorystore tiers are limited to the environment's list.",
            "Use BASIC outside production.",
            price_catalog.REDIS_URL,
            {"allowedTiers": {"type": "array", "items": {"type": "string"}, "default": ["BASIC"]}},
        ),
        (REDIS_INSTANCE,),
        _redis_tier,
    ),
    resource_policy(
        _cost(
            "cost-redis-memory",
            "Memorystore capacity stays under the environment's cap.",
            "Lower memorySizeGb; the in-process L1 cache absorbs most reads.",
            price_catalog.REDIS_URL,
            {"maxMemoryGb": {"type": "number", "minimum": 1, "default": 1}},
        ),
        (REDIS_INSTANCE,),
        _redis_memory,
    ),
    resource_policy(
        _cost(
            "cost-run-max-instances",
            "Cloud Run services must set max instances, within the environment's cap.",
            "Set template.scaling.maxInstanceCount.",
            price_catalog.RUN_URL,
            {"maxInstances": {"type": "integer", "minimum": 1, "default": 3}},
        ),
        (RUN_SERVICE,),
        _run_max_instances,
    ),
    resource_policy(
        _cost(
            "cost-function-max-instances",
            "Cloud Functions must set max instances, within the environment's cap.",
            "Set serviceConfig.maxInstanceCount.",
            price_catalog.RUN_URL,
            {"maxInstances": {"type": "integer", "minimum": 1, "default": 5}},
        ),
        (FUNCTION,),
        _function_max_instances,
    ),
    resource_policy(
        _cost(
            "cost-warm-instances",
            "Minimum (always-warm) instances are capped per environment (0 in dev).",
            "Lower minInstanceCount; scale to zero outside production.",
            price_catalog.RUN_URL,
            {"maxMinInstances": {"type": "integer", "minimum": 0, "default": 0}},
        ),
        (RUN_SERVICE, FUNCTION),
        _warm_instances,
    ),
    resource_policy(
        _cost(
            "cost-gpu",
            "GPUs only where the environment allows them, and at most `maxGpus` per instance.",
            "Remove the nvidia.com/gpu limit and nodeSelector.accelerator outside production.",
            price_catalog.RUN_URL,
            {"allowGpu": _BOOL, "maxGpus": {"type": "integer", "minimum": 0, "default": 1}},
        ),
        (RUN_SERVICE, RUN_JOB),
        _gpus,
    ),
    resource_policy(
        _cost(
            "cost-cpu-always-allocated",
            "Instance-based billing (cpuIdle=false) only where the environment allows it.",
            "Set resources.cpuIdle=true so CPU is billed only while serving requests.",
            price_catalog.RUN_URL,
            {"allowAlwaysAllocated": _BOOL},
        ),
        (RUN_SERVICE,),
        _cpu_always_allocated,
    ),
    resource_policy(
        _cost(
            "cost-instance-size",
            "Serverless instance CPU and memory stay under the environment's caps.",
            "Lower resources.limits (Cloud Run) or availableCpu/availableMemory (functions).",
            price_catalog.RUN_URL,
            {
                "maxCpu": {"type": "number", "minimum": 0, "default": 1},
                "maxMemoryGib": {"type": "number", "minimum": 0, "default": 1},
            },
        ),
        _WORKLOADS,
        _instance_size,
    ),
    resource_policy(
        _cost(
            "cost-vpc-connector",
            "Serverless VPC connectors use small machines and few instances.",
            "Prefer Direct VPC egress; otherwise machineType e2-micro, minInstances 2, a low maxInstances.",
            price_catalog.COMPUTE_URL,
            {
                "allowedMachineTypes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": ["e2-micro", "f1-micro"],
                },
                "maxInstances": {"type": "integer", "minimum": 3, "default": 3},
                "maxMinInstances": {"type": "integer", "minimum": 2, "default": 2},
            },
        ),
        (VPC_CONNECTOR,),
        _vpc_connector,
    ),
    resource_policy(
        _cost(
            "cost-cloud-armor-enterprise",
            "Cloud Armor Enterprise only where the environment allows it.",
            "Keep cloudArmorTier=CA_STANDARD.",
            price_catalog.ARMOR_URL,
            {"allowEnterprise": _BOOL},
        ),
        (CLOUD_ARMOR_TIER,),
        _cloud_armor_enterprise,
    ),
    stack_policy(
        Meta(
            name="cost-monthly-budget",
            description="The stack's estimated monthly list price stays within the environment's budget.",
            remediation="Shrink the largest resources named in the message, or raise maxMonthlyUsd in "
            "policies/config/<environment>.json with a reason.",
            sources=(google_doc("https://cloud.google.com/pricing/list", "pricing-list"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
            params={
                "maxMonthlyUsd": {"type": "number", "minimum": 0, "default": 100},
                "usage": _USAGE,
            },
            tags=("cost",),
        ),
        _monthly_budget,
    ),
    stack_policy(
        Meta(
            name="cost-budget-headroom",
            description="The stack's estimated month leaves headroom under each billing budget it creates, so a "
            "normal month neither alerts at 100% nor trips the cost cap.",
            remediation="Raise grid:monitoring.budget.monthlyUsd to the amount the message names, or shrink the "
            "largest resources it names.",
            sources=(google_doc("https://cloud.google.com/billing/docs/how-to/budgets", "budgets"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
            params={
                "minHeadroom": {"type": "number", "minimum": 0, "maximum": 0.9, "default": 0.1},
                "usage": _USAGE,
            },
            tags=("cost",),
        ),
        _budget_headroom,
    ),
]
