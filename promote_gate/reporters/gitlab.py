"""GitLab Code Quality report: the merge request widget lists these findings.

Every violation is an issue with its file (the ``.dvc`` pointer for a DVC-tracked file the
commit does not hold) and line, and its description carries both sides (expected/found). A
rule that could not run, and a gate error, is a ``blocker``: a red job always has something to
show in the widget. Fingerprints are stable across commits: (rule, bundle, path, the detail
with commit ids and hashes taken out), never a commit id or a time, so a violation that stays
is not reported as fixed and new at once when the base moves.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from promote_gate.report import BundleReport, Report, could_not_run, error_file
from promote_gate.rules import Finding, Rule

# Most severe first: a changed release or broken integrity before provenance, then claims.
_FAMILY_RANK = {"5": 0, "1": 1, "2": 2, "3": 3, "4": 4}
_SEVERITY = {"5": "critical", "1": "critical", "2": "critical", "3": "major", "4": "major"}
_IDS = re.compile(r"\b[0-9a-f]{7,64}\b")  # commit ids, md5/sha256 values: they move


def ranked(report: Report) -> Iterator[tuple[int, Rule, Finding, BundleReport]]:
    """Every violation, most severe family first, then by code and bundle order."""
    items = [
        (_FAMILY_RANK.get(result.rule.code[2], 9), result.rule, finding, bundle)
        for bundle in report.bundles
        for result in bundle.results
        for finding in result.findings
    ]
    yield from sorted(items, key=lambda item: (item[0], item[1].code))


def fingerprint(*parts: str) -> str:
    """Stable across commits: ids and hashes in the parts are masked."""
    normalised = [_IDS.sub("<id>", part) for part in parts]
    return hashlib.sha256("\0".join(normalised).encode()).hexdigest()


def _issue(description: str, check: str, key: str, severity: str, path: str, line: int) -> Any:
    return {
        "description": description,
        "check_name": check,
        "fingerprint": key,
        "severity": severity,
        "location": {"path": path, "lines": {"begin": line}},
    }


def render(report: Report) -> str:
    issues = [
        _issue(
            f"promote-gate could not evaluate: {error}",
            "promote-gate",
            fingerprint("error", error),
            "blocker",
            error_file(error),
            1,
        )
        for error in report.errors
    ]
    issues += [
        _issue(
            could_not_run(result.rule, result.reason),
            result.rule.code,
            fingerprint(result.rule.code, bundle.path, "error", result.reason or ""),
            "blocker",
            bundle.error_file(result.reason),
            1,
        )
        for bundle in report.bundles
        for result in bundle.results
        if result.status == "error"
    ]
    issues += [
        _issue(
            f"{rule.title}: {finding.described}",
            rule.code,
            fingerprint(rule.code, bundle.path, finding.path, finding.message),
            _SEVERITY.get(rule.code[2], "major"),
            bundle.existing(finding.path),
            finding.line or 1,
        )
        for _rank, rule, finding, bundle in ranked(report)
    ]
    return json.dumps(issues, indent=2) + "\n"
