"""GitLab Code Quality report: the merge request widget lists these findings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from promote_gate.report import Report
from promote_gate.rules import Finding, Rule

# Most severe first: a changed release or broken integrity before provenance, then claims.
_FAMILY_RANK = {"5": 0, "1": 1, "2": 2, "3": 3, "4": 4}
_SEVERITY = {"5": "critical", "1": "critical", "2": "critical", "3": "major", "4": "major"}


def ranked(report: Report) -> Iterator[tuple[int, Rule, Finding]]:
    """Every violation, most severe family first, then by code and bundle order."""
    items = [
        (_FAMILY_RANK.get(result.rule.code[2], 9), result.rule, finding)
        for bundle in report.bundles
        for result in bundle.results
        for finding in result.findings
    ]
    yield from sorted(items, key=lambda item: (item[0], item[1].code))


def render(report: Report) -> str:
    issues = [
        {
            "description": f"{error}",
            "check_name": "promote-gate",
            "fingerprint": hashlib.sha256(f"error|{error}".encode()).hexdigest(),
            "severity": "blocker",
            "location": {"path": ".promote-gate.yaml", "lines": {"begin": 1}},
        }
        for error in report.errors
    ]
    for _rank, rule, finding in ranked(report):
        key = f"{rule.code}|{finding.path}|{finding.message}"
        issues.append(
            {
                "description": f"{rule.title}: {finding.message}",
                "check_name": rule.code,
                "fingerprint": hashlib.sha256(key.encode()).hexdigest(),
                "severity": _SEVERITY.get(rule.code[2], "major"),
                "location": {"path": finding.path, "lines": {"begin": 1}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"
