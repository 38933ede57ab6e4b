"""``check`` right after ``git clone``, before ``dvc pull``: the first command a newcomer runs.

A world (``scenario.py``): v1 promoted on main, pushed to a bare origin, its data to a
local-directory DVC remote. A fresh clone has the git history and none of the data. What
the remote's default branch has is released (judged for immutability, not staleness);
data that is not in the workspace is not pulled — ``dvc pull``, never ``dvc repro``.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Gate, run  # type: ignore[import-not-found, unused-ignore]
from scenario import World, release_v2, retrain  # type: ignore[import-not-found, unused-ignore]

NOT_PULLED = "not pulled: data/prepared, data/raw.csv, models/model.json"
ADVICE = "run `dvc pull` (or `promote-gate check --rev HEAD` to judge the committed state"


def statuses(gate: Gate, *argv: str) -> tuple[int, dict[str, dict[str, str]]]:
    """Exit code, and each bundle's rule statuses (code -> status) in the JSON report."""
    code, doc = gate.json("check", *argv)
    return code, {b["name"]: {r["code"]: r["status"] for r in b["results"]} for b in doc["bundles"]}


def fresh_clone(world: World, tmp_path: Path, branch: str = "main") -> Path:
    """``git clone`` of the origin, the DVC remote reachable as configured, nothing pulled."""
    clone = world.clone(tmp_path / "clone", branch)
    assert not (clone / "models/model.json").exists()
    assert not (clone / ".dvc/cache").exists()
    return clone


def add_data(work: Path) -> None:
    """A real problem: new raw data tracked with ``dvc add`` and committed, never reproduced."""
    with (work / "data/raw.csv").open("a") as fobj:
        fobj.write("1.0,1.0,1.0,1\n")
    run(work, "dvc", "add", "-q", "data/raw.csv")


def test_a_fresh_clone_passes_and_names_its_base(world: World, tmp_path: Path, gate: Gate) -> None:
    clone = fresh_clone(world, tmp_path)
    code, out, err = gate("check", "--repo", str(clone))
    assert code == 0, out + err
    assert "PG204" not in out + err
    assert "dvc repro" not in out + err
    assert f"base: origin/main ({world.sha('main')[:12]}), 1 bundle released" in out
    assert "ok   publish/v1" in out
    _, results = statuses(gate, "--repo", str(clone))
    assert results["v1"]["PG204"] == "skipped"  # released: immutability, not staleness
    assert results["v1"]["PG501"] == "passed"

    run(clone, "dvc", "pull", "-q")
    code, out, err = gate("check", "--repo", str(clone))
    assert code == 0, out + err
    assert "not pulled" not in out
    assert "promote-gate passed" in out


def test_a_clone_without_upstream_judges_every_bundle_and_notes_what_is_not_pulled(
    world: World, tmp_path: Path, gate: Gate
) -> None:
    clone = fresh_clone(world, tmp_path)
    run(clone, "git", "remote", "remove", "origin")
    code, out, err = gate("check", "--repo", str(clone))
    assert code == 0, out + err
    assert "base: none (no upstream, no remote): every bundle is a candidate" in out
    assert NOT_PULLED in out
    assert ADVICE in out
    assert "PG204" not in out + err
    assert "dvc repro" not in out + err
    _, results = statuses(gate, "--repo", str(clone))
    assert results["v1"]["PG204"] == "passed"  # a candidate: judged, as dvc.lock records it


def test_require_data_fails_closed_on_data_that_is_not_pulled(
    world: World, tmp_path: Path, gate: Gate
) -> None:
    """A candidate's pipeline needs the workspace's data: without it --require-data cannot
    evaluate (exit 2) and says which command brings it; the cache's copies only want a
    checkout."""
    world.branch("v2", lambda work: release_v2(work, lr="0.1"))
    clone = fresh_clone(world, tmp_path, "v2")
    code, out, err = gate("check", "--repo", str(clone))
    assert code == 0, out + err
    assert NOT_PULLED in out

    code, out, err = gate("check", "--repo", str(clone), "--require-data")
    assert code == 2, out + err
    assert (
        f"error: not pulled, and --require-data asks for the data itself: {NOT_PULLED[12:]}" in out
    )
    assert ADVICE in out
    assert "PG204" not in out + err
    assert "dvc repro" not in out + err

    run(clone, "dvc", "fetch", "-q")
    code, out, err = gate("check", "--repo", str(clone), "--require-data")
    assert code == 2, out + err
    assert "not checked out, and --require-data asks for the data itself: data/prepared" in out
    assert "run `dvc checkout`" in out

    run(clone, "dvc", "checkout", "-q")
    code, out, err = gate("check", "--repo", str(clone), "--require-data")
    assert code == 0, out + err
    assert "not pulled" not in out
    assert "not checked out" not in out


def test_require_data_passes_a_released_bundle_read_from_the_dvc_remote(
    world: World, tmp_path: Path, gate: Gate
) -> None:
    """Nothing a rule needs is missing: v1's DVC-tracked model is verified from the remote,
    and the pipeline of a released bundle is not judged."""
    clone = fresh_clone(world, tmp_path)
    code, out, err = gate("check", "--repo", str(clone), "--require-data")
    assert code == 0, out + err
    assert "not pulled" not in out


