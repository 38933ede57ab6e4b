"""Collect: a bundle and the repository's evidence about it, as frozen facts.

One loop asks the evidence providers (``promote_gate/evidence/``) for exactly what the
selected rules declare they read (``Rule.evidence``), as flake8 hands each plugin only the
parameters it asks for. All I/O of ``check`` happens in the providers.
"""

# No `from __future__ import annotations` here: it would make the NamedTuples below compile
# their annotations as ForwardRefs at every import (see evidence/records.py).

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol

from promote_gate.evidence import (
    comparison,
    consumers,
    content,
    lineage,
    remote,
    signature,
    source,
    status,
)
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.release import rewriting_attributes
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts, RepoEvidence


class Evidence(Protocol):
    """What a provider returns: a NamedTuple whose fields are RepoEvidence's (NamedTuples,
    not dataclasses: a dataclass costs ~0.7 ms to define, paid by every run at import)."""

    def _asdict(self) -> dict[str, Any]: ...


class Provider(NamedTuple):
    """One kind of evidence: its name as rules declare it ("" for evidence every rule
    family reads, always collected), which bundles it is about, and the function that
    collects it (a frozen record whose fields are RepoEvidence's)."""

    name: str
    about: Literal["every", "candidate", "surface"]
    collect: Callable[[Scope, BundleFacts], Evidence]


PROVIDERS = (
    Provider("", "every", source.source_evidence),
    Provider("", "every", content.listings),
    Provider("content", "every", content.content),
    Provider("status", "candidate", status.status),
    Provider("comparison", "candidate", comparison.comparisons),
    Provider("lineage", "candidate", lineage.lineage),
    Provider("consumers", "surface", consumers.consumers),
    Provider("artifacts", "surface", consumers.artifacts),
    Provider("remote", "every", remote.remote),
)


class Collector:
    """Builds :class:`BundleFacts` for the bundles of one scope (one project of one
    checkout). ``needed``: the evidence names the selected rules read (None: all)."""

    def __init__(self, scope: Scope, needed: frozenset[str] | None = None) -> None:
        self.scope = scope
        self.needed = needed

    def bundle(
        self, name: str, path: str, candidate: bool = False, surface: bool = False
    ) -> BundleFacts:
        """The bundle's facts and what the repository says about it."""
        scope = self.scope
        facts = dataclasses.replace(read_bundle(scope, name, path), candidate=candidate)
        if facts.kind == "directory" and (self.needed is None or "signature" in self.needed):
            facts = dataclasses.replace(facts, signature=signature.signature(scope, facts))
        if scope.git is None:  # a bare bundle directory: nothing but the bundle
            return facts
        facts = source.with_wdirs(scope, facts)
        if candidate and facts.kind == "directory":
            facts = dataclasses.replace(facts, attributes=rewriting_attributes(scope, facts))
        fields: dict[str, Any] = {
            "checked": scope.view.label,
            "checked_commit": scope.checked_commit,
            "ci": scope.ci,
        }
        about = {"every": True, "candidate": candidate, "surface": surface}
        for provider in PROVIDERS:
            wanted = not provider.name or self.needed is None or provider.name in self.needed
            if wanted and about[provider.about]:
                found = provider.collect(scope, facts)
                fields |= found._asdict()
        return dataclasses.replace(facts, repo=RepoEvidence(**fields))
