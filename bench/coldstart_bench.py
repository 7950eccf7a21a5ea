"""Cold starts of auth, api and korean-nlp against their floors, interleaved (results: docs/benchmarks.md).

A cold start is process start -> the first 200: `GET /ready` for the services (served as in their containers,
`python -m app.common.serve`), a real `POST /analyze` for korean-nlp (under functions-framework, as Cloud
Functions runs it). Each is reported as a ratio to its floor measured in the same run: the smallest FastAPI app
served the same way, and the smallest function under functions-framework (`bench/floor_app.py`). The code is
compiled to bytecode first, as the images are built. Every round
starts every subject once, in turn, so a burst of load on the shared machine hits them alike; the figures are
medians over the rounds. Beside the wall time, the CPU seconds the process tree used until that first 200: the
CPU does not wait for other jobs, so its ratio holds when the machine is busy.

"library floor" is the service floor importing the libraries auth and api use on every request (psycopg, redis-py,
PyJWT with cryptography, pydantic-settings): what a service pays above it is its own code.

"Kiwi alone" is a Python process that only imports kiwipiepy, builds the analyser with korean-nlp's options and
runs its first analysis: the part of korean-nlp's cold start that belongs to Kiwi, not to the function.

"auth + export" and "api + export" (``--metrics-export``): the service started as the stacks deploy it, with
METRICS_EXPORT on (pointed at an address nothing answers; the first write is a minute away), measured until the
export has been set up beside the start: CPU s of the process tree once it has gone idle after `/ready` (no CPU
used for IDLE_WINDOW), wall s to the last sample that still used CPU. ``--services-only`` leaves out korean-nlp and
Kiwi.

Run:  .venv/bin/python bench/coldstart_bench.py [--rounds 7] [--image-venv /tmp/grid-image-venv] [--write-docs]
      [--metrics-export] [--services-only] [--before DIR]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import app_bench  # noqa: E402

from grid.local import LocalPostgres, LocalRedis, free_port  # noqa: E402

BEFORE = " (before)"
"""Suffix of the subjects started from --before's checkout."""
EXPORT = " + export"
"""Suffix of the services started with METRICS_EXPORT on (--metrics-export)."""
IDLE_WINDOW = 0.3
"""Seconds without CPU use (less than IDLE_CPU) after which a started service counts as done starting."""
IDLE_CPU = 0.01
SECTION = "## Cold starts against their floors (auth, api, korean-nlp)"
KOREAN_NLP = ROOT / "app" / "functions" / "korean_nlp" / "main.py"
GOALS = {"auth": 1.3, "api": 1.3, "korean-nlp": 2.0}
FLOOR_OF = {"library floor": "service floor", "auth": "service floor", "api": "service floor",
            f"auth{EXPORT}": "service floor", f"api{EXPORT}": "service floor",
            "korean-nlp": "function floor", "Kiwi alone": "function floor"}  # fmt: skip


def kiwi_options() -> dict:
    """korean-nlp's KIWI_OPTIONS, read from its source (importing it would load the model)."""
    for node in ast.parse(KOREAN_NLP.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "KIWI_OPTIONS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{KOREAN_NLP} has no KIWI_OPTIONS")


def _tree_cpu(proc: subprocess.Popen[bytes]) -> float:
    root = psutil.Process(proc.pid)
    total = 0.0
    for p in (root, *root.children(recursive=True)):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def until_idle(proc: subprocess.Popen[bytes], started: float) -> dict:
    """Seconds (wall, CPU) until `proc`'s tree stops using CPU: its last sample still busy, once IDLE_WINDOW has
    passed without IDLE_CPU used (the metrics export's thread has finished setting up)."""
    samples = [(time.perf_counter(), _tree_cpu(proc))]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now, cpu = time.perf_counter(), _tree_cpu(proc)
        samples.append((now, cpu))
        window = [(t, c) for t, c in samples if now - t <= IDLE_WINDOW]
        if now - samples[0][0] >= IDLE_WINDOW and cpu - window[0][1] < IDLE_CPU:
            busy = next(t for t, c in samples if c >= cpu - IDLE_CPU)
            return {"wall": busy - started, "cpu": cpu}
    raise RuntimeError("the service never went idle")


