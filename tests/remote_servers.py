"""Real DVC remote servers for the tests, on 127.0.0.1, on ports the OS chooses.

Each is started by a test fixture and stopped by it (a context manager: the process is
ended, by its own id, whatever the test did), so nothing is left running and two pytest-xdist
workers never share one. DVC's own plugins are their clients: ``dvc push`` fills them, the
gate reads them.

- S3: moto's server (``moto[server]``), with authentication enforced (an IAM user's key).
- HTTP: a threaded ``http.server`` over a directory ``dvc push`` filled, optionally behind
  basic auth (DVC's HTTP remote is read-only).
- SSH: OpenSSH's ``sshd`` with a throwaway host key and user key (Debian's
  ``openssh-server``); skipped, saying why, where it is not installed or cannot run.
- Azure: ``azurite-blob`` (npm ``azurite``), telemetry off; skipped, saying why, where it
  is not installed.
- A silent server: accepts connections, counts them, never says a word.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import getpass
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# a hang guard for a server's start, never a speed assertion
START_GUARD = 60.0
LOOPBACK = "127.0.0.1"


def closed_port() -> int:
    """A loopback port nothing listens on (the OS chose it free; it is closed again)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


# --------------------------------------------------------------------------- server processes


@dataclass
class Process:
    """A server process of a test, its log, and what its start printed."""

    proc: subprocess.Popen[bytes]
    log: Path
    started: re.Match[str]

    def stop(self) -> None:
        """End the process (this one, by its id) and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start(argv: list[str], log: Path, ready: str, env: dict[str, str] | None = None) -> Process:
    """Start ``argv`` with its output in ``log``; return once the log matches ``ready``.
    A server that exits or stays silent fails the test with its log."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # a ^C of the test run is not sent to it twice
        )
    deadline = time.monotonic() + START_GUARD
    pattern = re.compile(ready)
    while True:
        text = log.read_text(errors="replace")
        match = pattern.search(text)
        if match is not None:
            return Process(proc, log, match)
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"{argv[0]} did not start:\n{text}")
        time.sleep(0.05)


@contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


# --------------------------------------------------------------------------- S3: moto's server


@dataclass(frozen=True)
class S3:
    """moto's S3 on the loopback, authentication enforced: ``key``/``secret`` are an IAM
    user's, allowed everything on S3; any other key is refused (403)."""

    endpoint: str
    key: str
    secret: str

    def env(self) -> dict[str, str]:
        """The environment DVC (and the gate) read credentials from, as CI sets them."""
        return {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret}

    def client(self, key: str | None = None, secret: str | None = None) -> object:
        import boto3  # type: ignore[import-untyped, unused-ignore]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
        )


@contextmanager
def moto_s3(workdir: Path) -> Iterator[S3]:
    """moto's server (``moto[server]``) on a port the OS chose, auth enforced."""
    import boto3

    argv = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", "0"]
    with running(start(argv, workdir / "moto.log", r"Running on http://127\.0\.0\.1:(\d+)")) as p:
        endpoint = f"http://{LOOPBACK}:{p.started.group(1)}"
        # anonymous until reset-auth: make the user first, then enforce signatures
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",  # noqa: S106 - moto's, before auth is on
        )
        iam.create_user(UserName="ci")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}  # fmt: skip
        iam.put_user_policy(UserName="ci", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="ci")["AccessKey"]
        request = urllib.request.Request(  # noqa: S310 - the loopback server just started
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=START_GUARD) as answer:  # noqa: S310
            assert answer.status == 200
        yield S3(endpoint, key["AccessKeyId"], key["SecretAccessKey"])


# --------------------------------------------------------------------------- HTTP


class _Handler(http.server.SimpleHTTPRequestHandler):
    """A read-only DVC HTTP remote: the directory, behind basic auth when ``password``."""

    password: str | None = None

    def _allowed(self) -> bool:
        if self.password is None:
            return True
        token = base64.b64encode(f"ci:{self.password}".encode()).decode()
        if self.headers.get("Authorization") == f"Basic {token}":
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="dvc"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self._allowed():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._allowed():
            super().do_HEAD()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_remote(directory: Path, password: str | None = None) -> Iterator[str]:
    """``directory`` over HTTP on the loopback while the block runs: its URL."""
    handler = type("Handler", (_Handler,), {"password": password})
    server = http.server.ThreadingHTTPServer(
        (LOOPBACK, 0), functools.partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=START_GUARD)


