"""The push hook with ``require_pushed``: it reads the DVC remote CI reads (the one the
policy's revision configures), through a real ``git push`` to a bare origin.

A release pushed without ``dvc push`` is refused at the push (PG505), as CI refuses it; a
remote that cannot be asked (its directory gone, a refused connection, one that never
answers, wrong credentials) is named as such, never reported as "not pushed" nor passed.
Remotes are real: the local directory beside the repository, and the same directory
served over HTTP by a server in the test (DVC's own HTTP filesystem reads it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from remote_servers import http_remote  # type: ignore[import-not-found, unused-ignore]
from scenario import Verdict, World, github_pr, release_v2  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.demo import REMOTE

# a hang guard, never a speed assertion: an unbounded wait would hold the push forever
HANG_GUARD = 300


def _require_pushed(world: World, *, url: str | None = None, policy: str = "") -> None:
    """The policy (on main, pushed before the hook is installed): release data must be in
    the default DVC remote; ``url`` re-points that remote in the committed .dvc/config."""
    config = world.work / ".promote-gate.yaml"
    config.write_text(config.read_text() + "require_pushed: true\n" + policy)
    if url is not None:
        run(world.work, "dvc", "remote", "modify", "storage", "url", url)
    commit_all(world.work, "policy: release data must be pushed")
    run(world.work, "git", "push", "-q", "origin", "main")


def _v2_unpushed(world: World, gate: Gate) -> str:
    """v2 retrained, promoted and committed on main; its data in the DVC cache only."""
    release_v2(world.work, lr="0.1")
    world.install_hook(gate)
    return str(world.sha())


def _push(world: World, *argv: str, env: dict[str, str] | None = None) -> Verdict:
    """``git push origin main`` for real, under a hang guard."""
    proc = subprocess.run(
        ["git", "push", "origin", "main", *argv],
        cwd=world.work,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        timeout=HANG_GUARD,
    )
    # the pre-commit framework shows its hooks' output on stdout
    said = proc.stdout + proc.stderr
    code = 0 if proc.returncode == 0 else 1 if "push refused" in said else 2
    return Verdict(code, proc.stdout, proc.stderr)


def _on_origin(world: World) -> str:
    return str(run(world.work, "git", "ls-remote", "origin", "refs/heads/main")).split("\t")[0]


def _is_unreachable(verdict: Verdict, remote: str) -> None:
    """Refused because the remote could not be asked: named as such, never "not pushed"."""
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG505"}
    assert f"DVC remote storage ({remote})" in verdict.text
    assert "could not be checked" in verdict.text
    assert "not pushed, consumers cannot dvc pull" not in verdict.text
    assert "`git push --no-verify`" in verdict.text


# --------------------------------------------------------------------------- a local-directory remote


def test_a_release_pushed_without_dvc_push_is_refused_then_passes_once_pushed(
    world: World, gate: Gate
) -> None:
    _require_pushed(world)
    before = _on_origin(world)
    head = _v2_unpushed(world, gate)
    refused = _push(world)
    assert refused.code == 1, refused.text
    assert refused.failed == {"PG505"}
    assert "PG505 data-not-pushed  publish/v2/model.json" in refused.text
    assert "not pushed, consumers cannot dvc pull this release" in refused.text
    assert "run: dvc push -r storage publish/v2/model.json" in refused.text
    assert _on_origin(world) == before
    run(world.work, "dvc", "push", "-q")
    passed = _push(world)
    assert passed.code == 0, passed.text
    assert _on_origin(world) == head


@pytest.mark.parametrize("gone", ["removed", "a file"])
def test_a_remote_that_cannot_be_reached_is_named_not_taken_for_unpushed(
    gone: str, world: World, gate: Gate
) -> None:
    """Everything was pushed; then the remote's directory is not there (an unmounted
    share): the push is refused as unverifiable, and passes once it is back."""
    _require_pushed(world)
    head = _v2_unpushed(world, gate)
    run(world.work, "dvc", "push", "-q")
    aside = world.top / "dvc-remote.unmounted"
    world.remote.rename(aside)
    if gone == "a file":
        world.remote.write_text("not a directory\n")
    verdict = _push(world)
    _is_unreachable(verdict, str(world.remote))
    error = "FileNotFoundError" if gone == "removed" else "NotADirectoryError"
    assert f"DVC remote storage ({world.remote}) unreachable: {error}" in verdict.text
    assert _on_origin(world) != head
    if world.remote.is_file():
        world.remote.unlink()
    aside.rename(world.remote)
    assert _push(world).code == 0
    assert _on_origin(world) == head


def test_the_changes_own_dvc_config_cannot_point_the_hook_at_storage_it_filled(
    world: World, gate: Gate
) -> None:
    """The change re-points the default remote at a directory it filled with v2's objects:
    the hook still reads the remote of the policy's revision (main's), which lacks them."""
    _require_pushed(world)
    release_v2(world.work, lr="0.1")
    theirs = world.top / "their-remote"
    shutil.copytree(world.work / ".dvc/cache", theirs)  # everything v2 needs, and more
    run(world.work, "dvc", "remote", "modify", "storage", "url", str(theirs))
    commit_all(world.work, "point the remote at storage this change filled")
    world.install_hook(gate)
    verdict = _push(world)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG505"}
    assert f"in the DVC remote storage ({world.remote})" in verdict.text
    assert "this change re-points the default DVC remote" in verdict.text


def test_config_local_cannot_move_the_remote_the_hook_reads(world: World, gate: Gate) -> None:
    """The user's report: a machine whose .dvc/config.local makes another remote the
    default (or moves `storage`) had the hook read that one, while CI read the policy's.
    Here v2 is pushed there, and only there: the push is refused, the note says why."""
    _require_pushed(world)
    mine = world.top / "my-remote"
    mine.mkdir()
    _v2_unpushed(world, gate)
    run(world.work, "dvc", "remote", "add", "-q", "--local", "-d", "mine", str(mine))
    run(world.work, "dvc", "push", "-q")  # to the default on this machine: mine
    run(world.work, "dvc", "remote", "modify", "--local", "storage", "url", str(mine))
    verdict = _push(world)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG505"}
    assert f"in the DVC remote storage ({world.remote})" in verdict.text
    assert ".dvc/config.local makes the default DVC remote mine" in verdict.text


def test_metadata_only_does_not_excuse_an_unreachable_remote(world: World, gate: Gate) -> None:
    """metadata_only lets a candidate's content go unverified; require_pushed asks for the
    remote's word, and a remote that cannot be asked does not give it."""
    _require_pushed(world, policy="metadata_only: true\n")
    _v2_unpushed(world, gate)
    shutil.rmtree(world.remote)
    verdict = _push(world)
    _is_unreachable(verdict, str(world.remote))


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """DVC's HTTP client honours proxy variables: localhost is asked directly."""
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.usefixtures("no_proxy")
def test_an_http_remote_is_read_and_a_missing_object_is_not_pushed(
    world: World, gate: Gate
) -> None:
    with http_remote(world.remote) as url:
        _require_pushed(world, url=url)
        head = _v2_unpushed(world, gate)
        refused = _push(world)
        assert refused.code == 1, refused.text
        assert refused.failed == {"PG505"}
        assert f"in the DVC remote storage ({url}): not pushed" in refused.text
        # a DVC remote this machine adds for itself (not the default): the upload's way in
        run(world.work, "dvc", "remote", "add", "-q", "--local", "disk", str(world.remote))
        run(world.work, "dvc", "push", "-q", "-r", "disk")
        passed = _push(world)
        assert passed.code == 0, passed.text
        assert _on_origin(world) == head


