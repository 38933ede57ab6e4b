"""The remote provider: whether the default DVC remote holds a verified copy of each
DVC-stored file of a bundle (only when the policy sets ``require_pushed``)."""

from __future__ import annotations

from pathlib import Path

from evidence_scopes import add_policy, md5_of_model, opened, run

from promote_gate.evidence.remote import remote


def _remote_object(repo: Path, md5: str) -> Path:
    return repo.parent / "dvc-remote/files/md5" / md5[:2] / md5[2:]


def test_nothing_is_asked_of_the_remote_unless_the_policy_requires_it(repo: Path) -> None:
    with opened(repo) as it:
        assert remote(it.scope, it.bundle("v1")).remote is None


def test_a_pushed_model_is_present_in_the_default_remote(repo: Path) -> None:
    add_policy(repo, "require_pushed: true\n")
    with opened(repo) as it:
        found = remote(it.scope, it.bundle("v1")).remote
    assert found is not None
    assert found.name == "storage"
    assert found.present == {md5_of_model(repo): True}
    assert found.reason is None


def test_a_model_deleted_from_the_remote_is_reported_absent(repo: Path) -> None:
    add_policy(repo, "require_pushed: true\n")
    md5 = md5_of_model(repo)
    obj = _remote_object(repo, md5)
    obj.chmod(0o644)
    obj.unlink()
    assert (repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).exists()  # the cache is no remote
    with opened(repo) as it:
        found = remote(it.scope, it.bundle("v1")).remote
    assert found is not None
    assert found.present == {md5: False}


def test_a_corrupt_copy_in_the_remote_does_not_count(repo: Path) -> None:
    add_policy(repo, "require_pushed: true\n")
    md5 = md5_of_model(repo)
    obj = _remote_object(repo, md5)
    obj.chmod(0o644)
    obj.write_text('{"weights": [0, 0, 0, 0]}\n')
    with opened(repo) as it:
        found = remote(it.scope, it.bundle("v1")).remote
    assert found is not None
    assert found.present == {md5: False}


def test_without_a_default_remote_the_presence_cannot_be_told(repo: Path) -> None:
    add_policy(repo, "require_pushed: true\n")
    run(repo, "dvc", "remote", "default", "--unset")
    with opened(repo) as it:
        found = remote(it.scope, it.bundle("v1")).remote
    assert found is not None
    assert found.present is None
    assert found.reason == "no default DVC remote is configured (dvc remote add -d)"