def test_a_candidate_with_a_real_problem_is_caught_in_a_fresh_clone(
    world: World, tmp_path: Path, gate: Gate
) -> None:
    """v2 on a pushed branch, then data added without ``dvc repro``: the clone has no data,
    yet the .dvc file's md5 against dvc.lock's shows prepare stale. The branch's upstream
    vouches for nothing (as at a push): v2 is a candidate, compared with main."""

    def stale_v2(work: Path) -> None:
        release_v2(work, lr="0.1")
        add_data(work)

    world.branch("feature", stale_v2)
    clone = fresh_clone(world, tmp_path, "feature")
    assert gate.failed_codes("check", "--repo", str(clone)) == {"PG204"}
    code, out, _ = gate("check", "--repo", str(clone))
    assert code == 1
    assert "stage prepare: dep data/raw.csv: modified" in out
    assert "not in the workspace" in out
    assert f"base: origin/main ({world.sha('main')[:12]}), 1 bundle released" in out
    _, results = statuses(gate, "--repo", str(clone))
    assert results["v1"]["PG204"] == "skipped"
    assert results["v2"]["PG204"] == "failed"


def test_the_working_tree_cannot_relax_the_policy_it_is_judged_under(
    world: World, tmp_path: Path, gate: Gate
) -> None:
    """As at a push: the default branch's policy applies, not the working tree's edit."""

    def stale_v2(work: Path) -> None:
        release_v2(work, lr="0.1")
        add_data(work)

    world.branch("feature", stale_v2)
    clone = fresh_clone(world, tmp_path, "feature")
    with (clone / ".promote-gate.yaml").open("a") as fobj:
        fobj.write("ignore: [PG204]\n")
    code, out, err = gate("check", "--repo", str(clone))
    assert code == 1, out + err
    assert "this change edits the promote-gate policy" in out
    assert "PG204 pipeline-stale" in out


def test_a_released_bundle_is_not_stale_when_the_pipeline_moved_on(
    world: World, gate: Gate
) -> None:
    """main retrained and pushed after v1 (dvc.lock moved on), and a params edit in
    progress: v1 was released and is not judged against today's pipeline. The same
    working tree with no remote judges v1 as a candidate, and finds the edit."""
    work = world.work
    retrain(work, lr="0.1")
    run(work, "git", "push", "-q", "origin", "main")
    run(work, "dvc", "push", "-q")
    params = (work / "params.yaml").read_text()
    (work / "params.yaml").write_text(params.replace("epochs: 8", "epochs: 9"))

    code, out, err = gate("check", "--repo", str(work))
    assert code == 0, out + err
    assert f"base: origin/main ({world.sha('main')[:12]}), 1 bundle released" in out
    assert "PG204" not in out

    run(work, "git", "remote", "remove", "origin")
    assert gate.failed_codes("check", "--repo", str(work)) == {"PG204"}
    code, out, _ = gate("check", "--repo", str(work))
    assert "param params.yaml:train.epochs: modified" in out


def test_base_overrides_and_is_named(world: World, tmp_path: Path, gate: Gate) -> None:
    clone = fresh_clone(world, tmp_path)
    first = run(clone, "git", "rev-list", "--max-parents=0", "HEAD").split()[0]
    code, out, err = gate("check", "--repo", str(clone), "--base", first)
    assert code == 0, out + err
    assert f"base: {first} ({first[:12]}), 0 bundles released" in out
    code, out, _ = gate("check", "--repo", str(clone), "--rev", "HEAD")
    assert "base: none (--rev without --base): every bundle is a candidate" in out


def test_a_new_commit_on_main_counts_what_origin_has_as_released(world: World, gate: Gate) -> None:
    """Ahead of origin/main by an unpushed v2: v1 released, v2 a candidate."""
    release_v2(world.work, lr="0.1")
    code, results = statuses(gate, "--repo", str(world.work))
    assert code == 0
    assert results["v1"]["PG204"] == "skipped"
    assert results["v2"]["PG204"] == "passed"
    code, out, _ = gate("check", "--repo", str(world.work))
    assert f"base: origin/main ({world.sha('origin/main')[:12]}), 1 bundle released" in out


def test_a_branch_behind_main_is_compared_with_where_it_meets_main(
    world: World, tmp_path: Path, gate: Gate
) -> None:
    """main released v2 after the branch was cut: the branch did not remove v2, and its
    bundles are compared with the commit it shares with main, under main's tip's policy."""

    def notes(work: Path) -> None:
        (work / "NOTES.md").write_text("notes\n")

    fork = world.branch("notes", notes)
    release_v2(world.work, lr="0.1")
    run(world.work, "git", "push", "-q", "origin", "main")
    run(world.work, "dvc", "push", "-q")
    clone = fresh_clone(world, tmp_path, "notes")
    code, out, err = gate("check", "--repo", str(clone))
    assert code == 0, out + err
    shared = world.sha(f"{fork}~1")
    assert (
        f"base: {shared[:12]}, where HEAD meets origin/main ({world.sha('main')[:12]}, whose "
        "policy applies), 1 bundle released"
    ) in out
    assert "PG501" not in out
