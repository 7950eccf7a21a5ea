"""The guard of every plan-speed change: each shipped stack's `grid plan --json` is byte-identical before and after.

    .venv/bin/python bench/plan_identity.py --save /tmp/plans-before    # on the tree before the change
    .venv/bin/python bench/plan_identity.py --check /tmp/plans-before   # on the changed tree: exit 1 on any change

Every stack file of every project `grid plan` knows (grid: dev, dev-external, staging, prod; bootstrap: example) is
planned in a fresh process, as a user runs it. The grid stacks are then planned once more all in one process
(`grid plan --stack dev --stack prod ... --json`), where anything a plan remembers per process (tree hashes,
checked schemas, imported modules) is warm: each of those documents must equal the fresh process's.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grid.projects import PROJECTS  # noqa: E402
from grid.stackfile import stack_names  # noqa: E402


def _plan(project: str, stacks: list[str]) -> str:
    argv = [
        sys.executable,
        "-m",
        "grid.cli",
        "plan",
        "--project",
        project,
        *(a for s in stacks for a in ("--stack", s)),
    ]
    done = subprocess.run([*argv, "--json"], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"plan_identity: {' '.join(argv[3:])} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout


def plans() -> dict[str, str]:
    """``<project>.<stack>`` -> the `grid plan --json` stdout of that stack in a fresh process."""
    return {
        f"{project}.{stack}": _plan(project, [stack])
        for project, spec in PROJECTS.items()
        for stack in stack_names(spec.root)
    }


def one_process_mismatches(fresh: dict[str, str]) -> list[str]:
    """The grid stacks whose plan, made in one process after other stacks, differs from a fresh process's."""
    stacks = stack_names(PROJECTS["grid"].root)
    together = json.loads(_plan("grid", stacks))
    return [
        f"grid.{s} (planned in one process with {', '.join(stacks)})"
        for s in stacks
        if together[s] != json.loads(fresh[f"grid.{s}"])
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--save", type=Path, metavar="DIR", help="write each stack's plan to DIR/<project>.<stack>.json")
    mode.add_argument("--check", type=Path, metavar="DIR", help="compare each stack's plan with DIR's, byte for byte")
    args = parser.parse_args()
    fresh = plans()
    mismatches = one_process_mismatches(fresh)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for name, document in fresh.items():
            (args.save / f"{name}.json").write_text(document)
        print(f"saved {len(fresh)} plans to {args.save}")
    else:
        changed = []
        for name, document in fresh.items():
            saved = args.check / f"{name}.json"
            before = saved.read_text() if saved.is_file() else ""
            if document != before:
                diff = difflib.unified_diff(
                    before.splitlines(), document.splitlines(), str(saved), name, n=1, lineterm=""
                )
                changed.append(f"{name}:\n" + "\n".join(list(diff)[:40]))
        print(f"compared {len(fresh)} plans with {args.check}: {len(fresh) - len(changed)} byte-identical")
        mismatches += changed
    if mismatches:
        sys.exit("plan_identity: plans differ:\n" + "\n".join(mismatches))


if __name__ == "__main__":
    main()
