"""One service account per workload, and the few project-level roles a workload cannot get on a resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_tls as tls
from pydantic import Field

from components._base import GridComponent
from components.secrets import Secret, SecretArgs
from gridlib.config_base import ConfigModel

# Roles that must never be granted project-wide to a workload: basic roles, and roles that let an identity
# become another one (CIS GCP 1.5 / 1.6; Checkov CKV_GCP_41, CKV_GCP_49, CKV_GCP_117).
FORBIDDEN_PROJECT_ROLES = frozenset(
    {
        "roles/owner",
        "roles/editor",
        "roles/viewer",
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountTokenCreator",
        "roles/iam.serviceAccountKeyAdmin",
    }
)


def refuse_forbidden_roles(who: str, roles: Iterable[str], where: str) -> None:
    """Refuse granting ``who`` any of FORBIDDEN_PROJECT_ROLES ``where`` (``at project level``, ``on <project>``)."""
    if bad := FORBIDDEN_PROJECT_ROLES.intersection(roles):
        raise ValueError(
            f"{who}: {', '.join(sorted(bad))} may not be granted {where}: grant the predefined roles that cover "
            "only what it needs (basic and impersonation roles are refused)"
        )


@dataclass
class WorkloadIdentitiesArgs:
    project: str
    """Project the accounts live in."""
    accounts: Mapping[str, str]
    """Workload name -> service account ID (6-30 chars)."""
    act_as: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Workload -> workloads allowed to act as it (roles/iam.serviceAccountUser on that one account only),
    e.g. callers that create Cloud Tasks carrying its OIDC token."""
    deployers: Sequence[str] = ()
    """IAM members that deploy the stack (CI): they act as every workload account, granted on each account."""
    project_roles: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Workload name -> project-level roles. Only for roles with no resource-level grant (e.g. writing custom
    metrics); anything that can be granted on a resource is granted there by the component that owns it."""

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done).
        known = ", ".join(sorted(self.accounts))
        for workload, roles in self.project_roles.items():
            if workload not in self.accounts:
                raise ValueError(
                    f"project_roles names unknown workload '{workload}': add it to accounts or drop its roles "
                    f"(accounts: {known})"
                )
            refuse_forbidden_roles(workload, roles, "at project level")
        for target, callers in self.act_as.items():
            for workload in (target, *callers):
                if workload not in self.accounts:
                    raise ValueError(
                        f"act_as names unknown workload '{workload}': add it to accounts or drop it from act_as "
                        f"(accounts: {known})"
                    )


class WorkloadIdentities(GridComponent):
    """Dedicated service accounts, so no workload ever runs as the default compute account."""

    _module = "identity"

    emails: dict[str, pulumi.Output[str]]
    account_ids: dict[str, pulumi.Output[str]]
    """Fully-qualified ``projects/<p>/serviceAccounts/<email>`` per workload, for grants on the account."""
    members: dict[str, pulumi.Output[str]]
    """``serviceAccount:<email>`` per workload, for IAM bindings."""

    def __init__(self, name: str, args: WorkloadIdentitiesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.emails, self.members, self.account_ids = {}, {}, {}
        for workload, account_id in args.accounts.items():
            account = gcp.serviceaccount.Account(
                self.child_name(workload),
                account_id=account_id,
                display_name=f"Grid {workload} workload",
                description=f"Runtime identity of the {workload} workload; managed by Pulumi (grid).",
                project=args.project,
                opts=self.child_opts(),
            )
            self.emails[workload] = account.email
            self.account_ids[workload] = account.name
            self.members[workload] = account.member
            for role in args.project_roles.get(workload, ()):
                gcp.projects.IAMMember(
                    self.child_name(f"{workload}-{role.rsplit('/', 1)[-1].replace('.', '-').lower()}"),
                    project=args.project,
                    role=role,
                    member=account.member,
                    opts=self.child_opts(),
                )
        for workload in args.accounts if args.deployers else ():
            for index, deployer in enumerate(args.deployers):
                gcp.serviceaccount.IAMMember(
                    self.child_name(f"deployer{index}-acts-as-{workload}"),
                    service_account_id=self.account_ids[workload],
                    role="roles/iam.serviceAccountUser",
                    member=deployer,
                    opts=self.child_opts(),
                )
        for target, callers in sorted(args.act_as.items()):
            for caller in callers:
                gcp.serviceaccount.IAMMember(
                    self.child_name(f"{caller}-acts-as-{target}"),
                    service_account_id=self.account_ids[target],
                    role="roles/iam.serviceAccountUser",
                    member=self.members[caller],
                    opts=self.child_opts(),
                )
        self.register_outputs({"emails": self.emails})


# --- config: the access-token signing key's rotation (grid:signingKey in a stack file) ---


class SigningKeyConfig(ConfigModel):
    """How the access-token signing key is rotated (docs/runbooks/rotate-secrets.md, "JWT signing key")."""

    generation: int = Field(
        1,
        ge=1,
        le=1000,
        description="Raise by one to rotate: a new key of this generation signs, in a secret of its own.",
    )
    publish_previous: bool = Field(
        True,
        description="While true (and generation > 1) the previous generation's key and secret are kept and its "
        "public half stays in the JWKS, so tokens it signed verify until they expire; set false once the new "
        "revision has served one access-token lifetime plus the JWKS max-age (20 min) to delete them.",
    )


@dataclass
class SigningKeyArgs:
    secret_id: str
    """Secret Manager ID the PKCS#8 PEM private key is stored under (generation 1; generation N > 1 appends
    ``-g<N>``)."""
    readers: Mapping[str, pulumi.Input[str]]
    """Workload -> IAM member that may read the private key (only the token issuer)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    config: SigningKeyConfig = field(default_factory=SigningKeyConfig)
    """Which generation signs, and whether the previous one is still published."""


