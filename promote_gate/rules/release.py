"""PG5xx: the release boundary. A released version never changes; a new one is cut instead."""

from __future__ import annotations

from collections.abc import Iterator

from promote_gate.bundle import MANIFEST
from promote_gate.facts import BundleFacts
from promote_gate.rules.base import Finding, Outcome, Rule


def _released_version_mutated(facts: BundleFacts) -> Iterator[Outcome]:
    release = facts.release
    if release is None or not release.released:
        return
    if release.removed:
        yield Finding(
            facts.path, f"released bundle {facts.name} was removed (it is in the {release.base})"
        )
        return
    for path in release.changes:
        yield Finding(path, f"differs from the released {facts.name} in the {release.base}")


def _version_order(facts: BundleFacts) -> Iterator[Outcome]:
    where = facts.repo_path(MANIFEST)
    if facts.version is None:
        yield Finding(
            facts.path, f"bundle directory {facts.name!r} does not fit the version pattern"
        )
        return
    version = facts.manifest_value.get("version")
    if isinstance(version, str) and version != facts.name:
        yield Finding(
            where, "manifest version differs from the directory name", facts.name, version
        )
    release = facts.release
    released = release.released_versions if release else ()
    if released and facts.version <= max(released):
        yield Finding(
            facts.path,
            f"version {facts.version} does not sort after the newest released version {max(released)}",
        )
    known = {*released, *(release.versions if release else ())}
    if facts.version > 1 and facts.version - 1 not in known:
        yield Finding(facts.path, f"version {facts.version} skips {facts.version - 1}")


RULES = (
    Rule(
        code="PG501",
        name="released-version-mutated",
        summary="a bundle present at the base revision differs in any file, pointer or manifest, "
        "or was removed",
        rationale="Consumers pinned to a released version must get the same bytes forever; an "
        "edit in place silently changes what they depend on.",
        fix="Revert the change to the released bundle and promote a new version instead.",
        example="publish/v1/model.pkl.dvc was updated to a retrained model after v1 was merged.",
        check=_released_version_mutated,
        needs_manifest=False,
        applies_to_removed=True,
    ),
    Rule(
        code="PG502",
        name="version-order",
        summary="a new bundle's version does not sort after every released version, skips a "
        "number, does not fit the version pattern, or differs from its manifest",
        rationale="Versions are how consumers find the newest release and tell releases apart; "
        "gaps and reorderings make both ambiguous.",
        fix="Promote the next free version number (the newest released one plus one).",
        example="v3 is added while the newest released version is v1.",
        check=_version_order,
        needs_manifest=False,
        candidates_only=True,
    ),
)
