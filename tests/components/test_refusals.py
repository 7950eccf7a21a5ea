"""A component refuses bad input before it registers anything: nothing half-done.

Under ``pulumi up`` the engine creates each resource as its registration arrives, so a component that registers
itself (``super().__init__``) or a first child and only then raises leaves a deployment half-done. Each case below
is built as a program of its own under the offline engine and must raise with nothing registered, not even the
component; the cases that need no other resource are also built outside any program (no mock runtime, no event
loop), which a refusal must not need either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pulumi
import pytest

from components._base import GridComponent
from components.bootstrap import CiIdentity, CiIdentityArgs
from components.cache import Cache, CacheArgs, CacheConfig
from components.compute import (
    CloudFunction,
    CloudFunctionArgs,
    CloudRunJob,
    CloudRunJobArgs,
    CloudRunService,
    CloudRunServiceArgs,
    FunctionBuilds,
    FunctionBuildsArgs,
    FunctionSize,
    ServiceSize,
)
from components.database import Database, DatabaseArgs, DatabaseConfig
from components.gateway import ApiGateway, ApiGatewayArgs, Backend, EdgeArgs, HttpsLoadBalancer, LoadBalancerArgs
from components.identity import WorkloadIdentities, WorkloadIdentitiesArgs
from components.messaging import ScheduledJobArgs, Scheduler, SchedulerArgs, TaskQueue, TaskQueueArgs, TasksConfig
from components.monitoring import CostCap, CostCapArgs, Monitoring, MonitoringArgs, MonitoringConfig
from components.networking import NetworkConfig, Networking, NetworkingArgs
from components.secrets import SecretRef
from tests.components.offline_program import outside_any_program, refused_offline

PROJECT = "acme-team-prod"
REGION = "europe-west1"
EMAIL = f"svc@{PROJECT}.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{EMAIL}"
URL = "https://web-123.europe-west1.run.app"
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/apps/web@sha256:" + "0" * 64
NAME = "acme-refused"
PRE = "pre-"
"""Name prefix of what a case creates first as the refused component's input (a network, function builds)."""


def _network() -> Networking:
    return Networking(f"{PRE}net", NetworkingArgs(config=NetworkConfig(), region=REGION, project=PROJECT))


def _cache(name: str = NAME, **args: object) -> Callable[[Path], object]:
    defaults: dict = {"config": CacheConfig.model_validate({"tier": "BASIC"}), "access": None}
    return lambda _: Cache(
        name, CacheArgs(project=PROJECT, region=REGION, url_secret_id="redis-url", **(defaults | args))
    )


def _database(name: str = NAME, **args: object) -> Callable[[Path], object]:
    defaults: dict = {"config": DatabaseConfig(), "access": None}
    return lambda _: Database(
        name,
        DatabaseArgs(
            project=PROJECT,
            region=REGION,
            url_secret_id="database-url",
            password_secret_id="database-password",
            **(defaults | args),
        ),
    )


def _external(kind: type[CacheConfig] | type[DatabaseConfig], **config: object) -> CacheConfig | DatabaseConfig:
    return kind.model_validate({"external": {"urlSecret": "providerUrl"}, **config})


def _ci_identity(_: Path) -> object:
    return CiIdentity(
        NAME,
        CiIdentityArgs(
            project=PROJECT,
            account_id="deployer",
            description="Deploys acme/web",
            principals=["principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/x/*"],
            project_roles={"acme-team-prod": ["roles/run.admin", "roles/editor"]},
            state_bucket="acme-pulumi-state",
            bucket_role="roles/storage.objectUser",
            secrets_key=f"projects/{PROJECT}/locations/{REGION}/keyRings/pulumi/cryptoKeys/secrets",
            key_role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        ),
    )


def _identities(**args: object) -> Callable[[Path], object]:
    return lambda _: WorkloadIdentities(
        NAME, WorkloadIdentitiesArgs(project=PROJECT, accounts={"web": "acme-web", "worker": "acme-worker"}, **args)
    )


