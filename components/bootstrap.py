"""What a team creates once, before Grid's first `pulumi up`: where state and secrets live, and who CI may be.

- ``StateBackend``: a versioned bucket for Pulumi state and a Cloud KMS key for Pulumi's secrets provider.
- ``GithubFederation``: a Workload Identity pool whose OIDC provider trusts one GitHub repository only.
- ``CiIdentity``: a service account CI impersonates through that pool, with its grants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components._base import GridComponent
from components.identity import refuse_forbidden_roles

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def _role_suffix(role: str) -> str:
    return role.rsplit("/", 1)[-1].replace(".", "-").lower()


@dataclass
class StateBackendArgs:
    project: str
    """Operations project that holds the bucket and the key."""
    bucket_name: str
    """Globally unique name; the backend URL is ``gs://<bucket_name>``."""
    bucket_location: str
    noncurrent_version_days: int
    """Overwritten state files are deleted this many days after they stop being current..."""
    noncurrent_versions_kept: int
    """...unless they are among this many newest versions of their file."""
    soft_delete_days: int
    """Deleted objects stay recoverable this long."""
    kms_location: str
    key_ring: str
    key_name: str
    rotation_days: int
    labels: Mapping[str, str] = field(default_factory=dict)


class StateBackend(GridComponent):
    """State bucket and secrets key. Both are ``protect``ed: losing either loses every stack.

    Every ``pulumi up`` rewrites the stack's checkpoint, so object versioning is the state's undo history;
    the lifecycle rule bounds what that history costs. A key ring can never be deleted in Google Cloud and a
    destroyed key makes every stack's secrets unreadable, hence ``protect`` rather than a deletion setting.
    """

    _module = "bootstrap"

    bucket_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    key_id: pulumi.Output[str]
    """``projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>``."""
    secrets_provider: pulumi.Output[str]
    """``gcpkms://`` URL for ``pulumi stack init --secrets-provider``."""

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        bucket = gcp.storage.Bucket(
            self.child_name("state"),
            name=args.bucket_name,
            project=args.project,
            location=args.bucket_location,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=args.soft_delete_days * 86400
            ),
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        with_state="ARCHIVED",
                        days_since_noncurrent_time=args.noncurrent_version_days,
                        num_newer_versions=args.noncurrent_versions_kept,
                    ),
                )
            ],
            force_destroy=False,
            labels=dict(args.labels),
            opts=self.child_opts(protect=True),
        )
        key_ring = gcp.kms.KeyRing(
            self.child_name("keyring"),
            name=args.key_ring,
            project=args.project,
            location=args.kms_location,
            opts=self.child_opts(protect=True),
        )
        key = gcp.kms.CryptoKey(
            self.child_name("secrets-key"),
            name=args.key_name,
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{args.rotation_days * 86400}s",
            version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level="SOFTWARE"
            ),
            # The longest window Cloud KMS allows between "destroy" and the material being gone.
            destroy_scheduled_duration=f"{120 * 86400}s",
            labels=dict(args.labels),
            opts=self.child_opts(protect=True),
        )
        self.bucket_name = bucket.name
        self.backend_url = bucket.name.apply(lambda n: f"gs://{n}")
        self.key_id = key.id
        self.secrets_provider = key.id.apply(lambda k: f"gcpkms://{k}")
        self.register_outputs(
            {"backend_url": self.backend_url, "key_id": self.key_id, "secrets_provider": self.secrets_provider}
        )


@dataclass
class GithubFederationArgs:
    project: str
    pool_id: str
    provider_id: str
    repository: str
    """``owner/name``: the provider rejects every token from any other repository."""
    owner_id: str | None = None
    """Numeric owner ID; pinning it stops a re-registered owner name from inheriting access."""


class GithubFederation(GridComponent):
    """Workload Identity Federation for GitHub Actions: keyless CI, no service account key anywhere.

    The provider's ``attribute_condition`` is evaluated on every token exchange, so a token from another
    repository never becomes a Google identity at all; which identity a run may then impersonate is decided by
    the ``roles/iam.workloadIdentityUser`` bindings on each service account (``CiIdentity``).
    """

    _module = "bootstrap"

    pool_name: pulumi.Output[str]
    """``projects/<number>/locations/global/workloadIdentityPools/<id>``, the root of principal identifiers."""
    provider_name: pulumi.Output[str]
    """The value for google-github-actions/auth's ``workload_identity_provider``."""
    attribute_condition: str

    def __init__(self, name: str, args: GithubFederationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        pool = gcp.iam.WorkloadIdentityPool(
            self.child_name("pool"),
            workload_identity_pool_id=args.pool_id,
            project=args.project,
            display_name="GitHub Actions",
            description=f"CI of {args.repository}; managed by Pulumi (grid-bootstrap).",
            opts=self.child_opts(),
        )
        self.attribute_condition = github_condition(args.repository, args.owner_id)
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            self.child_name("provider"),
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=args.provider_id,
            project=args.project,
            display_name="GitHub Actions OIDC",
            attribute_mapping=GITHUB_ATTRIBUTE_MAPPING,
            attribute_condition=self.attribute_condition,
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=self.child_opts(),
        )
        self.pool_name = pool.name
        self.provider_name = provider.name
        self.register_outputs({"pool_name": self.pool_name, "provider_name": self.provider_name})

    def repository_principals(self, repository: str) -> pulumi.Output[str]:
        """Every run of ``repository``'s workflows: pull requests, pushes, manual runs."""
        return self.pool_name.apply(
            lambda pool: f"principalSet://iam.googleapis.com/{pool}/attribute.repository/{repository}"
        )

    def deployment_principals(self, repository: str, github_environment: str, branch: str) -> pulumi.Output[str]:
        """Only jobs that run in ``github_environment`` *and* on ``branch`` (see GITHUB_ATTRIBUTE_MAPPING)."""
        value = f"repo:{repository}:environment:{github_environment}@refs/heads/{branch}"
        return self.pool_name.apply(
            lambda pool: f"principalSet://iam.googleapis.com/{pool}/attribute.deployment/{value}"
        )


