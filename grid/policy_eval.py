"""Run Grid's policy pack over an offline plan the way the Pulumi engine runs it during preview.

`evaluate(resources, environment)` takes resources shaped like `grid plan --json` (docs/design.md §5) and
reproduces what pulumi_policy's analyzer server does for each gRPC call:

* Analyze, once per resource (custom, component and provider alike, as the engine's step
  generator does): inputs go through a protobuf Struct (so every number arrives as a float), are
  deserialized and wrapped in pulumi_policy's unknown-checking proxy, and each enabled
  ResourceValidationPolicy gets a real `ResourceValidationArgs`.
* AnalyzeStack, once: every resource as a `PolicyResource` with parent and dependencies linked,
  passed to each enabled StackValidationPolicy in a real `StackValidationArgs`.
* Configuration follows `pulumi preview --policy-pack-config policies/config/<environment>.json`:
  per-policy `enforcementLevel` overrides the policy's own, `"all"` sets every policy, the other
  keys are validated against the policy's config schema and merged over its defaults.

Unknown values: an input the plan cannot know yet is given as `UNKNOWN`, the same sentinel the
Pulumi runtime sends to analyzers (`pulumi.runtime.rpc.UNKNOWN`). Secret inputs come as the engine sends
them (`Registration.policy_inputs`: the wire's secret marker around the value), so policies see the
unwrapped value exactly as under `pulumi preview`; what only the offline plan can tell from that marker is
in grid/secret_exposure.py.

Each violation is `{"policy", "enforcement", "urn", "message"}`; `message` is what the engine
shows: the policy description, a newline, then the detail. Stack-wide violations have urn None.
A policy that trips over an unknown value is reported, like the engine does, as an advisory
"can't run policy ... during preview" diagnostic instead of failing the run.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from gridlib import user_cache
from policies import DEFAULT_ENFORCEMENT, PACK_NAME, all_policies, pack_version

if TYPE_CHECKING:
    import jsonschema

UNKNOWN: Final = UNKNOWN_STRING_VALUE
POLICIES_DIR: Final = Path(__file__).resolve().parent.parent / "policies"
CONFIG_DIR: Final = POLICIES_DIR / "config"


class PolicyConfigError(ValueError):
    """The policy-pack config names a policy the pack lacks, or a value its schema rejects."""


@dataclass(frozen=True)
class PolicySettings:
    enforcement: EnforcementLevel
    config: dict[str, Any]


def load_pack_config(environment: str, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    path = config_dir / f"{environment}.json"
    if not path.is_file():
        raise PolicyConfigError(f"no policy config for environment {environment!r} ({path})")
    return json.loads(path.read_text())


def _normalize(value: Any, name: str) -> tuple[EnforcementLevel | None, dict[str, Any]]:
    """Split one config entry into (enforcement level, properties), as the CLI does."""
    if isinstance(value, str):
        return EnforcementLevel(value), {}
    if not isinstance(value, Mapping):
        raise PolicyConfigError(f"{name}: expected an enforcement level or an object")
    properties = {key: item for key, item in value.items() if key != "enforcementLevel"}
    level = value.get("enforcementLevel")
    return (EnforcementLevel(level) if level is not None else None), properties


def _schema_document(policy: Policy) -> dict[str, Any]:
    """The JSON schema a policy's config is validated against, as the Pulumi CLI builds it from the pack."""
    schema = policy.config_schema
    return {
        "type": "object",
        "properties": schema.properties if schema is not None else {},
        "required": list(schema.required or []) if schema is not None else [],
        "additionalProperties": False,
    }


@functools.cache
def _validator(policy: Policy) -> jsonschema.protocols.Validator:
    """The policy's config schema as a validator, checked once: `jsonschema.validate` re-checks the schema itself
    on every call, which was most of the cost of resolving a pack config (62 policies, twice a plan)."""
    import jsonschema

    document = _schema_document(policy)
    cls = jsonschema.validators.validator_for(document)
    cls.check_schema(document)
    return cls(document)


_VERDICTS = "policy-config-verdicts.json"
_VERDICTS_FORMAT = 1
_VERDICTS_KEEP = 512
_valid: dict[str, bool] | None = None
_learnt: list[str] = []


def _is_json(value: Any) -> bool:
    """Whether ``value`` is made of JSON's own types only, so that its JSON text stands for it exactly (a tuple, which
    JSON would write as a list, is no array to jsonschema)."""
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) is list:
        return all(_is_json(item) for item in value)
    return type(value) is dict and all(type(key) is str and _is_json(item) for key, item in value.items())


@functools.cache
def _library() -> list[str | None]:
    """The installed jsonschema, without importing it: its version and where it is."""
    from importlib import metadata
    from importlib.util import find_spec

    spec = find_spec("jsonschema")
    return [metadata.version("jsonschema"), spec.origin if spec else None]


