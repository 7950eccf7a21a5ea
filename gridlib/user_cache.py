"""Small JSON documents a process leaves for the next in the user's cache directory (``$XDG_CACHE_HOME/grid/``).

What goes in one is the caller's to key so that it can never be stale; this module only keeps the file sound: each
document carries its format (another format, or a damaged file, reads as empty), is written whole and renamed into
place (a concurrent reader gets the old file or the new, never half), keeps its newest entries only, and a
directory that cannot be written only costs the next process the work again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def path(name: str) -> Path:
    """``$XDG_CACHE_HOME/grid/<name>`` (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grid" / name


def read(name: str, version: int, field: str = "entries") -> dict[str, Any]:
    """The entries (under ``field``) of document ``name`` if it is there, sound and of format ``version``; else none."""
    try:
        document = json.loads(path(name).read_text())
        entries = document.get(field)
        return dict(entries) if document.get("format") == version and isinstance(entries, dict) else {}
    except (OSError, ValueError, AttributeError):  # none yet, unreadable or damaged: start afresh
        return {}


def write(name: str, version: int, entries: dict[str, Any], keep: int, field: str = "entries") -> None:
    """Replace document ``name`` with the last ``keep`` of ``entries`` (insertion order: newest last) under ``field``."""
    kept = dict(list(entries.items())[-keep:])
    target = path(name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}")
        partial.write_text(json.dumps({"format": version, field: kept}))
        os.replace(partial, target)
    except OSError:  # a read-only home only costs the next process the work
        pass
