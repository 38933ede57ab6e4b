"""dvc.yaml resolved as DVC 3 resolves it: ``${}`` interpolation, ``vars``, ``foreach``/``matrix``.

A port of ``dvc/parsing`` (``DataResolver``, ``Context``, ``interpolate``) without DVC itself,
so a hook or CI job needs no DVC installed; tests/test_dvc_corpus.py proves it resolves the
same stages as ``dvc.repo.Repo(...).index`` on real projects, and tests/test_parsing.py on each
construct. What DVC accepts and this does not support is refused naming the construct, the file
and the line ("unsupported DVC feature: ..."), never "internal error".

Semantics kept from DVC: any number of ``${}`` in a string (a string that is exactly one
``${}`` takes the value's type); ``\\${`` escapes; ``vars`` at the top (``params.yaml`` first
when it exists) and per stage, as files, ``file:key1,key2`` or inline mappings, merged
without redefinition; ``foreach`` over lists (named by value, or by index when an item is a
collection) and mappings (``key``/``item``); ``matrix`` over lists, mappings (their keys) and
references; a mapping interpolated into ``cmd`` unpacks to ``--key value`` per the
``parsing`` config (``bool: store_true|boolean_optional``, ``list: nargs|append``); ``wdir``.

Unlike DVC's, bounded (``Budget``): a ``foreach``/``matrix`` is counted before it is expanded
and refused naming the file and the construct; generated stages share the context.
"""

from __future__ import annotations

import copy
import functools
import itertools
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.dvc import DEFAULT_PARAMS, DVC_YAML, norm
from promote_gate.errors import DocumentError
from promote_gate.yamlio import load_yaml

Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class OutDef:
    path: str  # repository-relative
    def_path: str
    cache: bool = True
    metric: bool = False
    plot: bool = False
    persist: bool = False


@dataclass(frozen=True)
class ParamsDef:
    file: str  # repository-relative
    def_file: str
    keys: tuple[str, ...] | None  # None: the whole file


@dataclass(frozen=True)
class StageDef:
    name: str  # "train", "train@0", or "sub/dvc.yaml:train" for a nested dvc.yaml
    cmd: Any
    wdir: str
    deps: tuple[str, ...]  # repository-relative
    params: tuple[ParamsDef, ...]
    outs: tuple[OutDef, ...]
    frozen: bool = False
    always_changed: bool = False
    dvcfile: str = DVC_YAML  # the dvc.yaml defining it


@dataclass(frozen=True)
class Project:
    """A project's dvc.yaml files resolved (foreach/matrix expanded, ``${}`` interpolated)."""

    stages: Mapping[str, StageDef]
    metrics: tuple[str, ...]  # every metrics file: top-level ``metrics:`` and stage metrics outs
    outputs: frozenset[str] = field(default_factory=frozenset)
    dvcfiles: tuple[str, ...] = (DVC_YAML,)  # the dvc.yaml files read, the root one first

    @property
    def wdirs(self) -> dict[str, str]:
        return {name: st.wdir for name, st in self.stages.items()}


class ParsingError(DocumentError):
    """A dvc.yaml DVC would refuse too, or a construct promote-gate does not support."""


class ContextError(ValueError):
    """Raised by the context: a key not found, a redefinition, a reserved key."""


# --------------------------------------------------------------------------- budgets
# Every check resolves every dvc.yaml in the repository, so a matrix of 8 keys x 10 values
# (10^8 stages) must be refused, not expanded. Real pipelines generate a few hundred stages from
# a foreach (the corpus's largest project has 45): 10,000 is far above that and resolves in
# about a second (DVC itself takes seconds).
MAX_STAGES_PER_DVCFILE = 10_000
# A monorepo project sums its nested dvc.yaml files: room for two at the bound, and more.
MAX_STAGES_PER_PROJECT = 25_000
# Characters and nodes resolved per project: interpolation copies a value into every stage
# naming it (``${big}`` x 1000 in a foreach's cmd is terabytes). The corpus's largest project
# resolves to ~72 KB, ~1.6 KB a stage; 64 Mi is 25,000 such stages twice over.
MAX_RESOLVED_SIZE = 64 * 1024 * 1024
_CAP = 10**18  # a count past every bound: a matrix's exact product could have 10^5 digits