def _verdict_key(policy: Policy, properties: Mapping[str, Any]) -> str | None:
    """What decides whether ``properties`` pass ``policy``'s schema: the schema document, the properties and the
    validating library (jsonschema's version and location); None when they are not plain JSON (never remembered)."""
    document, given = _schema_document(policy), dict(properties)
    if not (_is_json(document) and _is_json(given)):
        return None
    text = json.dumps([_library(), document, given], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _known_valid() -> dict[str, bool]:
    global _valid
    if _valid is None:
        _valid = {key: True for key, value in user_cache.read(_VERDICTS, _VERDICTS_FORMAT).items() if value is True}
    return _valid


def _validate(policy: Policy, properties: Mapping[str, Any]) -> None:
    """Raise PolicyConfigError unless ``properties`` pass ``policy``'s config schema.

    A passing config is remembered across processes by ``_verdict_key`` (in the user's cache, gridlib/user_cache.py):
    a plan whose pack config has not changed neither imports jsonschema (~0.1 CPU s of a plan) nor validates again.
    The verdict is the validator's for the same schema, properties and library; failures are never remembered."""
    if not properties and not (policy.config_schema and policy.config_schema.required):
        return  # nothing given, nothing required: the object schema cannot fail (most policies, most configs)
    key = _verdict_key(policy, properties)
    if key is not None and key in _known_valid():
        return
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(policy).iter_errors(dict(properties)))
    if error is not None:  # the error jsonschema.validate would raise
        where = ".".join(str(part) for part in error.absolute_path)
        raise PolicyConfigError(f"{policy.name}{'.' + where if where else ''}: {error.message}")
    if key is not None:
        _known_valid()[key] = True
        _learnt.append(key)


def _save_verdicts() -> None:
    """Leave the verdicts learnt since the last save to the next process (one write per resolution, not per policy)."""
    if _learnt:
        _learnt.clear()
        user_cache.write(_VERDICTS, _VERDICTS_FORMAT, _known_valid(), _VERDICTS_KEEP)


def resolve_settings(
    policies: Sequence[Policy], raw_config: Mapping[str, Any], stack_usage: Mapping[str, Any] | None = None
) -> dict[str, PolicySettings]:
    """Effective enforcement level and config of every policy under a policy-pack config file."""
    by_name = {policy.name: policy for policy in policies}
    unknown = sorted(set(raw_config) - set(by_name) - {"all"})
    if unknown:
        raise PolicyConfigError(f"policy config names policies the pack does not have: {', '.join(unknown)}")
    pack_level = _normalize(raw_config["all"], "all")[0] if "all" in raw_config else None
    settings: dict[str, PolicySettings] = {}
    try:
        for policy in policies:
            level, properties = _normalize(raw_config.get(policy.name, {}), policy.name)
            _validate(policy, properties)
            defaults = {
                key: spec["default"]
                for key, spec in (policy.config_schema.properties if policy.config_schema else {}).items()
                if "default" in spec
            }
            config = {**defaults, **properties}
            if stack_usage is not None and policy.config_schema and "usage" in policy.config_schema.properties:
                config["usage"] = dict(stack_usage)
            enforcement = level or pack_level or policy.enforcement_level or DEFAULT_ENFORCEMENT
            settings[policy.name] = PolicySettings(enforcement, config)
    finally:
        _save_verdicts()  # a later policy's bad value takes nothing from what the earlier ones passed
    return settings


