"""Pulumi entry point (``main: stacks/`` in Pulumi.yaml). Works from any working directory."""

import sys
from pathlib import Path

# The language host puts stacks/ on sys.path; the program imports its siblings from the repository root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from stacks.program import main  # noqa: E402

main()
