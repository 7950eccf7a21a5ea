"""Every component builds on its own, from minimal args, the way a team reusing it outside Grid would.

Each case is a Pulumi program of its own under the offline engine (the mocks ``grid plan`` uses): it imports the
component's module and gridlib only, never the stack program (tests/test_structure.py guards that the modules
could not reach it anyway). The whole-stack wiring is asserted in tests/stacks/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from components.audit import DataAccessAudit, DataAccessAuditArgs
from components.backups import BackupExportConfig, SqlExports, SqlExportsArgs
from components.bootstrap import (
    CiIdentity,
    CiIdentityArgs,
    GithubFederation,
    GithubFederationArgs,
    StateBackend,
    StateBackendArgs,
)
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
    FunctionSourceBucket,
    ServiceImage,
    ServiceImageArgs,
    ServiceSize,
)
from components.compute.functions import FunctionSourceBucketArgs
from components.database import Database, DatabaseArgs, DatabaseConfig
from components.gateway import (
    ApiGateway,
    ApiGatewayArgs,
    ArmorArgs,
    ArmorConfig,
    ArmorPolicy,
    Backend,
    EdgeArgs,
    HttpsLoadBalancer,
    LoadBalancerArgs,
)
from components.identity import SigningKey, SigningKeyArgs, WorkloadIdentities, WorkloadIdentitiesArgs
from components.messaging import (
    EventBus,
    EventBusArgs,
    MessagingConfig,
    ScheduledJobArgs,
    Scheduler,
    SchedulerArgs,
    TaskQueue,
    TaskQueueArgs,
    TasksConfig,
)
from components.monitoring import CostCap, CostCapArgs, Monitoring, MonitoringArgs, MonitoringConfig
from components.networking import NetworkConfig, Networking, NetworkingArgs
from components.project import ProjectServices, ProjectServicesArgs, ServiceAgents, ServiceAgentsArgs
from components.registry import Registry, RegistryArgs, RegistryConfig
from components.secrets import Secret, SecretArgs
from tests.components.offline_program import OfflineRun, run_offline
from tests.conftest import REPO_ROOT

PROJECT = "acme-team-prod"
REGION = "europe-west1"
EMAIL = f"svc@{PROJECT}.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{EMAIL}"
IMAGE = "europe-west1-docker.pkg.dev/acme-team-prod/apps/web@sha256:" + "0" * 64
URL = "https://web-123.europe-west1.run.app"


def _function_source(tmp: Path) -> Path:
    """A team's own function: a main.py and its pinned requirements."""
    source = tmp / "my_function"
    source.mkdir(exist_ok=True)
    (source / "main.py").write_text("def handle(request):\n    return 'ok'\n")
    (source / "requirements.txt").write_text("functions-framework==3.8.2\n")
    return source


def _builds(name: str) -> FunctionBuilds:
    return FunctionBuilds(
        name,
        FunctionBuildsArgs(
            project=PROJECT,
            region=REGION,
            repository_id="functions",
            source_bucket="acme-sources",
            account_name=f"projects/{PROJECT}/serviceAccounts/{EMAIL}",
            member=MEMBER,
        ),
    )


def networking(name: str, _tmp: Path | None = None, config: NetworkConfig | None = None) -> Networking:
    return Networking(name, NetworkingArgs(config=config or NetworkConfig(), region=REGION, project=PROJECT))


def _network(name: str) -> Networking:
    return networking(f"{name}-net")


def cache(name: str, _tmp: Path | None = None, config: CacheConfig | None = None) -> Cache:
    return Cache(
        name,
        CacheArgs(
            config=config or CacheConfig.model_validate({"tier": "BASIC"}),
            project=PROJECT,
            region=REGION,
            access=_network(name).private_access,
            url_secret_id="redis-url",
        ),
    )


def api_gateway(name: str, _tmp: Path | None = None, edge: EdgeArgs | None = None) -> ApiGateway:
    """The gateway in front of one service; ``edge``: the JWT, API key, quota and CORS rules it enforces."""
    return ApiGateway(
        name,
        ApiGatewayArgs(
            project=PROJECT,
            region=REGION,
            backends=[Backend(key="web", kind="run", service_name="web", path_prefix=None, uri=URL)],
            service_account=EMAIL,
            edge=edge,
        ),
    )


