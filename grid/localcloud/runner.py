"""`grid local --stack NAME`: plan the stack offline, then run what the plan deploys.

One asyncio process holds the emulated Google side (front ends, metadata servers, Pub/Sub, Scheduler, the
entry point, TLS in front of the embedded databases); each Cloud Run service, job and function runs as its own
child process with the plan's environment. Plan addresses (run.app URLs, the SQL and Redis private IPs) are
mapped to the local listeners in env values and secret payloads alike, as DNS and the VPC would route them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.common.pgconnect import system_cas
from grid.engine import REPO_ROOT, run_program
from grid.local import LocalPostgres, LocalRedis, reserve_port
from grid.localcloud.cloud import LocalCloud
from grid.localcloud.entry import ApiKeys, GatewayEntry, LoadBalancerEntry
from grid.localcloud.frontdoor import FrontDoor
from grid.localcloud.identity import Issuer, certs_route, metadata_routes
from grid.localcloud.monitoring import CloudMonitoring, monitoring_routes
from grid.localcloud.pki import LocalPki, ServerCert
from grid.localcloud.proxy import Forwarder
from grid.localcloud.pubsub import PubSub, pubsub_routes
from grid.localcloud.tasks import CloudTasks, HttpTask, tasks_routes
from grid.localcloud.tls import TlsTerminator
from grid.localcloud.topology import (
    ApiGateway,
    LoadBalancer,
    SchedulerJob,
    Subscription,
    Topology,
    Workload,
    read_topology,
    run_job_target,
)
from grid.plan import project_root, project_spec, validate
from grid.stackfile import read_stack_file

log = logging.getLogger("grid.localcloud")
# The ordinary role docs/external-datastores.md has a user create on their provider's Postgres.
EXTERNAL_ROLE = "grid_app"

# What the container platform sets or the machine needs besides the plan's env: the port to listen on, where
# the metadata server and Pub/Sub are, and what any process needs to start (PATH, HOME, locale, temp dir).
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "OMP_NUM_THREADS")
MEMORY_POLL_S = 0.5


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the local cloud (many servers share one event loop)."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Running:
    workload: Workload
    door: FrontDoor
    internet: socket.socket
    vpc: socket.socket
    lb: socket.socket
    google: socket.socket
    port: int
    proc: subprocess.Popen[bytes] | None = None
    peak_rss_mib: float = 0.0
    exceeded: bool = False
    log_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)
    reservation: socket.socket | None = field(default=None, repr=False)
    """Holds ``port`` for the workload's process while it runs (grid.local.reserve_port)."""


def plan_topology(stack: str, pki: LocalPki) -> Topology:
    spec = project_spec()
    stack_file = read_stack_file(project_root(spec), stack, spec.name)
    validate(stack_file, spec)  # bad config: one line per problem, as `grid plan` says it
    run = run_program(stack_file, cloud=partial(LocalCloud, ca_pem=pki.ca_pem), reveal=True)
    return read_topology(run)


async def _behind_tls(
    upstream: int | str, cert: ServerCert, terminators: list[TlsTerminator], *, postgres: bool, require_tls: bool = True
) -> int:
    """TLS with ``cert`` in front of ``upstream`` (a port, or the embedded Postgres's Unix socket); its port. The
    terminator joins ``terminators``, which the shutdown stops."""
    terminator = TlsTerminator(
        upstream, str(cert.cert_file), str(cert.key_file), postgres=postgres, require_tls=require_tls
    )
    port = await terminator.start()
    terminators.append(terminator)
    return port


