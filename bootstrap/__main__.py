"""Pulumi entry point of grid-bootstrap (``main: __main__.py`` in bootstrap/Pulumi.yaml)."""

import sys
from pathlib import Path

# The language host runs this file from bootstrap/; the program imports components/ and stacks/ from the repo root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bootstrap.program import main  # noqa: E402

main()
