"""Cloud Run v2 services and jobs: images by digest, secrets by reference, dedicated identities, private egress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, model_validator

from components._base import GridComponent
from components.secrets import SecretRef
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel

run = gcp.cloudrunv2

# --- config: the typed, validated size of one Cloud Run service ---


class ServiceSize(ConfigModel):
    """CPU, memory, GPU, scaling and timeout of one Cloud Run service; the defaults scale to zero."""

    cpu: float = 1
    memory: str = "512Mi"
    min_instances: int = Field(0, ge=0, le=1000)
    max_instances: int = Field(3, ge=1, le=1000)
    concurrency: int = Field(80, ge=1, le=1000)
    cpu_idle: bool = Field(True, description="Bill CPU only during requests (request-based billing).")
    startup_cpu_boost: bool = True
    gpu: int = Field(0, ge=0, le=1, description="NVIDIA L4 GPUs (0 or 1).")
    timeout_seconds: int = Field(
        60,
        ge=1,
        le=gcp_limits.CLOUD_RUN_MAX_TIMEOUT_SECONDS,
        description="Cloud Run's request timeout; it also ends WebSocket streams.",
    )

    @model_validator(mode="after")
    def _limits(self) -> ServiceSize:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"minInstances ({self.min_instances}) is above maxInstances ({self.max_instances}): "
                "lower minInstances or raise maxInstances"
            )
        if self.cpu < 1:
            raise ValueError(f"cpu {self.cpu:g} {gcp_limits.SERVICE_FRACTIONAL_CPU}")
        if problem := gcp_limits.cloud_run_resources_problem(self.cpu, self.memory, self.gpu):
            raise ValueError(problem)
        if self.gpu and self.cpu_idle:
            raise ValueError("a GPU service needs cpuIdle: false (instance-based billing)")
        return self


PORT = 8080
HEALTH_PATH = "/health"

# Direct VPC egress may take "a minute or more" to connect at instance start, and the app opens its database
# (and Redis) connections before it listens, so the startup probe must outlast that: the most a service's
# startup probe may wait (failureThreshold x periodSeconds <= 240 s), polled every 5 s.
# https://cloud.google.com/run/docs/configuring/vpc-direct-vpc#limitations
# https://cloud.google.com/run/docs/configuring/healthchecks#startup-probes
STARTUP_PROBE_PERIOD_SECONDS = 5
STARTUP_PROBE_SECONDS = 240
# How long the app keeps retrying its first database/Redis connection (STARTUP_CONNECT_SECONDS): inside the
# probe's budget, leaving time to load what follows the connection (the ai model, migrations' advisory lock).
STARTUP_CONNECT_SECONDS = 180


def check_env(plain: Mapping[str, pulumi.Input[str]], secrets: Mapping[str, SecretRef]) -> None:
    """Refuse a variable set both ways, from the args' ``__post_init__``: before the component registers."""
    if overlap := set(plain) & set(secrets):
        raise ValueError(
            f"{', '.join(sorted(overlap))} given both as plain value and as secret: keep each in env or in "
            "secret_env, not both"
        )


def _service_env(plain: Mapping[str, pulumi.Input[str]], secrets: Mapping[str, SecretRef]) -> list:
    envs = [run.ServiceTemplateContainerEnvArgs(name=k, value=v) for k, v in sorted(plain.items())]
    envs += [
        run.ServiceTemplateContainerEnvArgs(
            name=k,
            value_source=run.ServiceTemplateContainerEnvValueSourceArgs(
                secret_key_ref=run.ServiceTemplateContainerEnvValueSourceSecretKeyRefArgs(
                    secret=s.secret, version=s.version
                )
            ),
        )
        for k, s in sorted(secrets.items())
    ]
    return envs


