"""Where DVC keeps an object: the cache and remote layout of DVC 3 and DVC 2."""

from __future__ import annotations

import re

from promote_gate.hashing import LEGACY, Digest

_OBJECT_ID = re.compile(r"[0-9a-f]{32}(\.dir)?")


def is_object_id(md5: str) -> bool:
    return bool(_OBJECT_ID.fullmatch(md5))


def object_paths(md5: str, hash_name: str | None = None) -> list[tuple[str, ...]]:
    """Where DVC 3 (``files/md5/``, ``hash: md5``) and DVC 2 (the root, md5-dos2unix) keep an
    object, as path parts; ``hash_name`` picks the one DVC itself reads (None: both).

    ``md5`` comes from files under review: anything but an md5 names no object (no ``..``).
    """
    if not is_object_id(md5):
        return []
    modern, legacy = ("files", "md5", md5[:2], md5[2:]), (md5[:2], md5[2:])
    if hash_name == LEGACY:
        return [legacy]
    if hash_name is not None:
        return [modern]
    return [modern, legacy]


def matches_address(digest: Digest, md5: str, legacy: bool) -> bool:
    """Whether content with ``digest`` may be stored under ``md5`` (``legacy``: DVC 2's
    root layout, where text was addressed by its md5-dos2unix)."""
    stem = md5.removesuffix(".dir")
    return digest.md5 == stem or (legacy and digest.md5_dos2unix == stem)
