"""The ``grid`` command.

Exit codes: 0 success (no mandatory violation); 1 mandatory policy violations or a failed Pulumi run;
2 bad config or usage (one line per problem on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import gc
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from grid.stackfile import CommandFailed, UsageError
from gridlib.config_errors import ConfigError

if TYPE_CHECKING:
    from grid import pulumi_cli
    from grid.plan import Plan


EPILOG = """\
examples:
  grid plan dev                          offline plan: resource tree, policy verdicts, monthly cost
  grid plan prod --json > prod.json      the plan as JSON (schema: grid/schemas/plan.schema.json)
  grid plan prod --diff prod.json        what changed since a saved plan, like `pulumi preview --diff`
  grid plan prod --format mermaid        the components and their connections (or --format dot)
  grid -C bootstrap plan example         the bootstrap project (the Pulumi project in ./bootstrap)
  grid up staging                        preview, then ask; `--yes` deploys without asking (CI)
  grid cost prod --json                  the monthly estimate per component
  grid completion bash > /etc/bash_completion.d/grid

exit codes:
  0  success
  1  mandatory policy violations, a failed Pulumi run, a declined `grid up`, or a command that failed
  2  bad config or usage (one line per problem on stderr)

reference: docs/cli.md
"""


def version() -> str:
    """The installed distribution's version; pyproject.toml's when run from a source tree that isn't installed."""
    from importlib import metadata

    try:
        return metadata.version("grid")
    except metadata.PackageNotFoundError:
        import tomllib

        from grid.projects import REPO_ROOT

        return str(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"])


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's default prints the whole usage block; one line is enough and says what to do.
        choice = re.match(r"argument [^:]+: invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if choice:  # Python 3.11's argparse doesn't suggest; a close match is what the user meant most of the time
            known = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), known, n=1)
            message = f"unknown choice '{choice.group(1)}'" + (
                f"; did you mean '{close[0]}'?" if close else f" (choose from {', '.join(known)})"
            )
        self.exit(2, f"grid: {message} (see `{self.prog} --help`)\n")


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stack_name", nargs="?", metavar="STACK", help="stack name: selects Pulumi.STACK.yaml")
    parser.add_argument("--stack", "-s", dest="stack_option", metavar="STACK", help="same as the positional STACK")


def _no_stack(args: argparse.Namespace) -> UsageError:
    """No stack named: say how, with the stack files the project has (`grid -C bootstrap` has its own)."""
    from grid.plan import project_here, project_root, project_spec
    from grid.stackfile import stack_names

    names = stack_names(project_root(project_spec(getattr(args, "project", None) or project_here())))
    first = names[0] if names else "dev"
    files = f"; this project's stack files: {', '.join(names)}" if names else ""
    return UsageError(f"name a stack: `grid {args.command} --stack {first}`{files}")


def _stacks(args: argparse.Namespace) -> list[str]:
    """`grid plan`'s stacks: the positional one and every `--stack`, in order, each once."""
    given = [args.stack_name] if args.stack_name else []
    stacks = list(dict.fromkeys(given + list(args.stack_option or [])))
    if not stacks:
        raise _no_stack(args)
    return stacks


def _stack(args: argparse.Namespace) -> str:
    stack = args.stack_option or args.stack_name
    if not stack:
        raise _no_stack(args)
    if args.stack_option and args.stack_name and args.stack_option != args.stack_name:
        raise UsageError(f"two different stacks given ({args.stack_name}, {args.stack_option}); name one")
    return str(stack)