@dataclass
class CloudRunServiceArgs:
    service_name: str
    """Cloud Run service name (at most 49 chars)."""
    region: str
    project: str
    image: pulumi.Input[str]
    """Image reference pinned by digest (``...@sha256:...``); a tag would let a push change a running stack."""
    config: ServiceSize
    """CPU, memory, scaling, concurrency, GPU (a stack takes them from ``grid:services.<name>``)."""
    service_account: pulumi.Input[str]
    """Email of the service's own runtime identity."""
    vpc_access: run.ServiceTemplateVpcAccessArgs | None
    """Direct VPC egress (or connector) settings from the networking component."""
    ingress: str = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    """Who may reach the service: only the load balancer by default."""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain environment variables (never secrets)."""
    secret_env: Mapping[str, SecretRef] = field(default_factory=dict)
    """Environment variables read from Secret Manager at instance start."""
    invokers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Name -> IAM member granted roles/run.invoker on this service only."""
    invoker_iam_disabled: bool = False
    """Anyone who reaches the service may invoke it (no IAM check): for services only the load balancer can
    reach. Unlike an allUsers grant, Domain Restricted Sharing allows it."""
    deletion_protection: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources the first revision needs, e.g. the secret accessor grants."""
    candidate_tag: str | None = None
    """Tagged rollout: the latest revision gets this tag and 0% traffic while ``stable_revision`` serves."""
    stable_revision: str | None = None
    """Revision pinned to 100% in a tagged rollout; None before the first promote."""
    custom_audiences: Sequence[str] = ()
    """Extra OIDC audiences Cloud Run accepts for invocation (a push subscription's audience)."""

    def __post_init__(self) -> None:
        check_env(self.env, self.secret_env)
        if problem := gcp_limits.name_problem("cloud_run_service", self.service_name):
            raise ValueError(f"CloudRunService: service_name {problem}: give the service another name")


def traffic(candidate_tag: str | None, stable_revision: str | None) -> list[run.ServiceTrafficArgs]:
    """Traffic split: all to the latest revision, or (tagged) all to the stable one with the latest tagged at 0%."""
    if candidate_tag is None or stable_revision is None:
        return [run.ServiceTrafficArgs(type="TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent=100, tag=candidate_tag)]
    return [
        run.ServiceTrafficArgs(type="TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision=stable_revision, percent=100),
        run.ServiceTrafficArgs(type="TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent=0, tag=candidate_tag),
    ]


def invoker_grants(
    owner: GridComponent,
    member_type: Any,
    name: pulumi.Input[str],
    region: str,
    project: str,
    invokers: Mapping[str, pulumi.Input[str]],
) -> None:
    """roles/run.invoker on one Cloud Run service or job (``member_type``: its IAM member resource) for each
    of ``invokers``, children of ``owner`` named ``<owner>-invoker-<who>``."""
    for who, member in sorted(invokers.items()):
        member_type(
            owner.child_name(f"invoker-{who}"),
            name=name,
            location=region,
            project=project,
            role="roles/run.invoker",
            member=member,
            opts=owner.child_opts(),
        )


class CloudRunService(GridComponent):
    _module = "compute"

    uri: pulumi.Output[str]
    name: pulumi.Output[str]
    latest_revision: pulumi.Output[str]
    """The newest ready revision: what ``grid rollout ... promote`` pins."""
    service: run.Service

    def __init__(self, name: str, args: CloudRunServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        limits = {"cpu": f"{cfg.cpu:g}", "memory": cfg.memory}
        if cfg.gpu:
            limits["nvidia.com/gpu"] = str(cfg.gpu)
        probe_get = run.ServiceTemplateContainerStartupProbeHttpGetArgs(path=HEALTH_PATH, port=PORT)
        container = run.ServiceTemplateContainerArgs(
            image=args.image,
            ports=run.ServiceTemplateContainerPortsArgs(container_port=PORT, name="http1"),
            resources=run.ServiceTemplateContainerResourcesArgs(
                limits=limits, cpu_idle=cfg.cpu_idle, startup_cpu_boost=cfg.startup_cpu_boost
            ),
            envs=_service_env(args.env, args.secret_env),
            startup_probe=run.ServiceTemplateContainerStartupProbeArgs(
                http_get=probe_get,
                initial_delay_seconds=0,
                period_seconds=STARTUP_PROBE_PERIOD_SECONDS,
                timeout_seconds=1,
                failure_threshold=STARTUP_PROBE_SECONDS // STARTUP_PROBE_PERIOD_SECONDS,
            ),
            liveness_probe=run.ServiceTemplateContainerLivenessProbeArgs(
                http_get=run.ServiceTemplateContainerLivenessProbeHttpGetArgs(path=HEALTH_PATH, port=PORT),
                period_seconds=15,
                timeout_seconds=2,
                failure_threshold=3,
            ),
        )
        template = run.ServiceTemplateArgs(
            service_account=args.service_account,
            containers=[container],
            execution_environment="EXECUTION_ENVIRONMENT_GEN2",
            max_instance_request_concurrency=cfg.concurrency,
            timeout=f"{cfg.timeout_seconds}s",
            scaling=run.ServiceTemplateScalingArgs(
                min_instance_count=cfg.min_instances, max_instance_count=cfg.max_instances
            ),
            vpc_access=args.vpc_access,
            labels=dict(args.labels),
            # Cloud Run GPUs: an L4 on a node selector, and zonal redundancy off unless the quota for it exists.
            node_selector=run.ServiceTemplateNodeSelectorArgs(accelerator="nvidia-l4") if cfg.gpu else None,
            gpu_zonal_redundancy_disabled=True if cfg.gpu else None,
        )
        self.service = run.Service(
            self.child_name("service"),
            name=args.service_name,
            location=args.region,
            project=args.project,
            ingress=args.ingress,
            invoker_iam_disabled=args.invoker_iam_disabled or None,
            # The provider defaults deletion protection to true; say what each environment wants.
            deletion_protection=args.deletion_protection,
            launch_stage="GA",
            labels=dict(args.labels),
            template=template,
            traffics=traffic(args.candidate_tag, args.stable_revision),
            # https://cloud.google.com/run/docs/configuring/custom-audiences
            custom_audiences=list(args.custom_audiences) or None,
            opts=self.child_opts(depends_on=list(args.depends_on)),
        )
        invoker_grants(self, run.ServiceIamMember, self.service.name, args.region, args.project, args.invokers)
        self.uri = self.service.uri
        self.name = self.service.name
        self.latest_revision = self.service.latest_ready_revision
        self.register_outputs({"uri": self.uri, "name": self.name, "latest_revision": self.latest_revision})


@dataclass
class CloudRunJobArgs:
    job_name: str
    region: str
    project: str
    image: pulumi.Input[str]
    """Image pinned by digest."""
    command: Sequence[str]
    """Entrypoint override, e.g. the migration runner."""
    service_account: pulumi.Input[str]
    vpc_access: run.ServiceTemplateVpcAccessArgs | None
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, SecretRef] = field(default_factory=dict)
    cpu: str = "1"
    memory: str = "512Mi"
    timeout_seconds: int = 600
    max_retries: int = 1
    deletion_protection: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()
    invokers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Name -> IAM member granted roles/run.invoker on this job only (it may run it, e.g. Cloud Scheduler)."""

    def __post_init__(self) -> None:
        check_env(self.env, self.secret_env)
        # What Google refuses for a job's task, refused before the component registers (a stack's JobConfig
        # checks the same; a job built from its own args did not).
        try:
            cpu = float(self.cpu)
        except ValueError:
            raise ValueError(f"CloudRunJob: cpu '{self.cpu}' is not a number: write it like 1 or 0.5") from None
        if problem := gcp_limits.cloud_run_resources_problem(cpu, self.memory, 0):
            raise ValueError(f"CloudRunJob: {problem}")
        gcp_limits.check_ranges(
            "CloudRunJob",
            (
                ("timeout_seconds", self.timeout_seconds, gcp_limits.CLOUD_RUN_TASK_TIMEOUT_SECONDS),
                ("max_retries", self.max_retries, gcp_limits.CLOUD_RUN_TASK_MAX_RETRIES),
            ),
        )


class CloudRunJob(GridComponent):
    """A run-to-completion job (database migrations run as one before a new revision takes traffic)."""

    _module = "compute"

    name: pulumi.Output[str]

    def __init__(self, name: str, args: CloudRunJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        vpc = (
            run.JobTemplateTemplateVpcAccessArgs(
                connector=args.vpc_access.connector,
                egress=args.vpc_access.egress,
                network_interfaces=[
                    run.JobTemplateTemplateVpcAccessNetworkInterfaceArgs(network=n.network, subnetwork=n.subnetwork)
                    for n in (args.vpc_access.network_interfaces or [])
                ]
                or None,
            )
            if args.vpc_access
            else None
        )
        envs = [
            run.JobTemplateTemplateContainerEnvArgs(name=e.name, value=e.value, value_source=_job_value_source(e))
            for e in _service_env(args.env, args.secret_env)
        ]
        job = run.Job(
            self.child_name("job"),
            name=args.job_name,
            location=args.region,
            project=args.project,
            deletion_protection=args.deletion_protection,
            launch_stage="GA",
            labels=dict(args.labels),
            template=run.JobTemplateArgs(
                task_count=1,
                parallelism=1,
                template=run.JobTemplateTemplateArgs(
                    service_account=args.service_account,
                    max_retries=args.max_retries,
                    timeout=f"{args.timeout_seconds}s",
                    execution_environment="EXECUTION_ENVIRONMENT_GEN2",
                    vpc_access=vpc,
                    containers=[
                        run.JobTemplateTemplateContainerArgs(
                            image=args.image,
                            commands=list(args.command),
                            envs=envs,
                            resources=run.JobTemplateTemplateContainerResourcesArgs(
                                limits={"cpu": args.cpu, "memory": args.memory}
                            ),
                        )
                    ],
                ),
            ),
            opts=self.child_opts(depends_on=list(args.depends_on)),
        )
        invoker_grants(self, run.JobIamMember, job.name, args.region, args.project, args.invokers)
        self.name = job.name
        self.register_outputs({"name": self.name})


def _job_value_source(
    env: run.ServiceTemplateContainerEnvArgs,
) -> run.JobTemplateTemplateContainerEnvValueSourceArgs | None:
    source = env.value_source
    if source is None:
        return None
    ref = source.secret_key_ref
    return run.JobTemplateTemplateContainerEnvValueSourceArgs(
        secret_key_ref=run.JobTemplateTemplateContainerEnvValueSourceSecretKeyRefArgs(
            secret=ref.secret, version=ref.version
        )
    )
