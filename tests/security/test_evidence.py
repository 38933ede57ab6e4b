"""Trust boundary, evidence: nothing a change brings vouches for itself (issue 7, items 1-7).

Each test builds the attack for real — a retrain with ``dvc repro``, ``promote``, the forgery
an attacker with commit access to a branch would commit — and runs the gate as the shipped
CI templates run it (``promote-gate ci`` in a fresh clone with no DVC cache) and, where the
developer's machine is the target, as the shipped hook runs it (a real ``git push``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    V2,
    World,
    edit_json,
    git_add_forced,
    github_pr,
    release_v2,
    resum,
    retrain,
    rewrite_report,
)

from promote_gate.commands.demo import REMOTE, forge_metrics, swap_in_directory
from promote_gate.commands.promote import promote


def _lock_out(work: Path, stage: str, path: str) -> str:
    from promote_gate.dvc.lock import parse_lock

    lock = parse_lock((work / "dvc.lock").read_bytes())
    return next(str(o.md5) for o in lock.stages[stage].outs if o.path == path)


# --------------------------------------------------------------------------- 1. git-tracked metrics


def test_forged_metrics_are_read_against_git_at_source_commit_in_ci(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("better-v2", forge_metrics)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "better-v2", head)
    assert verdict.code == 1, verdict.text
    assert "PG402" in verdict.failed
    assert "differs from eval/metrics.json as recorded" in verdict.text
    assert "dvc pull eval/metrics.json" not in verdict.text  # it is git-tracked: git has it


def test_forged_metrics_are_refused_by_the_hook(world: World, gate: Gate) -> None:
    head = world.branch("better-v2", forge_metrics)
    world.install_hook(gate)
    verdict = world.push("origin", f"{head}:refs/heads/main")
    assert verdict.code == 1, verdict.text
    assert "PG402" in verdict.failed


def test_metrics_missing_at_the_source_commit_too_are_not_a_pass(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The source commit itself leaves the git-tracked metrics file out: unverifiable, so
    the bundle being released fails; the message says what is missing, not `dvc pull`."""

    def change(work: Path) -> None:
        params = work / "params.yaml"
        params.write_text(params.read_text().replace("epochs: 8", "epochs: 1"))
        run(work, "dvc", "repro", "-q")
        run(work, "git", "add", "-A")
        run(work, "git", "rm", "-q", "--cached", "eval/metrics.json")
        run(work, "git", "commit", "-q", "-m", "retrain; metrics not committed")
        # promote refuses uncommitted git-tracked metrics; a local exclude hides them from it,
        # as anyone writing a bundle can: the gate must still refuse the result
        with (work / ".git" / "info" / "exclude").open("a") as exclude:
            exclude.write("eval/metrics.json\n")
        from promote_gate.commands.promote import promote

        promote(str(work), "v2", [])
        v1 = json.loads((work / V1 / "metrics.json").read_text())
        edit_json(
            work / V2 / "metrics.json",
            lambda d: d["eval/metrics.json"].update(values=v1["eval/metrics.json"]["values"]),
        )
        rewrite_report(work / V2)
        resum(work / V2)

    head = world.branch("unmeasured-v2", change)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "unmeasured-v2", head)
    assert verdict.code == 1, verdict.text
    assert "PG402" in verdict.failed
    assert "git-tracked (cache: false) but is not committed at source.commit" in verdict.text
    assert "dvc pull eval/metrics.json" not in verdict.text


# --------------------------------------------------------------------------- 2, 3. directory outputs


