"""Content-addressed evidence: a DVC object counts only once its bytes hash to its address.

Objects are real: written by ``dvc add`` and ``dvc push`` into a real cache and a real
local-directory remote; the forgeries are what a commit could bring (other bytes under an
address, symlinks, FIFOs, a symlinked directory).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.dvc.layout import object_paths
from promote_gate.hashing import digest_bytes
from promote_gate.objects import DirectorySource, DvcFsSource, ObjectStore, remote_source

DATA = b"x1,x2,y\n" + b"".join(b"%d,%d,%d\n" % (i, i * 2, i % 2) for i in range(500))
MD5 = hashlib.md5(DATA).hexdigest()


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dvc add` of one file and one directory, pushed to a local-directory remote."""
    from conftest import pinned_env  # type: ignore[import-not-found, unused-ignore]

    root = tmp_path_factory.mktemp("objects") / "repo"
    with pinned_env(tmp_path_factory.mktemp("objects-home")):
        root.mkdir()
        (root / "data.csv").write_bytes(DATA)
        (root / "d").mkdir()
        (root / "d/a.txt").write_text("a\n")
        (root / "d/b.txt").write_text("b\n")
        run(root, "git", "init", "-q")
        run(root, "dvc", "init", "-q")
        run(root, "dvc", "remote", "add", "-q", "-d", "storage", "../remote")
        run(root, "dvc", "add", "-q", "data.csv", "d")
        run(root, "dvc", "push", "-q")
    return root


def _dir_md5(repo: Path) -> str:
    text = (repo / "d.dvc").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "md5:" in line)


def _cache(repo: Path) -> ObjectStore:
    return ObjectStore([DirectorySource(str(repo / ".dvc/cache"), "the DVC cache")])


def test_real_objects_are_read_and_verified(dvc_repo: Path) -> None:
    store = _cache(dvc_repo)
    digest = store.digest(MD5)
    assert digest == digest_bytes(DATA)
    listing = store.document(_dir_md5(dvc_repo))
    assert listing is not None
    assert b'"relpath": "a.txt"' in listing


def test_other_bytes_under_an_address_are_refused_and_said_so(
    dvc_repo: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(dvc_repo / ".dvc/cache", cache)
    obj = cache.joinpath(*object_paths(MD5)[0])
    obj.chmod(0o644)
    obj.write_bytes(DATA.replace(b"1,2,1", b"9,9,9"))
    store = ObjectStore([DirectorySource(str(cache), "the DVC cache")])
    assert store.digest(MD5) is None
    assert "does not hash to" in store.missing(MD5)
    assert "corrupt or forged" in store.missing(MD5)


def test_a_symlinked_object_or_directory_is_never_followed(dvc_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(dvc_repo / ".dvc/cache", cache)
    obj = cache.joinpath(*object_paths(MD5)[0])
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(obj, outside / obj.name)  # the right bytes, but outside the cache
    obj.chmod(0o644)
    obj.unlink()
    obj.symlink_to(outside / obj.name)
    store = ObjectStore([DirectorySource(str(cache), "the DVC cache")])
    assert store.digest(MD5) is None
    assert "is a symlink" in store.missing(MD5)
    # a directory on the way that is a symlink leaves the cache just the same
    obj.unlink()
    shutil.rmtree(obj.parent)
    obj.parent.symlink_to(outside)
    store = ObjectStore([DirectorySource(str(cache), "the DVC cache")])
    assert store.digest(MD5) is None
    assert "symlinked directory" in store.missing(MD5)


def test_a_fifo_is_refused_without_waiting_for_a_writer(dvc_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    obj = cache.joinpath(*object_paths(MD5)[0])
    obj.parent.mkdir(parents=True)
    os.mkfifo(obj)
    store = ObjectStore([DirectorySource(str(cache), "the DVC cache")])
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(store.digest(MD5)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "reading a FIFO object blocked"
    assert result == [None]
    assert "not a regular file" in store.missing(MD5)


def test_documents_are_bounded(dvc_repo: Path) -> None:
    store = _cache(dvc_repo)
    assert store.document(MD5, limit=100) is None
    assert "larger than the 100 bytes" in store.missing(MD5)


def test_legacy_layout_accepts_dvc2_text_addresses(tmp_path: Path) -> None:
    """DVC 2 kept objects at the cache root, text addressed by its md5-dos2unix."""
    crlf = b"a,b\r\n1,2\r\n"
    legacy = digest_bytes(crlf).md5_dos2unix
    assert legacy != hashlib.md5(crlf).hexdigest()
    root = tmp_path / "cache"
    obj = root.joinpath(*object_paths(legacy)[1])
    obj.parent.mkdir(parents=True)
    obj.write_bytes(crlf)
    assert ObjectStore([DirectorySource(str(root), "c")]).digest(legacy) is not None
    # the DVC 3 layout is plain md5 only
    modern = root.joinpath(*object_paths(legacy)[0])
    modern.parent.mkdir(parents=True)
    obj.rename(modern)
    assert ObjectStore([DirectorySource(str(root), "c")]).digest(legacy) is None


def test_remote_through_dvcs_filesystem_equals_reading_the_directory(dvc_repo: Path) -> None:
    """The path every non-local remote takes (DVC's fs layer), differential on a local one."""
    from dvc.fs import get_cloud_fs

    remote = dvc_repo.parent / "remote"
    cls, conf, path = get_cloud_fs({"remote": {"r": {"url": str(remote)}}}, name="r")
    via_dvc = ObjectStore([DvcFsSource(cls(**conf), path, "DVC remote r")])
    direct = ObjectStore([DirectorySource(str(remote), "remote", is_remote=True)])
    for md5 in (MD5, _dir_md5(dvc_repo)):
        assert via_dvc.digest(md5) is not None
        assert via_dvc.digest(md5) == direct.digest(md5)
    assert via_dvc.digest("0" * 32) is None
    source, reason = remote_source("r", str(remote), {}, str(dvc_repo))
    assert reason is None
    assert isinstance(source, DirectorySource)


def test_an_unreadable_remote_is_a_reason_not_a_crash(dvc_repo: Path) -> None:
    """A remote whose DVC plugin is not installed (dvc-oss never is here) is a reason."""
    config = {"remote": {"ossr": {"url": "oss://bucket/path"}}}
    source, reason = remote_source("ossr", "oss://bucket/path", config, str(dvc_repo))
    assert source is None
    assert reason is not None
    assert "oss://bucket/path" in reason


def test_a_remote_directory_that_is_not_there_is_unreachable_not_empty(dvc_repo: Path) -> None:
    """A local remote whose directory is missing (an unmounted share) cannot say what it
    holds: unknown, with the reason; an object missing from one that is there is absent."""
    source, reason = remote_source("gone", str(dvc_repo / "nowhere"), {}, str(dvc_repo))
    assert source is not None
    assert reason is None
    store = ObjectStore([source])
    assert store.in_remote(MD5, "md5") is None
    assert store.remote_down is not None
    assert store.remote_down.startswith(f"DVC remote gone ({dvc_repo / 'nowhere'}) unreachable:")
    assert "FileNotFoundError" in store.remote_down
    assert "unreachable: FileNotFoundError" in store.missing(MD5)
    present, _ = remote_source("r", str(dvc_repo.parent / "remote"), {}, str(dvc_repo))
    assert present is not None
    store = ObjectStore([present])
    assert store.in_remote(MD5, "md5") is True
    assert store.in_remote("0" * 32, "md5") is False
    assert store.remote_down is None
