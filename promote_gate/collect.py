"""Collect: read a bundle and the repository evidence about it into frozen facts.

All I/O of ``check`` and ``verify`` happens here (and in the modules it calls).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from promote_gate.bundle import MANIFEST, doc_names, manifest_schema
from promote_gate.compare import Comparison, Side, compare, side_metrics
from promote_gate.config import Config
from promote_gate.dvc import DVC_LOCK, norm
from promote_gate.dvc.cache import cache_dir, default_remote, read_dir_listing
from promote_gate.dvc.lock import LockFile, lock_digest, parse_lock, project_lock
from promote_gate.dvc.params import flatten, read_metrics_file
from promote_gate.dvc.parsing import Project, parse_project
from promote_gate.dvc.pointer import parse_pointer
from promote_gate.dvc.project import lock_of
from promote_gate.dvc.status import pipeline_status
from promote_gate.errors import GateError
from promote_gate.facts import (
    BundleFacts,
    ConsumerRead,
    Doc,
    FileFacts,
    Recorded,
    ReleaseFacts,
    RemoteFacts,
    RepoEvidence,
)
from promote_gate.gitattributes import Attributes
from promote_gate.hashing import digest_bytes
from promote_gate.objects import DirectorySource, ObjectStore, Source, remote_source
from promote_gate.repo import CommitView, Git, View, iter_parents
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


def schema_errors(value: Any) -> tuple[str, ...]:
    """Where a manifest breaks the manifest schema (validated once, here)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_schema())
    return tuple(
        f"{'/'.join(str(p) for p in err.absolute_path) or '(top level)'}: {err.message[:300]}"
        for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    )


def read_doc(view: View, path: str, name: str, loader: Loader) -> Doc:
    entry = view.entry(path)
    if entry is None:
        return Doc(name, present=False)
    if entry.kind != "file":
        return Doc(name, present=True, error=f"{name} is a {entry.kind}, not a file")
    try:
        data = view.read(path)
    except DocumentError as exc:  # too large to be a document: refused unread
        return Doc(name, True, error=str(exc))
    if data is None:
        return Doc(name, present=True, error=f"{name} is not a regular file")
    text = data.decode("utf-8", "replace")
    try:
        return Doc(name, True, loader(data, name), digest=digest_bytes(data), text=text)
    except DocumentError as exc:
        return Doc(name, True, error=str(exc), digest=digest_bytes(data), text=text)


def fold(name: str) -> str:
    """A name as case-insensitive, normalising filesystems (macOS, Windows) compare it."""
    return unicodedata.normalize("NFC", name).casefold()


def list_bundles(view: View, config: Config) -> list[str]:
    """Bundle directory names under the publish root, by version number then name."""
    root = config.publish_root
    parent, _, last = root.rpartition("/")
    twins = sorted(n for n in view.children(parent) if n != last and fold(n) == fold(last))
    if twins:  # on macOS and Windows checkouts their files land inside the publish root
        raise GateError(
            f"{', '.join(f'{parent}/{t}' if parent else t for t in twins)}/ and {root}/ are one "
            "directory on case-insensitive filesystems: files there would enter the bundles"
        )
    for ancestor in [*reversed(list(iter_parents(root))), root]:
        above = view.entry(ancestor) if ancestor != root else None
        if above is not None:  # a symlinked directory on the way: never followed
            what = f"a symlink to {above.target}" if above.kind == "symlink" else f"a {above.kind}"
            raise GateError(
                f"{ancestor}/ (on the way to the publish root {root}/) is {what} in the "
                f"{view.label}, not a directory: bundles must be directories in the repository"
            )
    itself = view.entry(root)
    if itself is not None:  # never followed: a symlinked root could be any directory at all
        what = f"a symlink to {itself.target}" if itself.kind == "symlink" else f"a {itself.kind}"
        raise GateError(
            f"the publish root {root}/ is {what} in the {view.label}, not a directory: "
            "bundles must be directories in the repository"
        )
    names = {
        e.path[len(root) + 1 :].split("/", 1)[0]
        for e in view.files_under(root)
        # a symlink or submodule directly under the root stands where a bundle would: judge it
        if "/" in e.path[len(root) + 1 :] or e.kind != "file"
    }
    return sorted(
        names, key=lambda n: (config.version_number(n) is None, config.version_number(n) or 0, n)
    )


