"""DVC-compatible content hashes.

DVC 3 addresses a file by the plain md5 of its bytes (``hash: md5`` in ``dvc.lock``);
DVC 2 entries (no ``hash:`` field) used ``md5-dos2unix``: text chunks have CRLF folded to
LF first. A directory is addressed by the md5 of its ``.dir`` listing (JSON of the
``{"md5", "relpath"}`` entries sorted by relpath) plus the suffix ``.dir``.
tests/test_hashing.py checks all three against dvc-data itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

CHUNK = 2**20  # dvc-data's chunk size: md5-dos2unix decides text/binary per chunk
TEXT_PROBE = 512
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"

LEGACY = "md5-dos2unix"


def _is_text_block(block: bytes) -> bool:
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


@dataclass(frozen=True)
class Digest:
    """Every hash promote-gate needs of one file, from a single read."""

    md5: str
    sha256: str
    size: int
    md5_dos2unix: str

    def md5_for(self, hash_name: str) -> str:
        """The md5 DVC would record for this content under ``hash_name``."""
        return self.md5_dos2unix if hash_name == LEGACY else self.md5


_SIDE: Any = None  # one thread hashing md5 beside sha256 (hashlib releases the GIL)
SIDE_MIN = 256 * 1024  # below this a chunk is hashed inline: a thread hop costs more


def _side() -> Any:
    global _SIDE  # noqa: PLW0603 - one pool per process, made on first use
    if _SIDE is None:
        from concurrent.futures import ThreadPoolExecutor

        _SIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="promote-gate-md5")
    return _SIDE


def digest_chunks(chunks: Iterable[bytes], progress: Callable[[int], None] | None = None) -> Digest:
    """md5, sha256 and md5-dos2unix of the chunks, from one pass over them.

    md5 runs on a side thread while this one computes sha256, so the wall time is that of
    the slower hash, not their sum. md5-dos2unix is md5 itself until a text chunk with CRLF
    comes (its state forks from md5's there), so binary content is not hashed a third time.
    Chunks are the size they come in (1 MiB from files): memory does not grow with size.
    """
    md5 = hashlib.md5()
    sha = hashlib.sha256()
    legacy: Any = None  # None: identical to md5 so far
    size = 0
    for chunk in chunks:
        if legacy is None and b"\r\n" in chunk and _is_text_block(chunk[:TEXT_PROBE]):
            legacy = md5.copy()
        if legacy is not None:
            legacy.update(
                chunk.replace(b"\r\n", b"\n") if _is_text_block(chunk[:TEXT_PROBE]) else chunk
            )
        if len(chunk) >= SIDE_MIN:
            pending = _side().submit(md5.update, chunk)
            sha.update(chunk)
            pending.result()
        else:
            md5.update(chunk)
            sha.update(chunk)
        size += len(chunk)
        if progress is not None:
            progress(len(chunk))
    md5_hex = md5.hexdigest()
    return Digest(md5_hex, sha.hexdigest(), size, md5_hex if legacy is None else legacy.hexdigest())


def read_chunks(fobj: IO[bytes]) -> Iterator[bytes]:
    while chunk := fobj.read(CHUNK):
        yield chunk


def digest_bytes(data: bytes) -> Digest:
    return digest_chunks(data[i : i + CHUNK] for i in range(0, max(len(data), 1), CHUNK))


PROGRESS_MIN_BYTES = 64 * 1024 * 1024


def digest_file(path: str) -> Digest:
    """Hash a file; on a terminal, large files show a progress bar on stderr."""
    with open(path, "rb") as fobj:
        return digest_stream(fobj, path)


def digest_stream(fobj: IO[bytes], name: str) -> Digest:
    """Hash an open file in chunks; on a terminal, a large one shows a progress bar."""
    size = os.fstat(fobj.fileno()).st_size
    if size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        return digest_chunks(read_chunks(fobj))
    try:
        from tqdm import tqdm  # comes with dvc; only loaded for large files on a TTY
    except ImportError:
        return digest_chunks(read_chunks(fobj))

    with tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        desc=f"hashing {os.path.basename(name)}",
        leave=False,
    ) as bar:
        return digest_chunks(read_chunks(fobj), bar.update)


def dir_listing(entries: Iterable[tuple[str, str]]) -> bytes:
    """The bytes of DVC's ``.dir`` object for ``(relpath, md5)`` entries."""
    listing = sorted(
        ({"md5": md5, "relpath": rel} for rel, md5 in entries), key=lambda e: e["relpath"]
    )
    return json.dumps(listing, sort_keys=True).encode("utf-8")


def dir_md5(entries: Iterable[tuple[str, str]]) -> str:
    return hashlib.md5(dir_listing(entries)).hexdigest() + ".dir"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
