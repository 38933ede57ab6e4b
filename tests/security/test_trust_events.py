"""Trust boundary, round two (issue 18): where the policy and the baseline come from.

The policy is read at the current tip of the branch being merged into — for a push to any
branch but the default one, and for a new branch, the default branch's tip — never at a
commit the change can choose: its head, or its fork point (a branch that forks before the
default branch tightens its policy must not be judged by the old one). What counts as
released is what the change shares with the branch it goes into — for any branch but the
default one, with the default branch — never what an earlier push of the same branch
brought (its gate may have failed).

Each event is driven for real: a world with v1 released on a bare origin, the attacker's
branch pushed, the default branch tightened after the fork; CI in a fresh clone with the
vendor's variables and payload, the hooks through a real ``git push``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    Verdict,
    World,
    ci,
    github_env,
    github_push,
    gitlab_env,
    release_v2,
)

ZERO = "0" * 40
BRANCH = "evil"
RELEASE = "release/evil"


def _consumer(work: Path) -> None:
    """A consumer outside the watched ``deploy/**`` reading the pipeline's internal model."""
    (work / "serve").mkdir(exist_ok=True)
    (work / "serve/app.py").write_text('MODEL = "models/model.json"  # not publish/v1/\n')


def _tighten(work: Path) -> None:
    """The default branch's policy starts watching ``serve/**`` too."""
    config = work / ".promote-gate.yaml"
    text = config.read_text()
    assert 'consumers: ["deploy/**"]' in text
    config.write_text(
        text.replace('consumers: ["deploy/**"]', 'consumers: ["deploy/**", "serve/**"]')
    )


def _on_main(world: World, change: Callable[[Path], None], message: str) -> str:
    run(world.work, "git", "checkout", "-q", "main")
    change(world.work)
    head: str = commit_all(world.work, message)
    run(world.work, "git", "push", "-q", "origin", "main")
    return head


def _setup(world: World, fork: str) -> tuple[str, str]:
    """(the attacker's head, its fork point). ``fork="before"``: the branch is cut, then
    main tightens its policy; ``"after"``: main tightens, then the branch is cut."""
    if fork == "after":
        _on_main(world, _tighten, "watch serve/ too")
    point = world.sha("main")
    run(world.work, "git", "checkout", "-q", "-b", BRANCH, "main")
    _consumer(world.work)
    head = commit_all(world.work, "serve the pipeline's model directly")
    run(world.work, "git", "push", "-q", "origin", BRANCH)
    if fork == "before":
        _on_main(world, _tighten, "watch serve/ too")
    run(world.work, "git", "checkout", "-q", "main")
    return head, point


def _merge_commit(world: World, head: str, name: str) -> str:
    """What GitHub builds for a pull request (refs/pull/N/merge) or a merge queue entry:
    the head merged into main's current tip, pushed as branch ``name`` for the clone."""
    run(world.work, "git", "checkout", "-q", "-b", name, "main")
    run(world.work, "git", "merge", "-q", "--no-ff", "-m", f"Merge {head[:12]}", head)
    merge: str = world.sha()
    run(world.work, "git", "push", "-q", "origin", name)
    run(world.work, "git", "checkout", "-q", "main")
    return merge


Event = Callable[[World, Gate, pytest.MonkeyPatch, Path, str, str], Verdict]


def _pull_request(base: str, head: str, target: str = "main") -> dict[str, Any]:
    """The event payload of pull request #7 from the attacker's branch into ``target``."""
    return {
        "number": 7,
        "pull_request": {
            "number": 7,
            "base": {"ref": target, "sha": base},
            "head": {"ref": BRANCH, "sha": head},
        },
        "repository": {"default_branch": "main"},
    }


def gh_pull_request(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    merge = _merge_commit(world, head, "pull/7/merge")
    ws = world.clone(tmp / "ws", "pull/7/merge")
    payload = _pull_request(world.sha("main"), head)
    env = {"GITHUB_SHA": merge, "GITHUB_REF": "refs/pull/7/merge", "GITHUB_BASE_REF": "main"}
    github_env(mp, tmp / "runner", "pull_request", env, payload)
    return ci(gate, mp, ws)


def gh_pull_request_target(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    """GITHUB_SHA is the base branch's tip; the template checks out the head."""
    ws = world.clone(tmp / "ws", BRANCH)
    main = world.sha("main")
    payload = _pull_request(main, head)
    env = {"GITHUB_SHA": main, "GITHUB_REF": "refs/heads/main", "GITHUB_BASE_REF": "main"}
    github_env(mp, tmp / "runner", "pull_request_target", env, payload)
    return ci(gate, mp, ws)


def gh_merge_group(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    main = world.sha("main")
    queue = f"gh-readonly-queue/main/pr-7-{main}"
    merge = _merge_commit(world, head, queue)
    ws = world.clone(tmp / "ws", queue)
    payload = {
        "merge_group": {
            "head_sha": merge,
            "head_ref": f"refs/heads/{queue}",
            "base_sha": main,
            "base_ref": "refs/heads/main",
        },
        "repository": {"default_branch": "main"},
    }
    env = {"GITHUB_SHA": merge, "GITHUB_REF": f"refs/heads/{queue}", "GITHUB_BASE_REF": ""}
    github_env(mp, tmp / "runner", "merge_group", env, payload)
    return ci(gate, mp, ws)


def _gitlab_mr(
    world: World, mp: pytest.MonkeyPatch, tmp: Path, head: str, diff_base: str | None
) -> Path:
    ws: Path = world.clone(tmp / "ws", BRANCH)
    env = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_COMMIT_SHA": head,
        "CI_COMMIT_REF_NAME": BRANCH,
        "CI_MERGE_REQUEST_IID": "1",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": BRANCH,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    }
    if diff_base is not None:
        env["CI_MERGE_REQUEST_DIFF_BASE_SHA"] = diff_base
    gitlab_env(mp, env)
    return ws


def gl_mr_with_diff_base(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    return ci(gate, mp, _gitlab_mr(world, mp, tmp, head, point))


def gl_mr_without_diff_base(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    return ci(gate, mp, _gitlab_mr(world, mp, tmp, head, None))


def _existing_release_branch(world: World, point: str) -> None:
    """release/evil as the remote already has it: the fork point, which passed."""
    run(world.work, "git", "push", "-q", "--no-verify", "origin", f"{point}:refs/heads/{RELEASE}")


def gh_push_new_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/{RELEASE}")
    return github_push(world, gate, mp, tmp, RELEASE, ZERO, head)


def gh_push_existing_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    _existing_release_branch(world, point)
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/{RELEASE}")
    return github_push(world, gate, mp, tmp, RELEASE, point, head)


def _gitlab_push(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, before: str
) -> Verdict:
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/{RELEASE}")
    ws = world.clone(tmp / "ws", RELEASE)
    gitlab_env(
        mp,
        {
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_SHA": head,
            "CI_COMMIT_BRANCH": RELEASE,
            "CI_COMMIT_REF_NAME": RELEASE,
            "CI_COMMIT_BEFORE_SHA": before,
        },
    )
    return ci(gate, mp, ws)


def gl_push_new_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    return _gitlab_push(world, gate, mp, tmp, head, ZERO)


def gl_push_existing_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    _existing_release_branch(world, point)
    return _gitlab_push(world, gate, mp, tmp, head, point)


def hook_new_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    world.install_hook(gate)
    return world.push("origin", f"{head}:refs/heads/{RELEASE}")


def hook_existing_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    _existing_release_branch(world, point)
    run(world.work, "git", "fetch", "-q", "origin")
    world.install_hook(gate)
    return world.push("origin", f"{head}:refs/heads/{RELEASE}")


def hook_framework_new_branch(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, head: str, point: str
) -> Verdict:
    """The pre-commit framework's push entry, with the variables it sets for a new branch
    (PRE_COMMIT_FROM_REF: the parent of the first commit not on the remote)."""
    env = {
        **os.environ,
        "PRE_COMMIT": "1",
        "PRE_COMMIT_FROM_REF": point,
        "PRE_COMMIT_TO_REF": head,
        "PRE_COMMIT_REMOTE_BRANCH": f"refs/heads/{RELEASE}",
        "PRE_COMMIT_REMOTE_NAME": "origin",
        "PRE_COMMIT_REMOTE_URL": world.bare.as_uri(),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "promote_gate", "hook", "pre-push", "origin", world.bare.as_uri()],
        cwd=world.work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return Verdict(proc.returncode, proc.stdout, proc.stderr)


EVENTS: dict[str, Event] = {
    "github pull_request": gh_pull_request,
    "github pull_request_target": gh_pull_request_target,
    "github merge_group": gh_merge_group,
    "gitlab MR with diff base": gl_mr_with_diff_base,
    "gitlab MR without diff base": gl_mr_without_diff_base,
    "github push, new release branch": gh_push_new_branch,
    "github push, existing release branch": gh_push_existing_branch,
    "gitlab push, new release branch": gl_push_new_branch,
    "gitlab push, existing release branch": gl_push_existing_branch,
    "pre-push hook, new release branch": hook_new_branch,
    "pre-push hook, existing release branch": hook_existing_branch,
    "pre-commit framework push, new release branch": hook_framework_new_branch,
}


@pytest.mark.parametrize("fork", ["before", "after"])
@pytest.mark.parametrize("event", list(EVENTS))
def test_the_policy_is_the_targets_tip_whenever_the_branch_forked(
    event: str,
    fork: str,
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A consumer reading an internal model path is refused (PG504) once the default branch
    watches it, whether the change forked before or after that policy change."""
    head, point = _setup(world, fork)
    verdict = EVENTS[event](world, gate, monkeypatch, tmp_path, head, point)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG504"}, verdict.text


@pytest.mark.parametrize("event", list(EVENTS))
def test_a_harmless_change_passes_every_event(
    event: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The control: the same events, a change that breaks nothing, pass (so the refusals
    above are the policy's, not the set-up's)."""
    point = world.sha("main")
    run(world.work, "git", "checkout", "-q", "-b", BRANCH, "main")
    (world.work / "NOTES.md").write_text("nothing the gate reads\n")
    head = commit_all(world.work, "notes")
    run(world.work, "git", "push", "-q", "origin", BRANCH)
    _on_main(world, _tighten, "watch serve/ too")
    verdict = EVENTS[event](world, gate, monkeypatch, tmp_path, head, point)
    assert verdict.code == 0, verdict.text


# --------------------------------------------------------------------------- laundering


def _bad_then_harmless(world: World) -> tuple[str, str, str]:
    """release/1 cut from main (passing); a regressed v2 pushed onto it (its gate fails);
    then a harmless commit on top. Returns (main, the bad push, the harmless push)."""
    main = world.sha("main")
    run(world.work, "git", "checkout", "-q", "-b", "release/1", "main")
    run(world.work, "git", "push", "-q", "--no-verify", "origin", "release/1")
    release_v2(world.work, epochs="1")  # trains worse: acc regresses beyond the policy
    bad = world.sha()
    run(world.work, "git", "push", "-q", "--no-verify", "origin", "release/1")
    run(world.work, "dvc", "push", "-q")
    (world.work / "NOTES.md").write_text("anything on top\n")
    harmless = commit_all(world.work, "notes")
    return main, bad, harmless


@pytest.mark.parametrize("through", ["github", "gitlab", "hook"])
def test_a_failed_push_is_not_laundered_by_the_next_one(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The second push's `before` holds the regressed v2: it must still be judged as being
    released (compared with what the default branch has), so PG405 stays red."""
    main, bad, harmless = _bad_then_harmless(world)
    if through == "hook":
        world.install_hook(gate)
        verdict = world.push("origin", "release/1")
    else:
        run(world.work, "git", "push", "-q", "--no-verify", "origin", "release/1")
        if through == "github":
            first = github_push(world, gate, monkeypatch, tmp_path / "1", "release/1", main, bad)
            assert first.code == 1, first.text
            assert first.failed == {"PG405"}
            verdict = github_push(
                world, gate, monkeypatch, tmp_path / "2", "release/1", bad, harmless
            )
        else:
            verdict = _gitlab_release_push(world, gate, monkeypatch, tmp_path, bad, harmless)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}, verdict.text


def _gitlab_release_push(
    world: World, gate: Gate, mp: pytest.MonkeyPatch, tmp: Path, before: str, head: str
) -> Verdict:
    ws = world.clone(tmp / "ws", "release/1")
    gitlab_env(
        mp,
        {
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_SHA": head,
            "CI_COMMIT_BRANCH": "release/1",
            "CI_COMMIT_REF_NAME": "release/1",
            "CI_COMMIT_BEFORE_SHA": before,
        },
    )
    return ci(gate, mp, ws)


@pytest.mark.parametrize("vendor", ["github", "gitlab"])
def test_a_request_into_a_release_branch_does_not_launder_a_failed_push(
    vendor: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The failed push made release/1's tip: a request into release/1 is judged as a push
    to it would be (under the default branch's policy, against its merge base with it), not
    against that tip, which would count the regressed v2 as released."""
    _main, bad, harmless = _bad_then_harmless(world)
    run(world.work, "git", "push", "-q", "--no-verify", "origin", f"{harmless}:refs/heads/{BRANCH}")
    ws = world.clone(tmp_path / "ws", BRANCH)
    if vendor == "github":
        payload = _pull_request(bad, harmless, "release/1")
        env = {
            "GITHUB_SHA": harmless,
            "GITHUB_REF": "refs/pull/7/merge",
            "GITHUB_BASE_REF": "release/1",
        }
        github_env(monkeypatch, tmp_path / "runner", "pull_request", env, payload)
    else:
        gitlab_env(
            monkeypatch,
            {
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_COMMIT_SHA": harmless,
                "CI_COMMIT_REF_NAME": BRANCH,
                "CI_MERGE_REQUEST_IID": "2",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": BRANCH,
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release/1",
            },
        )
    verdict = ci(gate, monkeypatch, ws)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}, verdict.text


@pytest.mark.parametrize("vendor", ["github", "gitlab"])
def test_a_run_on_a_tag_is_judged_under_the_default_branchs_policy(
    vendor: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A tag is no branch and usually unprotected: its run is judged like a new branch's
    (the default branch's policy, its merge base with it), never under its own policy."""
    head, _point = _setup(world, "before")
    run(world.work, "git", "push", "-q", "--no-verify", "origin", f"{head}:refs/tags/v9")
    ws = world.clone(tmp_path / "ws", BRANCH)
    if vendor == "github":
        payload: dict[str, Any] = {"ref": "refs/tags/v9", "before": ZERO, "after": head}
        payload["repository"] = {"default_branch": "main"}
        env = {"GITHUB_SHA": head, "GITHUB_REF": "refs/tags/v9", "GITHUB_BASE_REF": ""}
        github_env(monkeypatch, tmp_path / "runner", "push", env, payload)
    else:
        gitlab_env(
            monkeypatch,
            {
                "CI_PIPELINE_SOURCE": "push",
                "CI_COMMIT_SHA": head,
                "CI_COMMIT_TAG": "v9",
                "CI_COMMIT_REF_NAME": "v9",
                "CI_COMMIT_BEFORE_SHA": ZERO,
            },
        )
    verdict = ci(gate, monkeypatch, ws)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG504"}, verdict.text
    assert "not a branch" in verdict.out