def _pulumi_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The `pulumi up` / `pulumi preview` options Grid passes through, spelt as Pulumi spells them."""
    _stack_arguments(parser)
    if command == "up":
        parser.add_argument(
            "--yes", "-y", action="store_true", help="deploy without asking (required without a terminal)"
        )
    parser.add_argument(
        "--target", "-t", action="append", default=[], metavar="URN", help="only this resource (repeatable)"
    )
    parser.add_argument("--refresh", "-r", action="store_true", help="refresh the state from the cloud first")
    parser.add_argument("--diff", action="store_true", help="show the changed properties of every resource")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (with up: needs --yes)")


def _pulumi_options(args: argparse.Namespace) -> pulumi_cli.Options:
    from grid import pulumi_cli

    return pulumi_cli.Options(
        yes=getattr(args, "yes", False), target=args.target, refresh=args.refresh, diff=args.diff, json=args.json
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``command`` (argv[0]) lets heavy subcommands load their options only when used."""
    parser = _Parser(
        prog="grid",
        description="Grid: infrastructure-as-Python for Google Cloud.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"grid {version()}")
    parser.add_argument(
        "--cwd", "-C", metavar="DIR", help="run as if started in DIR (like pulumi -C): its Pulumi.yaml is the project"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser("plan", help="offline plan: resources, policy verdicts and monthly cost")
    plan.add_argument("stack_name", nargs="?", metavar="STACK", help="stack name: selects Pulumi.STACK.yaml")
    plan.add_argument(
        "--stack",
        "-s",
        dest="stack_option",
        action="append",
        metavar="STACK",
        help="same as the positional STACK; repeat it to plan several stacks in one process (imports paid once)",
    )
    plan.add_argument(
        "--json", action="store_true", help="print the machine-readable plan (grid/schemas/plan.schema.json)"
    )
    plan.add_argument("--project", help="grid or bootstrap; same as `-C DIR` with that project's directory")
    plan.add_argument(
        "--diff",
        metavar="BASE.json",
        help="what changes against a saved `grid plan --json` (like pulumi preview --diff)",
    )
    plan.add_argument(
        "--format",
        choices=tuple(PLAN_FORMATS),
        default=None,
        help="text (default): the report; json: same as --json; tfplan: Terraform plan JSON for Terraform "
        "scanners; mermaid or dot: the components and their connections",
    )

    for name, text in (
        ("preview", "pulumi preview with the policy pack, Grid's verdicts and the cost change"),
        ("up", "preview, ask, then pulumi up with the policy pack (--yes skips the question)"),
    ):
        _pulumi_arguments(commands.add_parser(name, help=text), name)

    cost = commands.add_parser("cost", help="monthly estimate per component, or the change between two plans")
    cost.add_argument("stack_name", nargs="?", metavar="STACK", help="stack name: selects Pulumi.STACK.yaml")
    cost.add_argument("--stack", "-s", dest="stack_option", metavar="STACK", help="same as the positional STACK")
    cost.add_argument(
        "--diff", nargs=2, metavar=("BEFORE.json", "AFTER.json"), help="compare two `grid plan --json` files"
    )
    cost.add_argument("--json", action="store_true", help="print the estimate (or the change) as JSON")

    rollout = commands.add_parser("rollout", help="promote the candidate revision of a service, or roll it back")
    rollout.add_argument("stack_name", metavar="STACK")
    rollout.add_argument("service", help="a Cloud Run service of the stack (auth, api, ai or one of its own)")
    rollout.add_argument("action", choices=("promote", "rollback"))

    from grid import db

    db.add_arguments(commands.add_parser("db", help="back up and restore the database, verified"))

    preflight = commands.add_parser("preflight", help="what must be true before the first pulumi up, checked")
    _stack_arguments(preflight)
    preflight.add_argument("--offline", action="store_true", help="print the checklist only, even with gcloud")

    completion = commands.add_parser("completion", help="print the shell completion script (bash, zsh or tcsh)")
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"))

    local = commands.add_parser("local", help="run the whole platform on this machine (no cloud, no Docker)")
    # The local runner pulls in the app stack; `grid plan` shouldn't pay for it. Completion needs every option.
    if command in ("local", "completion"):
        from grid import local as local_runner

        local_runner.add_arguments(local)
    return parser


# A plan formatter: (plan, its diff against --diff BASE.json or None, project key) -> what to print.
Formatter = Callable[["Plan", "dict | None", str], str]


def _text(plan: Plan, diff: dict | None, project: str) -> str:
    from grid import terminal

    if terminal.is_terminal():  # drawn to fit the terminal; pipes and files keep the plain text
        if diff is None:
            terminal.print_plan(plan)
        else:
            terminal.print_diff(diff)
        return ""
    if diff is None:
        from grid.report import render_plan

        return render_plan(plan)
    from grid.plandiff import diff_lines

    return "\n".join(diff_lines(diff))


def _graph(renderer: str) -> Formatter:
    def render(plan: Plan, diff: dict | None, project: str) -> str:
        from grid import diagram

        return getattr(diagram, renderer)(plan.to_json()).rstrip("\n")

    return render


def _json(plan: Plan, diff: dict | None, project: str) -> str:
    document = plan.to_json()
    if diff is not None:
        document["diff"] = diff
    return json.dumps(document, indent=2, sort_keys=False)


def _tfplan(plan: Plan, diff: dict | None, project: str) -> str:
    from grid.tfplan import export

    return json.dumps(export(plan.run.resources, stack=plan.run.stack, project=project), indent=1)


# `grid plan --format NAME`: how a finished plan is printed (another format is one more entry here).
PLAN_FORMATS: dict[str, Formatter] = {
    "text": _text,
    "json": _json,
    "tfplan": _tfplan,
    "mermaid": _graph("mermaid"),
    "dot": _graph("dot"),
}


def _change_directory(directory: str) -> None:
    try:
        os.chdir(directory)
    except OSError as exc:
        raise UsageError(f"--cwd {directory}: {exc.strerror.lower()}") from None


def _plan(args: argparse.Namespace) -> int:
    from grid.plan import make_plan, project_here

    fmt = "json" if args.json else (args.format or "text")
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} ask for two formats; give one")
    stacks = _stacks(args)
    if len(stacks) > 1:
        return _plan_many(stacks, fmt, args)
    base = None
    if args.diff:
        from grid.cost import load_plan

        base = load_plan(args.diff)  # a bad file fails before the (slow) plan runs
    project = args.project or project_here()
    with _progress(f"Planning {stacks[0]} offline…"):
        plan = make_plan(stacks[0], project=project)
    _warn(plan)
    diff = None
    if base is not None:
        from grid.plandiff import diff_plans

        replace = {r.urn: r.replace_on_changes for r in plan.run.resources if r.replace_on_changes}
        diff = diff_plans(base, plan.to_json(), replace)
    output = PLAN_FORMATS[fmt](plan, diff, project)
    if output:
        print(output)
    return 1 if plan.mandatory else 0


def _plain_stderr() -> bool:
    """True when stderr is certainly no terminal to rich, known without importing it (~50 ms of a `grid plan` in a
    pipe or CI, where grid/terminal.py would draw nothing anyway).

    grid/terminal.py asks rich's ``Console(stderr=True).is_terminal``, which is forced only by the TTY_COMPATIBLE and
    FORCE_COLOR variables and otherwise is the stream's ``isatty()`` (or False); with neither set and no tty, rich's
    answer is False too (tests/grid/test_cli_basics.py checks it against rich). Anything else is left to rich."""
    if {"TTY_COMPATIBLE", "FORCE_COLOR"} & os.environ.keys():
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one: rich's answer is False as well
        return True


def _progress(message: str) -> contextlib.AbstractContextManager[None]:
    """grid/terminal.py's spinner on stderr, or nothing where it would draw nothing."""
    if _plain_stderr():
        return contextlib.nullcontext()
    from grid.terminal import progress

    return progress(message)


def _warn(plan: Plan) -> None:
    if _plain_stderr():
        for warning in plan.warnings:  # stderr: stdout stays the document (--json) or the report
            print(f"grid: warning: {warning}", file=sys.stderr)  # grid/terminal.py warn's plain line
        return
    from grid.terminal import warn

    for warning in plan.warnings:
        warn(f"grid: warning: {warning}")


def _plan_many(stacks: list[str], fmt: str, args: argparse.Namespace) -> int:
    """Several stacks in one process, for CI: the provider and program imports are paid once, not per stack.

    `--json` prints one object, stack name -> that stack's plan document (each as `grid plan STACK --json` prints
    it); text prints each report under a `== STACK ==` heading. Exit 1 if any stack has a mandatory violation.
    """
    if fmt not in ("text", "json"):
        raise UsageError(f"--format {fmt} draws one stack; plan several stacks with text or --json")
    if args.diff:
        raise UsageError("--diff compares one stack with a saved plan; name one stack")
    from grid.plan import make_plan, project_here

    project = args.project or project_here()
    plans = {}
    for stack in stacks:  # all planned before anything is printed: a bad stack file fails with nothing half-done
        with _progress(f"Planning {stack} offline…"):
            plans[stack] = make_plan(stack, project=project)
    for plan in plans.values():
        _warn(plan)
    if fmt == "json":
        _print_json({stack: plan.to_json() for stack, plan in plans.items()})
    else:
        for stack, plan in plans.items():
            print(f"== {stack} ==")
            output = _text(plan, None, project)
            if output:
                print(output)
    return 1 if any(plan.mandatory for plan in plans.values()) else 0


def _cost(args: argparse.Namespace) -> int:
    from grid import cost

    if args.diff:
        before, after = (cost.load_plan(path) for path in args.diff)
        if args.json:
            _print_json(cost.diff(before, after))
        else:
            print("\n".join(cost.diff_lines(before, after)))
        return 0
    from grid.plan import make_plan

    document = make_plan(_stack(args)).to_json()
    if args.json:
        _print_json(cost.summary(document))
    else:
        print("\n".join(cost.summary_lines(document)))
    return 0


def _print_json(document: dict) -> None:
    json.dump(document, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """The `grid` command. Without ``argv`` it is the process's entry point (the console script, `python -m
    grid.cli`), which ends when it returns: the heap is then frozen, sparing the interpreter's shutdown its
    collections over everything the command built (for `grid plan --stack prod`, ~1.3 CPU seconds of a ~6 s process;
    docs/benchmarks.md). Given ``argv`` (the tests, in-process) it leaves the collector alone."""
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        gc.freeze()
    return code


def _main(argv: list[str]) -> int:
    command = next((a for a in argv if a in ("local", "completion")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        if args.cwd:
            _change_directory(args.cwd)
        if args.command == "completion":
            import shtab  # maintained generator of completion scripts from the argparse parser

            print(shtab.complete(parser, args.shell))
            return 0
        if args.command == "plan":
            return _plan(args)
        if args.command == "rollout":
            from grid import rollout
            from grid.plan import project_root, project_spec

            return rollout.run(args.stack_name, args.service, args.action, project_root(project_spec()))
        if args.command == "db":
            from grid import db

            return db.run(args)
        if args.command == "cost":
            return _cost(args)
        if args.command in ("preview", "up"):
            from grid import pulumi_cli

            return pulumi_cli.run(args.command, _stack(args), options=_pulumi_options(args))
        if args.command == "preflight":
            from grid import preflight

            return preflight.run(_stack(args), offline=args.offline)
        if args.command == "local":
            from grid import local as local_runner

            return local_runner.run(args)
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"grid: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"grid: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `grid plan prod | head`: the reader left; not an error worth a traceback
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
