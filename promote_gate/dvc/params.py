"""Params and metrics files, read and flattened as ``dvc params``/``dvc metrics`` do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promote_gate.errors import DocumentError
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
    return load_params_file(data, path)


def load_params_file(data: bytes, path: str) -> Any:
    """A params file as DVC reads it, by extension: YAML, JSON, TOML, or Python (``.py``:
    module-level constants and class attributes, read from the syntax tree, never run)."""
    if path.lower().endswith(".py"):
        return load_python_params(data, path)
    return load_by_suffix(data, path)


def load_python_params(data: bytes, path: str) -> dict[str, Any]:
    """DVC's ``parse_py``: assignments of literals at module level, in classes and in a
    class's ``__init__`` (``self.x = ...``), evaluated with ``ast.literal_eval`` only."""
    import ast

    try:
        tree = ast.parse(data.decode("utf-8"), filename=path)
        return _ast_to_dict(tree)
    except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path} is not a Python params file DVC can read: {exc}") from exc
    except (RecursionError, MemoryError) as exc:
        raise DocumentError(f"{path} is nested too deeply") from exc


def _ast_to_dict(tree: Any, only_self: bool = False) -> dict[str, Any]:

    result: dict[str, Any] = {}
    for node in tree.body:
        result.update(_ast_node(node, only_self))
    return result


def _ast_node(node: Any, only_self: bool) -> dict[str, Any]:
    """One statement's params: nothing for what is not a literal (DVC skips it too)."""
    import ast

    try:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            return _ast_assign(node, only_self)
        if isinstance(node, ast.ClassDef):
            return {node.name: _ast_to_dict(node)}
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            return _ast_to_dict(node, only_self=True)
    except (ValueError, AttributeError, TypeError):
        pass
    return {}


def _ast_assign(node: Any, only_self: bool) -> dict[str, Any]:
    import ast

    if isinstance(node, ast.AnnAssign):
        target = node.target
    elif len(node.targets) == 1:
        target = node.targets[0]
    else:
        raise AttributeError
    if isinstance(target, ast.Name) and not only_self:
        name = target.id
    elif (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        name = target.attr
    else:
        raise AttributeError
    value = node.value
    if value is None:
        raise AttributeError
    if isinstance(value, ast.Dict):
        literal: Any = {
            ast.literal_eval(k): ast.literal_eval(v)
            for k, v in zip(value.keys, value.values, strict=True)
            if k is not None
        }
    elif isinstance(value, (ast.List, ast.Set, ast.Tuple)):
        literal = [ast.literal_eval(v) for v in value.elts]
    else:
        literal = ast.literal_eval(value)
    return {name: literal}


def read_metrics_file(data: bytes, path: str) -> Any:
    return load_by_suffix(data, path)
