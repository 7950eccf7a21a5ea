"""The served analyzer (policies/analyzer.py) hands each resource to its type's policies and answers as pulumi_policy's
own servicer over the whole pack does: the same diagnostics, in the same order, configured the same way."""

from __future__ import annotations

from typing import Any

import pulumi_policy.policy as policy_module
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies import DEFAULT_ENFORCEMENT, PACK_NAME, all_policies, pack_version
from policies.analyzer import ServedServicer, TypeDispatchingServicer, install
from policies.rule import Meta, Subject, TypedResourcePolicy, google_doc, resource_policy, resource_types

BUCKET = "gcp:storage/bucket:Bucket"
TOPIC = "gcp:pubsub/topic:Topic"
OTHER = "gcp:compute/network:Network"


def _meta(name: str) -> Meta:
    return Meta(name, f"{name} description.", "Fix it.", (google_doc("https://cloud.google.com/docs"),))


def _flag(subject: Subject) -> list[str]:
    return [f"{subject.name} flagged"] if subject.props.get("bad") else []


def _untyped_validate(args: Any, report: Any) -> None:
    if args.props.get("bad"):
        report(f"{args.name} untyped", None)


POLICIES = [
    resource_policy(_meta("bucket-rule"), [BUCKET], _flag),
    ResourceValidationPolicy(name="any-type-rule", description="Any type.", validate=_untyped_validate),
    resource_policy(_meta("bucket-or-topic-rule"), [BUCKET, TOPIC], _flag),
    StackValidationPolicy(name="stack-rule", description="Stack.", validate=lambda args, report: None),
]


def _request(type_: str, bad: bool) -> analyzer_pb2.AnalyzeRequest:
    properties = struct_pb2.Struct()
    properties.update({"bad": bad})
    return analyzer_pb2.AnalyzeRequest(type=type_, properties=properties, urn=f"urn:{type_}", name="thing")


def _answers(servicer: _PolicyAnalyzerServicer, type_: str) -> list[tuple[str, str, int]]:
    response = servicer.Analyze(_request(type_, bad=True), None)
    return [(d.policyName, d.message, d.enforcementLevel) for d in response.diagnostics]


def _configured(servicer: _PolicyAnalyzerServicer) -> _PolicyAnalyzerServicer:
    """Turn the bucket-or-topic rule advisory, as `--policy-pack-config` would."""
    servicer.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={"bucket-or-topic-rule": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.ADVISORY)}
        ),
        None,
    )
    return servicer


@pytest.mark.parametrize("type_", [BUCKET, TOPIC, OTHER])
def test_each_type_gets_what_the_whole_pack_gives(type_: str) -> None:
    whole = _configured(_PolicyAnalyzerServicer("p", "1.0.0", POLICIES, EnforcementLevel.MANDATORY))
    dispatching = _configured(TypeDispatchingServicer("p", "1.0.0", POLICIES, EnforcementLevel.MANDATORY))
    assert _answers(dispatching, type_) == _answers(whole, type_)
    assert ("any-type-rule", "Any type.\nthing untyped", analyzer_pb2.MANDATORY) in _answers(dispatching, type_)


def test_a_type_no_policy_judges_gets_an_empty_answer() -> None:
    typed_only = [p for p in POLICIES if resource_types(p) is not None]
    servicer = TypeDispatchingServicer("p", "1.0.0", typed_only, EnforcementLevel.MANDATORY)
    assert list(servicer.Analyze(_request(OTHER, bad=True), None).diagnostics) == []
    assert [d.policyName for d in servicer.Analyze(_request(TOPIC, bad=True), None).diagnostics] == [
        "bucket-or-topic-rule"
    ]


def test_configuration_reaches_every_type() -> None:
    servicer = _configured(TypeDispatchingServicer("p", "1.0.0", POLICIES, EnforcementLevel.MANDATORY))
    levels = {name: level for name, _, level in _answers(servicer, TOPIC)}
    assert levels["bucket-or-topic-rule"] == analyzer_pb2.ADVISORY


def test_every_resource_policy_of_the_pack_names_its_types() -> None:
    """Only a typed policy is spared other types' resources; an untyped one would be asked about every resource."""
    untyped = [p.name for p in all_policies if isinstance(p, ResourceValidationPolicy) and resource_types(p) is None]
    assert untyped == []


def test_the_served_servicer_reports_the_manifests_version() -> None:
    servicer = ServedServicer(PACK_NAME, "0.0.1", all_policies, DEFAULT_ENFORCEMENT)
    assert servicer.GetAnalyzerInfo(None, None).version == pack_version()


def test_the_installed_servicer_judges_the_stack(monkeypatch) -> None:
    """pulumi_policy's AnalyzeStack reads a class attribute through the name ``install`` replaces: what is installed
    must be a class, or every stack policy fails under `pulumi preview`."""
    monkeypatch.setattr(policy_module, "_PolicyAnalyzerServicer", policy_module._PolicyAnalyzerServicer)
    install()
    servicer = policy_module._PolicyAnalyzerServicer("p", "1.0.0", POLICIES, EnforcementLevel.MANDATORY)
    resource = analyzer_pb2.AnalyzerResource(type=BUCKET, properties=struct_pb2.Struct(), urn="urn:b", name="b")
    response = servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[resource]), None)
    assert list(response.diagnostics) == []


def test_a_typed_policy_is_not_asked_about_other_types() -> None:
    """The point of the dispatch: a policy that names its types is not handed (nor converted for) any other."""
    asked: list[str] = []
    policy = TypedResourcePolicy(
        frozenset({BUCKET}),
        name="bucket-only",
        description="Buckets.",
        validate=lambda args, report: asked.append(args.resource_type),
    )
    servicer = TypeDispatchingServicer("p", "1.0.0", [policy], EnforcementLevel.MANDATORY)
    for type_ in (BUCKET, TOPIC, OTHER):
        servicer.Analyze(_request(type_, bad=False), None)
    assert asked == [BUCKET]
