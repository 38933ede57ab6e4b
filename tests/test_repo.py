"""promote_gate.repo against GitPython: the commit views list and read what git holds.

``check --rev`` and the pre-push hook judge a commit through CommitView; a path it spells
differently from git (spaces, non-UTF-8 bytes, symlinks) is a file the gate cannot find.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git as gitpython
import pytest
from conftest import commit_all, pinned_env, run

from promote_gate.errors import GateError
from promote_gate.git import Git, TreeEntry, git_env
from promote_gate.repo import CommitView, WorktreeView

LATIN1_FILE = b"caf\xe9.txt"  # not UTF-8: git stores the bytes as they are
LATIN1_DIR = b"d\xe9j\xe0"


def _write(root: Path, rel: bytes, data: bytes, mode: int | None = None) -> None:
    path = os.path.join(os.fsencode(root), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fobj:
        fobj.write(data)
    if mode is not None:
        os.chmod(path, mode)


def _symlink(root: Path, rel: bytes, target: bytes) -> None:
    os.symlink(target, os.path.join(os.fsencode(root), rel))


@dataclass(frozen=True)
class History:
    root: Path
    commits: tuple[str, ...]  # oldest first


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Two commits of awkward paths: spaces, non-UTF-8 bytes, symlinks, an executable, nesting."""
    root = tmp_path_factory.mktemp("tree") / "repo"
    root.mkdir()
    with pinned_env(tmp_path_factory.mktemp("home")):
        run(root, "git", "init", "-q", "-b", "main")
        _write(root, b"a/b/c/deep.txt", b"deep\n")
        _write(root, b"a/top.txt", b"top\n")
        _write(root, b"ab.txt", b"a sibling whose name starts like the directory a\n")
        _write(root, b"with space.txt", b"space\n")
        _write(root, b"dir with space/inner file.txt", b"inner\n")
        _write(root, b"run.sh", b"#!/bin/sh\necho hi\n", 0o755)
        _write(root, LATIN1_FILE, b"latin-1 name\n")
        _write(root, LATIN1_DIR + b"/x.txt", b"in a latin-1 directory\n")
        _write(root, "é-utf8.txt".encode(), b"utf-8 name\n")
        _write(root, b'q"uo\\te.txt', b"quote and backslash\n")
        _write(root, b"new\nline.txt", b"newline in the name\n")
        _write(root, b"blob.bin", bytes(range(256)) * 8)
        _write(root, b"empty", b"")
        _symlink(root, b"link", b"a/b/c/deep.txt")
        _symlink(root, b"linkdir", b"a")
        _symlink(root, b"dangling", b"does/not/exist")
        _symlink(root, b"link-latin1", LATIN1_FILE)
        first = commit_all(root, "awkward paths")

        _write(root, b"a/top.txt", b"top, changed\n")
        _write(root, b"a/b/c/deep.txt", b"deep\n", 0o755)  # mode change only
        os.unlink(os.path.join(os.fsencode(root), b"with space.txt"))
        _symlink(root, b"a/b/up", b"../top.txt")
        second = commit_all(root, "change, chmod, delete, link")
    return History(root, (first, second))


@pytest.fixture
def git(history: History) -> Iterator[Git]:
    repo = Git.open(str(history.root))
    yield repo
    repo.close()


def gitpython_blobs(root: Path, sha: str) -> dict[str, tuple[str, bytes]]:
    """path -> (kind, content or symlink target) for every blob GitPython finds in the tree."""
    repo = gitpython.Repo(str(root))
    try:
        found: dict[str, tuple[str, bytes]] = {}
        for item in repo.commit(sha).tree.traverse():
            if not isinstance(item, gitpython.Blob):
                continue
            kind = "symlink" if stat.S_ISLNK(item.mode) else "file"
            found[str(item.path)] = (kind, item.data_stream.read())
        return found
    finally:
        repo.close()


def as_seen(entries: list[TreeEntry]) -> dict[str, tuple[str, str | None]]:
    return {e.path: (e.kind, e.target) for e in entries}


@pytest.mark.parametrize("which", [0, 1], ids=["first", "second"])
def test_files_under_lists_what_gitpython_lists(history: History, git: Git, which: int) -> None:
    sha = history.commits[which]
    theirs = gitpython_blobs(history.root, sha)
    view = CommitView(git, sha)
    entries = view.files_under("")

    assert [e.path for e in entries] == sorted(theirs)
    assert as_seen(entries) == {
        path: (kind, data.decode("utf-8", "surrogateescape") if kind == "symlink" else None)
        for path, (kind, data) in theirs.items()
    }
    # the awkward names really are there, spelled as Python spells file names
    names = set(theirs)
    assert {
        "caf\udce9.txt",
        "d\udce9j\udce0/x.txt",
        "é-utf8.txt",
        'q"uo\\te.txt',
        "new\nline.txt",
    } <= names


@pytest.mark.parametrize("which", [0, 1], ids=["first", "second"])
def test_read_returns_gitpython_blob_data(history: History, git: Git, which: int) -> None:
    sha = history.commits[which]
    view = CommitView(git, sha)
    for path, (kind, data) in gitpython_blobs(history.root, sha).items():
        entry = view.entry(path)
        assert entry is not None, path
        assert entry.kind == kind, path
        if kind == "file":
            assert view.read(path) == data, path
            digest = view.digest(path)
            assert digest is not None
            assert digest.size == len(data), path
        else:
            assert view.read(path) is None, path  # a symlink has no content to judge


