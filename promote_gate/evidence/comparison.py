"""The comparison of a candidate with its baseline (the previous version, a named bundle or
a git revision) and with the newest released version: what PG206, PG404 and PG405 judge."""

from __future__ import annotations

from typing import Any

from promote_gate.bundle import list_bundles
from promote_gate.compare import Comparison, Side, compare, side_metrics
from promote_gate.config import Config
from promote_gate.dvc.lock import LockFile, project_lock
from promote_gate.dvc.params import flatten, read_metrics_file
from promote_gate.dvc.parsing import parse_project
from promote_gate.errors import GateError
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.records import Comparisons
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts
from promote_gate.objects import ObjectStore
from promote_gate.repo import CommitView, View


def comparisons(scope: Scope, facts: BundleFacts) -> Comparisons:
    """The candidate against its baseline, and against the newest released version when
    the baseline is not it (a chain of new versions must not add up regressions)."""
    primary, note = _baseline(scope, facts)
    return Comparisons(primary, note, _released(scope, facts, primary))


def code_inputs(
    lock: LockFile | None, view: View | None, patterns: tuple[str, ...]
) -> frozenset[str]:
    """The dependencies in ``lock`` no stage produces that are code, as git recorded them
    in ``view`` (a commit): tracked by git (a file, or a directory whose every file is) and
    matched by the ``comparability.code`` patterns. Every other one is data: DVC-tracked
    ones always (a ``.dvc`` pointer covers them: ``dvc add``, ``dvc import``,
    ``import-url``), whatever their name; without a commit to ask, none is code."""
    if lock is None or view is None:
        return frozenset()
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    produced = {o.path for stage in lock.stages.values() for o in stage.outs}
    found = set()
    for path in {d.path for stage in lock.stages.values() for d in stage.deps} - produced:
        parts = path.split("/")
        if any(view.present("/".join(parts[:n]) + ".dvc") for n in range(1, len(parts) + 1)):
            continue
        entry = view.entry(path)
        files = [path] if entry is not None else [e.path for e in view.files_under(path)]
        if any(f.endswith(".dvc") for f in files):  # a directory holding DVC-tracked data
            continue
        if files and all(spec.match_file(f) for f in files):
            found.add(path)
    return frozenset(found)


def _source_view(scope: Scope, facts: BundleFacts) -> CommitView | None:
    """The commit a bundle was promoted from (``source.commit``), where this repository has
    it: its tree listed once per run. None too where only an explicit ``comparability.stages``
    verdict is given, which reads no code (:func:`code_inputs` then finds none)."""
    source = facts.manifest_value.get("source")
    commit = source.get("commit") if isinstance(source, dict) else None
    if scope.git is None or not isinstance(commit, str):
        return None
    if scope.config.comparability_stages is not None:
        return None
    resolved = scope.git.resolve(commit)
    if resolved is None:
        return None
    if resolved not in scope.memo.trees:
        scope.memo.trees[resolved] = CommitView(scope.git, resolved)
    return scope.memo.trees[resolved]


def side_of_bundle(facts: BundleFacts, scope: Scope) -> Side:
    """A promoted bundle as one side of a comparison (its snapshots, never the cache), its
    code told by the commit it was promoted from."""
    params = facts.docs["params"].value
    metrics = facts.docs["metrics"].value
    lock = facts.docs["lock"].value
    files = facts.manifest_value.get("files")
    entries = [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
    return Side(
        label=facts.name,
        params=params if isinstance(params, dict) else {},
        metrics=side_metrics(metrics) if isinstance(metrics, dict) else {},
        files={
            str(f.get("path")): (
                str(f.get("md5")),
                f["size"] if isinstance(f.get("size"), int) else -1,
            )
            for f in entries
        },
        lock=lock if isinstance(lock, LockFile) else None,
        excerpt=True,
        code=code_inputs(
            lock if isinstance(lock, LockFile) else None,
            _source_view(scope, facts),
            scope.config.comparability_code,
        ),
        promoted=frozenset(
            str(f["source"].get("path")) for f in entries if isinstance(f.get("source"), dict)
        ),
        metric_stages=frozenset(
            str(e.get("stage")) for e in metrics.values() if isinstance(e, dict) and e.get("stage")
        )
        if isinstance(metrics, dict)
        else frozenset(),
    )


def side_of_revision(view: CommitView, store: ObjectStore, config: Config) -> Side:
    """The pipeline state at a revision: dvc.lock, its params, and the metrics files it declares."""
    project = parse_project(view)
    lock = project_lock(view.read, project, f" at {str(view.commit)[:12]}")[0] if project else None
    if project is None or lock is None:
        raise GateError(f"there is no dvc.yaml and dvc.lock in the {view.label} to compare with")
    params: dict[str, dict[str, Any]] = {}
    for stage in lock.stages.values():
        for pfile, values in stage.params.items():
            params.setdefault(pfile, {}).update(values)
    metrics: dict[str, dict[str, Any]] = {}
    stages = set()
    for path in project.metrics:
        hit = lock.producer(path)
        data = view.read(path)
        if data is None and hit is not None and hit[1].md5 and hit[1].path == path:
            data = store.document(hit[1].md5)
        if data is None:
            continue
        metrics[path] = flatten(read_metrics_file(data, path))
        if hit is not None:
            stages.add(hit[0].name)
    code = code_inputs(
        lock, view if config.comparability_stages is None else None, config.comparability_code
    )
    return Side(view.label, params, metrics, {}, lock, frozenset(), frozenset(stages), code)


def _baseline(scope: Scope, facts: BundleFacts) -> tuple[Comparison | None, str | None]:
    """The comparison with the configured baseline, or why there is none."""
    baseline = scope.config.baseline
    names = list_bundles(scope.view, scope.config)
    if baseline == "previous":
        older = [
            n
            for n in names
            if (scope.config.version_number(n) or 0) < (facts.version or 0)
            and scope.config.version_number(n) is not None
        ]
        if not older:
            return None, "no earlier promoted version to compare with"
        baseline = max(older, key=lambda n: scope.config.version_number(n) or 0)
    return _compare_with(scope, facts, baseline, names), None


def _released(scope: Scope, facts: BundleFacts, primary: Comparison | None) -> Comparison | None:
    """The comparison with the newest released version, when the baseline is not it."""
    released = [
        n
        for n in scope.released
        if (scope.config.version_number(n) or 0) < (facts.version or 0)
        and scope.config.version_number(n) is not None
    ]
    if not released or primary is None:
        return None
    newest = max(released, key=lambda n: scope.config.version_number(n) or 0)
    if primary.baseline.label == newest:
        return None
    return _compare_with(scope, facts, newest, list_bundles(scope.view, scope.config))


def _compare_with(scope: Scope, facts: BundleFacts, baseline: str, names: list[str]) -> Comparison:
    if baseline in names:
        other = read_bundle(scope, baseline, f"{scope.config.publish_root}/{baseline}")
        side = side_of_bundle(other, scope)
    else:
        assert scope.git is not None
        commit = scope.git.resolve(baseline)
        if commit is None:
            raise GateError(f"baseline {baseline!r} is neither a bundle nor a git revision here")
        side = side_of_revision(CommitView(scope.git, commit), scope.store, scope.config)
    return compare(side, side_of_bundle(facts, scope), scope.config)
