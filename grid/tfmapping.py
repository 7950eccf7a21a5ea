"""The Pulumi→Terraform name mapping ``grid plan --format tfplan`` needs, derived from the bridges' own metadata.

Every resource Grid plans from pulumi-gcp, pulumi-random and pulumi-tls is a bridged Terraform resource. The
bridge records, per Terraform resource, the Pulumi token it became and every collection field with whether
Pulumi flattened it (``maxItemsOne``: a Terraform block of at most one element becomes a plain object, a
one-element list a plain value). That file is 3 MB for pulumi-gcp; Grid uses a few dozen resource types, so
``grid/tfmapping.json`` keeps only those, and this module regenerates it::

    python -m grid.tfmapping gcp=path/to/pulumi-gcp/provider/cmd/pulumi-resource-gcp/bridge-metadata.json \\
        random=.../pulumi-resource-random/bridge-metadata.json tls=.../pulumi-resource-tls/bridge-metadata.json

(the files are in each provider's GitHub repository, e.g. https://github.com/pulumi/pulumi-gcp). The resource
types kept are the custom types of every shipped stack's plan and of the bootstrap project's, and the types the
policy pack names in ``policies/gcp.py`` (so an injected resource of those types translates too); regenerate
after a program change adds a type; ``tests/grid/test_tfplan.py`` fails while one is missing.

Two metadata formats exist: newer bridges (pulumi-gcp, pulumi-random) write ``auto-aliasing`` (per Terraform
resource: ``current`` token and ``fields`` with ``maxItemsOne`` and nested ``elem.fields``) plus
``auto-settings.maxItemsOneOverrides``; older ones (pulumi-tls) write ``renames`` (token → Terraform name and
``renamedProperties``: Pulumi → Terraform property names).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

MAPPING_FILE: Final = Path(__file__).resolve().parent / "tfmapping.json"
# Terraform registry addresses of the providers Pulumi bridges, by Pulumi package (the token's first segment).
PROVIDERS: Final = {
    "gcp": "registry.terraform.io/hashicorp/google",
    "random": "registry.terraform.io/hashicorp/random",
    "tls": "registry.terraform.io/hashicorp/tls",
}


def _blocks(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``{tf_field: {"one": bool, "blocks": {...}}}`` from the bridge's ``fields`` tree."""
    return {
        name: {"one": bool(spec.get("maxItemsOne")), "blocks": _blocks((spec.get("elem") or {}).get("fields") or {})}
        for name, spec in sorted(fields.items())
    }


def _override(blocks: dict[str, Any], path: str, one: bool) -> None:
    """Apply one ``maxItemsOneOverrides`` entry (``template.$.containers.$.liveness_probe``)."""
    parts = [part for part in path.split(".") if part != "$"]
    node = blocks
    for part in parts[:-1]:
        node = node.setdefault(part, {"one": False, "blocks": {}})["blocks"]
    node.setdefault(parts[-1], {"one": one, "blocks": {}})["one"] = one


def entries(metadata: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every resource of one provider's bridge metadata: Pulumi token → {type, blocks, renames}."""
    found: dict[str, dict[str, Any]] = {}
    overrides = (metadata.get("auto-settings") or {}).get("resources") or {}
    for tf_type, spec in ((metadata.get("auto-aliasing") or {}).get("resources") or {}).items():
        blocks = _blocks(spec.get("fields") or {})
        for path, one in ((overrides.get(tf_type) or {}).get("maxItemsOneOverrides") or {}).items():
            _override(blocks, path, bool(one))
        found[spec["current"]] = {"type": tf_type, "blocks": blocks, "renames": {}}
    renames = metadata.get("renames") or {}
    for token, tf_type in (renames.get("resources") or {}).items():
        entry = found.setdefault(token, {"type": tf_type, "blocks": {}, "renames": {}})
        entry["renames"] = dict(sorted(((renames.get("renamedProperties") or {}).get(token) or {}).items()))
    return found


def derive(metadata_by_package: Mapping[str, Mapping[str, Any]], tokens: Iterable[str]) -> dict[str, Any]:
    """The mapping file's document for ``tokens`` (raises KeyError naming a token no metadata has)."""
    known: dict[str, dict[str, Any]] = {}
    for metadata in metadata_by_package.values():
        known.update(entries(metadata))
    missing = sorted(set(tokens) - set(known))
    if missing:
        raise KeyError(f"no bridge metadata for {', '.join(missing)}")
    return {"resources": {token: known[token] for token in sorted(set(tokens))}}


def load(path: Path = MAPPING_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["resources"]


def judged_tokens() -> set[str]:
    """The resource types the policy pack names (policies/gcp.py): scanners must see them translated too."""
    from policies import gcp

    tokens: set[str] = set()
    for value in vars(gcp).values():
        for token in value if isinstance(value, tuple) else (value,):
            if isinstance(token, str) and token.split(":", 1)[0] in PROVIDERS and token.count(":") == 2:
                tokens.add(token)
    return tokens


def planned_tokens(plan: Callable[[str, str], Any] | None = None) -> set[str]:
    """The bridged resource types of every shipped stack and of the bootstrap project; ``plan(stack, project)``
    plans one (default: ``make_plan``; the tests hand in their session's plans)."""
    from grid.plan import make_plan, project_root, project_spec
    from grid.stackfile import stack_names

    plan = plan or (lambda stack, project: make_plan(stack, project=project))
    tokens: set[str] = set()
    for project in ("grid", "bootstrap"):
        for stack in stack_names(project_root(project_spec(project))):
            for resource in plan(stack, project).run.resources:
                if resource.custom and resource.type.split(":", 1)[0] in PROVIDERS:
                    tokens.add(resource.type)
    return tokens


def main(argv: Sequence[str]) -> int:
    metadata: dict[str, Any] = {}
    for argument in argv:
        package, _, path = argument.partition("=")
        if package not in PROVIDERS or not path:
            print(
                f"usage: python -m grid.tfmapping {' '.join(f'{p}=BRIDGE_METADATA.json' for p in PROVIDERS)}",
                file=sys.stderr,
            )
            return 2
        metadata[package] = json.loads(Path(path).read_text(encoding="utf-8"))
    document = derive(metadata, planned_tokens() | judged_tokens())
    MAPPING_FILE.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {MAPPING_FILE} ({len(document['resources'])} resource types)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
