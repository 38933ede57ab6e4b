"""The content providers: ``.dir`` listings and the recorded bytes of metrics files, each
trusted only once it hashes to the address the bundle records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from evidence_scopes import METRICS, commit_all, opened, run, set_source_commit

from promote_gate.evidence.content import content, listings

PREPARED = "data/prepared"


def _prepared_md5(repo: Path) -> str:
    """The ``.dir`` address the lock excerpt records for data/prepared."""
    for line in (repo / "publish/v1/lock.yaml").read_text().splitlines():
        if line.strip().startswith("md5:") and line.strip().endswith(".dir"):
            return line.split()[-1]
    raise AssertionError("no .dir output in the lock excerpt")


def _drop_object(store: Path, md5: str) -> None:
    """Delete a DVC object from a cache or a local-directory remote (read-only there)."""
    obj = store / "files/md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.unlink()


def test_reads_the_metrics_bytes_committed_at_source_commit(repo: Path) -> None:
    committed = (repo / METRICS).read_bytes()
    with opened(repo) as it:
        found = content(it.scope, it.bundle("v1")).content
    assert set(found) == {METRICS}
    recorded = found[METRICS]
    assert recorded.data == committed
    assert recorded.where is not None
    assert recorded.where.startswith("git at ")
    assert recorded.conflict is None


def test_a_committed_metrics_file_other_than_recorded_is_a_conflict(repo: Path) -> None:
    recorded_md5 = hashlib.md5((repo / METRICS).read_bytes()).hexdigest()
    (repo / METRICS).write_text(json.dumps({"acc": 0.99, "loss": 0.01}))
    other = commit_all(repo, "metrics by hand")
    set_source_commit(repo, "v1", other)
    with opened(repo) as it:
        recorded = content(it.scope, it.bundle("v1")).content[METRICS]
    assert recorded.data is None
    assert recorded.conflict is not None
    assert f"source.commit {other[:12]}" in recorded.conflict
    assert f"not the {recorded_md5} recorded" in recorded.conflict


def test_a_git_tracked_metrics_file_missing_at_source_commit_is_not_fetched(repo: Path) -> None:
    md5 = hashlib.md5((repo / METRICS).read_bytes()).hexdigest()
    run(repo, "git", "rm", "-q", METRICS)
    gone = commit_all(repo, "drop metrics")
    # dvc repro's run cache kept a copy; without it nothing here holds the bytes
    _drop_object(repo / ".dvc/cache", md5)
    set_source_commit(repo, "v1", gone)
    with opened(repo) as it:
        recorded = content(it.scope, it.bundle("v1")).content[METRICS]
    assert recorded.data is None
    assert recorded.reason == (
        f"{METRICS} is git-tracked (cache: false) but is not committed at source.commit {gone[:12]}"
    )
    assert recorded.command is None  # no `dvc fetch` brings a git-tracked file


def test_lists_the_dir_output_of_the_lock_excerpt(repo: Path) -> None:
    md5 = _prepared_md5(repo)
    expected = {
        name: hashlib.md5((repo / PREPARED / name).read_bytes()).hexdigest()
        for name in ("train.csv", "test.csv")
    }
    with opened(repo) as it:
        found = listings(it.scope, it.bundle("v1"))
    assert found.dir_listings == {md5: expected}
    assert found.unavailable == {}


def test_a_dir_listing_in_neither_cache_nor_remote_is_unavailable(repo: Path) -> None:
    md5 = _prepared_md5(repo)
    for store in (repo / ".dvc/cache", repo.parent / "dvc-remote"):
        _drop_object(store, md5)
    with opened(repo) as it:
        found = listings(it.scope, it.bundle("v1"))
    assert found.dir_listings == {md5: None}
    assert found.unavailable[md5].startswith("not in the DVC cache nor DVC remote storage")
