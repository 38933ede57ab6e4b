"""The gate only reads, even a hostile repository (issue 8, "done means"): not one byte, mode
or mtime of the work tree, the index or anything in ``.git`` (refs, objects, config, hooks,
FETCH_HEAD) changes when ``check``, ``check --rev``, ``verify``, ``hook pre-push`` or ``ci``
judges a repository with symlinks out of it, FIFOs, a document over the size bound, a
committed DVC cache and a committed ``.dvc/config.local``.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import V1, World, git_add_forced, github_env  # type: ignore[import-not-found, unused-ignore]

Entry = tuple[int, int, int, str | None]  # (mode, size, mtime_ns, sha256 or link target)
HUGE = 17 * 2**20  # over the 16 MiB default bound on documents


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under ``root``, ``.git`` and ``.dvc`` included: type and mode, size, mtime,
    and the content of regular files (a FIFO or device is never opened)."""
    state: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = os.path.normpath(os.path.join(dirpath, name))
            if name == "." and path != str(root):
                continue  # each directory once: as its parent's entry, the root as "."
            st = os.lstat(path)
            content: str | None = None
            if stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256()
                with open(path, "rb") as fobj:
                    while chunk := fobj.read(1 << 20):
                        digest.update(chunk)
                content = digest.hexdigest()
            state[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, content)
    return state


def assert_untouched(before: dict[str, Entry], after: dict[str, Entry]) -> None:
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert (added, removed, changed) == ([], [], [])


# --------------------------------------------------------------------------- the hostile repository


def _outside(top: Path) -> None:
    """What the committed symlinks point at: beside the repository, bait to read or write."""
    (top / "outside").mkdir(exist_ok=True)
    (top / "outside" / "manifest.json").write_text('{"version": "v3"}\n')


def _hostile(work: Path) -> None:
    """Committed: a bundle and a consumer file that are symlinks out of the repository, a
    bundle with a document over the size bound, the DVC cache and .dvc/config.local."""
    v2 = work / "publish" / "v2"
    v2.mkdir()
    for name in os.listdir(work / V1):
        if name != "model.json":  # DVC's checkout; its pointer comes along
            shutil.copyfile(work / V1 / name, v2 / name)
    with (v2 / "params.yaml").open("wb") as fobj:
        fobj.write(b"a: ")
        fobj.truncate(HUGE)
    (work / "publish" / "v3").symlink_to(Path("..", "..", "outside"))
    (work / "deploy").mkdir()
    (work / "deploy" / "serve.yaml").write_text("model: models/model.json\n")
    (work / "deploy" / "secrets.yaml").symlink_to("/etc/passwd")
    (work / ".dvc" / "config.local").write_text(
        "[core]\n    remote = fake\n['remote \"fake\"']\n    url = ../outside\n"
    )
    git_add_forced(work, ".dvc/cache", ".dvc/config.local")


def _fifos(work: Path) -> None:
    """Not committable: FIFOs where the gate could read, in the checkout under judgement."""
    os.mkfifo(work / "publish" / "v2" / "notes.md")
    os.mkfifo(work / "deploy" / "pipe.yaml")  # a consumer file (consumers: deploy/**)


@pytest.fixture
def hostile(world: World) -> tuple[World, str, str]:
    """The world with branch ``hostile`` pushed and checked out; (world, head, main's tip)."""
    _outside(world.top)
    head = world.branch("hostile", _hostile, dvc_push=False)
    run(world.work, "git", "checkout", "-q", "hostile")
    _fifos(world.work)
    return world, head, world.sha("main")


def _no_traceback(code: int, out: str, err: str, *expected: int) -> None:
    assert code in expected, (code, out, err)
    assert "Traceback" not in out + err
    assert "internal error" not in out + err


# --------------------------------------------------------------------------- local commands

Argv = Callable[[Path], list[str]]
LOCAL: dict[str, Argv] = {
    "check": lambda work: ["check", "--repo", str(work)],
    "check --rev HEAD": lambda work: ["check", "--repo", str(work), "--rev", "HEAD"],
    "check --rev --base": lambda work: [
        "check",
        "--repo",
        str(work),
        "--rev",
        "HEAD",
        "--base",
        "main",
    ],
    "verify": lambda work: ["verify", str(work / "publish" / "v2")],
}


