"""A published pack is unpacked into a directory that is not named `policies`: it must still load itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs the pack's entry point with the repository unreachable: no editable-install finder, no repo on sys.path
# (but the virtualenv, which a fresh clone keeps inside the repository as .venv),
# so only the copied directory can provide `policies`. It prints the port (the pack serves) and where its
# rules were loaded from.
_RUNNER = """
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__ and "editable" not in repr(f)]
sys.path[:] = [p for p in sys.path if p and (p.startswith(sys.prefix) or not p.startswith(sys.argv[2]))]
import pulumi_policy.policy as policy_module
original = policy_module.PolicyPack.__init__
def report(self, *args, **kwargs):
    print(sys.modules["policies"].__file__, flush=True)
    return original(self, *args, **kwargs)
policy_module.PolicyPack.__init__ = report
import pulumi_policy
pulumi_policy.PolicyPack = policy_module.PolicyPack
runpy.run_path(sys.argv[1], run_name="__main__")
"""


@contextmanager
def serving(argv: list[str], cwd: Path) -> Iterator[Callable[[], str]]:
    """Run a pack entry point; yields a reader of its stdout lines (the port comes last); stops it afterwards."""
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout, process.stderr

    def line() -> str:
        text = stdout.readline().strip()
        assert text, stderr.read()
        return text

    try:
        yield line
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_pack_serves_from_a_directory_with_another_name(tmp_path: Path) -> None:
    unpacked = tmp_path / "grid-policies-0.1.0"
    shutil.copytree(REPO_ROOT / "policies", unpacked, ignore=shutil.ignore_patterns("__pycache__"))
    with serving([sys.executable, "-c", _RUNNER, str(unpacked / "__main__.py"), str(REPO_ROOT)], tmp_path) as line:
        assert line() == str(unpacked / "__init__.py")
        assert line().isdigit()
