"""Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promote_gate.dvc.params import flatten
from promote_gate.report import BundleReport, Report
from promote_gate.reporters.markdown_escape import code, escape
from promote_gate.rules.metrics import metric_values
from promote_gate.rules.params import snapshot

__all__ = ["escape", "render"]  # escape: the one escaper, for callers that hold this module

_VERDICT = {0: "passed", 1: "failed", 2: "could not evaluate"}
_ICON = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "error": "⚠️"}


def _rows(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A params/metrics table's rows: file, key and value (as JSON), each escaped. Not the
    bundle report's cells (``bundle.table_rows``): those are a released format rules re-read."""
    rows = []
    for fname, inner in values.items():
        for key, value in flatten(inner).items():
            shown = json.dumps(value, sort_keys=True, ensure_ascii=False)
            rows.append(f"| {code(fname)} | {code(key)} | {escape(shown)} |")
    return rows


def _bundle(bundle: BundleReport) -> list[str]:
    counts = {s: sum(r.status == s for r in bundle.results) for s in _ICON}
    status = "FAIL" if counts["failed"] else ("ERROR" if counts["error"] else "ok")
    lines = [
        f"### {code(bundle.path or bundle.name)}: {status}",
        "",
        f"Rules: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
        + (f", {counts['error']} could not run" if counts["error"] else ""),
        "",
    ]
    problems = [r for r in bundle.results if r.status in {"failed", "error"}]
    if problems:
        lines += ["| rule | file | problem | fix |", "|---|---|---|---|"]
        for result in problems:
            for finding in result.findings or ():
                lines.append(
                    f"| {_ICON[result.status]} {result.rule.title} "
                    f"| {code(bundle.where(finding))} "
                    f"| {escape(finding.described)} | {escape(result.rule.fix)} |"
                )
            if result.status == "error":  # on the file JUnit, Code Quality and SARIF name
                lines.append(
                    f"| {_ICON['error']} {result.rule.title} "
                    f"| {code(bundle.error_file(result.reason))} "
                    f"| {escape(result.reason or '')} | |"
                )
        lines.append("")
    skipped = [r for r in bundle.results if r.status == "skipped" and r.unverified]
    for result in skipped:
        lines.append(f"- ⏭️ {result.rule.title}: {escape(result.reason or '')}")
    if skipped:
        lines.append("")
    facts = bundle.facts
    if facts is not None:
        for title, values in (
            ("Params", snapshot(facts.docs["params"])),
            ("Metrics", metric_values(facts)),
        ):
            if values:
                lines += [
                    f"<details><summary>{title}</summary>",
                    "",
                    "| file | key | value |",
                    "|---|---|---|",
                ]
                lines += _rows(values)
                lines += ["", "</details>", ""]
    return lines


def render(report: Report) -> str:
    mark = " (UNVERIFIED)" if report.unverified else ""
    lines = [
        f"## promote-gate: {_VERDICT[report.exit_code]}{mark}",
        "",
        *([f"> **UNVERIFIED**: {escape(report.unverified)}", ""] if report.unverified else []),
        f"Checked the {escape(report.checked)}.",
        "",
    ]
    lines += [f"> ⚠️ {escape(error)}" for error in report.errors]
    lines += [f"> {escape(note)}" for note in report.notes]
    if report.errors or report.notes:
        lines.append("")
    if not report.bundles and not report.errors:
        lines.append("No release bundles.")
    for bundle in report.bundles:
        lines += _bundle(bundle)
    return "\n".join(lines) + "\n"
