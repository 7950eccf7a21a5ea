"""The project's import structure: which layer may import which, and no import circles.

Read statically from the source (every ``import``, at module level or inside a function, since a function-level
import still ties the two modules together), so a violation is found without importing anything. Imports under
``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import functools
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGES = ("app", "bootstrap", "components", "grid", "gridlib", "jobs", "policies", "stacks")

# Layer -> top-level packages it must not import. components/ are reusable on their own: only the shared
# gridlib/ (which imports nothing of the project) comes with them. The stack program sits below the tools
# (grid/) and the policy pack. The app services are built into their own images, without the platform code.
FORBIDDEN: dict[str, frozenset[str]] = {
    "gridlib": frozenset(PACKAGES) - {"gridlib"},
    "components": frozenset({"app", "bootstrap", "grid", "policies", "stacks"}),
    "stacks": frozenset({"app", "grid", "policies"}),
    # A published policy pack is its own directory (policies/__main__.py): nothing else of the project comes along.
    "policies": frozenset(PACKAGES) - {"policies"},
    "app": frozenset({"bootstrap", "components", "grid", "gridlib", "jobs", "policies", "stacks"}),
    # The jobs are built into their own images too, with only the shared app code they copy (app/common).
    "jobs": frozenset({"bootstrap", "components", "grid", "gridlib", "policies", "stacks"}),
}

# Imports a layer rule would refuse but that are deliberate, with the reason.
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("stacks.config", "policies.pricing"): "grid:usage is checked against the price catalog's own vocabulary "
    "(USAGE_KEYS); the pack is self-contained, so the catalog cannot take it from gridlib/",
    ("app.envdoc", "gridlib.workloads"): "the env docs table lists the registry's services; envdoc is a docs "
    "generator run from the checkout, never part of a service image",
}

# Import edges that close a circle on purpose, with the reason (the one edge of each circle that is imported
# late: inside a function, or at the end of the module). Keep this short.
CIRCLE_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("grid.local", "grid.localcloud.runner"): "`grid local` starts the runner only when asked, so planning never "
    "imports the local cloud; the runner reuses grid.local's Postgres/Redis launchers",
    ("grid.pulumi_cli", "grid.rollout"): "a deploy reads the recorded rollout back; the rollout command runs "
    "pulumi through grid.pulumi_cli",
    ("stacks.config", "stacks.naming"): "StackConfig checks every name Names derives from it while it validates; "
    "the workload registry (issue 15 item 2) takes the workload list out of stacks.config",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def project_modules() -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages."""
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        if not any(part.startswith(".") or part == "node_modules" for part in path.relative_to(REPO_ROOT).parts)
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in (child, *_walk_runtime(child)))
            continue
        yield node
        yield from _walk_runtime(node)


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (``a.b.c`` may be a module, or a name in module ``a.b``)."""
    while name and name not in project_modules():
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def imports_of(module: str) -> frozenset[str]:
    """The project modules ``module`` imports at run time (anywhere in it, functions included). Parsed once per
    process: tests/components/test_images.py asks for the modules the images copy (and runs on the same worker as
    this file, tests/conftest.py SAME_WORKER)."""
    path = project_modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk_runtime(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        found.update(target for name in names if (target := _resolve(name)) and target != module)
    return frozenset(found)


@pytest.fixture(scope="module")
def graph() -> dict[str, frozenset[str]]:
    """Module -> the project modules it imports at run time. Built when this file's tests run, not when it is
    collected: parsing every module costs ~1 s, which each worker of the suite would pay otherwise."""
    return {module: imports_of(module) for module in project_modules()}


def test_the_graph_sees_the_project(graph: dict[str, frozenset[str]]) -> None:
    """The analysis finds the modules and the edges we know exist, so the rules below test something."""
    assert {"components.database", "stacks.config", "gridlib.gcp_limits", "grid.cli"} <= set(graph)
    assert "components.database" in graph["stacks.config"]
    assert "stacks.serving" in graph["stacks.program"]  # imported inside main(): function-level imports count


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(graph: dict[str, frozenset[str]], layer: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[0] == layer
        for target in targets
        if target.split(".")[0] in FORBIDDEN[layer] and (module, target) not in LAYER_EXCEPTIONS
    )
    assert not wrong, f"{layer}/ must not import {', '.join(sorted(FORBIDDEN[layer]))}:\n" + "\n".join(wrong)


def _circles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Every import circle: the modules that reach each other, one group per circle (graphlib names one only)."""
    circles = []
    remaining = dict(graph)
    while True:
        try:
            graphlib.TopologicalSorter(remaining).prepare()
            return circles
        except graphlib.CycleError as error:
            circle = list(dict.fromkeys(error.args[1]))
            circles.append(circle)
            # Go on without the closing edge, to find the others.
            remaining = {**remaining, circle[-1]: remaining[circle[-1]] - {circle[0]}}


def test_no_modules_import_each_other_in_a_circle(graph: dict[str, frozenset[str]]) -> None:
    kept = {module: {t for t in targets if (module, t) not in CIRCLE_EXCEPTIONS} for module, targets in graph.items()}
    circles = _circles(kept)
    assert not circles, "import circles (break them, or move the shared piece down):\n" + "\n".join(
        " -> ".join([*circle, circle[0]]) for circle in circles
    )


def test_exceptions_are_real_edges(graph: dict[str, frozenset[str]]) -> None:
    """A listed exception that no longer exists is removed from the list, so it cannot hide a new violation."""
    stale = [edge for edge in [*LAYER_EXCEPTIONS, *CIRCLE_EXCEPTIONS] if edge[1] not in graph.get(edge[0], set())]
    assert not stale, f"not imports any more, drop them from the exceptions: {stale}"


def test_the_self_contained_pack_states_the_shared_facts_as_gridlib_does() -> None:
    """The policy pack cannot import gridlib/ (it is published alone), so it keeps its own copy of the facts it
    shares with the stack program; they must not drift apart."""
    from gridlib import gcp_limits, labels, workloads
    from policies import gcp, operations

    assert gcp.SERVICE_LABEL == labels.SERVICE_LABEL
    assert gcp.EXTERNAL_LABEL == labels.EXTERNAL_LABEL
    assert operations.BACKGROUND_LABEL == labels.BACKGROUND_LABEL
    assert {w.name for w in workloads.bundled("service")} == gcp.BUNDLED_SERVICES
    for fact in ("RESERVED_CONNECTIONS", "APP_DEFAULT_POOL", "RUN_DEFAULT_MAX_INSTANCES", "_DEFAULT_MAX_CONNECTIONS"):
        assert getattr(gcp, fact) == getattr(gcp_limits, fact), fact
