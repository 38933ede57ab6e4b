"""The cost of a DVC remote that cannot be reached (issue 21): ``check --rev HEAD`` in fresh
clones without a DVC cache (as in CI: the promoted content can only come from the remote),
the clone's committed default remote being, in turn: none (the peer), the local directory
and the same directory over HTTP (reachable), an HTTP server and an S3 endpoint refusing
connections, and an HTTP server that accepts connections and never answers (waited for
``PROMOTE_GATE_REMOTE_TIMEOUT``, 2 s here).

Target: the verdict within 1.5 x the check with no remote configured, plus the timeout once.
Each case exits 0 when the gate's verdict is the one expected (the table's "exit").
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import shutil
import socket
import sys
import threading
from pathlib import Path

from benchmarks.generate import sh

TIMEOUT = "2"  # PROMOTE_GATE_REMOTE_TIMEOUT for every case (it matters to the silent one)
NO_REMOTE = "no DVC remote configured"
# what every case runs with: the same for all, so that the peer pays the same start-up
ENV = [
    "env",
    f"PROMOTE_GATE_REMOTE_TIMEOUT={TIMEOUT}",
    "AWS_ACCESS_KEY_ID=bench",  # botocore signs before it connects: fake credentials
    "AWS_SECRET_ACCESS_KEY=bench",
    "AWS_EC2_METADATA_DISABLED=true",
]


class Silent:
    """A loopback server that accepts every connection and never answers."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port: int = self._socket.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        for conn in self._held:
            conn.close()
        self._thread.join(timeout=10)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class RemoteCases:
    """The clones, each with its remote committed, and the servers (``close`` them): the
    local remote served over HTTP, and the silent one."""

    def __init__(self, repo: Path, top: Path) -> None:
        self.silent = Silent()
        self.http = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(top / "dvc-remote"))
        )
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        served = f"http://127.0.0.1:{self.http.server_address[1]}"
        closed = f"127.0.0.1:{_closed_port()}"
        remotes: dict[str, dict[str, str] | None] = {
            NO_REMOTE: None,
            "local directory remote (reachable)": {},
            "HTTP remote (reachable)": {"url": served},
            "HTTP remote, connection refused": {"url": f"http://{closed}/store"},
            "HTTP remote, silent server": {"url": f"http://127.0.0.1:{self.silent.port}/store"},
        }
        if importlib.util.find_spec("dvc_s3") is not None:
            remotes["S3 remote, connection refused"] = {
                "url": "s3://bucket/store",
                "endpointurl": f"http://{closed}",
            }
        self.cases: dict[str, tuple[list[str], Path, str | None]] = {}
        for number, (label, options) in enumerate(remotes.items()):
            clone = top / "remote-clones" / str(number)
            shutil.rmtree(clone, ignore_errors=True)  # this sitting's ports
            sh(top, "git", "clone", "-q", str(repo), str(clone))
            if options is None:
                sh(clone, "dvc", "remote", "remove", "storage")
            for key, value in (options or {}).items():
                sh(clone, "dvc", "remote", "modify", "storage", key, value)
            sh(clone, "git", "commit", "-q", "--allow-empty", "-am", f"remote: {label}")
            # exit 0 when the verdict is the one expected: passed where the remote can be
            # read, failed closed (1: the content unverified) where it cannot; never 2
            expected = 0 if "reachable" in label else 1
            check = [sys.executable, "-m", "promote_gate", "check", "--rev", "HEAD"]
            argv = [*ENV, "sh", "-c", f'"$@" >/dev/null 2>&1; [ $? -eq {expected} ]', "sh", *check]
            self.cases[label] = (argv, clone, None)
        self.pairs = {label: NO_REMOTE for label in self.cases if label != NO_REMOTE}

    def close(self) -> None:
        self.silent.close()
        self.http.shutdown()
        self.http.server_close()