def _engine_properties(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as the analyzer sees them: a protobuf Struct round trip, then pulumi_policy's deserializer."""
    struct = struct_pb2.Struct()
    struct.update(dict(inputs))
    return deserialize_properties(json_format.MessageToDict(struct))


def _proxied(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource's inputs as a policy reads them: the engine's properties in pulumi_policy's unknown-checking proxy."""
    return unknown_checking_proxy(_engine_properties(resource.get("inputs") or {}))


def _options(resource: Mapping[str, Any]) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=bool(resource.get("protect", False)),
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.get("parent") or None,
    )


def _run(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


class _Collector:
    """Builds the engine's diagnostics: description + detail, remediate downgraded to mandatory."""

    def __init__(self) -> None:
        self.violations: list[dict[str, Any]] = []
        self.version = pack_version()

    def reporter(self, policy: Policy, enforcement: EnforcementLevel, default_urn: str | None):
        level = EnforcementLevel.MANDATORY if enforcement == EnforcementLevel.REMEDIATE else enforcement

        def report_violation(message: str, urn: str | None = None) -> None:
            text = policy.description + (f"\n{message}" if message else "")
            self.add(policy.name, level, urn or default_urn, text)

        return report_violation

    def add(self, policy: str, level: EnforcementLevel, urn: str | None, message: str) -> None:
        self.violations.append({"policy": policy, "enforcement": level.value, "urn": urn, "message": message})

    def preview_gap(self, policy: Policy, urn: str | None, error: UnknownValueError) -> None:
        self.add(
            policy.name,
            EnforcementLevel.ADVISORY,
            urn,
            f"can't run policy '{policy.name}' from policy pack '{PACK_NAME}@v{self.version}' "
            f"during preview: {error.message}",
        )


def _analyze(
    resource: Mapping[str, Any],
    props: Mapping[str, Any],
    policies: Iterable[tuple[ResourceValidationPolicy, PolicySettings]],
    collector: _Collector,
) -> None:
    options = _options(resource)
    for policy, settings in policies:
        args = ResourceValidationArgs(
            resource["type"],
            props,
            resource["urn"],
            resource["name"],
            options,
            None,
            dict(settings.config),
            {},
        )
        try:
            _run(policy.validate(args, collector.reporter(policy, settings.enforcement, resource["urn"])))
        except UnknownValueError as error:
            collector.preview_gap(policy, resource["urn"], error)
        except _NotApplicableError:
            continue


def _stack_resources(
    resources: Sequence[Mapping[str, Any]], props: Sequence[Mapping[str, Any]] | None = None
) -> list[PolicyResource]:
    """The stack's resources as AnalyzeStack hands them to a policy, parents and dependencies linked; ``props``:
    each resource's proxied inputs when already built (else built here)."""
    props = props if props is not None else [_proxied(resource) for resource in resources]
    built = {
        resource["urn"]: PolicyResource(
            resource["type"], resource_props, resource["urn"], resource["name"], _options(resource), None, None, [], {}
        )
        for resource, resource_props in zip(resources, props, strict=True)
    }
    for resource in resources:
        policy_resource = built[resource["urn"]]
        policy_resource.parent = built.get(resource.get("parent") or "")
        policy_resource.dependencies = [built[urn] for urn in resource.get("dependencies") or [] if urn in built]
    return list(built.values())


def _analyze_stack(
    resources: Sequence[PolicyResource],
    policies: Iterable[tuple[StackValidationPolicy, PolicySettings]],
    collector: _Collector,
) -> None:
    for policy, settings in policies:
        args = StackValidationArgs(list(resources), dict(settings.config), {})
        try:
            _run(policy.validate(args, collector.reporter(policy, settings.enforcement, None)))
        except UnknownValueError as error:
            collector.preview_gap(policy, None, error)
        except _NotApplicableError:
            continue


@dataclass(frozen=True)
class PolicyInEnvironment:
    enforcement: EnforcementLevel
    description: str


def policy_settings(name: str, environment: str) -> PolicyInEnvironment:
    """One policy's effective enforcement under policies/config/<environment>.json, and its description."""
    policy = next(p for p in all_policies if p.name == name)
    settings = resolve_settings(all_policies, load_pack_config(environment))[name]
    return PolicyInEnvironment(settings.enforcement, policy.description)


def evaluate(
    resources: list[dict],
    environment: str,
    stack_usage: Mapping[str, Any] | None = None,
    *,
    raw_config: Mapping[str, Any] | None = None,
) -> list[dict]:
    """Violations of the policy pack over `resources` under policies/config/<environment>.json.

    `stack_usage` (the stack's `grid:usage`) becomes the `usage` parameter of the policies that
    declare one (the monthly budget). `raw_config` replaces the environment's config file.
    """
    config = raw_config if raw_config is not None else load_pack_config(environment)
    settings = resolve_settings(all_policies, config, stack_usage)
    enabled = [(p, settings[p.name]) for p in all_policies if settings[p.name].enforcement != EnforcementLevel.DISABLED]
    resource_policies = [(p, s) for p, s in enabled if isinstance(p, ResourceValidationPolicy)]
    stack_policies = [(p, s) for p, s in enabled if isinstance(p, StackValidationPolicy)]
    collector = _Collector()
    # The analyzer deserializes a resource's properties and builds their proxy anew for every policy (Analyze per
    # resource, then AnalyzeStack per stack policy). The proxy is read-only to every policy of the pack (each is
    # made by policies/rule.py, which hands its rule a plain() copy), so one per resource, shared by the resource
    # and stack policies, gives the same verdicts; building them was most of the evaluation's cost.
    props = [_proxied(resource) for resource in resources]
    for resource, resource_props in zip(resources, props, strict=True):
        _analyze(resource, resource_props, resource_policies, collector)
    if stack_policies:
        _analyze_stack(_stack_resources(resources, props), stack_policies, collector)
    return collector.violations
