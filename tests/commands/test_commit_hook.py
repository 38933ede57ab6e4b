"""The staged bundle: ``check --staged`` and the commit-time hook, through real ``git commit``
(plain git, and the pre-commit framework) in a repository with a bare origin upstream."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import edit_json, resum  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.promote import promote

PROJECT = Path(__file__).resolve().parents[2]
V1, V2 = "publish/v1", "publish/v2"


def commit(
    repo: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``git commit`` for real: the installed hook's verdict is its exit code and stderr."""
    return subprocess.run(
        ["git", "commit", "-q", "-m", "change", *argv],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def head(repo: Path) -> str:
    return run(repo, "git", "rev-parse", "HEAD").strip()


def set_param(repo: Path, key: str, value: str) -> None:
    path = repo / "params.yaml"
    lines = [
        f"  {key}: {value}" if line.startswith(f"  {key}: ") else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")


def stage_v2(repo: Path) -> None:
    """A real second release, staged: retrain (committed), promote v2, ``git add``."""
    set_param(repo, "lr", "0.1")
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "retrain")
    promote(str(repo), "v2", [])
    run(repo, "git", "add", "-A", "publish")


@pytest.fixture
def committing(repo: Path, tmp_path: Path, gate: Gate) -> Path:
    """The template repository, main pushed to a bare origin as its upstream, and git's
    pre-commit hook installed (only that one)."""
    run(tmp_path, "git", "init", "-q", "--bare", "origin.git")
    run(repo, "git", "remote", "add", "origin", str(tmp_path / "origin.git"))
    run(repo, "git", "push", "-q", "-u", "origin", "main")
    code, out, _ = gate("install", "--repo", str(repo), "--hook-type", "pre-commit")
    assert code == 0
    assert out.count("installed") == 1
    assert not (repo / ".git/hooks/pre-push").exists()
    return repo


def test_a_clean_staged_bundle_is_committed(committing: Path) -> None:
    stage_v2(committing)
    before = head(committing)
    result = commit(committing)
    assert result.returncode == 0, result.stderr
    assert head(committing) != before
    assert "promote-gate passed" in result.stderr
    assert "meets its upstream" in result.stderr


def test_a_tampered_staged_snapshot_is_refused(committing: Path) -> None:
    """v2's params snapshot edited (and its checksums redone to match): the snapshot no longer
    says what the lock excerpt recorded."""
    stage_v2(committing)
    params = committing / V2 / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.1", "lr: 0.3"))
    resum(committing / V2)
    run(committing, "git", "add", "-A", V2)
    before = head(committing)
    result = commit(committing)
    assert result.returncode != 0
    assert head(committing) == before  # nothing recorded
    assert "PG302 params-mismatch" in result.stderr
    assert "commit refused" in result.stderr


def test_a_staged_edit_of_a_released_bundle_is_refused(committing: Path) -> None:
    report = committing / V1 / "report.md"
    report.write_text(report.read_text() + "\nAlso good on Tuesdays.\n")
    run(committing, "git", "add", str(report))
    result = commit(committing)
    assert result.returncode != 0
    assert "PG501 released-version-mutated" in result.stderr


def test_a_staged_bundle_from_a_stale_pipeline_is_refused(committing: Path) -> None:
    """v2 promoted, then a param changed without `dvc repro`, both staged: dvc.lock no longer
    explains what the commit records."""
    set_param(committing, "lr", "0.1")
    run(committing, "dvc", "repro", "-q")
    commit_all(committing, "retrain")
    promote(str(committing), "v2", [])
    set_param(committing, "epochs", "3")
    run(committing, "git", "add", "-A")
    result = commit(committing)
    assert result.returncode != 0
    assert "PG204 pipeline-stale" in result.stderr
    assert "train" in result.stderr


def test_the_index_is_judged_not_the_working_tree(committing: Path) -> None:
    """Staged good, working tree bad: committed. Staged bad, working tree good: refused."""
    stage_v2(committing)
    report = committing / V2 / "report.md"
    good = report.read_text()
    report.write_text(good.replace("# Release v2", "# Release v2 (edited)"))  # not staged
    result = commit(committing)
    assert result.returncode == 0, result.stderr

    released = committing / V1 / "report.md"
    text = released.read_text()
    released.write_text(text + "\nedited\n")
    run(committing, "git", "add", str(released))
    released.write_text(text)  # the working tree is clean again; the index is not
    result = commit(committing)
    assert result.returncode != 0
    assert "PG501" in result.stderr


def test_commit_all_is_judged_by_the_index_git_builds_for_it(committing: Path) -> None:
    """``git commit -a`` stages into a temporary index (GIT_INDEX_FILE): that is what is
    recorded, so that is what is judged."""
    released = committing / V1 / "report.md"
    released.write_text(released.read_text() + "\nedited\n")  # not staged in .git/index
    result = commit(committing, "-a")
    assert result.returncode != 0
    assert "PG501" in result.stderr


def test_upstream_decides_what_is_released(committing: Path, gate: Gate) -> None:
    """v2 committed but not pushed is not released: a staged fix to it is judged as a new
    bundle. Without an upstream, HEAD is the base and v2 counts as released."""
    stage_v2(committing)
    assert commit(committing).returncode == 0
    report = committing / V2 / "report.md"
    report.write_text(report.read_text().replace("# Release v2", "# Release v2 (typo fixed)"))
    run(committing, "git", "add", str(report))
    code, out, _ = gate("check", "--repo", str(committing), "--staged", "--select", "PG501")
    assert code == 0, out
    run(committing, "git", "branch", "--unset-upstream")
    code, out, _ = gate("check", "--repo", str(committing), "--staged", "--select", "PG501")
    assert code == 1
    assert "compared with HEAD (no upstream)" in out


def test_unpushed_commits_count_whatever_this_commit_stages(committing: Path) -> None:
    """v2 committed (not pushed), then a param changed without `dvc repro`: this commit
    stages only params.yaml, but the tree it records still holds a v2 the pipeline no longer
    explains. The quick path diffs against what the remote has, not against HEAD."""
    stage_v2(committing)
    assert commit(committing).returncode == 0
    set_param(committing, "epochs", "3")
    run(committing, "git", "add", "params.yaml")
    result = commit(committing)
    assert result.returncode != 0
    assert "PG204 pipeline-stale" in result.stderr


def test_a_branch_behind_its_upstream_is_not_refused(committing: Path) -> None:
    """origin has a v2 this branch has not pulled yet: that is not a removal of v2. The
    base is where HEAD meets the upstream, not the upstream's tip."""
    stage_v2(committing)
    assert commit(committing).returncode == 0
    run(committing, "git", "push", "-q", "origin", "main")
    run(committing, "git", "reset", "-q", "--hard", "HEAD~2")  # behind origin/main by two
    dvc_yaml = committing / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + "# a note\n")
    run(committing, "git", "add", "dvc.yaml")
    result = commit(committing)
    assert result.returncode == 0, result.stderr
    assert "PG501" not in result.stderr


