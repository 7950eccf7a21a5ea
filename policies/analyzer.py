"""The analyzer the pack serves to the Pulumi CLI: pulumi_policy's own servicer, handing each resource to the
policies for its type.

pulumi_policy's servicer runs every resource policy on every resource, and turns the resource's properties from
protobuf into a Python mapping again for each of them (``Analyze``): on prod's 231 resources and the pack's 67
resource policies that is 15,477 conversions, ~2 CPU s of each preview, though a Grid resource policy judges only
the types it names (``policies.rule.resource_types``). ``TypeDispatchingServicer`` keeps, for each type some policy
names, a servicer of pulumi_policy's own holding only the policies that may judge that type (those naming it and
any policy that names no type), and forwards ``Analyze`` and ``Remediate`` to it; everything else (configuration,
``AnalyzeStack``, the pack's info) is the whole pack's servicer. The diagnostics are the same, in the same order:
tests/grid/test_analyzer_protocol.py serves this class and compares its verdicts with `grid plan`'s. One answer
differs: a policy configured ``remediate`` that cannot remediate is reported not applicable for its own types only,
not for every resource (Grid's pack configs never set ``remediate``).

Only ``policies/__main__.py`` (which the CLI runs) and the tests import this module: it needs grpc's generated
messages, which `grid plan` never loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi_policy.policy as _sdk
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies import pack_version
from policies.rule import resource_types


class TypeDispatchingServicer(_PolicyAnalyzerServicer):
    """pulumi_policy's analyzer servicer for ``policies``, with each resource judged by its type's policies only."""

    def __init__(
        self,
        name: str,
        version: str,
        policies: Sequence[Policy],
        enforcement_level: EnforcementLevel,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, version, list(policies), enforcement_level, *args, **kwargs)
        typed = [(policy, resource_types(policy)) for policy in policies]
        untyped = [policy for policy, types in typed if types is None]
        named = sorted({t for _, types in typed if types is not None for t in types})

        def servicer(subset: list[Policy]) -> _PolicyAnalyzerServicer | None:
            # pulumi_policy refuses an empty policy list; a type no policy may judge gets an empty answer instead
            return (
                _PolicyAnalyzerServicer(name, version, subset, enforcement_level, *args, **kwargs) if subset else None
            )

        self._by_type = {
            type_: servicer([p for p, types in typed if types is None or type_ in types]) for type_ in named
        }
        self._other_types = servicer(untyped)

    def _for(self, resource_type: str) -> _PolicyAnalyzerServicer | None:
        return self._by_type.get(resource_type, self._other_types)

    def _each(self) -> list[_PolicyAnalyzerServicer]:
        return [s for s in (*self._by_type.values(), self._other_types) if s is not None]

    def Configure(self, request: Any, context: Any) -> Any:
        for inner in self._each():
            inner.Configure(request, context)
        return super().Configure(request, context)

    def ConfigureStack(self, request: Any, context: Any) -> Any:
        for inner in self._each():
            inner.ConfigureStack(request, context)
        return super().ConfigureStack(request, context)

    def Analyze(self, request: Any, context: Any) -> Any:
        inner = self._for(request.type)
        return inner.Analyze(request, context) if inner is not None else analyzer_pb2.AnalyzeResponse()

    def Remediate(self, request: Any, context: Any) -> Any:
        inner = self._for(request.type)
        return inner.Remediate(request, context) if inner is not None else analyzer_pb2.RemediateResponse()


class ServedServicer(TypeDispatchingServicer):
    """What ``PolicyPack`` builds in place of pulumi_policy's servicer (``install``, run by policies/__main__.py).

    pulumi_policy hard-codes "0.0.1" as the version its analyzer reports and puts in its own diagnostics ("can't
    run policy ... from policy pack 'grid-policies@v0.0.1'"); PolicyPack has no version argument, so this takes
    PulumiPolicy.yaml's version, the one the CLI publishes and `grid plan` reports."""

    def __init__(self, name: str, _version: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, pack_version(), *args, **kwargs)


def install() -> None:
    """Make ``PolicyPack`` serve ``ServedServicer``. It has to be a class: pulumi_policy builds its servicer by this
    module-level name, and its ``AnalyzeStack`` reads ``IntermediateStackResource`` through the same name while it
    runs (a function there made every stack policy fail under `pulumi preview`)."""
    _sdk._PolicyAnalyzerServicer = ServedServicer  # type: ignore[assignment,misc]
