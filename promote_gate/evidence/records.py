"""What each evidence provider returns: a NamedTuple whose fields are RepoEvidence's.

This module alone has no ``from __future__ import annotations``, on purpose: NamedTuple
turns string annotations into ForwardRefs, compiling each one at import (about 0.1 ms a
field, paid by every run, hooks included); annotations evaluated as the types they name
cost nothing. Every name used below is imported at run time.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from promote_gate.compare import Comparison
from promote_gate.dvc.lock import LockFile
from promote_gate.facts import ArtifactLeak, ConsumerRead, Recorded, RemoteFacts


class SourceEvidence(NamedTuple):
    """RepoEvidence's fields about ``source.commit`` (names as there)."""

    source_known: bool
    source_is_ancestor: bool
    source_lock: LockFile | None
    source_lock_sha256: str | None
    source_lock_error: str | None
    declared_metrics: tuple[str, ...] | None
    declared_error: str | None


class Listings(NamedTuple):
    """RepoEvidence's ``dir_listings`` and ``unavailable`` (why an object was not read)."""

    dir_listings: dict[str, Any]
    unavailable: dict[str, str]


class Content(NamedTuple):
    """RepoEvidence's ``content``: snapshot metrics file -> its recorded bytes."""

    content: dict[str, Recorded]


class Status(NamedTuple):
    """RepoEvidence's ``status`` (stage -> StageStatus) and ``status_error``."""

    status: Any = None
    status_error: str | None = None


class Comparisons(NamedTuple):
    """RepoEvidence's ``comparison``, ``comparison_note`` and ``release_comparison``."""

    comparison: Comparison | None = None
    comparison_note: str | None = None
    release_comparison: Comparison | None = None


class Lineage(NamedTuple):
    """RepoEvidence's ``lineage``, ``experiments`` and ``exploratory`` (names as there)."""

    lineage: Mapping[str, frozenset[str]] | None
    experiments: Mapping[str, str]
    exploratory: tuple[tuple[str, str], ...]


class Consumers(NamedTuple):
    """RepoEvidence's ``consumer_reads`` and ``consumers_error``."""

    consumer_reads: tuple[ConsumerRead, ...] = ()
    consumers_error: str | None = None


class Artifacts(NamedTuple):
    """RepoEvidence's ``artifact_leaks`` and ``artifacts_error``."""

    artifact_leaks: tuple[ArtifactLeak, ...] = ()
    artifacts_error: str | None = None


class Remote(NamedTuple):
    """RepoEvidence's ``remote`` (None unless the policy sets ``require_pushed``)."""

    remote: RemoteFacts | None = None
