"""Asking a DVC remote: how long it is waited for, and what a failure means.

Every read of a remote runs through :func:`bounded`: on a daemon thread, waited for only
while it answers, so an unreachable remote costs one timeout, never a hang. Whatever a
read raised is classified by :func:`remote_failure`, the one place that tells *absent*
(the store answered "no such object": not pushed) from *unavailable* (unreachable,
refused, or not readable here: unknown). It grows with the remote types tested for real.
A leaf: nothing of the package is imported here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar, cast


class RemoteUnavailable(Exception):  # noqa: N818 - a state, as the message says: not a bug
    """A remote that could not be asked: unreachable, refused, or not readable here. The
    message names the remote and says which (``DVC remote storage (url) unreachable: …``)."""


# seconds a DVC remote may stay silent (before the first byte, between two chunks) before it
# counts as unreachable; PROMOTE_GATE_REMOTE_TIMEOUT overrides it (context/checkout.py)
REMOTE_TIMEOUT = 10.0
MAX_REMOTE_TIMEOUT = 600.0


def remote_timeout(value: str | None) -> float:
    """The remote timeout ``value`` names (an environment variable's text), bounded; the
    default for None or empty. ValueError saying why for anything else."""
    if not value:
        return REMOTE_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds <= MAX_REMOTE_TIMEOUT):  # NaN and inf fail this too
        raise ValueError(f"not a number of seconds in (0, {MAX_REMOTE_TIMEOUT:g}]: {value!r}")
    return seconds


def remote_failure(exc: BaseException, *, root: bool = False) -> str | None:
    """What a failed read of a remote means, in one place: None when the store answered "no
    such object" (absent: not pushed), else why the remote is unavailable, to follow its
    label. ``root``: the error came from the remote's own location (its directory), so
    "not found" means the remote itself is missing, not an object.

    fsspec maps "no such key" to FileNotFoundError for every DVC remote type; a refused
    connection, a 403, a DNS failure, a timeout or a missing plugin are anything else. Its
    HTTP filesystem reports *every* failure as FileNotFoundError, raised from what happened:
    there the cause decides (a 404 or 410 is absent, a refused connection is not). (A
    missing S3 bucket is FileNotFoundError too: absent, per object — to be refined per
    scheme when those remotes are tested for real.)
    """
    for _ in range(8):  # bounded: a chain of causes can be made circular
        cause = exc.__cause__
        if not isinstance(exc, FileNotFoundError) or cause is None or _http_status(cause) in GONE:
            break
        exc = cause
    status = _http_status(exc)
    if not root and (isinstance(exc, (FileNotFoundError, NotADirectoryError)) or status in GONE):
        return None
    if isinstance(exc, PermissionError) or status in (401, 403):
        return f"refused access: {type(exc).__name__}: {exc}"
    if isinstance(exc, ImportError) or (root and not isinstance(exc, (OSError, TimeoutError))):
        # a plugin missing, options the remote's client refuses: nothing was asked of it
        return f"cannot be opened here: {type(exc).__name__}: {exc}"
    return f"unreachable: {type(exc).__name__}: {exc}"


GONE = (404, 410)  # HTTP statuses that say "no such object"


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an HTTP client's error carries (aiohttp's ``status``), if any."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


_T = TypeVar("_T")


def bounded(work: Callable[[Callable[[], None]], _T], timeout: float, label: str) -> _T:
    """``work(tick)`` on a daemon thread, waited for while it ticks at least every
    ``timeout`` seconds; RemoteUnavailable when it falls silent longer (the thread is left
    to finish or die with the process: a stuck socket or mount cannot hold the run)."""
    outcome: list[tuple[bool, Any]] = []
    last = [time.monotonic()]

    def tick() -> None:
        last[0] = time.monotonic()

    def target() -> None:
        try:
            outcome.append((True, work(tick)))
        except BaseException as exc:  # handed to the waiting thread as is
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name="promote-gate remote read", daemon=True)
    worker.start()
    while worker.is_alive():
        left = last[0] + timeout - time.monotonic()
        if left <= 0:
            raise RemoteUnavailable(
                f"{label} unreachable: no answer within {timeout:g} s (TimeoutError; "
                "PROMOTE_GATE_REMOTE_TIMEOUT sets the wait)"
            )
        worker.join(left)
    ok, value = outcome[0]
    if ok:
        return cast("_T", value)
    raise value


class Ticking:
    """A file object whose every read says the remote is answering."""

    def __init__(self, fobj: IO[bytes], tick: Callable[[], None]) -> None:
        self._fobj = fobj
        self._tick = tick

    def read(self, size: int = -1) -> bytes:
        data = self._fobj.read(size)
        self._tick()
        return data

    def fileno(self) -> int:
        return self._fobj.fileno()
