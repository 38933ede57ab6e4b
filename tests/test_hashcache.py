"""The hash cache: a file is hashed again whenever any part of its identity changed, a
corrupt cache is discarded (never trusted), and runs at once share it safely."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Gate  # type: ignore[import-not-found, unused-ignore]

from promote_gate import hashcache
from promote_gate.hashcache import HashCache, key_of
from promote_gate.hashing import digest_file

MODEL = "publish/v1/model.json"  # git-stored in the demo's bundle: hashed from the work tree


@pytest.fixture
def no_race_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files made by a test are seconds old: let them be cached (the window is git's
    defence against a second write in the same timestamp tick, tested below)."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", 0.0)


def _cache() -> HashCache:
    return HashCache()


def _rows() -> int:
    with sqlite3.connect(hashcache.default_path()) as db:
        count: int = db.execute("SELECT count(*) FROM digests").fetchone()[0]
    return count


def _stat(st: os.stat_result, **fields: int) -> os.stat_result:
    """``st`` with some key fields replaced (a device cannot be changed for real here)."""
    values = {
        "st_dev": st.st_dev,
        "st_ino": st.st_ino,
        "st_size": st.st_size,
        "st_mtime_ns": st.st_mtime_ns,
        "st_ctime_ns": st.st_ctime_ns,
    } | fields
    base = (
        st.st_mode,
        values["st_ino"],
        values["st_dev"],
        st.st_nlink,
        st.st_uid,
        st.st_gid,
        values["st_size"],
        int(st.st_atime),
        values["st_mtime_ns"] // 10**9,
        values["st_ctime_ns"] // 10**9,
    )
    return os.stat_result(
        base, {"st_mtime_ns": values["st_mtime_ns"], "st_ctime_ns": values["st_ctime_ns"]}
    )


@pytest.mark.parametrize("field", ["st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns"])
def test_each_key_field_changing_is_a_miss(
    field: str, tmp_path: Path, no_race_window: None
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    st = os.stat(path)
    cache = _cache()
    cache.put(st, st, digest_file(str(path)))
    cache.flush()
    assert cache.get(st) == digest_file(str(path))
    changed = _stat(st, **{field: getattr(st, field) + 1})
    assert key_of(changed) != key_of(st)
    assert cache.get(changed) is None


def test_content_changed_with_size_and_mtime_restored_is_hashed_again(
    repo: Path, gate: Gate, no_race_window: None
) -> None:
    """A forger keeps size and mtime (os.utime): the kernel still moves ctime."""
    code, _, _ = gate("check", "--repo", str(repo))
    assert code == 0
    assert _rows() > 0
    model = repo / MODEL
    before = os.stat(model)
    text = model.read_text()
    forged = text.replace("0", "1", 1)
    assert forged != text
    assert len(forged) == len(text)
    model.write_text(forged)
    os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(model)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert "PG104" in gate.failed_codes("check", "--repo", str(repo))


def test_a_warm_run_hashes_nothing_and_agrees(
    repo: Path, gate: Gate, no_race_window: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = gate.json("check", "--repo", str(repo))
    hashed: list[str] = []
    from promote_gate import hashing  # digest_open looks it up there on each call

    original = hashing.digest_stream

    def counting(fobj: object, name: str) -> object:
        hashed.append(name)
        return original(fobj, name)  # type: ignore[arg-type]

    monkeypatch.setattr(hashing, "digest_stream", counting)
    warm = gate.json("check", "--repo", str(repo))
    assert warm == cold
    assert hashed == []
    gate.json("check", "--repo", str(repo), "--no-cache")
    assert MODEL in hashed  # --no-cache hashes every file


def test_a_file_changed_moments_ago_is_not_cached(repo: Path, gate: Gate) -> None:
    """Within the racy window a second same-size write could keep the key: not cached."""
    (repo / MODEL).touch()
    code, _, _ = gate("check", "--repo", str(repo))
    assert code == 0
    with sqlite3.connect(hashcache.default_path()) as db:
        keys = {tuple(r) for r in db.execute("SELECT dev, ino FROM digests")}
    st = os.stat(repo / MODEL)
    assert (st.st_dev, st.st_ino) not in keys


def test_a_corrupt_cache_is_discarded_not_trusted(
    repo: Path, gate: Gate, no_race_window: None
) -> None:
    path = Path(hashcache.default_path())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    code, _, err = gate("check", "--repo", str(repo))
    assert (code, err) == (0, "")
    assert not path.exists()  # discarded: this run hashed everything
    gate("check", "--repo", str(repo))
    assert _rows() > 0  # and the next run builds a cache again
    # a row that is no digest: the whole cache goes, the verdict is computed from the bytes
    with sqlite3.connect(path) as db:
        db.execute("UPDATE digests SET md5 = 'forged'")
    text = (repo / MODEL).read_text()
    (repo / MODEL).write_text(text.replace("0", "1", 1))
    assert "PG104" in gate.failed_codes("check", "--repo", str(repo))


def test_two_runs_at_once_share_the_cache(repo: Path) -> None:
    time.sleep(hashcache.RACY_SECONDS + 0.1)  # old enough to be cached
    cmd = [sys.executable, "-m", "promote_gate", "check", "--repo", str(repo)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in "ab"]
    results = [(p.wait(), p.stderr.read() if p.stderr else b"") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert results == [(0, b""), (0, b"")]
    with sqlite3.connect(hashcache.default_path()) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _rows() > 0


# --------------------------------------------------------------------------- validated policies


def _load_in_subprocess(config: Path) -> tuple[int, str]:
    code = (
        "import sys; from promote_gate import config; "
        f"c = config.parse(open({str(config)!r}, 'rb').read(), '.promote-gate.yaml'); "
        "print(c.publish_root, 'jsonschema' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout.strip() + proc.stderr


def test_a_validated_policy_is_not_validated_again_and_an_invalid_one_always_is(
    tmp_path: Path,
) -> None:
    config = tmp_path / ".promote-gate.yaml"
    config.write_text("publish_root: releases\n")
    assert _load_in_subprocess(config) == (0, "releases True")
    # the hook's fast path: the same content, already validated, needs no jsonschema
    assert _load_in_subprocess(config) == (0, "releases False")
    config.write_text("publish_root: releases\nunknown_key: 1\n")
    for _ in range(2):  # an invalid policy is never remembered as valid
        code, out = _load_in_subprocess(config)
        assert code == 1
        assert "unknown key(s) 'unknown_key'" in out
