"""The review of a promotion (``promote-gate diff``): text, markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from promote_gate.compare import Comparison, MetricDelta
from promote_gate.reporters.markdown_escape import code, escape


def _value(value: Any, limit: int = 60) -> str:
    """A param or metric value in a table cell, at most ``limit`` characters (``--format
    json`` has it whole)."""
    text = "—" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _verdict(delta: MetricDelta) -> str:
    policy = delta.policy
    if policy is None:
        return ""
    bound = f"{policy.max_regression:g}" + (" rel." if policy.relative else "")
    return (
        f"{'REGRESSED' if delta.regressed else 'ok'} ({policy.direction} is better, ≤{bound} worse)"
    )


def _delta(delta: MetricDelta) -> str:
    return "" if delta.delta is None else f"{delta.delta:+.6g}"


def _size(entry: tuple[str, int] | None) -> str:
    return "—" if entry is None else f"{entry[0][:12]}… ({entry[1]} B)"


def _sections(c: Comparison) -> dict[str, list[list[str]]]:
    return {
        "params": [[f, k, _value(o), _value(n)] for f, k, o, n in c.params],
        "metrics": [
            [d.file, d.key, _value(d.old), _value(d.new), _delta(d), _verdict(d)] for d in c.metrics
        ],
        "files": [[s, p, _size(o), _size(n)] for s, p, o, n in c.files],
        "stages": [[s, what] for s, what in c.stages],
    }


_HEADERS = {
    "params": ["file", "param", "before", "after"],
    "metrics": ["file", "metric", "before", "after", "delta", "policy"],
    "files": ["change", "path", "before", "after"],
    "stages": ["stage", "changed in dvc.lock"],
}
_TITLES = {
    "params": "Params changed",
    "metrics": "Metrics",
    "files": "Files",
    "stages": "Lock stages whose hashes changed",
}


def _comparability(c: Comparison, value: Callable[[str], str] = str) -> list[str]:
    """The verdict with its reasons: what was compared, and what differs (each name and
    reason from the repository through ``value``)."""
    if not c.comparability_stages and c.comparable:
        return ["Comparable: not judged: no stage of either side produces metrics"]
    stages = ", ".join(value(s) for s in c.comparability_stages) or "none"
    if c.inputs:
        basis = (
            f"the evaluation's source inputs ({', '.join(value(i) for i in c.inputs)}) and the "
            f"commands of stages {stages}"
        )
    else:
        basis = f"the dependencies and commands of stages {stages}"
    code = (
        [f"  - treated as code, not compared: {', '.join(value(p) for p in c.code)}"]
        if c.code
        else []
    )
    if c.comparable:
        return [f"Comparable: yes: {basis} are identical", *code]
    return [
        f"Comparable: NO: compared {basis}",
        *(f"  - {value(p)}" for p in c.not_comparable),
        *code,
    ]


def text(c: Comparison) -> str:
    lines = [f"promote-gate diff {c.baseline.label} -> {c.candidate.label}", ""]
    lines += _comparability(c)
    for key, rows in _sections(c).items():
        lines += ["", f"{_TITLES[key]}:"]
        if not rows:
            lines.append("  (none)")
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(_HEADERS[key])]
        if rows:
            lines.append(
                "  " + "  ".join(h.ljust(w) for h, w in zip(_HEADERS[key], widths, strict=True))
            )
            lines += [
                "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows
            ]
    return "\n".join(lines).rstrip() + "\n"


def markdown(c: Comparison) -> str:
    lines = [f"## Promotion review: {code(c.baseline.label)} → {code(c.candidate.label)}", ""]
    lines += [
        "- " + line[4:] if line.startswith("  - ") else line for line in _comparability(c, escape)
    ]
    for key, rows in _sections(c).items():
        lines += ["", f"### {_TITLES[key]}", ""]
        if not rows:
            lines.append("_none_")
            continue
        lines.append("| " + " | ".join(_HEADERS[key]) + " |")
        lines.append("|" + "---|" * len(_HEADERS[key]))
        lines += ["| " + " | ".join(escape(cell) for cell in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def as_json(c: Comparison) -> str:
    doc = {
        "format": "promote-gate/diff/1",
        "baseline": c.baseline.label,
        "candidate": c.candidate.label,
        "comparable": c.comparable,
        "not_comparable": list(c.not_comparable),
        "comparability_stages": list(c.comparability_stages),
        "comparability_inputs": list(c.inputs),
        "comparability_code": list(c.code),
        "params": [{"file": f, "key": k, "before": o, "after": n} for f, k, o, n in c.params],
        "metrics": [
            {
                "file": d.file,
                "key": d.key,
                "before": d.old,
                "after": d.new,
                "delta": d.delta,
                "policy": None
                if d.policy is None
                else {
                    "direction": d.policy.direction,
                    "max_regression": d.policy.max_regression,
                    "relative": d.policy.relative,
                },
                "regressed": d.regressed if d.policy else None,
            }
            for d in c.metrics
        ],
        "files": [
            {"change": s, "path": p, "before": o and list(o), "after": n and list(n)}
            for s, p, o, n in c.files
        ],
        "stages": [{"stage": s, "changed": w} for s, w in c.stages],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"