def test_intent_to_add_entries_are_not_staged(committing: Path, gate: Gate) -> None:
    """`git add -N` makes an index entry that git commit does not record."""
    (committing / V1 / "notes.txt").write_text("not for the release\n")
    run(committing, "git", "add", "-N", f"{V1}/notes.txt")
    code, out, _ = gate("check", "--repo", str(committing), "--staged")
    assert code == 0, out
    run(committing, "git", "add", f"{V1}/notes.txt")  # now it is staged
    code, out, _ = gate("check", "--repo", str(committing), "--staged")
    assert code == 1
    assert "PG103 file-unlisted" in out


def _state(repo: Path) -> tuple[list[str], str, int]:
    git = repo / ".git"
    objects = sorted(str(p.relative_to(git)) for p in (git / "objects").rglob("*"))
    index = git / "index"
    return objects, hashlib.sha256(index.read_bytes()).hexdigest(), index.stat().st_mtime_ns


def test_check_staged_writes_nothing_to_git(committing: Path, gate: Gate) -> None:
    stage_v2(committing)
    (committing / V2 / "report.md").write_text("changed in the working tree only\n")
    before = _state(committing)
    code, out, _ = gate("check", "--repo", str(committing), "--staged")
    assert code == 0, out  # the index is clean; the working tree is not
    assert "index (staged for commit)" in out
    assert _state(committing) == before  # no objects written, the index not refreshed


