"""Grid's policy pack: security, reliability and cost rules for the Pulumi program in stacks/.

`all_policies` is the list of pulumi_policy Policy objects. Importing this package never starts the
policy server; only `__main__.py` (run by the Pulumi CLI) builds the PolicyPack.
"""

from pulumi_policy import EnforcementLevel, Policy

from policies import cost, deploy, operations, reliability, security

PACK_NAME = "grid-policies"
# Every policy sets its own level; this is only the pack-wide fallback the engine would use.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY

all_policies: list[Policy] = [*security.POLICIES, *deploy.POLICIES, *reliability.POLICIES, *operations.POLICIES, *cost.POLICIES]

__all__ = ["DEFAULT_ENFORCEMENT", "PACK_NAME", "all_policies"]
