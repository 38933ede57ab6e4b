"""dvc.yaml resolved as DVC resolves it: interpolation, ``vars``, ``foreach``/``matrix``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.dvc import DEFAULT_PARAMS, DVC_YAML, norm
from promote_gate.repo import View
from promote_gate.yamlio import DocumentError, load_by_suffix, load_yaml


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
