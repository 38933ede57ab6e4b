"""Text for a person: grouped by bundle, each violation with code, file and fix."""

from __future__ import annotations

import os
import re
import sys

from promote_gate import verbosity
from promote_gate.facts import BundleFacts
from promote_gate.report import BundleReport, Report

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


def render(report: Report, colour: bool = False, level: int | None = None) -> str:
    """The report for a person. ``level`` (default: the run's ``-q``/``-v``, see
    ``promote_gate.verbosity``): -2 errors only, -1 findings and errors, 0 the default
    (findings, unverified evidence, notes and the summary), 1 also what each bundle was
    judged against, every rule with its reason and time."""
    if level is None:
        level = verbosity.level()

    def c(style: str, text: str) -> str:
        return f"\033[{_COLOURS[style]}m{text}\033[0m" if colour else text

    lines = [c("yellow", f"UNVERIFIED: {report.unverified}")] if report.unverified else []
    if level < verbosity.DEFAULT:
        lines = []
    lines += [c("red", f"error: {safe(error)}") for error in report.errors]
    for bundle in report.bundles:
        failed = bundle.failed
        errored = any(r.status == "error" for r in bundle.results)
        if (level <= verbosity.SILENT and not errored) or (level < 0 and not (failed or errored)):
            continue
        head = c("red", "FAIL") if failed else c("green", "ok  ")
        if errored:
            head = c("red", "ERROR")
        lines.append(f"{head} {c('bold', safe(bundle.path or bundle.name))}")
        for result in bundle.results:
            rule = result.rule
            if result.status == "failed" and level > verbosity.SILENT:
                for finding in result.findings:
                    where = bundle.where(finding)
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
            elif result.status == "skipped" and result.unverified and level >= 0:
                lines.append(
                    f"  {c('yellow', rule.code)} {rule.name}  skipped: {safe(result.reason)}"
                )
        if level >= verbosity.VERBOSE:
            lines += [c("dim", line) for line in _judged(bundle)]
    if level < 0:
        return "".join(f"{inert(line)}\n" for line in lines)
    counts = report.counts()
    problems = (
        f"{counts['violations']} violation(s) of {counts['failed']} rule(s)"
        if counts["violations"]
        else "no violations"
    )
    tags = sum(b.path.startswith("refs/tags/") for b in report.bundles)
    judged = f"{len(report.bundles) - tags} bundle(s)" + (f" and {tags} tag(s)" if tags else "")
    summary = (
        f"{judged} in the {report.checked}: {problems}; "
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


def _judged(bundle: BundleReport) -> list[str]:
    """``-v``: what the bundle was judged against and on what evidence, then every rule with
    its outcome, the reason it was skipped, and the time its check took."""
    lines = [f"    {safe(line)}" for line in _grounds(bundle.facts)]
    lines.append("    rules:")
    width = max((len(r.rule.name) for r in bundle.results), default=0)
    for result in bundle.results:
        took = "" if result.seconds is None else f"{result.seconds * 1000:.1f} ms"
        reason = f": {safe(result.reason)}" if result.reason and result.status == "skipped" else ""
        lines.append(
            f"      {result.rule.code} {result.rule.name:<{width}}  {took:>9}  {result.status}{reason}"
        )
    return lines


def _grounds(facts: BundleFacts | None) -> list[str]:
    """The base, the checked tree, source.commit and where each piece of evidence came from."""
    if facts is None:
        return []
    release = facts.release
    if release is None:
        lines = ["judged alone: no repository, nothing released (verify)"]
    elif release.base is None:
        lines = ["new: no base, so nothing counts as released"]
    elif release.removed:
        lines = [f"released (in the {release.base}), and removed here"]
    elif release.released:
        lines = [f"released: present in the base, the {release.base}"]
    else:
        lines = [f"new: not in the base, the {release.base}"]
    repo = facts.repo
    if repo is None:
        return lines
    checked = repo.checked
    if repo.checked_commit and repo.checked_commit[:8] not in checked:
        checked += f", on commit {repo.checked_commit[:12]}"
    lines.append(f"checked: the {checked}")
    source = facts.manifest_value.get("source")
    commit = source.get("commit") if isinstance(source, dict) else None
    if isinstance(commit, str):
        known = (
            "an ancestor of the checked commit"
            if repo.source_is_ancestor
            else "in the repository, not an ancestor of the checked commit"
            if repo.source_known
            else "not in the repository"
        )
        lock = f"; its dvc.lock: {repo.source_lock_error}" if repo.source_lock_error else ""
        lines.append(f"source.commit {commit[:12]}: {known}{lock}")
    evidence = [
        f"{path} from {recorded.where}"
        if recorded.where
        else f"{path} not read ({recorded.reason or 'not available'})"
        for path, recorded in sorted(repo.content.items())
    ]
    missing = [f"{path}: {item.missing}" for path, item in facts.files.items() if item.missing]
    evidence += missing[:3] + (
        [f"and {len(missing) - 3} more not read"] if len(missing) > 3 else []
    )
    if repo.unavailable:
        evidence.append(f"{len(repo.unavailable)} DVC object(s) not readable here")
    if repo.status is not None:
        evidence.append(f"dvc status of stages {', '.join(repo.status) or '(none)'}")
    elif repo.status_error:
        evidence.append(f"no dvc status: {repo.status_error}")
    if repo.comparison is not None:
        evidence.append(f"compared with {repo.comparison.baseline.label}")
    elif repo.comparison_note:
        evidence.append(f"not compared: {repo.comparison_note}")
    remote = repo.remote
    if remote is not None:
        where = f"DVC remote {remote.name} ({remote.url})" if remote.name else "no DVC remote"
        if remote.present is None:
            evidence.append(f"{where}: not checked: {remote.reason or 'not checkable'}")
        else:
            held = sum(1 for present in remote.present.values() if present)
            evidence.append(f"{where}: holds {held} of {len(remote.present)} object(s)")
    lines += [f"evidence: {line}" for line in evidence]
    return lines


_COMMAND = re.compile(r"^(\s*)::")


def inert(line: str) -> str:
    """A log line no CI runner takes for a command: GitHub's runner trims leading whitespace
    and runs a line starting with ``::`` (``::stop-commands::`` would swallow every later
    annotation), and the legacy ``##[command]`` anywhere in a line: the first gets a
    backslash in front, the second a backslash inside (``#\\#[``)."""
    return _COMMAND.sub(lambda m: f"{m.group(1)}\\::", line).replace("##[", "#\\#[")
