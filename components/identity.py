"""One service account per workload, and the few project-level roles a workload cannot get on a resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_tls as tls

from components._base import GridComponent
from components.secrets import Secret, SecretArgs

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
        for workload, roles in args.project_roles.items():
            if workload not in args.accounts:
                raise ValueError(f"project_roles names unknown workload '{workload}'")
            if bad := FORBIDDEN_PROJECT_ROLES.intersection(roles):
                raise ValueError(f"{workload}: {', '.join(sorted(bad))} may not be granted at project level")
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


@dataclass
class SigningKeyArgs:
    secret_id: str
    """Secret Manager ID the PKCS#8 PEM private key is stored under."""
    readers: Mapping[str, pulumi.Input[str]]
    """Workload -> IAM member that may read the private key (only the token issuer)."""
    labels: Mapping[str, str] = field(default_factory=dict)


class SigningKey(GridComponent):
    """An ECDSA P-256 key for signing access tokens (ES256), kept in Secret Manager for its one reader.

    Verifiers never see it: the issuer publishes the public half as a JWKS.
    """

    _module = "identity"

    secret: Secret
    public_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: SigningKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        key = tls.PrivateKey(self.child_name("key"), algorithm="ECDSA", ecdsa_curve="P256", opts=self.child_opts())
        self.secret = Secret(
            self.child_name("secret"),
            SecretArgs(
                secret_id=args.secret_id, value=key.private_key_pem_pkcs8, accessors=args.readers, labels=args.labels
            ),
            opts=self.child_opts(),
        )
        self.public_key_pem = key.public_key_pem
        self.register_outputs({"public_key_pem": self.public_key_pem})
