"""The lineage provider: which commits (and experiment refs) record each output in their
``dvc.lock``, and which promoted paths match the policy's exploratory globs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from evidence_scopes import commit_all, edit, edit_manifest, md5_of_model, opened, run

from promote_gate.evidence.lineage import lineage

TRAINED = "models/model.json"


def _first_commit(repo: Path) -> str:
    return run(repo, "git", "log", "--format=%H", "--reverse").split()[0]


def _trained_md5(repo: Path) -> str:
    return hashlib.md5((repo / TRAINED).read_bytes()).hexdigest()


def test_the_promoted_model_maps_to_the_commit_that_recorded_it(repo: Path) -> None:
    with opened(repo, rev="HEAD") as it:
        found = lineage(it.scope, it.bundle("v1"))
    assert found.lineage is not None
    assert found.lineage[md5_of_model(repo)] == {_first_commit(repo)}
    assert found.experiments == {}
    assert found.exploratory == ()


def test_a_retrain_maps_to_its_commit_and_an_uncommitted_one_to_the_working_tree(
    repo: Path,
) -> None:
    edit(repo / "params.yaml", "lr: 0.05", "lr: 0.1")
    run(repo, "dvc", "repro", "-q")
    retrained = _trained_md5(repo)
    with opened(repo) as it:
        uncommitted = lineage(it.scope, it.bundle("v1")).lineage
    assert uncommitted is not None
    assert uncommitted[retrained] == {"working tree"}
    head = commit_all(repo, "retrain with lr 0.1")
    with opened(repo, rev="HEAD") as it:
        committed = lineage(it.scope, it.bundle("v1")).lineage
    assert committed is not None
    assert committed[retrained] == {head}
    assert committed[md5_of_model(repo)] == {_first_commit(repo)}


def test_an_experiment_ref_recording_an_output_is_found(repo: Path) -> None:
    run(repo, "dvc", "exp", "run", "-q", "--set-param", "train.lr=0.3", "--name", "hot")
    refs = run(repo, "git", "for-each-ref", "--format=%(refname)", "refs/exps/").split()
    (ref,) = [r for r in refs if r.endswith("/hot")]  # beside DVC's own refs/exps/exec/…
    lock = yaml.safe_load(run(repo, "git", "show", f"{ref}:dvc.lock"))
    (out,) = lock["stages"]["train"]["outs"]
    explored = out["md5"]  # the experiment's model, recorded only under refs/exps/
    with opened(repo, rev="HEAD") as it:
        found = lineage(it.scope, it.bundle("v1"))
    assert found.lineage is not None
    assert explored not in found.lineage
    assert found.experiments[explored] == ref


def test_only_refs_dvc_lists_as_experiments_count(repo: Path) -> None:
    """`dvc exp run` leaves its executor's refs/exps/exec/EXEC_HEAD (the commit the run
    started from, which records the released model): that is no experiment. The refs that
    count are those DVC's own exp_refs lists (the differential)."""
    from dvc.repo import Repo
    from dvc.repo.experiments.utils import exp_refs

    run(repo, "dvc", "exp", "run", "-q", "--set-param", "train.lr=0.3", "--name", "hot")
    refs = run(repo, "git", "for-each-ref", "--format=%(refname)", "refs/exps/").split()
    assert "refs/exps/exec/EXEC_HEAD" in refs  # DVC's bookkeeping is there to be ignored
    with Repo(str(repo)) as dvc:
        listed_by_dvc = {str(info) for info in exp_refs(dvc.scm)}
    with opened(repo, rev="HEAD") as it:
        found = lineage(it.scope, it.bundle("v1"))
    assert set(found.experiments.values()) == listed_by_dvc
    assert md5_of_model(repo) not in found.experiments  # the released model is no experiment


def test_a_model_promoted_from_an_experiments_directory_is_exploratory(repo: Path) -> None:
    def from_experiments(manifest: dict[str, Any]) -> None:
        manifest["files"][0]["source"]["path"] = "experiments/model.json"

    edit_manifest(repo, "v1", from_experiments)
    with opened(repo) as it:
        found = lineage(it.scope, it.bundle("v1"))
    assert found.exploratory == (("experiments/model.json", "experiments/"),)


def test_exploratory_patterns_are_anchored_at_the_project_root(repo: Path) -> None:
    """`experiments/` is the top directory, not src/experiments/ (a real repository keeps its
    data there); written `**/experiments/` it is any depth."""

    def from_src_experiments(manifest: dict[str, Any]) -> None:
        manifest["files"][0]["source"]["path"] = "src/experiments/huq/_data/model.json"

    edit_manifest(repo, "v1", from_src_experiments)
    with opened(repo) as it:
        assert lineage(it.scope, it.bundle("v1")).exploratory == ()
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + 'exploratory: ["**/experiments/"]\n')
    with opened(repo) as it:
        found = lineage(it.scope, it.bundle("v1"))
    assert found.exploratory == (("src/experiments/huq/_data/model.json", "**/experiments/"),)
