"""The rule record and what a rule returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promote_gate.facts import BundleFacts


@dataclass(frozen=True)
class Finding:
    """One violation: which file, what is wrong, and the two sides where there are two."""

    path: str  # repository-relative (bundle-relative for verify)
    message: str
    expected: str | None = None
    found: str | None = None
    line: int | None = None  # 1-based, where the file has one for this finding
    # what in the shown file the finding is about: a key path into the document (a stage of a
    # dvc.lock: ("stages", name)); locate.py turns it into ``line``
    key: tuple[str, ...] | None = None
    # the values behind a message that shows them cut (a param's whole before and after): in
    # --format json only, never printed
    values: tuple[Any, Any] | None = field(default=None, compare=False)

    @property
    def described(self) -> str:
        """The message, with both sides where there are two: one line for any reporter."""
        if self.expected is None and self.found is None:
            return self.message
        return f"{self.message} (expected {self.expected}, found {self.found})"


@dataclass(frozen=True)
class Unverified:
    """Evidence the rule needed but could not read here, and the command that provides it."""

    path: str
    reason: str
    command: str | None = None
    key: tuple[str, ...] | None = None  # as Finding's, where it becomes one (--require-data)


@dataclass(frozen=True)
class NotApplicable:
    """The rule has nothing to judge here (a first version has no baseline): skipped, not failed."""

    reason: str


Outcome = Finding | Unverified | NotApplicable
# a bundle rule's check reads BundleFacts, a tag rule's (subject "tag") TagFacts
Check = Callable[[Any], Iterable[Outcome]]


@dataclass(frozen=True)
class Rule:
    code: str  # PG + family digit + two digits; a public contract, never reused
    name: str  # kebab-case, names the fault
    summary: str  # one line: violated when ...
    rationale: str  # why a reviewer cares
    fix: str  # how to fix it
    example: str  # a minimal case that violates it
    check: Check
    needs_repo: bool = True  # False: ``verify`` can judge it with nothing but the bundle
    needs_manifest: bool = True  # skipped (with the reason) when manifest.json is unusable
    candidates_only: bool = False  # judged only for the bundles being released
    applies_to_removed: bool = False  # judged for a released bundle the change removes
    # costly evidence the rule reads, computed only when a selected rule needs it (as flake8
    # passes each plugin only the parameters it asks for): "status" (dvc status of the
    # pipeline), "comparison" (with the baseline), "lineage" (dvc.lock history, experiment
    # refs, exploratory paths), "consumers", "remote", "content" (recorded metrics' bytes)
    evidence: frozenset[str] = frozenset()
    subject: str = "bundle"  # "tag": judges a pushed GTO tag (TagFacts), never a bundle

    @property
    def title(self) -> str:
        return f"{self.code} {self.name}"


# how a remote that could not be asked is worded (remote_io.remote_failure): no DVC command
# provides its content until the remote answers
_REMOTE_UNAVAILABLE = (" unreachable", " refused access", " cannot be opened here")


def provides(
    facts: BundleFacts, path: str, verb: str = "pull", why: str | None = None
) -> str | None:
    """The command that makes DVC content at ``path`` readable where the gate runs: in CI,
    which reads only the DVC remote, pushing it there; elsewhere pulling (or fetching) it.
    None when ``why`` says the remote could not be asked: its message says what to mend."""
    if why is not None and any(phrase in why for phrase in _REMOTE_UNAVAILABLE):
        return None
    if facts.repo is not None and facts.repo.ci:
        return f"dvc push {path}  # CI reads the DVC remote the base configures"
    return f"dvc {verb} {path}"
