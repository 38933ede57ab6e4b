"""PG1xx: the bundle is what its manifest says it is."""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Iterator
from typing import Any

from promote_gate.bundle import MANIFEST, parse_sha256sums, sha256sums_lines
from promote_gate.facts import BundleFacts
from promote_gate.rules.base import Finding, Outcome, Rule, Unverified, provides
from promote_gate.yamlio import DocumentError

POINTER_PATH = ("outs", "0", "path")  # what a .dvc pointer says it tracks


def listed_files(facts: BundleFacts) -> list[dict[str, Any]]:
    return [entry for _, entry in indexed_files(facts)]


def indexed_files(facts: BundleFacts) -> list[tuple[str, dict[str, Any]]]:
    """The manifest's file entries that are objects, each with its index in ``files`` (the
    key it has in manifest.json)."""
    files = facts.manifest_value.get("files")
    if not isinstance(files, list):
        return []
    return [(str(i), entry) for i, entry in enumerate(files) if isinstance(entry, dict)]


def _manifest_invalid(facts: BundleFacts) -> Iterator[Outcome]:
    where = facts.repo_path(MANIFEST)
    doc = facts.manifest
    if facts.kind != "directory":
        return  # PG105 names a bundle that is not a directory
    if not doc.present:
        yield Finding(where, "the bundle has no manifest.json")
        return
    if doc.error:
        yield Finding(where, doc.error)
        return
    for error in facts.manifest_errors:
        yield Finding(where, error, key=_schema_key(error))


def _schema_key(error: str) -> tuple[str, ...]:
    """The key path a schema error names first (``files/0/md5: …``, as collected)."""
    return tuple(error.split(": ", 1)[0].split("/"))


def _unsafe_path_reason(path: str) -> str | None:
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "is absolute"
    if ".." in path.split("/"):
        return "contains '..'"
    if posixpath.normpath(path) != path or path.startswith("./"):
        return "is not normalised"
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in path):
        return "is not valid UTF-8"
    if any(ord(ch) < 32 for ch in path):
        return "contains a control character"
    return None


def _escapes(rel: str, target: str | None) -> bool:
    """Whether a symlink or pointer at ``rel`` naming ``target`` resolves outside the bundle."""
    if target is None:
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    return target.startswith("/") or resolved == ".." or resolved.startswith("../")


MAX_NAME_BYTES = 255  # per path component: macOS, Windows and most Linux filesystems


def _collisions(names: list[str]) -> Iterator[str]:
    """Names that one checkout would not keep apart: by case, by Unicode normalisation, or
    too long for a filesystem to hold."""
    seen: dict[str, str] = {}
    for name in sorted(set(names)):
        for part in name.split("/"):
            if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
                yield f"{name!r} has a name over {MAX_NAME_BYTES} bytes (no checkout can hold it)"
        key = unicodedata.normalize("NFC", name).casefold()
        if key in seen:
            yield (
                f"{seen[key]!r} and {name!r} are one name on case-insensitive or "
                "normalising filesystems (macOS, Windows): a checkout keeps only one"
            )
        else:
            seen[key] = name


def _unsafe_path(facts: BundleFacts) -> Iterator[Outcome]:
    if facts.kind != "directory":
        yield Finding(
            facts.path,
            f"the bundle is a {facts.kind}, not a directory of files: consumers would get "
            "content that was never promoted",
        )
        return
    listed = [e.get("path") for e in listed_files(facts)]
    for index, entry in indexed_files(facts):
        path = entry.get("path")
        reason = _unsafe_path_reason(path) if isinstance(path, str) else None
        if reason:
            yield Finding(
                facts.repo_path(MANIFEST),
                f"manifest path {path!r} {reason}",
                key=("files", index, "path"),
            )
    names = (
        [p for p in listed if isinstance(p, str)]
        + list(facts.files)
        + [d.name for d in (facts.manifest, *facts.docs.values()) if d.present]
    )
    for problem in _collisions(names):
        yield Finding(facts.repo_path(MANIFEST), problem)
    for rel, item in facts.files.items():
        reason = _unsafe_path_reason(rel)
        if reason in {"is not valid UTF-8", "contains a control character"}:
            yield Finding(facts.repo_path(rel), f"bundle file name {reason}")
        if item.kind == "symlink" and _escapes(rel, item.target):
            yield Finding(
                facts.repo_path(rel),
                "symlink leaves the bundle",
                "a file inside the bundle",
                item.target,
            )
        elif item.kind == "submodule":
            yield Finding(facts.repo_path(rel), "a git submodule inside a bundle is not content")
        if item.storage == "dvc" and _escapes(rel, item.pointer_path):
            yield Finding(
                facts.repo_path(rel + ".dvc"),
                f"the .dvc pointer names a path outside the bundle: {item.pointer_path}",
                key=POINTER_PATH,
            )


def _unsafe_listing(facts: BundleFacts) -> bool:
    """Whether a manifest path is unsafe (PG105): what is listed cannot then be told."""
    return any(
        isinstance(e.get("path"), str) and _unsafe_path_reason(str(e["path"]))
        for e in listed_files(facts)
    )


