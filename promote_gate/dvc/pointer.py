"""``.dvc`` pointer files."""

from __future__ import annotations

from dataclasses import dataclass

from promote_gate.hashing import LEGACY
from promote_gate.repo import View
from promote_gate.yamlio import DocumentError, load_yaml


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


def find_pointer(view: View, path: str) -> Pointer | None:
    """The ``.dvc`` pointer tracking ``path`` itself (``path.dvc``), if there is one."""
    data = view.read(path + ".dvc")
    if data is None:
        return None
    try:
        return parse_pointer(data, path + ".dvc")
    except DocumentError:
        return None