def _grant_public_schema(postgres: LocalPostgres) -> None:
    """docs/external-datastores.md's one-time setup on the provider: the role may use and create in ``public``."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(postgres.admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(postgres.role)))


class LocalCloudRunner:
    def __init__(self, stack: str, port: int, data_dir: Path, *, retry_scale: float = 1.0) -> None:
        self.stack = stack
        self.port = port
        self.data_dir = data_dir
        self.retry_scale = retry_scale
        self.api_keys = ApiKeys()
        self.api_key: str | None = None
        """The stack's own API key (API Gateway stacks): what a client of the entry point sends."""
        self.servers: list[_Server] = []
        self.server_tasks: list[asyncio.Future[None]] = []
        self.running: dict[str, Running] = {}
        self.stopping = asyncio.Event()
        self.failure: str | None = None

    # -- the address book -----------------------------------------------------------------------------------

    def translate(self, value: str) -> str:
        """A plan value with plan addresses replaced by the local listeners that stand for them."""
        for plan_address, local in self.addresses:
            value = value.replace(plan_address, local)
        return value

    def plan_address(self, value: str) -> str:
        """The inverse of ``translate``: a local listener's URL as the plan names it."""
        for plan_address, local in self.addresses:
            rest = value[len(local) :]
            if value.startswith(local) and rest[:1] in ("", "/", "?"):  # :4000 is no prefix of :40001
                return plan_address + rest
        return value

    def internet_url(self, plan_url: str) -> str:
        for running in self.running.values():
            for url in running.workload.urls:
                if plan_url.startswith(url):
                    return _url(running.internet) + plan_url[len(url) :]
        raise LookupError(f"no workload serves {plan_url}")

    def _door_for(self, plan_url: str) -> tuple[Running, str]:
        for running in self.running.values():
            for url in running.workload.urls:
                if plan_url.startswith(url):
                    return running, plan_url[len(url) :] or "/"
        raise LookupError(f"no workload serves {plan_url}")

    async def google_call(
        self,
        plan_url: str,
        method: str,
        identity: str | None,
        audience: str | None,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        """A call Google's infrastructure makes (Pub/Sub push, Cloud Scheduler): OIDC token, internal origin."""
        running, path = self._door_for(plan_url)
        if identity:
            headers = {**headers, "Authorization": f"Bearer {self.issuer.id_token(identity, audience or plan_url)}"}
        transport = httpx.ASGITransport(app=running.door.app("google"), client=("35.187.0.1", 443))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://google.internal", timeout=running.workload.timeout_s
        ) as client:
            resp = await client.request(method, path, content=body, headers=headers)
        return resp.status_code

    async def _push(self, sub: Subscription, envelope: dict[str, Any]) -> int:
        assert sub.push_endpoint
        return await self.google_call(
            sub.push_endpoint,
            "POST",
            sub.push_identity,
            sub.push_audience,
            json.dumps(envelope).encode(),
            {"Content-Type": "application/json"},
        )

    async def _dispatch_task(self, task: HttpTask) -> int:
        """One attempt of a Cloud Tasks HTTP task (https://cloud.google.com/tasks/docs/creating-http-target-tasks)."""
        headers = {**task.headers, "User-Agent": "Google-Cloud-Tasks", "X-CloudTasks-TaskName": task.name}
        url = self.plan_address(task.url)  # the app was told the local listener; Google calls the plan's URL
        return await self.google_call(url, task.method, task.identity, task.audience, task.body, headers)

    async def trigger(self, job: SchedulerJob) -> int:
        """Run a Cloud Scheduler job now (https://cloud.google.com/scheduler/docs/http-target-auth)."""
        if (target := run_job_target(job.uri)) is not None:
            running = next((r for r in self.running.values() if r.workload.resource_name == target), None)
            if running is None:
                raise LookupError(target)
            try:
                await self._run_job(running)
            except RuntimeError:
                log.exception("scheduled job %s failed", target)
                return 500
            return 200
        return await self.google_call(
            job.uri,
            job.method,
            job.identity,
            job.audience,
            job.body,
            {"Content-Type": "application/json", "User-Agent": "Google-Cloud-Scheduler"},
        )

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def serve(self, app: Any, sock: socket.socket) -> None:
        config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False, ws_ping_interval=None)
        server = _Server(config)
        self.servers.append(server)
        self.server_tasks.append(asyncio.ensure_future(server.serve(sockets=[sock])))

    async def run(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        pki = LocalPki(self.data_dir / "pki")
        topology = await asyncio.to_thread(plan_topology, self.stack, pki)
        self.topology = topology
        self.pki = pki
        self.system_cas = self._system_cas() if topology.external else None
        self.issuer = Issuer(pki.issuer_key)
        self.forwarder = Forwarder()
        self.addresses: list[tuple[str, str]] = []
        postgres: LocalPostgres | None = None
        redis: LocalRedis | None = None
        terminators: list[TlsTerminator] = []
        try:
            if topology.database is not None:
                db = topology.database
                postgres = LocalPostgres(
                    self.data_dir / "postgres", role=db.user, database=db.name, password=db.password
                )
                await asyncio.to_thread(postgres.start)
                # Like the instance's: its CA is the one the plan hands the services as DATABASE_CA_CERT.
                cert = pki.server_cert("cloudsql-instance", subject=db.server_name)
                pg_port = await _behind_tls(
                    postgres.socket_path, cert, terminators, postgres=True, require_tls=db.tls_required
                )
                self.addresses.append((db.address, f"127.0.0.1:{pg_port}"))
            if topology.cache is not None:
                cache = topology.cache
                if not cache.auth:
                    raise RuntimeError(
                        "the plan's Memorystore instance has no AUTH; the local Redis always requires it "
                        "(set grid:cache.authEnabled, or see docs/local-cloud.md)"
                    )
                redis = LocalRedis(self.data_dir / "redis", persist=True, password=cache.password)
                await asyncio.to_thread(redis.start)
                redis_port = redis.port
                if cache.tls:
                    redis_port = await _behind_tls(
                        redis_port, pki.server_cert("memorystore"), terminators, postgres=False
                    )
                self.addresses.append((cache.address, f"127.0.0.1:{redis_port}"))
            if "postgres" in topology.external:
                postgres = await self._external_postgres(terminators)
            if "redis" in topology.external:
                redis = await self._external_redis(terminators)

            self.monitoring = CloudMonitoring.declared(topology.metric_descriptors, topology.metric_writers)
            self.pubsub = PubSub(topology.topics, topology.subscriptions, self._push, retry_scale=self.retry_scale)
            self.tasks = CloudTasks(
                topology.task_queues, topology.act_as, self._dispatch_task, retry_scale=self.retry_scale
            )
            for workload in topology.workloads.values():
                door = FrontDoor(workload, self.issuer, self.forwarder)
                reservation = reserve_port()
                running = Running(
                    workload,
                    door,
                    _listen(),
                    _listen(),
                    _listen(),
                    _listen(),
                    port=reservation.getsockname()[1],
                    reservation=reservation,
                )
                door.upstream = f"http://127.0.0.1:{running.port}"
                door.audiences |= {_url(running.internet), _url(running.vpc)}
                self.running[workload.name] = running
                # Other workloads reach this one through its VPC listener.
                self.addresses += [(url, _url(running.vpc)) for url in workload.urls]
                await self.serve(door.app("internet"), running.internet)
                await self.serve(door.app("vpc"), running.vpc)
                await self.serve(door.app("lb"), running.lb)
                google = Starlette(
                    routes=[
                        *metadata_routes(self.issuer, workload.service_account, topology.project),
                        certs_route(self.issuer),
                        *pubsub_routes(self.pubsub, f"serviceAccount:{workload.service_account}"),
                        *tasks_routes(self.tasks, f"serviceAccount:{workload.service_account}"),
                        *monitoring_routes(self.monitoring, f"serviceAccount:{workload.service_account}"),
                    ]
                )
                await self.serve(google, running.google)
            self.pubsub.start()
            self.tasks.start()
            entry = self._entry(topology)
            entry_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            entry_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            entry_sock.bind(("127.0.0.1", self.port))
            entry_sock.listen(128)
            entry_sock.setblocking(False)
            self.port = entry_sock.getsockname()[1]
            # DNS: the entry point's public hostnames lead to it (the JWKS URL in staging/prod names one).
            entry_hosts = entry.lb.domains if isinstance(entry, LoadBalancerEntry) else []
            if isinstance(entry, GatewayEntry):
                entry_hosts = entry.hostnames
            self.addresses += [(f"https://{host}", f"http://127.0.0.1:{self.port}") for host in entry_hosts]
            if entry is not None:
                await self.serve(entry, entry_sock)
            control = _listen()
            await self.serve(self._control_app(), control)

            watcher = asyncio.ensure_future(self._watch_memory())
            # Jobs without a schedule are release steps (migrations): they run before anything serves. A scheduled
            # job runs when its schedule is triggered (`grid local trigger <job>`), as in the cloud.
            scheduled = {run_job_target(j.uri) for j in topology.scheduler.values()}
            for running in self.running.values():
                if running.workload.kind == "job" and running.workload.resource_name not in scheduled:
                    await self._run_job(running)
            for running in self.running.values():
                if running.workload.kind != "job":
                    self._start(running)
            await self._wait_ready()
            self._write_topology(control)
            log.info(
                "grid local --stack %s: entry on http://127.0.0.1:%d (data in %s)", self.stack, self.port, self.data_dir
            )
            await self.stopping.wait()
            watcher.cancel()
            return 0 if self.failure is None else 1
        finally:
            await self._shutdown(postgres, redis, terminators)

    # -- stores outside Google Cloud (grid:database/cache external: Supabase, Upstash) ----------------------

    async def _external_postgres(self, terminators: list) -> LocalPostgres:
        """A stand-in for the provider's Postgres, set up as docs/external-datastores.md tells a user to set up
        Supabase: an ordinary role (the services refuse one that bypasses row-level security) with usage and create
        on the public schema of the database ``postgres``, pgvector created by the administrator; reached over TLS
        the services verify in full (name and chain) on the pooler's terms (``pgbouncer=true``: no prepared
        statements). Its URL replaces the stack's secret, which the local cloud cannot decrypt."""
        postgres = LocalPostgres(
            self.data_dir / "postgres", role=EXTERNAL_ROLE, database="postgres", password=secrets.token_urlsafe(24)
        )
        await asyncio.to_thread(postgres.start)
        await asyncio.to_thread(_grant_public_schema, postgres)
        cert = self.pki.server_cert("external-postgres")  # named for 127.0.0.1 and localhost, as a provider's host
        port = await _behind_tls(postgres.socket_path, cert, terminators, postgres=True)
        self.topology.secrets[self.topology.external["postgres"]] = (
            f"postgresql://{EXTERNAL_ROLE}:{postgres.password}@127.0.0.1:{port}/postgres"
            "?sslmode=verify-full&pgbouncer=true"
        )
        return postgres

    async def _external_redis(self, terminators: list) -> LocalRedis:
        """A stand-in for the provider's Redis (Upstash): AUTH as ``default`` and TLS whose certificate the services
        verify against the system's CAs with the host name checked, as they do Upstash's public one."""
        redis = LocalRedis(self.data_dir / "redis", persist=True)
        await asyncio.to_thread(redis.start)
        port = await _behind_tls(redis.port, self.pki.server_cert("external-redis"), terminators, postgres=False)
        self.topology.secrets[self.topology.external["redis"]] = f"rediss://default:{redis.password}@127.0.0.1:{port}"
        return redis

    def _system_cas(self) -> Path:
        """The CA bundle a workload process trusts as its system's: the machine's own (found as the services find
        theirs) plus the local CA, which signs the stand-ins of the providers' publicly trusted certificates."""
        machine = system_cas()
        bundle = self.data_dir / "pki" / "system-cas.pem"
        bundle.write_text((Path(machine).read_text() if machine != "system" else "") + self.pki.ca_pem)
        return bundle

    def _entry(self, topology: Topology) -> Any:
        entry = topology.entry
        if isinstance(entry, LoadBalancer):
            return LoadBalancerEntry(
                entry,
                {n: r.door for n, r in self.running.items()},
                {n: _url(r.lb) for n, r in self.running.items()},
                self.forwarder,
            )
        if isinstance(entry, ApiGateway):
            # The stack's own project gets one API key, as `gcloud services api-keys create` would make it.
            self.api_key = self.api_keys.create(topology.project)
            return GatewayEntry(entry, self.issuer, self.internet_url, self.forwarder, self.api_keys)
        return None

    def _env(self, running: Running) -> dict[str, str]:
        workload = running.workload
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update({k: self.translate(v) for k, v in workload.env.items()})
        for variable, secret in workload.secret_env.items():
            if secret not in self.topology.secrets:
                raise RuntimeError(f"{workload.name}: {variable} names secret {secret}, which the plan does not create")
            env[variable] = self.translate(self.topology.secrets[secret])
        if self.topology.external:
            # The stand-ins' certificates come from the local CA: it takes the place of the provider's CA the stack
            # pins (caCert), and joins the system's CAs the services trust otherwise (SSL_CERT_FILE, which OpenSSL
            # and app/common/pgconnect.py read).
            for variable, store in (("DATABASE_CA_CERT", "postgres"), ("REDIS_CA_CERT", "redis")):
                if variable in env and store in self.topology.external:
                    env[variable] = self.pki.ca_pem
            env["SSL_CERT_FILE"] = str(self.system_cas)
        google = running.google.getsockname()
        env.update(
            {
                "PORT": str(running.port),
                "HOST": "127.0.0.1",
                "GCE_METADATA_HOST": f"127.0.0.1:{google[1]}",
                "GCE_METADATA_IP": f"127.0.0.1:{google[1]}",
                "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{google[1]}",
                "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{google[1]}",
                # App metrics go to the local Cloud Monitoring API (grid/localcloud/monitoring.py), as the plan's
                # METRICS_EXPORT and interval say; it checks the writer's grant and the plan's descriptors.
                "MONITORING_ENDPOINT": f"http://127.0.0.1:{google[1]}",
                # Google's OAuth2 signing keys, for apps that verify Google-signed tokens themselves (ai's push).
                "GOOGLE_CERTS_URL": f"http://127.0.0.1:{google[1]}/oauth2/v3/certs",
                "PYTHONPATH": str(REPO_ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _command(self, running: Running) -> list[str]:
        command = list(running.workload.command)
        if command[0] == "python":
            command[0] = sys.executable
        if running.workload.kind == "function":
            command += ["--host", "127.0.0.1", "--port", str(running.port)]
        return command

    def _spawn(self, running: Running) -> subprocess.Popen[bytes]:
        running.env = self._env(running)
        running.log_file = self.data_dir / "logs" / f"{running.workload.name}.log"
        out = running.log_file.open("ab")
        return subprocess.Popen(
            self._command(running), env=running.env, cwd=str(REPO_ROOT), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    async def _run_job(self, running: Running) -> None:
        """A Cloud Run job's one execution (migrations run before any new revision serves)."""
        running.proc = self._spawn(running)
        code = await asyncio.to_thread(running.proc.wait)
        if code != 0:
            raise RuntimeError(f"job {running.workload.name} failed with exit code {code}; see {running.log_file}")

    def _start(self, running: Running) -> None:
        running.proc = self._spawn(running)

    async def _wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            for running in self.running.values():
                if running.workload.kind == "job":
                    continue
                while True:
                    if running.proc is not None and running.proc.poll() is not None:
                        raise RuntimeError(
                            f"{running.workload.name} exited with {running.proc.returncode}; see {running.log_file}"
                        )
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{running.workload.name} did not become ready; see {running.log_file}")
                    try:
                        # Cloud Run's startup probe for services; any HTTP answer for a function.
                        path = "/health" if running.workload.kind == "service" else "/"
                        resp = await client.get(f"http://127.0.0.1:{running.port}{path}")
                        if running.workload.kind != "service" or resp.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)

    async def _watch_memory(self) -> None:
        """Peak RSS per workload (process tree), and the memory limit enforced as Cloud Run does: an instance
        over its limit is stopped (https://cloud.google.com/run/docs/configuring/services/memory-limits)."""
        while True:
            for running in self.running.values():
                proc = running.proc
                if proc is None or proc.poll() is not None:
                    continue
                try:
                    rss = _tree_memory_mib(proc.pid)
                except psutil.Error:
                    continue
                running.peak_rss_mib = max(running.peak_rss_mib, rss)
                if rss > running.workload.memory_mib and not running.exceeded:
                    running.exceeded = True
                    self.failure = f"{running.workload.name} exceeded its memory limit ({rss:.0f} > {running.workload.memory_mib} MiB)"
                    log.error("%s: stopped", self.failure)
                    proc.kill()
            await asyncio.sleep(MEMORY_POLL_S)

    def _write_topology(self, control: socket.socket) -> None:
        entry = self.topology.entry
        host = (
            entry.hostname
            if isinstance(entry, ApiGateway)
            else (entry.domains[0] if isinstance(entry, LoadBalancer) and entry.domains else None)
        )
        document = {
            "stack": self.stack,
            "entry": f"http://127.0.0.1:{self.port}",
            "host": host,
            "apiKey": self.api_key,
            "control": _url(control),
            "workloads": {
                name: {
                    "kind": r.workload.kind,
                    "url": _url(r.internet) if r.workload.kind != "job" else None,
                    "pid": r.proc.pid if r.proc is not None else None,
                    "memoryLimitMiB": r.workload.memory_mib,
                    "public": r.workload.public,
                }
                for name, r in self.running.items()
            },
        }
        path = self.data_dir / "topology.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2))
        tmp.replace(path)

    def _control_app(self) -> Starlette:
        async def status(request: Request) -> Response:
            return JSONResponse(
                {
                    "failure": self.failure,
                    "memory": {
                        n: {"peakRssMiB": round(r.peak_rss_mib, 1), "limitMiB": r.workload.memory_mib}
                        for n, r in self.running.items()
                    },
                    "pubsub": self.pubsub.stats(),
                    "monitoring": {
                        "series": {t: len(found) for t, found in self.monitoring.by_type().items()},
                        "jobs": sorted({str(s["resource"]["labels"]["job"]) for s in self.monitoring.series}),
                        "refused": self.monitoring.refused,
                    },
                    "tasks": self.tasks.stats(),
                }
            )

        async def trigger(request: Request) -> Response:
            name = request.path_params["job"]
            job = self.topology.scheduler.get(name) or next(
                (j for n, j in self.topology.scheduler.items() if n.endswith(f"-{name}")), None
            )
            if job is None:
                known = ", ".join(sorted(self.topology.scheduler))
                return JSONResponse({"error": f"no scheduler job {name} (jobs: {known})"}, 404)
            try:
                code = await self.trigger(job)
            except LookupError:
                return JSONResponse({"error": f"{job.name} targets {job.uri}, which the local cloud does not run"}, 400)
            return JSONResponse({"job": job.name, "status": code})

        async def api_key(request: Request) -> Response:
            """A key owned by another consumer project: its calls are metered apart from the stack's own."""
            body = await request.json()
            project = body.get("project")
            if not isinstance(project, str) or not project:
                return JSONResponse({"error": 'send {"project": "<consumer project id>"}'}, 400)
            return JSONResponse({"keyString": self.api_keys.create(project), "project": project})

        async def publish(request: Request) -> Response:
            body = await request.json()
            ids = self.pubsub.publish(request.path_params["topic"], body.get("messages", []), None)
            return JSONResponse({"messageIds": ids})

        return Starlette(
            routes=[
                Route("/status", status),
                Route("/scheduler/{job}:run", trigger, methods=["POST"]),
                certs_route(self.issuer),
                Route("/pubsub/{topic:path}:publish", publish, methods=["POST"]),
                Route("/apiKeys", api_key, methods=["POST"]),
            ]
        )

    async def _shutdown(
        self, postgres: LocalPostgres | None, redis: LocalRedis | None, terminators: list[TlsTerminator]
    ) -> None:
        for running in self.running.values():
            if running.proc is not None and running.proc.poll() is None:
                running.proc.terminate()
        for running in self.running.values():
            if running.proc is not None:
                try:
                    await asyncio.to_thread(running.proc.wait, 10)
                except subprocess.TimeoutExpired:
                    running.proc.kill()
            if running.reservation is not None:
                running.reservation.close()
        if hasattr(self, "pubsub"):
            await self.pubsub.stop()
        if hasattr(self, "tasks"):
            await self.tasks.stop()
        for server in self.servers:
            server.should_exit = True
        await asyncio.wait(self.server_tasks, timeout=5)
        for terminator in terminators:
            await terminator.stop()
        if hasattr(self, "forwarder"):
            await self.forwarder.aclose()
        if redis is not None:
            await asyncio.to_thread(redis.stop)
        if postgres is not None:
            await asyncio.to_thread(postgres.close)


def _tree_memory_mib(pid: int) -> float:
    """Memory of a process tree as its container would be charged: the sum of proportional set sizes (PSS).
    Summing RSS would count the pages a gunicorn master shares with its worker twice."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except psutil.AccessDenied:
            total += process.memory_info().rss
    return total / 1048576


def run(stack: str, port: int, data_dir: Path, retry_scale: float = 1.0) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per proxied request is noise
    runner = LocalCloudRunner(stack, port, data_dir, retry_scale=retry_scale)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stopping.set)
        return await runner.run()

    return asyncio.run(main())


def trigger(data_dir: Path, job: str) -> int:
    """`grid local trigger JOB`: run a scheduler job of the running local cloud now."""
    path = data_dir / "topology.json"
    if not path.is_file():
        print(
            f"grid: no local cloud running with data dir {data_dir} (start `grid local --stack NAME` first)",
            file=sys.stderr,
        )
        return 2
    control = json.loads(path.read_text())["control"]
    resp = httpx.post(f"{control}/scheduler/{job}:run", timeout=120)
    body = resp.json()
    if resp.status_code != 200:
        print(f"grid: {body['error']}", file=sys.stderr)
        return 2
    print(f"{body['job']}: the target answered {body['status']}")
    return 0 if 200 <= body["status"] < 300 else 1
