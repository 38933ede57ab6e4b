"""A monorepo: one git repository, three DVC projects made with ``dvc init --subdir``.

``a`` and ``b`` have released v1 (promoted, committed, pushed to a bare origin, their data
to the DVC remote beside the repository); ``c`` has a pipeline and no bundle yet. The gate
judges every project's bundles with paths named from the top of the repository, through
``check``, the real pre-push hook and ``promote-gate ci`` as the templates run it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import Gate, commit_all, pinned_env, run  # type: ignore[import-not-found, unused-ignore]
from scenario import Verdict, github_pr  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.demo import REMOTE, build_project
from promote_gate.commands.promote import promote

PROJECTS = ("a", "b", "c")


@pytest.fixture(scope="session")
def mono_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("mono")
    with pinned_env(tmp_path_factory.mktemp("monohome")):
        work = top / "work"
        work.mkdir()
        run(work, "git", "init", "-q", "-b", "main")
        (work / "README.md").write_text("three DVC projects\n")
        commit_all(work, "init")
        for name in PROJECTS:
            build_project(work / name, subdir=True)
        for name in ("a", "b"):
            promote(str(work / name), "v1", [])
            run(work / name, "dvc", "push", "-q")
        commit_all(work, "Promote a/v1 and b/v1")
        run(top, "git", "init", "-q", "--bare", "origin.git")
        run(work, "git", "remote", "add", "origin", str(top / "origin.git"))
        run(work, "git", "push", "-q", "origin", "main")
    return top


@pytest.fixture
def mono(mono_template: Path, tmp_path: Path) -> Path:
    """A private copy: work tree, bare origin, DVC remote (``dvc-remote`` beside them)."""
    top = tmp_path / "mono"
    shutil.copytree(mono_template, top, symlinks=True)
    assert (top / REMOTE).is_dir()
    run(top / "work", "git", "remote", "set-url", "origin", str(top / "origin.git"))
    return top / "work"


def _bundles(doc: dict[str, object]) -> dict[str, str]:
    bundles = doc["bundles"]
    assert isinstance(bundles, list)
    return {
        b["path"]: "failed" if any(r["status"] == "failed" for r in b["results"]) else "passed"
        for b in bundles
    }


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_check_at_the_top_judges_every_project_with_top_level_paths(
    mono: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = gate.json("check", "--repo", str(mono))
    assert code == 0, doc
    assert _bundles(doc) == {"a/publish/v1": "passed", "b/publish/v1": "passed"}

    _edit(mono / "b/publish/v1/report.md", "| `train.lr` | 0.05 |", "| `train.lr` | 0.01 |")
    code, doc = gate.json("check", "--repo", str(mono))
    assert code == 1
    assert _bundles(doc) == {"a/publish/v1": "passed", "b/publish/v1": "failed"}
    paths = {
        f["path"]
        for b in doc["bundles"]
        for r in b["results"]
        for f in r["findings"]
        if r["code"] == "PG304"
    }
    assert paths == {"b/publish/v1/report.md"}

    # inside a project, as DVC does, only that project; --project names one explicitly
    monkeypatch.chdir(mono / "a")
    code, doc = gate.json("check")
    assert (code, list(_bundles(doc))) == (0, ["a/publish/v1"])
    monkeypatch.chdir(mono)
    code, doc = gate.json("check", "--project", "b")
    assert (code, list(_bundles(doc))) == (1, ["b/publish/v1"])

    # diff reviews one project's releases: at the top it says which projects there are
    for argv in ((), ("HEAD~1", "v1")):  # never a bare "no dvc.yaml in the commit"
        code, _, err = gate("diff", *argv)
        assert code == 2
        assert "the repository holds the DVC projects a, b, c" in err
        assert "--project DIR" in err
    code, out, _ = gate("diff", "HEAD~1", "v1", "--project", "a")
    assert code == 0, out
    assert "promote-gate diff commit" in out


def test_promote_works_in_a_project_and_refuses_at_a_top_that_is_none(
    mono: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = gate("promote", "v1", "--repo", str(mono))
    assert code == 1
    assert "holds the DVC projects a, b, c" in err
    assert "--project" in err

    monkeypatch.chdir(mono / "c")
    code, _, err = gate("promote", "v1")
    assert code == 0, err
    assert (mono / "c/publish/v1/manifest.json").is_file()
    assert not (mono / "publish").exists()
    manifest = json.loads((mono / "c/publish/v1/manifest.json").read_text())
    assert manifest["source"]["dvc_lock"] == "dvc.lock"  # project-relative, as DVC names it


def _push(work: Path) -> Verdict:
    proc = subprocess.run(
        ["git", "push", "origin", "main"], cwd=work, capture_output=True, text=True, check=False
    )
    code = 0 if proc.returncode == 0 else (1 if "push refused" in proc.stderr else 2)
    return Verdict(code, proc.stdout, proc.stderr)


def test_pre_push_hook_gates_every_project(mono: Path, gate: Gate) -> None:
    code, _, err = gate("install", "--repo", str(mono), "--hook-type", "pre-push")
    assert code == 0, err

    (mono / "c/src/NOTES.md").write_text("a change to no bundle\n")
    commit_all(mono, "notes")
    verdict = _push(mono)
    assert verdict.code == 0, verdict.text
    assert "no bundle changed: passed" in verdict.err

    promote(str(mono / "c"), "v1", [])
    run(mono / "c", "dvc", "push", "-q")
    commit_all(mono, "Promote c/v1")
    verdict = _push(mono)
    assert verdict.code == 0, verdict.text
    assert "c/publish/v1" in verdict.err

    _edit(mono / "b/publish/v1/report.md", "| `train.lr` | 0.05 |", "| `train.lr` | 0.01 |")
    commit_all(mono, "edit b's released report")
    verdict = _push(mono)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG106", "PG304", "PG501"}
    assert "b/publish/v1/report.md" in verdict.err
    assert "FAIL b/publish/v1" in verdict.err
    assert "ok   a/publish/v1" in verdict.err


def test_ci_gates_every_project_and_names_each_bundle_in_junit(
    mono: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scenario import World  # type: ignore[import-not-found, unused-ignore]

    world = World(mono.parent)
    run(mono, "git", "checkout", "-q", "-b", "tamper")
    _edit(mono / "a/publish/v1/params.yaml", "lr: 0.05", "lr: 0.02")
    # the subproject's own policy, relaxed by the change itself, does not apply
    (mono / "a/.promote-gate.yaml").write_text("ignore: [PG3, PG5, PG1]\noutputs: [x]\n")
    head = commit_all(mono, "tamper with a's params")
    run(mono, "git", "push", "-q", "origin", "tamper")

    verdict = github_pr(world, gate, monkeypatch, tmp_path, "tamper", head, "--junit-xml", "j.xml")
    assert verdict.code == 1, verdict.text
    assert {"PG302", "PG501"} <= verdict.failed
    import xml.etree.ElementTree as ET

    suites = ET.parse(tmp_path / "ws" / "j.xml").getroot()
    names = {s.get("name") for s in suites.iter("testsuite")}
    assert {"promote-gate:a/publish/v1", "promote-gate:b/publish/v1"} <= names
    failing = {s.get("name") for s in suites.iter("testsuite") if int(s.get("failures") or 0) > 0}
    assert failing == {"promote-gate:a/publish/v1"}


def test_a_rule_that_cannot_run_points_at_its_projects_file(
    mono: Path, gate: Gate, tmp_path: Path
) -> None:
    """b's dvc.yaml broken: the error is shown on b/dvc.yaml (a repository path), not on the
    top's dvc.yaml, in JUnit and SARIF alike."""
    import xml.etree.ElementTree as ET

    (mono / "b" / "dvc.yaml").write_text("stages: [not, a, mapping\n")
    commit_all(mono, "break b's dvc.yaml")
    junit, sarif = tmp_path / "j.xml", tmp_path / "r.sarif"
    code, _, _ = gate(
        "check",
        "--repo",
        str(mono),
        "--rev",
        "HEAD",
        "--junit-xml",
        str(junit),
        "--sarif",
        str(sarif),
    )
    assert code == 2
    errors = [c for c in ET.parse(junit).getroot().iter("testcase") if c.find("error") is not None]
    assert errors
    assert {c.get("file") for c in errors} == {"b/dvc.yaml"}
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in results
        if "could not run" in r["message"]["text"]
    }
    assert uris == {"b/dvc.yaml"}
    # and the text names the same file, as a reader at the top opens it
    messages = [c.find("error").get("message", "") for c in errors]  # type: ignore[union-attr]
    assert all("b/dvc.yaml" in m for m in messages), messages


