"""The pre-push hook, through real ``git push`` to a bare remote on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]

PROJECT = Path(__file__).resolve().parents[2]


def push(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``git push`` for real; the hook's verdict is its exit code and stderr."""
    return subprocess.run(
        ["git", "push", "origin", *argv], cwd=repo, capture_output=True, text=True, check=False
    )


def remote_sha(repo: Path, branch: str) -> str:
    return run(repo, "git", "ls-remote", "origin", f"refs/heads/{branch}").split("\t")[0]


@pytest.fixture
def pushed(repo: Path, tmp_path: Path, gate: Gate) -> Path:
    """The template repository with a bare origin holding main, and the hook installed."""
    run(tmp_path, "git", "init", "-q", "--bare", "origin.git")
    run(repo, "git", "remote", "add", "origin", str(tmp_path / "origin.git"))
    run(repo, "git", "push", "-q", "origin", "main")
    code, out, _ = gate("install", "--repo", str(repo), "--hook-type", "pre-push")
    assert code == 0
    assert "installed" in out
    return repo


def _break_v1(repo: Path) -> None:
    report = repo / "publish/v1/report.md"
    report.write_text(report.read_text().replace("| `train.lr` | 0.05 |", "| `train.lr` | 0.5 |"))
    commit_all(repo, "edit the released report")


def test_clean_push_to_main_passes(pushed: Path) -> None:
    (pushed / "NOTES.md").write_text("unrelated\n")
    head = commit_all(pushed, "notes")
    result = push(pushed, "main")
    assert result.returncode == 0, result.stderr
    assert "no bundle changed: passed" in result.stderr
    assert remote_sha(pushed, "main") == head


def test_bad_bundle_push_is_refused_naming_the_rule(pushed: Path) -> None:
    before = remote_sha(pushed, "main")
    _break_v1(pushed)
    result = push(pushed, "main")
    assert result.returncode != 0
    assert "PG501 released-version-mutated  publish/v1/report.md" in result.stderr
    assert "PG304 report-params-mismatch" in result.stderr
    assert "push refused" in result.stderr
    assert remote_sha(pushed, "main") == before


def test_push_to_a_non_release_branch_is_not_blocked(pushed: Path) -> None:
    _break_v1(pushed)
    result = push(pushed, "HEAD:refs/heads/feature/try")
    assert result.returncode == 0, result.stderr
    assert "not a release branch" in result.stderr


def test_new_release_branch_is_compared_with_its_merge_base(pushed: Path) -> None:
    run(pushed, "git", "fetch", "-q", "origin")  # refs/remotes/origin/main
    _break_v1(pushed)
    result = push(pushed, "HEAD:refs/heads/release/2.0")
    assert result.returncode != 0
    assert "merge base with main" in result.stderr
    assert "PG501" in result.stderr


def test_new_release_branch_without_changes_passes(pushed: Path) -> None:
    run(pushed, "git", "fetch", "-q", "origin")
    result = push(pushed, "main:refs/heads/release/1.x")
    assert result.returncode == 0, result.stderr


def test_deletion_is_not_checked(pushed: Path) -> None:
    _break_v1(pushed)
    assert push(pushed, "HEAD:refs/heads/feature/x").returncode == 0
    result = push(pushed, "--delete", "feature/x")
    assert result.returncode == 0, result.stderr
    assert "deletion" in result.stderr


def test_every_ref_of_a_push_is_checked(pushed: Path) -> None:
    good = run(pushed, "git", "rev-parse", "HEAD").strip()
    _break_v1(pushed)
    result = push(pushed, f"{good}:refs/heads/release/a", "HEAD:refs/heads/main")
    assert result.returncode != 0
    assert "refs/heads/release/a" in result.stderr
    assert "refs/heads/main" in result.stderr
    assert "PG501" in result.stderr


def test_hook_never_imports_modules_from_the_checked_repository(pushed: Path) -> None:
    """git runs the hook in the work tree: a committed yaml.py must not replace PyYAML."""
    (pushed / "yaml.py").write_text("import sys\nprint('REPO CODE RAN')\nsys.exit(0)\n")
    _break_v1(pushed)
    result = push(pushed, "main")
    assert "REPO CODE RAN" not in result.stdout + result.stderr
    assert result.returncode != 0
    assert "PG501" in result.stderr


def test_new_release_branch_cannot_drop_itself_from_the_policy(pushed: Path) -> None:
    run(pushed, "git", "fetch", "-q", "origin")
    config = pushed / ".promote-gate.yaml"
    config.write_text(config.read_text() + "release_branches: [main]\n")
    _break_v1(pushed)
    result = push(pushed, "HEAD:refs/heads/release/2")
    assert result.returncode != 0, result.stderr
    assert "PG501" in result.stderr