def _load_balancer(*prefixes: str | None) -> Callable[[Path], object]:
    backends = [Backend(key=f"b{i}", kind="run", service_name=f"s{i}", path_prefix=p) for i, p in enumerate(prefixes)]
    return lambda _: HttpsLoadBalancer(
        NAME,
        LoadBalancerArgs(
            project=PROJECT, region=REGION, domains=["web.acme.io"], backends=backends, security_policy=None
        ),
    )


def _api_gateway(_: Path) -> object:
    edge = EdgeArgs(issuer=URL, audience="web", jwks_backend="auth", jwks_path="/auth/jwks.json", quota_per_minute=60)
    return ApiGateway(
        NAME,
        ApiGatewayArgs(
            project=PROJECT,
            region=REGION,
            backends=[Backend(key="web", kind="run", service_name="web", path_prefix=None, uri=URL)],
            service_account=EMAIL,
            edge=edge,
        ),
    )


def _scheduler(*jobs: dict) -> Callable[[Path], object]:
    """A Scheduler of ``jobs`` (each a name and its other ScheduledJobArgs), built in the case."""
    return lambda _: Scheduler(
        NAME,
        SchedulerArgs(
            project=PROJECT,
            region=REGION,
            jobs=[ScheduledJobArgs(schedule="0 3 * * *", uri=URL, invoker_email=EMAIL, **job) for job in jobs],
        ),
    )


def _monitoring(config: dict, **args: object) -> Callable[[Path], object]:
    return lambda _: Monitoring(
        NAME,
        MonitoringArgs(
            config=MonitoringConfig.model_validate({"alertEmails": ["ops@acme.io"], **config}),
            project=PROJECT,
            project_number="123456789012",
            environment="prod",
            display_prefix="acme",
            **args,  # type: ignore[arg-type]
        ),
    )


BOTH_WAYS = {"env": {"TOKEN": "plain"}, "secret_env": {"TOKEN": SecretRef("token", "1")}}


def _service(_: Path) -> object:
    return CloudRunService(
        NAME,
        CloudRunServiceArgs(
            service_name="web",
            region=REGION,
            project=PROJECT,
            image=IMAGE,
            config=ServiceSize(),
            service_account=EMAIL,
            vpc_access=None,
            **BOTH_WAYS,  # type: ignore[arg-type]
        ),
    )


def _run_job(_: Path) -> object:
    return CloudRunJob(
        NAME,
        CloudRunJobArgs(
            job_name="migrate",
            region=REGION,
            project=PROJECT,
            image=IMAGE,
            command=["python", "-m", "migrate"],
            service_account=EMAIL,
            vpc_access=None,
            **BOTH_WAYS,  # type: ignore[arg-type]
        ),
    )


def _source_without_requirements(tmp: Path) -> Path:
    source = tmp / "my_function"
    source.mkdir(exist_ok=True)
    (source / "main.py").write_text("def handle(request):\n    return 'ok'\n")
    return source


def _builds() -> FunctionBuilds:
    """The function build account and repository a function needs, created first (its input, kept)."""
    return FunctionBuilds(
        f"{PRE}builds",
        FunctionBuildsArgs(
            project=PROJECT,
            region=REGION,
            repository_id="functions",
            source_bucket="acme-sources",
            account_name=f"projects/{PROJECT}/serviceAccounts/{EMAIL}",
            member=MEMBER,
        ),
    )


def _function_without_requirements(tmp: Path) -> object:
    return CloudFunction(
        NAME,
        CloudFunctionArgs(
            function_name="hello",
            source_dir=_source_without_requirements(tmp),
            entry_point="handle",
            bucket="acme-sources",
            region=REGION,
            project=PROJECT,
            config=FunctionSize(),
            service_account=EMAIL,
            builds=_builds(),
        ),
    )


