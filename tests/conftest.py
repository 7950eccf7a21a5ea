"""Shared fixtures. `synth` runs the real Pulumi program under fresh mocks and returns what it registered.

Running a stack program is the suite's one expensive step, and a stack's plan depends only on its stack file
and the overrides a test layers on it. So each variant is synthesised (and each shipped stack planned) once per
test session: ``shipped_plan`` and ``synth`` keep the first result, pickled, and hand every test its own unpickled
copy, so a test that edits what it got cannot change what the next test sees (unpickling the kept bytes copies a
plan for about a tenth of what ``copy.deepcopy`` took: that was 5 s of the unit suite). A test that changes the
program itself (monkeypatching a module the program reads) must use ``synth_fresh``, which never reads or fills the
cache.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import gc
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import across_workers

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod", "dev-external")
# The stacks CI previews and deploys against real projects; dev-external is the shipped example of external
# Postgres/Redis (docs/external-datastores.md): planned offline on every PR, previewed once a team creates it.
DEPLOYED_STACKS = ("dev", "staging", "prod")
# The one prod configuration beyond the shipped file that the whole-stack tests share: a variant costs a whole
# program run (about one `grid plan`), so the overrides that need the whole stack are asked together, each asserted
# by its own test. A tagged rollout with api pinned to a revision (tests/grid/test_rollout.py) and a GPU ai kept
# warm (tests/stacks/test_first_run.py); what a config does to one component alone is tested on the component
# (tests/components/test_standalone.py's ``build_alone``), not on a variant of a stack.
PROD_VARIANT: dict[str, Any] = {
    "grid:rollout": {"stable": {"api": "grid-prod-api-00007-abc"}},
    "grid:services": {"ai": {"minInstances": 1}},
}
# The same for dev: an own service that exports app metrics while the bundled ai's export is off, at a 300 s
# interval (tests/stacks/test_workloads.py), and the access-token signing key's second generation
# (tests/stacks/test_signing_key_rotation.py). Each test asserts what its own overrides do; none touches the others'.
DEV_VARIANT: dict[str, Any] = {
    "grid:services": {
        "billing": {"source": "app/api", "route": "/billing", "exportsMetrics": True},
        "ai": {"exportsMetrics": False},
    },
    "grid:monitoring": {"metricsExportIntervalSeconds": 300},
    "grid:signingKey": {"generation": 2},
}


def stack_values(stack: str) -> dict[str, Any]:
    """The ``config:`` map of a shipped stack file, as written."""
    from grid.stackfile import load_yaml

    return load_yaml((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def deep_update(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on ``base`` key by key, as a stack file is merged onto its preset; ``base`` is left as it was."""
    from gridlib.config_base import deep_merge

    return deep_merge(copy.deepcopy(base), override)


def stack_config(stack: str, overrides: dict[str, Any] | None = None) -> Any:
    """The StackConfig the program loads for a shipped stack file with ``overrides`` merged into it (what
    ``synth(stack, overrides)`` would run on), without running the program: for what a config derives."""
    from grid.stackfile import read_stack_file
    from stacks.config import load_stack_config

    shipped = read_stack_file(REPO_ROOT, stack)
    values = deep_update(shipped.values, overrides or {})
    return load_stack_config(
        values, stack=stack, source=shipped.path.name, secret_keys=shipped.secret_keys, root=REPO_ROOT
    )


class Synth:
    """The result of one offline run: resources by type/name plus stack outputs."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.resources = run.resources
        self.outputs = run.outputs

    def of_type(self, resource_type: str) -> list[Any]:
        return [r for r in self.resources if r.type == resource_type]

    def one(self, resource_type: str, name_suffix: str = "") -> Any:
        matches = [r for r in self.of_type(resource_type) if r.name.endswith(name_suffix)]
        assert len(matches) == 1, f"expected one {resource_type} *{name_suffix}, got {[r.name for r in matches]}"
        return matches[0]

    def by_urn(self, urn: str) -> Any:
        return next(r for r in self.resources if r.urn == urn)


def kept(value: Any) -> bytes:
    """``value`` as the session keeps it: ``fresh(kept(value))`` is a copy sharing nothing mutable with ``value``."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def fresh(kept_value: bytes) -> Any:
    """A new copy of what ``kept`` kept."""
    return pickle.loads(kept_value)


