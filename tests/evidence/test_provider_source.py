"""The source provider: what the bundle's ``source.commit`` says, from git objects only."""

from __future__ import annotations

import json
from pathlib import Path

from evidence_scopes import METRICS, commit_all, opened, run, set_source_commit

from promote_gate.evidence.source import source_evidence


def _manifest_source(repo: Path) -> dict[str, str]:
    source: dict[str, str] = json.loads((repo / "publish/v1/manifest.json").read_text())["source"]
    return source


def test_the_promoted_commit_is_known_an_ancestor_and_its_lock_matches(repo: Path) -> None:
    recorded = _manifest_source(repo)
    with opened(repo) as it:
        found = source_evidence(it.scope, it.bundle("v1"))
    assert found.source_known
    assert found.source_is_ancestor
    assert found.source_lock is not None
    assert list(found.source_lock.stages) == ["prepare", "train", "evaluate"]
    assert found.source_lock_sha256 == recorded["dvc_lock_sha256"]
    assert found.source_lock_error is None
    assert found.declared_metrics == (METRICS,)


def test_an_unknown_source_commit_is_reported_unknown(repo: Path) -> None:
    set_source_commit(repo, "v1", "0123456789abcdef" * 2 + "01234567")
    with opened(repo) as it:
        found = source_evidence(it.scope, it.bundle("v1"))
    assert not found.source_known
    assert not found.source_is_ancestor
    assert found.source_lock is None
    assert found.source_lock_sha256 is None


def test_an_abbreviated_source_commit_is_not_taken_as_known(repo: Path) -> None:
    """Only a full id pins the source: a prefix could name another commit tomorrow."""
    set_source_commit(repo, "v1", _manifest_source(repo)["commit"][:12])
    with opened(repo) as it:
        found = source_evidence(it.scope, it.bundle("v1"))
    assert not found.source_known


def test_a_commit_off_the_checked_history_is_known_but_no_ancestor(repo: Path) -> None:
    run(repo, "git", "checkout", "-q", "-b", "side")
    (repo / "notes.txt").write_text("a side branch\n")
    side = commit_all(repo, "side work")
    run(repo, "git", "checkout", "-q", "main")
    set_source_commit(repo, "v1", side)
    with opened(repo) as it:
        found = source_evidence(it.scope, it.bundle("v1"))
    assert found.source_known
    assert not found.source_is_ancestor
    assert found.source_lock is not None  # the side commit still has the pipeline's lock


def test_a_source_commit_without_dvc_lock_says_so(repo: Path) -> None:
    run(repo, "git", "rm", "-q", "dvc.lock")
    bare = commit_all(repo, "drop dvc.lock")
    set_source_commit(repo, "v1", bare)
    with opened(repo) as it:
        found = source_evidence(it.scope, it.bundle("v1"))
    assert found.source_known
    assert found.source_lock is None
    assert found.source_lock_error == "there is no dvc.lock in that commit"
    assert found.declared_metrics is None
