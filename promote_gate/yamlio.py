"""Safe, bounded loading of YAML and JSON documents from untrusted files.

DVC reads YAML 1.2 (ruamel); PyYAML speaks YAML 1.1, where ``1e-3`` is a string and
``yes`` is a boolean. The loader below resolves scalars the YAML 1.2 core-schema way,
so values compare as DVC compares them (tests/test_yamlio.py proves it against ruamel).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from typing import Any

import yaml

from promote_gate.errors import MAX_DOCUMENT_BYTES, DocumentError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentError",
    "dump_yaml",
    "load_by_suffix",
    "load_json",
    "load_toml",
    "load_yaml",
]

MAX_EXPANDED_NODES = 1_000_000


try:
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader


class Yaml12Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 core-schema booleans, ints and floats."""


class Yaml12Dumper(yaml.SafeDumper):
    """SafeDumper that quotes exactly the strings Yaml12Loader would not read back as strings."""


# Timestamps are dropped too: values must stay JSON-serialisable, and a date compares
# equal to itself as a string on both sides of every comparison promote-gate makes.
_YAML11_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:timestamp",
}
_YAML12_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "tag:yaml.org,2002:int",
        r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        (
            r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        "-+0123456789.",
    ),
]
for _cls in (Yaml12Loader, Yaml12Dumper):
    _cls.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for _tag, _pattern, _first in _YAML12_RESOLVERS:
        _cls.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if value.startswith("-") else 1
    digits = value.lstrip("+-")
    # base 0 reads the 0b/0o/0x prefixes; plain digits are decimal in YAML 1.2 (012 is 12)
    return sign * (int(digits, 0) if digits[:2] in {"0b", "0o", "0x"} else int(digits, 10))


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Refuse duplicate keys, as ruamel (and so DVC) does."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    data: dict[Any, Any] = {}
    loader.flatten_mapping(node)
    data.update(loader.construct_pairs(node, deep=True))
    return data


for _tag in ("binary", "set", "omap", "pairs", "timestamp"):
    # values must be what JSON holds: these tags are refused as not readable
    Yaml12Loader.yaml_constructors = {
        k: v for k, v in Yaml12Loader.yaml_constructors.items() if k != f"tag:yaml.org,2002:{_tag}"
    }
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


MAX_DEPTH = 200


def _check_expansion(obj: Any, what: str) -> None:
    """Refuse documents whose aliases expand beyond reason (the 'billion laughs') or nest too deep.

    Shared (aliased) subtrees are measured once; their size and height are remembered, so
    depth built through aliases counts too.
    """
    measured: dict[int, tuple[int, int]] = {}  # id -> (expanded size, height)

    def measure(node: Any, depth: int) -> tuple[int, int]:
        if not isinstance(node, (dict, list)):
            return 1, 0
        known = measured.get(id(node))
        if known is None:
            if depth > MAX_DEPTH:
                raise DocumentError(f"{what} is nested too deeply")
            total, height = 1, 0
            children = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in children:
                for child in (key, value):
                    size, child_height = measure(child, depth + 1)
                    total += size
                    height = max(height, child_height + 1)
                if total > MAX_EXPANDED_NODES:
                    raise DocumentError(
                        f"{what} expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)"
                    )
            known = measured[id(node)] = (total, height)
        if depth + known[1] > MAX_DEPTH:
            raise DocumentError(f"{what} is nested too deeply")
        return known

    measure(obj, 0)


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"{what} is {len(data)} bytes, more than the {MAX_DOCUMENT_BYTES} bytes "
            "promote-gate reads as a document"
        )


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def load_yaml(data: bytes, what: str = "document") -> Any:
    """Parse one YAML document, bounded in size and alias expansion."""
    _check_size(data, what)
    text = _decode(data, what)
    try:
        obj = yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except (TypeError, ValueError) as exc:  # unhashable keys, out-of-range numbers
        raise DocumentError(f"{what} cannot be read: {_one_line(exc)}") from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"{what} is not valid YAML: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise DocumentError(f"{what} is nested too deeply") from exc
    _check_expansion(obj, what)
    return obj


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What PyYAML found and where, without the name of the stream it parsed: a document is
    parsed from a string, which PyYAML calls ``"<unicode string>"``; the caller names the file."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        text = f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem or 'invalid'}"
        if exc.context and exc.context_mark is not None:
            start = exc.context_mark
            text += f" ({exc.context} at line {start.line + 1}, column {start.column + 1})"
        elif exc.context:
            text += f" ({exc.context})"
        return _one_line(text)
    if isinstance(exc, yaml.reader.ReaderError):
        character = (
            f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        )
        return f"character {exc.position + 1}: unacceptable character {character}: {exc.reason}"
    return _one_line(exc).replace(' in "<unicode string>",', "")