class SigningKey(GridComponent):
    """An ECDSA P-256 key for signing access tokens (ES256), kept in Secret Manager for its one reader.

    Verifiers never see it: the issuer publishes the public half as a JWKS. Rotation is by generation: each
    generation's key lives in a secret of its own, so raising the generation creates the new key beside the old
    one instead of replacing it. While ``publish_previous`` holds, the previous generation's key (and its secret,
    which a revision still serving may pin) is kept and its public half is in ``previous_public_key_pems``, for the
    issuer to publish with its own: a token signed just before the switch still verifies until it expires.
    """

    _module = "identity"

    secret: Secret
    """The signing generation's secret."""
    public_key_pem: pulumi.Output[str]
    previous_public_key_pems: list[pulumi.Output[str]]
    """Public halves of earlier generations that are still published (at most one)."""

    def __init__(self, name: str, args: SigningKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        current = args.config.generation
        kept = [current - 1] if current > 1 and args.config.publish_previous else []
        keys = {generation: self._generation(generation, args) for generation in (*kept, current)}
        key, self.secret = keys[current]
        self.public_key_pem = key.public_key_pem
        self.previous_public_key_pems = [keys[generation][0].public_key_pem for generation in kept]
        self.register_outputs(
            {"public_key_pem": self.public_key_pem, "previous_public_key_pems": self.previous_public_key_pems}
        )

    def _generation(self, generation: int, args: SigningKeyArgs) -> tuple[tls.PrivateKey, Secret]:
        # Generation 1 keeps the names the key had before rotation existed (URNs are state).
        suffix = "" if generation == 1 else f"-g{generation}"
        key = tls.PrivateKey(
            self.child_name(f"key{suffix}"), algorithm="ECDSA", ecdsa_curve="P256", opts=self.child_opts()
        )
        secret = Secret(
            self.child_name(f"secret{suffix}"),
            SecretArgs(
                secret_id=f"{args.secret_id}{suffix}",
                value=key.private_key_pem_pkcs8,
                accessors=args.readers,
                labels=args.labels,
            ),
            opts=self.child_opts(),
        )
        return key, secret