# `sub` is "repo:<owner>/<name>:environment:<env>" for a job that names an environment, so `deployment` joins
# the environment with the ref the job runs on: IAM bindings can then require both in one principal set
# (bindings on separate attributes would be OR-ed).
GITHUB_ATTRIBUTE_MAPPING: Mapping[str, str] = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.repository_owner_id": "assertion.repository_owner_id",
    "attribute.ref": "assertion.ref",
    "attribute.deployment": "assertion.sub + '@' + assertion.ref",
}


def github_condition(repository: str, owner_id: str | None) -> str:
    """CEL the provider checks on every token: this repository (and owner ID, when known) only."""
    condition = f"assertion.repository == '{repository}'"
    if owner_id:
        condition += f" && assertion.repository_owner_id == '{owner_id}'"
    return condition


@dataclass
class CiIdentityArgs:
    project: str
    """Operations project the service account lives in."""
    account_id: str
    description: str
    principals: Sequence[pulumi.Input[str]]
    """Workload Identity principal sets allowed to impersonate the account."""
    project_roles: Mapping[str, Sequence[str]]
    """Project ID -> predefined roles granted there. Basic and impersonation roles are refused."""
    state_bucket: pulumi.Input[str]
    bucket_role: str
    """Role on the state bucket only (objectViewer to read state, objectAdmin to write it)."""
    secrets_key: pulumi.Input[str]
    key_role: str
    """Role on the secrets key only (decrypter for preview, encrypterDecrypter for up)."""
    lock_prefix: str | None = None
    """For a read-only identity: object prefix it may also write, e.g. the DIY backend's lock files."""
    billing_account: str | None = None
    billing_role: str | None = None

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done).
        for project, roles in self.project_roles.items():
            refuse_forbidden_roles(self.account_id, roles, f"on {project}")


class CiIdentity(GridComponent):
    """A service account for CI, reachable only through Workload Identity Federation (it has no keys)."""

    _module = "bootstrap"

    email: pulumi.Output[str]
    member: pulumi.Output[str]

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        account = gcp.serviceaccount.Account(
            self.child_name("account"),
            account_id=args.account_id,
            project=args.project,
            display_name=f"Grid CI {name}",
            description=args.description,
            opts=self.child_opts(),
        )
        for index, principal in enumerate(args.principals):
            gcp.serviceaccount.IAMMember(
                self.child_name(f"wif-{index}"),
                service_account_id=account.name,
                role="roles/iam.workloadIdentityUser",
                member=principal,
                opts=self.child_opts(),
            )
        for project, roles in sorted(args.project_roles.items()):
            for role in sorted(set(roles)):
                gcp.projects.IAMMember(
                    self.child_name(f"{project}-{_role_suffix(role)}"),
                    project=project,
                    role=role,
                    member=account.member,
                    opts=self.child_opts(),
                )
        gcp.storage.BucketIAMMember(
            self.child_name(f"state-{_role_suffix(args.bucket_role)}"),
            bucket=args.state_bucket,
            role=args.bucket_role,
            member=account.member,
            opts=self.child_opts(),
        )
        if args.lock_prefix is not None:
            prefix = args.lock_prefix
            gcp.storage.BucketIAMMember(
                self.child_name("state-locks"),
                bucket=args.state_bucket,
                role="roles/storage.objectUser",
                member=account.member,
                condition=gcp.storage.BucketIAMMemberConditionArgs(
                    title="pulumi-locks-only",
                    description=f"Create and delete objects under {prefix} only",
                    expression=pulumi.Output.from_input(args.state_bucket).apply(
                        lambda b: f'resource.name.startsWith("projects/_/buckets/{b}/objects/{prefix}")'
                    ),
                ),
                opts=self.child_opts(),
            )
        gcp.kms.CryptoKeyIAMMember(
            self.child_name(f"key-{_role_suffix(args.key_role)}"),
            crypto_key_id=args.secrets_key,
            role=args.key_role,
            member=account.member,
            opts=self.child_opts(),
        )
        if args.billing_account and args.billing_role:
            gcp.billing.AccountIamMember(
                self.child_name(f"billing-{_role_suffix(args.billing_role)}"),
                billing_account_id=args.billing_account,
                role=args.billing_role,
                member=account.member,
                opts=self.child_opts(),
            )
        self.email = account.email
        self.member = account.member
        self.register_outputs({"email": self.email})
