"""Safe, bounded loading of YAML and JSON documents from untrusted files.

DVC reads YAML 1.2 (ruamel); PyYAML speaks YAML 1.1, where ``1e-3`` is a string and
``yes`` is a boolean. The loader below resolves scalars the YAML 1.2 core-schema way,
so values compare as DVC compares them (tests/test_yamlio.py proves it against ruamel).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import yaml

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_EXPANDED_NODES = 1_000_000


class DocumentError(ValueError):
    """A document could not be read: too large, not parseable, or too deep/expanded."""


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
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        (
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
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
    value = str(loader.construct_scalar(node))
    # base 0 reads the 0o/0x prefixes; plain digits are decimal in YAML 1.2 (012 is 12)
    return int(value, 0) if value.startswith(("0o", "0x")) else int(value, 10)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _check_expansion(obj: Any) -> None:
    """Refuse documents whose aliases expand beyond reason (the 'billion laughs')."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > 200:
            raise DocumentError("document is nested too deeply")
        if not isinstance(node, (dict, list)):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        children = node.items() if isinstance(node, dict) else enumerate(node)
        total = 1
        for key, value in children:
            total += size(key, depth + 1) + size(value, depth + 1)
            if total > MAX_EXPANDED_NODES:
                raise DocumentError(
                    f"document expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)"
                )
        sizes[id(node)] = total
        return total

    size(obj, 0)


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
    except yaml.YAMLError as exc:
        raise DocumentError(f"{what} is not valid YAML: {_one_line(exc)}") from exc
    except RecursionError as exc:
        raise DocumentError(f"{what} is nested too deeply") from exc
    _check_expansion(obj)
    return obj


def load_json(data: bytes, what: str = "document") -> Any:
    """Parse one JSON document, bounded in size; NaN/Infinity are refused."""
    _check_size(data, what)
    text = _decode(data, what)

    def no_constants(name: str) -> Any:
        raise DocumentError(f"{what} contains {name}, which is not JSON")

    try:
        obj = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise DocumentError(f"{what} is nested too deeply") from exc
    _check_expansion(obj)
    return obj


def load_toml(data: bytes, what: str = "document") -> Any:
    """Parse a TOML document, bounded in size."""
    _check_size(data, what)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(_decode(data, what))
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError(f"{what} is not valid TOML: {exc}") from exc


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


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
