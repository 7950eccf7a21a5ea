"""Digests of source trees (an image's tag, a function archive's name), remembered by each file's identity.

Hashing a tree reads every byte of it, and the ai service's tree holds the ~90 MB exported model: a third of a CPU
second of every plan. A file whose identity and timestamps are unchanged still has the bytes it had, so a tree's
digest is remembered under the stat of each of its files, in the process and across processes (a small JSON file in
the user's cache directory). What keeps a remembered digest from going stale:

- The key holds each file's relative path, device and inode, size, mtime and ctime (ns). Writing a file changes
  its mtime and ctime; a tool that puts the old mtime back (`touch -r`, `cp -p`, `rsync -t`, tar) still changes its
  ctime, which only the kernel sets; a file replaced by a rename has a new inode; an added or removed file changes
  the list. (mtime and size alone, as the key once was, miss the first two.)
- A digest is only remembered once every file's timestamps are at least ``RACY_NS`` older than the moment the tree
  was examined (git's "racily clean" rule, https://git-scm.com/docs/racy-git): a file rewritten within one tick of
  the filesystem's clock would otherwise keep the key its hashed bytes had. Such a tree is hashed again next time.

The digest itself is the same whether it was remembered or computed: sha256 over each file's relative name and
bytes, in ``tree_files`` order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from time import time_ns

from gridlib import user_cache

_SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache"}
RACY_NS = 2_000_000_000
"""How much older than the examination every timestamp must be for a digest to be remembered: above the coarsest
timestamp granularity of a common local filesystem (FAT's 2 s mtime) and the kernel's clock tick."""
_KEEP = 256
"""Digests kept in the cache file, newest first: each edit of a tree adds one."""
_FORMAT = 1
_CACHE = "source-digests.json"
_FIELD = "digests"  # the document as it has been since the cache was introduced: no cache thrown away

_remembered: dict[str, str] | None = None


def tree_files(paths: Sequence[Path], root: Path) -> list[Path]:
    """Every file under ``paths`` that belongs in a build (caches and bytecode left out), in a stable order."""
    out = []
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        out += [f for f in files if not _SKIP.intersection(f.relative_to(root).parts) and f.suffix != ".pyc"]
    return out


def cache_file() -> Path:
    """``$XDG_CACHE_HOME/grid/source-digests.json`` (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    return user_cache.path(_CACHE)


def _load() -> dict[str, str]:
    global _remembered
    if _remembered is None:
        _remembered = {
            key: value for key, value in user_cache.read(_CACHE, _FORMAT, _FIELD).items() if isinstance(value, str)
        }
    return _remembered


def _store(key: str, digest: str) -> None:
    remembered = _load()
    remembered.pop(key, None)
    remembered[key] = digest
    for old in list(remembered)[:-_KEEP]:
        del remembered[old]
    user_cache.write(_CACHE, _FORMAT, remembered, _KEEP, _FIELD)


def tree_hash(paths: Sequence[Path], root: Path) -> str:
    """Hash of every file under ``paths`` (relative names and bytes): the image tag changes iff the code does."""
    examined = time_ns()
    files = [(f, f.stat()) for f in tree_files(paths, root)]
    identity = [
        (str(f.relative_to(root)), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) for f, st in files
    ]
    key = hashlib.sha256(json.dumps([str(root.resolve()), identity]).encode()).hexdigest()
    remembered = _load()
    if key in remembered:
        return remembered[key]
    digest = hashlib.sha256()
    for file, _ in files:
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    settled = all(max(st.st_mtime_ns, st.st_ctime_ns) <= examined - RACY_NS for _, st in files)
    if settled:
        _store(key, digest.hexdigest())
    return digest.hexdigest()
