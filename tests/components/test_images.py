"""components.compute.images.tree_hash: the image tag follows the bytes of the tree, also when it is remembered."""

from __future__ import annotations

import os
from pathlib import Path

from components.compute import images


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