def _cost_cap_without_requirements(tmp: Path) -> object:
    """The function is CostCap's last child: its args used to refuse the source after the topic and grants."""
    return CostCap(
        NAME,
        CostCapArgs(
            project=PROJECT,
            region=REGION,
            stack_label="acme",
            services=["acme-web"],
            source_dir=_source_without_requirements(tmp),
            bucket="acme-sources",
            service_account=EMAIL,
            member=MEMBER,
            builds=_builds(),
        ),
    )


def _with_network(build: Callable[..., Callable[[Path], object]], name: str) -> Callable[[Path], object]:
    """``build``'s component named ``name`` on a network of its own, created first (its input, kept)."""
    return lambda tmp: build(name, access=_network().private_access)(tmp)


class Case(NamedTuple):
    build: Callable[[Path], object]
    message: str
    """What the refusal says (a regex): what is wrong, then how to fix it."""
    prerequisite: bool = False
    """The case creates the component's input first (named ``PRE``...): it cannot run outside a program."""


CASES = {
    "ci-identity-forbidden-role": Case(_ci_identity, r"roles/editor may not be granted on acme-team-prod: grant "),
    "cache-tier-none": Case(_cache(config=CacheConfig()), r"needs a tier other than 'none'; skip the component"),
    "memorystore-without-access": Case(_cache(), r"needs the network's private service access: pass access="),
    "external-redis-without-url": Case(_cache(config=_external(CacheConfig)), r"external redis needs its URL.*: pass"),
    "cloud-sql-without-access": Case(_database(), r"needs the network's private service access: pass access="),
    "external-postgres-without-url": Case(
        _database(config=_external(DatabaseConfig, maxConnections=50)),
        r"external postgres needs its URL.*: pass external_url",
    ),
    "redis-instance-name-too-long": Case(
        _with_network(_cache, "acme-a-rather-long-cache"),
        r"Cache 'acme-a-rather-long-cache': its redis instance name .* over the limit of 40: give the component",
        prerequisite=True,
    ),
    "sql-instance-name-too-long": Case(
        _with_network(_database, "acme-" + "d" * 80),
        r"its sql instance name .* over the limit of 98: give the component a shorter name",
        prerequisite=True,
    ),
    # The VPC's name fits and the subnet's does not: the VPC used to be registered before the subnet's refusal.
    "subnet-name-too-long": Case(
        lambda _: Networking("n" * 50, NetworkingArgs(config=NetworkConfig(), region=REGION, project=PROJECT)),
        r"its compute name '(n){50}-subnet' is 65 chars.* over the limit of 63: give the component a shorter name",
    ),
    "load-balancer-without-default": Case(
        _load_balancer("/a", "/b"), r"exactly one backend must be the default route \(path_prefix=None\), got 0: give"
    ),
    "load-balancer-two-defaults": Case(
        _load_balancer(None, "/a", None), r"default route \(path_prefix=None\), got 2: b0, b2: give every other"
    ),
    "api-gateway-unknown-jwks-backend": Case(
        _api_gateway, r"edge.jwks_backend 'auth' must name exactly one of the backends \(web\): set it"
    ),
    "identities-roles-of-unknown-workload": Case(
        _identities(project_roles={"api": ["roles/monitoring.metricWriter"]}),
        r"project_roles names unknown workload 'api': add it to accounts .*\(accounts: web, worker\)",
    ),
    "identities-forbidden-role": Case(
        _identities(project_roles={"worker": ["roles/owner"]}),
        r"worker: roles/owner may not be granted at project level: grant ",
    ),
    "identities-act-as-unknown-workload": Case(
        _identities(act_as={"worker": ["web", "cron"]}), r"act_as names unknown workload 'cron': add it to accounts"
    ),
    # The first job is fine: it used to be registered before the second one's refusal.
    "scheduler-body-without-write-method": Case(
        _scheduler({"name": "nightly"}, {"name": "ping", "http_method": "get", "body": "{}"}),
        r"scheduler job ping: a body needs POST, PUT or PATCH \(got GET\): set http_method",
    ),
    "scheduler-job-named-twice": Case(
        _scheduler({"name": "nightly"}, {"name": "nightly"}),
        r"scheduler jobs named twice: nightly: give each job a name",
    ),
    "task-queue-backoff": Case(
        lambda _: TaskQueue(
            NAME,
            TaskQueueArgs(
                config=TasksConfig(), project=PROJECT, region=REGION, min_backoff_seconds=60, max_backoff_seconds=10
            ),
        ),
        r"TaskQueue: min_backoff_seconds is above max_backoff_seconds \(60 > 10\): lower the minimum",
    ),
    "monitoring-paging-without-key": Case(
        _monitoring({"paging": True}), r"config.paging is on but no pagerduty_routing_key was given: pass"
    ),
    "monitoring-slo-of-unknown-service": Case(
        _monitoring({"slos": True}, run_services={"web": "acme-web"}),
        r"SLO service 'api' is not among run_services \(web\): set slo_service",
    ),
    "run-service-env-both-ways": Case(_service, r"TOKEN given both as plain value and as secret: keep each"),
    "run-job-env-both-ways": Case(_run_job, r"TOKEN given both as plain value and as secret: keep each"),
    "function-without-requirements": Case(
        _function_without_requirements,
        r"my_function: a function's source needs a requirements.txt with pinned versions: add one",
        prerequisite=True,
    ),
    "cost-cap-without-requirements": Case(
        _cost_cap_without_requirements, r"a function's source needs a requirements.txt .*: add one", prerequisite=True
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_refused_before_anything_is_registered(case: Case, tmp_path: Path) -> None:
    raised, registered = refused_offline(lambda: case.build(tmp_path), tmp_path, keep=PRE)
    assert isinstance(raised, ValueError), f"not refused: {raised!r}"
    assert re.search(case.message, str(raised)), str(raised)
    assert "\n" not in str(raised), "a refusal is one line"
    assert registered == [], f"registered before the refusal: {registered}"


@pytest.mark.parametrize(
    "case", [c for c in CASES.values() if not c.prerequisite], ids=[k for k, c in CASES.items() if not c.prerequisite]
)
def test_refused_outside_any_program(case: Case, tmp_path: Path) -> None:
    """No mock runtime, no event loop: whatever tests ran before in this process, the refusal is the same."""
    with pytest.raises(ValueError, match=case.message):
        outside_any_program(lambda: case.build(tmp_path))


class _Undeclared(GridComponent):
    """A component that names a limited child it did not declare."""

    _module = "test"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.limited_child_name("instance")


def test_a_limited_child_must_be_declared_up_front(tmp_path: Path) -> None:
    """Its name would otherwise be checked only once the component registered: a bug of the component."""
    raised, _ = refused_offline(lambda: _Undeclared("acme-x"), tmp_path)
    assert isinstance(raised, TypeError) and "pass limited={'instance': <name kind>}" in str(raised)


def test_a_declared_child_name_that_fits_is_not_refused(tmp_path: Path) -> None:
    """The up-front check passes what fits: the same names as before, from the declaration."""

    class Declared(GridComponent):
        _module = "test"

        def __init__(self, name: str) -> None:
            super().__init__(name, limited={"instance": "redis_instance"}, fitted={"cx": "vpc_connector"})
            self.names = (self.limited_child_name("instance"), self.fitted_child_name("cx"))
            self.register_outputs({})

    built: list[Declared] = []
    raised, registered = refused_offline(lambda: built.append(Declared("acme-cache")), tmp_path)
    assert raised is None and registered == ["acme-cache"]
    assert built[0].names == ("acme-cache-instance", ("acme-cache-cx", None))
    assert isinstance(built[0], pulumi.ComponentResource)
