"""The lock evidence at the bundle's ``source.commit``: whether that commit is known and on
the checked history, its ``dvc.lock`` files (git objects, never the working tree) with their
digest, the metrics its ``dvc.yaml`` declares, and the excerpt read with its stages' wdirs."""

from __future__ import annotations

import dataclasses

from promote_gate.dvc import DVC_LOCK
from promote_gate.dvc.lock import LockFile, lock_digest, parse_lock, project_lock
from promote_gate.dvc.parsing import Project
from promote_gate.evidence.records import SourceEvidence
from promote_gate.evidence.scope import Scope, source_commit
from promote_gate.facts import BundleFacts
from promote_gate.git import Git
from promote_gate.repo import CommitView
from promote_gate.yamlio import MAX_DOCUMENT_BYTES, DocumentError


def known_commit(scope: Scope, facts: BundleFacts) -> str | None:
    """``source.commit`` if it is a full commit id this repository has, else None."""
    commit = source_commit(facts)
    assert scope.git is not None
    if commit is None or len(commit) < 40:
        return None
    return commit if scope.git.resolve(commit) == commit else None


def lock_at_commit(
    git: Git, commit: str, project: Project | None
) -> tuple[LockFile | None, dict[str, bytes], str | None]:
    """The project's dvc.lock files at ``commit`` (git objects): as one LockFile, their
    bytes, and why they cannot be read. Without a dvc.yaml there, dvc.lock as it is."""
    try:
        if project is not None:
            lock, found = project_lock(
                lambda p: git.read_at(commit, p, MAX_DOCUMENT_BYTES), project, f" at {commit[:12]}"
            )
        else:
            data = git.read_at(commit, DVC_LOCK, MAX_DOCUMENT_BYTES)
            found = {DVC_LOCK: data} if data is not None else {}
            lock = parse_lock(data, f"{DVC_LOCK} at {commit[:12]}") if data else None
    except DocumentError as exc:
        return None, {}, str(exc)
    if not found:
        return None, {}, "there is no dvc.lock in that commit"
    return lock, found, None


def source_evidence(scope: Scope, facts: BundleFacts) -> SourceEvidence:
    """What ``source.commit`` says: known, an ancestor, its lock state and declared metrics."""
    git = scope.git
    assert git is not None
    commit = known_commit(scope, facts)
    checked = scope.checked_commit
    # the index of a merge in progress becomes a commit with MERGE_HEAD among its parents
    merging = git.merge_heads() if isinstance(scope.view, CommitView) and scope.view.staged else []
    tips = [checked, *merging] if checked else []
    ancestor = bool(commit and any(commit in git.ancestors(tip) for tip in tips))
    lock: LockFile | None = None
    lock_error = None
    project, project_error = scope.project_at(commit) if commit else (None, None)
    found: dict[str, bytes] = {}
    if commit:
        lock, found, lock_error = lock_at_commit(git, commit, project)
    declared: tuple[str, ...] | None = None
    if project is not None and lock is not None:
        declared = tuple(m for m in project.metrics if lock.producer(m) is not None)
    return SourceEvidence(
        source_known=commit is not None,
        source_is_ancestor=ancestor,
        source_lock=lock,
        source_lock_sha256=lock_digest(found) if found else None,
        source_lock_error=lock_error,
        declared_metrics=declared,
        declared_error=project_error,
    )


def with_wdirs(scope: Scope, facts: BundleFacts) -> BundleFacts:
    """The lock excerpt's paths read relative to each stage's ``wdir``, as dvc.yaml at
    source.commit defines it (the excerpt is dvc.lock verbatim: wdir-relative)."""
    excerpt = facts.docs["lock"].value
    commit = source_commit(facts)
    if not isinstance(excerpt, LockFile) or commit is None:
        return facts
    assert scope.git is not None
    if scope.git.resolve(commit) != commit:
        return facts
    project, _ = scope.project_at(commit)
    if project is None:
        return facts
    docs = dict(facts.docs)
    docs["lock"] = dataclasses.replace(docs["lock"], value=excerpt.rebuilt(project.wdirs))
    return dataclasses.replace(facts, docs=docs)
