"""Entry point the Pulumi CLI runs for `--policy-pack policies`: serve Grid's policies to the engine."""

import sys
from pathlib import Path

# The CLI runs this file from inside policies/; the package lives one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policies import DEFAULT_ENFORCEMENT, PACK_NAME, all_policies

PolicyPack(name=PACK_NAME, policies=all_policies, enforcement_level=DEFAULT_ENFORCEMENT)
