"""JUnit XML, the way GitLab and the GitHub JUnit reporters read it.

One <testsuite> per bundle, one <testcase> per rule; failure text in the element body
(GitLab shows the body) and in ``message``; ``file`` on failing testcases. Written with
the standard library: junit-xml 1.9 puts ``disabled`` on <testsuites>, which the Jenkins
junit-10 XSD (what these CI systems follow) rejects.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from promote_gate.report import BundleReport, Report, RuleResult

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _body(result: RuleResult) -> str:
    lines = []
    for finding in result.findings:
        lines.append(f"{finding.path}: {finding.message}")
        if finding.expected is not None or finding.found is not None:
            lines.append(f"  expected: {finding.expected}")
            lines.append(f"  found:    {finding.found}")
    lines.extend(
        f"{item.path}: not verified: {item.reason}"
        + (f" (run: {item.command})" if item.command else "")
        for item in result.unverified
    )
    lines.append(f"fix: {result.rule.fix}")
    return "\n".join(lines)


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _case(suite: ET.Element, bundle: BundleReport, result: RuleResult) -> None:
    attrs = {
        "name": result.rule.title,
        "classname": "promote-gate." + (bundle.path or bundle.name).replace("/", "."),
        "time": "0",
    }
    if result.status == "failed":
        attrs["file"] = result.findings[0].path
    case = _child(suite, "testcase", **attrs)
    if result.status == "failed":
        first = result.findings[0]
        more = f" (+{len(result.findings) - 1} more)" if len(result.findings) > 1 else ""
        message = f"{first.path}: {first.message}{more}"
        _child(case, "failure", _body(result), message=message, type=result.rule.code)
    elif result.status == "skipped":
        _child(case, "skipped", message=result.reason or "skipped")
        if result.unverified:
            _child(case, "system-out", _body(result))
    elif result.status == "error":
        reason = result.reason or "error"
        _child(case, "error", reason, message=reason.splitlines()[0], type="gate-error")


def _suite(root: ET.Element, name: str, results: list[str]) -> ET.Element:
    return _child(
        root,
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(results.count("failed")),
        errors=str(results.count("error")),
        skipped=str(results.count("skipped")),
        time="0",
    )


def render_skipped(reason: str) -> str:
    """A report saying the gate did not apply (a branch that is not gated), and why."""
    root = ET.Element(
        "testsuites", {"name": "promote-gate", "tests": "1", "failures": "0", "errors": "0"}
    )
    suite = _suite(root, "promote-gate", ["skipped"])
    case = _child(suite, "testcase", name="promote-gate", classname="promote-gate", time="0")
    _child(case, "skipped", message=reason)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(report: Report) -> str:
    mark = "UNVERIFIED " if report.unverified else ""
    root = ET.Element("testsuites", {"name": f"{mark}promote-gate ({_clean(report.checked)})"})
    for bundle in report.bundles:
        suite = _suite(
            root, f"promote-gate:{bundle.path or bundle.name}", [r.status for r in bundle.results]
        )
        for result in bundle.results:
            _case(suite, bundle, result)
    if report.errors or not report.bundles:
        suite = _suite(root, "promote-gate", ["error" if report.errors else "passed"])
        case = _child(suite, "testcase", name="promote-gate", classname="promote-gate", time="0")
        if report.errors:
            text = "\n".join(report.errors)
            _child(case, "error", text, message=report.errors[0].splitlines()[0], type="gate-error")
    counts = report.counts()
    root.set("tests", str(sum(len(b.results) for b in report.bundles) or 1))
    root.set("failures", str(counts["failed"]))
    root.set("errors", str(counts["error"] + (1 if report.errors else 0)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
