"""Image tags: a stack's own workloads hash every path their Dockerfile copies (the digest itself:
tests/components/test_source_digest.py)."""

from __future__ import annotations

from pathlib import Path

from components.compute.images import copied_paths
from components.compute.source_digest import tree_hash


def test_the_tag_changes_when_a_copied_shared_file_changes(tmp_path: Path) -> None:
    # An immutable registry refuses a changed image under an unchanged tag, so shared code copied from outside
    # the source folder must count too (the scraper copies app/common/pubsub.py).
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lib.py").write_text("A = 1\n")
    source = tmp_path / "jobs" / "sync"
    source.mkdir(parents=True)
    (source / "Dockerfile").write_text(
        "FROM python:3.11-slim AS build\n"
        "COPY --from=build /opt/venv /opt/venv\n"
        "COPY --chown=10001 shared/lib.py shared/lib.py\n"
        "COPY jobs/sync jobs/sync\n"
        "COPY missing/*.py /srv/\n"
    )
    paths = copied_paths(source / "Dockerfile", tmp_path)
    assert paths == [tmp_path / "shared" / "lib.py", source]

    before = tree_hash([source, *paths], tmp_path)
    (tmp_path / "shared" / "lib.py").write_text("A = 2\n")
    assert tree_hash([source, *paths], tmp_path) != before
