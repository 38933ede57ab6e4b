"""Mirror ``dvc status`` for pipeline stages (tests/test_pipeline_status.py compares)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.dvc import DVC_YAML
from promote_gate.dvc.cache import cache_dir, read_dir_listing
from promote_gate.dvc.ignore import DvcIgnore
from promote_gate.dvc.lock import LockEntry, LockFile, LockStage
from promote_gate.dvc.params import flatten, get_dotted, read_params_file
from promote_gate.dvc.parsing import ParamsDef, Project
from promote_gate.dvc.pointer import find_pointer
from promote_gate.git import iter_parents
from promote_gate.hashing import Digest, dir_md5
from promote_gate.objects import ObjectStore
from promote_gate.repo import View


@dataclass(frozen=True)
class StageStatus:
    """One stage's ``dvc status`` verdict: what changed, and what could not be checked."""

    name: str
    changes: tuple[str, ...]
    unverified: tuple[str, ...] = ()
    # DVC-managed paths the working tree lacks, judged as dvc.lock and the .dvc files record
    # them (as in a commit): in neither the workspace nor the DVC cache (DVC: "not in cache")
    not_pulled: tuple[str, ...] = ()
    # in the DVC cache but not in the workspace (DVC: "deleted"; `dvc checkout` restores them)
    not_checked_out: tuple[str, ...] = ()
    # a param change's text -> its whole values (old, new), which the text may show cut
    values: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)


class _Hasher:
    """Current hashes of deps/outs in a view, as dvc status computes them."""

    def __init__(
        self, view: View, lock: LockFile, store: ObjectStore, uncached: frozenset[str] = frozenset()
    ) -> None:
        self.view = view
        self.lock = lock
        self.store = store
        self.uncached = uncached  # outputs with cache: false: git holds them, not DVC
        self._ignore: DvcIgnore | None = None
        self._digests: dict[str, Digest | None] = {}
        # DVC-managed paths absent from a working tree -> whether the DVC cache has them
        self.absent: dict[str, bool] = {}

    @property
    def ignore(self) -> DvcIgnore:
        if self._ignore is None:
            self._ignore = DvcIgnore(self.view)
        return self._ignore

    def _digest(self, path: str) -> Digest | None:
        if path not in self._digests:
            self._digests[path] = self.view.digest(path)
        return self._digests[path]

    def recorded(self, path: str) -> tuple[str | None, str | None]:
        """The hash DVC recorded for a DVC-managed path: a pipeline output, a ``.dvc``-tracked
        path, or a file inside either (looked up in the directory's ``.dir`` listing)."""
        owner: tuple[str, str | None] | None = None
        for candidate in [path, *iter_parents(path)]:
            pointer = find_pointer(self.view, candidate)
            if pointer is not None:
                owner = (candidate, pointer.md5)
                break
        if owner is None:
            hit = self.lock.producer(path)
            if hit is None or hit[1].path in self.uncached:
                return None, None  # not DVC-managed (or git-tracked): absent means deleted
            owner = (hit[1].path, hit[1].md5)
        owner_path, md5 = owner
        if owner_path == path or md5 is None:
            return md5, None
        listing = read_dir_listing(self.store, md5)
        if listing is None:
            missing = self.store.missing(md5)
            reason = f"{path}: the .dir listing of {owner_path} ({md5}) is {missing}"
            return None, f"{reason} (dvc fetch {owner_path})"
        return listing.get(path[len(owner_path) + 1 :]), None

    def current(self, path: str, hash_name: str) -> tuple[str | None, str | None]:
        """(md5 now, reason it could not be computed)."""
        from promote_gate.repo import WorktreeView

        entry = self.view.entry(path)
        if entry is not None and entry.kind == "file":
            digest = self._digest(path)
            return (digest.md5_for(hash_name) if digest else None), None
        in_commit = not isinstance(self.view, WorktreeView)
        if in_commit:
            # DVC-managed content is not in git: take what DVC recorded for it.
            recorded, reason = self.recorded(path)
            if recorded is not None or reason:
                return recorded, reason
        pairs: dict[str, str] = {}
        files = [e for e in self.view.files_under(path) if e.kind == "file"]
        files = [e for e in files if not self.ignore.ignored(e.path)]
        todo = [e.path for e in files if e.path not in self._digests]
        self._digests.update(self.view.digest_many(todo))
        for e in files:
            digest = self._digest(e.path)
            if digest is None:
                return None, f"{e.path} cannot be read"
            pairs[e.path[len(path) + 1 :]] = digest.md5_for(hash_name)
        if in_commit and pairs:
            reason = self._add_recorded_under(path, pairs)
            if reason:
                return None, reason
        if not pairs and not in_commit:
            recorded, reason = self.recorded(path)
            if recorded is not None or reason:
                # DVC-managed and not checked out (a clone without `dvc pull`, or deleted):
                # that says nothing of staleness. Judged as DVC recorded it, as in a commit;
                # without a record (its directory's listing is not here) it is not judged.
                self.absent[path] = recorded is not None and self._cached(recorded)
                return recorded, None
        return (dir_md5(pairs.items()) if pairs else None), None

    def _cached(self, md5: str) -> bool:
        """Whether the local DVC cache holds object ``md5``: only to say which command
        restores an absent path (nothing is read, so nothing is trusted)."""
        for source in self.store.sources:
            if not source.is_remote:
                with source.open(md5) as found:
                    if found is not None:
                        return True
        return False

    def _add_recorded_under(self, path: str, pairs: dict[str, str]) -> str | None:
        """Add the DVC-managed files below directory ``path`` (outputs, .dvc-tracked) to ``pairs``."""
        managed: list[tuple[str, str | None]] = [
            (out.path, out.md5)
            for stage in self.lock.stages.values()
            for out in stage.outs
            if out.path.startswith(path + "/")
        ]
        for rel in [r for r in pairs if r.endswith(".dvc")]:
            pointer = find_pointer(self.view, f"{path}/{rel[: -len('.dvc')]}")
            if pointer is not None:
                managed.append((f"{path}/{rel[: -len('.dvc')]}", pointer.md5))
        for out_path, md5 in managed:
            rel = out_path[len(path) + 1 :]
            if not md5:
                return f"{out_path} has no recorded hash"
            if not md5.endswith(".dir"):
                pairs[rel] = md5
                continue
            listing = read_dir_listing(self.store, md5)
            if listing is None:
                return (
                    f"the .dir listing of {out_path} ({md5}) is {self.store.missing(md5)} "
                    f"(dvc fetch {out_path})"
                )
            pairs.update({f"{rel}/{inner}": value for inner, value in listing.items()})
        return None


