"""Pipeline status (``dvc status``) of the stages a candidate's lock excerpt names, in the
checked view (PG204), and the text of the dvc.lock files judged (where its findings are
shown). Bundles naming the same stages — every release of one pipeline — share one
evaluation."""

# No `from __future__ import annotations` here: it would make the NamedTuple below compile
# its annotations as ForwardRefs at every import (see evidence/records.py).

from collections.abc import Mapping
from typing import Any, NamedTuple

from promote_gate.dvc.lock import LockFile, project_lock
from promote_gate.dvc.status import pipeline_status
from promote_gate.errors import GateError
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts
from promote_gate.yamlio import DocumentError


class PipelineStatus(NamedTuple):
    """RepoEvidence's ``status`` (stage -> StageStatus), ``status_error`` and ``lock_texts``
    (the checked dvc.lock files: project path -> text)."""

    status: Any = None
    status_error: str | None = None
    lock_texts: Mapping[str, str] = {}  # never mutated: a read-only default


def status(scope: Scope, facts: BundleFacts) -> PipelineStatus:
    """dvc status of the excerpt's stages, once per set of stages."""
    excerpt = facts.docs["lock"].value
    if not isinstance(excerpt, LockFile):
        return PipelineStatus()
    key = frozenset(excerpt.stages)
    if key not in scope.memo.statuses:
        evaluated = _evaluate(scope, excerpt)
        scope.memo.statuses[key] = (evaluated, evaluated.status_error)
    found: PipelineStatus = scope.memo.statuses[key][0]
    return found


def _evaluate(scope: Scope, excerpt: LockFile) -> PipelineStatus:
    view = scope.view
    texts: dict[str, str] = {}
    try:
        project = scope.checked_project()
        if project is None:
            return PipelineStatus(None, f"there is no dvc.yaml in the {view.label}")
        lock, found = project_lock(view.read, project)
        texts = {path: data.decode("utf-8", "replace") for path, data in found.items()}
        if lock is None:
            return PipelineStatus(None, f"there is no dvc.lock in the {view.label}")
        stages = list(excerpt.stages)
        return PipelineStatus(
            pipeline_status(view, project, lock, stages, scope.store), None, texts
        )
    except (DocumentError, GateError) as exc:
        error = f"cannot evaluate the pipeline in the {view.label}: {exc}"
        return PipelineStatus(None, error, texts)
