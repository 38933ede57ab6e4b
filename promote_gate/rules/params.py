"""PG3xx: the params that define the result are recorded, and the report states them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from promote_gate.bundle import hidden_tables, parse_report, table_rows
from promote_gate.facts import BundleFacts, Doc
from promote_gate.rules.base import Finding, NotApplicable, Outcome, Rule
from promote_gate.rules.provenance import excerpt, excerpt_gaps
from promote_gate.yamlio import DocumentError


def snapshot(doc: Doc) -> dict[str, dict[str, Any]] | None:
    """A params/metrics-shaped snapshot ``{file: {key: value}}``, or None if it is not one."""
    value = doc.value
    if not doc.ok or not isinstance(value, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, dict) for k, v in value.items()):
        return None
    return value


def diff_keys(
    expected: Mapping[str, Mapping[str, Any]], found: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Human lines naming each ``file:key`` whose value differs, is missing or is extra."""
    return [text for _key, text in diff_items(expected, found)]


def diff_items(
    expected: Mapping[str, Mapping[str, Any]], found: Mapping[str, Mapping[str, Any]]
) -> list[tuple[tuple[str, str], str]]:
    """As :func:`diff_keys`, each line with its ``(file, dotted key)``."""
    want, have = table_rows(expected), table_rows(found)
    lines = []
    for key in sorted(set(want) | set(have)):
        name = f"{key[0]}:{key[1]}"
        if key not in have:
            lines.append((key, f"{name} missing (expected {want[key]})"))
        elif key not in want:
            lines.append((key, f"{name} not expected (found {have[key]})"))
        elif want[key] != have[key]:
            lines.append((key, f"{name} is {have[key]}, expected {want[key]}"))
    return lines


def key_path(values: Any, dotted: str) -> tuple[str, ...]:
    """Where the flattened key ``dotted`` is in ``values`` as written: itself where the
    mapping has it whole (a snapshot written flat), else split at its dots (nested)."""
    return (dotted,) if isinstance(values, dict) and dotted in values else tuple(dotted.split("."))


def report_claims(
    facts: BundleFacts, block: str, expected: Mapping[str, Mapping[str, Any]]
) -> Iterator[Outcome]:
    """The report's front matter and its marked table must both state ``expected``. A report
    that is missing or cannot be read is one defect: PG304's (the params block's)."""
    doc = facts.docs["report"]
    where = facts.repo_path(doc.name)
    whole = block == "params"  # who reports a report that cannot be read at all
    if not doc.ok or not isinstance(doc.value, str):
        if whole:
            yield Finding(where, doc.error or "the bundle has no report")
        else:
            yield NotApplicable("report.md is missing or cannot be read (PG304)")
        return
    try:
        front, tables, lines = parse_report(doc.value)
    except DocumentError as exc:
        if whole:
            yield Finding(where, f"front matter cannot be read: {exc}", line=2)
        else:
            yield NotApplicable("report.md's front matter cannot be read (PG304)")
        return
    at = lines.get(block, {})
    stated = (front or {}).get(block)
    if not isinstance(stated, dict) or not all(isinstance(v, dict) for v in stated.values()):
        yield Finding(where, f"the report's front matter states no {block}", line=1)
    else:
        front_line = _front_line(doc.value, block)
        for problem in diff_keys(expected, stated):
            yield Finding(where, f"front matter {block}: {problem}", line=front_line)
    for problem in hidden_tables(doc.value)[block]:
        yield Finding(where, f"what a reader sees is not what is checked: {problem}")
    rows = tables.get(block)
    if rows is None:
        yield Finding(
            where,
            f"the report needs exactly one {block} table (<!-- promote-gate:{block} --> block)",
            line=at.get(("", "")),
        )
        return
    want = table_rows(expected)
    for key in sorted(set(want) | set(rows)):
        name = f"{key[0]}:{key[1]}"
        line = at.get(key, at.get(("", "")))
        if key not in rows:
            yield Finding(where, f"{block} table omits {name}", want[key], "(no row)", line)
        elif key not in want:
            yield Finding(
                where,
                f"{block} table states {name}, which the snapshot does not have",
                "(no row)",
                rows[key],
                line,
            )
        elif rows[key] != want[key]:
            yield Finding(
                where, f"{block} table states {name} = {rows[key]}", want[key], rows[key], line
            )


def _front_line(text: str, block: str) -> int | None:
    """The line of the front matter's ``params:``/``metrics:`` key."""
    normalised = text.replace("\r\n", "\n")
    match = re.search(rf"(?m)^{block}:", normalised)
    return normalised[: match.start()].count("\n") + 1 if match else None


def _params_snapshot_missing(facts: BundleFacts) -> Iterator[Outcome]:
    doc = facts.docs["params"]
    where = facts.repo_path(doc.name)
    if not doc.present:
        yield Finding(where, "the bundle has no params snapshot")
    elif doc.error:
        yield Finding(where, doc.error)
    elif snapshot(doc) is None:
        yield Finding(where, "the params snapshot must map each params file to its values")


def recorded_params(facts: BundleFacts) -> dict[str, dict[str, Any]] | None:
    """The params lock.yaml records for the excerpt's stages, as promote snapshots them."""
    lock = excerpt(facts)
    if lock is None:
        return None
    recorded: dict[str, dict[str, Any]] = {}
    for stage in lock.stages.values():
        for pfile, values in stage.params.items():
            recorded.setdefault(pfile, {}).update(values)
    return recorded


def _params_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    snap, recorded = snapshot(facts.docs["params"]), recorded_params(facts)
    if snap is None or recorded is None:
        return  # PG301 / PG202 say why
    if excerpt_gaps(facts):
        yield NotApplicable("the lock excerpt leaves out upstream stages (PG202)")
        return
    where = facts.repo_path(facts.docs["params"].name)
    for (pfile, key), text in diff_items(recorded, snap):
        yield Finding(
            where,
            f"differs from lock.yaml: {text}",
            key=(pfile, *key_path(snap.get(pfile), key)),
        )


def _report_params_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    # what the report must state is what lock.yaml records (a wrong snapshot is PG302's)
    truth = recorded_params(facts) if not excerpt_gaps(facts) else None
    truth = truth if truth is not None else snapshot(facts.docs["params"])
    if truth is not None:
        yield from report_claims(facts, "params", truth)


RULES = (
    Rule(
        code="PG301",
        name="params-snapshot-missing",
        summary="the bundle has no params snapshot, or it cannot be parsed",
        rationale="Without the params, nobody can say which configuration produced the release.",
        fix="Re-create the bundle with `promote-gate promote`.",
        example="publish/v1/params.yaml was deleted.",
        check=_params_snapshot_missing,
        needs_repo=False,
    ),
    Rule(
        code="PG302",
        name="params-mismatch",
        summary="the params snapshot differs from the params recorded in lock.yaml",
        rationale="The release would claim a configuration other than the one that produced it.",
        fix="Do not edit snapshots; re-promote from the reproduced pipeline.",
        example="params.yaml in the bundle says train.lr 0.2; lock.yaml recorded 0.1.",
        check=_params_mismatch,
        needs_repo=False,
    ),
    Rule(
        code="PG304",
        name="report-params-mismatch",
        summary="the report states params that differ from the snapshot, or states none",
        rationale="Reviewers read the report; a report left over from another run, or edited by "
        "hand, makes them approve something else.",
        fix="Regenerate the bundle with `promote-gate promote`; write prose outside the marked tables.",
        example="report.md's params table says lr 0.05 while the snapshot says 0.1.",
        check=_report_params_mismatch,
        needs_repo=False,
    ),
)
