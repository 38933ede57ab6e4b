"""The comparison provider: a candidate against its baseline and the newest release."""

from __future__ import annotations

from pathlib import Path

import pytest
from evidence_scopes import add_policy, build_v2, commit_all, copy_repo, edit, opened, run

from promote_gate.commands.promote import promote
from promote_gate.errors import GateError
from promote_gate.evidence.comparison import comparisons


@pytest.fixture(scope="module")
def v2(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1, then a real retrain (lr 0.05 -> 0.1, dvc repro) promoted as v2 and committed."""
    top = tmp_path_factory.mktemp("comparison")
    return build_v2(template, top / "repo", tmp_path_factory.mktemp("home"), lr="0.1")


def test_v1_has_no_earlier_version_to_compare_with(repo: Path) -> None:
    with opened(repo) as it:
        found = comparisons(it.scope, it.bundle("v1"))
    assert found.comparison is None
    assert found.comparison_note == "no earlier promoted version to compare with"
    assert found.release_comparison is None


def test_v2_is_compared_with_v1_and_names_the_changed_param(v2: Path) -> None:
    with opened(v2) as it:
        found = comparisons(it.scope, it.bundle("v2"))
    assert found.comparison_note is None
    comparison = found.comparison
    assert comparison is not None
    assert (comparison.baseline.label, comparison.candidate.label) == ("v1", "v2")
    assert comparison.params == (("params.yaml", "train.lr", 0.05, 0.1),)
    assert dict(comparison.stages)["train"].endswith("params")
    assert "prepare" not in dict(comparison.stages)  # its inputs did not change
    assert found.release_comparison is None  # nothing is released here


def test_a_chain_of_candidates_is_also_compared_with_the_newest_release(
    v2: Path, tmp_path: Path
) -> None:
    work = copy_repo(v2, tmp_path / "repo")
    released = run(work, "git", "rev-parse", "HEAD~2").strip()  # "Promote v1"
    params = work / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 8", "epochs: 6"))
    run(work, "dvc", "repro", "-q")
    commit_all(work, "retrain with 6 epochs")
    promote(str(work), "v3", [])
    commit_all(work, "Promote v3")
    with opened(work, rev="HEAD", base=released) as it:
        assert it.scope.released == {"v1"}
        found = comparisons(it.scope, it.bundle("v3"))
    assert found.comparison is not None
    assert found.comparison.baseline.label == "v2"
    assert found.release_comparison is not None
    assert found.release_comparison.baseline.label == "v1"
    assert {key for _, key, _, _ in found.release_comparison.params} == {
        "train.lr",
        "train.epochs",
    }


def test_a_revision_baseline_is_read_from_its_lock_and_an_unknown_one_refused(
    v2: Path, tmp_path: Path
) -> None:
    work = copy_repo(v2, tmp_path / "repo")
    pipeline = run(work, "git", "log", "--format=%H", "--reverse").split()[0]
    add_policy(work, f"baseline: {pipeline}\n")
    with opened(work) as it:
        found = comparisons(it.scope, it.bundle("v2"))
    assert found.comparison is not None
    assert found.comparison.baseline.label == f"commit {pipeline[:12]}"
    assert found.comparison.params == (("params.yaml", "train.lr", 0.05, 0.1),)
    edit(work / ".promote-gate.yaml", f"baseline: {pipeline}", "baseline: v0")
    with opened(work) as it, pytest.raises(GateError, match="neither a bundle nor a git revision"):
        comparisons(it.scope, it.bundle("v2"))
