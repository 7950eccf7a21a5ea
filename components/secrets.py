"""Secret Manager secrets whose value only the named workloads may read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import pulumi
import pulumi_gcp as gcp

from components._base import GridComponent
from gridlib.labels import EXTERNAL_LABEL


class SecretRef(NamedTuple):
    """An environment variable filled from Secret Manager: short secret ID and pinned version."""

    secret: pulumi.Input[str]
    version: pulumi.Input[str]
    grants: Mapping[str, pulumi.Resource] = MappingProxyType({})
    """Workload -> its accessor grant on this secret (what a workload reading the secret must wait for)."""


def own_grants(workload: str, refs: Iterable[SecretRef]) -> list[pulumi.Resource]:
    """The accessor grants ``workload`` needs before its first revision: one per secret it reads.

    Cloud Run (and a gen2 function's service) refuses a revision whose identity cannot access a referenced
    secret (https://cloud.google.com/run/docs/configuring/services/secrets#access-secret), and the secret
    version alone is no proof of access: the workload must wait for its own grant.
    """
    grants: list[pulumi.Resource] = []
    for ref in refs:
        if workload not in ref.grants:
            raise ValueError(f"{workload} reads secret {ref.secret} but is not among its accessors")
        grants.append(ref.grants[workload])
    return grants


@dataclass
class SecretArgs:
    secret_id: str
    """Secret Manager secret ID (letters, digits, _ and -)."""
    value: pulumi.Input[str]
    """The secret payload; stored as the secret's first version and kept secret in Pulumi state."""
    accessors: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workload name -> IAM member (``serviceAccount:...``) granted ``roles/secretmanager.secretAccessor``
    on this secret only. Nobody else gets access."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels on the secret (stack-wide labels come from the provider)."""
    replica_locations: Sequence[str] = ()
    """Pin replicas to these regions (user-managed replication); empty means automatic replication."""
    keep_replaced_versions: bool = False
    """Leave a version Pulumi replaces (a new value) enabled in Secret Manager instead of destroying it. A stack
    that rolls out tagged keeps serving its stable revision, which pins the old version, until the candidate is
    promoted; destroyed, that revision could not start another instance. Destroy it once nothing serves it
    (docs/runbooks/rotate-secrets.md)."""


class Secret(GridComponent):
    """One secret, its first version and per-workload accessor grants."""

    _module = "secrets"

    secret_id: pulumi.Output[str]
    """Fully-qualified ID: ``projects/<p>/secrets/<id>``."""
    name: str
    """The short secret ID, as Cloud Run's ``secretKeyRef.secret`` wants it."""
    version: pulumi.Output[str]

    def __init__(self, name: str, args: SecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        replication = (
            gcp.secretmanager.SecretReplicationArgs(
                user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[
                        gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location=loc)
                        for loc in args.replica_locations
                    ]
                )
            )
            if args.replica_locations
            else gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs())
        )
        secret = gcp.secretmanager.Secret(
            self.child_name("secret"),
            secret_id=args.secret_id,
            replication=replication,
            labels=dict(args.labels),
            opts=self.child_opts(),
        )
        version = gcp.secretmanager.SecretVersion(
            self.child_name("version"),
            secret=secret.id,
            secret_data=pulumi.Output.secret(args.value),
            # ABANDON: Pulumi forgets the replaced version and Secret Manager keeps it enabled
            # (https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/secret_manager_secret_version#deletion_policy).
            deletion_policy="ABANDON" if args.keep_replaced_versions else None,
            opts=self.child_opts(),
        )
        self.grants: dict[str, gcp.secretmanager.SecretIamMember] = {}
        for workload, member in sorted(args.accessors.items()):
            self.grants[workload] = gcp.secretmanager.SecretIamMember(
                self.child_name(f"access-{workload}"),
                secret_id=secret.id,
                role="roles/secretmanager.secretAccessor",
                member=member,
                opts=self.child_opts(),
            )
        self.secret_id = secret.id
        self.name = args.secret_id
        self.version = version.version
        self.register_outputs({"secret_id": self.secret_id, "version": self.version})

    @property
    def ref(self) -> SecretRef:
        """This secret's pinned version, for a workload's environment."""
        return SecretRef(self.name, self.version, MappingProxyType(self.grants))


def check_datastore_args(args: Any, store: str, managed: str) -> None:
    """Refuse a Cache's or Database's args (``config.external``, ``external_url``, ``access``) it cannot build: an
    external ``store`` (redis, postgres) without its URL, or a ``managed`` instance without the network's private
    service access. From their ``__post_init__``: before the component registers anything (nothing half-done)."""
    if args.config.external is not None:
        if args.external_url is None:
            raise ValueError(
                f"an external {store} needs its URL (grid:<external.urlSecret>): pass external_url (a Grid stack "
                "reads it from the secret config key that external.urlSecret names)"
            )
    elif args.access is None:
        raise ValueError(
            f"{managed} needs the network's private service access: pass access=the Networking component's "
            f"private_access (NetworkingArgs.private_service_access on), or use an external {store}"
        )


def external_url_secret(
    owner: GridComponent,
    kind: str,
    url: pulumi.Input[str] | None,
    secret_id: str,
    accessors: Mapping[str, pulumi.Input[str]],
    labels: Mapping[str, str],
    keep_replaced_versions: bool = False,
) -> Secret:
    """``owner``'s ``url-secret`` holding the URL of a ``kind`` (postgres, redis) outside Google Cloud: the same
    secret its managed instance's URL would be in, labelled so the pack and the price report know the case.
    ``url`` was checked by the owner's args (``check_datastore_args``), before anything registered."""
    assert url is not None
    return Secret(
        owner.child_name("url-secret"),
        SecretArgs(
            secret_id=secret_id,
            value=pulumi.Output.secret(url),
            accessors=accessors,
            labels={**labels, EXTERNAL_LABEL: kind},
            keep_replaced_versions=keep_replaced_versions,
        ),
        opts=owner.child_opts(),
    )
