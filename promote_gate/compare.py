"""One comparison of a candidate with its baseline: backs PG404, PG405 and ``promote-gate diff``.

Pure: both sides are built from facts already collected (a bundle's snapshots, or the
pipeline state at a git revision), never from the DVC cache.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.config import Config, MetricPolicy
from promote_gate.dvc.lock import LockFile
from promote_gate.dvc.params import flatten


@dataclass(frozen=True)
class Side:
    """One state being compared: a promoted bundle, or the pipeline at a revision."""

    label: str  # "v1", or "commit 1a2b3c…"
    params: Mapping[str, Mapping[str, Any]]  # params file -> key -> value
    metrics: Mapping[str, Mapping[str, Any]]  # metrics file -> dotted key -> value
    files: Mapping[str, tuple[str, int]]  # bundle path -> (md5, size); empty for a revision
    lock: LockFile | None
    promoted: frozenset[str] = field(default_factory=frozenset)  # pipeline paths promoted
    metric_stages: frozenset[str] = field(default_factory=frozenset)  # stages producing metrics
    # dependencies no stage produces that are code (git-tracked, matching comparability.code)
    code: frozenset[str] = field(default_factory=frozenset)
    excerpt: bool = False  # the lock is a bundle's excerpt (its stages), not a whole dvc.lock


@dataclass(frozen=True)
class MetricDelta:
    file: str
    key: str
    old: Any
    new: Any
    policy: MetricPolicy | None = None

    @property
    def delta(self) -> float | None:
        if _number(self.old) and _number(self.new):
            return float(self.new) - float(self.old)
        return None

    @property
    def regression(self) -> float | None:
        """How far the metric moved against its policy's direction (positive: worse)."""
        if self.policy is None or self.delta is None:
            return None
        worse = -self.delta if self.policy.direction == "higher" else self.delta
        if self.policy.relative:
            return worse / abs(float(self.old)) if float(self.old) else math.inf * (worse > 0)
        return worse

    @property
    def regressed(self) -> bool:
        return self.policy is not None and (self.regression or 0.0) > self.policy.max_regression


@dataclass(frozen=True)
class Comparison:
    baseline: Side
    candidate: Side
    params: tuple[tuple[str, str, Any, Any], ...]  # (file, key, old, new); None: absent
    metrics: tuple[MetricDelta, ...]
    files: tuple[tuple[str, str, tuple[str, int] | None, tuple[str, int] | None], ...]
    not_comparable: tuple[str, ...]
    stages: tuple[tuple[str, str], ...]  # (stage, what changed in its lock entry)
    comparability_stages: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()  # what the verdict compared (the default: source inputs)
    code: tuple[str, ...] = ()  # upstream dependencies it left out as code (the default)
    unexplained: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (stage, outputs changed)

    @property
    def comparable(self) -> bool:
        return not self.not_comparable


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def side_metrics(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f: flatten(e.get("values", {})) for f, e in snapshot.items() if isinstance(e, Mapping)}


def _holders(metrics: Mapping[str, Mapping[str, Any]], policy: MetricPolicy) -> list[str]:
    """The metrics files holding the key a policy names (only its own file, if it names one)."""
    return [
        f for f, values in metrics.items() if policy.applies(f, policy.key) and policy.key in values
    ]


def policy_for(policies: tuple[MetricPolicy, ...], file: str, key: str) -> MetricPolicy | None:
    """The policy judging metric (file, key): one naming the file wins over one that does not."""
    hits = [p for p in policies if p.applies(file, key)]
    return next((p for p in hits if p.file is not None), hits[0] if hits else None)


def _lock_changes(baseline: Side, candidate: Side) -> list[tuple[str, str]]:
    """What changed in the lock entries of the stages the sides share. A stage only one
    side has is added or removed, unless the other side is a whole dvc.lock and this one a
    bundle's excerpt (which holds only the promoted stages and their upstream)."""
    old, new = baseline.lock, candidate.lock
    if old is None or new is None:
        return []
    changes = []
    partial = baseline.excerpt != candidate.excerpt
    for name in sorted(set(old.stages) | set(new.stages)):
        before, after = old.stages.get(name), new.stages.get(name)
        if (before is None or after is None) and partial:
            continue
        if before is None or after is None:
            changes.append((name, "added" if before is None else "removed"))
            continue
        what = []
        if before.cmd != after.cmd:
            what.append("cmd")
        for kind in ("deps", "outs"):
            b = {e.path: e.md5 for e in getattr(before, kind)}
            a = {e.path: e.md5 for e in getattr(after, kind)}
            what += [f"{kind[:-1]} {p}" for p in sorted(set(a) | set(b)) if a.get(p) != b.get(p)]
        if dict(before.params) != dict(after.params):
            what.append("params")
        if what:
            changes.append((name, ", ".join(what)))
    return changes


