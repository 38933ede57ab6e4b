"""Consumers that depend on internal pipeline paths instead of the release surface: lines
of the policy's consumer files naming a pipeline output or the DVC cache (PG504)."""

from __future__ import annotations

import posixpath
import re

from promote_gate.evidence.records import Artifacts, Consumers
from promote_gate.evidence.scope import Scope, listed
from promote_gate.facts import ArtifactLeak, BundleFacts, ConsumerRead
from promote_gate.yamlio import MAX_DOCUMENT_BYTES, DocumentError

_PATH_TOKEN = re.compile(r"[\w.@+-]*[\w.@+-]/[\w./@+-]*|\.dvc/cache")


def consumers(scope: Scope, facts: BundleFacts) -> Consumers:
    """The consumer lines reading internal paths, for the release surface (newest bundle)."""
    if not scope.config.consumers:
        return Consumers()
    try:
        project = scope.checked_project()
    except DocumentError as exc:
        return Consumers((), f"the pipeline's outputs cannot be told: {exc}")
    internal = set(project.outputs) if project else set()
    return Consumers(_reads(scope, facts, internal))


def artifacts(scope: Scope, _facts: BundleFacts) -> Artifacts:
    """The dvc.yaml artifacts whose path leaves the publish root, for the release surface:
    ``dvc artifacts get`` and GTO tags hand consumers whatever ``path`` names."""
    from promote_gate.dvc.artifacts import declared
    from promote_gate.dvc.project import find_dvcfiles
    from promote_gate.yamlio import key_lines

    try:
        found = declared(scope.view.read, find_dvcfiles(scope.view))
    except DocumentError as exc:
        return Artifacts((), f"the dvc.yaml artifacts cannot be read: {exc}")
    root = scope.config.publish_root + "/"
    leaks = []
    for item in found:
        if item.resolved is not None and item.resolved.startswith(root):
            continue
        text = (scope.view.read(item.dvcfile) or b"").decode("utf-8", "replace")
        own = item.name.rpartition(":")[2]
        line = key_lines(text).get(("artifacts", own, "path")) or key_lines(text).get(
            ("artifacts", own)
        )
        leaks.append(ArtifactLeak(item.dvcfile, line, item.name, repr(item.path)))
    return Artifacts(tuple(leaks))


def _reads(scope: Scope, facts: BundleFacts, outputs: set[str]) -> tuple[ConsumerRead, ...]:
    """Lines of consumer files that name internal pipeline paths (the pipeline's
    ``outputs``, unless the policy lists ``internal_paths``) instead of the bundle."""
    import pathspec

    consumers = pathspec.GitIgnoreSpec.from_lines(scope.config.consumers)
    internal_globs = None
    internal: set[str] = set()
    if scope.config.internal_paths is None:
        internal = outputs
    else:
        internal_globs = pathspec.GitIgnoreSpec.from_lines(scope.config.internal_paths)
    publish = {
        str(e["source"].get("path")): facts.repo_path(str(e.get("path")))
        for e in listed(facts)
        if isinstance(e.get("source"), dict)
    }
    reads: list[ConsumerRead] = []
    for entry in scope.view.files_under(""):
        if entry.kind != "file" or not consumers.match_file(entry.path):
            continue
        if entry.path.startswith(scope.config.publish_root + "/"):
            continue
        data = scope.view.read(entry.path) or b""
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
                    if path.startswith(("../", scope.config.publish_root + "/")):
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