class Budget:
    """What a project's dvc.yaml files have generated so far; each asks before it expands."""

    def __init__(self) -> None:
        self.stages, self.size, self.per_file = 0, 0, dict[str, int]()

    def reserve(self, path: str, count: int, what: str, size: int = 0) -> None:
        """Room for ``count`` stages from ``path`` and ``size`` characters, before expanding."""
        in_file = self.per_file.get(path, 0) + count
        for total, bound, where in (
            (in_file, MAX_STAGES_PER_DVCFILE, "dvc.yaml"),
            (self.stages + count, MAX_STAGES_PER_PROJECT, "project"),
        ):
            if total > bound:
                shown = f"over {_CAP}" if count >= _CAP else str(count)
                so_far = "" if total in (count, _CAP) else f", {total} in this {where}"
                raise ContextError(
                    f"{what}: {shown} stages{so_far}, more than the {bound} promote-gate "
                    f"resolves per {where} (refused before expanding)"
                )
        self.per_file[path], self.stages = in_file, self.stages + count
        self.charge(size)

    def charge(self, size: int) -> None:
        self.size += size
        if self.size > MAX_RESOLVED_SIZE:
            raise ContextError(
                f"the project resolves to more than {MAX_RESOLVED_SIZE} characters, more than "
                "promote-gate resolves (refused before writing them)"
            )


# --------------------------------------------------------------------------- interpolation

KEYCRE = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
# DVC's grammar (pyparsing): word ("." word | "[" word "]")*, a word having no . [ ]
_EXPR = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[[^.\[\]]+\])*")
PRIMITIVES = (int, float, str, bytes, bool)


def _check_expression(inner: str) -> None:
    if not _EXPR.fullmatch(inner):
        raise ContextError(f"${{{inner}}}: not a valid interpolation (key, key.sub or key[0])")


