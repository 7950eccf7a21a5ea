"""`grid plan` on a terminal: drawn with rich to the terminal's width, coloured unless NO_COLOR, with progress on
stderr; piped, the plain text and no progress (the JSON document is covered by test_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.grid.test_cli import grid
from tests.grid.test_up import in_terminal

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m")


def test_plan_fits_a_narrow_terminal_in_colour_with_progress(tmp_path: Path) -> None:
    code, output = in_terminal(["plan", "prod"], "", tmp_path / "log", columns=90, env={"NO_COLOR": ""})
    assert code == 0, output
    lines = re.split(r"\r\n|\r|\n", ESCAPE.sub("", output))
    assert max(len(line) for line in lines) <= 90, max(lines, key=len)
    assert COLOUR.search(output)  # e.g. the green "+" of every resource
    assert "Planning prod offline" in output
    assert "Plan for stack prod (prod), offline" in output and "monthly" in output


def test_no_color_is_respected(tmp_path: Path) -> None:
    code, output = in_terminal(["plan", "dev"], "", tmp_path / "log", columns=100, env={"NO_COLOR": "1"})
    assert code == 0, output
    assert not COLOUR.search(output)


def test_piped_output_is_plain_and_quiet() -> None:
    result = grid("plan", "dev")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout + result.stderr and "Planning" not in result.stderr
