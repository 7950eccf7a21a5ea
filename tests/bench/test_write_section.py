"""bench/app_bench.py write_section: a re-run replaces its generated text and keeps the hand-written history."""

from __future__ import annotations

from pathlib import Path

from tests.bench import bench_module


def _write_section():
    return bench_module("app_bench").write_section


def test_a_rerun_replaces_the_generated_text_and_keeps_dated_subsections(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\n## App services (auth, api)\n\nold table\n\n"
        "### 2026-11-30, second pass: api CPU per uncached read\n\nkept by hand\n\n"
        "## Monthly cost\n\ncost table\n"
    )
    _write_section()(doc, "## App services (auth, api)\n\nnew table\n")
    text = doc.read_text()
    assert "new table" in text and "old table" not in text
    assert "### 2026-11-30, second pass" in text and "kept by hand" in text  # dropped before the fix
    assert text.index("new table") < text.index("kept by hand") < text.index("## Monthly cost")
    _write_section()(doc, "## Cold starts\n\nappended\n")
    assert doc.read_text().rstrip().endswith("appended") and "cost table" in doc.read_text()