# Component class -> how a user builds it from minimal args (the tmp dir is for files it reads).
BUILDS: dict[type, Callable[..., object]] = {
    DataAccessAudit: lambda n, _: DataAccessAudit(n, DataAccessAuditArgs(project=PROJECT)),
    SqlExports: lambda n, _: SqlExports(
        n,
        SqlExportsArgs(
            config=BackupExportConfig.model_validate({"enabled": True}),
            project=PROJECT,
            region=REGION,
            instance_name="orders-db",
            instance_service_account=EMAIL,
            database="orders",
            runner_email=EMAIL,
            runner_member=MEMBER,
        ),
    ),
    StateBackend: lambda n, _: StateBackend(
        n,
        StateBackendArgs(
            project=PROJECT,
            bucket_name="acme-pulumi-state",
            bucket_location="EU",
            noncurrent_version_days=30,
            noncurrent_versions_kept=10,
            soft_delete_days=7,
            kms_location="europe-west1",
            key_ring="pulumi",
            key_name="secrets",
            rotation_days=90,
        ),
    ),
    GithubFederation: lambda n, _: GithubFederation(
        n, GithubFederationArgs(project=PROJECT, pool_id="github", provider_id="actions", repository="acme/web")
    ),
    CiIdentity: lambda n, _: CiIdentity(
        n,
        CiIdentityArgs(
            project=PROJECT,
            account_id="deployer",
            description="Deploys acme/web",
            principals=["principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/x/*"],
            project_roles={"deploy": ["roles/run.admin"]},
            state_bucket="acme-pulumi-state",
            bucket_role="roles/storage.objectUser",
            secrets_key=f"projects/{PROJECT}/locations/europe-west1/keyRings/pulumi/cryptoKeys/secrets",
            key_role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        ),
    ),
    Cache: cache,
    Database: lambda n, _: Database(
        n,
        DatabaseArgs(
            config=DatabaseConfig(),
            project=PROJECT,
            region=REGION,
            access=_network(n).private_access,
            url_secret_id="database-url",
            password_secret_id="database-password",
        ),
    ),
    Networking: networking,
    FunctionSourceBucket: lambda n, _: FunctionSourceBucket(
        n, FunctionSourceBucketArgs(project=PROJECT, region=REGION)
    ),
    FunctionBuilds: lambda n, _: _builds(n),
    CloudFunction: lambda n, tmp: CloudFunction(
        n,
        CloudFunctionArgs(
            function_name="hello",
            source_dir=_function_source(tmp),
            entry_point="handle",
            bucket="acme-sources",
            region=REGION,
            project=PROJECT,
            config=FunctionSize(),
            service_account=EMAIL,
            builds=_builds(f"{n}-builds"),
        ),
    ),
    ServiceImage: lambda n, _: ServiceImage(
        n,
        ServiceImageArgs(
            service="auth",
            repo_root=REPO_ROOT,
            registry_url=f"{REGION}-docker.pkg.dev/{PROJECT}/apps",
            registry_host=f"{REGION}-docker.pkg.dev",
        ),
    ),
    CloudRunService: lambda n, _: CloudRunService(
        n,
        CloudRunServiceArgs(
            service_name="web",
            region=REGION,
            project=PROJECT,
            image=IMAGE,
            config=ServiceSize(),
            service_account=EMAIL,
            vpc_access=None,
        ),
    ),
    CloudRunJob: lambda n, _: CloudRunJob(
        n,
        CloudRunJobArgs(
            job_name="nightly",
            region=REGION,
            project=PROJECT,
            image=IMAGE,
            command=["python", "-m", "nightly"],
            service_account=EMAIL,
            vpc_access=None,
        ),
    ),
    ArmorPolicy: lambda n, _: ArmorPolicy(n, ArmorArgs(config=ArmorConfig(), project=PROJECT)),
    HttpsLoadBalancer: lambda n, _: HttpsLoadBalancer(
        n,
        LoadBalancerArgs(
            project=PROJECT,
            region=REGION,
            domains=["web.acme.io"],
            backends=[Backend(key="web", kind="run", service_name="web", path_prefix=None)],
            security_policy=None,
        ),
    ),
    ApiGateway: api_gateway,
    WorkloadIdentities: lambda n, _: WorkloadIdentities(
        n, WorkloadIdentitiesArgs(project=PROJECT, accounts={"web": "acme-web"})
    ),
    SigningKey: lambda n, _: SigningKey(n, SigningKeyArgs(secret_id="jwt-key", readers={"web": MEMBER})),
    EventBus: lambda n, _: EventBus(
        n,
        EventBusArgs(
            config=MessagingConfig(),
            project=PROJECT,
            service_agent=f"serviceAccount:service-1@gcp-sa-pubsub.{PROJECT}.iam.gserviceaccount.com",
            topic_name="events",
            push_endpoint=None,
            push_invoker_email=None,
        ),
    ),
    Scheduler: lambda n, _: Scheduler(
        n,
        SchedulerArgs(
            project=PROJECT,
            region=REGION,
            jobs=[ScheduledJobArgs(name="nightly", schedule="0 3 * * *", uri=URL, invoker_email=EMAIL)],
        ),
    ),
    TaskQueue: lambda n, _: TaskQueue(n, TaskQueueArgs(config=TasksConfig(), project=PROJECT, region=REGION)),
    Monitoring: lambda n, _: Monitoring(
        n,
        MonitoringArgs(
            config=MonitoringConfig.model_validate({"alertEmails": ["ops@acme.io"]}),
            project=PROJECT,
            project_number="123456789012",
            environment="prod",
            display_prefix="acme",
        ),
    ),
    CostCap: lambda n, tmp: CostCap(
        n,
        CostCapArgs(
            project=PROJECT,
            region=REGION,
            stack_label="acme",
            services=["acme-web"],
            source_dir=_function_source(tmp),
            bucket="acme-sources",
            service_account=EMAIL,
            member=MEMBER,
            builds=_builds(f"{n}-builds"),
        ),
    ),
    ProjectServices: lambda n, _: ProjectServices(n, ProjectServicesArgs(project=PROJECT, apis=["run.googleapis.com"])),
    ServiceAgents: lambda n, _: ServiceAgents(n, ServiceAgentsArgs(project=PROJECT, roles={"pubsub": []})),
    Registry: lambda n, _: Registry(
        n, RegistryArgs(config=RegistryConfig(), repository_id="apps", region=REGION, project=PROJECT)
    ),
    Secret: lambda n, _: Secret(n, SecretArgs(secret_id="api-key", value="s3cret", accessors={"web": MEMBER})),
}


