"""Trust boundary, quick paths (issue 18): what git's conveniences hid from the hooks.

The hooks answer a commit or push that touches nothing the gate reads from one tree
comparison. git's own diff honours configuration the change can bring (a committed
``.gitmodules`` with ``ignore = all``) or the clone has (``diff.ignoreSubmodules``); a merge
commit is recorded without the pre-commit hook; and the pre-commit framework's push entry
names, for a new branch, a base the remote never had. Each attack here passed before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import V1, World, release_v2  # type: ignore[import-not-found, unused-ignore]

V2 = "publish/v2"


def git(work: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """git for real, whose verdict (an installed hook's) is its exit code and stderr."""
    return subprocess.run(
        ["git", *argv], cwd=work, capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def sub(tmp_path: Path) -> Path:
    """A repository to be a submodule: its content is whatever its owner pushes later."""
    path = tmp_path / "sub"
    run(tmp_path, "git", "init", "-q", str(path))
    (path / "model.pkl").write_bytes(b"not what was promoted\n")
    commit_all(path, "anything")
    return path


def _gitmodules(work: Path, where: str, sub: Path) -> None:
    """A committed .gitmodules telling git's diffs to ignore the submodule at ``where``."""
    (work / ".gitmodules").write_text(
        f'[submodule "bundle"]\n\tpath = {where}\n\turl = {sub.as_uri()}\n\tignore = all\n'
    )
    run(work, "git", "add", ".gitmodules")


def _gitlink(work: Path, where: str, sub: Path) -> None:
    """A gitlink staged at ``where``, as `git submodule add` records one."""
    sha = run(sub, "git", "rev-parse", "HEAD").strip()
    run(work, "git", "update-index", "--add", "--cacheinfo", f"160000,{sha},{where}")


# every gitlink under the publish root is PG105; inside a released bundle it is also an
# unlisted entry (PG103) and a change of that release (PG501)
EXPECTED = {V2: {"PG105"}, f"{V1}/vendor": {"PG103", "PG105", "PG501"}}


# --------------------------------------------------------------------------- a submodule, ignore = all


@pytest.mark.parametrize("where", [V2, f"{V1}/vendor"])
def test_ignored_submodule_under_the_publish_root_is_refused_by_the_push_hook(
    where: str, world: World, gate: Gate, sub: Path
) -> None:
    """First push: only the .gitmodules (nothing under the publish root yet: it passes).
    Second push: the gitlink, which `git diff` hides because of that .gitmodules."""
    world.install_hook(gate)
    work = world.work
    run(work, "git", "checkout", "-q", "-b", "release/5", "main")
    _gitmodules(work, where, sub)
    run(work, "git", "commit", "-q", "-m", "submodule settings")
    first = world.push("origin", "release/5")
    assert first.code == 0, first.text
    _gitlink(work, where, sub)
    run(work, "git", "commit", "-q", "-m", "vendor a model")
    verdict = world.push("origin", "release/5")
    assert verdict.code == 1, verdict.text
    assert verdict.failed == EXPECTED[where]
    assert "a git submodule" in verdict.text or "the bundle is a submodule" in verdict.text
    assert run(work, "git", "ls-remote", "origin", "release/5").split()[0] == world.sha("HEAD~1")


@pytest.mark.parametrize("where", [V2, f"{V1}/vendor"])
def test_ignored_submodule_under_the_publish_root_is_refused_by_the_commit_hook(
    where: str, world: World, gate: Gate, sub: Path
) -> None:
    code, _, err = gate("install", "--repo", str(world.work), "--hook-type", "pre-commit")
    assert code == 0, err
    work = world.work
    _gitmodules(work, where, sub)
    settings = git(work, "commit", "-q", "-m", "submodule settings")
    assert settings.returncode == 0, settings.stderr
    before = world.sha()
    _gitlink(work, where, sub)
    result = git(work, "commit", "-q", "-m", "vendor a model")
    assert result.returncode == 1, result.stderr
    assert "commit refused" in result.stderr
    assert {c for c in EXPECTED[where] if f"{c} " in result.stderr} == EXPECTED[where]
    assert world.sha() == before


def test_a_commit_changing_only_gitmodules_is_judged_in_full(
    world: World, gate: Gate, sub: Path
) -> None:
    """.gitmodules decides what git's diffs show of a submodule: never the quick path."""
    code, _, err = gate("install", "--repo", str(world.work), "--hook-type", "pre-commit")
    assert code == 0, err
    _gitmodules(world.work, V2, sub)
    result = git(world.work, "commit", "-q", "-m", "submodule settings")
    assert result.returncode == 0, result.stderr
    assert "promote-gate passed" in result.stderr  # judged, not answered silently


# --------------------------------------------------------------------------- the clone's git config


def _marker_program(tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "ran"
    program = tmp_path / "ext-diff.sh"
    program.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    program.chmod(0o755)
    return str(program), marker


@pytest.mark.parametrize("setting", ["diff.ignoreSubmodules", "diff.external", "diff.renames"])
def test_the_clones_git_config_cannot_hide_a_change_from_the_quick_path(
    setting: str, world: World, gate: Gate, sub: Path, tmp_path: Path
) -> None:
    """Without any .gitmodules: a gitlink where a bundle belongs (diff.ignoreSubmodules
    hid it from `git diff`), with an external diff configured (never run), and a released
    bundle's file renamed out of the publish root (diff.renames shows only the new name)."""
    work = world.work
    world.install_hook(gate)
    run(work, "git", "checkout", "-q", "-b", "release/5", "main")
    program, marker = _marker_program(tmp_path)
    if setting == "diff.renames":
        (work / "notes").mkdir()
        run(work, "git", "mv", f"{V1}/report.md", "notes/report.md")
        expected = {"PG501", "PG304"}  # a release changed; its report gone (PG304 says so)
    else:
        _gitlink(work, V2, sub)
        expected = {"PG105"}
    run(work, "git", "commit", "-q", "-m", "change")
    value = {"diff.ignoreSubmodules": "all", "diff.external": program, "diff.renames": "copies"}
    run(work, "git", "config", setting, value[setting])
    verdict = world.push("origin", "release/5")
    assert verdict.code == 1, verdict.text
    assert verdict.failed == expected
    assert not marker.exists()  # nothing the repository configures ever runs


# --------------------------------------------------------------------------- merge commits


def _edit_released(work: Path) -> None:
    report = work / V1 / "report.md"
    report.write_text(report.read_text().replace("| `train.lr` | 0.05 |", "| `train.lr` | 0.5 |"))


def test_a_merge_commit_editing_a_released_bundle_is_refused(world: World, gate: Gate) -> None:
    """`git merge --no-ff` records a merge commit without running pre-commit: the
    pre-merge-commit hook `promote-gate install` writes judges it."""
    work = world.work
    code, out, err = gate("install", "--repo", str(work))
    assert code == 0, err
    assert "pre-merge-commit" in out
    run(work, "git", "checkout", "-q", "-b", "edit", "main")
    _edit_released(work)
    run(work, "git", "commit", "-q", "--no-verify", "-am", "edited elsewhere")
    run(work, "git", "checkout", "-q", "main")
    before = world.sha()
    result = git(work, "merge", "--no-ff", "-m", "merge edit", "edit")
    assert result.returncode != 0, result.stdout + result.stderr
    assert "PG501 released-version-mutated  publish/v1/report.md" in result.stderr
    assert world.sha() == before  # no merge commit


def test_a_cherry_pick_no_hook_sees_is_refused_at_the_push(world: World, gate: Gate) -> None:
    """git runs no commit-time hook for `git cherry-pick` (the README says so): the
    edit of a released bundle is committed, and the push hook — like CI, the authority —
    refuses it."""
    work = world.work
    code, _, err = gate("install", "--repo", str(work))
    assert code == 0, err
    run(work, "git", "checkout", "-q", "-b", "edit", "main")
    _edit_released(work)
    run(work, "git", "commit", "-q", "--no-verify", "-am", "edited elsewhere")
    edit = world.sha()
    run(work, "git", "checkout", "-q", "main")
    picked = git(work, "cherry-pick", edit)
    assert picked.returncode == 0, picked.stdout + picked.stderr  # no hook ran
    pushed = git(work, "push", "origin", "main")
    assert pushed.returncode != 0, pushed.stdout + pushed.stderr
    assert "PG501 released-version-mutated  publish/v1/report.md" in pushed.stderr


def test_a_merge_commit_of_a_good_release_is_recorded(world: World, gate: Gate) -> None:
    """A real v2 promoted on a branch (its source.commit on that branch, which becomes an
    ancestor only with the merge commit) merges cleanly, and says what it left to the push."""
    work = world.work
    code, _, err = gate("install", "--repo", str(work))
    assert code == 0, err
    run(work, "git", "checkout", "-q", "-b", "v2", "main")
    release_v2(work, lr="0.1")
    run(work, "git", "checkout", "-q", "main")
    result = git(work, "merge", "--no-ff", "-m", "merge v2", "v2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "promote-gate passed" in result.stderr
    assert "PG205 (source.commit in history) is judged when it is pushed" in result.stderr
    assert run(work, "git", "rev-list", "--parents", "-n1", "HEAD").count(" ") == 2


def test_a_conflicted_merge_of_a_good_release_is_committed(world: World, gate: Gate) -> None:
    """A merge that stopped on a conflict is recorded by `git commit` (pre-commit): the
    commits in MERGE_HEAD become parents, so source.commit there is in its history."""
    work = world.work
    code, _, err = gate("install", "--repo", str(work))
    assert code == 0, err
    run(work, "git", "checkout", "-q", "-b", "v2", "main")
    (work / "NOTES.md").write_text("v2 side\n")
    release_v2(work, lr="0.1")
    run(work, "git", "checkout", "-q", "main")
    (work / "NOTES.md").write_text("main side\n")
    run(work, "git", "add", "NOTES.md")  # not -A: v2's DVC-tracked model stays untracked here
    run(work, "git", "commit", "-q", "-m", "notes on main")
    assert git(work, "merge", "--no-ff", "-m", "merge v2", "v2").returncode == 1  # conflict
    (work / "NOTES.md").write_text("both\n")
    run(work, "git", "add", "NOTES.md")
    result = git(work, "commit", "-q", "--no-edit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "promote-gate passed" in result.stderr
    assert run(work, "git", "rev-list", "--parents", "-n1", "HEAD").count(" ") == 2


# --------------------------------------------------------------------------- the framework's push entry


def _framework_push(
    work: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch, spec: str
) -> tuple[int, str, str | None]:
    """``hook pre-push`` as the pre-commit framework runs it for ``git push origin SPEC``:
    the ``PRE_COMMIT_*`` variables computed by the framework's own code from the line git
    would send (``hook_impl._pre_push_ns``), exported as its ``run`` exports them."""
    from pre_commit.commands.hook_impl import _pre_push_ns  # type: ignore[import-untyped]

    local, _, remote_ref = spec.partition(":")
    local_sha = run(work, "git", "rev-parse", local).strip()
    remote_sha = run(work, "git", "ls-remote", "origin", remote_ref).split()[:1] or ["0" * 40]
    line = f"refs/heads/{local} {local_sha} {remote_ref} {remote_sha[0]}\n"
    url = run(work, "git", "remote", "get-url", "origin").strip()
    monkeypatch.chdir(work)
    ns = _pre_push_ns(False, ["origin", url], line.encode())
    assert ns is not None
    env = {"PRE_COMMIT": "1"}
    if ns.from_ref and ns.to_ref:
        env |= {"PRE_COMMIT_FROM_REF": ns.from_ref, "PRE_COMMIT_TO_REF": ns.to_ref}
        env |= {"PRE_COMMIT_ORIGIN": ns.from_ref, "PRE_COMMIT_SOURCE": ns.to_ref}
    env |= {
        "PRE_COMMIT_LOCAL_BRANCH": ns.local_branch,
        "PRE_COMMIT_REMOTE_BRANCH": ns.remote_branch,
        "PRE_COMMIT_REMOTE_NAME": ns.remote_name,
        "PRE_COMMIT_REMOTE_URL": ns.remote_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _, err = gate("hook", "pre-push", "origin", url)
    return code, err, ns.from_ref


def test_framework_new_branch_push_asks_the_remote_what_it_has(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad commit pushed to an ungated branch; a harmless one on top pushed as a NEW
    release branch: the framework names the bad commit as FROM_REF (the parent of the first
    commit no remote-tracking ref has); the remote has no release/5, so it is new."""
    work = world.work
    run(work, "git", "checkout", "-q", "-b", "feature/x", "main")
    _edit_released(work)
    bad = commit_all(work, "edit the released report")
    run(work, "git", "push", "-q", "origin", "feature/x")  # ungated: no hook says no
    (work / "NOTES.md").write_text("harmless\n")
    commit_all(work, "notes")
    code, err, from_ref = _framework_push(work, gate, monkeypatch, "feature/x:refs/heads/release/5")
    assert from_ref == bad  # what the framework would have had the hook trust
    assert code == 1, err
    assert "PG501 released-version-mutated  publish/v1/report.md" in err
    assert "new branch: compared with its merge base with main" in err


def test_framework_new_branch_push_of_a_good_change_passes(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = world.work
    run(work, "git", "checkout", "-q", "-b", "feature/y", "main")
    (work / "NOTES.md").write_text("harmless\n")
    commit_all(work, "notes")
    code, err, _ = _framework_push(work, gate, monkeypatch, "feature/y:refs/heads/release/6")
    assert code == 0, err


def test_framework_push_to_an_existing_branch_compares_with_the_remote_tip(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = world.work
    _edit_released(work)
    commit_all(work, "edit the released report")
    code, err, from_ref = _framework_push(work, gate, monkeypatch, "main:refs/heads/main")
    assert from_ref == world.sha("origin/main")
    assert code == 1, err
    assert "PG501" in err


@pytest.mark.slow
def test_framework_new_branch_push_through_pre_commit(world: World, tmp_path: Path) -> None:
    """The same laundering through a real `pre-commit install --hook-type pre-push` (this
    repository's committed hook, as test_hook.py's framework test installs it)."""
    project = Path(__file__).resolve().parents[2]
    rev = run(project, "git", "rev-parse", "HEAD").strip()
    work = world.work
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {project}\n  rev: {rev}\n  hooks:\n  - id: promote-gate\n"
    )
    run(work, "git", "checkout", "-q", "-b", "feature/x", "main")
    commit_all(work, "use pre-commit")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-push"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    def push(spec: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "push", "origin", spec], cwd=work, env=env, capture_output=True, text=True,
            check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    _edit_released(work)
    commit_all(work, "edit the released report")
    ungated = push("feature/x")
    assert ungated.returncode == 0, ungated.stdout + ungated.stderr
    (work / "NOTES.md").write_text("harmless\n")
    commit_all(work, "notes")
    result = push("feature/x:refs/heads/release/5")
    assert result.returncode != 0, result.stdout + result.stderr
    assert "PG501" in result.stdout + result.stderr
    assert run(work, "git", "ls-remote", "origin", "release/5") == ""
