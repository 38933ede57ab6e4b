"""The release boundary in history: which commits on the checked lineage (and which
experiment refs) record each output in their ``dvc.lock``, and which promoted paths match
the policy's exploratory globs (PG503)."""

from __future__ import annotations

from promote_gate.config import anchored
from promote_gate.dvc import DVC_LOCK
from promote_gate.dvc.experiments import NAMESPACE, is_experiment
from promote_gate.dvc.lock import parse_lock
from promote_gate.dvc.project import lock_of
from promote_gate.evidence.records import Lineage
from promote_gate.evidence.scope import Scope, listed
from promote_gate.facts import BundleFacts
from promote_gate.git import Git
from promote_gate.repo import CommitView
from promote_gate.yamlio import MAX_DOCUMENT_BYTES, DocumentError

MAX_LINEAGE = 1000  # dvc.lock versions read along the checked history


def lineage(scope: Scope, facts: BundleFacts) -> Lineage:
    """Where the candidate's outputs come from in history, and its exploratory paths."""
    history, experiments = _history(scope)
    return Lineage(history, experiments, _exploratory(scope, facts))


def _out_hashes(data: bytes | None) -> set[str]:
    """Every output md5 a dvc.lock records (a broken one records none)."""
    if data is None:
        return set()
    try:
        lock = parse_lock(data)
    except DocumentError:
        return set()
    return {o.md5 for st in lock.stages.values() for o in st.outs if o.md5}


def _lock_at(git: Git, rev: str, path: str = DVC_LOCK) -> bytes | None:
    """A dvc.lock at ``rev`` (None if absent or too large to be a document)."""
    try:
        return git.read_at(rev, path, MAX_DOCUMENT_BYTES)
    except DocumentError:
        return None


def _history(scope: Scope) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Output md5 -> the commits on the checked lineage whose dvc.lock records it; and
    md5 -> the experiment ref (``refs/exps/…``, as ``dvc exp list`` sees them) recording
    it. Computed once."""
    if scope.memo.lineage is not None:
        return scope.memo.lineage
    git = scope.git
    assert git is not None
    lineage: dict[str, set[str]] = {}
    try:
        project = scope.checked_project()
    except DocumentError:
        project = None
    paths = [lock_of(f) for f in project.dvcfiles] if project else [DVC_LOCK]
    commits = []
    if scope.checked_commit:
        out = git.run(
            "log",
            "--full-history",  # lock states from merged side branches are on the lineage too
            "--format=%H",
            "-n",
            str(MAX_LINEAGE),
            scope.checked_commit,
            "--",
            *(git.path(p) for p in paths),
        )
        commits = out.split()
    locks = [(c, _lock_at(git, c, p)) for c in commits for p in paths]
    if not isinstance(scope.view, CommitView) or scope.view.staged:  # not yet committed
        locks += [(scope.view.label, scope.view.read(p)) for p in paths]
    for commit, data in locks:
        for md5 in _out_hashes(data):
            lineage.setdefault(md5, set()).add(commit)
    experiments: dict[str, str] = {}
    for ref in filter(is_experiment, git.refs(NAMESPACE)):
        for md5 in {m for p in paths for m in _out_hashes(_lock_at(git, ref, p))}:
            experiments.setdefault(md5, ref)
    scope.memo.lineage = ({k: frozenset(v) for k, v in lineage.items()}, experiments)
    return scope.memo.lineage


def _exploratory(scope: Scope, facts: BundleFacts) -> tuple[tuple[str, str], ...]:
    """Promoted paths (in the bundle, or where they came from) matching exploratory globs."""
    import pathspec

    paths = [str(e.get("path")) for e in listed(facts)] + [
        str(e["source"].get("path")) for e in listed(facts) if isinstance(e.get("source"), dict)
    ]
    hits = [
        (path, pattern)
        for pattern in scope.config.exploratory
        for spec in [pathspec.GitIgnoreSpec.from_lines([anchored(pattern)])]
        for path in paths
        if spec.match_file(path)
    ]
    return tuple(dict.fromkeys(hits))
