"""DVC's config, its cache and remote layout, and ``.dir`` listings."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.dvc.layout import object_paths
from promote_gate.errors import MAX_DOCUMENT_BYTES, GateError
from promote_gate.objects import ObjectStore, UntrustedObjectError, open_regular
from promote_gate.yamlio import DocumentError, load_json


def _read_config(root: str, name: str) -> bytes:
    """``.dvc/<name>`` from the disk: a regular file below ``root`` or nothing; a symlink,
    FIFO or device there (a checkout may bring one) is refused, never read or waited on."""
    path = os.path.join(root, ".dvc", name)
    try:
        fobj = open_regular(path, root)
    except OSError as exc:  # UntrustedObjectError too
        reason = str(exc) if isinstance(exc, UntrustedObjectError) else exc.strerror
        raise GateError(f".dvc/{name} cannot be read: {reason}") from exc
    if fobj is None:
        return b""
    with fobj:
        data = fobj.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise GateError(f".dvc/{name} is larger than the {MAX_DOCUMENT_BYTES} bytes read")
    return data


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
                parser.read_string(_read_config(root, name).decode("utf-8"))
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


def ensure_cached(cache: str, src: str, md5: str) -> None:
    """Put content into the DVC cache (read-only, as DVC keeps it) if it is not there yet."""
    if any(os.path.exists(p) for p in cache_paths(cache, md5)):
        return
    dest = cache_paths(cache, md5)[0]
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + ".promote-gate.tmp"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(tmp, dest)
