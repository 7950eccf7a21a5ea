"""Turn short pure rule functions into pulumi_policy Policy objects.

A rule never sees pulumi_policy's argument objects: it gets a `Subject` (type, name, plain
properties with UNKNOWN markers, and its parameters with defaults applied) and yields one
message per violation. That keeps rules pure and testable, and puts the engine plumbing —
type filtering, unknown values, config defaults — in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.props import plain


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: a benchmark item, a scanner check, or a Google document."""

    framework: str
    reference: str
    url: str
    version: str | None = None

    @property
    def tag(self) -> str:
        return f"{self.framework}:{self.reference}"


CIS_GCP_URL = "https://www.cisecurity.org/benchmark/google_cloud_computing_platform"
CHECKOV_GCP_URL = "https://www.checkov.io/5.Policy%20Index/terraform.html"


def cis(item: str) -> Source:
    return Source("cis-gcp", item, CIS_GCP_URL, version="3.0.0")


def checkov(check_id: str) -> Source:
    return Source("checkov", check_id, CHECKOV_GCP_URL)


def google_doc(url: str, reference: str = "docs") -> Source:
    return Source("google-cloud", reference, url)


def pricing_page(url: str) -> Source:
    return Source("google-cloud-pricing", "list-price", url)


@dataclass(frozen=True)
class Subject:
    """What a resource rule judges: the resource and the rule's parameters."""

    type: str
    name: str
    props: Mapping[str, Any]
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackResource:
    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackSubject:
    resources: Sequence[StackResource]
    config: Mapping[str, Any] = field(default_factory=dict)


ResourceRule = Callable[[Subject], Iterable[str]]
# A stack rule yields (urn or None for the whole stack, message).
StackRule = Callable[[StackSubject], Iterable[tuple[str | None, str]]]


def config_defaults(schema: PolicyConfigSchema | None) -> dict[str, Any]:
    if schema is None:
        return {}
    return {key: spec["default"] for key, spec in schema.properties.items() if "default" in spec}


def effective_config(schema: PolicyConfigSchema | None, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults from the schema with the configured values over them.

    The Pulumi CLI fills schema defaults in before it calls the pack; doing it here too means a
    rule behaves the same when the pack is called without config (tests, older CLIs).
    """
    return {**config_defaults(schema), **dict(given or {})}


def _schema(params: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    if not params:
        return None
    return PolicyConfigSchema(properties={key: dict(spec) for key, spec in params.items()})


def _framework(sources: Sequence[Source]) -> PolicyComplianceFramework:
    primary = sources[0]
    return PolicyComplianceFramework(
        name=primary.framework, version=primary.version, reference=primary.reference, specification=primary.url
    )


@dataclass(frozen=True)
class Meta:
    """The documentation every policy carries."""

    name: str
    description: str
    remediation: str
    sources: tuple[Source, ...]
    enforcement: EnforcementLevel = EnforcementLevel.MANDATORY
    severity: Severity = Severity.HIGH
    params: Mapping[str, Mapping[str, Any]] | None = None
    tags: tuple[str, ...] = ()

    def policy_kwargs(self) -> dict[str, Any]:
        if not self.sources:
            raise ValueError(f"policy {self.name} needs at least one source")
        return {
            "name": self.name,
            "description": self.description,
            "enforcement_level": self.enforcement,
            "config_schema": _schema(self.params),
            "severity": self.severity,
            "framework": _framework(self.sources),
            "tags": [*self.tags, *(source.tag for source in self.sources)],
            "remediation_steps": self.remediation,
            "url": self.sources[0].url,
        }


class TypedResourcePolicy(ResourceValidationPolicy):
    """A resource policy that judges only the resource types it names: what lets the served pack hand a resource to
    the policies for its type alone (policies/analyzer.py) instead of to all of them."""

    def __init__(self, resource_types: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resource_types = resource_types


def resource_types(policy: object) -> frozenset[str] | None:
    """The resource types ``policy`` judges, or None when it may judge any (a policy not made by
    ``resource_policy``)."""
    return policy.resource_types if isinstance(policy, TypedResourcePolicy) else None


def resource_policy(meta: Meta, types: Collection[str], rule: ResourceRule) -> TypedResourcePolicy:
    """A policy that runs `rule` on every resource whose type is in `types`."""
    wanted = frozenset(types)
    schema = _schema(meta.params)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in wanted:
            return
        subject = Subject(
            type=args.resource_type,
            name=args.name,
            props=plain(args.props),
            config=effective_config(schema, args.get_config()),
        )
        for message in rule(subject):
            report_violation(message, None)

    return TypedResourcePolicy(wanted, validate=validate, **meta.policy_kwargs())


def stack_policy(meta: Meta, rule: StackRule) -> StackValidationPolicy:
    """A policy that runs `rule` once over every resource of the stack."""
    schema = _schema(meta.params)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(
                urn=resource.urn,
                type=resource.resource_type,
                name=resource.name,
                props=plain(resource.props),
                parent=resource.parent.urn if resource.parent is not None else None,
                dependencies=tuple(dependency.urn for dependency in resource.dependencies),
            )
            for resource in args.resources
        ]
        subject = StackSubject(resources=resources, config=effective_config(schema, args.get_config()))
        for urn, message in rule(subject):
            report_violation(message, urn)

    return StackValidationPolicy(validate=validate, **meta.policy_kwargs())
