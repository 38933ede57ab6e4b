"""A cache of file digests keyed on the file's identity, so a file is never hashed twice.

The key is what ``stat`` says of the open file: device, inode, size, mtime and ctime (in
nanoseconds). ctime is set by the kernel on every change and cannot be set back by a user, so
a file rewritten in place, replaced, truncated or touched gets a new key. As git does against
"racy" entries, a file changed within the last ``RACY_SECONDS`` is not cached: a second write
inside the same timestamp tick could keep its key.

It lives in the user's cache directory (``$XDG_CACHE_HOME/promote-gate``, else
``~/.cache/promote-gate``), never in the repository — ``check`` stays read-only for it — in
one SQLite file (WAL, a busy timeout: several runs at once are safe). A file that is not a
valid cache, or a row that is not a valid digest, makes the whole cache distrusted: it is
discarded, and everything is hashed. CI mode and ``--no-cache`` do not use it at all: there,
every byte is verified. DVC's own state database is not reused: it holds md5 only, and the
gate needs sha256 as well, which means reading the file anyway.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from typing import Any

from promote_gate.hashing import Digest

SCHEMA = 1
RACY_SECONDS = 2.0
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def default_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "promote-gate", f"digests-v{SCHEMA}.sqlite")


def _digest(row: Any, size: int) -> Digest | None:
    """A stored (md5, sha256, md5-dos2unix) row as a Digest; None when it is not one."""
    md5, sha256, legacy = row
    if not all(isinstance(v, str) for v in row):
        return None
    if not (_HEX32.fullmatch(md5) and _HEX64.fullmatch(sha256) and _HEX32.fullmatch(legacy)):
        return None
    return Digest(md5, sha256, size, legacy)


def key_of(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """A file's identity: it changes whenever its bytes can have."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class HashCache:
    """Digests by file identity; every failure to use it means hashing, never trusting."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_path()
        self._db: Any = None
        self._broken = False
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, ...]] = []
        self.hits = 0
        self.misses = 0

    def _conn(self) -> Any:
        if self._db is None and not self._broken:
            import sqlite3

            try:
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS digests (dev INTEGER, ino INTEGER, size INTEGER,"
                    " mtime_ns INTEGER, ctime_ns INTEGER, md5 TEXT, sha256 TEXT, legacy TEXT,"
                    " PRIMARY KEY (dev, ino, size, mtime_ns, ctime_ns))"
                )
                db.commit()
                self._db = db
            except (sqlite3.Error, OSError):
                self._discard()
        return self._db

    def _discard(self) -> None:
        """Never trust a cache that is not one: remove it, and hash everything this run."""
        self._broken = True
        if self._db is not None:
            with contextlib.suppress(Exception):  # closing a broken database: nothing to do
                self._db.close()
            self._db = None
        for path in (self.path, self.path + "-wal", self.path + "-shm"):
            with contextlib.suppress(OSError):
                os.remove(path)

    def get(self, st: os.stat_result) -> Digest | None:
        import sqlite3

        with self._lock:
            db = self._conn()
            if db is None:
                return None
            try:
                row = db.execute(
                    "SELECT md5, sha256, legacy FROM digests WHERE dev=? AND ino=? AND size=?"
                    " AND mtime_ns=? AND ctime_ns=?",
                    key_of(st),
                ).fetchone()
            except sqlite3.Error:
                self._discard()
                return None
            if row is None:
                self.misses += 1
                return None
            digest = _digest(row, st.st_size)
            if digest is None:
                self._discard()
                return None
            self.hits += 1
            return digest

    def get_many(self, stats: list[os.stat_result]) -> dict[tuple[int, ...], Digest]:
        """Digests for many files at once (by key): one query per few hundred files."""
        import sqlite3

        wanted = {key_of(st): st for st in stats}
        found: dict[tuple[int, ...], Digest] = {}
        inodes = sorted({key[1] for key in wanted})
        with self._lock:
            db = self._conn()
            if db is None:
                return found
            try:
                for start in range(0, len(inodes), 500):
                    chunk = inodes[start : start + 500]
                    marks = ",".join("?" * len(chunk))  # placeholders only: no data in the SQL
                    query = (
                        "SELECT dev, ino, size, mtime_ns, ctime_ns, md5, sha256, legacy FROM "  # noqa: S608
                        "digests WHERE ino IN (" + marks + ")"
                    )
                    for row in db.execute(query, chunk).fetchall():
                        key = tuple(row[:5])
                        if key not in wanted:
                            continue
                        digest = _digest(row[5:], key[2])
                        if digest is None:
                            self._discard()
                            return {}
                        found[key] = digest
            except sqlite3.Error:
                self._discard()
                return {}
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def put(self, before: os.stat_result, after: os.stat_result, digest: Digest) -> None:
        """Remember ``digest`` for a file that did not change while it was read, and did not
        change too recently to be told apart from a change still to come."""
        if key_of(before) != key_of(after) or digest.size != after.st_size:
            return
        if time.time() - max(after.st_mtime, after.st_ctime) < RACY_SECONDS:
            return
        with self._lock:
            self._pending.append((*key_of(after), digest.md5, digest.sha256, digest.md5_dos2unix))

    def flush(self) -> None:
        """Write what was learnt, in one transaction."""
        import sqlite3

        with self._lock:
            db = self._conn()
            if db is None or not self._pending:
                self._pending = []
                return
            try:
                with db:
                    db.executemany(
                        "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        self._pending,
                    )
            except sqlite3.Error:
                self._discard()
            self._pending = []

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def digest_open(fobj: Any, name: str, cache: HashCache | None) -> Digest:
    """Hash an open regular file, through ``cache`` when there is one."""
    from promote_gate.hashing import digest_stream

    if cache is None:
        return digest_stream(fobj, name)
    before = os.fstat(fobj.fileno())
    hit = cache.get(before)
    if hit is not None:
        return hit
    digest = digest_stream(fobj, name)
    cache.put(before, os.fstat(fobj.fileno()), digest)
    return digest
