"""JUnit XML, the way GitLab and the GitHub JUnit reporters read it.

One <testsuite> per bundle. A rule that passed, was skipped or could not run is one
<testcase> named by the rule; a violated rule is one <testcase> per finding, named
``PG103 file-unlisted: publish/v1/x`` (as ruff and conftest emit one case per violation), with
the finding's ``file`` and ``line``, so every finding gets its own annotation. The failure text
is in the element body (GitLab shows the body) and in ``message``; a skip reason is in the
<skipped> body too (GitLab then shows plain text). A rule that could not run is an <error>
on the file it is about (the bundle's manifest when it names none). Written with the standard
library: junit-xml 1.9 puts ``disabled`` on <testsuites>, which the Jenkins junit-10 XSD (what
these CI systems follow) rejects; for the same reason the root carries no ``skipped`` count:
each <testsuite> has its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from promote_gate.report import BundleReport, Report, RuleResult, error_file
from promote_gate.rules import Finding

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _finding_text(bundle: BundleReport, finding: Finding, fix: str) -> str:
    lines = [f"{bundle.where(finding)}: {finding.message}"]
    if finding.expected is not None or finding.found is not None:
        lines.append(f"  expected: {finding.expected}")
        lines.append(f"  found:    {finding.found}")
    lines.append(f"fix: {fix}")
    return "\n".join(lines)


def _unverified_text(result: RuleResult) -> str:
    return "\n".join(
        f"{item.path}: not verified: {item.reason}"
        + (f" (run: {item.command})" if item.command else "")
        for item in result.unverified
    )


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _classname(bundle: BundleReport) -> str:
    return "promote-gate." + (bundle.path or bundle.name).replace("/", ".")


def _cases(suite: ET.Element, bundle: BundleReport, result: RuleResult) -> None:
    classname = _classname(bundle)
    if result.status == "failed":
        seen: dict[str, int] = {}
        for finding in result.findings:
            name = f"{result.rule.title}: {bundle.where(finding)}"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:  # names stay unique: GitLab merges cases of one name
                name += f" ({seen[name]})"
            attrs = {
                "name": name,
                "classname": classname,
                "time": "0",
                "file": bundle.existing(finding.path),
            }
            if finding.line:
                attrs["line"] = str(finding.line)
            case = _child(suite, "testcase", **attrs)
            _child(
                case,
                "failure",
                _finding_text(bundle, finding, result.rule.fix),
                message=finding.described,
                type=result.rule.code,
            )
        return
    attrs = {"name": result.rule.title, "classname": classname, "time": "0"}
    if result.status == "error":
        attrs["file"] = bundle.error_file(result.reason)
    case = _child(suite, "testcase", **attrs)
    if result.status == "skipped":
        reason = result.reason or "skipped"
        _child(case, "skipped", reason, message=reason)
        if result.unverified:
            _child(case, "system-out", _unverified_text(result))
    elif result.status == "error":
        reason = result.reason or "error"
        _child(case, "error", reason, message=reason.splitlines()[0], type="gate-error")


def _count(bundle: BundleReport) -> list[str]:
    """The status of each testcase a bundle's suite holds (a failure per finding)."""
    return [
        status
        for r in bundle.results
        for status in ([r.status] * len(r.findings) if r.status == "failed" else [r.status])
    ]


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
    _child(case, "skipped", reason, message=reason)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(report: Report) -> str:
    mark = "UNVERIFIED " if report.unverified else ""
    root = ET.Element("testsuites", {"name": f"{mark}promote-gate ({_clean(report.checked)})"})
    statuses: list[str] = []
    for bundle in report.bundles:
        counted = _count(bundle)
        statuses += counted
        suite = _suite(root, f"promote-gate:{bundle.path or bundle.name}", counted)
        for result in bundle.results:
            _cases(suite, bundle, result)
    if report.errors or not report.bundles:
        suite = _suite(root, "promote-gate", ["error" if report.errors else "passed"])
        attrs = {"name": "promote-gate", "classname": "promote-gate", "time": "0"}
        if report.errors:
            attrs["file"] = error_file(report.errors[0])
        case = _child(suite, "testcase", **attrs)
        if report.errors:
            text = "\n".join(report.errors)
            _child(case, "error", text, message=report.errors[0].splitlines()[0], type="gate-error")
    root.set("tests", str(len(statuses) or 1))
    root.set("failures", str(statuses.count("failed")))
    root.set("errors", str(statuses.count("error") + (1 if report.errors else 0)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