def _is_map_or_seq(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def to_str(value: Any, config: Mapping[str, Any] | None = None) -> str:
    """A value as DVC writes it into a string (``dvc/parsing/interpolate.py:to_str``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _unpack(value, config or {})
    return str(value)


def _unpack(data: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """A mapping in ``cmd`` as command-line options, per the ``parsing`` config."""
    result = ""
    from promote_gate.dvc.params import flatten  # flatten_dict's reducer="dot"

    for key, value in flatten(data).items():
        if isinstance(value, bool):
            if value:
                result += f"--{key} "
            elif config.get("bool", "store_true") == "boolean_optional":
                result += f"--no-{key} "
        elif isinstance(value, str):
            result += f"--{key} {shlex.quote(value)} "
        elif isinstance(value, (list, tuple, Mapping)):
            for number, item in enumerate(value):
                if isinstance(item, str):
                    shown = shlex.quote(item)
                elif isinstance(item, (list, tuple, Mapping)):
                    raise ContextError(f"Cannot interpolate nested iterable in '{key}'")
                else:
                    shown = str(item)
                if config.get("list", "nargs") == "append":
                    result += f"--{key} {shown} "
                else:
                    result += f"{shown} " if number > 0 else f"--{key} {shown} "
        else:
            result += f"--{key} {value} "
    return result.rstrip()


def _validate(value: Any, key: str | None) -> None:
    """DVC's ``validate_value``: only primitives go into strings (a mapping into ``cmd``)."""
    if value is None or isinstance(value, PRIMITIVES):
        return
    if key is None or "foreach" in key:
        return
    if isinstance(value, dict) and key == "cmd":
        return
    raise ContextError(f"Cannot interpolate data of type '{type(value).__name__}'")


class Context:
    """What ``${}`` can name: a nested mapping, with DVC's rules for loading and merging."""

    def __init__(self, data: dict[str, Any] | None = None, budget: Budget | None = None) -> None:
        self.data: dict[str, Any] = data if data is not None else {}
        self.overlay: dict[str, Any] = {}
        self.imports: dict[str, list[str] | None] = {}
        self.reserved: set[str] = set()
        self.budget = budget if budget is not None else Budget()

    def with_items(self, items: Mapping[str, Any]) -> Context:
        """A generated stage's context: the data shared, ``items`` in front and reserved."""
        new = copy.copy(self)  # ``clone`` copies ``imports`` before stage vars write to them
        new.overlay, new.reserved = {**self.overlay, **items}, self.reserved | set(items)
        return new

    def clone(self) -> Context:
        """One stage ``vars`` can write to: ``_merge`` copies the mappings it writes into."""
        new = copy.copy(self)
        new.data, new.imports, new.reserved = (
            dict(self.data),
            dict(self.imports),
            set(self.reserved),
        )
        return new

    def select(self, expr: str) -> Any:
        parts = expr.replace("[", ".").replace("]", "").split(".")
        value: Any = self.overlay if parts[0].strip() in self.overlay else self.data
        for raw in parts:
            part = raw.strip()
            try:
                if isinstance(value, dict):
                    value = value[part]
                elif isinstance(value, list):
                    value = value[int(part)]
                else:
                    raise ContextError(f"Could not find '{expr}'")
            except (KeyError, IndexError, ValueError) as exc:
                raise ContextError(f"Could not find '{expr}'") from exc
        return value

    def resolve(
        self, src: Any, key: str | None = None, config: Mapping[str, Any] | None = None
    ) -> Any:
        if isinstance(src, str):
            return self.resolve_str(src, key, config)
        self.budget.charge(len(src) + 1 if isinstance(src, (Mapping, list, tuple)) else 1)
        if isinstance(src, Mapping):
            return {
                self.resolve(k, key, config): self.resolve(v, key, config) for k, v in src.items()
            }
        if isinstance(src, (list, tuple)):
            return [self.resolve(v, key, config) for v in src]
        return src

    def resolve_str(
        self, src: str, key: str | None = None, config: Mapping[str, Any] | None = None
    ) -> Any:
        matches = list(KEYCRE.finditer(src))
        if len(matches) == 1 and src == matches[0].group(0):
            inner = matches[0]["inner"]
            _check_expression(inner)
            value = self.select(inner)
            _validate(value, key)
            # shared, not copied: nothing downstream writes to a resolved value
            self.budget.charge(len(value) + 1 if isinstance(value, str) else 1)
            return value
        pieces, index = [], 0
        for match in matches:
            inner = match["inner"]
            _check_expression(inner)
            value = self.select(inner)
            _validate(value, key)
            if _is_map_or_seq(value):  # written out whole: YAML aliases can make it terabytes
                self.budget.charge(_measure(value))
            pieces += [src[index : match.start()], to_str(value, config)]
            index = match.end()
        pieces.append(src[index:])
        self.budget.charge(sum(map(len, pieces)) + 1)  # before the pieces are joined
        return "".join(pieces).replace("\\${", "${")

    def merge(self, update: Mapping[str, Any], source: str) -> None:
        """DVC's ``_merge`` without overwrite: mappings merge, anything else may not be redefined."""
        clash = sorted(k for k in update if k in self.reserved)
        if clash:
            raise ContextError(f"attempted to modify reserved key(s) {', '.join(clash)}")
        _merge(self.data, _clean(update), source)

    def merge_from(self, read: Reader, item: str, wdir: str) -> None:
        """``vars`` entry ``file`` or ``file:key1,key2`` (relative to ``wdir``)."""
        name, _, keys_text = item.partition(":")
        path = norm(name, wdir)
        keys = [k for k in keys_text.split(",") if k] or None
        if path in self.imports:
            loaded = self.imports[path]
            if keys is None and loaded is None:
                return  # the whole file, again: allowed
            if keys is None or loaded is None or set(keys) & set(loaded):
                raise ContextError(f"cannot load '{item}' as it's partially loaded already")
        data = read(path)
        if data is None:
            raise ContextError(f"'{path}' does not exist")
        from promote_gate.dvc.params import load_params_file

        loaded_data = load_params_file(data, path)
        if not isinstance(loaded_data, Mapping):
            raise ContextError(
                f"expected a dictionary, got '{type(loaded_data).__name__}' in file '{path}'"
            )
        if keys is not None:
            missing = [k for k in keys if k not in loaded_data]
            if missing:
                raise ContextError(f"could not find '{missing[0]}' in '{path}'")
            loaded_data = {k: loaded_data[k] for k in keys}
        self.merge(loaded_data, path)
        if path not in self.imports:
            self.imports[path] = keys
        elif keys:
            previous = self.imports[path]
            self.imports[path] = [*(previous or []), *keys]

    def load_vars(self, read: Reader, vars_: Any, wdir: str, default: bool = False) -> None:
        if default and read(norm(DEFAULT_PARAMS, wdir)) is not None:
            self.merge_from(read, DEFAULT_PARAMS, wdir)
        if vars_ is None:
            return
        if not isinstance(vars_, list):
            raise ContextError("'vars' must be a list of files or mappings")
        for item in vars_:
            if isinstance(item, str):
                self.merge_from(read, item, wdir)
            elif isinstance(item, Mapping):
                self.merge(item, "vars")
            else:
                raise ContextError(f"cannot read vars entry {item!r}")


def _measure(value: Any) -> int:
    """Nodes and characters in ``value``, counted without writing it out (nor recursing)."""
    total, stack = 0, [value]
    while stack:
        node = stack.pop()
        total += 1 + (len(node) if isinstance(node, str) else 0)
        if isinstance(node, Mapping):
            stack += [*node.keys(), *node.values()]
        elif isinstance(node, (list, tuple)):
            stack += node
    return total


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """As DVC's context holds data: string keys only (others are dropped), lists as lists."""

    def conv(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: conv(v) for k, v in value.items() if isinstance(k, str)}
        if isinstance(value, (list, tuple, set)):
            return [conv(v) for v in value]
        return value

    cleaned: dict[str, Any] = conv(data)
    return cleaned


def _merge(into: dict[str, Any], update: Mapping[str, Any], source: str) -> None:
    for key, value in update.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            into[key] = dict(into[key])  # copy on write: the mapping may be shared
            _merge(into[key], value, source)
        elif key in into:
            raise ContextError(f"cannot redefine '{key}' from '{source}' as it already exists")
        else:
            into[key] = value


# --------------------------------------------------------------------------- dvc.yaml


def stage_lines(text: str) -> dict[str, int]:
    """Where each stage under ``stages:`` is defined (1-based lines), for messages."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if getattr(key, "value", None) == "stages" and isinstance(value, yaml.MappingNode):
            return {str(k.value): k.start_mark.line + 1 for k, _ in value.value}
    return {}


def _path_items(items: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``- a`` and ``- a: {cache: false}`` entries of deps/outs/metrics/plots, merged by path
    as DVC merges them."""
    if items is None:
        return
    if not isinstance(items, list):
        raise ParsingError(f"{where} must be a list")
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, str):
            merged.setdefault(item, {})
        elif isinstance(item, dict):
            for path, opts in item.items():
                if opts is not None and not isinstance(opts, dict):
                    raise ParsingError(f"{where}: expected a mapping for {path!r}")
                merged.setdefault(str(path), {}).update(opts or {})
        else:
            raise ParsingError(f"{where}: cannot read entry {item!r}")
    yield from merged.items()


