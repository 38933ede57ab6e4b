"""The gate against real DVC remotes: S3 (moto), HTTP, SSH (sshd) and Azure (Azurite),
each started by the tests on the loopback (remote_servers.py), filled by ``dvc push``
through DVC's own plugin and read by the gate through the same plugin.

The story is CI's: v1 released on main, v2 promoted on top of it, the data pushed; a fresh
clone (no DVC cache) runs ``promote-gate check --rev HEAD --base <v1>`` under a policy
that requires the data to be pushed (``require_pushed``). Every remote read ends in one
of four outcomes, each with its own words:

- found: the content is read from the remote and verified, the check passes;
- absent: the store answered "no such object" — only this is "not pushed" (PG505) and
  content that cannot be verified (PG104);
- refused: wrong credentials — "refused access", never "not pushed";
- unreachable: nothing listens, or nothing answers — "unreachable: …", once per run.

Run them alone with ``pytest -m remotes``. Kinds whose server is not installed here
(sshd, Azurite) are skipped with the reason, never silently.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import Gate, commit_all, pinned_env, run  # type: ignore[import-not-found, unused-ignore]
from remote_servers import (  # type: ignore[import-not-found, unused-ignore]
    S3,
    Ssh,
    azurite,
    azurite_connection,
    closed_port,
    http_remote,
    moto_s3,
    silent,
    sshd,
)
from scenario import V2, Verdict, World, copy_world, release_v2  # type: ignore[import-not-found, unused-ignore]

from promote_gate.objects import ObjectStore, remote_source
from promote_gate.remote_io import READER

pytestmark = pytest.mark.remotes

# a hang guard for the gate's abandoned reader threads, never a speed assertion
JOIN_GUARD = 120.0
PROXIES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


def _quiet_env(home: Path) -> dict[str, str]:
    """What every DVC and gate run here gets: DVC's site cache kept private (it would
    write to the machine-wide /var/tmp/dvc), no AWS configuration of the machine, and no
    instance-metadata lookup (an address off the loopback) when credentials are missing."""
    empty = home / "aws-empty"
    empty.write_text("")
    return {
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site"),
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@contextmanager
def _environment(home: Path, extra: dict[str, str] | None = None) -> Iterator[None]:
    """The tests' pinned environment (conftest), for module-scoped set-up."""
    mp = pytest.MonkeyPatch()
    try:
        with pinned_env(home):
            for key in PROXIES:
                mp.delenv(key, raising=False)
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
                mp.delenv(key, raising=False)
            for key, value in {**_quiet_env(home), **(extra or {})}.items():
                mp.setenv(key, value)
            yield
    finally:
        mp.undo()


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for key in (*PROXIES, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in _quiet_env(tmp_path_factory.mktemp("remote-env")).items():
        monkeypatch.setenv(key, value)


# --------------------------------------------------------------------------- the story


@dataclass(frozen=True)
class Released:
    """v1 released on main, then the policy ``require_pushed`` and v2 promoted on top."""

    world: World
    base: str  # main before v2: v1 released, the policy in force


@pytest.fixture(scope="session")
def v2_promoted(released: World, tmp_path_factory: pytest.TempPathFactory) -> Released:
    home = tmp_path_factory.mktemp("v2home")
    with _environment(home):
        world = copy_world(released, tmp_path_factory.mktemp("v2") / "world")
        config = world.work / ".promote-gate.yaml"
        config.write_text(config.read_text() + "require_pushed: true\n")
        base = commit_all(world.work, "policy: release data must be pushed")
        release_v2(world.work, lr="0.1")
    return Released(world, base)


@dataclass(frozen=True)
class Site:
    """One kind of remote, filled: a fresh clone whose committed ``.dvc/config`` points
    its default remote ``storage`` there, and what CI would set in the environment."""

    kind: str
    url: str  # the DVC remote's URL, as the report names it
    clone: Path
    base: str
    model: str  # the md5 of v2's model.json, a DVC-stored file of the candidate
    env: dict[str, str] = field(default_factory=dict)
    remove: Callable[[str], AbstractContextManager[None]] | None = None

    @property
    def label(self) -> str:
        return f"DVC remote storage ({self.url})"

    def copy(self, dest: Path) -> Path:
        """A private copy of the clone, for a test that changes its configuration."""
        shutil.copytree(self.clone, dest, symlinks=True)
        return dest

    def removed(self, md5: str) -> AbstractContextManager[None]:
        """Object ``md5`` gone from the store while the block runs (then put back)."""
        assert self.remove is not None
        return self.remove(md5)


def object_key(md5: str) -> str:
    """Where DVC 3 keeps ``md5`` below a remote's root."""
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def _model_md5(work: Path) -> str:
    pointer = yaml.safe_load((work / V2 / "model.json.dvc").read_text())
    md5: str = pointer["outs"][0]["md5"]
    return md5


def _fill(
    v2: Released,
    top: Path,
    kind: str,
    url: str,
    options: dict[str, str],
    *,
    push_to: Path | None = None,
) -> tuple[Path, str]:
    """The story's repository with its default remote at ``url`` (and ``options``),
    committed; every object ``dvc push``ed there (or, for a read-only remote, to
    ``push_to``, the directory it serves); main pushed; a fresh clone of it."""
    world = copy_world(v2.world, top / "world")
    run(world.work, "dvc", "remote", "modify", "storage", "url", url)
    for key, value in options.items():
        run(world.work, "dvc", "remote", "modify", "storage", key, value)
    commit_all(world.work, f"the DVC remote: {kind}")
    if push_to is None:
        run(world.work, "dvc", "push", "-q")
    else:
        run(world.work, "dvc", "remote", "add", "-q", "--local", "disk", str(push_to))
        run(world.work, "dvc", "push", "-q", "-r", "disk")
    run(world.work, "git", "push", "-q", "origin", "main")
    clone = world.clone(top / "clone", "main")
    assert not (clone / ".dvc/cache").exists()
    return clone, _model_md5(world.work)


@contextmanager
def _aside(path: Path) -> Iterator[None]:
    """A file moved away while the block runs."""
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        yield
    finally:
        aside.rename(path)


def check(gate: Gate, repo: Path, base: str, env: dict[str, str] | None = None) -> Verdict:
    """``promote-gate check --rev HEAD --base <v1>`` in ``repo``, as a user sees it."""
    mp = pytest.MonkeyPatch()
    try:
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        code, out, err = gate("check", "--repo", str(repo), "--rev", "HEAD", "--base", base)
    finally:
        mp.undo()
    verdict = Verdict(code, out, err)
    assert "Traceback" not in verdict.text
    assert "internal error" not in verdict.text
    return verdict


def repoint(repo: Path, message: str, **options: str) -> None:
    """A commit that changes the default remote's options (where it lives, how it is reached)."""
    for key, value in options.items():
        run(repo, "dvc", "remote", "modify", "storage", key, value)
    commit_all(repo, message)


def local_option(repo: Path, key: str, value: str) -> None:
    """This machine's own option for the remote (``.dvc/config.local``)."""
    run(repo, "dvc", "remote", "modify", "--local", "storage", key, value)


@contextmanager
def readers_end() -> Iterator[None]:
    """After the block, wait for the remote readers it started that the gate stopped
    waiting for (a hang guard): what they asked of a server is then all they ever ask."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name == READER:
            thread.join(JOIN_GUARD)


# --------------------------------------------------------------------------- the outcomes, shared


def passes(verdict: Verdict) -> None:
    """Found: v2's content read from the remote, verified, and judged pushed."""
    assert verdict.code == 0, verdict.text
    assert "ok   publish/v2" in verdict.text
    assert "promote-gate passed" in verdict.text


def not_pushed(verdict: Verdict, site: Site) -> None:
    """Absent: the store answered that it has no such object."""
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG104", "PG505"}, verdict.text
    assert f"PG505 data-not-pushed  {V2}/model.json" in verdict.text, verdict.text
    assert (
        f"no copy of content {site.model} that hashes to it in the DVC remote storage "
        f"({site.url}): not pushed, consumers cannot dvc pull this release"
    ) in verdict.text
    assert f"content not in the DVC cache nor {site.label}: md5 checked by pointer only" in (
        verdict.text
    )


def unavailable(verdict: Verdict, site: Site, why: str) -> None:
    """Refused or unreachable: said, with the remote's name and why; fails closed (the
    evidence is missing), never taken for "not pushed"."""
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG104", "PG505"}, verdict.text
    said = f"{site.label} {why}"
    assert said in verdict.text, verdict.text
    assert "whether this release's data was pushed could not be checked" in verdict.text
    assert f"content not in the DVC cache; {site.label} " in verdict.text
    assert "not pushed, consumers cannot dvc pull" not in verdict.text
    assert f"nor {site.label}" not in verdict.text
    assert "run: dvc pull" not in verdict.text  # a pull would ask the same remote


# --------------------------------------------------------------------------- S3


@dataclass(frozen=True)
class S3Site(Site):
    server: S3 | None = None
    bucket: str = ""


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


def _s3_site(
    v2: Released, server: S3, top: Path, bucket: str, *, versioned: bool = False
) -> S3Site:
    client = server.client()
    client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    if versioned:
        client.put_bucket_versioning(  # type: ignore[attr-defined]
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    url = f"s3://{bucket}/store"
    with _environment(top, server.env()):
        clone, md5 = _fill(v2, top, "s3", url, {"endpointurl": server.endpoint})

    @contextmanager
    def remove(md5: str) -> Iterator[None]:
        key = f"store/{object_key(md5)}"
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]
        client.delete_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            client.put_object(Bucket=bucket, Key=key, Body=data)  # type: ignore[attr-defined]

    return S3Site("s3", url, clone, v2.base, md5, server.env(), remove, server, bucket)


@pytest.fixture(scope="module")
def s3_site(v2_promoted: Released, s3: S3, tmp_path_factory: pytest.TempPathFactory) -> S3Site:
    return _s3_site(v2_promoted, s3, tmp_path_factory.mktemp("s3site"), "releases")


def test_s3_found(s3_site: S3Site, gate: Gate) -> None:
    verdict = check(gate, s3_site.clone, s3_site.base, s3_site.env)
    passes(verdict)
    # what CI read from the remote, said once: objects, bytes and the time it took
    (line,) = [x for x in verdict.text.splitlines() if " from DVC remote storage " in x]
    assert re.search(r"read \d+ objects? \([\d.]+ [KMG]?B\) from DVC remote storage \(s3://", line)


def test_s3_absent(s3_site: S3Site, gate: Gate) -> None:
    with s3_site.removed(s3_site.model):
        verdict = check(gate, s3_site.clone, s3_site.base, s3_site.env)
    not_pushed(verdict, s3_site)


def test_s3_wrong_credentials_are_refused_not_absent(s3_site: S3Site, gate: Gate) -> None:
    wrong = {**s3_site.env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    verdict = check(gate, s3_site.clone, s3_site.base, wrong)
    unavailable(verdict, s3_site, "refused access: PermissionError: Forbidden")


def test_s3_without_credentials_cannot_be_opened(s3_site: S3Site, gate: Gate) -> None:
    verdict = check(gate, s3_site.clone, s3_site.base, {})
    unavailable(
        verdict, s3_site, "cannot be opened here: NoCredentialsError: Unable to locate credentials"
    )


def test_s3_server_stopped_is_unreachable(s3_site: S3Site, gate: Gate, tmp_path: Path) -> None:
    """The endpoint's server was stopped (issue 21: "internal error:
    EndpointConnectionError" after 8.2 s): unreachable, in the client's words, after one
    attempt."""
    (tmp_path / "moto").mkdir()
    with moto_s3(tmp_path / "moto") as stopped:
        endpoint = stopped.endpoint
    repo = s3_site.copy(tmp_path / "clone")
    repoint(repo, "the S3 endpoint is down", endpointurl=endpoint)
    verdict = check(gate, repo, s3_site.base, s3_site.env)
    unavailable(
        verdict,
        s3_site,
        "unreachable: EndpointConnectionError: Could not connect to the endpoint URL: "
        f'"{endpoint}/{s3_site.bucket}"',
    )


def test_s3_a_bucket_that_is_not_there_is_not_an_empty_remote(
    s3_site: S3Site, gate: Gate, tmp_path: Path
) -> None:
    repo = s3_site.copy(tmp_path / "clone")
    repoint(repo, "a bucket that was never made", url="s3://no-such-bucket/store")
    site = S3Site("s3", "s3://no-such-bucket/store", repo, s3_site.base, s3_site.model)
    verdict = check(gate, repo, s3_site.base, s3_site.env)
    unavailable(
        verdict,
        site,
        "unreachable: FileNotFoundError: [Errno 2] no such bucket or directory: 'no-such-bucket'",
    )


def test_s3_versioned_bucket_found_then_deleted(
    v2_promoted: Released, s3: S3, gate: Gate, tmp_path: Path
) -> None:
    """A bucket with versioning: a deleted object leaves a delete marker (its bytes are
    still there, in an old version), and DVC cannot pull it: absent."""
    site = _s3_site(v2_promoted, s3, tmp_path, "versioned-releases", versioned=True)
    passes(check(gate, site.clone, site.base, site.env))
    client = s3.client()
    key = f"store/{object_key(site.model)}"
    client.delete_object(Bucket=site.bucket, Key=key)  # type: ignore[attr-defined]
    versions = client.list_object_versions(Bucket=site.bucket, Prefix=key)  # type: ignore[attr-defined]
    assert versions["DeleteMarkers"], "the delete left a marker, the old version stays"
    not_pushed(check(gate, site.clone, site.base, site.env), site)


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class HttpSite(Site):
    served: Path = Path()


@pytest.fixture(scope="module")
def http_site(
    v2_promoted: Released, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpSite]:
    top = tmp_path_factory.mktemp("httpsite")
    served = top / "served"
    served.mkdir()
    with http_remote(served, password="s3cret") as url, _environment(top):  # noqa: S106
        options = {"auth": "basic", "user": "ci", "password": "s3cret"}
        clone, md5 = _fill(v2_promoted, top, "http", url, options, push_to=served)

        def remove(md5: str) -> AbstractContextManager[None]:
            return _aside(served / object_key(md5))

        yield HttpSite("http", url, clone, v2_promoted.base, md5, remove=remove, served=served)


def test_http_found(http_site: HttpSite, gate: Gate) -> None:
    passes(check(gate, http_site.clone, http_site.base))


def test_http_absent(http_site: HttpSite, gate: Gate) -> None:
    """A 404: the only failure fsspec's HTTP filesystem reports that means "absent"."""
    with http_site.removed(http_site.model):
        verdict = check(gate, http_site.clone, http_site.base)
    not_pushed(verdict, http_site)


def test_http_401_is_refused_not_absent(http_site: HttpSite, gate: Gate, tmp_path: Path) -> None:
    """fsspec reports a 401 as FileNotFoundError, as it does a 404: the cause tells."""
    repo = http_site.copy(tmp_path / "clone")
    local_option(repo, "password", "wrong")
    verdict = check(gate, repo, http_site.base)
    unavailable(
        verdict, http_site, "refused access: ClientResponseError: 401, message='Unauthorized'"
    )


def test_http_refused_connection_is_unreachable_not_absent(
    http_site: HttpSite, gate: Gate, tmp_path: Path
) -> None:
    """fsspec reports a refused connection as FileNotFoundError too: the cause tells."""
    repo = http_site.copy(tmp_path / "clone")
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    repoint(repo, "the HTTP remote moved", url=url)
    site = HttpSite("http", url, repo, http_site.base, http_site.model)
    verdict = check(gate, repo, http_site.base)
    unavailable(
        verdict,
        site,
        f"unreachable: ClientConnectorError: Cannot connect to host 127.0.0.1:{port} ssl:default "
        f"[Connect call failed ('127.0.0.1', {port})]",
    )


# --------------------------------------------------------------------------- SSH


@dataclass(frozen=True)
class SshSite(Site):
    server: Ssh | None = None
    path: Path = Path()


@pytest.fixture(scope="module")
def ssh_site(v2_promoted: Released, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshSite]:
    top = tmp_path_factory.mktemp("sshsite")
    with sshd(top) as server, _environment(top):
        store = top / "ssh-store"
        url = f"ssh://{server.user}@127.0.0.1:{server.port}{store}"
        clone, md5 = _fill(v2_promoted, top, "ssh", url, {"keyfile": str(server.key)})

        def remove(md5: str) -> AbstractContextManager[None]:
            return _aside(store / object_key(md5))

        yield SshSite(
            "ssh", url, clone, v2_promoted.base, md5, remove=remove, server=server, path=store
        )


def test_ssh_found(ssh_site: SshSite, gate: Gate) -> None:
    passes(check(gate, ssh_site.clone, ssh_site.base))


def test_ssh_absent(ssh_site: SshSite, gate: Gate) -> None:
    with ssh_site.removed(ssh_site.model):
        verdict = check(gate, ssh_site.clone, ssh_site.base)
    not_pushed(verdict, ssh_site)


def test_ssh_unknown_key_is_refused(ssh_site: SshSite, gate: Gate, tmp_path: Path) -> None:
    assert ssh_site.server is not None
    repo = ssh_site.copy(tmp_path / "clone")
    local_option(repo, "keyfile", str(ssh_site.server.stranger))
    verdict = check(gate, repo, ssh_site.base)
    unavailable(
        verdict,
        ssh_site,
        "refused access: PermissionError: Permission denied for user "
        f"{ssh_site.server.user} on host 127.0.0.1",
    )


def test_ssh_closed_port_is_unreachable(ssh_site: SshSite, gate: Gate, tmp_path: Path) -> None:
    repo = ssh_site.copy(tmp_path / "clone")
    port = closed_port()
    url = ssh_site.url.replace(f":{_port(ssh_site)}/", f":{port}/")
    repoint(repo, "the SSH host is down", url=url)
    verdict = check(gate, repo, ssh_site.base)
    unavailable(
        verdict,
        SshSite("ssh", url, repo, ssh_site.base, ssh_site.model),
        f"unreachable: ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', {port})",
    )


def _port(site: SshSite) -> int:
    assert site.server is not None
    return site.server.port


# --------------------------------------------------------------------------- Azure


@dataclass(frozen=True)
class AzureSite(Site):
    port: int = 0


@pytest.fixture(scope="module")
def azure_site(
    v2_promoted: Released, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AzureSite]:
    from azure.storage.blob import BlobServiceClient

    top = tmp_path_factory.mktemp("azuresite")
    with azurite(top) as port, _environment(top):
        connection = azurite_connection(port)
        service = BlobServiceClient.from_connection_string(connection)
        container = service.create_container("releases")
        url = "azure://releases/store"
        clone, md5 = _fill(v2_promoted, top, "azure", url, {"connection_string": connection})

        @contextmanager
        def remove(md5: str) -> Iterator[None]:
            blob = container.get_blob_client(f"store/{object_key(md5)}")
            data = blob.download_blob().readall()
            blob.delete_blob()
            try:
                yield
            finally:
                blob.upload_blob(data)

        yield AzureSite("azure", url, clone, v2_promoted.base, md5, remove=remove, port=port)


def test_azure_found(azure_site: AzureSite, gate: Gate) -> None:
    passes(check(gate, azure_site.clone, azure_site.base))


def test_azure_absent(azure_site: AzureSite, gate: Gate) -> None:
    with azure_site.removed(azure_site.model):
        verdict = check(gate, azure_site.clone, azure_site.base)
    not_pushed(verdict, azure_site)


def test_azure_wrong_key_is_refused(azure_site: AzureSite, gate: Gate, tmp_path: Path) -> None:
    repo = azure_site.copy(tmp_path / "clone")
    wrong = azurite_connection(azure_site.port, key="d3Jvbmcta2V5")
    local_option(repo, "connection_string", wrong)
    verdict = check(gate, repo, azure_site.base)
    unavailable(
        verdict,
        azure_site,
        "refused access: HttpResponseError: Operation returned an invalid status 'Server failed "
        "to authenticate the request. Make sure the value of the Authorization header is formed "
        "correctly including the signature.'",
    )


def test_azure_closed_port_is_unreachable(
    azure_site: AzureSite, gate: Gate, tmp_path: Path
) -> None:
    """Azure's client retries a refused connection for about 90 s and takes no limit: the
    gate's own wait ends it (PROMOTE_GATE_REMOTE_TIMEOUT, 1 s here)."""
    repo = azure_site.copy(tmp_path / "clone")
    repoint(repo, "the storage account moved", connection_string=azurite_connection(closed_port()))
    verdict = check(gate, repo, azure_site.base, {"PROMOTE_GATE_REMOTE_TIMEOUT": "1"})
    unavailable(
        verdict,
        azure_site,
        "unreachable: no answer within 1 s (TimeoutError; PROMOTE_GATE_REMOTE_TIMEOUT sets the wait)",
    )


# --------------------------------------------------------------------------- bounded time


def gave_up(verdict: Verdict, site: Site) -> None:
    """Unreachable after the wait PROMOTE_GATE_REMOTE_TIMEOUT sets (1 s in these tests),
    with the client's words when it gave up first (``ReadTimeoutError: …``), else the
    gate's (``TimeoutError``)."""
    unavailable(verdict, site, "unreachable: no answer within 1 s (")
    assert "PROMOTE_GATE_REMOTE_TIMEOUT sets the wait)" in verdict.text


QUICK = {"PROMOTE_GATE_REMOTE_TIMEOUT": "1"}


def test_an_s3_endpoint_that_never_answers_is_asked_once(
    s3_site: S3Site, gate: Gate, tmp_path: Path
) -> None:
    """A server that accepts connections and says nothing, while the candidate has
    several objects to read: the gate connects once, gives up after the timeout, and asks
    no more in the run — neither for the other objects nor through the client's own
    retries (botocore's and s3fs's: 25 attempts by default, 431 s here before)."""
    repo = s3_site.copy(tmp_path / "clone")
    with silent() as server:
        endpoint = f"http://127.0.0.1:{server.port}"
        repoint(repo, "a silent endpoint", endpointurl=endpoint)
        with readers_end():
            verdict = check(gate, repo, s3_site.base, {**s3_site.env, **QUICK})
        assert server.connections == 1
    gave_up(verdict, s3_site)


def test_an_http_remote_that_never_answers_is_asked_once(
    http_site: HttpSite, gate: Gate, tmp_path: Path
) -> None:
    """One GET, once (dvc-http retries 5 times by default, and fsspec asks for a file's
    size first, with a HEAD then a GET), for the whole run."""
    repo = http_site.copy(tmp_path / "clone")
    with silent() as server:
        url = f"http://127.0.0.1:{server.port}"
        repoint(repo, "a silent HTTP remote", url=url)
        with readers_end():
            verdict = check(gate, repo, http_site.base, QUICK)
        assert server.connections == 1
    gave_up(verdict, HttpSite("http", url, repo, http_site.base, http_site.model))


def test_an_ssh_host_that_never_answers_is_asked_once(
    ssh_site: SshSite, gate: Gate, tmp_path: Path
) -> None:
    """An SSH host that never sends its banner (DVC waits 1800 s by default)."""
    repo = ssh_site.copy(tmp_path / "clone")
    with silent() as server:
        url = ssh_site.url.replace(f":{_port(ssh_site)}/", f":{server.port}/")
        repoint(repo, "a silent SSH host", url=url)
        with readers_end():
            verdict = check(gate, repo, ssh_site.base, QUICK)
        assert server.connections == 1
    gave_up(verdict, SshSite("ssh", url, repo, ssh_site.base, ssh_site.model))


def test_the_stores_of_one_run_ask_a_failed_remote_once(tmp_path: Path) -> None:
    """Each DVC project of a run has its own store; a remote that failed for one is not
    asked again by the next (a monorepo whose projects share their storage)."""
    with silent() as server:
        url = f"http://127.0.0.1:{server.port}/store"
        config = {"remote": {"shared": {"url": url}}}
        down: dict[str, str] = {}
        stores = []
        for _ in range(3):
            source, why = remote_source("shared", url, config, str(tmp_path), 1.0)
            assert source is not None, why
            stores.append(ObjectStore([source], remote_timeout=1.0, down=down))
        with readers_end():
            answers = [store.in_remote("0" * 32, "md5") for store in stores]
        assert server.connections == 1  # the first store's
    assert answers == [None, None, None]  # unknown, never "not pushed"
    said = [store.remote_down for store in stores]
    assert said == [said[0]] * 3
    assert said[0] is not None
    assert said[0].startswith(f"DVC remote shared ({url}) unreachable: ")