def test_consumer_change_alone_is_still_checked(pushed: Path) -> None:
    (pushed / "deploy").mkdir()
    (pushed / "deploy/serve.yaml").write_text("model: models/model.json\n")
    commit_all(pushed, "deploy reads the pipeline's model")
    result = push(pushed, "main")
    assert result.returncode != 0
    assert "PG504" in result.stderr


def test_standalone_script_under_core_hooks_path(pushed: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(PROJECT / "hooks" / "pre-push", hooks / "pre-push")
    run(pushed, "git", "config", "core.hooksPath", str(hooks))
    _break_v1(pushed)
    result = push(pushed, "main")
    assert result.returncode != 0
    assert "PG501" in result.stderr


def test_install_respects_foreign_hooks_and_hooks_path(
    repo: Path, tmp_path: Path, gate: Gate
) -> None:
    hooks = tmp_path / "shared-hooks"
    run(repo, "git", "config", "core.hooksPath", str(hooks))
    hooks.mkdir()
    (hooks / "pre-push").write_text("#!/bin/sh\necho mine\n")
    code, out, _ = gate("install", "--repo", str(repo))
    assert code == 0
    assert "kept as" in out
    # kept under promote-gate's own name: .legacy is the pre-commit framework's
    assert (hooks / "pre-push.pre-promote-gate").read_text() == "#!/bin/sh\necho mine\n"
    assert not (hooks / "pre-push.legacy").exists()
    assert "from promote_gate.cli import hook_main" in (hooks / "pre-push").read_text()
    assert os.access(hooks / "pre-push", os.X_OK)
    # installing again keeps the hook kept; another foreign hook would need --force
    assert gate("install", "--repo", str(repo))[0] == 0
    assert (hooks / "pre-push.pre-promote-gate").read_text() == "#!/bin/sh\necho mine\n"
    (hooks / "pre-push").write_text("#!/bin/sh\necho another\n")
    code, _, err = gate("install", "--repo", str(repo))
    assert code == 2
    assert "pre-push.pre-promote-gate (the hook promote-gate kept" in err
    assert (hooks / "pre-push").read_text() == "#!/bin/sh\necho another\n"  # nothing written
    assert gate("install", "--repo", str(repo), "--force")[0] == 0
    assert (hooks / "pre-push.pre-promote-gate").read_text() == "#!/bin/sh\necho another\n"


def test_push_touching_no_bundle_answers_light(pushed: Path) -> None:
    """Without loading DVC or the rules. How fast is measured beside `dvc status` by the
    benchmark suite (group "hooks as installed"), never asserted here: a loaded CI machine
    is not a stopwatch."""
    (pushed / "NOTES.md").write_text("unrelated\n")
    head = commit_all(pushed, "notes")
    base = remote_sha(pushed, "main")
    line = f"refs/heads/main {head} refs/heads/main {base}\n"
    probe = (
        "import sys; from promote_gate.cli import main; code = main(['hook', 'pre-push', 'origin']); "
        "print(code, 'dvc' in sys.modules, 'promote_gate.rules' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=pushed,
        input=line,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["0", "False", "False"], result.stderr


@pytest.mark.slow
def test_through_the_pre_commit_framework(pushed: Path, tmp_path: Path) -> None:
    """pre-commit installs this repository's hook (language: python) and runs it on push."""
    rev = run(PROJECT, "git", "rev-parse", "HEAD").strip()
    (pushed / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {PROJECT}\n  rev: {rev}\n  hooks:\n  - id: promote-gate\n"
    )
    commit_all(pushed, "use pre-commit")
    (pushed / ".git/hooks/pre-push").unlink()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def pre_commit(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", *argv],
            cwd=pushed,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def git_push() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "push", "origin", "main"],
            cwd=pushed,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    installed = pre_commit("install", "--hook-type", "pre-push")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    good = git_push()
    assert good.returncode == 0, good.stdout + good.stderr
    _break_v1(pushed)
    bad = git_push()
    assert bad.returncode != 0
    assert "PG501" in bad.stdout + bad.stderr


def test_a_remote_head_naming_a_branch_never_pushed_still_has_a_default(
    pushed: Path, tmp_path: Path
) -> None:
    """`git init --bare` may leave HEAD naming master while only main is pushed: main is the
    default branch then (as anchor finds it), and a push to it is judged against its tip."""
    origin = tmp_path / "origin.git"
    run(origin, "git", "symbolic-ref", "HEAD", "refs/heads/master")
    _break_v1(pushed)
    result = push(pushed, "main")
    assert result.returncode != 0
    assert "PG501" in result.stderr
    assert "not the default branch" not in result.stderr
    assert "merge base" not in result.stderr
