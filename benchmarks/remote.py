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
import importlib.util
import shutil
import sys
from pathlib import Path

from benchmarks.generate import sh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from remote_servers import (  # type: ignore[import-not-found, unused-ignore]
    closed_port,
    http_remote,
    silent,
)

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


class RemoteCases:
    """The clones, each with its remote committed, and the servers (``close`` them): the
    local remote served over HTTP, and the silent one."""

    def __init__(self, repo: Path, top: Path) -> None:
        self._servers = contextlib.ExitStack()  # the test suite's servers (tests/remote_servers.py)
        self.silent = self._servers.enter_context(silent())
        served = self._servers.enter_context(http_remote(top / "dvc-remote"))
        closed = f"127.0.0.1:{closed_port()}"
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
        self._servers.close()
