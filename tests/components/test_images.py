"""Image tags: they follow the bytes of the tree (also when remembered), and a stack's own workloads hash every
path their Dockerfile copies."""

from __future__ import annotations

import os
from pathlib import Path

from components.compute import images
from components.compute.images import copied_paths, tree_hash


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


def _fresh(paths: list[Path], root: Path) -> str:
    images._tree_hashes.clear()
    return images.tree_hash(paths, root)


def test_tree_hash_is_remembered_per_unchanged_tree_and_follows_every_edit(tmp_path: Path) -> None:
    service = tmp_path / "app" / "svc"
    service.mkdir(parents=True)
    (service / "main.py").write_text("print('a')\n")
    (service / "__pycache__").mkdir()
    (service / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"bytecode")
    first = _fresh([service], tmp_path)
    assert images.tree_hash([service], tmp_path) == first and len(images._tree_hashes) == 1

    (service / "main.py").write_text("print('b')\n")  # same size, new bytes
    stat = (service / "main.py").stat()
    os.utime(service / "main.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    edited = images.tree_hash([service], tmp_path)
    assert edited != first and edited == _fresh([service], tmp_path)

    (service / "extra.py").write_text("")
    assert images.tree_hash([service], tmp_path) not in (first, edited)
    (service / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"other bytecode")  # not part of a build
    assert images.tree_hash([service], tmp_path) == _fresh([service], tmp_path)
