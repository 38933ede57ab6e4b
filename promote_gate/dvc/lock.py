"""dvc.lock: the recorded state of each stage (schema 2.0, DVC 2 and 3)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from promote_gate.dvc import DVC_LOCK, DVC_YAML, norm
from promote_gate.git import iter_parents
from promote_gate.hashing import LEGACY
from promote_gate.yamlio import DocumentError, load_yaml


@dataclass(frozen=True)
class LockEntry:
    """A dep or out in dvc.lock (``path`` repository-relative)."""

    path: str
    def_path: str
    md5: str | None
    hash_name: str  # "md5" (DVC 3) or "md5-dos2unix" (DVC 2 entries without ``hash:``)
    size: int | None = None

    @property
    def is_dir(self) -> bool:
        return bool(self.md5 and self.md5.endswith(".dir"))


@dataclass(frozen=True)
class LockStage:
    name: str
    cmd: Any
    deps: tuple[LockEntry, ...]
    outs: tuple[LockEntry, ...]
    params: Mapping[str, Mapping[str, Any]]  # params file (repo-relative) -> key -> value
    raw: Mapping[str, Any]  # the entry verbatim, as dvc.lock has it


@dataclass(frozen=True)
class LockFile:
    stages: Mapping[str, LockStage]
    raw: Mapping[str, Any]

    def rebuilt(self, wdirs: Mapping[str, str]) -> LockFile:
        """The same entries with paths read relative to each stage's ``wdir``."""
        if not any(wdirs.get(name) for name in self.stages):
            return self
        return build_lock(self.raw, "lock", wdirs)

    def restricted(self, names: Iterable[str]) -> LockFile:
        """Only the entries of stages ``dvc.yaml`` still has: DVC keeps a renamed stage's old
        entry in dvc.lock, and ignores it, as must we."""
        keep = set(names)
        return LockFile({n: s for n, s in self.stages.items() if n in keep}, self.raw)

    def producer(self, path: str) -> tuple[LockStage, LockEntry] | None:
        """The stage whose output is ``path`` or a directory containing it."""
        wanted = {path, *iter_parents(path)}
        for stage in self.stages.values():
            for out in stage.outs:
                if out.path in wanted:
                    return stage, out
        return None


def _entry(item: Any, wdir: str, where: str) -> LockEntry:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise DocumentError(f"{where}: each entry needs a 'path'")
    md5 = item.get("md5")
    hash_name = item.get("hash")
    if md5 is not None and not isinstance(md5, str):
        raise DocumentError(f"{where}: 'md5' of {item['path']} is not a string")
    size = item.get("size")
    return LockEntry(
        path=norm(item["path"], wdir),
        def_path=item["path"],
        md5=md5,
        hash_name="md5" if hash_name == "md5" else LEGACY,
        size=size if isinstance(size, int) else None,
    )


def parse_lock(
    data: bytes, what: str = DVC_LOCK, wdirs: Mapping[str, str] | None = None
) -> LockFile:
    """Parse a dvc.lock (schema 2.0: DVC 2 and 3). Raises DocumentError."""
    return build_lock(load_yaml(data, what), what, wdirs)


def build_lock(raw: Any, what: str = DVC_LOCK, wdirs: Mapping[str, str] | None = None) -> LockFile:
    """A dvc.lock from its parsed YAML; paths are read relative to each stage's ``wdir``
    (which only dvc.yaml knows: without it, the project root)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("stages"), dict):
        raise DocumentError(f"{what} is not a dvc.lock file (schema 2.0 with 'stages')")
    if str(raw.get("schema")) != "2.0":
        raise DocumentError(f"{what}: unsupported dvc.lock schema {raw.get('schema')!r}")
    stages: dict[str, LockStage] = {}
    for name, entry in raw["stages"].items():
        where = f"{what}: stage {name}"
        if not isinstance(entry, dict):
            raise DocumentError(f"{where} is not a mapping")
        wdir = (wdirs or {}).get(str(name), "")
        params: dict[str, dict[str, Any]] = {}
        raw_params = entry.get("params") or {}
        if not isinstance(raw_params, dict):
            raise DocumentError(f"{where}: 'params' is not a mapping")
        for pfile, values in raw_params.items():
            if not isinstance(values, dict):
                raise DocumentError(f"{where}: params of {pfile} are not a mapping")
            params[norm(str(pfile), wdir)] = dict(values)
        deps, outs = entry.get("deps") or [], entry.get("outs") or []
        if not isinstance(deps, list) or not isinstance(outs, list):
            raise DocumentError(f"{where}: 'deps' and 'outs' must be lists")
        stages[str(name)] = LockStage(
            name=str(name),
            cmd=entry.get("cmd"),
            deps=tuple(_entry(d, wdir, where) for d in deps),
            outs=tuple(_entry(o, wdir, where) for o in outs),
            params=params,
            raw=entry,
        )
    return LockFile(stages, raw)


def lock_digest(found: Mapping[str, bytes]) -> str:
    """``source.dvc_lock_sha256``: the sha256 of ``dvc.lock`` where the project has only that
    one; with nested dvc.yaml files, the sha256 of a SHA256SUMS-style listing of every lock
    file (``<sha256>  <path>`` lines, sorted by path)."""
    from promote_gate.hashing import sha256_hex

    if list(found) == [DVC_LOCK]:
        return sha256_hex(found[DVC_LOCK])
    listing = "".join(f"{sha256_hex(data)}  {path}\n" for path, data in sorted(found.items()))
    return sha256_hex(listing.encode())


def project_lock(
    read: Any, project: Any, what: str = ""
) -> tuple[LockFile | None, dict[str, bytes]]:
    """Every dvc.lock of a project's dvc.yaml files as one LockFile — stages addressed as DVC
    names them (``sub/dvc.yaml:train``), paths read relative to their wdir, only stages
    dvc.yaml still defines (DVC ignores a renamed stage's stale entry) — and the bytes of
    each lock file read. ``what`` qualifies names in messages (`` at 1a2b3c``). Raises
    DocumentError."""
    from promote_gate.dvc.project import lock_of

    found: dict[str, bytes] = {}
    stages: dict[str, LockStage] = {}
    raws: dict[str, Any] = {}
    for dvcfile in project.dvcfiles:
        path = lock_of(dvcfile)
        data = read(path)
        if data is None:
            continue
        found[path] = data
        prefix = "" if dvcfile == DVC_YAML else f"{dvcfile}:"
        wdirs = {
            name[len(prefix) :]: st.wdir
            for name, st in project.stages.items()
            if st.dvcfile == dvcfile
        }
        lock = parse_lock(data, f"{path}{what}", wdirs)
        for name, stage in lock.stages.items():
            stages[prefix + name] = dataclasses.replace(stage, name=prefix + name)
            raws[prefix + name] = stage.raw
    if not found:
        return None, found
    combined = LockFile(stages, {"schema": "2.0", "stages": raws})
    return combined.restricted(project.stages), found
