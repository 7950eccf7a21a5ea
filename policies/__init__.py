"""Grid's policy pack: security, reliability and cost rules for the Pulumi program in stacks/.

`all_policies` is the list of pulumi_policy Policy objects. Importing this package never starts the
policy server; only `__main__.py` (run by the Pulumi CLI) builds the PolicyPack.
"""

import re
from pathlib import Path

from pulumi_policy import EnforcementLevel, Policy

from policies import cost, deploy, operations, reliability, security

PACK_NAME = "grid-policies"
# Every policy sets its own level; this is only the pack-wide fallback the engine would use.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY

all_policies: list[Policy] = [
    *security.POLICIES,
    *deploy.POLICIES,
    *reliability.POLICIES,
    *operations.POLICIES,
    *cost.POLICIES,
]


def pack_version() -> str:
    """The pack's version: PulumiPolicy.yaml's, the one the CLI publishes (read without a YAML dependency, which
    the pack's own requirements.txt does not have)."""
    manifest = (Path(__file__).resolve().parent / "PulumiPolicy.yaml").read_text(encoding="utf-8")
    found = re.search(r"^version:\s*['\"]?([^'\"\s]+)", manifest, re.MULTILINE)
    if found is None:
        raise ValueError("policies/PulumiPolicy.yaml has no version: key")
    return found.group(1)


__all__ = ["DEFAULT_ENFORCEMENT", "PACK_NAME", "all_policies", "pack_version"]
