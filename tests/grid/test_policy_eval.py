"""grid.policy_eval runs the pack over plan resources the way the Pulumi engine does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

import grid.policy_eval as policy_eval
from grid.policy_eval import UNKNOWN, PolicyConfigError, evaluate
from tests.policies.fixtures import SERVICE, SQL
from tests.policies.harness import stack_resource, tweak

DB_URN = "urn:pulumi:dev::grid::gcp:sql/databaseInstance:DatabaseInstance::db"
API_URN = "urn:pulumi:dev::grid::gcp:cloudrunv2/service:Service::api"


def plan(*resources: dict[str, Any]) -> list[dict[str, Any]]:
    return list(resources)


def by_policy(violations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {violation["policy"]: violation for violation in violations}


def test_violation_shape_and_engine_message() -> None:
    public_db = stack_resource(
        DB_URN, "gcp:sql/databaseInstance:DatabaseInstance", tweak(SQL, {"settings.ipConfiguration.ipv4Enabled": True})
    )
    violation = by_policy(evaluate(plan(public_db), "prod"))["sql-no-public-ip"]
    assert violation == {
        "policy": "sql-no-public-ip",
        "enforcement": "mandatory",
        "urn": DB_URN,
        "message": "Cloud SQL instances must not have a public IPv4 address.\n"
        "settings.ipConfiguration.ipv4Enabled is true (the provider default), "
        "so the instance has a public IP",
    }


def test_compliant_prod_resources_pass() -> None:
    service = stack_resource(
        API_URN, "gcp:cloudrunv2/service:Service", tweak(SERVICE, {"template.scaling.minInstanceCount": 2})
    )
    database = stack_resource(DB_URN, "gcp:sql/databaseInstance:DatabaseInstance", SQL)
    audit = stack_resource(
        "urn:audit",
        "gcp:projects/iAMAuditConfig:IAMAuditConfig",
        {
            "service": "cloudsql.googleapis.com",
            "auditLogConfigs": [{"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}],
        },
    )
    assert evaluate(plan(service, database, audit), "prod") == []


def test_disabled_policies_are_skipped_per_environment() -> None:
    zonal = stack_resource(
        DB_URN, "gcp:sql/databaseInstance:DatabaseInstance", tweak(SQL, {"settings.availabilityType": "ZONAL"})
    )
    assert "reliability-sql-regional" in by_policy(evaluate(plan(zonal), "prod"))
    assert "reliability-sql-regional" not in by_policy(evaluate(plan(zonal), "dev"))


def test_unknown_sentinel_is_the_engines() -> None:
    import pulumi.runtime.rpc

    assert UNKNOWN == pulumi.runtime.rpc.UNKNOWN


def test_unknown_inputs_are_not_judged() -> None:
    service = stack_resource(
        API_URN,
        "gcp:cloudrunv2/service:Service",
        tweak(SERVICE, {"template.serviceAccount": UNKNOWN, "ingress": UNKNOWN}),
    )
    assert evaluate(plan(service), "staging") == []


def test_policy_reading_an_unknown_is_an_advisory_preview_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    naive = ResourceValidationPolicy(
        name="naive",
        description="Reads a property without the unknown-aware helpers.",
        validate=lambda args, report: report(str(args.props["ingress"])),
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    monkeypatch.setattr(policy_eval, "all_policies", [naive])
    service = stack_resource(API_URN, "gcp:cloudrunv2/service:Service", {"ingress": UNKNOWN})
    [gap] = evaluate(plan(service), "dev", raw_config={})
    assert gap["enforcement"] == "advisory" and gap["urn"] == API_URN
    assert "can't run policy 'naive'" in gap["message"] and "during preview" in gap["message"]


def test_numbers_reach_policies_as_the_engine_sends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    probe = ResourceValidationPolicy(
        name="probe",
        description="Records what it is given.",
        validate=lambda args, report: seen.append(args.props["memorySizeGb"]),
        enforcement_level=EnforcementLevel.ADVISORY,
    )
    monkeypatch.setattr(policy_eval, "all_policies", [probe])
    evaluate(plan(stack_resource("urn:r", "gcp:redis/instance:Instance", {"memorySizeGb": 5})), "dev", raw_config={})
    assert seen == [5.0] and isinstance(seen[0], float)  # protobuf Struct numbers are doubles


def test_config_all_and_per_policy_levels() -> None:
    public_db = stack_resource(
        DB_URN, "gcp:sql/databaseInstance:DatabaseInstance", tweak(SQL, {"settings.ipConfiguration.ipv4Enabled": True})
    )
    found = by_policy(evaluate(plan(public_db), "prod", raw_config={"all": "advisory"}))
    assert found["sql-no-public-ip"]["enforcement"] == "advisory"
    found = by_policy(evaluate(plan(public_db), "prod", raw_config={"sql-no-public-ip": "disabled"}))
    assert "sql-no-public-ip" not in found
    remediate = {"sql-no-public-ip": {"enforcementLevel": "remediate"}}
    found = by_policy(evaluate(plan(public_db), "prod", raw_config=remediate))
    assert found["sql-no-public-ip"]["enforcement"] == "mandatory"  # remediate is reported as mandatory


@pytest.mark.parametrize(
    "raw_config",
    [
        {"no-such-policy": "mandatory"},
        {"cost-redis-memory": {"maxMemoryGb": "lots"}},
        {"cost-redis-memory": {"maxMemoryGbb": 2}},
    ],
)
def test_bad_config_is_rejected(raw_config: dict[str, Any]) -> None:
    with pytest.raises(PolicyConfigError):
        evaluate([], "dev", raw_config=raw_config)


def test_bad_config_message_names_the_policy_and_property() -> None:
    with pytest.raises(PolicyConfigError, match=r"^cost-redis-memory.maxMemoryGb: 'lots' is not of type"):
        evaluate([], "dev", raw_config={"cost-redis-memory": {"maxMemoryGb": "lots"}})


@pytest.fixture
def no_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own, and a process that has remembered no policy config verdict yet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(policy_eval, "_valid", None)
    return tmp_path / "cache"


def test_config_schemas_are_checked_once_not_per_resolution(monkeypatch: pytest.MonkeyPatch, no_verdicts) -> None:
    """Each policy's config schema is checked once per process; resolving a pack config again (every plan does it
    twice) only validates the values. `jsonschema.validate` re-checked all 62 schemas on every call. A policy given
    no values and requiring none has nothing to validate (and its schema is not built)."""
    import jsonschema

    checked: list[dict] = []
    original = jsonschema.Draft202012Validator.check_schema
    monkeypatch.setattr(
        jsonschema.Draft202012Validator,
        "check_schema",
        classmethod(lambda cls, schema, **kw: (checked.append(schema), original(schema, **kw))[1]),
    )
    policy_eval._validator.cache_clear()
    config = policy_eval.load_pack_config("prod")
    for _ in range(3):
        policy_eval.resolve_settings(policy_eval.all_policies, config)
    given = [name for name, value in config.items() if isinstance(value, dict) and set(value) - {"enforcementLevel"}]
    assert 0 < len(checked) == len(given) < len(policy_eval.all_policies)


def _policy(name: str):
    return next(policy for policy in policy_eval.all_policies if policy.name == name)


def test_a_passing_config_is_remembered_across_processes_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, no_verdicts: Path
) -> None:
    """A config that passed its schema is not validated again, in this process or the next (no jsonschema import,
    ~0.1 CPU s of a plan); a value or a schema not seen to pass is validated, and a failure is never remembered."""
    config = policy_eval.load_pack_config("prod")
    settings = policy_eval.resolve_settings(policy_eval.all_policies, config)
    assert (no_verdicts / "grid" / "policy-config-verdicts.json").is_file()

    def no_validation(policy):
        raise AssertionError(f"{policy.name} validated again")

    monkeypatch.setattr(policy_eval, "_valid", None)  # the next process
    monkeypatch.setattr(policy_eval, "_validator", no_validation)
    assert policy_eval.resolve_settings(policy_eval.all_policies, config) == settings
    monkeypatch.undo()

    monkeypatch.setenv("XDG_CACHE_HOME", str(no_verdicts))
    monkeypatch.setattr(policy_eval, "_valid", None)
    for _ in range(2):  # a bad value fails every time
        with pytest.raises(PolicyConfigError, match=r"^cost-redis-memory.maxMemoryGb: 'lots' is not of type"):
            policy_eval.resolve_settings(policy_eval.all_policies, {"cost-redis-memory": {"maxMemoryGb": "lots"}})


@pytest.mark.parametrize("damage", ["not json", '{"format": 1, "entries": []}', '{"format": 1, "entries": {"k": 1}}'])
def test_a_damaged_or_unwritable_verdict_file_only_costs_the_validation(
    monkeypatch: pytest.MonkeyPatch, no_verdicts: Path, damage: str
) -> None:
    config = policy_eval.load_pack_config("prod")
    expected = policy_eval.resolve_settings(policy_eval.all_policies, config)
    (no_verdicts / "grid" / "policy-config-verdicts.json").write_text(damage)
    monkeypatch.setattr(policy_eval, "_valid", None)
    assert policy_eval.resolve_settings(policy_eval.all_policies, config) == expected
    monkeypatch.setenv("XDG_CACHE_HOME", str(no_verdicts / "grid" / "policy-config-verdicts.json"))  # a file: no dir
    monkeypatch.setattr(policy_eval, "_valid", None)
    assert policy_eval.resolve_settings(policy_eval.all_policies, config) == expected


def test_a_verdict_is_keyed_by_schema_values_and_library() -> None:
    policy = _policy("cost-redis-memory")
    key = policy_eval._verdict_key(policy, {"maxMemoryGb": 4})
    assert key == policy_eval._verdict_key(policy, {"maxMemoryGb": 4})
    assert key != policy_eval._verdict_key(policy, {"maxMemoryGb": 4.0})  # JSON Schema's integer is not a float's
    assert key != policy_eval._verdict_key(policy, {"maxMemoryGb": True})
    assert key != policy_eval._verdict_key(_policy("cost-monthly-budget"), {"maxMemoryGb": 4})  # another schema
    # values JSON cannot write exactly (a tuple would read back as an array) are never remembered
    assert policy_eval._verdict_key(policy, {"maxMemoryGb": (4,)}) is None
    other = [*policy_eval._library()[:-1], "/elsewhere/jsonschema/__init__.py"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(policy_eval, "_library", lambda: other)
        assert policy_eval._verdict_key(policy, {"maxMemoryGb": 4}) != key  # another jsonschema


def test_stack_usage_feeds_the_budget() -> None:
    service = stack_resource(API_URN, "gcp:cloudrunv2/service:Service", SERVICE)
    assert "cost-monthly-budget" not in by_policy(evaluate(plan(service), "dev"))
    heavy = {"resources": {"api": {"requestsPerMonth": 1_000_000_000, "avgRequestSeconds": 1}}}
    budget = by_policy(evaluate(plan(service), "dev", stack_usage=heavy))["cost-monthly-budget"]
    assert budget["urn"] is None and budget["enforcement"] == "mandatory"


def test_stack_policies_see_parents_and_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_policy import StackValidationPolicy

    links: list[tuple[str | None, list[str]]] = []

    def record(args, report) -> None:
        for resource in args.resources:
            links.append((resource.parent.urn if resource.parent else None, [d.urn for d in resource.dependencies]))

    monkeypatch.setattr(
        policy_eval,
        "all_policies",
        [
            StackValidationPolicy(
                name="links",
                description="Records the resource graph.",
                validate=record,
                enforcement_level=EnforcementLevel.ADVISORY,
            )
        ],
    )
    parent = {**stack_resource("urn:c", "grid:compute:Service", {}), "custom": False}
    child = {**stack_resource("urn:s", "gcp:cloudrunv2/service:Service", {}, ("urn:c",)), "parent": "urn:c"}
    evaluate(plan(parent, child), "dev", raw_config={})
    assert links == [(None, []), ("urn:c", ["urn:c"])]


def test_each_resource_is_deserialized_once_for_every_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine deserializes a resource for each policy; the plan does it once per resource and shares the proxy
    # (62 policies: it was 11 round trips through protobuf per resource, most of the evaluation's cost).
    calls = []
    original = policy_eval._engine_properties
    monkeypatch.setattr(policy_eval, "_engine_properties", lambda inputs: calls.append(inputs) or original(inputs))
    database = stack_resource(DB_URN, "gcp:sql/databaseInstance:DatabaseInstance", SQL)
    service = stack_resource(API_URN, "gcp:cloudrunv2/service:Service", SERVICE)
    evaluate(plan(database, service), "prod")
    assert len(calls) == 2


def test_every_policy_judges_a_plain_copy_so_sharing_the_proxies_is_safe() -> None:
    # evaluate() hands every policy the same proxied inputs of a resource; that is only the engine's behaviour if no
    # policy can write to them. policies/rule.py's wrappers give each rule a plain() copy: every policy is one.
    from policies import all_policies

    wrappers = {"policies.rule": {"resource_policy.<locals>.validate", "stack_policy.<locals>.validate"}}
    for policy in all_policies:
        validate = (
            getattr(policy, "_ResourceValidationPolicy__validate", None) or policy._StackValidationPolicy__validate
        )
        assert validate.__qualname__ in wrappers.get(validate.__module__, set()), policy.name
