"""Judge: run the rules over collected facts; the report and its exit code."""

from __future__ import annotations

import dataclasses
import posixpath
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from promote_gate.errors import EXIT_ERROR, EXIT_OK, EXIT_VIOLATIONS
from promote_gate.facts import BundleFacts, TagFacts
from promote_gate.locate import located
from promote_gate.rules import RULES, Finding, NotApplicable, Rule, Unverified

Status = Literal["passed", "failed", "skipped", "error"]
BUNDLE_RULES = tuple(rule for rule in RULES if rule.subject == "bundle")


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    status: Status
    findings: tuple[Finding, ...] = ()
    unverified: tuple[Unverified, ...] = ()
    reason: str | None = None  # why skipped, or the error
    seconds: float | None = field(default=None, compare=False)  # the check's time (-v)


@dataclass(frozen=True)
class BundleReport:
    name: str
    path: str
    results: tuple[RuleResult, ...]
    facts: BundleFacts | None = None
    project: str = ""  # the DVC project's directory in the repository ("" for the top)

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if r.status == "failed"]

    def existing(self, path: str) -> str:
        """The file a reader can open for ``path``: a DVC-tracked promoted file that is not in
        the checked tree (a commit has only its pointer) is its ``.dvc`` pointer."""
        lead = f"{self.path}/" if self.path else ""
        if self.facts is None or not path.startswith(lead):
            return path
        return lead + self.facts.shown(path[len(lead) :])

    def where(self, finding: Finding) -> str:
        """Where a person reads ``finding``: its path, with its line in the file the line is
        in (``publish/v1/model.json (model.json.dvc:2)`` for data shown at its pointer)."""
        if not finding.line:
            return finding.path
        shown = self.existing(finding.path)
        if shown == finding.path:
            return f"{shown}:{finding.line}"
        return f"{finding.path} ({posixpath.basename(shown)}:{finding.line})"

    def error_file(self, reason: str | None) -> str:
        """Where a rule that could not run is shown: the file its message names (a
        project's ``dvc.yaml``, as a repository path), else the bundle's manifest."""
        named = error_file(reason or "", "")
        if not named:
            return self.manifest_path
        lead = self.project + "/" if self.project else ""
        return named if named.startswith(lead) else lead + named

    @property
    def manifest_path(self) -> str:
        """Where a finding-less error of this bundle is shown: its manifest."""
        return f"{self.path}/manifest.json" if self.path else "manifest.json"


@dataclass(frozen=True)
class Report:
    bundles: tuple[BundleReport, ...]
    checked: str  # what was checked: "commit 1a2b3c4d" / "working tree" / a directory
    errors: tuple[str, ...] = ()  # the gate could not evaluate
    notes: tuple[str, ...] = field(default_factory=tuple)
    unverified: str | None = None  # metadata_only: why content was not required (said first)

    @property
    def exit_code(self) -> int:
        results = [r for b in self.bundles for r in b.results]
        if self.errors or any(r.status == "error" for r in results):
            return EXIT_ERROR
        if any(r.status == "failed" for r in results):
            return EXIT_VIOLATIONS
        return EXIT_OK

    def counts(self) -> dict[str, int]:
        counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0, "violations": 0}
        for bundle in self.bundles:
            for result in bundle.results:
                counts[result.status] += 1
                counts["violations"] += len(result.findings)
        return counts


def no_rule_ran(report: Report) -> Report:
    """A run in which no rule was evaluated is not a pass: it becomes a gate error."""
    results = [r for b in report.bundles for r in b.results]
    if not results or any(r.status != "skipped" for r in results):
        return report
    reasons = sorted({r.reason or "" for r in results})
    error = "no rule ran: every rule was skipped (" + "; ".join(reasons[:3]) + ")"
    return dataclasses.replace(report, errors=(*report.errors, error))


_ERROR_LEAD = "the rule could not run: "


def could_not_run(rule: Rule, reason: str | None) -> str:
    """A rule error as one sentence that names the rule (the reason said once)."""
    return f"{rule.title} could not run: {(reason or 'error').removeprefix(_ERROR_LEAD)}"


_O = TypeVar("_O", Finding, Unverified)


def _printable(outcome: _O) -> _O:
    """File names that are not UTF-8 (read with surrogateescape) made safe for every reporter."""
    fields: dict[str, Any] = {
        k: _printable_text(v) for k, v in dataclasses.asdict(outcome).items() if isinstance(v, str)
    }
    if outcome.key is not None:
        fields["key"] = tuple(_printable_text(k) for k in outcome.key)
    return dataclasses.replace(outcome, **fields)