def _params_items(items: Any, wdir: str, where: str) -> Iterator[ParamsDef]:
    """DVC's ``_merge_params``: keys by file; a file listed without keys is tracked whole."""
    if items is None:
        return
    if not isinstance(items, list):
        raise ParsingError(f"{where}: params must be a list")
    whole = {
        str(k) for item in items if isinstance(item, dict) for k, keys in item.items() if not keys
    }
    merged: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, str):
            if DEFAULT_PARAMS not in whole:
                merged.setdefault(DEFAULT_PARAMS, []).append(item)
        elif isinstance(item, dict):
            for pfile, keys in item.items():
                name = str(pfile)
                if name in whole:
                    merged[name] = []
                elif isinstance(keys, list):
                    merged.setdefault(name, []).extend(str(k) for k in keys)
                else:
                    raise ParsingError(f"{where}: params of {pfile} must be a list")
        else:
            raise ParsingError(f"{where}: cannot read params entry {item!r}")
    for pfile, keys in merged.items():
        yield ParamsDef(norm(pfile, wdir), pfile, None if pfile in whole else tuple(keys))


STAGE_KEYS = frozenset({"cmd", "wdir", "deps", "params", "vars", "frozen", "meta", "desc"})
STAGE_KEYS |= {"always_changed", "outs", "metrics", "plots"}
TOP_KEYS = frozenset({"datasets", "plots", "stages", "vars", "params", "metrics", "artifacts"})


def _check_keys(keys: Any, allowed: frozenset[str], where: str, line: int | None) -> None:
    """DVC's schema refuses unknown keys: so does this, naming them as DVC does."""
    extra = sorted(str(k) for k in keys if k not in allowed)
    if extra:
        raise ParsingError(
            f"{where.split(':', maxsplit=1)[0]}:{line or 1}: validation failed: extra keys not allowed "
            f"in {where.split(': ', 1)[-1]}: {', '.join(extra)}"
        )


