"""DVC's files: dvc.yaml, dvc.lock, params, metrics, ``.dvc`` pointers, the cache layout.

The only module that parses DVC files. It reads through a :class:`~promote_gate.repo.View`,
so the same code reads the working tree and a commit's tree. ``pipeline_status`` mirrors
``dvc status`` for pipeline stages; tests/test_pipeline_status.py compares the two.
"""

from __future__ import annotations

import configparser
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.errors import GateError
from promote_gate.hashing import LEGACY, Digest, dir_md5
from promote_gate.objects import ObjectStore, object_paths
from promote_gate.repo import View, iter_parents
from promote_gate.yamlio import DocumentError, load_by_suffix, load_json, load_yaml

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DEFAULT_PARAMS = "params.yaml"


def norm(path: str, base: str = "") -> str:
    """A repository-relative POSIX path for ``path`` written relative to ``base``."""
    joined = posixpath.normpath(posixpath.join(base, path.replace("\\", "/")))
    return "" if joined == "." else joined


# --------------------------------------------------------------------------- dvc.lock


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
    raw = load_yaml(data, what)
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


# --------------------------------------------------------------------------- dvc.yaml


@dataclass(frozen=True)
class OutDef:
    path: str  # repository-relative
    def_path: str
    cache: bool = True
    metric: bool = False


@dataclass(frozen=True)
class ParamsDef:
    file: str  # repository-relative
    def_file: str
    keys: tuple[str, ...] | None  # None: the whole file


@dataclass(frozen=True)
class StageDef:
    name: str
    cmd: Any
    wdir: str
    deps: tuple[str, ...]  # repository-relative
    params: tuple[ParamsDef, ...]
    outs: tuple[OutDef, ...]
    frozen: bool = False
    always_changed: bool = False


@dataclass(frozen=True)
class Project:
    """dvc.yaml resolved (foreach/matrix expanded, ``${}`` interpolated)."""

    stages: Mapping[str, StageDef]
    metrics: tuple[str, ...]  # every metrics file: top-level ``metrics:`` and stage metrics outs
    outputs: frozenset[str] = field(default_factory=frozenset)

    @property
    def wdirs(self) -> dict[str, str]:
        return {name: st.wdir for name, st in self.stages.items()}


_INTERP = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")


def _lookup(ctx: Mapping[str, Any], expr: str, where: str) -> Any:
    value: Any = ctx
    for part in re.findall(r"[^.\[\]]+", expr.strip()):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            raise DocumentError(f"{where}: cannot resolve ${{{expr}}}")
    return value


