"""Content-addressed evidence: DVC objects, trusted only once their bytes hash to their address.

DVC keeps file contents under their md5 (``files/md5/ab/cdef…`` in DVC 3, ``ab/cdef…`` in
DVC 2) in the local cache and in remote storage. Anyone who can commit can also commit a
"cache" (or point ``cache.dir`` somewhere), so an object found on disk proves nothing until
it was read — as a regular file, never through a symlink, never a device or FIFO — and
its md5 matched the name it was found under. A forged or corrupt object is ignored and
said so; the evidence it would have provided stays unverified.

Sources are tried in order: the local cache (not in CI), then the default DVC remote of
the policy's revision. A local-directory remote is read directly; any other remote is
read through DVC's own filesystem layer when DVC (and its remote plugin) is installed.
Nothing is ever written: remote objects are streamed and hashed, not fetched into a cache.

A remote is asked on a worker thread, and waited for only while it answers: one that stays
silent for ``remote_timeout`` seconds (to connect, before the first byte, between two
chunks) counts as unreachable, and is not asked again in the run (by any project's store:
they share what they learnt) — a remote that cannot be reached costs one timeout, never a
hang, and never one per object. Its client gets the same limit, and a single attempt,
where it takes them (:func:`limited`: S3 and HTTP both, SSH the limit), so it gives up when
the gate does and says why itself; an HTTP object is one streamed GET. What a failed read means is decided in one place,
``remote_io.remote_failure``: "no such object" is *absent* (not pushed); anything else (the
remote's directory or bucket missing, a refused connection, a 403, a timeout) leaves it
*unavailable* — unknown, never taken for absent or present.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, cast

from promote_gate.dvc.layout import is_object_id, matches_address, object_paths
from promote_gate.errors import MAX_DOCUMENT_BYTES
from promote_gate.hashcache import HashCache, digest_open
from promote_gate.hashing import Digest, digest_chunks, read_chunks
from promote_gate.remote_io import (
    REMOTE_TIMEOUT,
    RemoteReads,
    RemoteUnavailable,
    Ticking,
    bounded,
    remote_failure,
)


class UntrustedObjectError(OSError):
    """An object path that is a symlink, a device, a FIFO or leaves its directory."""


def _irregular(fd: int, path: str, root: str) -> str | None:
    """Why the file open on ``fd`` is not a regular file reached directly below ``root``."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return f"{path} is not a regular file"
    real_dir = os.path.realpath(os.path.dirname(path))
    expected = os.path.join(os.path.realpath(root), os.path.relpath(os.path.dirname(path), root))
    if real_dir != os.path.normpath(expected):
        return f"{path} is reached through a symlinked directory"
    return None


def open_regular(path: str, root: str) -> IO[bytes] | None:
    """Open ``path`` (below ``root``) for reading only if it is a regular file reached
    without following any symlink below ``root``; None if there is nothing there."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: no last symlink
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UntrustedObjectError(f"{path} is a symlink") from exc
        raise
    fobj = os.fdopen(fd, "rb")
    problem = _irregular(fd, path, root)
    if problem is not None:
        fobj.close()
        raise UntrustedObjectError(problem)
    return fobj


def _chunks(fobj: IO[bytes], keep: list[bytes] | None, limit: int) -> Iterator[bytes]:
    """The object's bytes in chunks; with ``keep``, also collected there, up to ``limit``."""
    size = 0
    for chunk in read_chunks(fobj):
        size += len(chunk)
        if keep is not None:
            if size > limit:
                raise UntrustedObjectError(f"larger than the {limit} bytes read as a document")
            keep.append(chunk)
        yield chunk


@dataclass(frozen=True)
class Found:
    """An object read and verified: its digest, and its bytes when they were asked for."""

    digest: Digest
    data: bytes | None
    where: str


class Source:
    """A place holding DVC objects."""

    label: str  # "the DVC cache", "DVC remote storage (/srv/dvc)"
    is_remote: bool = False

    def ready(self) -> None:
        """Before the first object of a remote (on the bounded thread): raise what says the
        remote itself cannot be asked (:func:`remote_failure` classifies it)."""

    # seconds the store waits beyond its timeout: a client with the gate's limits
    # (:func:`limited`) gives up first, and says why in its own words
    grace: float = 0.0

    def open_object(self, parts: tuple[str, ...]) -> IO[bytes] | None:
        """The object at ``parts`` below this source's root, or None when it is not there."""
        raise NotImplementedError

    @contextmanager
    def open(
        self, md5: str, hash_name: str | None = None
    ) -> Iterator[tuple[IO[bytes], bool] | None]:
        """The object's stream and whether it sits in the legacy (DVC 2) layout, or None."""
        for parts in object_paths(md5, hash_name):
            fobj = self.open_object(parts)
            if fobj is not None:
                with fobj:
                    yield fobj, parts[0] != "files"
                return
        yield None


