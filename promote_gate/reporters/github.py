"""GitHub Actions workflow commands: one ``::error`` annotation per violation.

GitHub shows at most 10 error annotations per step, so past 10 the first 9 (most severe
first) are printed and a tenth says how many more there are.
"""

from __future__ import annotations

from promote_gate.report import Report
from promote_gate.reporters.gitlab import ranked

MAX_ANNOTATIONS = 10


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    items = [f"::error title=promote-gate::{_data(error)}" for error in report.errors]
    items += [
        f"::error file={_prop(bundle.error_file(result.reason))},"
        f"title={_prop(result.rule.title + ' could not run')}::{_data(result.reason or 'error')}"
        for bundle in report.bundles
        for result in bundle.results
        if result.status == "error"
    ]
    for _rank, rule, finding, bundle in ranked(report):
        line = f",line={finding.line}" if finding.line else ""
        items.append(
            f"::error file={_prop(bundle.existing(finding.path))}{line},title={_prop(rule.title)}::"
            f"{_data(finding.described + ' — fix: ' + rule.fix)}"
        )
    if len(items) > MAX_ANNOTATIONS:
        more = len(items) - (MAX_ANNOTATIONS - 1)
        items = [
            *items[: MAX_ANNOTATIONS - 1],
            f"::error title=promote-gate::{more} more violation(s): see the job log and the JUnit report",
        ]
    return "".join(f"{item}\n" for item in items)