def _to_str(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise DocumentError(
            f"{where}: promote-gate does not expand dict/list values inside strings"
        )
    return str(value)


def _interpolate(obj: Any, ctx: Mapping[str, Any], where: str) -> Any:
    if isinstance(obj, str):
        whole = _INTERP.fullmatch(obj)
        if whole:
            return _lookup(ctx, whole["inner"], where)
        return _INTERP.sub(lambda m: _to_str(_lookup(ctx, m["inner"], where), where), obj)
    if isinstance(obj, list):
        return [_interpolate(x, ctx, where) for x in obj]
    if isinstance(obj, dict):
        return {_interpolate(k, ctx, where): _interpolate(v, ctx, where) for k, v in obj.items()}
    return obj


def _path_items(items: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``- a`` and ``- a: {cache: false}`` entries of deps/outs/metrics/plots."""
    if items is None:
        return
    if not isinstance(items, list):
        raise DocumentError(f"{where} must be a list")
    for item in items:
        if isinstance(item, str):
            yield item, {}
        elif isinstance(item, dict) and len(item) == 1:
            ((path, opts),) = item.items()
            yield str(path), opts if isinstance(opts, dict) else {}
        else:
            raise DocumentError(f"{where}: cannot read entry {item!r}")


def _params_items(items: Any, wdir: str, where: str) -> Iterator[ParamsDef]:
    if items is None:
        return
    if not isinstance(items, list):
        raise DocumentError(f"{where}: params must be a list")
    for item in items:
        if isinstance(item, str):
            yield ParamsDef(norm(DEFAULT_PARAMS, wdir), DEFAULT_PARAMS, (item,))
        elif isinstance(item, dict):
            for pfile, keys in item.items():
                if keys is None or keys == []:
                    yield ParamsDef(norm(str(pfile), wdir), str(pfile), None)
                elif isinstance(keys, list):
                    yield ParamsDef(norm(str(pfile), wdir), str(pfile), tuple(map(str, keys)))
                else:
                    raise DocumentError(f"{where}: params of {pfile} must be a list")
        else:
            raise DocumentError(f"{where}: cannot read params entry {item!r}")


def _stage(name: str, body: Any, ctx: Mapping[str, Any]) -> StageDef:
    where = f"{DVC_YAML}: stage {name}"
    if not isinstance(body, dict):
        raise DocumentError(f"{where} is not a mapping")
    body = _interpolate(body, ctx, where)
    wdir = norm(str(body.get("wdir", ".")))
    outs: list[OutDef] = []
    for key in ("outs", "metrics", "plots"):
        for path, opts in _path_items(body.get(key), f"{where}: {key}"):
            outs.append(
                OutDef(norm(path, wdir), path, bool(opts.get("cache", True)), key == "metrics")
            )
    cmd = body.get("cmd")
    if not isinstance(cmd, (str, list)):
        raise DocumentError(f"{where}: 'cmd' must be a string or a list")
    return StageDef(
        name=name,
        cmd=cmd,
        wdir=wdir,
        deps=tuple(norm(p, wdir) for p, _ in _path_items(body.get("deps"), f"{where}: deps")),
        params=tuple(_params_items(body.get("params"), wdir, where)),
        outs=tuple(outs),
        frozen=bool(body.get("frozen", False)),
        always_changed=bool(body.get("always_changed", False)),
    )


def _load_vars(view: View, raw: Mapping[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    data = view.read(DEFAULT_PARAMS)
    if data is not None:
        loaded = load_yaml(data, DEFAULT_PARAMS)
        if isinstance(loaded, dict):
            ctx.update(loaded)
    for item in raw.get("vars") or []:
        if isinstance(item, dict):
            ctx.update(item)
        elif isinstance(item, str):
            fname, _, keys = item.partition(":")
            content = view.read(norm(fname))
            if content is None:
                raise DocumentError(f"{DVC_YAML}: vars file {fname} is missing")
            loaded = load_by_suffix(content, fname)
            if keys and isinstance(loaded, dict):
                loaded = {k: loaded[k] for k in keys.split(",") if k in loaded}
            if isinstance(loaded, dict):
                ctx.update(loaded)
    return ctx


def parse_project(view: View) -> Project | None:
    """Resolve dvc.yaml at the repository root; None when there is none."""
    data = view.read(DVC_YAML)
    if data is None:
        return None
    raw = load_yaml(data, DVC_YAML)
    if not isinstance(raw, dict):
        raise DocumentError(f"{DVC_YAML} is not a mapping")
    ctx = _load_vars(view, raw)
    stages: dict[str, StageDef] = {}
    raw_stages = raw.get("stages") or {}
    if not isinstance(raw_stages, dict):
        raise DocumentError(f"{DVC_YAML}: 'stages' is not a mapping")
    for raw_name, body in raw_stages.items():
        name = str(raw_name)
        if isinstance(body, dict) and "foreach" in body:
            items = _interpolate(body["foreach"], ctx, f"{DVC_YAML}: stage {name}")
            pairs = items.items() if isinstance(items, dict) else _foreach_keys(items)
            for key, item in pairs:
                local = {**ctx, "item": item, "key": key}
                stages[f"{name}@{key}"] = _stage(f"{name}@{key}", body.get("do"), local)
        elif isinstance(body, dict) and "matrix" in body:
            for key, item in _matrix(body["matrix"], ctx, name):
                local = {**ctx, "item": item}
                stages[f"{name}@{key}"] = _stage(
                    f"{name}@{key}", {k: v for k, v in body.items() if k != "matrix"}, local
                )
        else:
            stages[name] = _stage(name, body, ctx)
    metrics = [norm(p) for p, _ in _path_items(raw.get("metrics"), f"{DVC_YAML}: metrics")]
    metrics += [o.path for st in stages.values() for o in st.outs if o.metric]
    outputs = frozenset(o.path for st in stages.values() for o in st.outs)
    return Project(stages, tuple(dict.fromkeys(metrics)), outputs)


def _foreach_keys(items: Any) -> Iterator[tuple[str, Any]]:
    """DVC's names for ``foreach`` over a list: the item, or its index if any item is a collection."""
    items = list(items)
    by_index = any(isinstance(i, (dict, list)) for i in items)
    for index, item in enumerate(items):
        yield (str(index) if by_index else _to_str(item, "foreach")), item


def _matrix(matrix: Any, ctx: Mapping[str, Any], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    import itertools

    matrix = _interpolate(matrix, ctx, f"{DVC_YAML}: stage {name}")
    if not isinstance(matrix, dict):
        raise DocumentError(f"{DVC_YAML}: stage {name}: 'matrix' must be a mapping")
    keys = list(matrix)
    choices = [list(v) if isinstance(v, list) else [v] for v in matrix.values()]
    for combo in itertools.product(*choices):
        # DVC names matrix stages by each value, or the value's position for lists/dicts
        parts = [
            f"{k}{i}" if isinstance(v, (dict, list)) else _to_str(v, name)
            for k, v, i in zip(
                keys, combo, (c.index(x) for c, x in zip(choices, combo, strict=True)), strict=True
            )
        ]
        yield "-".join(parts), dict(zip(keys, combo, strict=True))


# --------------------------------------------------------------------------- params, metrics


def get_dotted(data: Any, key: str) -> tuple[bool, Any]:
    """Look up a dotted params key the way DVC does (``train.lr``, ``layers.0``)."""
    value = data
    for part in key.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys, as ``dvc metrics show`` and ``dvc params diff`` print them."""
    if not isinstance(data, Mapping):
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def read_params_file(view: View, path: str) -> Any:
    data = view.read(path)
    if data is None:
        return None
    return load_by_suffix(data, path)


def read_metrics_file(data: bytes, path: str) -> Any:
    return load_by_suffix(data, path)


# --------------------------------------------------------------------------- .dvc pointers


@dataclass(frozen=True)
class Pointer:
    md5: str | None
    size: int | None
    hash_name: str
    path: str  # the ``outs[0].path`` as written (relative to the pointer's directory)


def parse_pointer(data: bytes, what: str) -> Pointer:
    raw = load_yaml(data, what)
    outs = raw.get("outs") if isinstance(raw, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        raise DocumentError(f"{what} is not a .dvc file with exactly one output")
    out = outs[0]
    md5, size = out.get("md5"), out.get("size")
    return Pointer(
        md5=md5 if isinstance(md5, str) else None,
        size=size if isinstance(size, int) else None,
        hash_name="md5" if out.get("hash") == "md5" else LEGACY,
        path=str(out.get("path", "")),
    )


# --------------------------------------------------------------------------- the DVC cache


def _dvc_config(
    root: str, read: Callable[[str], bytes | None] | None = None, local: bool = True
) -> list[configparser.ConfigParser]:
    """.dvc/config then, with ``local``, .dvc/config.local (which overrides it, as in DVC).

    ``read`` reads the committed .dvc/config from a view (a base revision, say) instead of
    the disk. config.local is a machine's own file, never committed: it comes from the disk,
    and only where the caller trusts it (never in CI, never when git tracks it).
    """
    parsers = []
    for name in ("config", "config.local") if local else ("config",):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            if read is not None and name == "config":
                parser.read_string((read(".dvc/config") or b"").decode("utf-8"))
            else:
                parser.read(os.path.join(root, ".dvc", name), encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise GateError(f".dvc/{name} cannot be read: {exc}") from exc
        parsers.append(parser)
    return parsers


def cache_dir(root: str, local: bool = True) -> str:
    """The local cache directory, honouring ``cache.dir`` in .dvc/config(.local)."""
    cache = os.path.join(root, ".dvc", "cache")
    for parser in _dvc_config(root, local=local):
        if parser.has_option("cache", "dir"):
            cache = os.path.normpath(os.path.join(root, ".dvc", parser.get("cache", "dir")))
    return cache


_REMOTE_SECTION = re.compile(r"""['"]?remote\s+["'](.+?)["']['"]?""")


@dataclass(frozen=True)
class Remote:
    """The default DVC remote: its name, URL (a local path made absolute) and DVC config."""

    name: str | None
    url: str | None
    config: Mapping[str, Any] = field(default_factory=dict)  # as dvc.config reads it


def default_remote(
    root: str, read: Callable[[str], bytes | None] | None = None, local: bool = True
) -> Remote:
    """The default remote, from .dvc/config (through ``read``) and, with ``local``, config.local."""
    name = None
    remotes: dict[str, dict[str, str]] = {}
    core: dict[str, str] = {}
    for parser in _dvc_config(root, read, local):
        if parser.has_option("core", "remote"):
            name = parser.get("core", "remote")
        if parser.has_section("core"):
            core.update(parser.items("core"))
        for section in parser.sections():
            # DVC writes ['remote "name"'] (configobj quoting); plain [remote "name"] also reads
            found = _REMOTE_SECTION.fullmatch(section.strip())
            if found:
                remotes.setdefault(found.group(1).lower(), {}).update(parser.items(section))
    url = remotes.get(name.lower(), {}).get("url") if name else None
    if url is not None and "://" not in url:
        url = os.path.normpath(os.path.join(root, ".dvc", url))
    return Remote(name, url, {"core": core, "remote": remotes})


def cache_paths(cache: str, md5: str) -> list[str]:
    """Where DVC 3 (``files/md5/``) and DVC 2 (the cache root) keep an object."""
    return [os.path.join(cache, *parts) for parts in object_paths(md5)]


def parse_dir_listing(data: bytes, md5: str) -> dict[str, str]:
    """The ``relpath -> md5`` listing of a ``.dir`` object's (verified) bytes."""
    listing = load_json(data, f"DVC object {md5}")
    if not isinstance(listing, list):
        raise DocumentError(f"DVC object {md5} is not a .dir listing")
    return {
        str(e["relpath"]): str(e["md5"])
        for e in listing
        if isinstance(e, dict) and "relpath" in e and "md5" in e
    }


def read_dir_listing(
    store: ObjectStore, md5: str, hash_name: str | None = None
) -> dict[str, str] | None:
    """The listing of a ``.dir`` object, if a source holds a copy that hashes to ``md5``."""
    if not md5.endswith(".dir"):
        return None
    data = store.document(md5, hash_name=hash_name)
    return None if data is None else parse_dir_listing(data, md5)


# --------------------------------------------------------------------------- .dvcignore


class DvcIgnore:
    """``.dvcignore`` files (gitignore syntax, one per directory), via pathspec like DVC.

    Only the ``.dvcignore`` files on a path's way down are read, lazily: hashing one
    directory must not walk the whole repository.
    """

    def __init__(self, view: View) -> None:
        self.view = view
        self._specs: dict[str, Any] = {}

    def _spec(self, base: str) -> Any:
        if base not in self._specs:
            import pathspec

            data = self.view.read(f"{base}/.dvcignore" if base else ".dvcignore")
            lines = data.decode("utf-8", "replace").splitlines() if data else []
            self._specs[base] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[base]

    def ignored(self, path: str) -> bool:
        if path.startswith((".dvc/", ".git/")) or path.rsplit("/", 1)[-1] == ".dvcignore":
            return True
        for base in ["", *reversed(list(iter_parents(path)))]:
            spec = self._spec(base)
            if spec is not None and spec.match_file(path[len(base) + 1 :] if base else path):
                return True
        return False


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class StageStatus:
    """One stage's ``dvc status`` verdict: what changed, and what could not be checked."""

    name: str
    changes: tuple[str, ...]
    unverified: tuple[str, ...] = ()


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
        for e in self.view.files_under(path):
            if e.kind != "file" or self.ignore.ignored(e.path):
                continue
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
                # DVC-managed and not checked out: not pulled, which says nothing of staleness
                return None, reason or f"{path} is not in the workspace (dvc pull {path})"
        return (dir_md5(pairs.items()) if pairs else None), None

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
        if stage.always_changed:
            changes.append("always changed")
        if stage.cmd != locked.cmd:
            changes.append("changed command")
        if not stage.frozen:
            deps = {d.path: d for d in locked.deps}
            for dep in stage.deps:
                _compare(hasher, dep, deps.get(dep), "dep", changes, unverified)
            for pdef in stage.params:
                _compare_params(view, pdef, locked, params_cache, changes)
        outs = {o.path: o for o in locked.outs}
        for out in stage.outs:
            _compare(hasher, out.path, outs.get(out.path), "out", changes, unverified)
        result[name] = StageStatus(name, tuple(changes), tuple(unverified))
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
    elif now is None:
        changes.append(f"{what} {path}: deleted")
    elif locked is None or locked.md5 is None:
        changes.append(f"{what} {path}: new (not in dvc.lock)")
    elif now != locked.md5:
        changes.append(f"{what} {path}: modified ({locked.md5} in dvc.lock, {now} now)")


def _compare_params(
    view: View, pdef: ParamsDef, locked: LockStage, cache: dict[str, Any], changes: list[str]
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
            changes.append(f"param {pdef.file}:{key}: modified ({info[key]!r} -> {value!r})")


def find_pointer(view: View, path: str) -> Pointer | None:
    """The ``.dvc`` pointer tracking ``path`` itself (``path.dvc``), if there is one."""
    data = view.read(path + ".dvc")
    if data is None:
        return None
    try:
        return parse_pointer(data, path + ".dvc")
    except DocumentError:
        return None
