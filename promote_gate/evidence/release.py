"""How a bundle stands against the base: released (and what changed in it since, git
attributes included) or a candidate; and the byte-changing attributes of a candidate."""

from __future__ import annotations

import dataclasses

from promote_gate.bundle import SIGNATURE
from promote_gate.errors import GateError
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts, ReleaseFacts
from promote_gate.gitattributes import Attributes
from promote_gate.locate import first_difference
from promote_gate.repo import CommitView, View
from promote_gate.yamlio import DocumentError


# Attributes that make a checkout's bytes differ from the blob on every platform. `text` and
# `text=auto` convert only where the consumer's git says so (core.eol, core.autocrlf): a
# change to them is judged for released bundles (PG501), their presence is not.
def _rewrites_bytes(name: str, value: str) -> bool:
    if name == "eol":
        return value == "crlf"
    if name in {"filter", "working-tree-encoding", "ident"}:
        return value not in {"unset", "unspecified"}
    return False


def _git_paths(view: View, path: str) -> list[str]:
    """The paths under ``path`` git holds (a DVC checkout beside its pointer is not one)."""
    entries = {e.path for e in view.files_under(path)}
    return sorted(p for p in entries if p + ".dvc" not in entries)


def checkout_attributes(attrs: Attributes, paths: list[str]) -> dict[str, dict[str, str]]:
    """Each path's byte-changing attributes that are specified (path -> name -> value)."""
    found: dict[str, dict[str, str]] = {}
    for path in paths:
        try:
            values = attrs.lookup(path)
        except ValueError as exc:
            raise GateError(f"cannot evaluate git attributes for {path}: {exc}") from exc
        specified = {k: v for k, v in values.items() if v != "unspecified"}
        if specified:
            found[path] = specified
    return found


def _changed(base: View, head: View, path: str, signed: bool) -> list[str]:
    """Paths under ``path`` that differ between two views, as git records them.

    A DVC-tracked file is judged by its pointer: the data file itself is not in git, and in
    a working tree it is only a checkout of what the pointer names. With trusted keys
    (``signed``), a signature added or replaced (``bundle.sig``, a regular file) is not a
    change to the release: the signature rules (PG6xx) judge who signed what; a signature
    removed is. Without trusted keys nothing could judge a new one: it is a change.
    """
    before = {e.path: e for e in base.files_under(path)}
    after = {e.path: e for e in head.files_under(path)}
    changed = []
    for item in sorted(set(before) | set(after)):
        old, new = before.get(item), after.get(item)
        if old is None and new is not None and item + ".dvc" in after:
            continue  # a DVC checkout beside its pointer
        if signed and item == f"{path}/{SIGNATURE}" and new is not None and new.kind == "file":
            continue  # signed, or signed again: PG6xx judge it
        same = (
            old is not None
            and new is not None
            and (old.kind, old.target) == (new.kind, new.target)
            and (old.kind != "file" or base.digest(item) == head.digest(item))
        )
        if not same:
            changed.append(item)
    return changed


def rewriting_attributes(scope: Scope, facts: BundleFacts) -> tuple[tuple[str, str, str], ...]:
    """(path, attribute, value) of a candidate's files whose checkout git would rewrite."""
    found = checkout_attributes(scope.attributes(scope.view), _git_paths(scope.view, facts.path))
    return tuple(
        (p, k, v) for p, values in found.items() for k, v in values.items() if _rewrites_bytes(k, v)
    )


def release_facts(
    scope: Scope,
    base: CommitView | None,
    name: str,
    path: str,
    released: list[str],
    present: list[str],
) -> ReleaseFacts:
    """How bundle ``name`` stands against the base: released (and changed?) or a candidate."""
    numbers = [scope.config.version_number(n) for n in present]
    released_numbers = [scope.config.version_number(n) for n in released]
    facts = ReleaseFacts(
        base=base.label if base else None,
        released=name in released,
        removed=name in released and name not in present,
        released_versions=tuple(sorted(n for n in released_numbers if n is not None)),
        versions=tuple(sorted(n for n in numbers if n is not None)),
    )
    if base is None or not facts.released or facts.removed:
        return facts
    paths = _git_paths(base, path)
    before = checkout_attributes(scope.attributes(base), paths)
    after = checkout_attributes(scope.attributes(scope.view), paths)
    moved = tuple(
        f"{p}: {k} {before.get(p, {}).get(k, 'unspecified')} -> "
        f"{after.get(p, {}).get(k, 'unspecified')}"
        for p in paths
        for k in sorted(set(before.get(p, {})) | set(after.get(p, {})))
        if before.get(p, {}).get(k) != after.get(p, {}).get(k)
    )
    changes = tuple(_changed(base, scope.view, path, bool(scope.keys)))
    signature = f"{path}/{SIGNATURE}"
    if signature not in paths and scope.view.entry(signature) is not None:
        # a signature the release gains: its checkout must be its bytes too
        found = checkout_attributes(scope.attributes(scope.view), [signature])
        moved += tuple(
            f"{signature}: {k} unspecified -> {v}"
            for k, v in found.get(signature, {}).items()
            if _rewrites_bytes(k, v)
        )
    return dataclasses.replace(
        facts,
        changes=changes,
        attribute_changes=moved,
        changed_lines=_first_lines(base, scope.view, changes),
    )


def _first_lines(base: View, head: View, paths: tuple[str, ...]) -> dict[str, int]:
    """Where each changed file first differs from the base (PG501's line): files that are
    text on both sides and small enough to read as a document."""
    found: dict[str, int] = {}
    for path in paths:
        try:
            before, after = base.read(path), head.read(path)
        except DocumentError:
            continue
        line = first_difference(before, after) if before is not None and after is not None else None
        if line is not None:
            found[path] = line
    return found