def until_ok(
    cmd: list[str],
    env: dict[str, str],
    request: Callable[[httpx.Client], int] | None,
    cwd: Path = ROOT,
    *,
    idle: bool = False,
) -> dict:
    """Start `cmd`; seconds (wall and CPU) until `request` answers 200 (with `idle`, until it then goes idle), or
    until it exits 0 when there is none."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if request is None:
            _, err = proc.communicate(timeout=180)
            if proc.returncode != 0:
                raise RuntimeError(f"{cmd} failed: {err.decode()[-500:]}")
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
            return {"wall": wall, "cpu": cpu}
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    if request(client) == 200:
                        if idle:
                            return until_idle(proc, started)
                        return {"wall": time.perf_counter() - started, "cpu": _tree_cpu(proc)}
                except httpx.HTTPError:
                    pass
                time.sleep(0.005)
        raise RuntimeError(f"{cmd} did not answer")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def subjects(
    python: str,
    tmp: Path,
    pg: LocalPostgres,
    redis: LocalRedis,
    before: Path | None = None,
    *,
    metrics_export: bool = False,
    services_only: bool = False,
) -> dict[str, Callable[[], dict]]:
    """name -> a function that cold-starts it once; floors first in each round. With `before` (a checkout of an
    earlier commit), auth and api are also started from there, each right after its current version; with
    `metrics_export`, each also with METRICS_EXPORT on (see the module's docstring)."""
    ff = str(Path(sys.executable).with_name("functions-framework"))
    # As deployed (stacks/service_env.py): migrations are a Cloud Run job's, not each instance's start
    # (RUN_MIGRATIONS=false; measure() applies them once first). As app_bench: MALLOC_ARENA_MAX as in the
    # Dockerfiles; logs at WARNING.
    common = {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": redis.url, "ENVIRONMENT": "local",
              "RUN_MIGRATIONS": "false", "LOG_LEVEL": "WARNING", "MALLOC_ARENA_MAX": "2"}  # fmt: skip
    env = {
        "service floor": {},
        "library floor": {},
        "auth": {"JWT_KEY_FILE": str(tmp / "signing.pem")},
        # The api fetches the JWKS only when a token arrives; an address nothing listens on is enough for /ready.
        "api": {"JWKS_URL": "http://127.0.0.1:9/auth/.well-known/jwks.json"},
    }
    factory = {"service floor": "bench.floor_app:create_app", "library floor": "bench.floor_app:create_library_app",
               "auth": "app.auth.main:create_app", "api": "app.api.main:create_app"}  # fmt: skip

    def service(name: str, cwd: Path = ROOT, export: bool = False) -> Callable[[], dict]:
        # MONITORING_ENDPOINT: nothing answers there, and nothing is written before the first interval (60 s); the
        # exporter of a checkout before 2026-11-30's took host:port (gRPC), today's a base URL (REST).
        exporting = {
            "METRICS_EXPORT": "true",
            "GOOGLE_CLOUD_PROJECT": "grid-bench",
            "MONITORING_ENDPOINT": "127.0.0.1:9" if cwd != ROOT else "http://127.0.0.1:9",
        }

        def start() -> dict:
            port = free_port()
            return until_ok(
                [python, "-m", "app.common.serve", factory[name]],
                {**common, **env[name], **(exporting if export else {}), "PORT": str(port)},
                lambda c: c.get(f"http://127.0.0.1:{port}/ready").status_code,
                cwd,
                idle=export,
            )

        return start

    def function(target: str, source: Path, path: str, body: dict | None) -> Callable[[], dict]:
        def start() -> dict:
            port = free_port()
            url = f"http://127.0.0.1:{port}{path}"
            return until_ok(
                [ff, "--target", target, "--source", str(source), "--port", str(port)],
                {**common, "ENVIRONMENT": "dev", "PORT": str(port)},
                lambda c: c.post(url, json=body).status_code,
            )

        return start

    trees = [("", ROOT)] + ([(BEFORE, before)] if before else [])
    kiwi = f"from kiwipiepy import Kiwi; Kiwi(**{kiwi_options()!r}).tokenize('초기화')"
    exports = [("", False)] + ([(EXPORT, True)] if metrics_export else [])
    started = {
        "service floor": service("service floor"),
        "library floor": service("library floor"),
        **{
            f"{name}{kind}{suffix}": service(name, cwd, export)
            for name in ("auth", "api")
            for kind, export in exports
            for suffix, cwd in trees
        },
    }
    if services_only:
        return started
    return {
        **started,
        "function floor": function("floor", ROOT / "bench" / "floor_app.py", "/", None),
        "korean-nlp": function(
            "korean_nlp", KOREAN_NLP, "/fn/korean-nlp/analyze", {"text": "서울은 한국의 수도입니다."}
        ),
        "Kiwi alone": lambda: until_ok([sys.executable, "-c", kiwi], dict(os.environ), None),
    }


def compile_bytecode(*pythons: str, root: Path = ROOT) -> None:
    """Compile app/ and bench/ to bytecode with each interpreter, as the images do at build time (`RUN python -m
    compileall -q app`: the runtime cannot write .pyc). Without it, a run under PYTHONDONTWRITEBYTECODE compiles
    the services' own modules from source on every start, which their floor (one small module) hardly pays."""
    for python in dict.fromkeys(pythons):
        subprocess.run([python, "-m", "compileall", "-q", "app", "bench"], cwd=root, check=True)


def measure(rounds: int, python: str, before: Path | None = None, **options: bool) -> dict[str, dict]:
    compile_bytecode(python, sys.executable)
    if before:
        compile_bytecode(python, root=before)
    tmp = Path(tempfile.mkdtemp(prefix="grid-coldstart-"))
    pg, redis = LocalPostgres(tmp / "pg"), LocalRedis(tmp / "redis", persist=False)
    try:
        pg.start()
        redis.start()
        from app.common.migrations import apply_migrations

        asyncio.run(apply_migrations(pg.url))
        starts = subjects(python, tmp, pg, redis, before, **options)
        for start in starts.values():  # warm the page cache, write the signing key, apply the migrations
            start()
        runs: dict[str, list[dict]] = {name: [] for name in starts}
        for _ in range(rounds):
            for name, start in starts.items():
                runs[name].append(start())
        return {
            name: {
                "wall": statistics.median(r["wall"] for r in results),
                "cpu": statistics.median(r["cpu"] for r in results),
                "runs": len(results),
            }
            for name, results in runs.items()
        }
    finally:
        redis.stop()
        pg.close()
        shutil.rmtree(tmp, ignore_errors=True)


def render(out: dict[str, dict], args: argparse.Namespace, load: tuple[float, float]) -> str:
    rows = []
    for name, r in out.items():
        floor = FLOOR_OF.get(name.removesuffix(BEFORE))
        name = f"{name} (to idle)" if EXPORT in name else name
        ratio = cpu_ratio = goal = ""
        if floor:
            ratio = f"**{r['wall'] / out[floor]['wall']:.2f}x**"
            cpu_ratio = f"{r['cpu'] / out[floor]['cpu']:.2f}x"
            goal = f"<= {GOALS[name]:g}x" if name in GOALS else ""
        rows.append(f"| {name} | {r['wall']:.2f} | {ratio} | {r['cpu']:.2f} | {cpu_ratio} | {goal} |")
    venv = " from a venv holding only the services' image requirements" if args.image_venv else ""
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {time.strftime('%Y-%m-%d')} by `bench/coldstart_bench.py` on {os.cpu_count()} cores "
            f"({platform.processor() or platform.machine()}), Python {platform.python_version()}{venv}; load average "
            f"{load[0]:.1f} before the run and {load[1]:.1f} after it. Medians of {args.rounds} rounds; each round "
            "starts every subject once, in turn. Cold start: process start -> first 200 (`GET /ready` for the "
            "services, `POST /fn/korean-nlp/analyze` for korean-nlp, the function floor's `POST /`), with the bytecode "
            "compiled first and `RUN_MIGRATIONS=false`, as deployed; CPU: user + "
            "system seconds of the process tree by then. Floors (`bench/floor_app.py`): the smallest FastAPI app "
            "under `python -m app.common.serve`, the smallest function under functions-framework. Library floor: the "
            "same app importing the libraries auth and api use on every request (`create_library_app`: psycopg and "
            "its pool, redis-py, PyJWT with cryptography, pydantic-settings). Kiwi alone: `python -c` importing "
            "kiwipiepy, building `Kiwi(**KIWI_OPTIONS)` and running its first analysis."
            + (
                " Rows marked (before): auth and api started from a checkout of an earlier commit (`--before`), "
                "in the same rounds, each right after its current version."
                if args.before
                else ""
            ),
            "",
            "| subject | cold start s | / floor | CPU s | CPU / floor | goal |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            *reading(out),
        ]
    )


