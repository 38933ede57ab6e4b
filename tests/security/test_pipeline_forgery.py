"""Trust boundary, the pipeline (issue 7, items 16-17): a lock that no longer describes the
pipeline, or outputs recorded without being reproduced, do not pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    World,
    github_pr,
    release_v2,
)

from promote_gate.commands.promote import promote

# --------------------------------------------------------------------------- 16. renamed stage


def _stale_behind_a_rename(work: Path) -> None:
    """v2 released for real, then lr changed without `dvc repro` — hidden by renaming the
    train stage in dvc.yaml and dvc.lock (whose entry is edited to the new lr)."""
    release_v2(work, lr="0.1")
    params = work / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.1", "lr: 0.3"))
    for name in ("dvc.yaml", "dvc.lock"):
        path = work / name
        path.write_text(path.read_text().replace("  train:", "  train2:"))
    lock = work / "dvc.lock"
    lock.write_text(lock.read_text().replace("lr: 0.1", "lr: 0.3"))


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_excerpt_stage_missing_from_the_pipeline_is_stale(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("rename", _stale_behind_a_rename)
    verdict = world.gate(through, gate, monkeypatch, tmp_path, "rename", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG204"}
    assert "stage train: stage is not in dvc.yaml" in verdict.text


# --------------------------------------------------------------------------- 17. dvc commit -f


def _committed_not_reproduced(work: Path) -> None:
    """The model is replaced by hand and recorded with `dvc commit -f`: train's command,
    dependencies and params are v1's, its output is not. evaluate then re-runs for real."""
    model = work / "models/model.json"
    doc = json.loads(model.read_text())
    doc["weights"] = [w * 1.01 for w in doc["weights"]]
    model.chmod(0o644)
    model.write_text(json.dumps(doc))
    run(work, "dvc", "commit", "-q", "-f", "train")
    run(work, "dvc", "repro", "-q")
    commit_all(work, "a model nobody trained")
    promote(str(work), "v2", [])
    commit_all(work, "Promote v2")


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_outputs_recorded_without_reproducing_are_flagged(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("commit-f", _committed_not_reproduced)
    verdict = world.gate(through, gate, monkeypatch, tmp_path, "commit-f", head)
    assert verdict.code == 1, verdict.text
    assert "PG206" in verdict.failed
    assert "stage train: models/model.json changed since v1" in verdict.text


def test_an_honest_retrain_is_not_flagged(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("good-v2", lambda w: release_v2(w, lr="0.1"))
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "good-v2", head)
    assert verdict.code == 0, verdict.text
