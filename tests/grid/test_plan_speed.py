"""The plan's shortcuts answer as what they stand in for: the CLI's rich-free path on a plain stderr."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from grid import cli


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"FORCE_COLOR": "1"},
        {"FORCE_COLOR": ""},
        {"TTY_COMPATIBLE": "1"},
        {"TTY_COMPATIBLE": "0"},
        {"NO_COLOR": "1"},
    ],
)
def test_a_plain_stderr_is_one_rich_would_not_draw_on(monkeypatch, tty: bool, environ: dict[str, str]) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    if cli._plain_stderr():
        assert not Console(stderr=True, highlight=False).is_terminal
    # where rich is not sure to say no, the CLI leaves the question to it (grid/terminal.py)
    assert cli._plain_stderr() == (not tty and not {"FORCE_COLOR", "TTY_COMPATIBLE"} & environ.keys())


def test_warnings_on_a_plain_stderr_are_the_terminal_modules_lines(monkeypatch, capsys) -> None:
    from types import SimpleNamespace

    from grid import terminal

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    plan = SimpleNamespace(warnings=["one", "two"])
    cli._warn(plan)
    ours = capsys.readouterr().err
    for warning in plan.warnings:
        terminal.warn(f"grid: warning: {warning}")
    assert ours == capsys.readouterr().err == "grid: warning: one\ngrid: warning: two\n"