@pytest.mark.usefixtures("no_proxy")
def test_a_refused_connection_is_unreachable_not_unpushed(world: World, gate: Gate) -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    _require_pushed(world, url=url)
    _v2_unpushed(world, gate)
    verdict = _push(world)
    _is_unreachable(verdict, url)
    assert f"DVC remote storage ({url}) unreachable: ClientConnectorError" in verdict.text


@pytest.mark.usefixtures("no_proxy")
def test_a_remote_that_never_answers_does_not_hold_the_push(world: World, gate: Gate) -> None:
    """A server that accepts the connection and says nothing: the push is refused after
    PROMOTE_GATE_REMOTE_TIMEOUT seconds of silence, naming the remote and the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the backlog; nothing is ever sent
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        _require_pushed(world, url=url)
        _v2_unpushed(world, gate)
        verdict = _push(world, env={"PROMOTE_GATE_REMOTE_TIMEOUT": "1"})
    _is_unreachable(verdict, url)
    assert f"DVC remote storage ({url}) unreachable: no answer within 1 s" in verdict.text


@pytest.mark.usefixtures("no_proxy")
def test_config_local_may_supply_the_remotes_credentials(world: World, gate: Gate) -> None:
    """The policy names the remote and its user; the password is this machine's own
    (.dvc/config.local, as DVC keeps it). A wrong one is refused access, not "not pushed"."""
    with http_remote(world.remote, password="s3cret") as url:  # noqa: S106 - the test server's
        _require_pushed(world, url=url)
        run(world.work, "dvc", "remote", "modify", "storage", "auth", "basic")
        run(world.work, "dvc", "remote", "modify", "storage", "user", "ci")
        commit_all(world.work, "the remote needs a login")
        run(world.work, "git", "push", "-q", "origin", "main")
        head = _v2_unpushed(world, gate)
        run(world.work, "dvc", "remote", "add", "-q", "--local", "disk", str(world.remote))
        run(world.work, "dvc", "push", "-q", "-r", "disk")
        run(world.work, "dvc", "remote", "modify", "--local", "storage", "password", "wrong")
        refused = _push(world)
        _is_unreachable(refused, url)
        assert f"DVC remote storage ({url}) refused access" in refused.text
        assert "401" in refused.text
        run(world.work, "dvc", "remote", "modify", "--local", "storage", "password", "s3cret")
        passed = _push(world)
        assert passed.code == 0, passed.text
        assert _on_origin(world) == head


def test_an_invalid_timeout_is_a_usage_error(world: World, gate: Gate) -> None:
    _require_pushed(world)
    _v2_unpushed(world, gate)
    verdict = _push(world, env={"PROMOTE_GATE_REMOTE_TIMEOUT": "forever"})
    assert verdict.code == 2, verdict.text
    assert "PROMOTE_GATE_REMOTE_TIMEOUT: not a number of seconds" in verdict.text


# --------------------------------------------------------------------------- the framework, and CI


def test_through_the_pre_commit_framework(world: World, gate: Gate, tmp_path: Path) -> None:
    """`pre-commit install --hook-type pre-push` and a real push: the framework's entry
    (``hook pre-push`` with PRE_COMMIT_* variables) refuses and passes as git's hook does.
    The hook is this environment's promote-gate (language: system), so the code under test
    is the working tree's, not a committed revision's."""
    entry = Path(sys.executable).parent / "promote-gate"
    (world.work / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: promote-gate\n    name: promote-gate\n"
        f"    entry: {entry} hook pre-push\n    language: system\n    stages: [pre-push]\n"
        "    pass_filenames: false\n    always_run: true\n"
    )
    _require_pushed(world)
    release_v2(world.work, lr="0.1")
    head = world.sha()
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-push"],
        cwd=world.work, env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    refused = _push(world, env=env)
    assert refused.code == 1, refused.text
    assert refused.failed == {"PG505"}
    assert "run: dvc push -r storage publish/v2/model.json" in refused.text
    assert _on_origin(world) != head
    shutil.move(str(world.remote), str(world.top / "elsewhere"))
    unreachable = _push(world, env=env)
    assert "unreachable: FileNotFoundError" in unreachable.text
    assert "`git push --no-verify`" in unreachable.text
    shutil.move(str(world.top / "elsewhere"), str(world.remote))
    run(world.work, "dvc", "push", "-q")
    passed = _push(world, env=env)
    assert passed.code == 0, passed.text
    assert _on_origin(world) == head


def test_ci_names_an_unreachable_remote_as_the_hook_does(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same release judged by `promote-gate ci` where the remote (beside the clone) is
    a file, not storage: PG505 says it could not be reached, not that nothing was pushed
    (PG104 fails too: in CI the remote is the only place the promoted bytes can be read)."""
    _require_pushed(world)
    head = world.branch("v2", lambda w: release_v2(w, lr="0.1"))
    (tmp_path / REMOTE).write_text("not a directory\n")  # the clone's remote, unreachable
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "v2", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG104", "PG505"}
    assert f"DVC remote storage ({tmp_path / REMOTE}) unreachable: NotADirectoryError" in (
        verdict.text
    )
    assert "not pushed, consumers cannot dvc pull" not in verdict.text