# Attributes that make a checkout's bytes differ from the blob on every platform. `text` and
# `text=auto` convert only where the consumer's git says so (core.eol, core.autocrlf): a
# change to them is judged for released bundles (PG501), their presence is not.
def _rewrites_bytes(name: str, value: str) -> bool:
    if name == "eol":
        return value == "crlf"
    if name in {"filter", "working-tree-encoding", "ident"}:
        return value not in {"unset", "unspecified"}
    return False


def attribute_reader(view: View) -> Callable[[str], bytes | None]:
    """``.gitattributes`` blobs as git reads them (a symlinked one is its link text)."""

    def read(path: str) -> bytes | None:
        entry = view.entry(path)
        if entry is None:
            return None
        if entry.kind == "symlink":
            return (entry.target or "").encode("utf-8", "surrogateescape")
        return view.read(path) if entry.kind == "file" else None

    return read


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
            and (old.kind != "file" or base.digest(item) == head.digest(item))
        )
        if not same:
            changed.append(item)
    return changed


def side_of_bundle(facts: BundleFacts) -> Side:
    """A promoted bundle as one side of a comparison (its snapshots, never the cache)."""
    params = facts.docs["params"].value
    metrics = facts.docs["metrics"].value
    lock = facts.docs["lock"].value
    files = facts.manifest_value.get("files")
    entries = [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
    return Side(
        label=facts.name,
        params=params if isinstance(params, dict) else {},
        metrics=side_metrics(metrics) if isinstance(metrics, dict) else {},
        files={
            str(f.get("path")): (
                str(f.get("md5")),
                f["size"] if isinstance(f.get("size"), int) else -1,
            )
            for f in entries
        },
        lock=lock if isinstance(lock, LockFile) else None,
        promoted=frozenset(
            str(f["source"].get("path")) for f in entries if isinstance(f.get("source"), dict)
        ),
        metric_stages=frozenset(
            str(e.get("stage")) for e in metrics.values() if isinstance(e, dict) and e.get("stage")
        )
        if isinstance(metrics, dict)
        else frozenset(),
    )


def side_of_revision(view: CommitView, store: ObjectStore) -> Side:
    """The pipeline state at a revision: dvc.lock, its params, and the metrics files it declares."""
    project = parse_project(view)
    lock = project_lock(view.read, project, f" at {str(view.commit)[:12]}")[0] if project else None
    if project is None or lock is None:
        raise GateError(f"there is no dvc.yaml and dvc.lock in the {view.label} to compare with")
    params: dict[str, dict[str, Any]] = {}
    for stage in lock.stages.values():
        for pfile, values in stage.params.items():
            params.setdefault(pfile, {}).update(values)
    metrics: dict[str, dict[str, Any]] = {}
    stages = set()
    for path in project.metrics:
        hit = lock.producer(path)
        data = view.read(path)
        if data is None and hit is not None and hit[1].md5 and hit[1].path == path:
            data = store.document(hit[1].md5)
        if data is None:
            continue
        metrics[path] = flatten(read_metrics_file(data, path))
        if hit is not None:
            stages.add(hit[0].name)
    return Side(view.label, params, metrics, {}, lock, frozenset(), frozenset(stages))


LOCAL_CONFIG = ".dvc/config.local"


def evidence_store(
    git: Git, view: View, policy_view: View, *, ci: bool = False, dvc_cache: str | None = None
) -> tuple[ObjectStore, RemoteFacts, list[str]]:
    """Where DVC objects may come from, the default remote (PG505), and notes for the report.

    The remote is the one the policy's revision configures (the base, in the hook and CI),
    so a change cannot point it at storage it brings. ``.dvc/config.local`` is a machine's
    own file: it is read only outside CI and only while git does not track it. In CI the
    checkout's DVC cache is not used at all (a change could bring one): objects come from
    ``dvc_cache`` when given, and from the remote.
    """
    notes: list[str] = []
    commits = [v for v in (view, policy_view) if isinstance(v, CommitView)]
    tracked = any(v.entry(LOCAL_CONFIG) is not None for v in commits) or (
        git.head() is not None and git.read_at("HEAD", LOCAL_CONFIG) is not None
    )
    local = not ci and not tracked
    if tracked:
        notes.append(
            f"note: {LOCAL_CONFIG} is committed; it is a machine's own file and is ignored"
        )
    sources: list[Source] = []
    cache = dvc_cache or (None if ci else cache_dir(git.root, local=local))
    if cache is not None:
        sources.append(DirectorySource(os.path.abspath(cache), "the DVC cache"))
    read = policy_view.read if isinstance(policy_view, CommitView) else None
    remote = default_remote(git.root, read, local=local)
    reason = None
    if remote.name is None or remote.url is None:
        reason = "no default DVC remote is configured (dvc remote add -d)"
    else:
        source, reason = remote_source(remote.name, remote.url, dict(remote.config), git.root)
        if source is not None:
            sources.append(source)
    if policy_view is not view:
        mine = default_remote(git.root, view.read if isinstance(view, CommitView) else None, False)
        theirs = default_remote(git.root, read, local=False)
        if (mine.name, mine.url) != (theirs.name, theirs.url):
            notes.append(
                f"note: this change re-points the default DVC remote ({theirs.name}: {theirs.url} "
                f"-> {mine.name}: {mine.url}); the remote of the base ({policy_view.label}) "
                "applies until it is merged"
            )
    store = ObjectStore(sources, unavailable=None)
    return store, RemoteFacts(remote.name, remote.url, None, reason), notes


MAX_LINEAGE = 1000  # dvc.lock versions read along the checked history
_PATH_TOKEN = re.compile(r"[\w.@+-]*[\w.@+-]/[\w./@+-]*|\.dvc/cache")


def _listed(facts: BundleFacts) -> list[dict[str, Any]]:
    files = facts.manifest_value.get("files")
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def _out_hashes(data: bytes | None) -> set[str]:
    """Every output md5 a dvc.lock records (a broken one records none)."""
    if data is None:
        return set()
    try:
        lock = parse_lock(data)
    except DocumentError:
        return set()
    return {o.md5 for st in lock.stages.values() for o in st.outs if o.md5}


def _lock_at(git: Git, rev: str, path: str = DVC_LOCK) -> bytes | None:
    """A dvc.lock at ``rev`` (None if absent or too large to be a document)."""
    try:
        return git.read_at(rev, path, MAX_DOCUMENT_BYTES)
    except DocumentError:
        return None


class Collector:
    """Builds :class:`BundleFacts` for bundles in one view of one repository.

    ``store`` is where content-addressed evidence (DVC objects) may come from; every object
    is hashed against its address before it counts. ``remote`` is the default DVC remote as
    the policy's revision configures it (PG505).
    """

    def __init__(
        self,
        view: View,
        config: Config,
        git: Git | None,
        policy_view: View | None = None,
        store: ObjectStore | None = None,
        remote: RemoteFacts | None = None,
    ) -> None:
        self.view = view
        self.policy_view = policy_view or view
        self.config = config
        self.git = git
        if store is None:
            sources = [DirectorySource(cache_dir(view.root), "the DVC cache")] if git else []
            store = ObjectStore(sources)
        self.store = store
        self.remote = remote
        self.released: frozenset[str] = frozenset()  # bundle names present at the base
        self.ci = False  # CI: DVC objects come from the remote alone
        self.needed: frozenset[str] | None = None  # costly evidence the rules need (None: all)
        self._statuses: dict[frozenset[str], tuple[Any, str | None]] = {}
        self._consumers_error: str | None = None
        self._checked: tuple[Project | None, DocumentError | None] | None = None
        self._lineage_cache: tuple[dict[str, frozenset[str]], dict[str, str]] | None = None
        self._bundles: dict[tuple[str, str], BundleFacts] = {}
        self._projects: dict[str, tuple[Project | None, str | None]] = {}
        self._attributes: dict[int, Attributes] = {}
        if isinstance(view, CommitView):
            self.checked_commit: str | None = view.commit
        else:
            self.checked_commit = git.head() if git is not None else None

    # -- the bundle itself -------------------------------------------------------------

    def attributes(self, view: View) -> Attributes:
        """The git attributes of ``view`` (one evaluator per view, each file read once)."""
        if id(view) not in self._attributes:
            self._attributes[id(view)] = Attributes(attribute_reader(view))
        return self._attributes[id(view)]

    def bundle(
        self,
        name: str,
        path: str,
        candidate: bool = False,
        evidence: bool = True,
        surface: bool = False,
    ) -> BundleFacts:
        """The bundle's facts, and with ``evidence`` what the repository says about it."""
        facts = dataclasses.replace(self._read(name, path), candidate=candidate)
        if self.git is None or not evidence:
            return facts
        facts = self._with_wdirs(facts)
        if candidate and facts.kind == "directory":
            found = checkout_attributes(self.attributes(self.view), _git_paths(self.view, path))
            rewriting = tuple(
                (p, k, v)
                for p, values in found.items()
                for k, v in values.items()
                if _rewrites_bytes(k, v)
            )
            facts = dataclasses.replace(facts, attributes=rewriting)
        return dataclasses.replace(facts, repo=self._evidence(facts, candidate, surface))

    def _read(self, name: str, path: str) -> BundleFacts:
        """The bundle itself, read and hashed once: a baseline is also a bundle of its own."""
        if (name, path) in self._bundles:
            return self._bundles[(name, path)]
        view = self.view
        itself = view.entry(path) if path else None
        if itself is not None:  # a submodule, symlink or file where a bundle directory belongs
            facts = BundleFacts(
                name=name,
                path=path,
                version=self.config.version_number(name),
                manifest=Doc(MANIFEST, present=False),
                files={},
                docs={role: Doc(rel, present=False) for role, rel in doc_names(None).items()},
                kind=itself.kind if itself.kind != "symlink" else f"symlink to {itself.target}",
            )
            self._bundles[(name, path)] = facts
            return facts
        lead = f"{path}/" if path else ""
        entries = {e.path[len(lead) :]: e for e in view.files_under(path)}
        manifest = read_doc(view, lead + MANIFEST, MANIFEST, load_json)
        names = doc_names(manifest.value)
        docs = {
            role: read_doc(view, lead + rel, rel, _LOADERS[role]) for role, rel in names.items()
        }

        files: dict[str, FileFacts] = {}
        pointers: set[str] = set()
        digests = view.digest_many(
            [e.path for r, e in entries.items() if e.kind == "file" and not r.endswith(".dvc")]
        )
        for rel, entry in entries.items():
            if entry.kind == "file" and rel.endswith(".dvc"):
                pointers.add(rel)
                continue
            digest = digests.get(entry.path)
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
                files[data_rel] = dataclasses.replace(
                    old, pointer_error=msg, pointer_path=pointer.path
                )
                continue
            present = files.get(data_rel)
            if present is None:
                digest = self.store.digest(pointer.md5, pointer.hash_name) if pointer.md5 else None
                files[data_rel] = FileFacts(
                    data_rel,
                    "file",
                    digest=digest,
                    in_tree=False,
                    pointer=pointer,
                    pointer_path=pointer.path,
                    missing=None
                    if digest is not None or not pointer.md5
                    else self.store.missing(pointer.md5),
                )
            else:
                files[data_rel] = dataclasses.replace(
                    present, pointer=pointer, pointer_path=pointer.path
                )
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
            bookkeeping=bookkeeping,
            manifest_errors=schema_errors(manifest.value) if manifest.ok else (),
            require_metrics=self.config.require_metrics,
        )
        self._bundles[(name, path)] = facts
        return facts

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
        paths = _git_paths(base, path)
        before = checkout_attributes(self.attributes(base), paths)
        after = checkout_attributes(self.attributes(self.view), paths)
        moved = tuple(
            f"{p}: {k} {before.get(p, {}).get(k, 'unspecified')} -> "
            f"{after.get(p, {}).get(k, 'unspecified')}"
            for p in paths
            for k in sorted(set(before.get(p, {})) | set(after.get(p, {})))
            if before.get(p, {}).get(k) != after.get(p, {}).get(k)
        )
        return dataclasses.replace(
            facts, changes=tuple(_changed(base, self.view, path)), attribute_changes=moved
        )

    # -- what the repository says about it --------------------------------------------

    def _evidence(self, facts: BundleFacts, candidate: bool, surface: bool) -> RepoEvidence:
        git = self.git
        assert git is not None
        source = facts.manifest_value.get("source")
        commit = source.get("commit") if isinstance(source, dict) else None
        resolved = git.resolve(commit) if isinstance(commit, str) and len(commit) >= 40 else None
        known = resolved is not None and resolved == commit
        ancestor = bool(
            known and self.checked_commit and str(commit) in git.ancestors(self.checked_commit)
        )
        lock: LockFile | None = None
        lock_error = None
        project, project_error = self._project_at(str(commit)) if known else (None, None)
        found: dict[str, bytes] = {}
        if known:
            lock, found, lock_error = self._lock_at_commit(str(commit), project)

        excerpt = facts.docs["lock"].value
        listings: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        if isinstance(excerpt, LockFile):
            for stage in excerpt.stages.values():
                for out in stage.outs:
                    if out.md5 and out.is_dir and out.md5 not in listings:
                        try:
                            listings[out.md5] = read_dir_listing(self.store, out.md5, out.hash_name)
                        except DocumentError as exc:
                            listings[out.md5] = None
                            unavailable[out.md5] = str(exc)
                        if listings[out.md5] is None:
                            unavailable.setdefault(out.md5, self.store.missing(out.md5))
        declared: tuple[str, ...] | None = None
        if project is not None and lock is not None:
            declared = tuple(m for m in project.metrics if lock.producer(m) is not None)

        status = status_error = None
        comparison = comparison_note = None
        lineage: dict[str, frozenset[str]] | None = None
        experiments: dict[str, str] = {}
        release_comparison = None
        if candidate and self._wants("status"):
            status, status_error = self._status(excerpt)
        if candidate and self._wants("comparison"):
            comparison, comparison_note = self._compare(facts)
            release_comparison = self._compare_released(facts, comparison)
        if candidate and self._wants("lineage"):
            lineage, experiments = self._lineage()
        return RepoEvidence(
            checked=self.view.label,
            checked_commit=self.checked_commit,
            source_known=known,
            source_is_ancestor=ancestor,
            source_lock=lock,
            source_lock_sha256=lock_digest(found) if found else None,
            source_lock_error=lock_error,
            dir_listings=listings,
            content=self._metrics_content(facts, str(commit) if known else None, project)
            if self._wants("content")
            else {},
            unavailable=unavailable,
            declared_metrics=declared,
            declared_error=project_error,
            status=status,
            status_error=status_error,
            comparison=comparison,
            comparison_note=comparison_note,
            release_comparison=release_comparison,
            lineage=lineage,
            experiments=experiments,
            exploratory=self._exploratory(facts) if candidate and self._wants("lineage") else (),
            consumer_reads=self._consumer_reads(facts)
            if surface and self._wants("consumers")
            else (),
            consumers_error=self._consumers_error if surface else None,
            remote=self._remote(facts)
            if self.config.require_pushed and self._wants("remote")
            else None,
            ci=self.ci,
        )

    def _with_wdirs(self, facts: BundleFacts) -> BundleFacts:
        """The lock excerpt's paths read relative to each stage's ``wdir``, as dvc.yaml at
        source.commit defines it (the excerpt is dvc.lock verbatim: wdir-relative)."""
        excerpt = facts.docs["lock"].value
        source = facts.manifest_value.get("source")
        commit = source.get("commit") if isinstance(source, dict) else None
        if not isinstance(excerpt, LockFile) or not isinstance(commit, str):
            return facts
        assert self.git is not None
        if self.git.resolve(commit) != commit:
            return facts
        project, _ = self._project_at(commit)
        if project is None:
            return facts
        docs = dict(facts.docs)
        docs["lock"] = dataclasses.replace(docs["lock"], value=excerpt.rebuilt(project.wdirs))
        return dataclasses.replace(facts, docs=docs)

    def _checked_project(self) -> Project | None:
        """The checked view's dvc.yaml files resolved, once (DocumentError each time)."""
        if self._checked is None:
            try:
                self._checked = (parse_project(self.view), None)
            except DocumentError as exc:
                self._checked = (None, exc)
        project, error = self._checked
        if error is not None:
            raise error
        return project

    def _wants(self, evidence: str) -> bool:
        return self.needed is None or evidence in self.needed

    def _lock_at_commit(
        self, commit: str, project: Project | None
    ) -> tuple[LockFile | None, dict[str, bytes], str | None]:
        """The project's dvc.lock files at ``commit`` (git objects): as one LockFile, their
        bytes, and why they cannot be read. Without a dvc.yaml there, dvc.lock as it is."""
        assert self.git is not None
        git = self.git
        try:
            if project is not None:
                lock, found = project_lock(
                    lambda p: git.read_at(commit, p, MAX_DOCUMENT_BYTES),
                    project,
                    f" at {commit[:12]}",
                )
            else:
                data = git.read_at(commit, DVC_LOCK, MAX_DOCUMENT_BYTES)
                found = {DVC_LOCK: data} if data is not None else {}
                lock = parse_lock(data, f"{DVC_LOCK} at {commit[:12]}") if data else None
        except DocumentError as exc:
            return None, {}, str(exc)
        if not found:
            return None, {}, "there is no dvc.lock in that commit"
        return lock, found, None

    def _project_at(self, commit: str) -> tuple[Project | None, str | None]:
        """dvc.yaml as the source commit had it (git objects), or why it cannot be read."""
        if commit not in self._projects:
            assert self.git is not None
            try:
                project = parse_project(CommitView(self.git, commit))
                error = None if project is not None else f"there is no dvc.yaml at {commit[:12]}"
            except (DocumentError, GateError) as exc:
                project, error = None, f"dvc.yaml at {commit[:12]} cannot be read: {exc}"
            self._projects[commit] = (project, error)
        return self._projects[commit]

    # -- the release boundary: lineage, exploratory paths, consumers, the remote ---------

    def _lineage(self) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
        """Output md5 -> the commits on the checked lineage whose dvc.lock records it; and
        md5 -> the experiment ref (``refs/exps/…``) recording it. Computed once."""
        if self._lineage_cache is not None:
            return self._lineage_cache
        git = self.git
        assert git is not None
        lineage: dict[str, set[str]] = {}
        try:
            project = self._checked_project()
        except DocumentError:
            project = None
        paths = [lock_of(f) for f in project.dvcfiles] if project else [DVC_LOCK]
        commits = []
        if self.checked_commit:
            out = git.run(
                "log",
                "--full-history",  # lock states from merged side branches are on the lineage too
                "--format=%H",
                "-n",
                str(MAX_LINEAGE),
                self.checked_commit,
                "--",
                *(git.path(p) for p in paths),
            )
            commits = out.split()
        locks = [(c, _lock_at(git, c, p)) for c in commits for p in paths]
        if not isinstance(self.view, CommitView) or self.view.staged:  # not yet committed
            locks += [(self.view.label, self.view.read(p)) for p in paths]
        for commit, data in locks:
            for md5 in _out_hashes(data):
                lineage.setdefault(md5, set()).add(commit)
        experiments: dict[str, str] = {}
        for ref in git.refs("refs/exps/"):
            for md5 in {m for p in paths for m in _out_hashes(_lock_at(git, ref, p))}:
                experiments.setdefault(md5, ref)
        self._lineage_cache = ({k: frozenset(v) for k, v in lineage.items()}, experiments)
        return self._lineage_cache

    def _exploratory(self, facts: BundleFacts) -> tuple[tuple[str, str], ...]:
        """Promoted paths (in the bundle, or where they came from) matching exploratory globs."""
        import pathspec

        paths = [str(e.get("path")) for e in _listed(facts)] + [
            str(e["source"].get("path"))
            for e in _listed(facts)
            if isinstance(e.get("source"), dict)
        ]
        hits = [
            (path, pattern)
            for pattern in self.config.exploratory
            for spec in [pathspec.GitIgnoreSpec.from_lines([pattern])]
            for path in paths
            if spec.match_file(path)
        ]
        return tuple(dict.fromkeys(hits))

    def _consumer_reads(self, facts: BundleFacts) -> tuple[ConsumerRead, ...]:
        """Lines of consumer files that name internal pipeline paths instead of the bundle."""
        if not self.config.consumers:
            return ()
        import pathspec

        consumers = pathspec.GitIgnoreSpec.from_lines(self.config.consumers)
        try:
            project = self._checked_project()
        except DocumentError as exc:
            self._consumers_error = f"the pipeline's outputs cannot be told: {exc}"
            return ()
        internal_globs = None
        internal: set[str] = set()
        if self.config.internal_paths is None:
            internal = set(project.outputs) if project else set()
        else:
            internal_globs = pathspec.GitIgnoreSpec.from_lines(self.config.internal_paths)
        publish = {
            str(e["source"].get("path")): facts.repo_path(str(e.get("path")))
            for e in _listed(facts)
            if isinstance(e.get("source"), dict)
        }
        reads: list[ConsumerRead] = []
        for entry in self.view.files_under(""):
            if entry.kind != "file" or not consumers.match_file(entry.path):
                continue
            if entry.path.startswith(self.config.publish_root + "/"):
                continue
            data = self.view.read(entry.path) or b""
            if b"\0" in data[:8000] or len(data) > MAX_DOCUMENT_BYTES:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                for token in _PATH_TOKEN.findall(line):
                    # as written from the repository root, and relative to the consumer itself:
                    # models/./model.json, models//model.json and ../models/model.json too
                    here = posixpath.dirname(entry.path)
                    for path in {
                        posixpath.normpath(token.rstrip("/")),
                        posixpath.normpath(posixpath.join(here, token.rstrip("/"))),
                    }:
                        if path.startswith(("../", self.config.publish_root + "/")):
                            continue
                        named = ".dvc/cache" in path or (
                            internal_globs.match_file(path)
                            if internal_globs is not None
                            else any(path == p or path.startswith(p + "/") for p in internal)
                        )
                        if named:
                            instead = publish.get(path, f"{facts.path}/…")
                            reads.append(ConsumerRead(entry.path, number, token, instead))
                            break
        return tuple(reads)

    def _remote(self, facts: BundleFacts) -> RemoteFacts:
        """Whether the default DVC remote (as the policy's revision configures it: a change
        cannot point it at storage it brings) holds a verified copy of each DVC-stored file."""
        remote = self.remote or RemoteFacts(None, None, None, "no default DVC remote is configured")
        if remote.name is None or remote.url is None:
            return RemoteFacts(
                remote.name,
                remote.url,
                None,
                "no default DVC remote is configured (dvc remote add -d)",
            )
        present: dict[str, bool] = {}
        for entry in _listed(facts):
            md5 = entry.get("md5")
            item = facts.files.get(str(entry.get("path")))
            stored = entry.get("storage") == "dvc" or (item is not None and item.storage == "dvc")
            if stored and isinstance(md5, str):
                # where DVC looks for it: files/md5/ for a DVC 3 pointer (promote writes those)
                hash_name = item.pointer.hash_name if item and item.pointer else "md5"
                held = self.store.in_remote(md5, hash_name)
                if held is None:
                    return RemoteFacts(remote.name, remote.url, None, remote.reason)
                present[md5] = held
        return RemoteFacts(remote.name, remote.url, present)

    # -- the baseline -------------------------------------------------------------------

    def _compare(self, facts: BundleFacts) -> tuple[Comparison | None, str | None]:
        """The comparison with the configured baseline, or why there is none."""
        baseline = self.config.baseline
        names = list_bundles(self.view, self.config)
        if baseline == "previous":
            older = [
                n
                for n in names
                if (self.config.version_number(n) or 0) < (facts.version or 0)
                and self.config.version_number(n) is not None
            ]
            if not older:
                return None, "no earlier promoted version to compare with"
            baseline = max(older, key=lambda n: self.config.version_number(n) or 0)
        return self._compare_with(facts, baseline, names), None

    def _compare_released(
        self, facts: BundleFacts, primary: Comparison | None
    ) -> Comparison | None:
        """The comparison with the newest released version, when the baseline is not it."""
        released = [
            n
            for n in self.released
            if (self.config.version_number(n) or 0) < (facts.version or 0)
            and self.config.version_number(n) is not None
        ]
        if not released or primary is None:
            return None
        newest = max(released, key=lambda n: self.config.version_number(n) or 0)
        if primary.baseline.label == newest:
            return None
        return self._compare_with(facts, newest, list_bundles(self.view, self.config))

    def _compare_with(self, facts: BundleFacts, baseline: str, names: list[str]) -> Comparison:
        if baseline in names:
            other = self.bundle(baseline, f"{self.config.publish_root}/{baseline}", evidence=False)
            side = side_of_bundle(other)
        else:
            assert self.git is not None
            commit = self.git.resolve(baseline)
            if commit is None:
                raise GateError(
                    f"baseline {baseline!r} is neither a bundle nor a git revision here"
                )
            side = side_of_revision(CommitView(self.git, commit), self.store)
        return compare(side, side_of_bundle(facts), self.config)

    def _metrics_content(
        self, facts: BundleFacts, commit: str | None, project: Project | None
    ) -> dict[str, Recorded]:
        """The recorded bytes of each snapshot metrics file: git-tracked ones from git objects
        at source.commit, DVC-cached ones from a verified DVC object."""
        snap = facts.docs["metrics"].value
        found: dict[str, Recorded] = {}
        if not isinstance(snap, dict):
            return found
        assert self.git is not None
        for path, entry in snap.items():
            md5 = entry.get("md5") if isinstance(entry, dict) else None
            if not isinstance(md5, str) or not isinstance(path, str):
                continue
            try:
                blob = self.git.read_at(commit, path, MAX_DOCUMENT_BYTES) if commit else None
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
            hit = self.store.find(md5, keep=True)
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
                    reason=f"{path} ({md5}) is {self.store.missing(md5)}",
                    command=f"dvc push {path}" if self.ci else f"dvc fetch {path}",
                )
        return found

    def _status(self, excerpt: Any) -> tuple[Any, str | None]:
        """dvc status of the excerpt's stages in the checked view; bundles naming the same
        stages (every release of one pipeline) share one evaluation."""
        if not isinstance(excerpt, LockFile):
            return None, None
        key = frozenset(excerpt.stages)
        if key not in self._statuses:
            self._statuses[key] = self._evaluate_status(excerpt)
        return self._statuses[key]

    def _evaluate_status(self, excerpt: LockFile) -> tuple[Any, str | None]:
        try:
            project = self._checked_project()
            if project is None:
                return None, f"there is no dvc.yaml in the {self.view.label}"
            lock = project_lock(self.view.read, project)[0]
            if lock is None:
                return None, f"there is no dvc.lock in the {self.view.label}"
            return pipeline_status(self.view, project, lock, list(excerpt.stages), self.store), None
        except (DocumentError, GateError) as exc:
            return None, f"cannot evaluate the pipeline in the {self.view.label}: {exc}"