def load_json(data: bytes, what: str = "document") -> Any:
    """Parse one JSON document, bounded in size; NaN/Infinity are refused."""
    _check_size(data, what)
    text = _decode(data, what)

    def no_constants(name: str) -> Any:
        raise DocumentError(f"{what} contains {name}, which is not JSON")

    try:
        obj = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise DocumentError(f"{what} is not valid JSON: {where}: {exc.msg.lower()}") from exc
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise DocumentError(f"{what} cannot be read: {exc}") from exc
    except RecursionError as exc:
        raise DocumentError(f"{what} is nested too deeply") from exc
    _check_expansion(obj, what)
    return obj


def load_toml(data: bytes, what: str = "document") -> Any:
    """Parse a TOML document, bounded in size."""
    _check_size(data, what)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    text = _decode(data, what)
    if _toml_depth(text) > MAX_DEPTH:  # tomllib is quadratic in dotted-key depth: refuse first
        raise DocumentError(f"{what} is nested too deeply")
    try:
        obj = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError(f"{what} is not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per nested array or table
        raise DocumentError(f"{what} is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise DocumentError(f"{what} cannot be read: {_one_line(exc)}") from exc
    _check_expansion(obj, what)
    return obj


def _toml_depth(text: str) -> int:
    """An upper bound of a TOML document's nesting: dots in a key or table header, and
    brackets and braces open on one line (strings included: it only errs high)."""
    deepest = 0
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        depth = key.count(".") + max(line.count("["), line.count("{"))
        deepest = max(deepest, depth)
    return deepest


def load_by_suffix(data: bytes, name: str) -> Any:
    """Load a params or metrics file the way DVC picks a parser: by file extension."""
    lower = name.lower()
    if lower.endswith(".json"):
        return load_json(data, name)
    if lower.endswith(".toml"):
        return load_toml(data, name)
    if lower.endswith((".yaml", ".yml")) or "." not in lower.rsplit("/", 1)[-1]:
        return load_yaml(data, name)
    raise DocumentError(f"{name}: promote-gate reads YAML, JSON and TOML files, not this one")


def dump_yaml(obj: Any) -> str:
    """Dump YAML deterministically, in a form Yaml12Loader reads back identically."""
    return yaml.dump(
        obj, Dumper=Yaml12Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


@functools.lru_cache(maxsize=8)  # every finding in one document asks: compose it once
def key_lines(text: str, max_depth: int = 32) -> dict[tuple[str, ...], int]:
    """Every mapping key path of a YAML (or JSON) document -> the 1-based line of its key.

    For locating findings only: a document that does not compose has no lines. Aliases are
    not followed (a node is visited once), and nesting deeper than ``max_depth`` is not
    walked, so a hostile document costs no more than composing it."""
    try:
        root = yaml.compose(text, Loader=Yaml12Loader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return {}
    lines: dict[tuple[str, ...], int] = {}
    seen: set[int] = set()
    todo: list[tuple[Any, tuple[str, ...]]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        if node is None or id(node) in seen or len(path) > max_depth:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    here = (*path, str(key.value))
                    lines.setdefault(here, key.start_mark.line + 1)
                    todo.append((value, here))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((item, (*path, str(index))) for index, item in enumerate(node.value))
    return lines


def problem_line(text: str, json_text: bool = False) -> int | None:
    """The 1-based line where the parser stops reading a document that is not valid YAML (or
    JSON), else None. For locating findings only: the loaders above name it in their message."""
    text = text.removeprefix("\ufeff")  # the loaders read UTF-8 with or without a BOM
    try:
        if json_text:
            json.loads(text)
        else:
            yaml.compose(text, Loader=Yaml12Loader)
    except json.JSONDecodeError as exc:
        return exc.lineno
    except yaml.MarkedYAMLError as exc:
        return exc.problem_mark.line + 1 if exc.problem_mark is not None else None
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return None
