"""Asking a DVC remote: how long it is waited for, and what a failure means.

Every read of a remote runs through :func:`bounded`: on a daemon thread, waited for only
while it answers, so an unreachable remote costs one timeout, never a hang. Whatever a
read raised is classified by :func:`remote_failure`, the one place that tells *absent*
(the store answered "no such object": not pushed) from *unavailable*: unreachable (DNS, a
refused connection, a timeout, a server that hung up), refused (forbidden, bad
credentials) or not readable here (a plugin or credentials missing, options the client
refuses). It knows the remote types tested against real servers (tests/test_real_remotes.py):
a local directory, S3, HTTP, SSH and Azure.
A leaf: nothing of the package is imported here, and no client library either — their
errors are told apart by their class names and the HTTP status they carry.
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


# seconds a DVC remote may stay silent (to connect, before the first byte, between two
# chunks) before it counts as unreachable; PROMOTE_GATE_REMOTE_TIMEOUT overrides it
# (context/checkout.py). The clients that take limits get it as theirs (objects.py)
REMOTE_TIMEOUT = 10.0
MAX_REMOTE_TIMEOUT = 600.0
KNOB = "PROMOTE_GATE_REMOTE_TIMEOUT"  # the environment variable that sets it


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


GONE = (404, 410)  # HTTP statuses that say "no such object"
DENIED = (401, 403)  # HTTP statuses that say "not for you"

# The client libraries' own errors that are not OSError, by class name (a class or any
# base): importing them here would make every client a dependency of the gate.
ABSENT = frozenset(
    {
        "SFTPNoSuchFile",  # asyncssh (ssh): sshfs does not map it to FileNotFoundError on open
        "SFTPNoSuchPath",
    }
)
REFUSED = frozenset(
    {
        "PermissionDenied",  # asyncssh (ssh): authentication failed
        "SFTPPermissionDenied",
        "ClientAuthenticationError",  # azure-core: a bad key or SAS token
    }
)
UNUSABLE = frozenset(
    {
        "NoCredentialsError",  # botocore: no credentials anywhere it looks
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "NoRegionError",
        "AzureAuthError",  # dvc-azure: no account, key or connection string
    }
)
UNREACHABLE = frozenset(
    {
        "ConnectionError",  # botocore's (EndpointConnectionError, ConnectTimeoutError)
        "HTTPClientError",  # botocore: ReadTimeoutError, ConnectionClosedError
        "ServiceRequestError",  # azure-core: could not send (refused, DNS, timeout)
        "ServiceResponseError",  # azure-core: no (whole) answer
        "DisconnectError",  # asyncssh: the server hung up (PermissionDenied is REFUSED)
        "ClientConnectionError",  # aiohttp (http)
        "ClientPayloadError",
    }
)


def remote_failure(
    exc: BaseException, *, root: bool = False, waited: float | None = None
) -> str | None:
    """What a failed read of a remote means, in one place: None when the store answered "no
    such object" (absent: not pushed), else why the remote is unavailable, to follow its
    label (``unreachable: …``, ``refused access: …``, ``cannot be opened here: …``).
    ``root``: the error came from the remote's own location (its directory, its bucket) or
    from making its client, so "not found" means the remote itself is missing, not an object.
    ``waited``: the limit the client was given, said with a timeout.

    fsspec maps "no such key" to FileNotFoundError for every DVC remote type, and a 403 to
    PermissionError. Its HTTP filesystem reports *every* failure as FileNotFoundError,
    raised from what happened: there the cause decides (a 404 or 410 is absent; a 401 or a
    refused connection is not).
    """
    for _ in range(8):  # bounded: a chain of causes can be made circular
        cause = exc.__cause__
        if not isinstance(exc, FileNotFoundError) or cause is None or _http_status(cause) in GONE:
            break
        exc = cause
    status = _http_status(exc)
    kinds = {kind.__name__ for kind in type(exc).__mro__}
    if not root and (
        isinstance(exc, (FileNotFoundError, NotADirectoryError)) or status in GONE or kinds & ABSENT
    ):
        return None
    if isinstance(exc, PermissionError) or status in DENIED or kinds & REFUSED:
        return f"refused access: {said(exc)}"
    if isinstance(exc, ImportError) or kinds & UNUSABLE:
        # a plugin or the credentials missing: nothing was asked of the remote
        return f"cannot be opened here: {said(exc)}"
    if isinstance(exc, (OSError, TimeoutError)) or kinds & UNREACHABLE or status is not None:
        if waited is not None and any("Timeout" in kind for kind in kinds):
            # as the store's own wait says it (bounded): whichever gave up first
            return f"unreachable: no answer within {waited:g} s ({said(exc)}; {KNOB} sets the wait)"
        return f"unreachable: {said(exc)}"
    if root:  # options the remote's client refuses: nothing was asked of it
        return f"cannot be opened here: {said(exc)}"
    return f"unreachable: {said(exc)}"


MAX_SAID = 300  # characters of a library's message: some carry a whole response


def said(exc: BaseException) -> str:
    """``Class: message``, the message's first line, bounded (a client's error can carry a
    whole HTTP response, headers and body)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > MAX_SAID:
        text = text[:MAX_SAID] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status a client's error carries: aiohttp's ``status``, azure-core's
    ``status_code``, botocore's ``response`` metadata; None if it carries none."""
    for name in ("status", "status_code"):
        status = getattr(exc, name, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    response = getattr(exc, "response", None)
    meta = response.get("ResponseMetadata") if isinstance(response, dict) else None
    status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


_T = TypeVar("_T")


def bounded(
    work: Callable[[Callable[[], None]], _T], timeout: float, label: str, grace: float = 0.0
) -> _T:
    """``work(tick)`` on a daemon thread, waited for while it ticks at least every
    ``timeout`` seconds (and ``grace`` more: the time a client given ``timeout`` as its own
    limit needs to give up and say why); RemoteUnavailable when it falls silent longer (the
    thread is left to finish or die with the process: a stuck socket or mount cannot hold
    the run)."""
    outcome: list[tuple[bool, Any]] = []
    last = [time.monotonic()]

    def tick() -> None:
        last[0] = time.monotonic()

    def target() -> None:
        try:
            outcome.append((True, work(tick)))
        except BaseException as exc:  # handed to the waiting thread as is
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name=READER, daemon=True)
    worker.start()
    while worker.is_alive():
        left = last[0] + timeout + grace - time.monotonic()
        if left <= 0:
            raise RemoteUnavailable(
                f"{label} unreachable: no answer within {timeout:g} s (TimeoutError; "
                f"{KNOB} sets the wait)"
            )
        worker.join(left)
    ok, value = outcome[0]
    if ok:
        return cast("_T", value)
    raise value


READER = "promote-gate remote read"  # the name of every thread that reads a remote


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


class RemoteReads:
    """What one run read from each DVC remote — objects found, bytes, seconds waited — shared
    by the stores of the run, for the report's note (the cost of CI's evidence, made visible)."""

    def __init__(self) -> None:
        self.by_remote: dict[str, list[float]] = {}

    def add(self, label: str, size: int, seconds: float) -> None:
        counts = self.by_remote.setdefault(label, [0, 0, 0.0])
        counts[0] += 1
        counts[1] += max(size, 0)
        counts[2] += seconds

    def lines(self) -> list[str]:
        return [
            f"read {int(n)} object{'s' if n != 1 else ''} ({_bytes(size)}) from {label} in "
            f"{seconds:.1f} s"
            for label, (n, size, seconds) in sorted(self.by_remote.items())
        ]


def _bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover - the loop returns
