"""``promote-gate promote``: refuses (and writes nothing) unless the pipeline state is releasable."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Run alone (`mypy tests/commands/x.py`), mypy does not see tests/ as a root: conftest
# resolves only in the suite-wide run, so the ignore must tolerate being unused there.
from conftest import Gate, commit_all, copy_repo, run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.cli import main

BUNDLE_FILES = {
    ".gitignore",
    "SHA256SUMS",
    "lock.yaml",
    "manifest.json",
    "metrics.json",
    "model.json",
    "model.json.dvc",
    "params.yaml",
    "report.md",
}


# --------------------------------------------------------------------------- helpers


def publish_snapshot(repo: Path) -> dict[str, bytes | None]:
    """Every path under publish/ (directories as None), with file contents."""
    return {
        p.relative_to(repo).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted((repo / "publish").rglob("*"))
    }


def git_status(repo: Path) -> str:
    status: str = run(repo, "git", "status", "--porcelain", "--untracked-files=all", "--ignored")
    return status


@contextlib.contextmanager
def writes_nothing(repo: Path) -> Iterator[None]:
    """Assert the block leaves publish/ and ``git status`` exactly as they were."""
    before, status = publish_snapshot(repo), git_status(repo)
    yield
    assert publish_snapshot(repo) == before
    assert git_status(repo) == status


def refused(gate: Gate, repo: Path, *argv: str) -> str:
    """Run promote expecting a refusal: exit 1, one ``refused`` line on stderr, nothing written."""
    with writes_nothing(repo):
        result: tuple[int, str, str] = gate("promote", "--repo", str(repo), *argv)
    code, out, err = result
    assert code == 1, (code, out, err)
    assert "Traceback" not in err
    assert err.startswith("promote-gate: refused: "), err
    assert "Created" not in out
    return err


def set_lr(repo: Path, lr: str) -> None:
    params = repo / "params.yaml"
    text = params.read_text()
    assert "lr: 0.05" in text
    params.write_text(text.replace("lr: 0.05", f"lr: {lr}"))


@contextlib.contextmanager
def pinned_env(home: Path) -> Iterator[None]:
    """The ``isolate`` environment, for module-scoped fixtures that run before it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.setenv("DVC_NO_ANALYTICS", "1")
        for role in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{role}_NAME", "Test Author")
            mp.setenv(f"GIT_{role}_EMAIL", "author@example.invalid")
        mp.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        yield


@dataclass(frozen=True)
class Promotion:
    repo: Path  # lr changed, dvc repro, committed, then `promote v2` (not committed)
    code: int
    out: str
    err: str
    source_commit: str


@pytest.fixture(scope="module")
def promoted(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Promotion:
    """One real `dvc repro` of a params change for the whole module, then `promote v2`."""
    root = tmp_path_factory.mktemp("promoted") / "repo"
    copy_repo(template, root)
    with pinned_env(tmp_path_factory.mktemp("home")):
        set_lr(root, "0.1")
        run(root, "dvc", "repro", "-q")
        head = commit_all(root, "lr 0.1, reproduced")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["promote", "--repo", str(root), "v2"])
    return Promotion(root, code, out.getvalue(), err.getvalue(), head)


@pytest.fixture
def v2(promoted: Promotion, tmp_path: Path) -> Path:
    """A private copy of the promoted repository, for tests that change it."""
    dest = tmp_path / "repo"
    shutil.copytree(promoted.repo, dest, symlinks=True)
    return dest


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("staged", [False, True], ids=["unstaged", "staged"])
def test_refuses_uncommitted_params(repo: Path, gate: Gate, staged: bool) -> None:
    set_lr(repo, "0.1")
    if staged:
        run(repo, "git", "add", "params.yaml")
    err = refused(gate, repo, "v2")
    assert "uncommitted changes in params.yaml" in err


def test_refuses_uncommitted_dvc_lock(repo: Path, gate: Gate) -> None:
    lock = repo / "dvc.lock"
    lock.write_text(lock.read_text() + "# edited by hand\n")
    err = refused(gate, repo, "v2")
    assert "uncommitted changes in dvc.lock" in err


def test_refuses_git_tracked_metrics_that_are_not_committed(repo: Path, gate: Gate) -> None:
    """cache: false metrics are read from git at source.commit: a bundle promoted while they
    are untracked (the first `dvc repro` of a new project) would name a commit without them."""
    run(repo, "git", "rm", "-q", "--cached", "eval/metrics.json")
    run(repo, "git", "commit", "-qm", "eval/metrics.json no longer committed")
    assert "?? eval/metrics.json" in git_status(repo)
    err = refused(gate, repo, "v2")
    assert "uncommitted changes in eval/metrics.json" in err


