"""Trust boundary, policy: which base, whose policy (issue 7, items 8-11).

The policy (release branches, rules, metric policies) always comes from history that went
through the gate: the base, the merge base with the target, or for a new branch the merge
base with the remote's default branch — never from the pushed head, never from a commit that
was only pushed to an ungated branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    World,
    ci,
    github_env,
    github_pr,
    github_push,
    gitlab_env,
    release_v2,
)


def _relax(work: Path, line: str) -> None:
    config = work / ".promote-gate.yaml"
    config.write_text(config.read_text() + line + "\n")


def _edit_released(work: Path) -> None:
    report = work / V1 / "report.md"
    report.write_text(report.read_text() + "\nEdited after release.\n")


def _ungated_and_edited(work: Path) -> None:
    """The head's own policy gates only main, and it edits the released v1."""
    _relax(work, "release_branches: [main]")
    _edit_released(work)


# --------------------------------------------------------------------------- 8. GitLab without a diff base


def _regressed_and_relaxed(work: Path) -> None:
    _relax(work, "ignore: [PG4]")
    release_v2(work, epochs="1")


def test_gitlab_merge_request_without_diff_base_uses_the_merge_base_with_the_target(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("regress", _regressed_and_relaxed)
    ws = tmp_path / "ws"
    # GitLab fetches the source branch; the target's tip must be fetched by the gate itself
    run(tmp_path, "git", "clone", "-q", "--single-branch", "--branch", "regress",
        world.bare.as_uri(), str(ws))  # fmt: skip
    (tmp_path / "dvc-remote").symlink_to(world.remote)
    gitlab_env(
        monkeypatch,
        {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_COMMIT_SHA": head,
            "CI_COMMIT_REF_NAME": "regress",
            "CI_MERGE_REQUEST_IID": "3",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "regress",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        },
    )
    verdict = ci(gate, monkeypatch, ws)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}
    assert f"base {world.sha('main')[:12]}" in verdict.out
    assert "the merge base with origin/main" in verdict.out


# --------------------------------------------------------------------------- 9. ungated first, then a release branch


def test_commit_first_pushed_ungated_then_as_a_new_release_branch_hook(
    world: World, gate: Gate
) -> None:
    head = world.branch("feature/x", _ungated_and_edited)  # on the remote, ungated
    world.install_hook(gate)
    verdict = world.push("origin", f"{head}:refs/heads/release/5")
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed


