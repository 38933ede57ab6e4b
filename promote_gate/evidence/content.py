"""Content-addressed evidence: the ``.dir`` listings the lock excerpt names, and the
recorded bytes of each snapshot metrics file — git-tracked ones from git objects at
``source.commit``, DVC-cached ones from a DVC object that hashes to its address."""

from __future__ import annotations

from typing import Any

from promote_gate.dvc.cache import read_dir_listing
from promote_gate.dvc.lock import LockFile
from promote_gate.dvc.parsing import Project
from promote_gate.evidence.records import Content, Listings
from promote_gate.evidence.scope import Scope
from promote_gate.evidence.source import known_commit
from promote_gate.facts import BundleFacts, Recorded
from promote_gate.hashing import digest_bytes
from promote_gate.yamlio import MAX_DOCUMENT_BYTES, DocumentError


def listings(scope: Scope, facts: BundleFacts) -> Listings:
    """The ``.dir`` listing of each directory output in the lock excerpt, where a source
    holds a copy that hashes to its md5; else why not."""
    excerpt = facts.docs["lock"].value
    found: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    if isinstance(excerpt, LockFile):
        for stage in excerpt.stages.values():
            for out in stage.outs:
                if out.md5 and out.is_dir and out.md5 not in found:
                    try:
                        found[out.md5] = read_dir_listing(scope.store, out.md5, out.hash_name)
                    except DocumentError as exc:
                        found[out.md5] = None
                        unavailable[out.md5] = str(exc)
                    if found[out.md5] is None:
                        unavailable.setdefault(out.md5, scope.store.missing(out.md5))
    return Listings(found, unavailable)


def content(scope: Scope, facts: BundleFacts) -> Content:
    """The recorded bytes of the snapshot's metrics files (see ``metrics_content``)."""
    commit = known_commit(scope, facts)
    project = scope.project_at(commit)[0] if commit else None
    return Content(metrics_content(scope, facts, commit, project))


def metrics_content(
    scope: Scope, facts: BundleFacts, commit: str | None, project: Project | None
) -> dict[str, Recorded]:
    """The recorded bytes of each snapshot metrics file: git-tracked ones from git objects
    at source.commit, DVC-cached ones from a verified DVC object."""
    snap = facts.docs["metrics"].value
    found: dict[str, Recorded] = {}
    if not isinstance(snap, dict):
        return found
    assert scope.git is not None
    for path, entry in snap.items():
        md5 = entry.get("md5") if isinstance(entry, dict) else None
        if not isinstance(md5, str) or not isinstance(path, str):
            continue
        try:
            blob = scope.git.read_at(commit, path, MAX_DOCUMENT_BYTES) if commit else None
        except DocumentError as exc:
            found[path] = Recorded(None, reason=str(exc))
            continue
        if blob is not None:
            digest = digest_bytes(blob)
            if md5 in {digest.md5, digest.md5_dos2unix}:
                found[path] = Recorded(blob, f"git at {commit[:12]}" if commit else None)
            else:
                found[path] = Recorded(
                    None,
                    conflict=f"{path} as committed at source.commit {str(commit)[:12]} has "
                    f"md5 {digest.md5}, not the {md5} recorded",
                )
            continue
        hit = scope.store.find(md5, keep=True)
        if hit is not None and hit.data is not None:
            found[path] = Recorded(hit.data, hit.where)
            continue
        tracked_by_git = project is not None and any(
            o.path == path and not o.cache for st in project.stages.values() for o in st.outs
        )
        if tracked_by_git:
            found[path] = Recorded(
                None,
                reason=f"{path} is git-tracked (cache: false) but is not committed at "
                f"source.commit {str(commit)[:12]}",
            )
        else:
            found[path] = Recorded(
                None,
                reason=f"{path} ({md5}) is {scope.store.missing(md5)}",
                command=f"dvc push {path}" if scope.ci else f"dvc fetch {path}",
            )
    return found