def test_views_of_two_commits_differ_as_git_says(history: History, git: Git) -> None:
    first, second = (CommitView(git, sha) for sha in history.commits)
    assert first.read("a/top.txt") == b"top\n"
    assert second.read("a/top.txt") == b"top, changed\n"
    assert first.entry("with space.txt") is not None
    assert second.entry("with space.txt") is None
    assert second.read("with space.txt") is None
    assert second.entry("a/b/up") == TreeEntry("a/b/up", "symlink", "../top.txt")


@pytest.mark.parametrize(
    "prefix",
    ["a", "a/", "a/b", "dir with space", "d\udce9j\udce0", "linkdir", "nowhere", "ab.txt"],
)
def test_files_under_a_prefix(history: History, git: Git, prefix: str) -> None:
    sha = history.commits[1]
    lead = prefix.rstrip("/") + "/"
    want = sorted(p for p in gitpython_blobs(history.root, sha) if p.startswith(lead))
    assert [e.path for e in CommitView(git, sha).files_under(prefix)] == want
    if prefix == "a":
        assert "ab.txt" not in want
        assert "a/b/c/deep.txt" in want


def test_worktree_view_of_the_checkout_matches_the_commit_view(
    history: History, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(history.root, checkout, symlinks=True)
    git = Git.open(str(checkout))
    try:
        commit = CommitView(git, history.commits[1])
        work = WorktreeView(git.root)
        assert as_seen(work.files_under("")) == as_seen(commit.files_under(""))
        for entry in commit.files_under(""):
            assert work.read(entry.path) == commit.read(entry.path), entry.path
    finally:
        git.close()


# --------------------------------------------------------------------------- the environment


def test_git_env_drops_repository_selectors_and_keeps_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_INDEX_FILE", "/tmp/hook-index")
    monkeypatch.setenv("GIT_DIR", "/tmp/elsewhere/.git")
    monkeypatch.setenv("GIT_WORK_TREE", "/tmp/elsewhere")
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", "/tmp/elsewhere/objects")
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i /keys/deploy")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "http.extraHeader")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "X-Token: t")
    env = git_env()
    for gone in ("GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY"):
        assert gone not in env
    assert env["GIT_SSH_COMMAND"] == "ssh -i /keys/deploy"
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "X-Token: t"
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["PATH"] == os.environ["PATH"]


def test_hook_environment_does_not_redirect_reads(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks run with GIT_DIR/GIT_INDEX_FILE set, possibly for another repository."""
    other = tmp_path / "other"
    other.mkdir()
    run(other, "git", "init", "-q")
    (other / "other.txt").write_text("not this one\n")
    commit_all(other, "other")
    expected_head = history.commits[1]

    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "no-such-index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.chdir(other)
    git = Git.open(str(history.root))
    try:
        assert git.root == str(history.root)
        assert git.head() == expected_head
        assert CommitView(git, expected_head).read("a/top.txt") == b"top, changed\n"
        assert git.read_at(expected_head, "other.txt") is None
    finally:
        git.close()


def test_open_outside_a_repository_is_a_clear_gate_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GateError, match=r"is not inside a git repository"):
        Git.open(str(plain))
    with pytest.raises(GateError, match=r"no such directory"):
        Git.open(str(tmp_path / "missing"))


def test_open_from_a_subdirectory_finds_the_top(history: History) -> None:
    git = Git.open(str(history.root / "a" / "b"))
    try:
        assert git.root == str(history.root)
    finally:
        git.close()


# --------------------------------------------------------------------------- cat-file


def test_cat_if_exists_missing_paths_are_none(history: History, git: Git) -> None:
    first, second = history.commits
    assert git.cat_if_exists(f"{first}:no such file.txt") is None
    assert git.cat_if_exists(f"{second}:with space.txt") is None  # deleted in the second
    assert git.cat_if_exists(f"{first}:dir with space/missing file.txt") is None
    assert git.cat_if_exists("0" * 40) is None
    assert git.read_at(second, "nowhere/at all") is None
    # ...and the batch process still answers correctly afterwards
    assert git.cat_if_exists(f"{first}:with space.txt") == b"space\n"
    assert git.read_at(first, "dir with space/inner file.txt") == b"inner\n"
    assert git.read_at(second, "caf\udce9.txt") == b"latin-1 name\n"


def test_cat_of_an_unknown_object_is_a_gate_error(git: Git) -> None:
    with pytest.raises(GateError, match="cannot read object"):
        git.cat("f" * 40)


def test_resolve_unknown_revision_is_none(history: History, git: Git) -> None:
    assert git.resolve("no-such-branch") is None
    assert git.resolve("--output=/tmp/x") is None
    assert git.resolve("main") == history.commits[1]


def test_a_name_with_a_newline_does_not_desynchronise_later_reads(
    history: History, git: Git
) -> None:
    """``git cat-file --batch`` reads one name per line; a newline must not shift the answers."""
    first = history.commits[0]
    git.cat_if_exists(f"{first}:new\nline.txt")
    assert git.read_at(first, "with space.txt") == b"space\n"
    assert git.read_at(first, "a/top.txt") == b"top\n"
