"""Entry point the Pulumi CLI runs for `--policy-pack DIR`: serve Grid's policies to the engine.

The rules import each other as the `policies` package. A published pack is unpacked into a directory with
another name (and `pulumi policy publish` may run it from anywhere), so this file loads its own directory as
`policies` instead of relying on the directory's name or on the repository being on the path.
"""

import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location(
    "policies", _HERE / "__init__.py", submodule_search_locations=[str(_HERE)]
)
assert _SPEC is not None and _SPEC.loader is not None
_PACKAGE = importlib.util.module_from_spec(_SPEC)
sys.modules["policies"] = _PACKAGE
_SPEC.loader.exec_module(_PACKAGE)

from pulumi_policy import PolicyPack  # noqa: E402

from policies import DEFAULT_ENFORCEMENT, PACK_NAME, all_policies  # noqa: E402
from policies.analyzer import install  # noqa: E402

install()  # Grid's servicer: each resource to its type's policies, PulumiPolicy.yaml's version (policies/analyzer.py)
PolicyPack(name=PACK_NAME, policies=all_policies, enforcement_level=DEFAULT_ENFORCEMENT)