def test_swapped_file_in_a_promoted_directory_is_caught_in_ci(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("swap", swap_in_directory)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "swap", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG201"}
    assert "md5 differs from data/prepared/test.csv in output data/prepared" in verdict.text


def _forged_listing(work: Path) -> None:
    """As the swap, plus a committed .dvc/cache whose .dir listing of data/prepared names
    the forged file: the address is the real listing's md5, the bytes are not."""
    swap_in_directory(work)
    md5 = _lock_out(work, "prepare", "data/prepared")
    forged_md5 = json.loads((work / V2 / "manifest.json").read_text())["files"]
    test_md5 = next(f["md5"] for f in forged_md5 if f["path"] == "prepared/test.csv")
    obj = work / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    listing = json.loads(obj.read_text())
    for entry in listing:
        if entry["relpath"] == "test.csv":
            entry["md5"] = test_md5
    obj.chmod(0o644)
    obj.write_text(json.dumps(listing))
    git_add_forced(work, str(obj.relative_to(work)))


def test_committed_cache_with_a_forged_listing_is_not_evidence(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("listing", _forged_listing)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "listing", head, "--require-data")
    assert verdict.code == 1, verdict.text
    assert "PG201" in verdict.failed
    # outside CI the committed cache is read, hashed, and refused: it is not its address
    clone = tmp_path / "ws"
    shutil.rmtree(tmp_path / REMOTE)
    code, out, _ = gate("check", "--repo", str(clone), "--rev", "HEAD", "--base", "origin/main")
    assert code == 1, out
    assert "does not hash to" in out
    assert "PG201" in out


# --------------------------------------------------------------------------- 4. metric identity


EXTRA = """\
import json, os
os.makedirs("eval", exist_ok=True)
json.dump({"loss": 0.01}, open("eval/extra.json", "w"))
"""


def _drop_regressed_metrics_file(work: Path) -> None:
    """A second metrics file that also says `loss`; v2 regresses eval/metrics.json's loss and
    the snapshot (and report) leave that file out, so only the flattering `loss` remains."""
    (work / "src/extra.py").write_text(EXTRA)
    dvc_yaml = work / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text()
        + "  extra:\n    cmd: python3 src/extra.py\n    deps: [src/extra.py]\n"
        + "    metrics:\n      - eval/extra.json:\n          cache: false\n"
    )
    release_v2(work, epochs="1")
    edit_json(work / V2 / "metrics.json", lambda d: d.pop("eval/metrics.json"))
    rewrite_report(work / V2)
    resum(work / V2)


def test_left_out_metrics_file_and_a_same_named_key_are_caught(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("drop-metrics", _drop_regressed_metrics_file)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "drop-metrics", head)
    assert verdict.code == 1, verdict.text
    assert {"PG402", "PG404"} <= verdict.failed
    assert "leaves out eval/metrics.json, which dvc.yaml at source.commit declares" in verdict.text
    assert "comes from eval/metrics.json in v1 but from eval/extra.json in v2" in verdict.text


# --------------------------------------------------------------------------- 5. the DVC remote


def _require_pushed(world: World) -> None:
    config = world.work / ".promote-gate.yaml"
    config.write_text(config.read_text() + "require_pushed: true\n")
    commit_all(world.work, "policy: release data must be pushed")
    run(world.work, "git", "push", "-q", "origin", "main")


