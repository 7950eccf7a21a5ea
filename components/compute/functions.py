"""Cloud Functions (gen2): source zipped from app/functions/<name> by content hash, secrets by reference."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator, model_validator

from components._base import GridComponent
from components.compute.run import check_env, invoker_grants
from components.compute.source_digest import tree_files, tree_hash
from components.registry import Registry, RegistryArgs, RegistryConfig
from components.secrets import SecretRef
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel

fn = gcp.cloudfunctionsv2

# --- config: the typed, validated size of one function ---

# https://cloud.google.com/functions/docs/configuring/memory
FUNCTION_MEMORY = ("128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi")


class FunctionSize(ConfigModel):
    """Memory, timeout and scaling of one Cloud Functions (gen2) function; the defaults stay in the free tier."""

    memory: str = Field("256Mi", description="Memory per instance.")
    timeout_seconds: int = Field(
        60,
        ge=1,
        le=gcp_limits.FUNCTION_MAX_TIMEOUT_SECONDS,
        description="Request timeout; an event-triggered function allows less (CloudFunctionArgs checks it).",
    )
    min_instances: int = Field(0, ge=0, le=100)
    max_instances: int = Field(3, ge=1, le=1000, description="Cap: the free-tier guard against runaway scaling.")
    concurrency: int = Field(
        1,
        ge=1,
        le=1000,
        description="Requests an instance serves at once; above 1 the function gets a full vCPU (Google requires it).",
    )

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if value not in FUNCTION_MEMORY:
            raise ValueError(f"must be one of {', '.join(FUNCTION_MEMORY)} (got {value!r})")
        return value

    @model_validator(mode="after")
    def _limits(self) -> FunctionSize:
        if self.min_instances > self.max_instances:
            raise ValueError(f"minInstances ({self.min_instances}) is above maxInstances ({self.max_instances})")
        return self

    @property
    def available_cpu(self) -> str | None:
        """The vCPU to ask for: one when the function serves requests concurrently and its memory alone would give it
        less; otherwise None (the memory's default)."""
        if self.concurrency > 1 and gcp_limits.memory_mib(self.memory) < gcp_limits.FUNCTION_ONE_VCPU_MEMORY_MIB:
            return "1"
        return None


@dataclass
class FunctionSourceBucketArgs:
    project: str
    region: str


class FunctionSourceBucket(GridComponent):
    """The private bucket function sources are uploaded to (uniform access, public access prevented)."""

    _module = "compute"

    name: pulumi.Output[str]

    def __init__(self, name: str, args: FunctionSourceBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        bucket = gcp.storage.Bucket(
            self.child_name("bucket"),
            project=args.project,
            location=args.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=True,  # holds only build inputs that are re-uploaded from the repository
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=90, with_state="ANY"),
                )
            ],
            opts=self.child_opts(),
        )
        self.name = bucket.name
        self.register_outputs({"name": self.name})


# What a build account needs to build a gen2 function: write build logs, push the image to the function's
# image repository, read the uploaded source. Projects created since mid-2024 (or under the organization policy
# iam.automaticIamGrantsForDefaultServiceAccounts) give the default build account none of this, so builds get a
# dedicated account (https://cloud.google.com/run/docs/configuring/services/build-service-account,
# https://cloud.google.com/build/docs/cloud-build-service-account-updates).
BUILD_LOG_ROLE = "roles/logging.logWriter"
BUILD_IMAGE_ROLE = "roles/artifactregistry.writer"
BUILD_SOURCE_ROLE = "roles/storage.objectViewer"


@dataclass
class FunctionBuildsArgs:
    project: str
    region: str
    repository_id: str
    """Artifact Registry repository the builds push function images to (instead of the shared gcf-artifacts)."""
    source_bucket: pulumi.Input[str]
    """Bucket the sources are uploaded to (FunctionSourceBucket)."""
    account_name: pulumi.Input[str]
    """``projects/<p>/serviceAccounts/<email>`` of the build account, as ``buildConfig.serviceAccount`` wants it."""
    member: pulumi.Input[str]
    """``serviceAccount:<email>`` of the build account."""


