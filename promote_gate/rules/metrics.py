"""PG4xx: the metrics of the promoted state are recorded, and the report states them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from promote_gate.compare import Comparison
from promote_gate.dvc.params import flatten, read_metrics_file
from promote_gate.facts import BundleFacts
from promote_gate.rules.base import (
    Finding,
    NotApplicable,
    Outcome,
    Rule,
    Unverified,
    provides,
)
from promote_gate.rules.params import diff_items, key_path, report_claims
from promote_gate.rules.provenance import excerpt
from promote_gate.yamlio import DocumentError


def metrics_snapshot(facts: BundleFacts) -> dict[str, dict[str, Any]] | None:
    """``{metrics file: {"md5", "stage", "values"}}``, or None when it is not that shape
    (``{}``: the bundle records no metrics, as for a dataset release)."""
    doc = facts.docs["metrics"]
    value = doc.value
    if not doc.ok or not isinstance(value, dict):
        return None
    for entry in value.values():
        if not isinstance(entry, dict) or not isinstance(entry.get("md5"), str):
            return None
        if not isinstance(entry.get("values"), dict):
            return None
    return value


def metric_values(facts: BundleFacts) -> dict[str, dict[str, Any]] | None:
    snap = metrics_snapshot(facts)
    return None if snap is None else {f: flatten(e["values"]) for f, e in snap.items()}


def _metrics_snapshot_missing(facts: BundleFacts) -> Iterator[Outcome]:
    doc = facts.docs["metrics"]
    where = facts.repo_path(doc.name)
    if not doc.present:
        yield Finding(where, "the bundle has no metrics snapshot")
    elif doc.error:
        yield Finding(where, doc.error)
    elif metrics_snapshot(facts) is None:
        yield Finding(where, 'the metrics snapshot must map each metrics file to {"md5", "values"}')
    elif not metrics_snapshot(facts) and facts.require_metrics:
        yield Finding(where, "the bundle records no metrics, and the policy sets require_metrics")


def _metrics_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    snap, lock, repo = metrics_snapshot(facts), excerpt(facts), facts.repo
    if snap is None or lock is None or repo is None:
        return
    where = facts.repo_path(facts.docs["metrics"].name)
    # every metrics file the pipeline declares at source.commit (and dvc.lock produces) is
    # part of the result: a snapshot that leaves one out hides it from every comparison
    if repo.declared_metrics is not None:
        for path in repo.declared_metrics:
            if path not in snap:
                yield Finding(
                    where,
                    f"leaves out {path}, which dvc.yaml at source.commit declares as metrics",
                )
    elif repo.declared_error and repo.source_known:
        yield Unverified(
            where, f"cannot tell which metrics the pipeline declares: {repo.declared_error}"
        )
    for path, entry in snap.items():
        hit = lock.producer(path)
        if hit is None:
            yield Finding(
                where, f"{path} is not an output of any stage in lock.yaml", key=(path, "stage")
            )
            continue
        stage, out = hit
        expected: str | None = out.md5
        if out.path != path and out.md5 is not None:
            listing = repo.dir_listings.get(out.md5)
            if listing is None:
                yield Unverified(
                    where,
                    f"{path} is inside {out.path}, whose .dir listing is not readable here",
                    provides(facts, out.path, "fetch"),
                )
                continue
            expected = listing.get(path[len(out.path) + 1 :])
        if expected != entry["md5"]:
            yield Finding(
                where,
                f"md5 of {path} differs from stage {stage.name} in lock.yaml",
                str(expected),
                entry["md5"],
                key=(path, "md5"),
            )
            continue
        recorded = repo.content.get(path)
        if recorded is not None and recorded.conflict:
            yield Finding(
                where,
                f"{recorded.conflict}: dvc.lock does not describe its own metrics",
                key=(path, "md5"),
            )
            continue
        content = recorded.data if recorded is not None else None
        if content is None:
            reason = recorded.reason if recorded is not None else f"content of {path} is not here"
            yield Unverified(
                where,
                f"{reason}: values not compared",
                recorded.command if recorded is not None else None,
            )
            continue
        try:
            actual = read_metrics_file(content, path)
        except DocumentError as exc:
            yield Finding(where, f"{path} as recorded cannot be read: {exc}", key=(path,))
            continue
        for (_, key), text in diff_items({path: flatten(actual)}, {path: flatten(entry["values"])}):
            yield Finding(
                where,
                f"differs from {path} as recorded: {text}",
                key=metric_key(facts, path, key),
            )


def metric_key(facts: BundleFacts, file: str, dotted: str) -> tuple[str, ...]:
    """Where metric ``dotted`` of ``file`` is in the metrics snapshot (its key path)."""
    entry = (metrics_snapshot(facts) or {}).get(file)
    values = entry.get("values") if isinstance(entry, dict) else None
    return (file, "values", *key_path(values, dotted))


def recorded_metrics(facts: BundleFacts) -> dict[str, dict[str, Any]] | None:
    """Each snapshot metrics file's values as the promoted state recorded them (read from
    git or a verified DVC object), or None unless every one of them could be read."""
    snap, repo = metrics_snapshot(facts), facts.repo
    if snap is None or repo is None:
        return None
    values: dict[str, dict[str, Any]] = {}
    for path in snap:
        recorded = repo.content.get(path)
        if recorded is None or recorded.data is None:
            return None
        try:
            values[path] = flatten(read_metrics_file(recorded.data, path))
        except DocumentError:
            return None
    return values


def _report_metrics_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    # what the report must state is what was measured (a wrong snapshot is PG402's)
    values = recorded_metrics(facts) or metric_values(facts)
    if values is not None:
        yield from report_claims(facts, "metrics", values)


def _comparison(facts: BundleFacts) -> Comparison | NotApplicable:
    """The comparison with the baseline, or why there is none (a first version)."""
    repo = facts.repo
    if repo is None or repo.comparison is None:
        return NotApplicable(
            (repo.comparison_note if repo else None) or "no baseline to compare with"
        )
    return repo.comparison


def _comparisons(facts: BundleFacts) -> list[Comparison]:
    """The baseline comparison and, for a chain of new versions, the one with the newest
    released version too: each must hold on its own."""
    repo = facts.repo
    return [c for c in (repo.comparison, repo.release_comparison) if c] if repo else []


def _not_comparable(facts: BundleFacts) -> Iterator[Outcome]:
    comparison = _comparison(facts)
    where = facts.repo_path(facts.docs["metrics"].name)
    if isinstance(comparison, NotApplicable):
        yield comparison
        return
    for each in _comparisons(facts):
        key = _evaluated(facts, each.comparability_stages)
        for problem in each.not_comparable:
            yield Finding(where, f"not comparable with {each.baseline.label}: {problem}", key=key)


def _evaluated(facts: BundleFacts, stages: tuple[str, ...]) -> tuple[str, ...] | None:
    """The metrics a comparison judges, as the snapshot lists them: the first metrics file
    a comparability stage produced (else the first one)."""
    snap = metrics_snapshot(facts) or {}
    files = [f for f, e in snap.items() if e.get("stage") in stages] or list(snap)
    return (files[0],) if files else None


def _regression(facts: BundleFacts) -> Iterator[Outcome]:
    comparison = _comparison(facts)
    where = facts.repo_path(facts.docs["metrics"].name)
    if isinstance(comparison, NotApplicable):
        yield comparison
        return
    judged = [c for c in _comparisons(facts) if c.comparable]
    if not judged:  # PG404's finding: nothing to judge here
        yield NotApplicable(
            f"the metrics are not comparable with {comparison.baseline.label} (PG404)"
        )
        return
    for each in judged:
        for delta in each.metrics:
            policy = delta.policy
            if policy is None or not delta.regressed:
                continue
            bound = f"{policy.max_regression:g}" + (" relative" if policy.relative else "")
            yield Finding(
                where,
                f"{delta.key} ({delta.file}) regressed vs {each.baseline.label}: "
                f"{delta.old} -> {delta.new} (delta {delta.delta:+.6g}; {policy.direction} is "
                f"better, allowed regression {bound})",
                expected=f"at most {bound} worse than {delta.old}",
                found=str(delta.new),
                key=metric_key(facts, delta.file, delta.key),
            )


RULES = (
    Rule(
        code="PG401",
        name="metrics-snapshot-missing",
        summary="the bundle has no metrics snapshot, or it cannot be parsed, or it records no "
        "metrics while the policy sets `require_metrics`",
        rationale="A release without its metrics cannot be compared with the one before it.",
        fix="Declare metrics in dvc.yaml (stage `metrics:` or top-level `metrics:`), reproduce, "
        "and promote again.",
        example="publish/v1/metrics.json is not JSON.",
        check=_metrics_snapshot_missing,
        needs_repo=False,
    ),
    Rule(
        code="PG402",
        name="metrics-mismatch",
        summary="the metrics snapshot differs from the metrics output recorded in lock.yaml "
        "(md5) or from its values (git-tracked ones as committed at source.commit), or leaves out "
        "a metrics file dvc.yaml declares",
        rationale="Metrics copied from another run, or typed in, make the release look better or "
        "worse than it is.",
        fix="Do not edit snapshots; re-promote from the reproduced pipeline.",
        example="metrics.json says acc 0.99 while eval/metrics.json at source.commit says 0.91.",
        check=_metrics_mismatch,
        evidence=frozenset({"content"}),
    ),
    Rule(
        code="PG403",
        name="report-metrics-mismatch",
        summary="the report states metrics that differ from the snapshot, or states none",
        rationale="Reviewers approve what the report says; it must say what was measured.",
        fix="Regenerate the bundle with `promote-gate promote`; write prose outside the marked tables.",
        example="report.md's metrics table says acc 0.95 while the snapshot says 0.91.",
        check=_report_metrics_mismatch,
        needs_repo=False,
        evidence=frozenset({"content"}),
    ),
    Rule(
        code="PG404",
        name="metrics-not-comparable",
        summary="the candidate and its baseline disagree on a comparability stage's dependencies "
        "(other than promoted files) or command, or on the metric keys a policy names",
        rationale="A metric diff between runs evaluated on different data or code compares "
        "different things; any improvement or regression it shows means nothing.",
        fix="Evaluate both states on the same data and code (re-run the baseline's evaluation, or "
        "set `baseline:` to a comparable state); change the eval data in a release of its own.",
        example="the evaluate stage's data/prepared differs because the split param changed.",
        check=_not_comparable,
        candidates_only=True,
        evidence=frozenset({"comparison"}),
    ),
    Rule(
        code="PG405",
        name="metric-regression",
        summary="a metric with a policy moved against its direction by more than allowed, "
        "vs the baseline",
        rationale="Releasing a model that is worse than the one consumers have, without anyone "
        "deciding so, is the regression a release gate exists to stop.",
        fix="Improve the model, or, if the trade-off is intended, relax the policy in "
        "`.promote-gate.yaml` in a reviewed change of its own.",
        example="acc fell from 0.91 to 0.85 with `acc: {direction: higher, max_regression: 0.01}`.",
        check=_regression,
        candidates_only=True,
        evidence=frozenset({"comparison"}),
    ),
)
