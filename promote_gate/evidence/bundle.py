"""The bundle itself: its files, documents and manifest, read from a view and hashed once.

Every other provider starts from what this one returns; a baseline bundle is read the same
way (``comparison.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from promote_gate.bundle import MANIFEST, SIGNATURE, doc_names, manifest_schema
from promote_gate.dvc import norm
from promote_gate.dvc.lock import parse_lock
from promote_gate.dvc.pointer import parse_pointer
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts, Doc, FileFacts
from promote_gate.hashing import digest_bytes
from promote_gate.repo import View
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


def read_bundle(scope: Scope, name: str, path: str) -> BundleFacts:
    """The bundle itself, read and hashed once: a baseline is also a bundle of its own."""
    if (name, path) in scope.memo.bundles:
        return scope.memo.bundles[(name, path)]
    view = scope.view
    itself = view.entry(path) if path else None
    if itself is not None:  # a submodule, symlink or file where a bundle directory belongs
        facts = BundleFacts(
            name=name,
            path=path,
            version=scope.config.version_number(name),
            manifest=Doc(MANIFEST, present=False),
            files={},
            docs={role: Doc(rel, present=False) for role, rel in doc_names(None).items()},
            kind=itself.kind if itself.kind != "symlink" else f"symlink to {itself.target}",
        )
        scope.memo.bundles[(name, path)] = facts
        return facts
    lead = f"{path}/" if path else ""
    entries = {e.path[len(lead) :]: e for e in view.files_under(path)}
    manifest = read_doc(view, lead + MANIFEST, MANIFEST, load_json)
    names = doc_names(manifest.value)
    docs = {role: read_doc(view, lead + rel, rel, _LOADERS[role]) for role, rel in names.items()}

    bookkeeping = frozenset({MANIFEST, SIGNATURE, ".gitignore", *names.values()})
    files: dict[str, FileFacts] = {}
    pointers: set[str] = set()
    digests = view.digest_many(
        [e.path for r, e in entries.items() if e.kind == "file" and not r.endswith(".dvc")]
    )
    for rel, entry in entries.items():
        if entry.kind == "file" and rel.endswith(".dvc") and rel[: -len(".dvc")] not in bookkeeping:
            pointers.add(rel)  # a document's name + .dvc tracks no document: content (PG103)
            continue
        digest = digests.get(entry.path)
        files[rel] = FileFacts(rel, entry.kind, entry.target, digest)
    for pointer_rel in sorted(pointers):
        data_rel = pointer_rel[: -len(".dvc")]
        base = data_rel.rsplit("/", 1)[0] if "/" in data_rel else ""
        text: str | None = None
        try:
            data = view.read(lead + pointer_rel) or b""
            text = data.decode("utf-8", "replace")
            pointer = parse_pointer(data, pointer_rel)
        except DocumentError as exc:
            old = files.get(data_rel, FileFacts(data_rel, "file", in_tree=False))
            files[data_rel] = dataclasses.replace(old, pointer_error=str(exc), pointer_text=text)
            continue
        if norm(pointer.path, base) != data_rel:
            old = files.get(data_rel, FileFacts(data_rel, "file", in_tree=False))
            msg = f"{pointer_rel} tracks {pointer.path!r}, not {data_rel.rsplit('/', 1)[-1]!r}"
            files[data_rel] = dataclasses.replace(
                old, pointer_error=msg, pointer_path=pointer.path, pointer_text=text
            )
            continue
        present = files.get(data_rel)
        if present is None:
            digest = scope.store.digest(pointer.md5, pointer.hash_name) if pointer.md5 else None
            files[data_rel] = FileFacts(
                data_rel,
                "file",
                digest=digest,
                in_tree=False,
                pointer=pointer,
                pointer_path=pointer.path,
                pointer_text=text,
                missing=None
                if digest is not None or not pointer.md5
                else scope.store.missing(pointer.md5),
            )
        else:
            files[data_rel] = dataclasses.replace(
                present, pointer=pointer, pointer_path=pointer.path, pointer_text=text
            )
    for rel in bookkeeping:
        files.pop(rel, None)

    facts = BundleFacts(
        name=name,
        path=path,
        version=scope.config.version_number(name),
        manifest=manifest,
        files=files,
        docs=docs,
        bookkeeping=bookkeeping,
        manifest_errors=schema_errors(manifest.value) if manifest.ok else (),
        require_metrics=scope.config.require_metrics,
    )
    scope.memo.bundles[(name, path)] = facts
    return facts