# --------------------------------------------------------------------------- SSH


SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Ssh:
    port: int
    user: str
    key: Path  # a key the server accepts
    stranger: Path  # a key it does not know


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def sshd_missing() -> str | None:
    """Why ``sshd`` cannot run here, or None."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        return f"no {SSHD} (Debian: apt-get install openssh-server)"
    if not os.path.isdir("/run/sshd"):
        try:  # its privilege-separation directory
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            return f"sshd needs /run/sshd, which cannot be made here: {exc}"
    return None


@contextmanager
def sshd(workdir: Path) -> Iterator[Ssh]:
    """OpenSSH's server on the loopback, for this user, by key only; skips where it cannot
    run here (and says why)."""
    missing = sshd_missing()
    if missing is not None:
        pytest.skip(f"SSH remote tests need sshd: {missing}")
    host = _keygen(workdir / "host_key")
    user_key = _keygen(workdir / "user_key")
    stranger = _keygen(workdir / "stranger_key")
    shutil.copy(workdir / "user_key.pub", workdir / "authorized_keys")
    for attempt in range(3):  # sshd takes no port 0: a free one, unless taken meanwhile
        port = closed_port()
        config = workdir / "sshd_config"
        config.write_text(
            f"ListenAddress {LOOPBACK}\nPort {port}\nHostKey {host}\n"
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"PidFile {workdir / 'sshd.pid'}\nSubsystem sftp internal-sftp\n"
        )
        log = workdir / f"sshd-{attempt}.log"
        argv = [SSHD, "-D", "-e", "-f", str(config)]
        try:
            process = start(argv, log, rf"Server listening on 127\.0\.0\.1 port {port}")
        except pytest.fail.Exception:
            if "Address already in use" in log.read_text(errors="replace"):
                continue
            raise
        with running(process):
            yield Ssh(port, getpass.getuser(), user_key, stranger)
        return
    pytest.fail("sshd found no free port in three tries")


# --------------------------------------------------------------------------- Azure: Azurite

# Azurite's documented development account (public, the same in every installation)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_connection(port: int, key: str = AZURITE_KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT};"
    )


def azurite_binary() -> str | None:
    """``azurite-blob``: $AZURITE_BLOB, else on PATH, else None."""
    named = os.environ.get("AZURITE_BLOB")
    if named and os.access(named, os.X_OK):
        return named
    return shutil.which("azurite-blob")


@contextmanager
def azurite(workdir: Path) -> Iterator[int]:
    """Azurite's blob service on a port the OS chose (telemetry off: it would call out);
    skips where it is not installed (and says how to install it). Its port."""
    binary = azurite_binary()
    if binary is None or shutil.which("node") is None:
        pytest.skip(
            "Azure remote tests need Azurite: npm install -g azurite (or set AZURITE_BLOB "
            "to its azurite-blob), and Node.js"
        )
    argv = [
        binary, "--location", str(workdir / "azurite"), "--blobHost", LOOPBACK,
        "--blobPort", "0", "--skipApiVersionCheck", "--loose", "--disableTelemetry",
    ]  # fmt: skip
    pattern = r"successfully listens on http://127\.0\.0\.1:(\d+)"
    with running(start(argv, workdir / "azurite.log", pattern)) as process:
        yield int(process.started.group(1))


# --------------------------------------------------------------------------- a silent server


class Silent:
    """A server that accepts every connection and never answers: counts the connections."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind((LOOPBACK, 0))
        self._socket.listen(64)
        self.port: int = self._socket.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:  # closed: the test is over
                return
            self.held.append(conn)

    @property
    def connections(self) -> int:
        return len(self.held)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the accept() (close alone may not)
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        for conn in self.held:
            conn.close()
        self._thread.join(timeout=START_GUARD)


@contextmanager
def silent() -> Iterator[Silent]:
    server = Silent()
    try:
        yield server
    finally:
        server.close()
