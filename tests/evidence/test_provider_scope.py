"""Scope: one project of one checkout as the providers read it, and what a run learns once."""

from __future__ import annotations

from pathlib import Path

import pytest
from evidence_scopes import MODEL, commit_all, md5_of_model, opened, run

from promote_gate.context.checkout import open_view
from promote_gate.evidence.scope import Scope
from promote_gate.yamlio import DocumentError


def test_checked_commit_is_head_for_the_working_tree_and_the_commit_for_a_rev(
    repo: Path,
) -> None:
    head = run(repo, "git", "rev-parse", "HEAD").strip()
    first = run(repo, "git", "rev-parse", "HEAD~1").strip()
    with opened(repo) as worktree:
        assert worktree.scope.checked_commit == head
    with opened(repo, rev="HEAD~1") as earlier:
        assert earlier.scope.checked_commit == first


def test_checked_project_names_the_pipeline_and_its_outputs(repo: Path) -> None:
    with opened(repo) as it:
        project = it.scope.checked_project()
    assert project is not None
    assert list(project.stages) == ["prepare", "train", "evaluate"]
    assert {"data/prepared", "models/model.json", "eval/metrics.json"} <= set(project.outputs)


def test_a_broken_dvc_yaml_raises_every_time_it_is_asked_for(repo: Path) -> None:
    (repo / "dvc.yaml").write_text("stages: [unclosed\n")
    with opened(repo) as it:
        for _ in range(2):  # memoised, but never turned into "no project"
            with pytest.raises(DocumentError):
                it.scope.checked_project()


def test_project_at_a_commit_without_dvc_yaml_says_so(repo: Path) -> None:
    run(repo, "git", "rm", "-q", "dvc.yaml")
    gone = commit_all(repo, "drop the pipeline")
    pipeline = run(repo, "git", "rev-parse", "HEAD~2").strip()
    with opened(repo) as it:
        project, error = it.scope.project_at(gone)
        assert project is None
        assert error == f"there is no dvc.yaml at {gone[:12]}"
        earlier, none = it.scope.project_at(pipeline)  # the history still has it
        assert earlier is not None
        assert none is None


def test_local_scope_reads_dvc_objects_from_the_project_cache(repo: Path) -> None:
    md5 = md5_of_model(repo)
    git, view, config = open_view(str(repo), None)
    try:
        scope = Scope.local(view, config, git)
        digest = scope.store.digest(md5)
        assert digest is not None
        assert digest.sha256 == run(repo, "sha256sum", MODEL).split()[0]
        cached = repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
        cached.chmod(0o644)
        cached.unlink()
        assert Scope.local(view, config, git).store.digest(md5) is None
    finally:
        git.close()