# a surrogate no undecodable byte stands for: a JSON document may spell one ("\ud800")
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def _printable_text(text: str) -> str:
    text = _LONE_SURROGATE.sub("\ufffd", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def judge(
    facts: BundleFacts,
    chosen: dict[str, str | None],
    *,
    require_data: bool = False,
    traceback_on_error: bool = False,
) -> BundleReport:
    """Apply every rule to one bundle. A rule that raises is an ``error``; the rest still run."""
    # one defect, one code: rules that read the manifest do not also fail on a broken one
    manifest_ok = (
        facts.manifest.ok and isinstance(facts.manifest.value, dict) and not facts.manifest_errors
    )
    results: list[RuleResult] = []
    for rule in BUNDLE_RULES:
        skip = chosen.get(rule.code)
        removed = facts.release is not None and facts.release.removed
        if skip is None and removed and not rule.applies_to_removed:
            skip = "the bundle was removed (see PG501)"
        if skip is None and rule.needs_repo and facts.repo is None:
            skip = "needs the repository (verify judges the bundle alone)"
        if skip is None and rule.candidates_only and not facts.candidate:
            skip = "applies to bundles being released only (those not present at the base revision)"
        if skip is None and rule.needs_manifest and not manifest_ok and not removed:
            skip = "manifest.json is unusable (see PG101)"
        if skip is not None:
            results.append(RuleResult(rule, "skipped", reason=skip))
            continue
        start = time.perf_counter()
        try:
            outcomes = list(rule.check(facts))
        except Exception as exc:
            detail = (
                traceback.format_exc() if traceback_on_error else f"{type(exc).__name__}: {exc}"
            )
            reason = f"{_ERROR_LEAD}{detail}"
            took = time.perf_counter() - start
            results.append(RuleResult(rule, "error", reason=reason, seconds=took))
            continue
        took = time.perf_counter() - start
        findings = tuple(o for o in outcomes if isinstance(o, Finding))
        unverified = tuple(o for o in outcomes if isinstance(o, Unverified))
        if require_data and unverified:
            findings += tuple(
                Finding(
                    u.path,
                    f"could not be verified here, and unverified evidence does not pass: {u.reason}"
                    + (f" (run: {u.command})" if u.command else ""),
                    key=u.key,
                )
                for u in unverified
            )
            unverified = ()
        unverified = tuple(_printable(u) for u in unverified)
        not_applicable = [o.reason for o in outcomes if isinstance(o, NotApplicable)]
        if findings:
            # located with the keys as the documents spell them, then made printable
            findings = tuple(_printable(f) for f in located(facts, findings))
            results.append(RuleResult(rule, "failed", findings, unverified, seconds=took))
        elif not_applicable and not unverified:
            reason = "; ".join(not_applicable)
            results.append(RuleResult(rule, "skipped", reason=reason, seconds=took))
        elif unverified:
            what = "; ".join(
                f"{u.reason}" + (f" (run: {u.command})" if u.command else "")
                for u in unverified[:3]
            )
            more = f" and {len(unverified) - 3} more" if len(unverified) > 3 else ""
            reason = f"evidence not available: {what}{more}"
            results.append(RuleResult(rule, "skipped", (), unverified, reason, seconds=took))
        else:
            results.append(RuleResult(rule, "passed", seconds=took))
    return BundleReport(facts.name, facts.path, tuple(results), facts)


def judge_tag(facts: TagFacts, chosen: dict[str, str | None]) -> BundleReport:
    """Apply the tag rules (PG7xx) to one pushed GTO tag: its report, named by its ref."""
    results: list[RuleResult] = []
    for rule in RULES:
        if rule.subject != "tag":
            continue
        skip = chosen.get(rule.code)
        if skip is not None:
            results.append(RuleResult(rule, "skipped", reason=skip))
            continue
        try:
            outcomes = list(rule.check(facts))
        except Exception as exc:
            reason = f"{_ERROR_LEAD}{type(exc).__name__}: {exc}"
            results.append(RuleResult(rule, "error", reason=reason))
            continue
        findings = tuple(_printable(o) for o in outcomes if isinstance(o, Finding))
        skipped = [o.reason for o in outcomes if isinstance(o, NotApplicable)]
        if findings:
            results.append(RuleResult(rule, "failed", findings))
        elif skipped:
            results.append(RuleResult(rule, "skipped", reason="; ".join(skipped)))
        else:
            results.append(RuleResult(rule, "passed"))
    return BundleReport(facts.name, f"refs/tags/{facts.name}", tuple(results))


_NAMED_FILE = re.compile(
    r"(?:^|[\s'\"(])((?:[\w.@+-]+/)*(?:dvc\.yaml|dvc\.lock|params\.yaml|\.promote-gate\.yaml"
    r"|pyproject\.toml|\.dvc/config|manifest\.json|SHA256SUMS|[\w.@+-]+\.(?:ya?ml|json|toml|lock)))"
)


def error_file(message: str, default: str = ".promote-gate.yaml") -> str:
    """The file an error is about, named in its message (``dvc.yaml:3: …``), else
    ``default`` (the policy file for the gate, a bundle's manifest for a rule): where CI shows
    an error that has no file of its own."""
    match = _NAMED_FILE.search(message)
    return match.group(1) if match else default
