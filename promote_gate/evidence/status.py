"""Pipeline status (``dvc status``) of the stages a candidate's lock excerpt names, in the
checked view (PG204). Bundles naming the same stages — every release of one pipeline —
share one evaluation."""

from __future__ import annotations

from typing import Any

from promote_gate.dvc.lock import LockFile, project_lock
from promote_gate.dvc.status import pipeline_status
from promote_gate.errors import GateError
from promote_gate.evidence.records import Status
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts
from promote_gate.yamlio import DocumentError


def status(scope: Scope, facts: BundleFacts) -> Status:
    """dvc status of the excerpt's stages, once per set of stages."""
    excerpt = facts.docs["lock"].value
    if not isinstance(excerpt, LockFile):
        return Status()
    key = frozenset(excerpt.stages)
    if key not in scope.memo.statuses:
        scope.memo.statuses[key] = _evaluate(scope, excerpt)
    return Status(*scope.memo.statuses[key])


def _evaluate(scope: Scope, excerpt: LockFile) -> tuple[Any, str | None]:
    view = scope.view
    try:
        project = scope.checked_project()
        if project is None:
            return None, f"there is no dvc.yaml in the {view.label}"
        lock = project_lock(view.read, project)[0]
        if lock is None:
            return None, f"there is no dvc.lock in the {view.label}"
        return pipeline_status(view, project, lock, list(excerpt.stages), scope.store), None
    except (DocumentError, GateError) as exc:
        return None, f"cannot evaluate the pipeline in the {view.label}: {exc}"
