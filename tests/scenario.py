"""Real repositories for attacks on the gate: a released v1 on a bare origin with a DVC remote.

A ``World`` is a working clone (``work/``), its bare ``origin.git`` and the local-directory
DVC remote beside them (``dvc-remote/``, everything of v1 pushed). An attacker commits to a
branch and pushes it; the gate is then run as the shipped hook runs it (a real ``git push``)
or as the shipped CI templates run it (``promote-gate ci`` in a fresh clone without a DVC
cache, with the vendor's variables and event payload).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.demo import REMOTE, edit_json, relist, resum, rewrite_report

__all__ = ["edit_json", "relist", "resum", "rewrite_report"]  # the forgeries, shared with the demo
from promote_gate.commands.promote import promote

V1 = "publish/v1"
V2 = "publish/v2"
_VIOLATION = re.compile(r"(?m)^  (PG\d{3}) [a-z-]+  (?!skipped:)")


@dataclass(frozen=True)
class Verdict:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def failed(self) -> set[str]:
        """The codes the text report shows as violated (skipped ones say ``skipped:``)."""
        return set(_VIOLATION.findall(self.text))


@dataclass(frozen=True)
class World:
    top: Path

    @property
    def work(self) -> Path:
        return self.top / "work"

    @property
    def bare(self) -> Path:
        return self.top / "origin.git"

    @property
    def remote(self) -> Path:
        return self.top / REMOTE

    def sha(self, rev: str = "HEAD") -> str:
        return run(self.work, "git", "rev-parse", rev).strip()

    def branch(self, name: str, change: Callable[[Path], None], *, dvc_push: bool = True) -> str:
        """Cut ``name`` from main, make ``change``, commit, push it (and its DVC data)."""
        run(self.work, "git", "checkout", "-q", "-b", name, "main")
        change(self.work)
        head = commit_all(self.work, f"{name}: change")
        run(self.work, "git", "push", "-q", "origin", name)
        if dvc_push:
            run(self.work, "dvc", "push", "-q")
        run(self.work, "git", "checkout", "-q", "-f", "main")
        # a forged cache may make DVC complain: the attacker's machine, not the test's concern
        subprocess.run(
            [sys.executable, "-m", "dvc", "checkout", "-q", "--force"],
            cwd=self.work,
            capture_output=True,
            check=False,
        )
        return head

    def clone(self, dest: Path, branch: str) -> Path:
        """The CI's clone (full history, no DVC cache), beside a copy of the DVC remote."""
        run(self.top, "git", "clone", "-q", "--branch", branch, self.bare.as_uri(), str(dest))
        if not (dest.parent / REMOTE).exists() and self.remote.exists():
            shutil.copytree(self.remote, dest.parent / REMOTE, symlinks=True)
        return dest

    def install_hook(self, gate: Gate) -> None:
        code, _, err = gate("install", "--repo", str(self.work), "--hook-type", "pre-push")
        assert code == 0, err

    def gate(
        self,
        through: str,
        gate: Gate,
        monkeypatch: pytest.MonkeyPatch,
        tmp: Path,
        branch: str,
        head: str,
    ) -> Verdict:
        """The verdict on ``head`` as CI judges its pull request into main (``through="ci"``)
        or as the installed hook judges pushing it to main (``"hook"``)."""
        if through == "ci":
            return github_pr(self, gate, monkeypatch, tmp, branch, head)
        self.install_hook(gate)
        return self.push("origin", f"{head}:refs/heads/main")

    def push(self, *argv: str) -> Verdict:
        """A real ``git push`` (the installed hook decides)."""
        proc = subprocess.run(
            ["git", "push", *argv], cwd=self.work, capture_output=True, text=True, check=False
        )
        if proc.returncode == 0:
            code = 0
        elif "promote-gate: error:" in proc.stderr or "push refused" not in proc.stderr:
            code = 2  # the gate could not evaluate (or the push failed for another reason)
        else:
            code = 1
        return Verdict(code, proc.stdout, proc.stderr)


