"""Docs that are generated stay generated, and the getting-started commands stay the real ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grid.diagram import BEGIN, END, embed, mermaid
from tests.conftest import shipped_plan

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_architecture_diagram_matches_the_prod_plan() -> None:
    current = ARCHITECTURE.read_text(encoding="utf-8")
    expected = embed(current, shipped_plan("prod").to_json())
    if os.environ.get("GRID_UPDATE_DOCS") == "1":
        ARCHITECTURE.write_text(expected, encoding="utf-8")
    assert current == expected, "docs/architecture.md is stale: GRID_UPDATE_DOCS=1 make test, then review"


def test_diagram_collapses_dependencies_to_components() -> None:
    plan = shipped_plan("prod").to_json()
    chart = mermaid(plan)
    assert chart.startswith("flowchart LR\n")
    assert "n_grid_prod_api --> n_grid_prod_db" in chart  # the api service reads the database secret
    assert "--> n_grid_prod_apis" not in chart
    assert BEGIN in ARCHITECTURE.read_text() and END in ARCHITECTURE.read_text()


GETTING_STARTED = ROOT / "docs" / "getting-started.md"


def _shell_lines(text: str) -> list[str]:
    blocks = text.split("```sh\n")[1:]
    return [line.split("  #")[0].strip() for block in blocks for line in block.split("```")[0].splitlines()]


def test_getting_started_grid_commands_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `grid ...` and `python -m grid.certificate ...` line in the guide is accepted by the real parsers."""
    import shlex

    from grid import certificate
    from grid.cli import build_parser

    lines = _shell_lines(GETTING_STARTED.read_text(encoding="utf-8"))
    grid_lines = [shlex.split(line.split("bin/grid ", 1)[1]) for line in lines if "bin/grid " in line]
    assert {args[0] for args in grid_lines} >= {"plan", "preflight", "up"}
    for args in grid_lines:
        build_parser(args[0]).parse_args(args)  # exits 2 on a stale command
    (wait,) = [line for line in lines if "-m grid.certificate" in line]
    parser_args = shlex.split(wait.split("-m grid.certificate", 1)[1].replace("<gatewayAddress>", "34.1.2.3"))
    monkeypatch.setattr(certificate, "wait", lambda *args, **kwargs: 0)  # parse only, no gcloud
    assert certificate.main(parser_args) == 0
    for script in {word for line in lines for word in line.split() if word.startswith(".github/scripts/")}:
        assert (ROOT / script).is_file(), script


def test_getting_started_walks_preflight_to_first_login_with_times() -> None:
    text = GETTING_STARTED.read_text(encoding="utf-8")
    steps = ["Preflight", "First deploy", "DNS", "Certificate ACTIVE", "First migration", "First login"]
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    positions = [next(i for i, h in enumerate(headings) if step in h) for step in steps]
    assert positions == sorted(positions)
    table = [line for line in text.splitlines() if line.startswith("| ") and "|" in line[2:]]
    for step in ("preflight", "first deploy", "DNS", "certificate ACTIVE", "first migration", "first login"):
        (row,) = [line for line in table if step in line.split("|")[1]]
        assert any(unit in row.rsplit("|", 2)[1] for unit in ("min", "seconds", "hours")), row


def test_getting_started_first_login_uses_real_routes_and_valid_bodies() -> None:
    """The guide's curl calls name routes the services serve, with bodies auth accepts (schema and password
    policy), and the migrations job through the stack output the program exports."""
    import json
    import re

    from app.api.routes import agents
    from app.auth.passwords import password_problem
    from app.auth.routes import router as auth_router
    from app.auth.schemas import LoginIn, RegisterIn
    from app.common.health import router as health_router

    text = GETTING_STARTED.read_text(encoding="utf-8")
    served = {r.path for router in (auth_router, health_router, agents.router) for r in router.routes}
    called = set(re.findall(r'"\$BASE(/[^"]*)"', text))
    assert {"/auth/register", "/auth/login", "/auth/me"} <= called
    assert called <= served, called - served
    # Behind dev's API Gateway every call but the probes carries the API key (components/gateway.py API_KEY).
    for line in (line for line in text.splitlines() if '"$BASE/' in line and "curl" in line):
        assert "/health" in line or '-H "x-api-key: $KEY"' in line, line
    bodies = [json.loads(body) for body in re.findall(r"-d '(\{[^']*\})'", text)]
    (register,) = [b for b in bodies if "display_name" in b]
    RegisterIn.model_validate(register)
    assert password_problem(register["password"], register["email"]) is None
    LoginIn.model_validate(next(b for b in bodies if "display_name" not in b))
    serving = (ROOT / "stacks" / "serving.py").read_text(encoding="utf-8")
    for output in re.findall(r"pulumi stack output -s \w+ (\w+)", text):
        assert f'"{output}"' in serving or f'"{output}"' in (ROOT / "stacks" / "program.py").read_text(), output


def test_every_stack_init_suggestion_names_change_secrets_provider_for_existing_stacks() -> None:
    """`pulumi stack init --secrets-provider` only creates a stack; moving one that exists to a key is
    `pulumi stack change-secrets-provider` — wherever the docs suggest a provider, they say both."""
    import re

    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(ROOT.glob("Pulumi.*.yaml"))]:
        text = path.read_text(encoding="utf-8")
        for found in re.finditer(r"stack init", text):
            command = text[found.end() : found.end() + 80].replace("\n# ", " ")
            if "--secrets-provider" in command.split("`")[0].split("\n")[0]:  # a stack init that sets a provider
                window = text[max(0, found.start() - 400) : found.end() + 400]
                assert "change-secrets-provider" in window, (
                    f"{path.name}: {text[found.start() - 80 : found.end() + 80]}"
                )