def pipeline_status(
    view: View,
    project: Project,
    lock: LockFile,
    stages: Iterable[str] | None = None,
    store: ObjectStore | None = None,
) -> dict[str, StageStatus]:
    """Mirror ``dvc status`` for the given stages (default: all) of ``project``.

    A stage asked for that ``dvc.yaml`` does not have (renamed or removed) cannot be
    judged, which is itself a finding: the evidence no longer describes the pipeline.
    """
    if store is None:
        from promote_gate.objects import DirectorySource

        store = ObjectStore([DirectorySource(cache_dir(view.root), "the DVC cache")])
    uncached = frozenset(o.path for st in project.stages.values() for o in st.outs if not o.cache)
    hasher = _Hasher(view, lock, store, uncached)
    result: dict[str, StageStatus] = {}
    params_cache: dict[str, Any] = {}
    for name in stages if stages is not None else project.stages:
        stage = project.stages.get(name)
        if stage is None:
            gone = (
                f"stage is not in {DVC_YAML} at the checked revision (renamed or removed): "
                "the recorded state no longer describes the pipeline"
            )
            result[name] = StageStatus(name, (gone,))
            continue
        locked = lock.stages.get(name)
        if locked is None:
            result[name] = StageStatus(name, ("stage has no entry in dvc.lock: it was never run",))
            continue
        changes: list[str] = []
        unverified: list[str] = []
        values: dict[str, tuple[Any, Any]] = {}
        if stage.always_changed:
            changes.append("always changed")
        elif stage.cmd and not (stage.deps or stage.params or stage.outs):
            # DVC: a command with neither dependencies nor outputs is a "callback" stage
            changes.append("always changed (a command with no dependencies and no outputs)")
        if stage.cmd != locked.cmd:
            changes.append("changed command")
        if not stage.frozen:
            deps = {d.path: d for d in locked.deps}
            for dep in stage.deps:
                _compare(hasher, dep, deps.get(dep), "dep", changes, unverified)
            for pdef in stage.params:
                _compare_params(view, pdef, locked, params_cache, changes, values)
        outs = {o.path: o for o in locked.outs}
        for out in stage.outs:
            _compare(hasher, out.path, outs.get(out.path), "out", changes, unverified)
        named = [*(stage.deps if not stage.frozen else ()), *(o.path for o in stage.outs)]
        absent = [p for p in dict.fromkeys(named) if p in hasher.absent]
        result[name] = StageStatus(
            name,
            tuple(changes),
            tuple(unverified),
            tuple(p for p in absent if not hasher.absent[p]),
            tuple(p for p in absent if hasher.absent[p]),
            values,
        )
    return result