class FunctionBuilds(GridComponent):
    """The build account's access (logs, image repository, source bucket), granted on each resource it uses.

    Functions take ``service_account`` and ``docker_repository`` from here and wait for ``grants``: the build
    starts when the function is created, so a grant that lands later fails the first deploy.
    """

    _module = "compute"

    service_account: pulumi.Input[str]
    docker_repository: pulumi.Output[str]
    grants: list[pulumi.Resource]

    def __init__(self, name: str, args: FunctionBuildsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        # Function images change tags as functions are redeployed: a repository of their own, with mutable tags.
        registry = Registry(
            self.child_name("images"),
            RegistryArgs(
                config=RegistryConfig.model_validate({"keepRecent": 5, "immutableTags": False}),
                repository_id=args.repository_id,
                region=args.region,
                project=args.project,
                description="Images built from function sources; rebuilt from the repository on every deploy.",
            ),
            opts=self.child_opts(),
        )
        self.grants = [
            # Build logs go to the project's log buckets; log writing has no narrower grant.
            gcp.projects.IAMMember(
                self.child_name("logs"),
                project=args.project,
                role=BUILD_LOG_ROLE,
                member=args.member,
                opts=self.child_opts(),
            ),
            gcp.artifactregistry.RepositoryIamMember(
                self.child_name("push"),
                project=args.project,
                location=args.region,
                repository=registry.repository_id,
                role=BUILD_IMAGE_ROLE,
                member=args.member,
                opts=self.child_opts(),
            ),
            gcp.storage.BucketIAMMember(
                self.child_name("source"),
                bucket=args.source_bucket,
                role=BUILD_SOURCE_ROLE,
                member=args.member,
                opts=self.child_opts(),
            ),
        ]
        self.service_account = args.account_name
        self.docker_repository = registry.id
        self.register_outputs({"docker_repository": self.docker_repository})


def check_function_source(source_dir: Path) -> None:
    """Refuse a function's source without its requirements.txt: from the args (``__post_init__``) of whatever
    builds the function, before that component registers anything (nothing half-done)."""
    if not (source_dir / "requirements.txt").is_file() and source_dir.is_dir():
        raise ValueError(
            f"{source_dir}: a function's source needs a requirements.txt with pinned versions: add one there that "
            "pins every dependency (name==version)"
        )


@dataclass
class CloudFunctionArgs:
    function_name: str
    """Function (and underlying Cloud Run service) name."""
    source_dir: Path
    """Directory zipped as the function's source (app/functions/<name>), with a pinned requirements.txt."""
    entry_point: str
    """Python callable name registered with functions-framework."""
    bucket: pulumi.Input[str]
    region: str
    project: str
    config: FunctionSize
    """Memory, timeout, min/max instances (a stack takes them from ``grid:functions``)."""
    service_account: pulumi.Input[str]
    builds: FunctionBuilds
    """Build account, image repository and the grants the build waits for."""
    ingress: str = "ALLOW_INTERNAL_AND_GCLB"
    """Who may reach the function's URL: internal traffic and the load balancer by default."""
    network_interface: fn.FunctionServiceConfigDirectVpcNetworkInterfaceArgs | None = None
    """Direct VPC egress into the stack's subnet."""
    egress: str = "VPC_EGRESS_PRIVATE_RANGES_ONLY"
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, SecretRef] = field(default_factory=dict)
    pubsub_topic: pulumi.Input[str] | None = None
    """Set for a Pub/Sub-triggered function (Eventarc); otherwise the function is HTTP-triggered."""
    trigger_service_account: pulumi.Input[str] | None = None
    invokers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Name -> IAM member granted roles/run.invoker on the function's service only."""
    labels: Mapping[str, str] = field(default_factory=dict)
    runtime: str = "python312"
    depends_on: Sequence[pulumi.Resource] = ()
    """What the function's first revision needs, e.g. its own secret accessor grants (secrets.own_grants)."""
    shared_files: Mapping[str, Path] = field(default_factory=dict)
    """Path in the source archive -> repository file added to it, so a function imports a shared module (e.g.
    ``app/common/logging.py``) under the same name as the services instead of carrying a copy."""

    def __post_init__(self) -> None:
        if problem := gcp_limits.name_problem("function", self.function_name):
            raise ValueError(f"CloudFunction: function_name {problem}: give the function another name")
        check_function_source(self.source_dir)
        check_env(self.env, self.secret_env)
        if self.pubsub_topic is not None:
            gcp_limits.check_ranges(
                "CloudFunction (Pub/Sub-triggered)",
                [("timeout_seconds", self.config.timeout_seconds, gcp_limits.FUNCTION_EVENT_TIMEOUT_SECONDS)],
            )