def test_refuses_a_committed_but_stale_pipeline(repo: Path, gate: Gate) -> None:
    set_lr(repo, "0.1")
    commit_all(repo, "lr 0.1 without dvc repro")
    err = refused(gate, repo, "v2")
    assert "not up to date" in err
    assert "dvc repro" in err
    assert "train" in err  # the stage whose params changed


def test_refuses_an_out_that_no_stage_produces(repo: Path, gate: Gate) -> None:
    err = refused(gate, repo, "v2", "--out", "src/train.py")
    assert "src/train.py" in err
    assert "not an output recorded in dvc.lock" in err


def test_refuses_to_rewrite_a_released_version(repo: Path, gate: Gate) -> None:
    err = refused(gate, repo, "v1")
    assert "publish/v1 already exists" in err


def test_version_outside_the_pattern_is_a_usage_error(repo: Path, gate: Gate) -> None:
    with writes_nothing(repo):
        code, out, err = gate("promote", "--repo", str(repo), "release-1")
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    assert err.startswith("promote-gate: error: "), err
    assert "'release-1'" in err
    assert "v{n}" in err  # the pattern it should have matched


# --------------------------------------------------------------------------- the happy path


def test_promote_after_repro_writes_the_bundle(promoted: Promotion) -> None:
    assert promoted.code == 0, promoted.err
    assert "Created publish/v2" in promoted.out
    bundle = promoted.repo / "publish" / "v2"
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["version"] == "v2"
    assert manifest["source"]["commit"] == promoted.source_commit
    assert [f["path"] for f in manifest["files"]] == ["model.json"]
    assert (bundle / "model.json").read_bytes() == (
        promoted.repo / "models/model.json"
    ).read_bytes()
    assert "lr: 0.1" in (bundle / "params.yaml").read_text()
    # the DVC-tracked model is git-ignored: `git add publish/v2` commits only its pointer
    untracked = git_status(promoted.repo).splitlines()
    assert "?? publish/v2/model.json.dvc" in untracked
    assert "!! publish/v2/model.json" in untracked


def test_dvc_accepts_the_pointer_promote_wrote(v2: Path) -> None:
    pointer = "publish/v2/model.json.dvc"
    assert json.loads(run(v2, "dvc", "status", "--json", pointer)) == {}
    # the content is in the DVC cache: a fresh checkout restores the exact bytes
    model = v2 / "publish" / "v2" / "model.json"
    expected = model.read_bytes()
    model.unlink()
    run(v2, "dvc", "checkout", "-q", pointer)
    assert model.read_bytes() == expected


def test_report_compares_metrics_with_v1(promoted: Promotion) -> None:
    report = (promoted.repo / "publish" / "v2" / "report.md").read_text()
    table = report.split("<!-- promote-gate:metrics -->", 1)[1].split(
        "<!-- /promote-gate:metrics -->"
    )[0]
    assert "| file | metric | value | vs v1 |" in table
    before = json.loads((promoted.repo / "publish" / "v1" / "metrics.json").read_text())
    after = json.loads((promoted.repo / "publish" / "v2" / "metrics.json").read_text())
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = cells[2:]
    old = before["eval/metrics.json"]["values"]
    new = after["eval/metrics.json"]["values"]
    assert set(rows) == set(new) == set(old)
    for key, (value, delta) in rows.items():
        assert json.loads(value) == new[key]
        assert delta.endswith(f"(was {json.dumps(old[key])})"), (key, delta)
    assert new["loss"] != old["loss"]  # lr changed the model: a real delta, not only "+0"
    assert not rows["loss"][1].startswith("+0 ")


def test_check_passes_once_v2_is_committed(v2: Path, gate: Gate) -> None:
    commit_all(v2, "Promote v2")
    for rev in ([], ["--rev", "HEAD"]):
        code, out, err = gate("check", "--repo", str(v2), *rev)
        assert code == 0, (rev, out, err)
        assert "promote-gate passed: 2 bundle(s)" in out


def test_sha256sum_accepts_the_bundle(promoted: Promotion) -> None:
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        pytest.skip("sha256sum (GNU coreutils) is not installed")
    bundle = promoted.repo / "publish" / "v2"
    proc = subprocess.run(
        [sha256sum, "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checked = {
        line.rsplit(": ", 1)[0] for line in proc.stdout.splitlines() if line.endswith(": OK")
    }
    assert checked == BUNDLE_FILES - {".gitignore", "model.json.dvc", "SHA256SUMS"}


# --------------------------------------------------------------------------- the version


def beside_v1(repo: Path, *names: str) -> None:
    """More bundles next to v1, copies of it (promote reads only their names)."""
    for name in names:
        shutil.copytree(repo / "publish/v1", repo / "publish" / name, symlinks=True)


def test_promote_without_a_version_takes_the_next_one(repo: Path, gate: Gate) -> None:
    code, out, err = gate("promote", "--repo", str(repo))
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "No version given: promoting v2, the next after v1.",
        "Created publish/v2. Review publish/v2/report.md, then:",
    ]
    # run from outside the repository (--repo): the commands name it
    assert f"git -C {repo} add publish/v2 && git -C {repo} commit -m 'Promote v2'" in out
    assert f"dvc --cd {os.path.relpath(repo)} push" in out
    manifest = json.loads((repo / "publish/v2/manifest.json").read_text())
    assert manifest["version"] == "v2"


