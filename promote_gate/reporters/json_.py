"""JSON for machines: the whole report, stable keys."""

from __future__ import annotations

import json
from dataclasses import asdict

from promote_gate.report import Report


def render(report: Report) -> str:
    doc = {
        "format": "promote-gate/report/1",
        "checked": report.checked,
        "exit_code": report.exit_code,
        "errors": list(report.errors),
        "notes": list(report.notes),  # the base used, data not pulled, a policy edit
        "summary": report.counts(),
        "bundles": [
            {
                "name": b.name,
                "path": b.path,
                "results": [
                    {
                        "code": r.rule.code,
                        "name": r.rule.name,
                        "status": r.status,
                        "reason": r.reason,
                        "findings": [asdict(f) for f in r.findings],
                        "unverified": [asdict(u) for u in r.unverified],
                    }
                    for r in b.results
                ],
            }
            for b in report.bundles
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=True, default=str) + "\n"  # YAML dates
