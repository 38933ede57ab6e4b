"""SARIF 2.1.0, for GitHub code scanning: findings inline in the pull request's diff.

One run; the driver lists every rule of the catalogue with its ``explain`` text as
``help.markdown``. Its links come from the installed distribution's metadata (pyproject.toml's
``[project.urls]``, the one place the project's home is declared): ``informationUri`` is the
Homepage, each rule's ``helpUri`` its row in the Documentation (the README's rule table); a
distribution that declares none gets no links. Each finding is a result: level ``error``, at
the file a reader can open (the ``.dvc`` pointer of a DVC-tracked file the commit does not
hold) and its line, with a ``partialFingerprints`` value that masks commit ids and hashes, so
an alert that stays is the same alert when the base moves.

A rule that could not run (the gate exits 2) is two things: an ``error`` result on the file its
message names, so the check visibly fails there, and a tool execution notification (SARIF
§3.58: level ``error``, ``associatedRule`` the rule, ``descriptor`` the driver's
``rule-error`` notification). The other rules' findings are real, so the run is
``executionSuccessful: true`` and the GitHub template uploads it; until the rule runs again,
code scanning may close that rule's earlier alerts as fixed. Only a gate error (nothing was
evaluated, no results) is ``executionSuccessful: false``, a ``gate-error`` notification: the
template then uploads nothing, as an empty analysis would close every open alert.

Evidence a skipped rule could not read (a released bundle's content not available here; for a
bundle being released it is a failure, hence an ``error``) is a ``note`` naming the command
that provides it: "could not verify" is never silence. Rules skipped with nothing to judge are
not results: SARIF would require them to be level ``none``, and code scanning would show them
as alerts to dismiss. No ``automationDetails``: the upload's ``category`` names the analysis.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from promote_gate import __version__
from promote_gate.report import BundleReport, Report, could_not_run
from promote_gate.reporters.gitlab import fingerprint, ranked
from promote_gate.rules import RULES, Rule

# The OASIS schema the tests validate against (SARIF 2.1.0 with Errata 01, tests/schemas).
SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT = "promoteGate/v1"
_INDEX = {rule.code: index for index, rule in enumerate(RULES)}
# The driver's notification descriptors (its ``notifications``), each notification naming one:
# id, short and full description, help (GitHub's ingestion rules want all four, as for rules).
NOTIFICATIONS = (
    (
        "gate-error",
        "promote-gate could not evaluate",
        "The gate could not evaluate (unreadable repository, bad configuration, no rule ran).",
        "Fix what the message names. The GitHub template does not upload such a run.",
    ),
    (
        "rule-error",
        "A rule could not run",
        "A rule failed on a bundle: its findings are unknown. The other rules' are reported.",
        "Fix the file the message names; --traceback shows where the rule failed.",
    ),
    (
        "unverified",
        "Content not verified",
        "metadata_only is set: the content of bundles being released was not verified.",
        "Unset metadata_only, or run where the DVC cache or remote holds the content.",
    ),
)
_NOTIFICATION_INDEX = {kind[0]: index for index, kind in enumerate(NOTIFICATIONS)}


@lru_cache(maxsize=1)
def project_urls() -> dict[str, str]:
    """The installed distribution's Project-URLs by label, labels compared as PEP 753 says
    (lower case, punctuation and spaces dropped: ``Homepage``, ``home-page`` are one)."""
    from importlib import metadata

    try:
        entries = metadata.metadata("promote-gate").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return {}
    urls: dict[str, str] = {}
    for entry in entries:
        label, _, url = str(entry).partition(",")
        key = "".join(c for c in label.lower() if c.isalnum())
        if url.strip():
            urls.setdefault(key, url.strip())
    return urls


def information_uri() -> str | None:
    """The project's home page, where the tool is described."""
    urls = project_urls()
    return urls.get("homepage") or urls.get("source")


def documentation() -> str | None:
    """The documentation (the README, whose rule table has an anchor per rule)."""
    urls = project_urls()
    return urls.get("documentation") or urls.get("homepage")