def test_promote_without_a_version_follows_the_version_pattern(repo: Path, gate: Gate) -> None:
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + "version_pattern: model-{n}\n")
    commit_all(repo, "versions are model-<n>")
    code, out, err = gate("promote", "--repo", str(repo))
    assert code == 0, err
    assert out.startswith("No version given: promoting model-1, the first version.\n")
    manifest = json.loads((repo / "publish/model-1/manifest.json").read_text())
    assert manifest["version"] == "model-1"


@pytest.mark.parametrize(
    ("present", "version", "why"),
    [
        (("v2", "v3"), "v5", "version 5 skips 4"),
        (("v2", "v3"), "v9", "version 9 skips 8"),
        (("v3",), "v2", "version 2 does not sort after the newest released version 3"),
    ],
)
def test_promote_refuses_a_version_out_of_order(
    repo: Path, gate: Gate, present: tuple[str, ...], version: str, why: str
) -> None:
    beside_v1(repo, *present)
    err = refused(gate, repo, version)
    assert err.startswith(f"promote-gate: refused: PG502 version-order: {why} ")
    assert "(the newest bundle is v3)" in err
    assert err.rstrip().endswith("Promote the next version: promote-gate promote v4")


def test_promote_refuses_the_version_check_refuses_with_its_words(repo: Path, gate: Gate) -> None:
    """The user's report: `promote v3` after v1 wrote a bundle only `check` refused."""
    err = refused(gate, repo, "v3")
    # the same bundle, made by hand: check judges it with the same rule and words
    beside_v1(repo, "v3")
    manifest = repo / "publish/v3/manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "v3"}))
    code, doc = gate.json("check", "--repo", str(repo), "--bundle", "v3")
    assert code == 1
    (v3,) = doc["bundles"]
    (pg502,) = [r for r in v3["results"] if r["code"] == "PG502"]
    assert [f["message"] for f in pg502["findings"]] == ["version 3 skips 2"]
    assert "PG502 version-order: version 3 skips 2 " in err


def test_promote_quiet_says_only_what_it_created(repo: Path, gate: Gate) -> None:
    assert gate("promote", "--repo", str(repo), "-q") == (0, "Created publish/v2\n", "")
    assert gate("-qq", "promote", "--repo", str(repo)) == (0, "", "")
    assert (repo / "publish/v3/manifest.json").is_file()


def test_promote_verbose_says_what_it_read(repo: Path, gate: Gate) -> None:
    head = run(repo, "git", "rev-parse", "HEAD").strip()
    code, out, err = gate("promote", "--repo", str(repo), "v2", "-v")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == [
        "policy: .promote-gate.yaml (version pattern v{n})",
        f"source.commit: {head} (HEAD)",
    ]
    assert re.fullmatch(r"dvc status of prepare, train, evaluate: \d+\.\d\d s", lines[2])
    size = (repo / "models/model.json").stat().st_size
    assert lines[3:6] == [
        f"file: model.json from models/model.json (stage train, {size} bytes, stored in dvc)",
        "metrics: eval/metrics.json (stage evaluate)",
        "report compares with: v1",
    ]
    assert lines[6] == "Created publish/v2. Review publish/v2/report.md, then:"
    assert re.fullmatch(r"promote-gate: promote took \d+\.\d\d s\n", err)


def test_a_param_holding_a_pipe_reads_back_from_its_own_report(repo: Path, gate: Gate) -> None:
    """A value with `|` and backticks: the report's table escapes the pipe (GFM) and the
    bundle promote writes passes its own check (PG304 read the escape as part of the value)."""
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("  seed: 7\n", '  seed: 7\n  note: "a|b `c`"\n'))
    dvc_yaml = repo / "dvc.yaml"
    old = "params: [prepare.split, prepare.seed]"
    dvc_yaml.write_text(dvc_yaml.read_text().replace(old, old[:-1] + ", prepare.note]"))
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "prepare takes a note")
    code, _, err = gate("promote", "v2", "--repo", str(repo))
    assert code == 0, err
    commit_all(repo, "Promote v2")
    assert (
        '| `params.yaml` | `prepare.note` | "a\\|b `c`" |'
        in (repo / "publish/v2/report.md").read_text()
    )
    code, out, _ = gate("check", "--repo", str(repo), "--rev", "HEAD")
    assert code == 0, out
