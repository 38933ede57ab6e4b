"""``remote_io.remote_failure``: the one place a failed read of a DVC remote becomes one of
absent (None: "not pushed"), refused, unreachable or "cannot be opened here" — on the
client libraries' own exceptions, as DVC's plugins raise them (tests/test_real_remotes.py
meets each of them through a real server; here every row of the table is pinned)."""

from __future__ import annotations

import asyncssh
import botocore.exceptions as boto  # type: ignore[import-untyped, unused-ignore]
import pytest
from aiohttp import ClientConnectorError, ClientResponseError, RequestInfo
from aiohttp.client_reqrep import ConnectionKey
from azure.core import exceptions as azure
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from promote_gate.remote_io import MAX_SAID, remote_failure

URL_ = "http://127.0.0.1:9/store/files/md5/ab/cdef"


def _http(status: int) -> ClientResponseError:
    """aiohttp's error for an HTTP status, as fsspec's HTTP filesystem gets it."""
    info = RequestInfo(URL(URL_), "GET", CIMultiDictProxy(CIMultiDict()), URL(URL_))
    return ClientResponseError(info, (), status=status, message="Unauthorized")


def _refused_connection() -> ClientConnectorError:
    key = ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
    return ClientConnectorError(key, ConnectionRefusedError(111, "Connect call failed"))


def _as_fsspec_http(cause: BaseException) -> FileNotFoundError:
    """fsspec's HTTP filesystem reports every failure as FileNotFoundError from its cause."""
    exc = FileNotFoundError(URL_)
    exc.__cause__ = cause  # as `raise … from cause` sets it
    return exc


def _botocore_403() -> boto.ClientError:
    response = {"Error": {"Code": "403", "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": 403}}  # fmt: skip
    return boto.ClientError(response, "HeadObject")


CASES = [
    # absent: the store answered "no such object"
    (FileNotFoundError(2, "No such file or directory"), None),
    (_as_fsspec_http(_http(404)), None),
    (asyncssh.SFTPNoSuchFile("No such file"), None),
    # refused
    (PermissionError(13, "Forbidden"), "refused access: PermissionError: [Errno 13] Forbidden"),
    (_as_fsspec_http(_http(401)), f"refused access: ClientResponseError: 401, message='Unauthorized', url='{URL_}'"),
    (_botocore_403(), "refused access: ClientError: An error occurred (403) when calling the HeadObject operation: Forbidden"),
    (asyncssh.PermissionDenied("Permission denied"), "refused access: PermissionDenied: Permission denied"),
    (azure.ClientAuthenticationError(message="Server failed to authenticate the request."), "refused access: ClientAuthenticationError: Server failed to authenticate the request."),
    # unreachable
    (_as_fsspec_http(_refused_connection()), "unreachable: ClientConnectorError: Cannot connect to host 127.0.0.1:9 ssl:default [Connect call failed]"),
    (boto.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/bucket"), 'unreachable: EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:9/bucket"'),
    (azure.ServiceRequestError("Connection refused"), "unreachable: ServiceRequestError: Connection refused"),
    (asyncssh.ConnectionLost("Connection lost"), "unreachable: ConnectionLost: Connection lost"),
    (ConnectionRefusedError(111, "Connect call failed"), "unreachable: ConnectionRefusedError: [Errno 111] Connect call failed"),
    # cannot be opened here: nothing was asked of the remote
    (boto.NoCredentialsError(), "cannot be opened here: NoCredentialsError: Unable to locate credentials"),
    (ImportError("requires 'dvc-gs' to be installed"), "cannot be opened here: ImportError: requires 'dvc-gs' to be installed"),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "said"), CASES, ids=lambda v: type(v).__name__)
def test_each_failure_is_named_by_what_it_means(exc: BaseException, said: str | None) -> None:
    assert remote_failure(exc) == said


def test_not_found_at_the_remotes_own_location_is_the_remote_missing() -> None:
    """A directory or bucket that is not there: the remote, not an object, is missing."""
    missing = FileNotFoundError(2, "no such bucket or directory", "releases")
    assert remote_failure(missing) is None
    assert remote_failure(missing, root=True) == (
        "unreachable: FileNotFoundError: [Errno 2] no such bucket or directory: 'releases'"
    )
    assert remote_failure(ValueError("bad option"), root=True) == (
        "cannot be opened here: ValueError: bad option"
    )


def test_a_client_timeout_says_the_wait_as_the_gates_own_does() -> None:
    timeout = boto.ReadTimeoutError(endpoint_url="http://127.0.0.1:9/bucket")
    assert remote_failure(timeout, waited=5) == (
        'unreachable: no answer within 5 s (ReadTimeoutError: Read timeout on endpoint URL: "'
        'http://127.0.0.1:9/bucket"; PROMOTE_GATE_REMOTE_TIMEOUT sets the wait)'
    )
    assert remote_failure(_as_fsspec_http(TimeoutError()), waited=2) == (
        "unreachable: no answer within 2 s (TimeoutError; PROMOTE_GATE_REMOTE_TIMEOUT sets the wait)"
    )


def test_a_whole_response_in_a_message_is_cut_to_its_first_line() -> None:
    """azure-core's errors carry the response, headers and XML body, in their message."""
    long = azure.ServiceResponseError("x" * 5000 + "\nContent: <?xml ...>")
    said = remote_failure(long)
    assert said is not None
    assert said == "unreachable: ServiceResponseError: " + "x" * MAX_SAID + "…"


def test_a_circular_chain_of_causes_ends() -> None:
    first = FileNotFoundError(URL_)
    second = FileNotFoundError(URL_)
    first.__cause__ = second
    second.__cause__ = first
    assert remote_failure(first) is None