def test_commit_first_pushed_ungated_then_as_a_new_release_branch_ci(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("feature/x", _ungated_and_edited)
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/release/5")
    verdict = github_push(world, gate, monkeypatch, tmp_path, "release/5", "0" * 40, head)
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed
    assert "new branch: compared with its merge base with main" in verdict.out


# --------------------------------------------------------------------------- 10. merge queues


def test_github_merge_queue_is_gated_like_a_pull_request(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = world.sha("main")
    queue = "gh-readonly-queue/main/pr-7-" + base
    head = world.branch(queue, _ungated_and_edited)
    ws = world.clone(tmp_path / "ws", queue)
    payload = {
        "action": "checks_requested",
        "merge_group": {
            "head_sha": head,
            "head_ref": f"refs/heads/{queue}",
            "base_sha": base,
            "base_ref": "refs/heads/main",
        },
        "repository": {"default_branch": "main"},
    }
    env = {"GITHUB_SHA": head, "GITHUB_REF": f"refs/heads/{queue}", "GITHUB_BASE_REF": ""}
    github_env(monkeypatch, tmp_path / "runner", "merge_group", env, payload)
    verdict = ci(gate, monkeypatch, ws)
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed
    assert "GitHub merge queue into main" in verdict.out


# --------------------------------------------------------------------------- 11. push by URL


def test_new_release_branch_pushed_by_url_cannot_drop_itself_from_the_policy(
    world: World, gate: Gate
) -> None:
    run(world.work, "git", "checkout", "-q", "-b", "by-url")
    _ungated_and_edited(world.work)
    run(world.work, "git", "commit", "-qam", "edit v1, gate only main")
    world.install_hook(gate)
    verdict = world.push(str(world.bare), "HEAD:refs/heads/release/2")  # no tracking refs
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed


def test_good_new_release_branch_pushed_by_url_passes(world: World, gate: Gate) -> None:
    world.install_hook(gate)
    verdict = world.push(world.bare.as_uri(), "main:refs/heads/release/1.x")
    assert verdict.code == 0, verdict.text


# --------------------------------------------------------------------------- review findings


def _relax_only(work: Path) -> None:
    _relax(work, "ignore: [PG4]")


def test_a_release_branch_cannot_relax_its_own_policy_in_two_pushes_ci(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Push 1 creates release/5 with a relaxed policy (nothing else changes: it passes);
    push 2 adds a regressed v2. The policy of any branch but the default one comes from its
    merge base with the default branch, so push 2 is still judged by main's policy."""
    run(world.work, "git", "checkout", "-q", "-b", "release/5", "main")
    _relax_only(world.work)
    first = commit_all(world.work, "relax policy")
    run(world.work, "git", "push", "-q", "origin", "release/5")
    one = github_push(world, gate, monkeypatch, tmp_path / "a", "release/5", "0" * 40, first)
    assert one.code == 0, one.text
    release_v2(world.work, epochs="1")
    second = world.sha()
    run(world.work, "git", "push", "-q", "origin", "release/5")
    run(world.work, "dvc", "push", "-q")
    two = github_push(world, gate, monkeypatch, tmp_path / "b", "release/5", first, second)
    assert two.code == 1, two.text
    assert two.failed == {"PG405"}


def test_a_release_branch_cannot_relax_its_own_policy_in_two_pushes_hook(
    world: World, gate: Gate
) -> None:
    world.install_hook(gate)
    run(world.work, "git", "checkout", "-q", "-b", "release/5", "main")
    _relax_only(world.work)
    commit_all(world.work, "relax policy")
    assert world.push("origin", "release/5").code == 0
    release_v2(world.work, epochs="1")
    verdict = world.push("origin", "release/5")
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_a_branch_whose_gate_failed_is_no_base_for_a_new_one(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A regressed v2 pushed (red) as release/evil is then pushed as release/5: the bundles
    on release/evil vouch for nothing; release/5 is compared with its merge base with main."""
    head = world.branch("work", lambda w: release_v2(w, epochs="1"))
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/release/evil")
    if through == "ci":
        run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/release/5")
        verdict = github_push(world, gate, monkeypatch, tmp_path, "release/5", "0" * 40, head)
    else:
        world.install_hook(gate)
        verdict = world.push("origin", f"{head}:refs/heads/release/5")
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}
    assert "merge base with main" in verdict.text


def test_hook_on_a_clone_that_misses_the_default_branch_tip_asks_to_fetch(
    world: World, gate: Gate, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    run(tmp_path, "git", "clone", "-q", world.bare.as_uri(), str(other))
    (other / "NOTES").write_text("x\n")
    commit_all(other, "someone else advances main")
    run(other, "git", "push", "-q", "origin", "main")
    run(world.work, "git", "remote", "set-head", "origin", "-d")  # no origin/HEAD: ls-remote
    run(world.work, "git", "checkout", "-q", "-b", "rel", "main")
    _ungated_and_edited(world.work)
    commit_all(world.work, "gate only main, edit v1")
    world.install_hook(gate)
    verdict = world.push("origin", "rel:refs/heads/release/5")
    assert verdict.code == 2, verdict.text
    assert "fetch first" in verdict.text


def test_gitlab_scheduled_pipeline_judges_the_branch_as_it_is(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws = world.clone(tmp_path / "ws", "main")
    gitlab_env(
        monkeypatch,
        {
            "CI_PIPELINE_SOURCE": "schedule",
            "CI_COMMIT_SHA": world.sha("main"),
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
            "CI_COMMIT_BEFORE_SHA": "0" * 40,
        },
    )
    verdict = ci(gate, monkeypatch, ws)
    assert verdict.code == 0, verdict.text
    assert f"base {world.sha('main')[:12]}" in verdict.out
    assert not (ws / ".git/shallow").exists()  # a full clone is never made shallow


def test_ci_config_flag_is_read_from_the_policy_revision(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("cfg", _regressed_and_relaxed)
    verdict = github_pr(
        world, gate, monkeypatch, tmp_path, "cfg", head, "--config", ".promote-gate.yaml"
    )
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}
