"""Hostile trees (issue 18): what a bundle carries is judged entry by entry, and no tree is too
deep or too long for the gate to say so.

- ``verify DIR`` reads the bundle as a plain directory: a ``.git/`` or ``.dvc/`` inside it is
  content the manifest does not list (PG103), never the bookkeeping a repository's root
  keeps, and ``verify`` runs no git at all there (a ``.git`` with ``core.fsmonitor`` set
  would run the attacker's command at the first ``git status``).
- Walks are iterative and bounded: a 1,500-level tree (Python 3.11's recursive ``os.walk``
  raised RecursionError) is refused naming the directory, exit 2, in ``check`` and in
  ``verify``; a path longer than the system can open is refused, not silently dropped.

Every tree is built for real on disk; deep ones one level at a time through directory
descriptors, and removed with ``rm -rf`` (``shutil.rmtree`` recurses as ``os.walk`` did).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.errors import GateError
from promote_gate.repo import MAX_DEPTH, WorktreeView

V1 = "publish/v1"
HOSTILE_DEPTH = 1500  # past Python's recursion limit (1,000): os.walk raised RecursionError


# --------------------------------------------------------------------------- helpers


def make_deep(parent: Path, name: str, depth: int) -> str:
    """``depth`` nested directories ``name/d/d/…`` below ``parent`` with ``leaf.txt`` at the
    bottom, created level by level relative to the previous level's descriptor (so no path
    handed to the kernel is longer than one name). Returns the deepest directory's path
    relative to ``parent``."""
    flags = os.O_RDONLY | os.O_DIRECTORY
    fd = os.open(parent, flags)
    try:
        for level in range(depth):
            step = name if level == 0 else "d"
            os.mkdir(step, dir_fd=fd)
            below = os.open(step, flags, dir_fd=fd)
            os.close(fd)
            fd = below
        leaf = os.open("leaf.txt", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
        os.write(leaf, b"at the bottom\n")
        os.close(leaf)
    finally:
        os.close(fd)
    return "/".join([name, *["d"] * (depth - 1)])


@pytest.fixture
def deep_trees() -> Iterator[list[Path]]:
    """Tops of deep trees a test made; removed afterwards by GNU rm, which walks them
    without recursion (pytest's own clean-up would hit RecursionError)."""
    made: list[Path] = []
    yield made
    for top in made:
        subprocess.run(["rm", "-rf", "--", str(top)], check=True)


@pytest.fixture
def download(template: Path, tmp_path: Path) -> Path:
    """publish/v1 as a consumer has it: the files, no git around it, no DVC."""
    dest = tmp_path / "downloads" / "v1"
    shutil.copytree(template / V1, dest)
    return dest


@pytest.fixture
def git_tripwire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` first on PATH that logs where and how it was run, then runs the real git:
    any git the gate starts leaves a line in the returned log."""
    real = shutil.which("git")
    assert real is not None
    log = tmp_path / "git-calls.log"
    bin_dir = tmp_path / "tripwire-bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(
        f'#!/bin/sh\nprintf "%s: %s\\n" "$PWD" "$*" >> {shlex.quote(str(log))}\n'
        f'exec {shlex.quote(real)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def arm_fsmonitor(directory: Path, marker: Path) -> None:
    """Make ``directory`` a git repository whose next ``git status`` runs a command."""
    run(directory, "git", "init", "-q")
    run(directory, "git", "config", "core.fsmonitor", f"touch {shlex.quote(str(marker))}")


def assert_no_crash(err: str) -> None:
    """Refused as the gate refuses: a message, never a traceback or an internal error."""
    assert "Traceback" not in err, err
    assert "internal error" not in err, err


def failures(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Failed codes mapped to the paths of their findings."""
    found: dict[str, set[str]] = {}
    for bundle in doc.get("bundles", []):
        for result in bundle["results"]:
            if result["status"] == "failed":
                paths = found.setdefault(result["code"], set())
                paths.update(f["path"] for f in result["findings"])
    return found


# --------------------------------------------------------------------------- .git/.dvc in a bundle


def test_verify_reports_a_git_directory_in_the_bundle_and_never_runs_git(
    download: Path, tmp_path: Path, gate: Gate, git_tripwire: Path
) -> None:
    marker = tmp_path / "fsmonitor-ran"
    arm_fsmonitor(download, marker)
    git_tripwire.unlink(missing_ok=True)  # arming it ran git on purpose

    code, doc = gate.json("verify", str(download))

    assert code == 1, doc
    found = failures(doc)
    assert set(found) == {"PG103"}, found
    assert {".git/config", ".git/HEAD"} <= found["PG103"], found
    assert all(p.startswith(".git/") for p in found["PG103"]), found
    assert not marker.exists(), "verify ran the bundle's fsmonitor"
    assert not git_tripwire.exists(), git_tripwire.read_text()

    # The trap is live: the first `git status` a consumer runs in the bundle fires it.
    subprocess.run(["git", "status"], cwd=download, capture_output=True, check=False)
    assert marker.exists()


def test_verify_reports_a_dvc_directory_in_the_bundle(download: Path, gate: Gate) -> None:
    (download / ".dvc").mkdir()
    (download / ".dvc" / "config").write_text("[core]\n    remote = elsewhere\n")

    code, doc = gate.json("verify", str(download))

    assert code == 1, doc
    assert failures(doc) == {"PG103": {".dvc/config"}}


def test_verify_reports_a_git_symlink_at_the_bundle_root(
    download: Path, tmp_path: Path, gate: Gate
) -> None:
    """A ``.git`` symlinked to a repository elsewhere is an entry too (it leaves the bundle)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (download / ".git").symlink_to(elsewhere, target_is_directory=True)

    code, doc = gate.json("verify", str(download))

    assert code == 1, doc
    assert failures(doc) == {"PG105": {".git"}}


@pytest.mark.parametrize("rev", [False, True], ids=["worktree", "rev"])
def test_check_reports_a_dvc_directory_committed_in_a_bundle(
    repo: Path, gate: Gate, rev: bool
) -> None:
    """git commits a bundle's ``.dvc/`` (only ``.git`` it refuses): it is unlisted content."""
    (repo / V1 / ".dvc").mkdir()
    (repo / V1 / ".dvc" / "config").write_text("[core]\n    remote = elsewhere\n")
    commit_all(repo, "a .dvc/ inside the bundle")

    argv = ["check", "--repo", str(repo), *(["--rev", "HEAD"] if rev else [])]
    code, doc = gate.json(*argv)

    assert code == 1, doc
    assert failures(doc) == {"PG103": {f"{V1}/.dvc/config"}}


def test_check_reports_a_git_directory_in_a_bundle_of_the_working_tree(
    repo: Path, tmp_path: Path, gate: Gate
) -> None:
    marker = tmp_path / "fsmonitor-ran"
    arm_fsmonitor(repo / V1, marker)

    code, doc = gate.json("check", "--repo", str(repo))

    assert code == 1, doc
    found = failures(doc)
    assert set(found) == {"PG103"}, found
    assert f"{V1}/.git/config" in found["PG103"], found
    assert not marker.exists(), "check ran the bundle's fsmonitor"


# --------------------------------------------------------------------------- deep trees


@pytest.mark.parametrize("where", ["scratch", V1], ids=["untracked", "in-bundle"])
def test_deep_tree_in_the_working_tree_is_refused_naming_it(
    repo: Path, gate: Gate, deep_trees: list[Path], where: str
) -> None:
    parent = repo / where
    parent.mkdir(parents=True, exist_ok=True)
    deep_trees.append(parent / "deep")
    make_deep(parent, "deep", HOSTILE_DEPTH)

    code, out, err = gate("check", "--repo", str(repo))

    assert code == 2, (out, err)
    assert f"{where}/deep/d/d/" in err, err
    assert f"more than {MAX_DEPTH} directories deep" in err, err
    assert_no_crash(err)


def test_deep_tree_in_a_bundle_is_refused_by_verify(
    download: Path, gate: Gate, deep_trees: list[Path]
) -> None:
    deep_trees.append(download / "deep")
    make_deep(download, "deep", HOSTILE_DEPTH)

    code, out, err = gate("verify", str(download))

    assert code == 2, (out, err)
    assert "deep/d/d/" in err, err
    assert f"more than {MAX_DEPTH} directories deep" in err, err
    assert_no_crash(err)


def test_walk_reaches_the_depth_bound_and_refuses_one_level_more(
    tmp_path: Path, deep_trees: list[Path]
) -> None:
    deep_trees.extend([tmp_path / "ok", tmp_path / "over"])
    bottom = make_deep(tmp_path, "ok", MAX_DEPTH)
    view = WorktreeView(str(tmp_path))
    assert [e.path for e in view.files_under("ok")] == [f"{bottom}/leaf.txt"]

    make_deep(tmp_path, "over", MAX_DEPTH + 1)
    with pytest.raises(GateError, match=f"^over/d/d/.* is more than {MAX_DEPTH} directories"):
        view.files_under("")


def test_a_path_longer_than_the_system_opens_is_refused_not_dropped(
    download: Path, gate: Gate, deep_trees: list[Path]
) -> None:
    """Directories of long names until one more file's path passes PATH_MAX: ``lstat`` of it
    fails, and a view that took that for "no file" would verify the bundle clean."""
    limit = os.pathconf(download, "PC_PATH_MAX")
    name = "n" * 200
    # the deepest directory's path stays openable; the file's name takes it past the limit
    levels = (limit - 2 - len(os.fsencode(download))) // (len(name) + 1) - 1
    deep_trees.append(download / name)
    (download / name).mkdir()
    fd = os.open(download / name, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=fd)
            below = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        hidden = os.open("x" * 250, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
        os.write(hidden, b"unlisted, and too far down to open by path\n")
        os.close(hidden)
    finally:
        os.close(fd)

    code, out, err = gate("verify", str(download))

    assert code == 2, (out, err)
    assert "longer than" in err, err
    assert_no_crash(err)
