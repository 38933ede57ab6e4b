"""``check`` and ``verify`` only read: not one byte, mode or mtime of the repository changes,
and nothing the checked repository configures (git hooks, fsmonitor, filters) ever runs.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run

Entry = tuple[int, int, int, str | None]  # (mode, size, mtime_ns, sha256 or link target)


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under ``root`` (.git and .dvc included): type and mode, size, mtime, content."""
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
                with open(path, "rb") as fobj:
                    content = hashlib.sha256(fobj.read()).hexdigest()
            state[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, content)
    return state


def assert_untouched(before: dict[str, Entry], after: dict[str, Entry]) -> None:
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert (added, removed, changed) == ([], [], [])


def break_report(repo: Path) -> None:
    report = repo / "publish" / "v1" / "report.md"
    report.write_text(report.read_text().replace("| `train.lr` | 0.05 |", "| `train.lr` | 0.02 |"))


Scenario = tuple[Callable[[Path], None] | None, bool, Callable[[Path, Path], list[str]], int]


def _check(repo: Path, _out: Path) -> list[str]:
    return ["check", "--repo", str(repo)]


def _check_rev(repo: Path, _out: Path) -> list[str]:
    return ["check", "--repo", str(repo), "--rev", "HEAD"]


def _check_reports_outside(repo: Path, out: Path) -> list[str]:
    return [
        "check", "--repo", str(repo), "--format", "json",
        "--output", str(out / "gate.json"), "--junit-xml", str(out / "junit.xml"),
    ]  # fmt: skip


def _verify(repo: Path, out: Path) -> list[str]:
    return ["verify", str(repo / "publish" / "v1"), "--junit-xml", str(out / "verify.xml")]


SCENARIOS: dict[str, Scenario] = {
    # name: (how to break the bundle, commit it first?, command line, expected exit code)
    "check": (None, False, _check, 0),
    "check --rev": (None, False, _check_rev, 0),
    "check failing": (break_report, False, _check, 1),
    "check --rev failing": (break_report, True, _check_rev, 1),
    "check junit outside": (break_report, False, _check_reports_outside, 1),
    "verify": (None, False, _verify, 0),
    "verify failing": (break_report, False, _verify, 1),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_gate_leaves_the_repository_untouched(
    repo: Path, tmp_path: Path, gate: Gate, name: str
) -> None:
    breaks, commit, argv, expected = SCENARIOS[name]
    if breaks is not None:
        breaks(repo)
    if commit:
        commit_all(repo, "broken bundle")
    out = tmp_path / "reports"
    index = (repo / ".git" / "index").read_bytes()
    before = snapshot(repo)

    code, stdout, err = gate(*argv(repo, out))

    assert code == expected, (stdout, err)
    assert "Traceback" not in err
    assert_untouched(before, snapshot(repo))
    assert (repo / ".git" / "index").read_bytes() == index
    if name == "check junit outside":
        assert (out / "junit.xml").is_file()
        assert (out / "gate.json").is_file()


def test_snapshot_notices_what_git_status_does(repo: Path) -> None:
    """The comparison above is not vacuous: git's own index refresh in a copied repo shows."""
    before = snapshot(repo)
    run(repo, "git", "status", "--porcelain")
    after = snapshot(repo)
    assert after[os.path.join(".git", "index")] != before[os.path.join(".git", "index")]


# --------------------------------------------------------------------------- no repository code


def plant_traps(repo: Path, fired: Path) -> list[str]:
    """Configure every way a git repository can make a git command run its code.

    Each trap records its name in ``fired``; returns the trap names.
    """
    fired.mkdir()
    traps = {
        "fsmonitor": ("config", "core.fsmonitor"),
        "filter-clean": ("config", "filter.trap.clean"),
        "filter-smudge": ("config", "filter.trap.smudge"),
        "textconv": ("config", "diff.trap.textconv"),
        "pager": ("config", "core.pager"),
        "post-checkout": ("hook", "post-checkout"),
        "post-index-change": ("hook", "post-index-change"),
        "reference-transaction": ("hook", "reference-transaction"),
        "pre-auto-gc": ("hook", "pre-auto-gc"),
        "post-rewrite": ("hook", "post-rewrite"),
    }
    for name, (kind, where) in traps.items():
        marker = shlex.quote(str(fired / name))
        if kind == "config":
            # filters must pass content through (cat), or git would see every file changed
            command = (
                f"touch {marker}; cat"
                if name.startswith(("filter", "textconv"))
                else f"touch {marker}"
            )
            run(repo, "git", "config", where, command)
        else:
            hook = repo / ".git" / "hooks" / where
            hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
            hook.chmod(0o755)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("* filter=trap diff=trap\n")
    return sorted(traps)


@pytest.mark.parametrize("mode", ["worktree", "rev", "verify"])
def test_gate_never_runs_repository_code(repo: Path, tmp_path: Path, gate: Gate, mode: str) -> None:
    fired = tmp_path / "fired"
    plant_traps(repo, fired)
    argv = {
        "worktree": ["check", "--repo", str(repo)],
        "rev": ["check", "--repo", str(repo), "--rev", "HEAD"],
        "verify": ["verify", str(repo / "publish" / "v1")],
    }[mode]
    code, out, err = gate(*argv)
    assert code == 0, (out, err)
    assert sorted(os.listdir(fired)) == []

    # The traps are live: the same repository runs them for plain git commands.
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, check=False)
    subprocess.run(
        ["git", "checkout", "-q", "-b", "trap"], cwd=repo, capture_output=True, check=False
    )
    assert {"fsmonitor", "post-checkout"} <= set(os.listdir(fired)), os.listdir(fired)


def test_output_to_dev_null_leaves_the_device_a_device(repo: Path, gate: Gate) -> None:
    """``--output /dev/null``: written to, never replaced by a file (as root that would
    replace the machine's /dev/null)."""
    before = os.stat("/dev/null")
    assert stat.S_ISCHR(before.st_mode)
    try:
        code, out, _ = gate(
            "check", "--repo", str(repo), "--format", "json", "--output", "/dev/null"
        )
        assert code == 0
        assert out == ""
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
        assert os.stat("/dev/null").st_rdev == before.st_rdev
    finally:
        if not stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.geteuid() == 0:
            os.remove("/dev/null")  # put the machine right before failing
            os.mknod("/dev/null", 0o666 | stat.S_IFCHR, before.st_rdev)
            os.chmod("/dev/null", 0o666)  # noqa: S103 - what /dev/null is
