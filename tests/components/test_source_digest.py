"""A source tree's digest follows its bytes, whether computed or remembered (in the process or in the cache file)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from components.compute import source_digest
from components.compute.source_digest import tree_hash

LATER_NS = 3600 * 10**9  # a clock an hour ahead: every file written by a test is long settled


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own, and a process that has remembered nothing yet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(source_digest, "_remembered", None)
    return tmp_path / "cache"


def _service(tmp_path: Path) -> Path:
    service = tmp_path / "app" / "svc"
    service.mkdir(parents=True)
    (service / "main.py").write_text("print('a')\n")
    (service / "__pycache__").mkdir()
    (service / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"bytecode")
    return service


def _hashed(paths: list[Path], root: Path) -> str:
    """The digest as computed from the bytes (what any remembered digest must equal)."""
    digest = hashlib.sha256()
    for file in source_digest.tree_files(paths, root):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_digest, "_remembered", None)


def test_the_digest_is_of_relative_names_and_bytes_without_caches(tmp_path: Path) -> None:
    service = _service(tmp_path)
    expected = hashlib.sha256(b"app/svc/main.py\0print('a')\n\0").hexdigest()
    assert tree_hash([service], tmp_path) == expected
    (service / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"other bytecode")  # not part of a build
    assert tree_hash([service], tmp_path) == expected


def test_a_settled_tree_is_read_once_then_remembered_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path
) -> None:
    service = _service(tmp_path)
    monkeypatch.setattr(source_digest, "time_ns", lambda: time.time_ns() + LATER_NS)
    first = tree_hash([service], tmp_path)
    assert (private_cache / "grid" / "source-digests.json").is_file()
    _new_process(monkeypatch)

    def unread(self: Path) -> bytes:
        raise AssertionError(f"{self} read again")

    monkeypatch.setattr(Path, "read_bytes", unread)
    assert tree_hash([service], tmp_path) == first


def test_a_file_rewritten_within_its_timestamp_tick_is_read_again(tmp_path: Path) -> None:
    # Same size, new bytes, and the old mtime put back (as `touch -r`, `cp -p` or an edit within one tick of the
    # filesystem's clock leave it): a key of mtime and size alone kept the first digest.
    service = _service(tmp_path)
    first = tree_hash([service], tmp_path)
    stat = (service / "main.py").stat()
    (service / "main.py").write_text("print('b')\n")
    os.utime(service / "main.py", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tree_hash([service], tmp_path) == _hashed([service], tmp_path) != first


def test_a_remembered_file_edited_with_its_mtime_put_back_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(tmp_path)
    monkeypatch.setattr(source_digest, "time_ns", lambda: time.time_ns() + LATER_NS)
    first = tree_hash([service], tmp_path)  # remembered: the clock says the files are an hour old
    main = service / "main.py"
    stat = main.stat()
    main.write_text("print('b')\n")
    os.utime(main, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    while main.stat().st_ctime_ns == stat.st_ctime_ns:  # until the kernel's clock ticks (ctime is its to set)
        os.utime(main, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _new_process(monkeypatch)
    assert tree_hash([service], tmp_path) == _hashed([service], tmp_path) != first


def test_a_file_replaced_added_or_removed_changes_the_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = _service(tmp_path)
    monkeypatch.setattr(source_digest, "time_ns", lambda: time.time_ns() + LATER_NS)
    seen = {tree_hash([service], tmp_path)}
    (service / "new.py").write_text("print('a')\n")
    os.replace(service / "new.py", service / "main.py")  # an editor's save: same bytes here, a new inode
    assert tree_hash([service], tmp_path) in seen
    (service / "extra.py").write_text("")
    seen.add(tree_hash([service], tmp_path))
    (service / "extra.py").unlink()
    assert tree_hash([service], tmp_path) in seen and len(seen) == 2
    assert tree_hash([service], tmp_path) == _hashed([service], tmp_path)


@pytest.mark.parametrize("damage", ["not json", '{"format": 1, "digests": []}', '["a list"]'])
def test_a_damaged_or_unwritable_cache_only_costs_the_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path, damage: str
) -> None:
    service = _service(tmp_path)
    monkeypatch.setattr(source_digest, "time_ns", lambda: time.time_ns() + LATER_NS)
    (private_cache / "grid").mkdir(parents=True)
    (private_cache / "grid" / "source-digests.json").write_text(damage)
    assert tree_hash([service], tmp_path) == _hashed([service], tmp_path)
    _new_process(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(service / "main.py"))  # a file: no directory can be made under it
    assert tree_hash([service], tmp_path) == _hashed([service], tmp_path)