def help_uri(rule: Rule, docs: str | None) -> str | None:
    """The README's anchor for a rule (``#pg104-content-mismatch``), under ``docs``."""
    if not docs:
        return None
    return f"{docs.split('#', 1)[0]}#{rule.code.lower()}-{rule.name}"


def _descriptor(rule: Rule, docs: str | None) -> dict[str, Any]:
    from promote_gate.rules.docs import explain

    text = explain(rule)
    descriptor: dict[str, Any] = {
        "id": rule.code,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": f"{rule.title}: violated when {rule.summary}"},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": text, "markdown": text},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["promote-gate", "dvc", "release"], "precision": "very-high"},
    }
    uri = help_uri(rule, docs)
    if uri:
        descriptor["helpUri"] = uri
    return descriptor


def _location(path: str, line: int | None) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(path), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line or 1},
        }
    }


def _result(
    rule: Rule, level: str, text: str, path: str, line: int | None, key: str
) -> dict[str, Any]:
    return {
        "ruleId": rule.code,
        "ruleIndex": _INDEX[rule.code],
        "level": level,
        "message": {"text": text},
        "locations": [_location(path, line)],
        "partialFingerprints": {FINGERPRINT: key},
    }


def _notification(
    kind: str, text: str, level: str = "error", rule: Rule | None = None, path: str | None = None
) -> dict[str, Any]:
    """A tool execution notification: its descriptor, and the rule and file it is about."""
    note: dict[str, Any] = {
        "descriptor": {"id": kind, "index": _NOTIFICATION_INDEX[kind]},
        "level": level,
        "message": {"text": text},
    }
    if rule is not None:
        note["associatedRule"] = {"id": rule.code, "index": _INDEX[rule.code]}
    if path is not None:
        note["locations"] = [_location(path, None)]
    return note


def _rule_errors(bundle: BundleReport) -> list[tuple[Rule, str, str]]:
    """(rule, reason, file) of each rule of ``bundle`` that could not run."""
    return [
        (r.rule, r.reason or "error", bundle.error_file(r.reason))
        for r in bundle.results
        if r.status == "error"
    ]


def _bundle_results(bundle: BundleReport) -> list[dict[str, Any]]:
    results = []
    for rule, reason, path in _rule_errors(bundle):  # where the check fails, as in JUnit
        text = could_not_run(rule, reason)
        key = fingerprint(rule.code, bundle.path, "error", reason)
        results.append(_result(rule, "error", text, path, None, key))
    for result in bundle.results:
        rule = result.rule
        for item in result.unverified:  # on a skipped rule: evidence not required here
            command = f" (run: {item.command})" if item.command else ""
            results.append(
                _result(
                    rule,
                    "note",
                    f"{rule.title}: not verified: {item.reason}{command}",
                    bundle.existing(item.path),
                    None,
                    fingerprint(rule.code, bundle.path, item.path, "unverified", item.reason),
                )
            )
    return results


def render(report: Report) -> str:
    docs = documentation()
    results = [
        _result(
            rule,
            "error",
            f"{finding.described}\nfix: {rule.fix}",
            bundle.existing(finding.path),
            finding.line,
            fingerprint(rule.code, bundle.path, finding.path, finding.message),
        )
        for _rank, rule, finding, bundle in ranked(report)
    ]
    for bundle in report.bundles:
        results += _bundle_results(bundle)
    notifications = [
        _notification("gate-error", f"promote-gate could not evaluate: {error}")
        for error in report.errors
    ]
    notifications += [
        _notification("rule-error", could_not_run(rule, reason), rule=rule, path=path)
        for bundle in report.bundles
        for rule, reason, path in _rule_errors(bundle)
    ]
    if report.unverified:
        notifications.append(
            _notification("unverified", f"UNVERIFIED: {report.unverified}", level="warning")
        )
    driver: dict[str, Any] = {
        "name": "promote-gate",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_descriptor(rule, docs) for rule in RULES],
        "notifications": [
            {
                "id": kind,
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "help": {"text": text, "markdown": text},
            }
            for kind, short, full, text in NOTIFICATIONS
        ],
    }
    home = information_uri()
    if home:
        driver["informationUri"] = home
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [
            {
                # a rule that could not run is a notification: the others' findings are real
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": notifications,
            }
        ],
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