def unexplained_outputs(
    old: LockFile | None, new: LockFile | None
) -> list[tuple[str, tuple[str, ...]]]:
    """Stages whose outputs changed while their command, dependencies and params did not.

    DVC re-runs a stage only when one of those changed; outputs that moved without a cause
    were recorded without reproducing (``dvc commit -f``, a hand-edited dvc.lock) or by a
    forced re-run: either way the lock no longer explains them.
    """
    if old is None or new is None:
        return []
    found = []
    for name, after in new.stages.items():
        before = old.stages.get(name)
        if before is None or before.cmd != after.cmd or dict(before.params) != dict(after.params):
            continue
        if {d.path: d.md5 for d in before.deps} != {d.path: d.md5 for d in after.deps}:
            continue
        was = {o.path: o.md5 for o in before.outs}
        moved = tuple(o.path for o in after.outs if o.path in was and was[o.path] != o.md5)
        if moved:
            found.append((name, moved))
    return found


def _under(path: str, paths: frozenset[str] | set[str]) -> bool:
    return any(path == p or p.startswith(path + "/") or path.startswith(p + "/") for p in paths)


def source_inputs(
    lock: LockFile, stages: tuple[str, ...], promoted: frozenset[str], code: frozenset[str]
) -> dict[str, tuple[str | None, str]]:
    """The source inputs the ``stages`` (the ones producing metrics) rest on: path -> (md5,
    the stage reading it). Walking upstream through dependencies other stages produce, a
    source input is a dependency no stage produces (data added with ``dvc add``/``dvc
    import``, git-tracked files): all of the metrics stages' own (their evaluation code and
    data), and the data of the stages upstream — not their ``code`` (git-tracked files the
    policy's code patterns match: see ``evidence/comparison.code_inputs``), and nothing
    behind a promoted output, which may change. Intermediate outputs a changed param
    regenerates are not inputs: their sources are."""
    producers = {o.path: name for name, st in lock.stages.items() for o in st.outs}

    def producer(path: str) -> str | None:
        for out, name in producers.items():
            if path == out or path.startswith(out + "/"):
                return name
        return None

    found: dict[str, tuple[str | None, str]] = {}
    todo, seen = [(name, True) for name in stages], set()
    while todo:
        name, own = todo.pop()
        stage = lock.stages.get(name)
        if name in seen or stage is None:
            continue
        seen.add(name)
        for dep in stage.deps:
            if _under(dep.path, promoted):
                continue
            upstream = producer(dep.path)
            if upstream is not None and upstream != name:
                todo.append((upstream, False))
            elif own or dep.path not in code:
                found[dep.path] = (dep.md5, name)
    return found


def _sources_differ(
    baseline: Side, candidate: Side, stages: tuple[str, ...]
) -> tuple[list[str], tuple[str, ...]]:
    """The default verdict: the metrics stages' commands and their source inputs."""
    problems: list[str] = []
    promoted = baseline.promoted | candidate.promoted
    if baseline.lock is None or candidate.lock is None:
        return problems, ()
    for name in stages:
        old, new = baseline.lock.stages.get(name), candidate.lock.stages.get(name)
        if old is not None and new is not None and old.cmd != new.cmd:
            problems.append(f"stage {name}: command differs ({old.cmd!r} vs {new.cmd!r})")
    before = source_inputs(baseline.lock, stages, promoted, baseline.code)
    after = source_inputs(candidate.lock, stages, promoted, candidate.code)
    for path in sorted(set(before) | set(after)):
        was, now = before.get(path, (None, "")), after.get(path, (None, ""))
        if was[0] != now[0]:
            problems.append(
                f"evaluation input {path} (read by stage {now[1] or was[1]}) differs "
                f"({was[0]} in {baseline.label}, {now[0]} in {candidate.label})"
            )
    return problems, tuple(sorted(set(before) | set(after)))


def upstream_code(side: Side, stages: tuple[str, ...], promoted: frozenset[str]) -> set[str]:
    """The upstream dependencies the default verdict leaves out of ``side`` as code."""
    if side.lock is None:
        return set()
    every = source_inputs(side.lock, stages, promoted, frozenset())
    return set(every) - set(source_inputs(side.lock, stages, promoted, side.code))


