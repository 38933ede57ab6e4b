"""Params and metrics files, read and flattened as ``dvc params``/``dvc metrics`` do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promote_gate.repo import View
from promote_gate.yamlio import load_by_suffix


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