_BOOL_FLAGS = ("cache", "persist", "push", "checkpoint")


def _check_flags(body: Mapping[str, Any], where: str, line: int | None) -> None:
    """DVC validates an output's flags before it interpolates: ``cache: ${x}`` is refused."""
    for section in ("outs", "metrics", "plots"):
        items = body.get(section)
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping):
                continue
            for path, flags in item.items():
                wrong = [
                    flag
                    for flag in _BOOL_FLAGS
                    if isinstance(flags, Mapping)
                    and flag in flags
                    and not isinstance(flags[flag], bool)
                ]
                if wrong:
                    raise ParsingError(
                        f"{where.split(':', maxsplit=1)[0]}:{line or 1}: validation failed: "
                        f"expected bool for {section} -> {path} -> {wrong[0]} in "
                        f"{where.split(': ', 1)[-1]}"
                    )


def _stage(name: str, body: Mapping[str, Any], wdir: str, dvcfile: str) -> StageDef:
    where = f"{dvcfile}: stage {name}"
    if body.get("cmd") is None:
        raise ParsingError(f"{where}: 'cmd' is required")
    outs: list[OutDef] = []
    for key in ("outs", "metrics", "plots"):
        for path, opts in _path_items(body.get(key), f"{where}: {key}"):
            outs.append(
                OutDef(
                    norm(path, wdir),
                    path,
                    bool(opts.get("cache", True)),
                    metric=key == "metrics",
                    plot=key == "plots",
                    persist=bool(opts.get("persist", False)),
                )
            )
    cmd = body.get("cmd")
    if cmd is not None and not isinstance(cmd, (str, list)):
        raise ParsingError(f"{where}: 'cmd' must be a string or a list")
    return StageDef(
        name=name,
        cmd=cmd,
        wdir=wdir,
        deps=tuple(norm(p, wdir) for p, _ in _path_items(body.get("deps"), f"{where}: deps")),
        params=tuple(_params_items(body.get("params"), wdir, where)),
        outs=tuple(outs),
        frozen=bool(body.get("frozen", False)),
        always_changed=bool(body.get("always_changed", False)),
        dvcfile=dvcfile,
    )