def _not_comparable(
    baseline: Side,
    candidate: Side,
    stages: tuple[str, ...],
    policies: tuple[MetricPolicy, ...],
    explicit: bool = True,
) -> list[str]:
    problems: list[str] = []
    promoted = baseline.promoted | candidate.promoted
    for name in stages:
        old = baseline.lock.stages.get(name) if baseline.lock else None
        new = candidate.lock.stages.get(name) if candidate.lock else None
        if old is None or new is None:
            where = baseline.label if old is None else candidate.label
            problems.append(f"comparability stage {name} is not in the lock evidence of {where}")
            continue
        if not explicit:
            continue
        if old.cmd != new.cmd:
            problems.append(f"stage {name}: command differs ({old.cmd!r} vs {new.cmd!r})")
        before = {d.path: d.md5 for d in old.deps}
        after = {d.path: d.md5 for d in new.deps}
        for path in sorted(set(before) | set(after)):
            if _under(path, promoted):
                continue  # the promoted output itself is what is allowed to change
            if before.get(path) != after.get(path):
                problems.append(
                    f"stage {name}: dependency {path} differs "
                    f"({before.get(path)} in {baseline.label}, {after.get(path)} in {candidate.label})"
                )
    # a metric is (file, key): the same name in another file is another metric
    for policy in policies:
        holders = [(side, _holders(side.metrics, policy)) for side in (baseline, candidate)]
        for side, files in holders:
            if not files:
                problems.append(f"metric {policy.name} (has a policy) is missing in {side.label}")
            elif len(files) > 1:
                problems.append(
                    f"metric {policy.key} is in {', '.join(files)} in {side.label}: name the file "
                    f"in the policy ('{files[0]}:{policy.key}')"
                )
            elif not _number(side.metrics[files[0]][policy.key]):
                value = side.metrics[files[0]][policy.key]
                problems.append(f"metric {policy.name} is {value!r} in {side.label}, not a number")
        was_in, now_in = holders[0][1], holders[1][1]
        if len(was_in) == 1 and len(now_in) == 1 and was_in != now_in:
            problems.append(
                f"metric {policy.key} comes from {was_in[0]} in {baseline.label} but from "
                f"{now_in[0]} in {candidate.label}: not the same metric"
            )
    return problems


def compare(baseline: Side, candidate: Side, config: Config) -> Comparison:
    params = []
    for fname in sorted(set(baseline.params) | set(candidate.params)):
        old, new = flatten(baseline.params.get(fname, {})), flatten(candidate.params.get(fname, {}))
        params += [
            (fname, key, old.get(key), new.get(key))
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        ]
    metrics = []
    for fname in sorted(set(baseline.metrics) | set(candidate.metrics)):
        before, after = baseline.metrics.get(fname, {}), candidate.metrics.get(fname, {})
        metrics += [
            MetricDelta(
                fname, key, before.get(key), after.get(key), policy_for(config.metrics, fname, key)
            )
            for key in sorted(set(before) | set(after))
        ]
    files = [
        (status, path, baseline.files.get(path), candidate.files.get(path))
        for path in sorted(set(baseline.files) | set(candidate.files))
        for status in [
            "added"
            if path not in baseline.files
            else "removed"
            if path not in candidate.files
            else "changed"
            if baseline.files[path] != candidate.files[path]
            else ""
        ]
        if status
    ]
    stages = config.comparability_stages
    explicit = stages is not None
    inputs: tuple[str, ...] = ()
    code: set[str] = set()
    if stages is None:  # the default: what the evaluation rests on, at its sources
        stages = tuple(sorted(candidate.metric_stages | baseline.metric_stages))
    problems = _not_comparable(baseline, candidate, stages, config.metrics, explicit)
    if not explicit:
        extra, inputs = _sources_differ(baseline, candidate, stages)
        problems[:0] = extra
        promoted = baseline.promoted | candidate.promoted
        code = upstream_code(baseline, stages, promoted) | upstream_code(
            candidate, stages, promoted
        )
    return Comparison(
        baseline=baseline,
        candidate=candidate,
        params=tuple(params),
        metrics=tuple(metrics),
        files=tuple(files),
        not_comparable=tuple(problems),
        stages=tuple(_lock_changes(baseline, candidate)),
        comparability_stages=stages,
        inputs=inputs,
        code=tuple(sorted(code)),
        unexplained=tuple(unexplained_outputs(baseline.lock, candidate.lock)),
    )
