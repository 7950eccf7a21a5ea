"""One rule shape used by several services: an IAM grant to allUsers or allAuthenticatedUsers."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import public_grants
from policies.rule import Meta, Source, Subject, resource_policy


def _no_public_members(r: Subject) -> Iterator[str]:
    for role, member in public_grants(r.props):
        yield f"{member} is granted {role}"


def not_public_policy(name: str, what: str, types: Collection[str], sources: tuple[Source, ...]) -> Policy:
    return resource_policy(
        Meta(
            name=name,
            description=f"{what} must not be granted to allUsers or allAuthenticatedUsers.",
            remediation="Grant the role to the specific service accounts or groups that need it.",
            sources=sources,
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        types,
        _no_public_members,
    )