def _fake_remote_in_config_local(work: Path) -> None:
    """v2 never pushed; a committed .dvc/config.local points at a remote of empty files."""
    release_v2(work, lr="0.1")
    md5 = json.loads((work / V2 / "manifest.json").read_text())["files"][0]["md5"]
    fake = work / "fake-remote/files/md5" / md5[:2] / md5[2:]
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"")
    (work / ".dvc/config.local").write_text(
        "[core]\n    remote = fake\n['remote \"fake\"']\n    url = ../fake-remote\n"
    )
    git_add_forced(work, ".dvc/config.local")


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_committed_config_local_cannot_name_the_remote(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _require_pushed(world)
    head = world.branch("fake-remote", _fake_remote_in_config_local, dvc_push=False)
    verdict = world.gate(through, gate, monkeypatch, tmp_path, "fake-remote", head)
    assert verdict.code == 1, verdict.text
    assert "PG505" in verdict.failed
    assert ".dvc/config.local is committed" in verdict.text


def _relabelled_storage(work: Path) -> None:
    """v2 never pushed; the manifest says the DVC-stored model is stored in git."""
    release_v2(work, lr="0.1")
    edit_json(work / V2 / "manifest.json", lambda d: d["files"][0].update(storage="git"))
    resum(work / V2)


def test_storage_relabelled_git_is_still_judged_by_its_pointer(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _require_pushed(world)
    head = world.branch("relabel", _relabelled_storage, dvc_push=False)
    world.install_hook(gate)
    verdict = world.push("origin", f"{head}:refs/heads/main")
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG102", "PG505"}
    assert '"storage": "git", but model.json.dvc makes it DVC-stored' in verdict.text


def test_a_change_repointing_the_remote_is_named_and_does_not_count(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _require_pushed(world)

    def repoint(work: Path) -> None:
        release_v2(work, lr="0.1")
        fake = work / "their-remote"
        shutil.copytree(work / ".dvc/cache", fake)  # everything v2 needs, brought by the change
        run(work, "dvc", "remote", "modify", "storage", "url", "../their-remote")

    head = world.branch("repoint", repoint, dvc_push=False)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "repoint", head)
    assert verdict.code == 1, verdict.text
    assert "PG505" in verdict.failed
    assert "this change re-points the default DVC remote" in verdict.text


# --------------------------------------------------------------------------- 6. objects that are not files


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin"])
def test_cache_object_symlinked_to_a_device_never_hangs(
    device: str, world: World, tmp_path: Path
) -> None:
    work = world.work
    md5 = _lock_out(work, "prepare", "data/prepared")
    obj = work / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.unlink()
    obj.symlink_to(device)
    git_add_forced(work, str(obj.relative_to(work)))
    commit_all(work, "a cache object that is a device")
    shutil.rmtree(world.remote)  # the committed cache is all there is
    for argv in (["--rev", "HEAD"], []):
        with subprocess.Popen(
            [sys.executable, "-m", "promote_gate", "check", "--repo", str(work), *argv],
            stdin=subprocess.PIPE,  # kept open: /dev/stdin would block a reader forever
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONSAFEPATH": "1"},
        ) as proc:
            out, err = proc.communicate(timeout=120)
        assert proc.returncode in {0, 1}, out + err
        assert "Traceback" not in err


# --------------------------------------------------------------------------- 7. the CI default


def test_ci_without_reachable_content_fails_a_candidate(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The templates' default: content that defines a release and cannot be read is not a
    pass. Here the DVC remote is out of reach of the CI job."""
    head = world.branch("good-v2", lambda w: release_v2(w, lr="0.1"))
    (tmp_path / "ws").parent.mkdir(exist_ok=True)
    (tmp_path / REMOTE).mkdir()  # an empty remote beside the clone: nothing readable
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "good-v2", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG104"}
    assert "could not be verified here" in verdict.text
    # CI reads only the DVC remote: what provides the content there is a push, not a pull
    assert "dvc push publish/v2/model.json" in verdict.text
    assert "dvc pull" not in verdict.text


def test_metadata_only_passes_and_says_unverified_first(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = world.work / ".promote-gate.yaml"
    config.write_text(config.read_text() + "metadata_only: true\n")
    commit_all(world.work, "policy: CI cannot reach the DVC remote")
    run(world.work, "git", "push", "-q", "origin", "main")
    head = world.branch("good-v2", lambda w: release_v2(w, lr="0.1"))
    (tmp_path / REMOTE).mkdir()
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "good-v2", head)
    assert verdict.code == 0, verdict.text
    assert verdict.out.splitlines()[1].startswith("UNVERIFIED: metadata_only is set")
    assert "promote-gate passed (UNVERIFIED)" in verdict.out
    summary = (tmp_path / "runner/summary.md").read_text()
    assert summary.startswith("## promote-gate: passed (UNVERIFIED)")


# --------------------------------------------------------------------------- review findings


def _chain(work: Path) -> None:
    """v2..v5 in one change, each a real retrain within the loss policy (0.02) of the one
    before: together they regress far more than any one may."""
    for number, (epochs, lr) in enumerate([(5, "0.04"), (3, "0.04"), (2, "0.04"), (2, "0.03")], 2):
        retrain(work, epochs=str(epochs), lr=lr)
        promote(str(work), f"v{number}", [])
        commit_all(work, f"Promote v{number}")


def test_a_chain_of_new_versions_is_also_compared_with_the_released_one(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("chain", _chain)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "chain", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG405"}
    assert "regressed vs v1" in verdict.text


def test_require_pushed_looks_where_dvc_pull_looks(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A DVC 3 pointer's object only in DVC 2's layout (the remote's root) is not pushed:
    a consumer's `dvc pull` looks under files/md5/ and fails."""
    _require_pushed(world)
    head = world.branch("v2", lambda w: release_v2(w, lr="0.5"))
    manifest = json.loads(run(world.work, "git", "show", f"{head}:{V2}/manifest.json"))
    md5 = next(f["md5"] for f in manifest["files"] if f["storage"] == "dvc")
    modern = world.remote / "files/md5" / md5[:2] / md5[2:]
    legacy = world.remote / md5[:2] / md5[2:]
    legacy.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(modern), str(legacy))
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "v2", head)
    assert verdict.code == 1, verdict.text
    assert "PG505" in verdict.failed


def test_a_release_rebased_after_promotion_is_a_violation_not_a_clone_problem(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world.branch("v2", lambda w: release_v2(w, lr="0.5"))
    (world.work / "NOTES").write_text("main moves on\n")
    commit_all(world.work, "main moves on")
    run(world.work, "git", "push", "-q", "origin", "main")
    run(world.work, "git", "checkout", "-q", "v2")
    run(world.work, "git", "rebase", "-q", "main")
    head = world.sha()
    run(world.work, "git", "push", "-q", "-f", "origin", "v2")
    run(world.work, "git", "checkout", "-q", "main")
    run(world.work, "git", "branch", "-D", "v2")
    run(world.work, "git", "reflog", "expire", "--expire=now", "--all")
    run(world.work, "git", "gc", "-q", "--prune=now")
    run(world.bare, "git", "gc", "-q", "--prune=now")  # the promoted commit is gone
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "v2", head)
    assert verdict.code == 1, verdict.text
    assert {"PG203", "PG205"} <= verdict.failed
    assert "fetch-depth" not in verdict.text