def make_world(template: Path, top: Path) -> World:
    """v1 promoted, committed on main, pushed to a bare origin and to the DVC remote."""
    top.mkdir(parents=True, exist_ok=True)
    work = top / "work"
    shutil.copytree(template, work, symlinks=True)
    shutil.copytree(template.parent / REMOTE, top / REMOTE)
    run(top, "git", "init", "-q", "--bare", "-b", "main", str(top / "origin.git"))
    run(work, "git", "remote", "add", "origin", (top / "origin.git").as_uri())
    run(work, "git", "push", "-q", "origin", "main")
    run(work, "git", "fetch", "-q", "origin")
    return World(top)


def copy_world(world: World, top: Path) -> World:
    shutil.copytree(world.top, top, symlinks=True)
    copied = World(top)
    run(copied.work, "git", "remote", "set-url", "origin", copied.bare.as_uri())
    return copied


# --------------------------------------------------------------------------- CI runs


def github_env(
    monkeypatch: pytest.MonkeyPatch,
    runner: Path,
    event: str,
    env: dict[str, str],
    payload: dict[str, Any],
) -> None:
    runner.mkdir(parents=True, exist_ok=True)
    (runner / "event.json").write_text(json.dumps(payload))
    (runner / "summary.md").write_text("")
    for key in list(os.environ):
        if key == "CI" or key.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_")):
            monkeypatch.delenv(key)
    base = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(runner / "event.json"),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
    }
    for key, value in (base | env).items():
        monkeypatch.setenv(key, value)


def gitlab_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in list(os.environ):
        if key == "CI" or key.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_")):
            monkeypatch.delenv(key)
    for key, value in (
        {"CI": "true", "GITLAB_CI": "true", "CI_DEFAULT_BRANCH": "main"} | env
    ).items():
        monkeypatch.setenv(key, value)


def ci(gate: Gate, monkeypatch: pytest.MonkeyPatch, ws: Path, *extra: str) -> Verdict:
    """``promote-gate ci`` as the templates run it, from the clone."""
    monkeypatch.chdir(ws)
    code, out, err = gate("ci", "--repo", str(ws), *extra)
    return Verdict(code, out, err)


def github_pr(
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp: Path,
    branch: str,
    head: str,
    *extra: str,
    env_extra: dict[str, str] | None = None,
) -> Verdict:
    base = world.sha("main")
    ws = world.clone(tmp / "ws", branch)
    payload = {
        "number": 7,
        "pull_request": {
            "number": 7,
            "base": {"ref": "main", "sha": base},
            "head": {"ref": branch, "sha": head},
        },
        "repository": {"default_branch": "main"},
    }
    env = {
        "GITHUB_SHA": head,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": branch,
    }
    github_env(monkeypatch, tmp / "runner", "pull_request", env | (env_extra or {}), payload)
    return ci(gate, monkeypatch, ws, *extra)


def github_push(
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp: Path,
    branch: str,
    before: str,
    after: str,
    *extra: str,
    env_extra: dict[str, str] | None = None,
) -> Verdict:
    ws = world.clone(tmp / "ws", branch)
    payload = {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "repository": {"default_branch": "main"},
    }
    env = {"GITHUB_SHA": after, "GITHUB_REF": f"refs/heads/{branch}", "GITHUB_BASE_REF": ""}
    github_env(monkeypatch, tmp / "runner", "push", env | (env_extra or {}), payload)
    return ci(gate, monkeypatch, ws, *extra)


# --------------------------------------------------------------------------- releases


def retrain(work: Path, **params: str) -> None:
    """Set params (``lr="0.1"``, ``epochs="1"``, ``split="0.4"``) and reproduce for real."""
    text = (work / "params.yaml").read_text()
    for key, value in params.items():
        lines = [
            f"  {key}: {value}" if line.startswith(f"  {key}: ") else line
            for line in text.splitlines()
        ]
        text = "\n".join(lines) + "\n"
    (work / "params.yaml").write_text(text)
    run(work, "dvc", "repro", "-q")
    commit_all(work, f"retrain {params}")


def release_v2(work: Path, *outs: str, **params: str) -> None:
    """A real second release: retrain, ``promote v2``, commit."""
    retrain(work, **params)
    promote(str(work), "v2", list(outs))
    commit_all(work, "Promote v2")


def git_add_forced(work: Path, *paths: str) -> None:
    """``git add -f``: what an attacker does to commit a path DVC's .gitignore keeps out."""
    run(work, "git", "add", "-f", *paths)