class _Resolver:
    """One dvc.yaml: its context, and its stages resolved one definition at a time."""

    def __init__(
        self, read: Reader, path: str, raw: Mapping[str, Any], text: str, budget: Budget
    ) -> None:
        self.read = read
        self.budget = budget
        self.raw = raw
        self.path = path
        self.dir = posixpath.dirname(path)
        self.text = text
        self.lines = stage_lines(text) if text.count("\n") < 200_000 else {}
        self.config = _parsing_config(read)
        self.context = Context(budget=budget)
        self._at("vars", lambda: self.context.load_vars(read, raw.get("vars"), self.dir, True))

    def _read_charged(self, path: str) -> bytes | None:
        """A stage's vars file: read again for each stage a foreach generates, so charged."""
        data = self.read(path)
        self.budget.charge(len(data or b""))
        return data

    def _at(self, where: str, action: Callable[[], Any], line: int | None = None) -> Any:
        try:
            return action()
        except ContextError as exc:
            place = f"{self.path}:{line}" if line else self.path
            raise ParsingError(f"failed to parse '{where}' in {place}: {exc}") from exc

    def stage(self, name: str, body: Any, context: Context) -> tuple[str, dict[str, Any], str]:
        """(name, the stage's resolved body, its wdir)."""
        line = self.lines.get(name.split("@", maxsplit=1)[0])
        if not isinstance(body, Mapping):
            raise ParsingError(f"{self.path}:{line or 1}: stage {name} is not a mapping")
        _check_keys(body, STAGE_KEYS, f"{self.path}: stages -> {name}", line)
        _check_flags(body, f"{self.path}: stages -> {name}", line)
        definition = dict(body)
        vars_ = definition.pop("vars", None)
        self._at(f"stages.{name}.vars", lambda: self.budget.charge(_measure(vars_)), line)
        if vars_ is not None and KEYCRE.search(repr(vars_)):
            raise ParsingError(
                f"failed to parse 'stages.{name}.vars' in {self.path}: interpolating is not allowed"
            )
        raw_wdir = definition.get("wdir")
        wdir = self.dir
        if raw_wdir:
            resolved = self._at(
                f"stages.{name}.wdir", lambda: to_str(context.resolve_str(str(raw_wdir))), line
            )
            wdir = norm(resolved, self.dir)
        if vars_:
            context = context.clone()
            load = lambda: context.load_vars(self._read_charged, vars_, wdir)  # noqa: E731
            self._at(f"stages.{name}.vars", load, line)
        resolved_body = {
            key: self._at(
                f"stages.{name}.{key}",
                lambda key=key, value=value: context.resolve(value, key, self.config),  # type: ignore[misc]
                line,
            )
            for key, value in definition.items()
        }
        return name, resolved_body, wdir

    def stages(self) -> Iterator[tuple[str, dict[str, Any], str]]:
        raw_stages = self.raw.get("stages") or {}
        if not isinstance(raw_stages, Mapping):
            raise ParsingError(f"{self.path}: 'stages' is not a mapping")
        plain = sum(
            not isinstance(b, Mapping) or not {"matrix", "foreach"} & set(b)
            for b in raw_stages.values()
        )
        self._at(
            "stages", lambda: self.budget.reserve(self.path, plain, "stages defined one by one")
        )
        for raw_name, body in raw_stages.items():
            name = str(raw_name)
            if isinstance(body, Mapping) and "matrix" in body:
                yield from self._matrix(name, body)
            elif isinstance(body, Mapping) and "foreach" in body:
                yield from self._foreach(name, body)
            else:
                yield self.stage(name, body, self.context)

    def _generated(
        self, name: str, template: Any, pairs: Mapping[str, Any]
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        for key, temp in pairs.items():
            yield self.stage(f"{name}@{key}", template, self.context.with_items(temp))

    def _foreach(
        self, name: str, body: Mapping[str, Any]
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        line = self.lines.get(name)
        if "do" not in body:
            raise ParsingError(f"{self.path}:{line or 1}: foreach stage {name} has no 'do'")
        iterable = self._at(
            f"stages.{name}.foreach",
            lambda: self.context.resolve(body["foreach"], key="foreach"),
            line,
        )
        if not _is_map_or_seq(iterable):
            raise ParsingError(
                f"failed to resolve 'stages.{name}.foreach' in {self.path}: expected "
                f"list/dictionary, got {type(iterable).__name__}"
            )
        nested = not isinstance(iterable, Mapping) and any(_is_map_or_seq(v) for v in iterable)
        size = sum(len(to_str(k)) + 1 for k in (range(len(iterable)) if nested else iterable))
        what, count = f"a foreach over {len(iterable)} items", len(iterable)
        reserve = lambda: self.budget.reserve(self.path, count, what, size)  # noqa: E731
        self._at(f"stages.{name}.foreach", reserve, line)
        pairs: dict[str, dict[str, Any]] = {}
        if isinstance(iterable, Mapping):
            for key, value in iterable.items():
                pairs[to_str(key)] = {"item": value, "key": to_str(key)}
        elif nested:
            for index, value in enumerate(iterable):
                pairs[str(index)] = {"item": value}
        else:
            for value in iterable:
                pairs[to_str(value)] = {"item": value}
        yield from self._generated(name, body["do"], pairs)

    def _matrix(
        self, name: str, body: Mapping[str, Any]
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        line = self.lines.get(name)
        template = {k: v for k, v in body.items() if k != "matrix"}
        matrix = self._at(
            f"stages.{name}.matrix",
            lambda: self.context.resolve(body["matrix"], key="foreach"),
            line,
        )
        if not isinstance(matrix, Mapping):
            raise ParsingError(f"{self.path}:{line or 1}: stage {name}: 'matrix' must be a mapping")
        try:
            # a mapping is iterated for its keys, as Python (and DVC) iterate one
            choices = {k: list(enumerate(list(v))) for k, v in matrix.items()}
        except TypeError as exc:
            raise ParsingError(
                f"{self.path}:{line or 1}: stage {name}: matrix values must be lists or mappings"
            ) from exc
        sizes = [len(v) for v in choices.values()]
        shown = " x ".join(map(str, sizes[:10])) + (" x ..." if len(sizes) > 10 else "")
        what = f"a matrix of {len(sizes)} keys ({shown} values)"
        count = functools.reduce(lambda total, size: min(total * size, _CAP), sizes, 1)
        # the names' characters, bounded before they exist: each key's longest part, in each
        longest = sum(
            max((len(f"{k}{i}" if _is_map_or_seq(v) else to_str(v)) + 1 for i, v in c), default=0)
            for k, c in choices.items()
        )
        reserve = lambda: self.budget.reserve(self.path, count, what, count * longest)  # noqa: E731
        self._at(f"stages.{name}.matrix", reserve, line)
        pairs: dict[str, dict[str, Any]] = {}
        for combination in itertools.product(*choices.values()):
            item: dict[str, Any] = {}
            parts = []
            for key, (index, value) in zip(choices, combination, strict=True):
                item[str(key)] = value
                parts.append(f"{key}{index}" if _is_map_or_seq(value) else to_str(value))
            generated = "-".join(parts)
            pairs[generated] = {"item": item, "key": generated}
        yield from self._generated(name, template, pairs)

    def top(self, section: str) -> list[Any]:
        entries = self.raw.get(section) or []
        if not isinstance(entries, list):
            raise ParsingError(f"{self.path}: '{section}' must be a list")
        return [
            self._at(f"{section}.{i}", lambda e=entry: self.context.resolve(e))  # type: ignore[misc]
            for i, entry in enumerate(entries)
        ]


def _raw(read: Reader, path: str) -> dict[str, Any]:
    data = read(path)
    if data is None:
        return {}
    raw = load_yaml(data, path)
    if raw is None:  # empty, or only comments: no stages, as DVC reads it
        return {}
    if not isinstance(raw, dict):
        raise ParsingError(f"{path} is not a mapping")
    return raw


def _parsing_config(read: Reader) -> dict[str, Any]:
    """The ``[parsing]`` section of .dvc/config (``bool``, ``list``), as DVC reads it."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    data = read(".dvc/config")
    try:
        parser.read_string((data or b"").decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        return {}
    return dict(parser.items("parsing")) if parser.has_section("parsing") else {}


def dvcfile_stages(
    read: Reader, path: str = DVC_YAML, budget: Budget | None = None
) -> tuple[list[StageDef], list[str]]:
    """The stages one dvc.yaml defines, resolved, and its top-level metrics (paths)."""
    data = read(path)
    if data is None:
        return [], []
    text = data.decode("utf-8", "replace")
    raw = _raw(read, path)
    _check_keys(raw, TOP_KEYS, f"{path}: (top level)", 1)
    artifacts = raw.get("artifacts")
    if artifacts is not None and (
        not isinstance(artifacts, Mapping)
        or not all(isinstance(a, Mapping) and "path" in a for a in artifacts.values())
    ):
        raise ParsingError(
            f"{path}:1: validation failed: 'artifacts' must map each name to a mapping with a "
            "'path'"
        )
    resolver = _Resolver(read, path, raw, text, budget if budget is not None else Budget())
    prefix = "" if path == DVC_YAML else f"{path}:"
    stages = [_stage(f"{prefix}{name}", body, wdir, path) for name, body, wdir in resolver.stages()]
    metrics = []
    for entry in resolver.top("metrics"):
        if not isinstance(entry, str):
            raise ParsingError(f"{path}: top-level metrics entries must be paths")
        metrics.append(norm(entry, resolver.dir))
    return stages, metrics


def parse_project(view: Any, dvcfiles: list[str] | None = None) -> Project | None:
    """Resolve a project's dvc.yaml files (``dvcfiles``, else every one DVC would load: the
    root one and nested ones); None when the project has no dvc.yaml at all."""
    if dvcfiles is None:
        from promote_gate.dvc.project import find_dvcfiles

        dvcfiles = find_dvcfiles(view)
    stages: dict[str, StageDef] = {}
    metrics: list[str] = []
    found = []
    budget = Budget()
    for path in dvcfiles:
        if view.read(path) is None:
            continue
        found.append(path)
        defined, top = dvcfile_stages(view.read, path, budget)
        for stage in defined:
            stages[stage.name] = stage
        metrics += top
    if not found:
        return None
    metrics += [o.path for st in stages.values() for o in st.outs if o.metric]
    outputs = frozenset(o.path for st in stages.values() for o in st.outs)
    return Project(stages, tuple(dict.fromkeys(metrics)), outputs, tuple(found))