def _descendants(run: OfflineRun, root: str) -> list:
    found, frontier = [], {root}
    while frontier:
        children = [r for r in run.resources if r.parent in frontier]
        found += children
        frontier = {r.urn for r in children}
    return found


def alone_name(component: type) -> str:
    return "acme-" + component.__name__.lower()


def build_alone(component: type, tmp_path: Path, name: str | None = None, **args: object) -> OfflineRun:
    """``component`` built alone as its own program, named ``name`` (default ``alone_name``) from ``BUILDS``'
    minimal args with ``args`` in place of the defaults its builder names: what a config does to the component
    itself, without synthesising a whole stack for it."""
    name = name or alone_name(component)
    return run_offline(lambda: BUILDS[component](name, tmp_path, **args), tmp_path, project=PROJECT, region=REGION)


@pytest.mark.parametrize("component", list(BUILDS), ids=lambda c: c.__name__)
def test_builds_alone_from_minimal_args(component: type, tmp_path: Path) -> None:
    name = alone_name(component)
    run = build_alone(component, tmp_path)
    token = f"grid:{component._module}:{component.__name__}"  # type: ignore[attr-defined]
    top = [r for r in run.resources if r.type == token and r.name == name]
    assert len(top) == 1, f"{component.__name__} did not register as {token} named {name}"
    children = _descendants(run, top[0].urn)
    assert any(not r.type.startswith("grid:") for r in children), f"{component.__name__} created no resources"
    stray = [r.name for r in children if not r.name.startswith(name)]
    assert not stray, f"children not named after the component: {stray}"


def test_every_component_class_has_a_standalone_build() -> None:
    """A new component gets a case above: reusable means it builds without the stack program."""
    import importlib
    import pkgutil

    import components
    from components._base import GridComponent

    for info in pkgutil.walk_packages(components.__path__, "components."):
        importlib.import_module(info.name)

    def concrete(cls: type) -> set[type]:
        found = set()
        for sub in cls.__subclasses__():
            found |= concrete(sub)
            if sub.__module__.startswith("components.") and getattr(sub, "_module", ""):
                found.add(sub)
        return found

    # Alerting, Dashboards and Billing are the concerns Monitoring is built from, not components of their own.
    parts = {"Alerting", "Dashboards", "Billing"}
    missing = {c.__name__ for c in concrete(GridComponent) if c.__name__ not in parts} - {c.__name__ for c in BUILDS}
    assert not missing, f"no standalone build for {sorted(missing)}"
