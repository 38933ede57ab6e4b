"""Fixtures: real git repositories and real DVC projects, built once and copied per test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promote_gate.cli import main

if TYPE_CHECKING:
    from scenario import World
from promote_gate.commands.demo import REMOTE, build_project
from promote_gate.commands.promote import promote

SHARED_SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"

_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "DVC_NO_ANALYTICS": "1",
    "NO_COLOR": "1",
}


@pytest.fixture(autouse=True)
def isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the environment like gto's ``isolate``: no user config, fixed identities."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for key, value in _ENV.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith("GIT_") and key not in _ENV:
            monkeypatch.delenv(key)
    # the pipeline's python3 and dvc must be this interpreter's
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


def run(cwd: Path, *argv: str) -> str:
    """Run git or dvc for real; fail the test with the tool's output if it fails."""
    cmd = [sys.executable, "-m", "dvc", *argv[1:]] if argv[0] == "dvc" else list(argv)
    # stdin closed: under pytest-xdist it is the worker's channel, never input for git
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def commit_all(repo: Path, message: str = "change") -> str:
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "--allow-empty", "-m", message)
    return run(repo, "git", "rev-parse", "HEAD").strip()


@contextmanager
def pinned_env(home: Path) -> Iterator[None]:
    """The pinning of ``isolate``, for session- and module-scoped fixtures."""
    mp = pytest.MonkeyPatch()
    try:
        for key in list(os.environ):
            if key.startswith("GIT_") and key not in _ENV:
                mp.delenv(key)
        for key, value in _ENV.items():
            mp.setenv(key, value)
        mp.setenv("HOME", str(home))
        mp.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        yield
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project (prepare -> train -> evaluate, dvc repro), with v1 promoted and committed."""
    with pinned_env(tmp_path_factory.mktemp("tmplhome")):
        root = tmp_path_factory.mktemp("template") / "repo"
        build_project(root)
        promote(str(root), "v1", [])
        commit_all(root, "Promote v1")
        run(root, "dvc", "push", "-q")
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template repository (git, DVC cache and all) and of its DVC
    remote (``../dvc-remote``, everything pushed)."""
    return copy_repo(template, tmp_path / "repo")


def copy_repo(src: Path, dest: Path) -> Path:
    """Copy a repository, and the DVC remote beside it (``../dvc-remote``) unless the
    destination already has one."""
    shutil.copytree(src, dest, symlinks=True)
    remote = src.parent / REMOTE
    if remote.exists() and not (dest.parent / REMOTE).exists():
        shutil.copytree(remote, dest.parent / REMOTE)
    return dest


@pytest.fixture(scope="session")
def released(template: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    """v1 released: main pushed to a bare origin, its data to the DVC remote (scenario.py)."""
    from scenario import make_world

    with pinned_env(tmp_path_factory.mktemp("worldhome")):
        return make_world(template, tmp_path_factory.mktemp("released") / "world")


@pytest.fixture
def world(released: World, tmp_path: Path) -> World:
    """A private copy of ``released``: work tree, bare origin and DVC remote."""
    from scenario import copy_world

    return copy_world(released, tmp_path / "world")


@pytest.fixture
def gate(capsys: pytest.CaptureFixture[str]) -> Gate:
    return Gate(capsys)


class Gate:
    """Runs ``promote-gate`` through ``main()`` and returns what a user would see."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *argv: str) -> tuple[int, dict[str, Any]]:
        code, out, err = self(*argv, "--format", "json")
        assert "Traceback" not in err
        return code, json.loads(out) if out else {}

    def failed_codes(self, *argv: str) -> set[str]:
        """Codes of the rules that failed (exit code must agree)."""
        code, doc = self.json(*argv)
        failed = {
            r["code"]
            for b in doc.get("bundles", [])
            for r in b["results"]
            if r["status"] == "failed"
        }
        assert code == (1 if failed else code), (code, failed)
        return failed
