"""``grid plan --format tfplan``: the offline plan as Terraform plan JSON, for Terraform scanners (Checkov, Trivy…).

Pulumi's Google Cloud, random and TLS providers are bridges of the Terraform providers, so every bridged
resource Grid plans has an exact Terraform twin; ``grid/tfmapping.json`` (derived from the bridges' metadata by
``grid/tfmapping.py``) gives its Terraform type and the shape Pulumi changed:

* property names: Pulumi's camelCase back to Terraform's snake_case; a list the bridge pluralised
  (``backends``, ``envs``, ``rules``) back to its Terraform block name (``backend``, ``env``, ``rule``);
* blocks: a Terraform block of at most one element that Pulumi flattened to an object (``settings``,
  ``ipConfiguration``) goes back into a one-element list, as ``terraform show -json`` writes it; a collection
  Pulumi flattened to one value (``healthChecks``) back into a list; maps (labels) keep their keys;
* references: a value that is an identity output (name, email, self link…) of a resource it depends on becomes
  a Terraform reference in ``configuration`` and is "known after apply" in the plan — which is exactly what
  ``pulumi preview`` of a new stack knows — so scanners' cross-resource checks see the edge.

The document follows https://developer.hashicorp.com/terraform/internals/json-format (``format_version`` 1.2).
Resources without a Terraform twin (components, the stack, providers, docker-build images) are listed under the
top-level ``comment`` key with the reason, never dropped silently. Secret values are never written: a secret
input is left out of ``values`` and marked in ``sensitive_values``, as Terraform marks sensitive attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from grid import tfmapping
from grid.engine import SECRET, Registration

FORMAT_VERSION: Final = "1.2"
# The Terraform release whose plan format this document follows (the google provider's twin runs on it).
TERRAFORM_VERSION: Final = "1.9.8"
# Dependency outputs that identify a resource: a value equal to one of these is a reference to that resource.
IDENTITY_OUTPUTS: Final = ("id", "name", "email", "selfLink", "secretId", "connectionName", "uri")
# The member prefixes IAM puts before an identity (`serviceAccount:EMAIL`).
_MEMBER_PREFIX = re.compile(r"^(serviceAccount|user|group|principal|principalSet):")
_API_PREFIX = re.compile(r"^https://www\.googleapis\.com/[a-z]+/[a-z0-9.]+/")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def _singulars(name: str) -> list[str]:
    """Terraform names the bridge could have pluralised into ``name`` (it uses regular English plurals)."""
    candidates = []
    if name.endswith("ies"):
        candidates.append(name[:-3] + "y")
    if name.endswith("es"):
        candidates.append(name[:-2])
    if name.endswith("s"):
        candidates.append(name[:-1])
    return candidates


def terraform_name(key: str, blocks: Mapping[str, Any], renames: Mapping[str, str]) -> str:
    """The Terraform attribute a Pulumi property came from."""
    if key in renames:
        return renames[key]
    name = snake_case(key)
    if name in blocks:
        return name
    for singular in _singulars(name):
        if singular in blocks and not blocks[singular]["one"]:
            return singular
    return name


@dataclass
class _Converted:
    values: dict[str, Any] = field(default_factory=dict)
    sensitive: dict[str, Any] = field(default_factory=dict)
    unknown: dict[str, Any] = field(default_factory=dict)
    expressions: dict[str, Any] = field(default_factory=dict)


class _References:
    """Identity outputs of one resource's dependencies, to recognise references among its input values."""

    def __init__(
        self, resource: Registration, registrations: Mapping[str, Registration], addresses: Mapping[str, str]
    ) -> None:
        self.by_value: dict[str, str] = {}
        for urn in resource.dependencies:
            dependency = registrations.get(urn)
            if dependency is None or urn not in addresses:
                continue
            blocks = _entry(dependency.type)["blocks"] if _entry(dependency.type) else {}
            for output in IDENTITY_OUTPUTS:
                value = dependency.outputs.get(output)
                if isinstance(value, str) and value and value != SECRET:
                    self.by_value.setdefault(value, f"{addresses[urn]}.{terraform_name(output, blocks, {})}")
            self_link = dependency.outputs.get("selfLink")
            if isinstance(self_link, str) and _API_PREFIX.match(self_link):
                # A Compute resource's Terraform id is its self link's relative path (projects/P/global/networks/N).
                self.by_value.setdefault(_API_PREFIX.sub("", self_link), f"{addresses[urn]}.id")

    def of(self, value: Any) -> tuple[list[str], bool]:
        """The references in a scalar or list-of-scalars value, as Terraform lists them (attribute, resource),
        and whether the value is nothing but references (``network = google_compute_network.vpc.id``)."""
        found: list[str] = []
        pure = True
        for item in value if isinstance(value, list) else [value]:
            reference = self.by_value.get(item) if isinstance(item, str) else None
            if reference is None and isinstance(item, str):
                reference = self.by_value.get(_MEMBER_PREFIX.sub("", item))
                pure = False
            if reference is None:
                pure = False
            elif reference not in found:
                found += [reference, reference.rsplit(".", 1)[0]]
        return found, pure and bool(found)


def _entry(token: str) -> dict[str, Any] | None:
    return _mapping().get(token)


_MAPPING: dict[str, dict[str, Any]] | None = None


def _mapping() -> dict[str, dict[str, Any]]:
    global _MAPPING
    if _MAPPING is None:
        _MAPPING = tfmapping.load()
    return _MAPPING


