"""Text for a person: grouped by bundle, each violation with code, file and fix."""

from __future__ import annotations

import os
import re
import sys

from promote_gate.report import Report

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def use_colour(stream: object = None) -> bool:
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return (
        bool(isatty and isatty())
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x9b]")


def safe(text: object) -> str:
    """Names come from the repository: a newline in one must not start a line of our own
    (a line starting with ``::`` is a command to GitHub's runner)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _block(text: object) -> str:
    """A multi-line text (a traceback) kept readable: every line indented, none our own."""
    return "\n      ".join(safe(line) for line in str(text).splitlines())


def render(report: Report, colour: bool = False) -> str:
    def c(style: str, text: str) -> str:
        return f"\033[{_COLOURS[style]}m{text}\033[0m" if colour else text

    lines = [c("yellow", f"UNVERIFIED: {report.unverified}")] if report.unverified else []
    lines += [c("red", f"error: {safe(error)}") for error in report.errors]
    for bundle in report.bundles:
        failed = bundle.failed
        head = c("red", "FAIL") if failed else c("green", "ok  ")
        if any(r.status == "error" for r in bundle.results):
            head = c("red", "ERROR")
        lines.append(f"{head} {c('bold', safe(bundle.path or bundle.name))}")
        for result in bundle.results:
            rule = result.rule
            if result.status == "failed":
                for finding in result.findings:
                    where = finding.path + (f":{finding.line}" if finding.line else "")
                    lines.append(f"  {c('red', rule.code)} {rule.name}  {safe(where)}")
                    lines.append(f"      {safe(finding.message)}")
                    sides = [
                        f"{label}: {safe(value)}"
                        for label, value in (
                            ("expected", finding.expected),
                            ("found", finding.found),
                        )
                        if value is not None
                    ]
                    if sides:
                        lines.append("      " + "  ".join(sides))
                lines.append(c("dim", f"      fix: {rule.fix}"))
            elif result.status == "error":
                lines.append(f"  {c('red', rule.code)} {rule.name}  {_block(result.reason)}")
            elif result.status == "skipped" and result.unverified:
                lines.append(
                    f"  {c('yellow', rule.code)} {rule.name}  skipped: {safe(result.reason)}"
                )
    counts = report.counts()
    problems = (
        f"{counts['violations']} violation(s) of {counts['failed']} rule(s)"
        if counts["violations"]
        else "no violations"
    )
    summary = (
        f"{len(report.bundles)} bundle(s) in the {report.checked}: {problems}; "
        f"rule checks: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
        + (f", {counts['error']} could not run" if counts["error"] else "")
    )
    if not report.bundles and not report.errors:
        summary = f"no bundles in the {report.checked}"
    lines.extend(safe(note) for note in report.notes)
    verdict = {0: c("green", "passed"), 1: c("red", "failed"), 2: c("red", "could not evaluate")}
    mark = " (UNVERIFIED)" if report.unverified else ""
    lines.append(f"promote-gate {verdict[report.exit_code]}{mark}: {summary}")
    return "".join(f"{inert(line)}\n" for line in lines)


_COMMAND = re.compile(r"^(\s*)::")


def inert(line: str) -> str:
    """A log line no CI runner takes for a command: GitHub's runner trims leading whitespace
    and runs a line starting with ``::`` (``::stop-commands::`` would swallow every later
    annotation), and the legacy ``##[command]`` anywhere in a line: the first gets a
    backslash in front, the second a backslash inside (``#\\#[``)."""
    return _COMMAND.sub(lambda m: f"{m.group(1)}\\::", line).replace("##[", "#\\#[")
