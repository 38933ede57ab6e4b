"""The status provider: ``dvc status`` of the stages a candidate's lock excerpt names."""

from __future__ import annotations

from pathlib import Path

from evidence_scopes import edit, opened, run

from promote_gate.evidence.status import status


def _changed(found: object) -> set[str]:
    assert isinstance(found, dict)
    return {name for name, stage in found.items() if stage.changes}


def test_a_reproduced_pipeline_has_every_stage_unchanged(repo: Path) -> None:
    with opened(repo) as it:
        found = status(it.scope, it.bundle("v1"))
    assert found.status_error is None
    assert set(found.status) == {"prepare", "train", "evaluate"}
    assert _changed(found.status) == set()


def test_a_param_changed_without_dvc_repro_names_its_stage(repo: Path) -> None:
    edit(repo / "params.yaml", "lr: 0.05", "lr: 0.2")
    assert "train:" in run(repo, "dvc", "status")  # DVC agrees: train is the stage that changed
    with opened(repo) as it:
        found = status(it.scope, it.bundle("v1"))
    assert _changed(found.status) == {"train"}
    assert any("train.lr" in change for change in found.status["train"].changes)


def test_an_edited_pipeline_source_names_the_stage_depending_on_it(repo: Path) -> None:
    (repo / "src/evaluate.py").write_text((repo / "src/evaluate.py").read_text() + "\n# edit\n")
    with opened(repo) as it:
        found = status(it.scope, it.bundle("v1"))
    assert _changed(found.status) == {"evaluate"}
    assert any("src/evaluate.py" in change for change in found.status["evaluate"].changes)


def test_without_dvc_lock_the_status_cannot_be_told(repo: Path) -> None:
    run(repo, "git", "rm", "-q", "dvc.lock")
    with opened(repo) as it:
        found = status(it.scope, it.bundle("v1"))
    assert found.status is None
    assert found.status_error == "there is no dvc.lock in the working tree"