class CloudFunction(GridComponent):
    _module = "compute"

    uri: pulumi.Output[str]
    name: pulumi.Output[str]
    source_object: str

    def __init__(self, name: str, args: CloudFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        digest = tree_hash([args.source_dir], args.source_dir.parent) if args.source_dir.exists() else "missing"
        archive: pulumi.Archive = pulumi.FileArchive(str(args.source_dir))
        if args.shared_files:
            shared = sorted(args.shared_files.items())
            digest = hashlib.sha256(
                digest.encode() + b"".join(name.encode() + b"\0" + path.read_bytes() for name, path in shared)
            ).hexdigest()
            files = tree_files([args.source_dir], args.source_dir)
            archive = pulumi.AssetArchive(
                {str(f.relative_to(args.source_dir)): pulumi.FileAsset(str(f)) for f in files}
                | {name: pulumi.FileAsset(str(path)) for name, path in shared}
            )
        self.source_object = f"{args.function_name}/{digest[:20]}.zip"
        source = gcp.storage.BucketObject(
            self.child_name("source"),
            bucket=args.bucket,
            name=self.source_object,
            source=archive,
            opts=self.child_opts(),
        )
        event_trigger = (
            fn.FunctionEventTriggerArgs(
                trigger_region=args.region,
                event_type="google.cloud.pubsub.topic.v1.messagePublished",
                pubsub_topic=args.pubsub_topic,
                retry_policy="RETRY_POLICY_RETRY",
                service_account_email=args.trigger_service_account or args.service_account,
            )
            if args.pubsub_topic is not None
            else None
        )
        function = fn.Function(
            self.child_name("function"),
            name=args.function_name,
            location=args.region,
            project=args.project,
            labels=dict(args.labels),
            build_config=fn.FunctionBuildConfigArgs(
                runtime=args.runtime,
                entry_point=args.entry_point,
                service_account=args.builds.service_account,
                docker_repository=args.builds.docker_repository,
                source=fn.FunctionBuildConfigSourceArgs(
                    storage_source=fn.FunctionBuildConfigSourceStorageSourceArgs(bucket=args.bucket, object=source.name)
                ),
            ),
            service_config=fn.FunctionServiceConfigArgs(
                available_memory=cfg.memory,
                available_cpu=cfg.available_cpu,
                timeout_seconds=cfg.timeout_seconds,
                min_instance_count=cfg.min_instances,
                max_instance_count=cfg.max_instances,
                max_instance_request_concurrency=cfg.concurrency,
                service_account_email=args.service_account,
                ingress_settings=args.ingress,
                all_traffic_on_latest_revision=True,
                direct_vpc_network_interfaces=[args.network_interface] if args.network_interface else None,
                direct_vpc_egress=args.egress if args.network_interface else None,
                environment_variables=dict(args.env),
                secret_environment_variables=[
                    fn.FunctionServiceConfigSecretEnvironmentVariableArgs(
                        key=key, project_id=args.project, secret=ref.secret, version=ref.version
                    )
                    for key, ref in sorted(args.secret_env.items())
                ],
            ),
            event_trigger=event_trigger,
            opts=self.child_opts(depends_on=[*args.builds.grants, *args.depends_on]),
        )
        # A gen2 function is served by a Cloud Run service of the same name: invoking it is run.invoker there.
        invoker_grants(self, gcp.cloudrunv2.ServiceIamMember, function.name, args.region, args.project, args.invokers)
        self.uri = function.url
        self.name = function.name
        self.register_outputs({"uri": self.uri, "name": self.name})
