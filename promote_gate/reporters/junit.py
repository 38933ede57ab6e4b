"""JUnit XML, the way GitLab and the GitHub JUnit reporters read it.

One <testsuite> per bundle, one <testcase> per rule; failure text in the element body
(GitLab shows the body) and in ``message``; ``file`` on failing testcases.
"""

from __future__ import annotations

from promote_gate.report import BundleReport, Report, RuleResult


def _body(result: RuleResult) -> str:
    lines = []
    for finding in result.findings:
        lines.append(f"{finding.path}: {finding.message}")
        if finding.expected is not None or finding.found is not None:
            lines.append(f"  expected: {finding.expected}")
            lines.append(f"  found:    {finding.found}")
    for item in result.unverified:
        lines.append(f"{item.path}: not verified: {item.reason}" + (f" (run: {item.command})" if item.command else ""))
    lines.append(f"fix: {result.rule.fix}")
    return "\n".join(lines)


def _case(bundle: BundleReport, result: RuleResult) -> object:
    from junit_xml import TestCase

    classname = "promote-gate." + (bundle.path or bundle.name).replace("/", ".")
    case = TestCase(name=result.rule.title, classname=classname, elapsed_sec=0.0)
    if result.status == "failed":
        first = result.findings[0]
        more = f" (+{len(result.findings) - 1} more)" if len(result.findings) > 1 else ""
        case.file = first.path
        case.add_failure_info(message=f"{first.path}: {first.message}{more}", output=_body(result), failure_type=result.rule.code)
    elif result.status == "skipped":
        case.add_skipped_info(message=result.reason or "skipped", output=_body(result) if result.unverified else None)
    elif result.status == "error":
        case.add_error_info(message=(result.reason or "error").splitlines()[0], output=result.reason, error_type="gate-error")
    return case


def render(report: Report) -> str:
    from junit_xml import TestCase, TestSuite, to_xml_report_string

    suites = [
        TestSuite(f"promote-gate:{b.path or b.name}", [_case(b, r) for r in b.results])
        for b in report.bundles
    ]
    if report.errors or not suites:
        case = TestCase(name="promote-gate", classname="promote-gate", elapsed_sec=0.0)
        if report.errors:
            case.add_error_info(message=report.errors[0], output="\n".join(report.errors), error_type="gate-error")
        suites.append(TestSuite("promote-gate", [case]))
    xml: str = to_xml_report_string(suites, prettyprint=True, encoding="utf-8")
    return xml