def test_promote_from_the_top_prints_commands_that_work_there(
    mono: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`promote --project c` at the top: the paths and commands it prints are the top's, and
    running them as printed stages the bundle and pushes its data."""
    monkeypatch.chdir(mono)
    code, out, err = gate("promote", "--project", "c")
    assert code == 0, err
    assert "Created c/publish/v1. Review c/publish/v1/report.md" in out
    add, push = (line.strip() for line in out.splitlines()[-2:])
    assert add == "git add c/publish/v1 && git commit -m 'Promote v1'"
    assert push.startswith("dvc --cd c push")
    subprocess.run(add, shell=True, cwd=mono, check=True, capture_output=True)  # noqa: S602 as printed
    assert "c/publish/v1/manifest.json" in run(mono, "git", "show", "--name-only", "HEAD")
    pushed = subprocess.run(push, shell=True, cwd=mono, capture_output=True, text=True, check=False)  # noqa: S602
    assert pushed.returncode == 0, pushed.stderr
    # inside the project, the same commands as typed there
    monkeypatch.chdir(mono / "c" / "src")
    code, out, err = gate("promote")
    assert code == 0, err
    assert "Created c/publish/v2" in out
    assert "git add ../publish/v2 && git commit -m 'Promote v2'" in out
    assert "  dvc push" in out


def test_at_the_top_the_text_names_top_level_files_and_commands(
    mono: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data of a not pulled, a's params.yaml broken: what the report says to run works at the
    top, and the file it says is broken is the one a reader opens from there."""
    (mono / "a/data/raw.csv").unlink()
    shutil.rmtree(mono / "a/.dvc/cache")
    monkeypatch.chdir(mono)
    first = run(mono, "git", "rev-list", "--max-parents=0", "HEAD").strip()
    code, doc = gate.json("check", "--base", first)  # v1 a candidate: its pipeline judged
    (note,) = [n for n in doc["notes"] if n.startswith("not pulled")]
    assert "a/data/raw.csv" in note
    assert "run `dvc --cd a pull`" in note
    run(mono, "dvc", "--cd", "a", "pull", "-q")  # as the note says, at the top
    assert (mono / "a/data/raw.csv").is_file()

    (mono / "a/params.yaml").write_text("prepare:\n  split: [0.25\n")
    code, doc = gate.json("check", "--base", first)
    assert code == 2
    reasons = [r["reason"] for b in doc["bundles"] for r in b["results"] if r["status"] == "error"]
    assert reasons
    assert all("a/params.yaml is not valid YAML" in r for r in reasons), reasons


def test_a_hint_to_fetch_content_runs_in_its_project(mono: Path, gate: Gate) -> None:
    """a's content in neither its cache nor the remote (which answers: no such object): the
    command the finding gives, typed at the top, runs DVC in a (`dvc --cd a pull
    publish/v1/…`), the path DVC reads there."""
    shutil.rmtree(mono / "a/.dvc/cache")
    (mono / "a/publish/v1/model.json").unlink()
    md5 = yaml.safe_load((mono / "a/publish/v1/model.json.dvc").read_text())["outs"][0]["md5"]
    (mono.parent / REMOTE / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    _, doc = gate.json("check", "--repo", str(mono), "--rev", "HEAD", "--bundle", "a/publish/v1")
    said = json.dumps(doc)
    assert "run: dvc --cd a pull publish/v1/model.json" in said
    assert "run: dvc pull" not in said