@pytest.mark.parametrize("command", LOCAL)
def test_local_commands_leave_a_hostile_repository_untouched(
    command: str, hostile: tuple[World, str, str], gate: Gate, tmp_path: Path
) -> None:
    world, _, _ = hostile
    work: Path = world.work
    before = snapshot(work)
    code, out, err = gate(*LOCAL[command](work), "--junit-xml", str(tmp_path / "junit.xml"))
    _no_traceback(code, out, err, 1, 2)
    assert_untouched(before, snapshot(work))


def test_the_pre_push_hook_leaves_a_hostile_repository_untouched(
    hostile: tuple[World, str, str], gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, head, main = hostile
    work: Path = world.work
    line = f"refs/heads/hostile {head} refs/heads/main {main}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(line))  # what git feeds the hook
    monkeypatch.chdir(work)  # git runs hooks in the work tree
    before = snapshot(work)
    code, out, err = gate("hook", "pre-push", "origin", world.bare.as_uri(), "--repo", str(work))
    _no_traceback(code, out, err, 1, 2)
    assert "push refused" in err
    assert_untouched(before, snapshot(work))


def _ci_event(world: World, event: str, head: str, main: str) -> tuple[str, str, dict[str, Any]]:
    """(the branch CI checks out, the GitHub event name, the event payload), pushed to origin."""
    repository = {"default_branch": "main"}
    if event.startswith("pull request"):
        target = event.rsplit(" ", 1)[1]
        if target != "main":
            run(world.work, "git", "push", "-q", "origin", f"main:refs/heads/{target}")
        pull = {
            "number": 7,
            "base": {"ref": target, "sha": main},
            "head": {"ref": "hostile", "sha": head},
        }
        return (
            "hostile",
            "pull_request",
            {"number": 7, "pull_request": pull, "repository": repository},
        )
    branch = "release/9"  # a new release branch: judged from its merge base with main
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/{branch}")
    return (
        branch,
        "push",
        {
            "ref": f"refs/heads/{branch}",
            "before": "0" * 40,
            "after": head,
            "repository": repository,
        },
    )


@pytest.mark.parametrize(
    "event",
    [
        "pull request into main",
        "pull request into release/1",
        "push of a new release branch",
    ],
)
def test_ci_leaves_a_full_clone_of_a_hostile_branch_untouched(
    event: str,
    hostile: tuple[World, str, str],
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    world, head, main = hostile
    branch, name, payload = _ci_event(world, event, head, main)
    ws: Path = world.clone(tmp_path / "ws", branch)  # full history: nothing to fetch
    _outside(tmp_path)
    _fifos(ws)
    pull = payload.get("pull_request")
    env = {
        "GITHUB_SHA": head,
        "GITHUB_REF": "refs/pull/7/merge" if pull else f"refs/heads/{branch}",
        "GITHUB_BASE_REF": pull["base"]["ref"] if pull else "",
        "GITHUB_HEAD_REF": "hostile" if pull else "",
    }
    github_env(monkeypatch, tmp_path / "runner", name, env, payload)
    monkeypatch.chdir(ws)
    reports = tmp_path / "runner"
    before = snapshot(ws)
    code, out, err = gate(
        "ci",
        "--repo",
        str(ws),
        "--junit-xml",
        str(reports / "junit.xml"),
        "--codequality",
        str(reports / "cq.json"),
        "--sarif",
        str(reports / "r.sarif"),
        "--comment",
        str(reports / "comment.md"),
    )
    _no_traceback(code, out, err, 1, 2)
    assert "PG105" in out
    assert (reports / "r.sarif").is_file()
    assert (reports / "comment.md").is_file()
    assert_untouched(before, snapshot(ws))


def test_the_snapshot_sees_what_a_fetch_and_a_status_change(world: World, tmp_path: Path) -> None:
    """The comparisons above are not vacuous: git's own bookkeeping shows in the snapshot."""
    ws: Path = world.clone(tmp_path / "ws", "main")
    before = snapshot(ws)
    run(ws, "git", "fetch", "-q", "origin")
    after = snapshot(ws)
    assert os.path.join(".git", "FETCH_HEAD") in set(after) - set(before)
    commit_all(ws, "a change")
    assert snapshot(ws)[os.path.join(".git", "index")] != before[os.path.join(".git", "index")]
