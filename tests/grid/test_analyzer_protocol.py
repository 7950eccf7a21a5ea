"""One verdict offline and live: the pack served over the analyzer gRPC protocol the Pulumi CLI speaks gives exactly
the diagnostics `grid plan` gives, on every shipped stack and on injected bad resources.

The server is the servicer `policies/__main__.py` serves (policies/analyzer.py: pulumi_policy's own, handing each
resource to its type's policies), on a random local port;
the client is Pulumi's generated analyzer stub, sending Configure, then Analyze per resource and AnalyzeStack once,
as the engine does during a preview. The comparisons over whole stacks hand the same servicer the same messages
in-process (``InProcessStub``: each request serialized and parsed as gRPC would): the ~1,000 round trips through
a local gRPC server cost more than the servicer's own work (1.2 of 2.9 CPU s), and the transport is what the
injected-faults test here and tests/policies/test_pack.py (the served process itself) still go through.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from typing import Any

import grpc
import pulumi_policy.policy as policy_module
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel

from grid import secret_exposure
from grid.engine import SECRET_SIG, SECRET_SIG_KEY, Registration
from grid.policy_eval import evaluate, load_pack_config, policy_settings, resolve_settings
from policies import DEFAULT_ENFORCEMENT, PACK_NAME, all_policies
from policies.analyzer import install
from tests.grid.test_scanner import inject_faults

_LEVELS = {
    EnforcementLevel.ADVISORY: analyzer_pb2.ADVISORY,
    EnforcementLevel.MANDATORY: analyzer_pb2.MANDATORY,
    EnforcementLevel.DISABLED: analyzer_pb2.DISABLED,
    EnforcementLevel.REMEDIATE: analyzer_pb2.REMEDIATE,
}
_NAMES = {value: level.value for level, value in _LEVELS.items()}


def _servicer() -> Any:
    """The servicer policies/__main__.py serves: pulumi_policy's, as ``install()`` sets it up."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(policy_module, "_PolicyAnalyzerServicer", policy_module._PolicyAnalyzerServicer)  # restored
        install()  # what policies/__main__.py does before PolicyPack builds its servicer by this name
        return policy_module._PolicyAnalyzerServicer(PACK_NAME, "0.0.1", all_policies, DEFAULT_ENFORCEMENT)


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """A stub of the servicer served by a gRPC server on a random local port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    analyzer_pb2_grpc.add_AnalyzerServicer_to_server(_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        channel.close()
        server.stop(grace=None)


class InProcessStub:
    """The stub's calls made on the servicer in this process: each request and each response serialized and parsed
    back, as they cross the wire, and no call context (the servicer uses none for a valid request)."""

    def __init__(self, servicer: Any) -> None:
        self._servicer = servicer

    def __getattr__(self, method: str) -> Any:
        serve = getattr(self._servicer, method)

        def call(request: Any) -> Any:
            response = serve(type(request).FromString(request.SerializeToString()), None)
            return type(response).FromString(response.SerializeToString())

        return call


@pytest.fixture(scope="module")
def in_process() -> InProcessStub:
    return InProcessStub(_servicer())


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return struct


def _configure(
    stub: analyzer_pb2_grpc.AnalyzerStub | InProcessStub, environment: str, usage: Mapping[str, Any]
) -> None:
    """What the CLI sends for `--policy-pack-config policies/config/<environment>.json`."""
    settings = resolve_settings(all_policies, load_pack_config(environment), usage)
    stub.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[s.enforcement], properties=_struct(s.config))
                for name, s in settings.items()
            }
        )
    )


def _options(resource: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(protect=bool(resource["protect"]), parent=resource["parent"] or "")


def live_diagnostics(
    stub: analyzer_pb2_grpc.AnalyzerStub | InProcessStub,
    resources: Sequence[Mapping[str, Any]],
    environment: str,
    usage: Mapping[str, Any],
) -> list[dict[str, Any]]:
    _configure(stub, environment, usage)
    found: list[dict[str, Any]] = []

    def collect(diagnostics, default_urn: str | None) -> None:
        for d in diagnostics:
            urn = d.urn or default_urn  # the engine attributes a resource diagnostic without urn to that resource
            found.append(
                {"policy": d.policyName, "enforcement": _NAMES[d.enforcementLevel], "urn": urn, "message": d.message}
            )

    for resource in resources:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource["type"],
            properties=_struct(resource["inputs"]),
            urn=resource["urn"],
            name=resource["name"],
            options=_options(resource),
        )
        collect(stub.Analyze(request).diagnostics, resource["urn"])
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r["type"],
                properties=_struct(r["inputs"]),
                urn=r["urn"],
                name=r["name"],
                options=_options(r),
                parent=r["parent"] or "",
                dependencies=r["dependencies"],
            )
            for r in resources
        ]
    )
    collect(stub.AnalyzeStack(stack).diagnostics, None)
    return found


def _key(violation: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return violation["policy"], violation["enforcement"], violation["urn"] or "", violation["message"]


def engine_view(resources: Sequence[Registration]) -> list[dict[str, Any]]:
    """What the engine sends the pack: the registration with its inputs as on the wire (secrets marked)."""
    return [{**r.to_json(), "inputs": r.policy_inputs} for r in resources]


@pytest.mark.parametrize("target", ["dev", "staging", "prod", "dev-external", "bootstrap"])
def test_the_served_pack_and_grid_plan_agree_on_every_stack(in_process, shipped_plans, target: str) -> None:
    plan = shipped_plans[target]
    live = live_diagnostics(in_process, engine_view(plan.run.resources), plan.settings.environment, plan.settings.usage)
    assert sorted(map(_key, live)) == sorted(map(_key, plan.violations))


def _secret_env(service: Registration) -> Registration:
    """The api service with a Pulumi secret passed as a plain env value (wire form, as the engine records it)."""
    leaky = copy.deepcopy(service)
    secret = {SECRET_SIG_KEY: SECRET_SIG, "value": "s3cr3t-token"}
    leaky.policy_inputs["template"]["containers"][0]["envs"].append({"name": "UPSTREAM", "value": secret})
    return leaky


def test_they_agree_on_injected_bad_resources_except_what_only_grid_plan_sees(analyzer, shipped_plans) -> None:
    plan = shipped_plans["prod"]
    faulty, _ = inject_faults(plan.run.resources)
    api = next(r for r in faulty if r.type == "gcp:cloudrunv2/service:Service" and r.name.endswith("-api-service"))
    faulty = [_secret_env(r) if r is api else r for r in faulty]
    env, usage = plan.settings.environment, plan.settings.usage
    offline = evaluate(engine_view(faulty), env, usage)
    policy = policy_settings(secret_exposure.POLICY, env)
    only_grid_plan = secret_exposure.violations(faulty, policy.enforcement.value, policy.description)
    live = live_diagnostics(analyzer, engine_view(faulty), env, usage)
    assert {v["policy"] for v in offline} >= {
        "sql-no-public-ip",
        "redis-auth-enabled",
        "ssl-policy-modern-tls",
        "bucket-iam-not-public",
        "iam-no-basic-roles",
        "firewall-no-public-ssh",
    }
    assert sorted(map(_key, live)) == sorted(map(_key, offline))
    # The one documented difference: the engine hands the pack "s3cr3t-token", a plain string; grid plan knows.
    assert [(v["urn"], v["message"].splitlines()[-1]) for v in only_grid_plan] == [
        (api.urn, "env UPSTREAM holds a Pulumi secret as a plain value; use valueSource.secretKeyRef")
    ]
    assert not any("UPSTREAM" in v["message"] for v in live)