def _file_missing(facts: BundleFacts) -> Iterator[Outcome]:
    for entry in listed_files(facts):
        path = entry.get("path")
        if not isinstance(path, str) or _unsafe_path_reason(path):
            continue  # PG105's finding
        item = facts.files.get(path)
        dvc = entry.get("storage") == "dvc"
        if item is None:
            what = f"{path}.dvc pointer" if dvc and facts.repo else path
            yield Finding(
                facts.repo_path(path), f"listed in the manifest but {what} is not in the bundle"
            )
        elif facts.repo is not None and dvc and item.pointer is None and item.pointer_error is None:
            yield Finding(
                facts.repo_path(path),
                f"stored with DVC per the manifest but {path}.dvc is missing "
                "(the content would not reach other clones)",
            )
        elif facts.repo is None and not item.in_tree:
            yield Finding(
                facts.repo_path(path), "listed in the manifest but only its pointer is here"
            )
        elif facts.repo is not None and not dvc and item.storage == "dvc":
            yield Finding(
                facts.repo_path(path),
                f'the manifest says "storage": "git", but {path}.dvc makes it DVC-stored: '
                "git does not hold these bytes",
            )


def _file_unlisted(facts: BundleFacts) -> Iterator[Outcome]:
    if _unsafe_listing(facts):
        return  # PG105: with an unsafe listing, what is unlisted cannot be told
    listed = {e.get("path") for e in listed_files(facts)}
    for rel, item in facts.files.items():
        if item.kind == "symlink" and _escapes(rel, item.target):
            continue  # PG105's finding
        if rel not in listed and rel not in facts.bookkeeping:
            yield Finding(facts.repo_path(rel), "in the bundle but not listed in the manifest")


def _compare_digest(
    facts: BundleFacts, path: str, entry: dict[str, Any], md5: str, sha: str, size: int
) -> Iterator[Outcome]:
    for key, actual in (("md5", md5), ("sha256", sha), ("size", size)):
        if entry.get(key) != actual:
            yield Finding(
                facts.repo_path(path),
                f"{key} differs from the manifest",
                str(entry.get(key)),
                str(actual),
            )


def _content_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    for entry in listed_files(facts):
        path = entry.get("path")
        item = facts.files.get(path) if isinstance(path, str) else None
        if item is None or not isinstance(path, str):
            continue  # PG102's finding
        if item.kind != "file":
            what = f"a symlink to {item.target}" if item.kind == "symlink" else f"a {item.kind}"
            yield Finding(facts.repo_path(path), f"is {what}, not the promoted file")
            continue
        if item.pointer_error and not _escapes(path, item.pointer_path):
            # a pointer tracking another path is about its path; one that does not parse, where
            # the parser stopped
            key = POINTER_PATH if item.pointer_path is not None else None
            yield Finding(facts.repo_path(path + ".dvc"), item.pointer_error, key=key)
        if item.pointer is not None:
            if item.pointer.md5 != entry.get("md5"):
                yield Finding(
                    facts.repo_path(path + ".dvc"),
                    "pointer md5 differs from the manifest",
                    str(entry.get("md5")),
                    str(item.pointer.md5),
                )
            if item.pointer.size is not None and item.pointer.size != entry.get("size"):
                yield Finding(
                    facts.repo_path(path + ".dvc"),
                    "pointer size differs from the manifest",
                    str(entry.get("size")),
                    str(item.pointer.size),
                    key=("outs", "0", "size"),
                )
        if item.digest is not None:
            yield from _compare_digest(
                facts, path, entry, item.digest.md5, item.digest.sha256, item.digest.size
            )
        elif item.kind == "file":
            yield Unverified(
                facts.repo_path(path),
                f"content {item.missing or 'not present here (DVC-tracked, not pulled)'}: "
                "md5 checked by pointer only",
                provides(facts, facts.repo_path(path), why=item.missing),
            )
    for path, name, value in facts.attributes:
        setting = name if value == "set" else f"{name}={value}"
        yield Finding(
            path,
            f"git attribute {setting} applies (.gitattributes): a consumer's checkout gets "
            "other bytes than the manifest and SHA256SUMS vouch for",
        )


def _checksums_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    yield from _checksums(facts)


