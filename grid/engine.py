"""The offline engine: run ``stacks/`` under Pulumi's mock runtime and record every registration.

The program runs exactly as under ``pulumi up`` (same entry point, same config map, same SDK), but the resource
monitor is an in-process recorder backed by ``FakeCloud``. What the recorder sees is what the real engine
would see: type, name, parent, protect, dependencies and the camelCase inputs on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2
from pulumi.runtime import known_types, mocks, rpc, settings
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime.config import set_all_config
from pulumi.runtime.resource_cycle_breaker import _DEPENDENCIES_PROPERTY as _DEPENDENCIES
from pulumi.runtime.sync_await import _sync_await

from grid.fakecloud import AUTONAMED, FakeCloud, unwrap
from grid.projects import REPO_ROOT
from grid.registrations import ProgramRun, Registration
from grid.stackfile import PROJECT, StackFile

PROGRAM = REPO_ROOT / "stacks" / "__main__.py"
SECRET = "[secret]"
# Pulumi's wire marker of a secret property value (pulumi_policy.deserialize unwraps it for policies).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def render(value: Any, *, keep_secrets: bool = False) -> Any:
    """Plain JSON for a deserialized property: secrets become "[secret]" (or, with ``keep_secrets``, the wire form
    ``{SECRET_SIG_KEY: SECRET_SIG, "value": ...}`` the engine sends analyzers), unknowns None, assets their path."""
    if rpc.is_rpc_secret(value):
        if not keep_secrets:
            return SECRET
        return {SECRET_SIG_KEY: SECRET_SIG, "value": render(rpc.unwrap_rpc_secret(value), keep_secrets=True)}
    if isinstance(value, dict):
        return {k: render(v, keep_secrets=keep_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, keep_secrets=keep_secrets) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double; 7.0 was written as 7
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "assets"):  # an AssetArchive: its members by name (str() would be a memory address)
        return {"archive": {name: _member(value.assets[name]) for name in sorted(value.assets)}}
    for attr in ("path", "text", "uri"):  # pulumi assets and archives
        if hasattr(value, attr):
            return {"asset": getattr(value, attr)}
    return str(value)


def _member(asset: Any) -> Any:
    """An archive member, stable and short: a file's path, a text's digest (not the source code itself)."""
    if hasattr(asset, "text"):
        return "sha256:" + hashlib.sha256(asset.text.encode()).hexdigest()
    return render(asset)


class RecordingMonitor(mocks.MockMonitor):
    """MockMonitor that keeps the full registration request of every resource."""

    def __init__(self, cloud: FakeCloud, *, reveal: bool = False) -> None:
        super().__init__(cloud)
        self.reveal = reveal
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}
        self._stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
        inputs, policy_inputs = render(raw), render(raw, keep_secrets=True)
        outputs: dict[str, Any] = {}
        if request.type == "pulumi:pulumi:Stack":
            self._stack_urn = response.urn
        else:
            outputs = self.resources[response.urn].state
            if request.type in AUTONAMED and "name" not in inputs and "name" in outputs:
                # the provider's Check would fill in the auto-name
                inputs["name"] = policy_inputs["name"] = outputs["name"]
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                protect=bool(request.protect),
                dependencies=sorted(set(request.dependencies)),
                inputs=inputs,
                outputs=render(outputs),
                replace_on_changes=list(request.replaceOnChanges),
                aliases=[*request.aliasURNs, *(a.urn for a in request.aliases if a.urn)],
                provider=request.provider or None,
                policy_inputs=policy_inputs,
                revealed={"inputs": unwrap(raw), "outputs": unwrap(outputs), "id": response.id}
                if self.reveal
                else None,
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self._stack_urn:
            self.stack_outputs = render(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        return empty_pb2.Empty()


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")


async def _wait_for_outstanding_work(await_all_outstanding_tasks: bool = True) -> None:
    """Drop-in for the SDK's ``wait_for_rpcs`` that waits for pending outputs in one batch.

    The SDK waits with ``asyncio.wait(FIRST_COMPLETED)`` in a loop, re-registering a callback on every pending
    task each time one finishes: quadratic in the number of outputs, and most of an offline plan's run time
    for a stack of ~200 resources. Gathering the batch gives the same guarantee (every RPC and output settled,
    the first failure re-raised) in linear time.
    """
    manager = settings._get_rpc_manager()
    while True:
        while manager.rpcs:
            await asyncio.sleep(0)
            await manager.rpcs.pop()
        if manager.unhandled_exception is not None:
            raise manager.unhandled_exception.with_traceback(manager.exception_traceback)
        while await_all_outstanding_tasks:
            with settings.SETTINGS.lock:
                pending = list(settings.SETTINGS.outputs)
                settings.SETTINGS.outputs.clear()
            if not pending:
                break
            await asyncio.gather(*pending)
        if not manager.rpcs:
            return


def _no_stack_trace() -> Any:
    """Drop-in for the SDK's ``_get_stack_trace`` in an offline run: an empty trace, as the SDK sends when it
    finds no user frame.

    For every resource the SDK walks the whole Python stack with ``traceback.extract_stack()`` (reading each
    frame's source line) and turns every frame into a file URI, so that the engine can point diagnostics at
    the line that declared the resource. The offline monitor never reads it; it was about a tenth of a plan's
    program run. ``pulumi up`` and ``preview`` (the real engine) keep the SDK's function.
    """
    from pulumi.runtime.proto import source_pb2

    return source_pb2.StackTrace()


def _declare_dependency(from_resource: Any, to_resource: Any) -> bool:
    """Drop-in for the SDK's ``declare_dependency`` (pulumi/runtime/resource_cycle_breaker.py): the same answer and
    the same record on the resource, in time linear in the graph instead of a generator per visited node.

    The SDK calls it for every dependency of every input of every resource, and walks everything reachable from
    ``to_resource`` (through the dependencies declared so far) to refuse an edge that would close a cycle. An edge
    already declared needs no walk: it was accepted when the graph was acyclic, so ``to_resource`` cannot reach
    ``from_resource`` now (any later edge that let it would have closed a cycle and been refused).
    """
    declared = getattr(from_resource, _DEPENDENCIES, None)
    if declared is not None and to_resource in declared:
        return True
    seen, pending = {to_resource}, [to_resource]
    while pending:
        resource = pending.pop()
        if resource == from_resource:
            return False
        for dependency in getattr(resource, _DEPENDENCIES, ()):
            if dependency not in seen:
                seen.add(dependency)
                pending.append(dependency)
    setattr(from_resource, _DEPENDENCIES, (declared or set()) | {to_resource})
    return True


def _contains_unknowns(value: Any) -> bool:
    """Drop-in for the SDK's ``contains_unknowns`` (pulumi/runtime/rpc.py): whether an unknown is reachable through
    ``value``'s dict values and list items, each object looked at once.

    The SDK's defines a recursive function inside each call, which holds itself through its closure: a reference
    cycle per call that only the cyclic collector frees. A prod plan calls it ~15,000 times, leaving ~90,000
    objects of such garbage whose collection took ~0.15 s of each plan."""
    seen: set[int] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if known_types.is_unknown(item):
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


# The SDK functions an offline run replaces (module, name, replacement); `pulumi up` and `preview` keep the SDK's.
_OFFLINE_SWAPS: tuple[tuple[Any, str, Any], ...] = (
    (pulumi_stack, "wait_for_rpcs", _wait_for_outstanding_work),
    (pulumi_resource, "_get_stack_trace", _no_stack_trace),
    (rpc, "declare_dependency", _declare_dependency),
    (rpc, "contains_unknowns", _contains_unknowns),
)


@contextlib.contextmanager
def _offline_sdk() -> Iterator[None]:
    """The SDK with the offline swaps, given back as it was afterwards."""
    saved = [(module, name, getattr(module, name)) for module, name, _ in _OFFLINE_SWAPS]
    for module, name, replacement in _OFFLINE_SWAPS:
        setattr(module, name, replacement)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def tree_order(registrations: list[Registration]) -> list[Registration]:
    """Parents before children, siblings by (type, name): registration order is async, plans must not be."""
    children: dict[str | None, list[Registration]] = {}
    for registration in registrations:
        children.setdefault(registration.parent, []).append(registration)
    ordered: list[Registration] = []
    stack = sorted(children.get(None, []), key=lambda r: (r.type, r.name), reverse=True)
    while stack:
        registration = stack.pop()
        ordered.append(registration)
        stack.extend(sorted(children.get(registration.urn, []), key=lambda r: (r.type, r.name), reverse=True))
    return ordered


def run_program(
    stack_file: StackFile,
    *,
    program: Path = PROGRAM,
    project: str = PROJECT,
    cloud: type[FakeCloud] = FakeCloud,
    reveal: bool = False,
) -> ProgramRun:
    """Run the Pulumi program for ``stack_file`` offline and return everything it registered.

    ``cloud`` computes the outputs (``grid local --stack`` passes one that makes real passwords and keys);
    ``reveal`` keeps each registration's plain-text values in ``Registration.revealed``.
    """
    project_id = str(stack_file.values.get("gcp:project", "offline-project"))
    region = str(stack_file.values.get("gcp:region", "us-central1"))
    monitor = RecordingMonitor(cloud(project_id, region), reveal=reveal)
    logger = logging.getLogger(f"grid.engine.{stack_file.stack}")
    logger.propagate = False
    collector = _LogCollector()
    logger.addHandler(collector)
    settings.ROOT.set(None)
    settings.configure(
        mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures),
            engine=mocks.MockEngine(logger),
            project=project,
            stack=stack_file.stack,
            dry_run=False,
            organization="organization",
            # Pulumi's root directory is the project's, where the stack file is: the stack's own workloads'
            # sources are relative to it (stacks/serving.py source_dir).
            root_directory=str(stack_file.path.parent),
            callbacks=None,
        )
    )
    set_all_config(stack_file.runtime_config(), sorted(stack_file.secret_keys))
    try:
        with _offline_sdk():
            _sync_await(pulumi_stack.run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
    finally:
        logger.removeHandler(collector)
        settings.ROOT.set(None)
    return ProgramRun(
        stack=stack_file.stack,
        resources=tree_order(monitor.registrations),
        outputs=monitor.stack_outputs,
        log=collector.lines,
    )