class DirectorySource(Source):
    """A local directory in DVC's object layout: the cache, or a local-directory remote."""

    def __init__(self, root: str, label: str, is_remote: bool = False) -> None:
        self.root = root
        self.label = label
        self.is_remote = is_remote

    def ready(self) -> None:
        """A remote's directory must exist: without it the remote is unreachable (an
        unmounted share, a path of another machine), not empty."""
        if self.is_remote and not stat.S_ISDIR(os.stat(self.root).st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", self.root)

    def open_object(self, parts: tuple[str, ...]) -> IO[bytes] | None:
        return open_regular(os.path.join(self.root, *parts), self.root)


class DvcFsSource(Source):
    """Remote storage read through DVC's filesystem layer (s3://, gs://, ssh://, …).

    ``make`` makes the filesystem when ``fs`` is None: some connect when they are made (ssh),
    so that happens on the bounded thread, at the first object asked for. ``root``: where
    the remote itself lives (its bucket or container, its directory), asked for once
    before the first object, so that a bucket that is not there is not taken for a
    remote holding nothing."""

    is_remote = True

    def __init__(
        self,
        fs: Any,
        path: str,
        label: str,
        make: Callable[[], Any] | None = None,
        root: str | None = None,
        grace: float = 0.0,
        options: dict[str, Any] | None = None,
    ) -> None:
        self._fs = fs
        self._make = make
        self.path = path
        self.label = label
        self.root = root
        self.grace = grace
        self.options = options or {}  # how its objects are opened (HTTP: STREAM)

    @property
    def fs(self) -> Any:
        if self._fs is None and self._make is not None:
            self._fs = self._make()
        return self._fs

    def ready(self) -> None:
        fs = self.fs
        if self.root is None:
            return
        try:
            fs.info(self.root)
        except Exception as exc:
            why = remote_failure(exc)
            if why is None:  # "no such thing", of the remote's own location: said as such
                raise FileNotFoundError(
                    errno.ENOENT, "no such bucket or directory", self.root
                ) from None
            if why.startswith("refused"):
                return  # a credential may read objects without listing the bucket: they decide
            raise

    def open_object(self, parts: tuple[str, ...]) -> IO[bytes] | None:
        try:
            fobj: IO[bytes] = self.fs.open(
                self.fs.join(self.path, *parts), mode="rb", **self.options
            )
        except FileNotFoundError as exc:
            if remote_failure(exc) is not None:  # "not found" standing for another failure
                raise
            return None
        return fobj


class ObjectStore:
    """Verified reads of DVC objects from an ordered list of sources (memoised per object)."""

    def __init__(
        self,
        sources: Sequence[Source] = (),
        unavailable: str | None = None,
        remote_timeout: float = REMOTE_TIMEOUT,
        down: dict[str, str] | None = None,
        reads: RemoteReads | None = None,
    ) -> None:
        self.sources = tuple(sources)
        self.reads = reads if reads is not None else RemoteReads()  # shared like ``down``
        self.unavailable = unavailable  # why a source that should be here is not (shown once)
        self.rejected: dict[str, str] = {}  # md5 -> why an object found was not trusted
        self._found: dict[tuple[str, str | None, bool], Found | None] = {}
        self.hashes: HashCache | None = None  # digests of unchanged local objects
        self._in: dict[tuple[str, str | None, str], bool] = {}
        self.remote_timeout = remote_timeout
        # remote label -> why it could not be asked; shared by the stores of one run, so a
        # remote that failed once is not asked again by another project's store
        self._down = down if down is not None else {}
        self._ready: set[str] = set()  # remotes whose location answered

    @property
    def remote_down(self) -> str | None:
        """Why this store's remote could not be asked (once it could not), naming it."""
        for source in self.sources:
            if source.is_remote and source.label in self._down:
                return self._down[source.label]
        return None

    def _read(
        self, md5: str, hash_name: str | None, source: Source, keep: bool, limit: int
    ) -> Found | None:
        """A verified copy of ``md5`` in ``source``, or None (absent, untrusted, or a remote
        that cannot be asked: then :attr:`remote_down` says why, and it is not asked again)."""
        if not source.is_remote:
            found, rejected = self._attempt(md5, hash_name, source, keep, limit, None)
        elif source.label in self._down:
            return None
        else:
            start = time.monotonic()
            try:
                found, rejected = bounded(
                    lambda tick: self._attempt(md5, hash_name, source, keep, limit, tick),
                    self.remote_timeout,
                    source.label,
                    source.grace,
                )
            except RemoteUnavailable as exc:
                self._down.setdefault(source.label, str(exc))
                return None
            self._ready.add(source.label)
            if found is not None:
                self.reads.add(source.label, found.digest.size, time.monotonic() - start)
        if rejected is not None:
            self.rejected[md5] = rejected
        return found

    def _attempt(
        self,
        md5: str,
        hash_name: str | None,
        source: Source,
        keep: bool,
        limit: int,
        tick: Callable[[], None] | None,
    ) -> tuple[Found | None, str | None]:
        """The read itself (on the bounded thread for a remote): what was found, and why an
        object found was not trusted. Touches no state of the store: a read abandoned on a
        timeout may still finish."""
        if tick is not None and source.label not in self._ready:
            try:
                source.ready()
            except Exception as exc:  # every library's own kinds: classified
                down = remote_failure(exc, root=True, waited=self.remote_timeout)
                down = down or "unreachable"
                raise RemoteUnavailable(f"{source.label} {down}") from exc
            tick()
        try:
            with source.open(md5, hash_name) as opened:
                if opened is None:
                    return None, None
                fobj, legacy = opened
                if tick is not None:
                    tick()
                    fobj = cast("IO[bytes]", Ticking(fobj, tick))
                data: list[bytes] = []
                if not keep and self.hashes is not None and isinstance(source, DirectorySource):
                    digest = digest_open(fobj, md5, self.hashes)
                else:
                    digest = digest_chunks(_chunks(fobj, data if keep else None, limit))
        except UntrustedObjectError as exc:
            return None, f"the object in {source.label} was not trusted: {exc}"
        except Exception as exc:
            if not source.is_remote:
                if isinstance(exc, OSError):
                    return None, f"{source.label} could not be read: {exc}"
                raise
            why = remote_failure(exc, waited=self.remote_timeout)
            if why is None:
                return None, None
            raise RemoteUnavailable(f"{source.label} {why}") from exc
        if not matches_address(digest, md5, legacy):
            return None, (
                f"the object in {source.label} does not hash to {md5} (corrupt or forged): ignored"
            )
        return Found(digest, b"".join(data) if keep else None, source.label), None

    def find(
        self,
        md5: str,
        keep: bool = False,
        limit: int = MAX_DOCUMENT_BYTES,
        hash_name: str | None = None,
    ) -> Found | None:
        """The first source's verified copy of ``md5`` (with its bytes when ``keep``), looked
        for where DVC keeps objects of ``hash_name`` (None: either layout)."""
        if not is_object_id(md5):
            return None
        key = (md5, hash_name, keep)
        if key not in self._found:
            found = None
            for source in self.sources:
                found = self._read(md5, hash_name, source, keep, limit)
                if not (source.is_remote and self.remote_down):  # unknown is not absent
                    self._in[(md5, hash_name, source.label)] = found is not None
                if found is not None:
                    break
            self._found[key] = found
        return self._found[key]

    def digest(self, md5: str, hash_name: str | None = None) -> Digest | None:
        found = self.find(md5, hash_name=hash_name)
        return found.digest if found else None

    def document(
        self, md5: str, limit: int = MAX_DOCUMENT_BYTES, hash_name: str | None = None
    ) -> bytes | None:
        """A small object's verified bytes (a ``.dir`` listing, a metrics file)."""
        found = self.find(md5, keep=True, limit=limit, hash_name=hash_name)
        return found.data if found else None

    def in_remote(self, md5: str, hash_name: str | None = None) -> bool | None:
        """Whether the remote holds a verified copy where DVC would look for it (a consumer's
        ``dvc pull`` finds a DVC 3 object only under ``files/md5/``): False when it answered
        that it has none (or only one that does not hash to ``md5``); None when there is no
        remote here or it could not be asked (:attr:`remote_down` says why)."""
        remotes = [s for s in self.sources if s.is_remote]
        if not remotes:
            return None
        remote = remotes[0]
        key = (md5, hash_name, remote.label)
        if key not in self._in:
            found = self._read(md5, hash_name, remote, False, 0)
            if self.remote_down is not None:
                return None
            self._in[key] = found is not None
        return self._in[key]

    def missing(self, md5: str) -> str:
        """Why ``md5`` could not be read: where it was looked for, and any object rejected.
        A remote that could not be asked is named as such, never as a place it is not in."""
        down = self.remote_down
        asked = [s.label for s in self.sources if not (s.is_remote and down)]
        if asked:
            reason = "not in " + " nor ".join(asked)
        else:
            reason = "not read" if self.sources else "no DVC cache or remote here"
        if self.unavailable:
            reason += f" ({self.unavailable})"
        if down:
            reason += f"; {down}" if asked else f": {down}"
        if md5 in self.rejected:
            reason += f"; {self.rejected[md5]}"
        return reason


PROMPTS = frozenset({"ask_password", "ask_passphrase"})  # DVC remote options that prompt
BUCKETS = frozenset({"s3", "gs", "azure", "oss"})  # a remote path's first part is its bucket
DIRECTORIES = frozenset({"ssh", "hdfs", "webhdfs"})  # a remote path is its directory
LIMITED = frozenset({"s3", "http", "https", "ssh"})  # clients that give up by themselves
GRACE = 2.0  # seconds the store waits beyond a limited client's own limits
# fsspec asks an HTTP server for a file's size before reading it (a HEAD, then a GET if
# that fails): a stream needs none, so one object is one GET (any true size skips the ask)
STREAM = {"block_size": 0, "size": -1}


def remote_source(
    name: str, url: str, config: dict[str, Any], root: str, timeout: float = REMOTE_TIMEOUT
) -> tuple[Source | None, str | None]:
    """A source for DVC remote ``name`` at ``url``: a local directory directly, others through
    DVC's filesystem layer, their clients limited to ``timeout`` (:func:`limited`). (None,
    why) when it cannot be read here (DVC or its plugin missing, a configuration DVC
    refuses). Nothing is asked of the remote here: whether it can be reached is learnt at
    its first object, within the store's timeout."""
    label = f"DVC remote {name} ({url})"
    if "://" not in url or url.startswith("file://"):
        path = url.removeprefix("file://")
        path = path if os.path.isabs(path) else os.path.normpath(os.path.join(root, ".dvc", path))
        return DirectorySource(path, label, is_remote=True), None
    try:
        from dvc.fs import get_cloud_fs
    except ImportError:
        scheme = url.split("://", 1)[0]
        return None, (
            f"reading {label} needs DVC and its {scheme} plugin: "
            f"pip install 'promote-gate[dvc]' 'dvc[{scheme}]'"
        )
    # the gate never asks anyone anything: a prompt for a password would hold the push
    remotes = {
        key: {k: v for k, v in options.items() if k not in PROMPTS}
        for key, options in dict(config.get("remote", {})).items()
    }
    try:
        cls, conf, fs_path = get_cloud_fs({**config, "remote": remotes}, name=name)
    except Exception as exc:  # DVC raises many kinds: a missing plugin, bad config
        return None, f"{label} cannot be opened: {type(exc).__name__}: {exc}"
    protocol = _protocol(cls)
    where = fs_path.split("/", 1)[0] if protocol in BUCKETS else None
    if protocol in DIRECTORIES:
        where = fs_path
    # made (and, for ssh, connected) at the first object, on the bounded thread
    return DvcFsSource(
        None,
        fs_path,
        label,
        make=lambda: limited(cls(**conf), timeout),
        root=where or None,
        grace=GRACE if protocol in LIMITED else 0.0,
        options=STREAM if protocol in ("http", "https") else None,
    ), None


def _protocol(fs: Any) -> str:
    """A DVC filesystem's (or its class's) protocol: ``s3``, ``http``, ``ssh``, …"""
    protocol = getattr(fs, "protocol", "")
    return str(protocol[0] if isinstance(protocol, (tuple, list)) else protocol)


def limited(fs: Any, timeout: float) -> Any:
    """DVC filesystem ``fs``, before it makes its client, with the gate's own limits (not
    the remote's options: PROMOTE_GATE_REMOTE_TIMEOUT sets them): every wait at most
    ``timeout`` seconds and a single attempt, where the client takes them. Left to their
    defaults, the clients retry for minutes where nothing answers (S3: 431 s, SSH: 120 s,
    HTTP: 600 s). Azure's retries cannot be set: the store's wait bounds them, as it bounds
    every other kind."""
    args: dict[str, Any] = fs.fs_args
    protocol = _protocol(fs)
    if protocol == "s3":
        # botocore's attempts (5 in its legacy mode), and s3fs's own 5 around each
        args.setdefault("config_kwargs", {}).update(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        fs.fs.retries = 1  # s3fs's (made here; it connects at its first request)
    elif protocol in ("http", "https"):
        args.setdefault("client_kwargs", {}).update(connect_timeout=timeout, read_timeout=timeout)
        fs.SESSION_RETRIES = 1  # dvc-http's aiohttp-retry attempts (5)
    elif protocol == "ssh":
        args["timeout"] = timeout  # setting up the connection (DVC's default: 1800 s)
    elif protocol == "azure":
        args.update(connection_timeout=timeout, read_timeout=timeout)
    return fs
