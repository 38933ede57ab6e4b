"""Collect: read a bundle and the repository evidence about it into frozen facts.

All I/O of ``check`` and ``verify`` happens here (and in the modules it calls).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from promote_gate.bundle import MANIFEST, doc_names
from promote_gate.config import Config
from promote_gate.dvcfiles import (
    DVC_LOCK,
    LockFile,
    cache_dir,
    cache_paths,
    norm,
    parse_lock,
    parse_pointer,
    parse_project,
    pipeline_status,
    read_dir_listing,
)
from promote_gate.errors import GateError
from promote_gate.facts import BundleFacts, Doc, FileFacts, ReleaseFacts, RepoEvidence
from promote_gate.hashing import Digest, digest_bytes, digest_file, sha256_hex
from promote_gate.repo import CommitView, Git, View
from promote_gate.yamlio import MAX_DOCUMENT_BYTES, DocumentError, load_json, load_yaml

Loader = Callable[[bytes, str], Any]


def _text(data: bytes, name: str) -> str:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{name} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{name} is not UTF-8 text") from exc


_LOADERS: dict[str, Loader] = {
    "params": load_yaml,
    "metrics": load_json,
    "lock": parse_lock,
    "report": _text,
    "checksums": _text,
}


def read_doc(view: View, path: str, name: str, loader: Loader) -> Doc:
    entry = view.entry(path)
    if entry is None:
        return Doc(name, present=False)
    if entry.kind != "file":
        return Doc(name, present=True, error=f"{name} is a {entry.kind}, not a file")
    data = view.read(path) or b""
    try:
        return Doc(name, True, loader(data, name), digest=digest_bytes(data))
    except DocumentError as exc:
        return Doc(name, True, error=str(exc), digest=digest_bytes(data))


def list_bundles(view: View, config: Config) -> list[str]:
    """Bundle directory names under the publish root, by version number then name."""
    root = config.publish_root
    names = {
        e.path[len(root) + 1 :].split("/", 1)[0]
        for e in view.files_under(root)
        if "/" in e.path[len(root) + 1 :]
    }
    return sorted(
        names, key=lambda n: (config.version_number(n) is None, config.version_number(n) or 0, n)
    )


def _changed(base: View, head: View, path: str) -> list[str]:
    """Paths under ``path`` that differ between two views, as git records them.

    A DVC-tracked file is judged by its pointer: the data file itself is not in git, and in
    a working tree it is only a checkout of what the pointer names.
    """
    before = {e.path: e for e in base.files_under(path)}
    after = {e.path: e for e in head.files_under(path)}
    changed = []
    for item in sorted(set(before) | set(after)):
        old, new = before.get(item), after.get(item)
        if old is None and new is not None and item + ".dvc" in after:
            continue  # a DVC checkout beside its pointer
        same = (
            old is not None
            and new is not None
            and (old.kind, old.target) == (new.kind, new.target)
            and (old.kind != "file" or base.read(item) == head.read(item))
        )
        if not same:
            changed.append(item)
    return changed


class Collector:
    """Builds :class:`BundleFacts` for bundles in one view of one repository."""

    def __init__(self, view: View, config: Config, git: Git | None) -> None:
        self.view = view
        self.config = config
        self.git = git
        self.cache = cache_dir(view.root) if git is not None else None
        if isinstance(view, CommitView):
            self.checked_commit: str | None = view.commit
        else:
            self.checked_commit = git.head() if git is not None else None

    # -- the bundle itself -------------------------------------------------------------

    def _from_cache(self, md5: str | None) -> Digest | None:
        if self.cache is None or not md5:
            return None
        for path in cache_paths(self.cache, md5):
            if os.path.isfile(path):
                return digest_file(path)
        return None

    def bundle(self, name: str, path: str, candidate: bool = False) -> BundleFacts:
        view = self.view
        lead = f"{path}/" if path else ""
        entries = {e.path[len(lead) :]: e for e in view.files_under(path)}
        manifest = read_doc(view, lead + MANIFEST, MANIFEST, load_json)
        names = doc_names(manifest.value)
        docs = {
            role: read_doc(view, lead + rel, rel, _LOADERS[role]) for role, rel in names.items()
        }

        files: dict[str, FileFacts] = {}
        pointers: set[str] = set()
        for rel, entry in entries.items():
            if entry.kind == "file" and rel.endswith(".dvc"):
                pointers.add(rel)
                continue
            digest = view.digest(entry.path) if entry.kind == "file" else None
            files[rel] = FileFacts(rel, entry.kind, entry.target, digest)
        for pointer_rel in sorted(pointers):
            data_rel = pointer_rel[: -len(".dvc")]
            base = data_rel.rsplit("/", 1)[0] if "/" in data_rel else ""
            try:
                pointer = parse_pointer(view.read(lead + pointer_rel) or b"", pointer_rel)
            except DocumentError as exc:
                old = files.get(data_rel, FileFacts(data_rel, "file", in_tree=False))
                files[data_rel] = dataclasses.replace(old, pointer_error=str(exc))
                continue
            if norm(pointer.path, base) != data_rel:
                old = files.get(data_rel, FileFacts(data_rel, "file", in_tree=False))
                msg = f"{pointer_rel} tracks {pointer.path!r}, not {data_rel.rsplit('/', 1)[-1]!r}"
                files[data_rel] = dataclasses.replace(old, pointer_error=msg)
                continue
            present = files.get(data_rel)
            if present is None:
                files[data_rel] = FileFacts(
                    data_rel,
                    "file",
                    digest=self._from_cache(pointer.md5),
                    in_tree=False,
                    pointer=pointer,
                )
            else:
                files[data_rel] = dataclasses.replace(present, pointer=pointer)
        bookkeeping = frozenset({MANIFEST, ".gitignore", *names.values()})
        for rel in bookkeeping:
            files.pop(rel, None)

        facts = BundleFacts(
            name=name,
            path=path,
            version=self.config.version_number(name),
            manifest=manifest,
            files=files,
            docs=docs,
            candidate=candidate,
            bookkeeping=bookkeeping,
        )
        if self.git is None:
            return facts
        return dataclasses.replace(facts, repo=self._evidence(facts, candidate))

    # -- the release boundary ----------------------------------------------------------

    def release(
        self, base: CommitView | None, name: str, path: str, released: list[str], present: list[str]
    ) -> ReleaseFacts:
        """How bundle ``name`` stands against the base: released (and changed?) or a candidate."""
        numbers = [self.config.version_number(n) for n in present]
        released_numbers = [self.config.version_number(n) for n in released]
        facts = ReleaseFacts(
            base=base.label if base else None,
            released=name in released,
            removed=name in released and name not in present,
            released_versions=tuple(sorted(n for n in released_numbers if n is not None)),
            versions=tuple(sorted(n for n in numbers if n is not None)),
        )
        if base is None or not facts.released or facts.removed:
            return facts
        return dataclasses.replace(facts, changes=tuple(_changed(base, self.view, path)))

    # -- what the repository says about it --------------------------------------------

    def _evidence(self, facts: BundleFacts, candidate: bool) -> RepoEvidence:
        git = self.git
        assert git is not None
        source = facts.manifest_value.get("source")
        commit = source.get("commit") if isinstance(source, dict) else None
        resolved = git.resolve(commit) if isinstance(commit, str) and len(commit) >= 40 else None
        known = resolved is not None and resolved == commit
        ancestor = bool(
            known and self.checked_commit and git.is_ancestor(str(commit), self.checked_commit)
        )
        lock_bytes = git.read_at(str(commit), DVC_LOCK) if known else None
        lock: LockFile | None = None
        lock_error = None
        if known and lock_bytes is None:
            lock_error = "there is no dvc.lock in that commit"
        elif lock_bytes is not None:
            try:
                lock = parse_lock(lock_bytes, f"{DVC_LOCK} at {str(commit)[:12]}")
            except DocumentError as exc:
                lock_error = str(exc)

        excerpt = facts.docs["lock"].value
        listings: dict[str, Any] = {}
        if isinstance(excerpt, LockFile) and self.cache is not None:
            for stage in excerpt.stages.values():
                for out in stage.outs:
                    if out.md5 and out.is_dir and out.md5 not in listings:
                        try:
                            listings[out.md5] = read_dir_listing(self.cache, out.md5)
                        except DocumentError:
                            listings[out.md5] = None

        status = status_error = None
        if candidate:
            status, status_error = self._status(excerpt)
        return RepoEvidence(
            checked=self.view.label,
            checked_commit=self.checked_commit,
            source_known=known,
            source_is_ancestor=ancestor,
            source_lock=lock,
            source_lock_sha256=sha256_hex(lock_bytes) if lock_bytes is not None else None,
            source_lock_error=lock_error,
            dir_listings=listings,
            content=self._metrics_content(facts),
            status=status,
            status_error=status_error,
        )

    def _metrics_content(self, facts: BundleFacts) -> dict[str, bytes | None]:
        """The recorded bytes of each snapshot metrics file, found by md5 in git or the cache."""
        snap = facts.docs["metrics"].value
        found: dict[str, bytes | None] = {}
        if not isinstance(snap, dict):
            return found
        for path, entry in snap.items():
            md5 = entry.get("md5") if isinstance(entry, dict) else None
            if not isinstance(md5, str) or md5 in found:
                continue
            found[md5] = None
            candidates: list[bytes | None] = [self.view.read(str(path))]
            if self.cache is not None:
                for cached in cache_paths(self.cache, md5):
                    if os.path.isfile(cached) and os.path.getsize(cached) <= MAX_DOCUMENT_BYTES:
                        with open(cached, "rb") as fobj:
                            candidates.append(fobj.read())
            for data in candidates:
                if data is not None and digest_bytes(data).md5 == md5:
                    found[md5] = data
                    break
        return found

    def _status(self, excerpt: Any) -> tuple[Any, str | None]:
        if not isinstance(excerpt, LockFile):
            return None, None
        try:
            project = parse_project(self.view)
            if project is None:
                return None, f"there is no dvc.yaml in the {self.view.label}"
            lock_bytes = self.view.read(DVC_LOCK)
            if lock_bytes is None:
                return None, f"there is no dvc.lock in the {self.view.label}"
            lock = parse_lock(lock_bytes, DVC_LOCK, project.wdirs)
            return pipeline_status(self.view, project, lock, list(excerpt.stages)), None
        except (DocumentError, GateError) as exc:
            return None, f"cannot evaluate the pipeline in the {self.view.label}: {exc}"