def _checksums(facts: BundleFacts) -> Iterator[Outcome]:
    doc = facts.docs["checksums"]
    where = facts.repo_path(doc.name)
    if not doc.present:
        yield Finding(where, "SHA256SUMS is missing: consumers cannot run sha256sum -c")
        return
    try:
        sums = parse_sha256sums(doc.value if isinstance(doc.value, str) else "")
    except DocumentError as exc:
        yield Finding(where, str(exc))
        return
    if doc.error:
        yield Finding(where, doc.error)
        return
    at = sha256sums_lines(doc.value if isinstance(doc.value, str) else "")
    for entry in listed_files(facts):
        path = entry.get("path")
        if not isinstance(path, str) or path not in facts.files:
            continue  # PG102 (missing) or PG105 (unsafe) say what is wrong with it
        if sums.get(path) != entry.get("sha256"):
            yield Finding(
                where,
                f"sha256 of {path} disagrees with the manifest",
                str(entry.get("sha256")),
                str(sums.get(path, "(no line)")),
                at.get(path),
            )
    for doc_ in [facts.manifest, *(d for r, d in facts.docs.items() if r != "checksums")]:
        if doc_.present and doc_.name not in sums:
            yield Finding(
                where, f"does not list {doc_.name}: its edits would go unnoticed by sha256sum -c"
            )
    listed = {e.get("path") for e in listed_files(facts)}
    by_name = {d.name: d for d in facts.docs.values()}
    for path, sha in sums.items():
        if path in listed:
            continue
        other = by_name.get(path)
        if path == MANIFEST:
            other = facts.manifest
        if other is None and _unsafe_listing(facts):
            continue  # PG105: with an unsafe listing, what is listed cannot be told
        if other is None:
            yield Finding(
                where,
                f"names {path}, which is neither listed in the manifest nor a bundle document",
                line=at.get(path),
            )
        elif other.digest is not None and other.digest.sha256 != sha:
            yield Finding(
                where,
                f"sha256 of {path} disagrees with the file",
                sha,
                other.digest.sha256,
                at.get(path),
            )


RULES = (
    Rule(
        code="PG101",
        name="manifest-invalid",
        summary="manifest.json is missing, not JSON, or does not match the manifest schema "
        "(which requires at least one promoted file)",
        rationale="The manifest is the contract every other check reads; without a valid one "
        "nobody can say what the release contains.",
        fix="Re-create the bundle with `promote-gate promote` instead of editing manifest.json by "
        "hand; `promote-gate schema manifest` prints the schema.",
        example='manifest.json is `[]`, or says `"version": "v2"` inside publish/v1/.',
        check=_manifest_invalid,
        needs_repo=False,
        needs_manifest=False,
    ),
    Rule(
        code="PG102",
        name="file-missing",
        summary="a file the manifest lists is not in the bundle (or its .dvc pointer is not), or "
        "the manifest says git stores a file a .dvc pointer stands for",
        rationale="Consumers would receive a release with a hole in it.",
        fix="Restore the file (git checkout / dvc checkout), or cut a new version without it.",
        example="manifest lists model.pkl, but neither model.pkl nor model.pkl.dvc is committed.",
        check=_file_missing,
        needs_repo=False,
    ),
    Rule(
        code="PG103",
        name="file-unlisted",
        summary="the bundle holds a file the manifest does not list",
        rationale="Files nobody vouched for ride along with the release; consumers may start to "
        "depend on them.",
        fix="Remove the file from the bundle, or promote a new version that includes it.",
        example="notes.txt was copied into publish/v1/ after promotion.",
        check=_file_unlisted,
        needs_repo=False,
    ),
    Rule(
        code="PG104",
        name="content-mismatch",
        summary="a promoted file's md5/sha256/size or its .dvc pointer's md5 differs from the "
        "manifest, or a git attribute (eol=crlf, filter, ident, working-tree-encoding) rewrites "
        "a new bundle's bytes on checkout",
        rationale="The released bytes are not the bytes that were promoted and reviewed.",
        fix="Restore the promoted content; a changed file is a new version (promote v<n+1>).",
        example="model.pkl was retrained and copied over publish/v1/model.pkl.",
        check=_content_mismatch,
        needs_repo=False,
    ),
    Rule(
        code="PG105",
        name="unsafe-path",
        summary="a manifest path is absolute, has '..' or is not normalised; names in the bundle "
        "collide by case or Unicode normalisation or exceed 255 bytes; a symlink or .dvc pointer "
        "leaves the bundle; or the bundle is not a directory (a submodule or symlink)",
        rationale="Such paths escape the bundle when a consumer unpacks or verifies it, or point "
        "consumers at content outside the release.",
        fix="Use plain relative paths inside the bundle; replace symlinks with the files.",
        example='a manifest entry with "path": "../../etc/passwd", or model.pkl -> ../../models/model.pkl.',
        check=_unsafe_path,
        needs_repo=False,
        needs_manifest=False,  # a bundle that is no directory, a symlink out: no manifest needed
    ),
    Rule(
        code="PG106",
        name="checksums-mismatch",
        summary="SHA256SUMS is missing, has a line `sha256sum -c` would reject or a second line "
        "for one file, names a file the bundle does not have, leaves out a document, or "
        "disagrees with the manifest or a document",
        rationale="SHA256SUMS is what a consumer checks with nothing but the bundle; if it "
        "disagrees with the bundle, every consumer's check fails — or passes on other bytes.",
        fix="Do not edit a bundle's files by hand; re-create it with `promote-gate promote`.",
        example="report.md was edited after promotion, and SHA256SUMS still has its old sha256.",
        check=_checksums_mismatch,
        needs_repo=False,
    ),
)
