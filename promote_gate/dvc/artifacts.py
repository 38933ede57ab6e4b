"""DVC's ``artifacts:`` section of dvc.yaml, which GTO tags and ``dvc artifacts get`` resolve
a model version through: read (every dvc.yaml of a project) and written (``promote
--artifact``, through DVC's own YAML round-trip, which keeps the file's comments).

DVC's schema: ``artifacts: {NAME: {path (required), type, desc, labels, meta}}``; ``path`` is
relative to the dvc.yaml's directory, and an artifact of ``sub/dvc.yaml`` is GTO's
``sub:NAME`` (a tag writes ``sub=NAME``).
"""

from __future__ import annotations

import posixpath
from typing import Any, NamedTuple

from promote_gate.config import Config
from promote_gate.dvc import DVC_YAML
from promote_gate.errors import DocumentError, UsageError
from promote_gate.yamlio import load_yaml


class Artifact(NamedTuple):
    """One artifact a project's dvc.yaml declares."""

    name: str  # as GTO names it from the project's top: "model", "sub:model"
    dvcfile: str  # project-relative: "dvc.yaml", "sub/dvc.yaml"
    path: object  # as written (any YAML value: only a str is a path)
    resolved: str | None  # project-relative, normalised; None: not a relative path inside


def declared(read: Any, dvcfiles: tuple[str, ...] | list[str]) -> list[Artifact]:
    """The artifacts of the project's dvc.yaml files (``read``: a view's ``read``), in file
    order. A dvc.yaml that does not parse raises DocumentError."""
    found = []
    for dvcfile in dvcfiles:
        data = read(dvcfile)
        if data is None:
            continue
        value = load_yaml(data, dvcfile)
        artifacts = value.get("artifacts") if isinstance(value, dict) else None
        if artifacts is None:
            continue
        if not isinstance(artifacts, dict):
            raise DocumentError(f"{dvcfile}: artifacts is not a mapping")
        here = posixpath.dirname(dvcfile)
        for name, entry in artifacts.items():
            path = entry.get("path") if isinstance(entry, dict) else None
            full = f"{here}:{name}" if here else str(name)
            found.append(Artifact(full, dvcfile, path, _resolved(here, path)))
    return found


def _resolved(here: str, path: object) -> str | None:
    """``path`` from the project's top, or None when it is no relative path that stays in
    the project (absolute, ``..`` out of it, empty, not a string)."""
    if not isinstance(path, str) or not path.strip() or path.startswith("/") or "\\" in path:
        return None
    joined = posixpath.normpath(posixpath.join(here, path))
    if joined == ".." or joined.startswith("../") or joined == ".":
        return None
    return joined


def point_artifact(root: str, name: str, config: Config, version: str) -> None:
    """Set ``artifacts.NAME`` in the dvc.yaml at ``root`` (a project's directory) to the
    bundle ``version`` (``path: publish/VERSION``, the policy's ``registry`` type, desc and
    labels, ``meta.promote_gate.bundle``), keeping the rest of the file as written (DVC's
    own round-trip, as ``dvc.api``'s artifact logging writes it)."""
    import os

    from dvc.utils.serialize import modify_yaml

    from promote_gate import gto

    if not gto.NAME.fullmatch(name):
        raise UsageError(f"{name!r} is no artifact name GTO accepts (letters, digits, -, _, /)")
    reg = config.registry
    entry: dict[str, Any] = {"path": f"{config.publish_root}/{version}", "type": reg.type}
    entry |= {"desc": reg.desc, "labels": list(reg.labels)}
    entry["meta"] = {"promote_gate": {"bundle": version}}
    with modify_yaml(os.path.join(root, DVC_YAML)) as data:
        data.setdefault("artifacts", {})[name] = {k: v for k, v in entry.items() if v}
