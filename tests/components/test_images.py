"""Image tags: a stack's own workloads hash every path their Dockerfile copies (the digest itself:
tests/components/test_source_digest.py)."""

from __future__ import annotations

from pathlib import Path

from components.compute.images import copied_paths, copy_sources
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


def _dockerfiles() -> list[Path]:
    """Every Dockerfile of the project (the bundled services' and the stack files' own jobs'), found without walking
    the hidden directories (.venv, .git, .grid), which hold none of the project's own and most of its files."""
    import os

    from tests.conftest import REPO_ROOT

    found = []
    for top, directories, files in os.walk(REPO_ROOT):
        directories[:] = [d for d in directories if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
        found += [Path(top) / "Dockerfile"] if "Dockerfile" in files else []
    return sorted(found)


def test_every_file_a_dockerfile_copies_is_in_its_build_context() -> None:
    """BuildKit sends only what ``<Dockerfile>.dockerignore`` lets through (the context root's .dockerignore when
    there is none): a COPY of a file it leaves out fails the image build at `pulumi up`, not at plan time.

    https://docs.docker.com/build/concepts/context/#dockerignore-files: the last pattern matching a path decides, and
    ``!`` makes an exception. pathspec's gitignore rules agree with Docker's on patterns rooted at the context (a
    pattern without a slash matches at any depth in git, only at the root in Docker), so every pattern is checked to
    be rooted first."""
    import pathspec

    from tests.conftest import REPO_ROOT

    checked = 0
    for dockerfile in _dockerfiles():
        ignore = dockerfile.with_name(f"{dockerfile.name}.dockerignore")
        if not ignore.is_file():
            ignore = REPO_ROOT / ".dockerignore"
        if not ignore.is_file():
            continue
        patterns = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and line[0] != "#"]
        assert all("/" in p or p.lstrip("!") == "**" for p in patterns), f"{ignore}: root every pattern"
        spec = pathspec.GitIgnoreSpec.from_lines(patterns)
        for copied in copied_paths(dockerfile, REPO_ROOT):
            files = [copied] if copied.is_file() else [f for f in copied.rglob("*") if f.is_file()]
            for file in files:
                relative = file.relative_to(REPO_ROOT).as_posix()
                if "__pycache__" in relative:
                    continue
                where = f"{dockerfile.relative_to(REPO_ROOT)} copies {relative}, which {ignore.relative_to(REPO_ROOT)}"
                assert not spec.match_file(relative), f"{where} leaves out of the build context: add !{relative}"
                checked += 1
    assert checked > 0


def test_every_project_module_an_image_imports_is_copied_into_it() -> None:
    """An image copies chosen files of the project (a job copies single modules of app/common): each project module
    that a copied module imports at run time must be copied too, or the container fails at its first import."""
    from tests.conftest import REPO_ROOT
    from tests.test_structure import imports_of, project_modules

    files = {path: name for name, path in project_modules().items()}
    checked = 0
    for dockerfile in _dockerfiles():
        copied = {
            f
            for path in copied_paths(dockerfile, REPO_ROOT)
            for f in ([path] if path.is_file() else path.rglob("*.py"))
            if f.suffix == ".py" and "__pycache__" not in f.parts
        }
        for module in sorted(files[f] for f in copied if f in files):
            missing = [t for t in sorted(imports_of(module)) if project_modules()[t] not in copied]
            where = dockerfile.relative_to(REPO_ROOT)
            assert not missing, f"{where} copies {module}, which imports {missing}: copy them into the image too"
            checked += 1
    assert checked > 0


def test_every_file_a_dockerfile_copies_exists() -> None:
    """The image tag hashes only what exists (``copied_paths``); a COPY of a path that does not fails the build."""
    from tests.conftest import REPO_ROOT

    missing = [
        f"{dockerfile.relative_to(REPO_ROOT)}: {name}"
        for dockerfile in _dockerfiles()
        for name in copy_sources(dockerfile)
        if "*" not in name and not (REPO_ROOT / name).exists()
    ]
    assert not missing, f"COPY of paths the repository does not have: {missing}"