# The session's variants are shared between xdist's workers through tests/across_workers.py.
_SHARED_OPTION = "grid_shared_dir"


_CONTROLLER_SHARED = pytest.StashKey[Path]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's controller, for each worker it starts: the session's directory of shared variants."""
    stash = node.config.stash
    if _CONTROLLER_SHARED not in stash:
        stash[_CONTROLLER_SHARED] = Path(tempfile.mkdtemp(prefix="grid-test-shared-"))
    node.workerinput[_SHARED_OPTION] = str(stash[_CONTROLLER_SHARED])


# Test files that import the same libraries, which no other file of the unit part imports, run on one worker:
# `--dist loadfile` hands files to whichever worker is free, and each worker that got one of these paid the import
# again (or parsed it again). The app services' (fastapi, httpx, numpy, the apps themselves: ~1.3 CPU s per
# process) are imported by the apps' route counts for metric pricing, `grid local`'s app registry and the
# getting-started guide's checks.
SAME_WORKER: dict[str, str] = {
    "tests/policies/test_metrics_pricing.py": "the app services",
    "tests/grid/test_local_apps.py": "the app services",
    "tests/delivery/test_docs.py": "the app services",
    # The project's import graph (tests/test_structure.py imports_of parses each module once per process).
    "tests/test_structure.py": "the import graph",
    "tests/components/test_images.py": "the import graph",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's controller: `--dist loadfile`, with each SAME_WORKER group of files one unit of work."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SAME_WORKER.get(path, path)

    return FilesScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and _SHARED_OPTION in workerinput:
        across_workers.shared_dir = Path(workerinput[_SHARED_OPTION])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CONTROLLER_SHARED in config.stash:
        shutil.rmtree(config.stash[_CONTROLLER_SHARED], ignore_errors=True)


def _plan_key(stack: str, project: str) -> str:
    return json.dumps(["plan", project, stack])


@functools.cache
def _shipped_plan(stack: str, project: str) -> bytes:
    def plan() -> bytes:
        from grid.plan import make_plan, project_spec

        return kept(make_plan(stack, root=project_spec(project).root, project=project))

    return across_workers.once(_plan_key(stack, project), plan)


def shipped_plan(stack: str, project: str = "grid") -> Any:
    """``make_plan(stack, project=project)`` of a shipped stack file: planned once per session, a copy per call."""
    return fresh(_shipped_plan(stack, project))


def run_program(stack_file: Any, **options: Any) -> Any:
    """``grid.engine.run_program`` with the cyclic collector paused, as ``grid plan`` runs it (``make_plan``): a
    collector pass in the middle of a program walks every object the run holds, 0.5-1.4 s each in the unit suite
    (about one per program run), and finds next to nothing; what dies is freed once the run returns."""
    from grid.engine import run_program as run
    from grid.plan import _no_cycle_collection

    with _no_cycle_collection():
        return run(stack_file, **options)


def _synthesise(stack: str, overrides: dict[str, Any], directory: Path) -> Any:
    """The program's run for a shipped stack file with ``overrides`` merged into its config."""
    from grid.stackfile import load_yaml, read_stack_file

    document = load_yaml((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    document["config"] = deep_update(document["config"], overrides)
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return run_program(read_stack_file(directory, stack))


@pytest.fixture(scope="session")
def _synth_runs() -> dict[str, bytes]:
    """Stack + overrides (as canonical JSON) → the program's run, ``kept``: the session's cache behind ``synth``."""
    return {}


@pytest.fixture
def synth(_synth_runs: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synth]:
    """``synth("prod", {"grid:database": {...}})``: run a shipped stack, optionally with config overrides.

    Each variant runs once per session; every call returns a copy of its own. A run that raises is not kept (the
    test expecting the error sees it each time)."""

    def run(stack: str, overrides: dict[str, Any] | None = None) -> Synth:
        key = json.dumps([stack, overrides or {}], sort_keys=True)
        if key not in _synth_runs:
            if overrides:
                directory = tmp_path_factory.mktemp(f"synth-{stack}")
                _synth_runs[key] = across_workers.once(key, lambda: kept(_synthesise(stack, overrides, directory)))
            else:  # the shipped stack as written: the very run its session plan made
                _synth_runs[key] = kept(shipped_plan(stack).run)
        return Synth(fresh(_synth_runs[key]))

    return run


@pytest.fixture
def synth_fresh(tmp_path: Path) -> Callable[..., Synth]:
    """``synth`` without the cache, for a test that changes the program before running it."""

    def run(stack: str, overrides: dict[str, Any] | None = None) -> Synth:
        return Synth(_synthesise(stack, overrides or {}, tmp_path))

    return run


@pytest.fixture(scope="session")
def postgres_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data directory of the session's one embedded PostgreSQL, for the tests that need a real one
    (tests/grid/test_db.py in the unit part, the scraper job's in the servers part):
    ``LocalPostgres(postgres_data, database=NAME).start()`` gives a test module a database of its own on the running
    server (initdb and a server start cost ~1.5 s each time).

    A throwaway server, so it never waits for the disk: without fsync, the databases the restore tests create and
    the shutdown checkpoint took up to 12 s on a machine whose disk other jobs kept busy."""
    import psycopg

    from grid.local import LocalPostgres

    root = tmp_path_factory.mktemp("postgres")
    server = LocalPostgres(root / "data")
    server.start()
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    yield root / "data"
    server.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Checkov over every scan target's plan (tests/grid/test_scanner.py ``start_scan``): started once per session."""
    from grid import scanner
    from tests.grid.test_scanner import start_scan

    plans = {target: shipped_plan(stack, project=project) for target, (project, stack) in scanner.targets().items()}
    return start_scan(plans, tmp_path_factory.mktemp("tfplans"))


# The suite's two parts (`make test` runs them one after the other, `--part unit` / `--part servers`): the servers part
# is the workloads' own code (the app services in tests/app, the jobs in tests/jobs, as app/ and jobs/ hold them) and
# `grid local`, which start real PostgreSQL, Redis, HTTP and service processes and time their answers, so it runs in
# one process; the unit part (everything else) runs on both cores under pytest-xdist.
APP_TESTS = REPO_ROOT / "tests" / "app"
SERVER_TESTS = (
    APP_TESTS,
    REPO_ROOT / "tests" / "jobs",
    *(REPO_ROOT / "tests" / "grid" / p for p in ("localcloud", "test_local.py", "test_local_redis.py")),
)
PARTS = ("unit", "servers")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--part", choices=PARTS, help="only the unit part or only the servers part of the suite (default: both)"
    )


def _is_server_test(path: Path) -> bool:
    return any(path == server or server in path.parents for server in SERVER_TESTS)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    part = config.getoption("--part")
    if part == "unit" and _is_server_test(collection_path):
        return True
    if part == "servers" and not _is_server_test(collection_path):
        # a directory that holds server tests is walked; any other path is left out
        return not any(collection_path in server.parents for server in SERVER_TESTS)
    return None


# Plugins only tests/app uses: schemathesis's (what the fuzz tests' ``schema.parametrize()`` needs) imports schemathesis
# and hypothesis, ~0.6 s of every start. pyproject's addopts keep it from loading with the other plugins
# (-p no:schemathesis); a session that collects tests/app loads it before collecting any of its modules.
APP_ONLY_PLUGINS = ("schemathesis",)


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> None:
    if path == APP_TESTS:
        manager = parent.config.pluginmanager
        for name in APP_ONLY_PLUGINS:
            if not manager.has_plugin(name):
                manager.unblock(name)
                manager.import_plugin(name, consider_entry_points=True)


# Hypothesis's pytest plugin imports the whole of hypothesis (~1.4 s) for its end-of-run summary, even in a session
# that never used it (the unit part does not; schemathesis's fuzz tests in tests/app do). What that summary reports
# (failing examples, observability files) only exists once hypothesis ran, so a session that never imported it
# drops the plugin before the summary.
HYPOTHESIS_PLUGIN = "hypothesispytest"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    if "hypothesis" not in sys.modules and manager.has_plugin(HYPOTHESIS_PLUGIN):
        manager.unregister(name=HYPOTHESIS_PLUGIN)


_SCAN_NEEDED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[_SCAN_NEEDED] = any("scan" in getattr(item, "fixturenames", ()) for item in items)


# The cyclic collector, for a process that holds the provider SDKs' many thousand classes for its whole life: it is
# off while the tests are collected (importing the test modules and what they import made ~0.45 s of collector passes
# in each process, and frees next to nothing); once they are, what they imported is frozen (no collection walks it
# again) and the collector runs less often, so that each older-generation pass, which walks every object alive, comes
# rarely (the collector's time in the unit part: 7.9 -> 5.0 CPU s; peak memory unchanged, docs/benchmarks.md). At
# exit, after pytest has run its own collections for unraisable exceptions, the heap is frozen as `grid plan` freezes
# it (grid/cli.py), sparing the interpreter's shutdown its collections over everything the session built (~2.5 CPU s).
GC_THRESHOLDS = (20_000, 20, 20)
gc.disable()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """xdist's controller collects nothing (its workers do): its collector is back on as its session starts."""
    if session.config.pluginmanager.has_plugin("dsession"):
        gc.enable()


atexit.register(gc.freeze)


@pytest.fixture(scope="session", autouse=True)
def _scan_beside_the_other_tests(request: pytest.FixtureRequest) -> None:
    """A session that runs the scanner's tests starts Checkov with its first test: Checkov runs in a process of its
    own, so the other tests run while it works instead of waiting for it in the middle of the run (it was the
    suite's largest single wait). The shipped plans it needs are the session's own, planned here first instead of
    by the first tests that ask for them."""
    if not request.config.stash.get(_SCAN_NEEDED, False):
        return
    if across_workers.shared_dir is None:
        with _warm_up():
            request.getfixturevalue("scan")
        return
    # Under xdist every worker collects every test, but only the worker that runs tests/grid/test_scanner.py
    # (`--dist loadfile`) starts Checkov, when that file's first test asks for it. Meanwhile the workers plan the
    # shipped stacks between them, each starting with what no other worker has started.
    from grid import scanner

    wanted = list(scanner.targets().values())
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        wanted.reverse()
    with _warm_up():
        for project, stack in wanted:
            if not across_workers.ready_elsewhere(_plan_key(stack, project)):
                _shipped_plan(stack, project)
        for project, stack in wanted:
            _shipped_plan(stack, project)


@contextlib.contextmanager
def _warm_up() -> Iterator[None]:
    """The session's first plans with the cyclic collector off, then what they left frozen, as
    ``pytest_collection_finish`` froze the collected tests: the program's modules and the provider SDKs' classes
    the first plans import live as long as the session, yet every collection walked them again (the first, as each
    plan ended, ~0.3 s; the last two are pytest's own at the end of the session). The plans' own garbage is frozen
    with them (~190k objects for the five shipped plans): the peak memory is the same (212 MB for the five in one
    process, frozen or collected), since the collector would have freed it only after the plans anyway."""
    from grid.plan import _no_cycle_collection

    with _no_cycle_collection():
        try:
            yield
        finally:
            gc.freeze()  # before the collector is back on: its first pass would walk all of it