def test_check_staged_refuses_a_conflicted_index(committing: Path, gate: Gate) -> None:
    run(committing, "git", "checkout", "-q", "-b", "other")
    (committing / "NOTES.md").write_text("one\n")
    commit_all(committing, "one")
    run(committing, "git", "checkout", "-q", "main")
    (committing / "NOTES.md").write_text("two\n")
    commit_all(committing, "two")
    subprocess.run(
        ["git", "merge", "-q", "other"], cwd=committing, capture_output=True, check=False
    )
    code, _, err = gate("check", "--repo", str(committing), "--staged")
    assert code == 2
    assert "unresolved conflicts (NOTES.md)" in err


def test_a_commit_staging_nothing_the_gate_reads_is_answered_light(committing: Path) -> None:
    """Exit 0, silent, no rules nor DVC loaded; PyYAML neither, once the policy was
    validated (the first commit did that)."""
    (committing / "NOTES.md").write_text("unrelated\n")
    run(committing, "git", "add", "NOTES.md")
    first = commit(committing)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    (committing / "NOTES.md").write_text("unrelated, again\n")
    run(committing, "git", "add", "NOTES.md")
    hook = (committing / ".git/hooks/pre-commit").read_text()
    assert " -S -c " in hook  # no site initialisation on the quick path
    probe = (
        "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
        "from promote_gate.cli import main; code = main(['hook', 'pre-commit']); "
        "print(code, 'dvc' in sys.modules, 'promote_gate.rules' in sys.modules, "
        "'yaml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=committing, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["0", "False", "False", "False"], result.stderr
    assert result.stderr == ""
    assert commit(committing).returncode == 0


def test_install_chains_an_existing_pre_commit_hook(repo: Path, gate: Gate, tmp_path: Path) -> None:
    hooks = repo / ".git/hooks"
    ran = tmp_path / "kept-ran"
    (hooks / "pre-commit").write_text(f"#!/bin/sh\necho ran >> {ran}\nexit 0\n")
    (hooks / "pre-commit").chmod(0o755)
    code, out, _ = gate("install", "--repo", str(repo))
    assert code == 0
    assert "pre-commit.pre-promote-gate" in out
    assert (hooks / "pre-push").exists()  # the default: all three hooks
    assert (hooks / "pre-merge-commit").exists()
    released = repo / V1 / "report.md"
    released.write_text(released.read_text() + "\nedited\n")
    run(repo, "git", "add", str(released))
    result = commit(repo)
    assert ran.read_text() == "ran\n"  # the hook that was there ran first, once ...
    assert result.returncode != 0  # ... and promote-gate still judged the commit
    assert "PG501" in result.stderr
    # a kept hook that refuses stops the commit before promote-gate runs
    (hooks / "pre-commit.pre-promote-gate").write_text("#!/bin/sh\necho no >&2\nexit 3\n")
    result = commit(repo)
    assert result.returncode != 0
    assert "PG501" not in result.stderr


@pytest.mark.slow
def test_through_the_pre_commit_framework(committing: Path, tmp_path: Path) -> None:
    """pre-commit installs this repository's promote-gate-staged hook (language: python) at
    the commit stage: a tampered staged bundle is refused, a clean one and an unrelated commit
    pass (the latter without running the hook: its files pattern)."""
    rev = run(PROJECT, "git", "rev-parse", "HEAD").strip()
    (committing / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {PROJECT}\n  rev: {rev}\n  hooks:\n  - id: promote-gate-staged\n"
    )
    (committing / ".git/hooks/pre-commit").unlink()
    commit_all(committing, "use pre-commit")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-commit"],
        cwd=committing,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    (committing / "NOTES.md").write_text("unrelated\n")
    run(committing, "git", "add", "NOTES.md")
    unrelated = commit(committing, env=env)
    assert unrelated.returncode == 0, unrelated.stdout + unrelated.stderr
    assert "(no files to check)Skipped" in unrelated.stdout + unrelated.stderr

    released = committing / V1 / "report.md"
    released.write_text(released.read_text() + "\nedited\n")
    run(committing, "git", "add", str(released))
    bad = commit(committing, env=env)
    assert bad.returncode != 0
    assert "PG501" in bad.stdout + bad.stderr
    run(committing, "git", "checkout", "HEAD", "--", str(released))

    stage_v2(committing)
    good = commit(committing, env=env)
    assert good.returncode == 0, good.stdout + good.stderr


def test_manifest_edit_staged_with_resummed_checksums_is_refused(committing: Path) -> None:
    """A staged v2 whose manifest claims another md5 for the model, checksums redone."""
    stage_v2(committing)
    edit_json(committing / V2 / "manifest.json", lambda doc: doc["files"][0].update(md5="0" * 32))
    resum(committing / V2)
    run(committing, "git", "add", "-A", V2)
    result = commit(committing)
    assert result.returncode != 0
    assert "PG104 content-mismatch" in result.stderr


def test_an_index_file_outside_the_git_directory_is_refused(
    committing: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "index"
    elsewhere.write_bytes((committing / ".git/index").read_bytes())
    monkeypatch.setenv("GIT_INDEX_FILE", str(elsewhere))
    code, _, err = gate("check", "--repo", str(committing), "--staged")
    assert code == 2
    assert "outside the repository's git directory" in err


def test_a_partial_clone_is_never_fetched_into(repo: Path, gate: Gate, tmp_path: Path) -> None:
    """In a blobless clone the blobs of a commit are missing: git would fetch them from the
    promisor remote on first read, writing to .git/objects. The gate reads with lazy fetching
    off, and what it cannot read it cannot pass."""
    bare = tmp_path / "origin.git"
    run(tmp_path, "git", "clone", "-q", "--bare", str(repo), str(bare))
    run(bare, "git", "config", "uploadpack.allowFilter", "true")
    partial = tmp_path / "partial"
    run(
        tmp_path,
        "git",
        "clone",
        "-q",
        "--no-checkout",
        "--filter=blob:none",
        bare.as_uri(),
        str(partial),
    )
    packs = sorted(p.name for p in (partial / ".git/objects/pack").iterdir())
    code, _, err = gate("check", "--repo", str(partial), "--rev", "HEAD")
    assert code == 2, err
    assert "Traceback" not in err
    assert sorted(p.name for p in (partial / ".git/objects/pack").iterdir()) == packs


def test_hooks_work_where_dependencies_come_through_a_pth_file(repo: Path, tmp_path: Path) -> None:
    """A Python whose promote-gate dependencies are reachable only through a .pth file (an
    editable dependency, some distributions): the installed hooks start with `python -S`,
    which skips .pth files; the quick path must then initialise site and judge again, never
    die with a traceback."""
    import site
    import venv

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = run(
        tmp_path, str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
    )
    reach = [str(PROJECT), *site.getsitepackages()]
    Path(target.strip(), "deps.pth").write_text("\n".join(reach) + "\n")
    run(repo, str(python), "-m", "promote_gate", "install", "--hook-type", "pre-commit")
    hook = (repo / ".git/hooks/pre-commit").read_text()
    assert str(python) in hook
    (repo / "NOTES.md").write_text("unrelated\n")
    run(repo, "git", "add", "NOTES.md")
    quiet = commit(repo)
    assert quiet.returncode == 0, quiet.stderr
    assert "Traceback" not in quiet.stderr
    released = repo / V1 / "report.md"
    released.write_text(released.read_text() + "\nedited\n")
    run(repo, "git", "add", str(released))
    refused = commit(repo)
    assert refused.returncode == 1, refused.stderr
    assert "PG501" in refused.stderr
