"""Every component builds on its own, from minimal args, the way a team reusing it outside Grid would.

Each case is a Pulumi program of its own under the offline engine (the mocks ``grid plan`` uses): it imports the
component's module and gridlib only, never the stack program (tests/test_structure.py guards that the modules
could not reach it anyway). The whole-stack wiring is asserted in tests/stacks/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

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
from grid.engine import Registration
from tests.components.offline_program import OfflineRun, run_offline, run_offline_catching
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


def networking(name: str, _tmp: Path | None = None, **args: Any) -> Networking:
    return Networking(name, replace(NetworkingArgs(config=NetworkConfig(), region=REGION, project=PROJECT), **args))


def _network(name: str) -> Networking:
    return networking(f"{name}-net")


def _datastore_args(name: str, minimal: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """A Cache's or Database's args: ``minimal`` on a network of its own, ``args`` in place of any of them. Merged
    before they are checked (config and access are checked together), and no network is made when ``args`` give
    the access (None too)."""
    access = {} if "access" in args else {"access": _network(name).private_access}
    return {"project": PROJECT, "region": REGION, **minimal, **access, **args}


def cache(name: str, _tmp: Path | None = None, **args: Any) -> Cache:
    config = CacheConfig.model_validate({"tier": "BASIC"})
    return Cache(name, CacheArgs(**_datastore_args(name, {"config": config, "url_secret_id": "redis-url"}, args)))


def database(name: str, _tmp: Path | None = None, **args: Any) -> Database:
    minimal = {"config": DatabaseConfig(), "url_secret_id": "database-url", "password_secret_id": "database-password"}
    return Database(name, DatabaseArgs(**_datastore_args(name, minimal, args)))


def api_gateway(name: str, _tmp: Path | None = None, **args: Any) -> ApiGateway:
    """The gateway in front of one service; ``edge``: the JWT, API key, quota and CORS rules it enforces."""
    return ApiGateway(
        name,
        replace(
            ApiGatewayArgs(
                project=PROJECT,
                region=REGION,
                backends=[Backend(key="web", kind="run", service_name="web", path_prefix=None, uri=URL)],
                service_account=EMAIL,
            ),
            **args,
        ),
    )


# Component class -> how a user builds it from minimal args (the tmp dir is for files it reads); a builder that
# takes ``**args`` puts them in place of its args' fields (``dataclasses.replace``, which checks them again).
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
    CiIdentity: lambda n, _, **args: CiIdentity(
        n,
        replace(
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
            **args,
        ),
    ),
    Cache: cache,
    Database: database,
    Networking: networking,
    FunctionSourceBucket: lambda n, _: FunctionSourceBucket(
        n, FunctionSourceBucketArgs(project=PROJECT, region=REGION)
    ),
    FunctionBuilds: lambda n, _: _builds(n),
    CloudFunction: lambda n, tmp, **args: CloudFunction(
        n,
        replace(
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
            **args,
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
    CloudRunService: lambda n, _, **args: CloudRunService(
        n,
        replace(
            CloudRunServiceArgs(
                service_name="web",
                region=REGION,
                project=PROJECT,
                image=IMAGE,
                config=ServiceSize(),
                service_account=EMAIL,
                vpc_access=None,
            ),
            **args,
        ),
    ),
    CloudRunJob: lambda n, _, **args: CloudRunJob(
        n,
        replace(
            CloudRunJobArgs(
                job_name="nightly",
                region=REGION,
                project=PROJECT,
                image=IMAGE,
                command=["python", "-m", "nightly"],
                service_account=EMAIL,
                vpc_access=None,
            ),
            **args,
        ),
    ),
    ArmorPolicy: lambda n, _: ArmorPolicy(n, ArmorArgs(config=ArmorConfig(), project=PROJECT)),
    HttpsLoadBalancer: lambda n, _, **args: HttpsLoadBalancer(
        n,
        replace(
            LoadBalancerArgs(
                project=PROJECT,
                region=REGION,
                domains=["web.acme.io"],
                backends=[Backend(key="web", kind="run", service_name="web", path_prefix=None)],
                security_policy=None,
            ),
            **args,
        ),
    ),
    ApiGateway: api_gateway,
    WorkloadIdentities: lambda n, _, **args: WorkloadIdentities(
        n, replace(WorkloadIdentitiesArgs(project=PROJECT, accounts={"web": "acme-web"}), **args)
    ),
    SigningKey: lambda n, _: SigningKey(n, SigningKeyArgs(secret_id="jwt-key", readers={"web": MEMBER})),
    EventBus: lambda n, _, **args: EventBus(
        n,
        replace(
            EventBusArgs(
                config=MessagingConfig(),
                project=PROJECT,
                service_agent=f"serviceAccount:service-1@gcp-sa-pubsub.{PROJECT}.iam.gserviceaccount.com",
                topic_name="events",
                push_endpoint=None,
                push_invoker_email=None,
            ),
            **args,
        ),
    ),
    Scheduler: lambda n, _, **args: Scheduler(
        n,
        replace(
            SchedulerArgs(
                project=PROJECT,
                region=REGION,
                jobs=[ScheduledJobArgs(name="nightly", schedule="0 3 * * *", uri=URL, invoker_email=EMAIL)],
            ),
            **args,
        ),
    ),
    TaskQueue: lambda n, _, **args: TaskQueue(
        n, replace(TaskQueueArgs(config=TasksConfig(), project=PROJECT, region=REGION), **args)
    ),
    Monitoring: lambda n, _, **args: Monitoring(
        n,
        replace(
            MonitoringArgs(
                config=MonitoringConfig.model_validate({"alertEmails": ["ops@acme.io"]}),
                project=PROJECT,
                project_number="123456789012",
                environment="prod",
                display_prefix="acme",
            ),
            **args,
        ),
    ),
    CostCap: lambda n, tmp, **args: CostCap(
        n,
        replace(
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
            **args,
        ),
    ),
    ProjectServices: lambda n, _: ProjectServices(n, ProjectServicesArgs(project=PROJECT, apis=["run.googleapis.com"])),
    ServiceAgents: lambda n, _: ServiceAgents(n, ServiceAgentsArgs(project=PROJECT, roles={"pubsub": []})),
    Registry: lambda n, _: Registry(
        n, RegistryArgs(config=RegistryConfig(), repository_id="apps", region=REGION, project=PROJECT)
    ),
    Secret: lambda n, _: Secret(n, SecretArgs(secret_id="api-key", value="s3cret", accessors={"web": MEMBER})),
}


def alone_name(component: type) -> str:
    return "acme-" + component.__name__.lower()


def token_of(component: type) -> str:
    return f"grid:{component._module}:{component.__name__}"  # type: ignore[attr-defined]


def build_alone(component: type, tmp_path: Path, name: str | None = None, **args: object) -> OfflineRun:
    """``component`` built alone as its own program, named ``name`` (default ``alone_name``) from ``BUILDS``'
    minimal args with ``args`` in place of the defaults its builder names: what a config does to the component
    itself, without synthesising a whole stack for it."""
    name = name or alone_name(component)
    return run_offline(lambda: BUILDS[component](name, tmp_path, **args), tmp_path, project=PROJECT, region=REGION)


def refused_alone(
    component: type, tmp_path: Path, args: Callable[[], dict[str, object]]
) -> tuple[Exception | None, list[Registration]]:
    """``build_alone`` with the ``args()`` the component should refuse (made in the program: a bad input may be
    refused as it is made; ``name`` among them names the component): what it raised, and what of the component
    was registered all the same, itself and its descendants. What its builder creates first as its input (a
    network, function builds) is not the component's."""

    def build() -> None:
        given = args()
        name = str(given.pop("name", alone_name(component)))
        built.append(name)
        BUILDS[component](name, tmp_path, **given)

    built: list[str] = []
    raised, run = run_offline_catching(build, tmp_path, project=PROJECT, region=REGION)
    tops = [r for r in run.resources if r.type == token_of(component) and r.name in built]
    return raised, [*tops, *(r for top in tops for r in run.descendants_of(top))]


@pytest.mark.parametrize("component", list(BUILDS), ids=lambda c: c.__name__)
def test_builds_alone_from_minimal_args(component: type, tmp_path: Path) -> None:
    name = alone_name(component)
    run = build_alone(component, tmp_path)
    token = token_of(component)
    top = [r for r in run.resources if r.type == token and r.name == name]
    assert len(top) == 1, f"{component.__name__} did not register as {token} named {name}"
    children = run.descendants_of(top[0])
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