def reading(out: dict[str, dict]) -> list[str]:
    """What the figures say, from this run's numbers (so a re-run keeps text and table in step)."""
    if "korean-nlp" not in out:  # --services-only
        return [""]
    ff, kiwi, knlp = out["function floor"]["cpu"], out["Kiwi alone"]["cpu"], out["korean-nlp"]["cpu"]
    sf, lib = out["service floor"]["cpu"], out["library floor"]["cpu"]
    return [
        f"- korean-nlp: Kiwi by itself (a bare `python -c`, no web framework, to its exit) uses {kiwi:.2f} CPU s, "
        f"{kiwi / ff:.1f}x the whole function floor ({ff:.2f} s), so a korean-nlp start, which is the floor plus "
        f"Kiwi, cannot come within 2x of the floor while it loads this model: {knlp:.2f} s = floor + "
        f"{knlp - ff:.2f} s, all of it Kiwi's (its import, reading the 76 MB CoNg model and dictionaries, and the "
        "initialisation Kiwi defers to the first analysis). The function adds nothing else before its first answer.",
        f"- auth and api: {out['auth']['cpu'] - sf:.2f} and {out['api']['cpu'] - sf:.2f} CPU s above the floor's "
        f"{sf:.2f} s. The libraries every real request uses cost {lib - sf:.2f} s of it by themselves (the library "
        f"floor, {lib / sf:.2f}x the floor), "
        + (
            f"so within 1.3x of the floor a service would have {1.3 * sf - lib:.2f} s left for its own code"
            if lib < 1.3 * sf
            else "so the libraries alone leave nothing within 1.3x of the floor for a service's own code"
        )
        + f" (its modules, settings, models and routes, opening the pool and reaching Redis), which takes "
        f"{out['auth']['cpu'] - lib:.2f} s in auth and {out['api']['cpu'] - lib:.2f} s in api.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--image-venv", type=Path, help="run the services from this venv (see bench/app_bench.py)")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--before",
        type=Path,
        help="also start auth and api from this checkout of an earlier commit, in the same rounds "
        "(git archive <rev> | tar -x -C DIR)",
    )
    parser.add_argument(
        "--metrics-export", action="store_true", help="also start auth and api with METRICS_EXPORT on, to idle"
    )
    parser.add_argument("--services-only", action="store_true", help="leave out korean-nlp and Kiwi")
    args = parser.parse_args()
    python = app_bench.image_venv(args.image_venv) if args.image_venv else sys.executable
    before = os.getloadavg()[0]
    out = measure(
        args.rounds, python, args.before, metrics_export=args.metrics_export, services_only=args.services_only
    )
    section = render(out, args, (before, os.getloadavg()[0]))
    print(section)
    if args.write_docs:
        app_bench.write_section(ROOT / "docs" / "benchmarks.md", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
