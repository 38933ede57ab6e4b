"""Where each kind of evidence lives in its file: the line a finding is shown at.

Rules say what a finding is about, not where: ``Finding.key`` is a key path into the file the
finding is shown at (a metric in metrics.json, a stage in dvc.lock, ``source.commit`` in
manifest.json). This module knows the rest, for every reporter alike:

- the file shown is the one a reader can open (``BundleFacts.shown``): a DVC-tracked file
  that is not in the checked tree is shown at its ``.dvc`` pointer;
- its text is the bundle's document, the pointer, or the checked dvc.lock, as collected;
- a key's line is the line of that key (else of its deepest key that exists);
- a document that could not be parsed is shown where the parser stopped;
- any other finding on a pointer is about its content: the line of ``md5:``.

Only findings are located (a passing run costs nothing), and a locator failure costs the
line, never the verdict.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable

from promote_gate.facts import BundleFacts
from promote_gate.rules.base import Finding
from promote_gate.yamlio import key_lines, problem_line

POINTER_MD5 = ("outs", "0", "md5")  # what a .dvc pointer says its data is
_DOCUMENTS = (".json", ".yaml", ".yml", ".dvc", ".lock")  # files with keys and parse errors


def located(facts: BundleFacts, findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings, each with the line of the file it is shown at, where it has one."""
    return tuple(
        finding
        if finding.line is not None
        else dataclasses.replace(finding, line=_line(facts, finding))
        for finding in findings
    )


def _line(facts: BundleFacts, finding: Finding) -> int | None:
    try:
        return line_of(facts, finding)
    except Exception:  # a finding without its line is still the finding
        return None


def line_of(facts: BundleFacts, finding: Finding) -> int | None:
    """The 1-based line of the file ``finding`` is shown at that it is about, or None."""
    shown = shown_file(facts, finding.path)
    text = _text(facts, shown)
    if text is None or not shown.endswith(_DOCUMENTS):
        return None
    if finding.key is not None:
        line = key_line(text, finding.key)
        if line is not None:
            return line
    problem = problem_line(text, json_text=shown.endswith(".json"))
    if problem is not None or not shown.endswith(".dvc"):
        return problem
    return key_line(text, POINTER_MD5)


def shown_file(facts: BundleFacts, path: str) -> str:
    """The file a reader can open for repository path ``path`` (``BundleFacts.shown``)."""
    lead = f"{facts.path}/" if facts.path else ""
    if not path.startswith(lead):
        return path
    return lead + facts.shown(path[len(lead) :])


def key_line(text: str, key: tuple[str, ...]) -> int | None:
    """The line of ``key`` in a YAML or JSON text, else of its deepest key that is there."""
    lines = key_lines(text)
    for depth in range(len(key), 0, -1):
        if key[:depth] in lines:
            return lines[key[:depth]]
    return None


def _text(facts: BundleFacts, path: str) -> str | None:
    """The text of a file findings are shown at, as collected: a bundle document, a pointer,
    or the checked dvc.lock (PG204)."""
    lead = f"{facts.path}/" if facts.path else ""
    if path.startswith(lead):
        rel = path[len(lead) :]
        for doc in (facts.manifest, *facts.docs.values()):
            if doc.name == rel:
                return doc.text
        item = facts.files.get(rel.removesuffix(".dvc")) if rel.endswith(".dvc") else None
        if item is not None:
            return item.pointer_text
    return facts.repo.lock_texts.get(path) if facts.repo is not None else None


def first_difference(before: bytes, after: bytes) -> int | None:
    """The first line of ``after`` that differs from ``before`` (PG501: a released file
    edited in place), or None when either is not text or they do not differ."""
    if b"\0" in before or b"\0" in after:
        return None  # binary: lines mean nothing
    # lines as git counts them (split at LF only), each with its ending: CRLF for LF is a change
    old, new = io.BytesIO(before).readlines(), io.BytesIO(after).readlines()
    for number, (was, now) in enumerate(zip(old, new, strict=False), 1):
        if was != now:
            return number
    if len(new) > len(old):
        return len(old) + 1  # lines added at the end: the first of them
    if len(new) < len(old):
        return max(len(new), 1)  # lines removed at the end: the last line left
    return None