def _convert(
    inputs: Mapping[str, Any], blocks: Mapping[str, Any], renames: Mapping[str, str], references: _References
) -> _Converted:
    out = _Converted()
    for key, value in inputs.items():
        name = terraform_name(key, blocks, renames)
        spec = blocks.get(name)
        if value == SECRET:
            out.sensitive[name] = True
            continue
        if value is None:
            out.unknown[name] = True
            continue
        if spec is not None and (isinstance(value, Mapping) or _is_list_of_dicts(value)):  # blocks; maps have no spec
            elements = [value] if isinstance(value, Mapping) else list(value)
            converted = [_convert(element, spec["blocks"], {}, references) for element in elements]
            out.values[name] = [c.values for c in converted]
            if any(c.sensitive for c in converted):
                out.sensitive[name] = [c.sensitive for c in converted]
            if any(c.unknown for c in converted):
                out.unknown[name] = [c.unknown for c in converted]
            out.expressions[name] = [c.expressions for c in converted]
            continue
        found, pure = references.of(value)
        if pure:
            # A plain reference is "known after apply" for a resource being created, as under `pulumi preview`;
            # left out of the values, it is what a scanner follows to link the two resources.
            out.unknown[name] = True
            out.expressions[name] = {"references": found}
            continue
        if found:
            # An interpolation (`serviceAccount:${google_service_account.x.email}`): the value stays, so checks
            # on its form (member kind, role) still see it; the configuration records what it refers to.
            out.expressions[name] = {"references": found}
            out.values[name] = value
            continue
        if spec is not None and spec["one"] and not isinstance(value, list):
            value = [value]  # Pulumi flattened a one-element collection to its one value
        out.values[name] = value
        out.expressions[name] = {"constant_value": value}
    return out


def _is_list_of_dicts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def _addresses(resources: Sequence[Registration]) -> dict[str, str]:
    """URN → Terraform address (``google_sql_database_instance.grid-prod-db-instance``), unique per type."""
    addresses: dict[str, str] = {}
    taken: set[str] = set()
    for resource in resources:
        entry = _entry(resource.type) if resource.custom else None
        if entry is None:
            continue
        address = f"{entry['type']}.{resource.name}"
        suffix = 2
        while address in taken:  # two parents may name children alike; Terraform addresses must be unique
            address = f"{entry['type']}.{resource.name}-{suffix}"
            suffix += 1
        taken.add(address)
        addresses[resource.urn] = address
    return addresses


def untranslated_reason(resource: Registration) -> str:
    if resource.type == "pulumi:pulumi:Stack":
        return "the Pulumi stack itself (Terraform's root module)"
    if resource.type.startswith("pulumi:providers:"):
        return "a provider instance (Terraform's provider configuration)"
    if not resource.custom:
        return "a Pulumi component: a grouping, its children are exported"
    package = resource.type.split(":", 1)[0]
    if package not in tfmapping.PROVIDERS:
        return f"the {package} provider is native Pulumi, not a bridged Terraform provider"
    return "no entry in grid/tfmapping.json: regenerate it (python -m grid.tfmapping)"


def export(resources: Sequence[Registration], *, stack: str, project: str) -> dict[str, Any]:
    """The Terraform plan JSON document of an offline plan's registrations (every resource is a create)."""
    registrations = {resource.urn: resource for resource in resources}
    addresses = _addresses(resources)
    planned: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    configured: list[dict[str, Any]] = []
    untranslated: list[dict[str, str]] = []
    for resource in resources:
        address = addresses.get(resource.urn)
        if address is None:
            untranslated.append({"urn": resource.urn, "type": resource.type, "reason": untranslated_reason(resource)})
            continue
        entry = _entry(resource.type)
        assert entry is not None
        tf_type, name = address.split(".", 1)
        provider = tfmapping.PROVIDERS[resource.type.split(":", 1)[0]]
        converted = _convert(
            resource.inputs, entry["blocks"], entry["renames"], _References(resource, registrations, addresses)
        )
        head = {"address": address, "mode": "managed", "type": tf_type, "name": name, "provider_name": provider}
        planned.append(
            {**head, "schema_version": 0, "values": converted.values, "sensitive_values": converted.sensitive}
        )
        changes.append(
            {
                **head,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": converted.values,
                    "after_unknown": converted.unknown,
                    "before_sensitive": False,
                    "after_sensitive": converted.sensitive,
                },
            }
        )
        depends_on = sorted({addresses[urn] for urn in resource.dependencies if urn in addresses})
        configured.append(
            {
                "address": address,
                "mode": "managed",
                "type": tf_type,
                "name": name,
                "provider_config_key": tf_type.split("_", 1)[0],
                "expressions": converted.expressions,
                "schema_version": 0,
                **({"depends_on": depends_on} if depends_on else {}),
            }
        )
    providers = sorted({tfmapping.PROVIDERS[r.type.split(":", 1)[0]] for r in resources if r.urn in addresses})
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "comment": {
            "source": f"grid plan --stack {stack} --project {project} --format tfplan: Pulumi registrations "
            "mapped to their Terraform twins (grid/tfplan.py)",
            "untranslated": untranslated,
        },
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                provider.rsplit("/", 1)[1]: {"name": provider.rsplit("/", 1)[1], "full_name": provider}
                for provider in providers
            },
            "root_module": {"resources": configured},
        },
    }