def _compare(
    hasher: _Hasher,
    path: str,
    locked: LockEntry | None,
    what: str,
    changes: list[str],
    unverified: list[str],
) -> None:
    hash_name = locked.hash_name if locked else "md5"
    now, reason = hasher.current(path, hash_name)
    if reason:
        unverified.append(reason)
    elif now is None and path in hasher.absent:
        return  # not in the workspace, and nothing recorded to judge it by: not pulled
    elif now is None:
        changes.append(f"{what} {path}: deleted")
    elif locked is None or locked.md5 is None:
        changes.append(f"{what} {path}: new (not in dvc.lock)")
    elif now != locked.md5 and path in hasher.absent:
        changes.append(
            f"{what} {path}: modified ({locked.md5} in dvc.lock, {now} in its .dvc file or "
            "producing stage; the data is not in the workspace)"
        )
    elif now != locked.md5:
        changes.append(f"{what} {path}: modified ({locked.md5} in dvc.lock, {now} now)")


def _compare_params(
    view: View,
    pdef: ParamsDef,
    locked: LockStage,
    cache: dict[str, Any],
    changes: list[str],
    values: dict[str, tuple[Any, Any]],
) -> None:
    if pdef.file not in cache:
        cache[pdef.file] = read_params_file(view, pdef.file)
    actual = cache[pdef.file]
    if actual is None:
        changes.append(f"params file {pdef.file}: deleted")
        return
    info = locked.params.get(pdef.file)
    if info is None:
        changes.append(f"params file {pdef.file}: new (not in dvc.lock)")
        return
    keys = pdef.keys if pdef.keys is not None else list(dict.fromkeys([*actual, *info]))
    for key in keys:
        # whole-file params are top-level keys, compared literally (a key may contain dots)
        if pdef.keys is None:
            found, value = key in actual, actual.get(key)
        else:
            found, value = get_dotted(actual, key)
        if not found:
            changes.append(f"param {pdef.file}:{key}: deleted")
        elif key not in info:
            changes.append(f"param {pdef.file}:{key}: new")
        elif value != info[key] and not (isinstance(value, tuple) and list(value) == info[key]):
            for leaf, old, new in leaf_changes(key, info[key], value):
                text = f"param {pdef.file}:{leaf}: modified ({short(old)} -> {short(new)})"
                changes.append(text)
                values[text] = (old, new)


def leaf_changes(key: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """The leaves that differ between two values of param ``key`` (a section such as
    ``train`` compares key by key, as ``dvc params diff`` shows it): (dotted key, old, new);
    a leaf one side lacks is ``None`` there."""
    before, after = flatten(old, key), flatten(new, key)
    return [
        (leaf, before.get(leaf), after.get(leaf))
        for leaf in sorted(set(before) | set(after))
        if before.get(leaf) != after.get(leaf)
    ] or [(key, old, new)]


def short(value: Any, limit: int = 60) -> str:
    """A value on one line, at most ``limit`` characters: long lists and texts are cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
