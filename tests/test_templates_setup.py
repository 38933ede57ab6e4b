"""The CI templates fail closed on their own set-up.

A change controls the checkout: it can commit a directory or a symlink by a report's name, so
that removing stale reports fails and the gate never runs while the steps and jobs that
publish reports still do. Here each template's set-up runs as its runner runs it, in a clone
of a real repository whose head commits such paths: the cleanup removes them (never what a
symlink points at) and the gate then runs and writes its own reports; the optional jobs read
only this run's artifact, downloaded outside the checkout, and run only when the gate job
uploaded one; a job whose gate did not run, or did not pass, fails. zizmor and shellcheck lint
the templates' scripts.

Installing: each template's own install step hands pip exactly the spec's words (files named
like their glob expansions lie where pip runs), from outside the checkout; the action makes a
virtual environment of its own, and with a distribution's externally managed Python (PEP 668,
as on GitHub's Ubuntu runners) it installs and runs the gate from there. The gate job keeps no
token in its checkout: with full history it needs none, and with less it fails closed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Run alone (`mypy tests/x.py`), mypy may not see tests/ as a root: the ignores must tolerate
# being unused in the suite-wide run.
from conftest import commit_all, run  # type: ignore[import-not-found, unused-ignore]
from test_templates import (  # type: ignore[import-not-found, unused-ignore]
    ACTION,
    ACTION_GATE,
    CODE_SCANNING_JOB,
    CODEQUALITY,
    COMMENT,
    COMMENT_JOB,
    DOWNLOADED,
    GATE_JOB,
    GATE_RAN,
    GITLAB,
    HOME,
    JUNIT,
    MARKER,
    ROOT,
    SARIF,
    TAG,
    VERDICT,
    VERSION,
    WORKFLOW,
    action_installed,
    action_step,
    bash,
    fake_gitlab,
    github_contexts,
    github_pr_env,
    github_steps,
    gitlab_mr_env,
    job_runs,
    load,
    no_outer_ci,
    run_comment_step,
    step_using,
    uploaded,
    workspace,
)

# the autouse fixture applies here too (no outer CI variable leaks), and the workspace
__all__ = ["no_outer_ci", "workspace"]

CLEANUP = "Start without report files"  # the step's name, in the workflow and the action
INSTALL = "Install promote-gate"
ALWAYS_RUN = "${{ always() }}"
FORGED = f"{MARKER}\n## promote-gate: passed\nforged by the change\n"
REPORTS = (JUNIT, SARIF, COMMENT, CODEQUALITY, VERDICT)


@pytest.fixture
def hostile(repo: Path, tmp_path: Path) -> tuple[Path, str, str, Path]:
    """A full clone of an origin at a pull request's head that commits, by the reports'
    names, a directory, a symlink to a file outside the checkout, a symlink to a directory
    outside it and a forged report. Returns (workspace, base, head, outside)."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret").write_text("not the gate's\n")
    (outside / "dir" / "kept").write_text("kept\n")
    bare = tmp_path / "origin.git"
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    run(repo, "git", "remote", "add", "origin", bare.as_uri())
    run(repo, "git", "push", "-q", "origin", "main")
    base = run(repo, "git", "rev-parse", "main").strip()
    run(repo, "git", "checkout", "-q", "-b", "docs")
    (repo / "README.md").write_text("Models, released as publish/vN.\n")
    (repo / COMMENT).mkdir()
    (repo / COMMENT / "body.md").write_text(FORGED)
    (repo / SARIF).symlink_to(outside / "secret")
    (repo / CODEQUALITY).symlink_to(outside / "dir")
    (repo / JUNIT).write_text('<testsuites tests="1" failures="0"/>\n')
    (repo / VERDICT).write_text('{"predicate": {"result": "PASSED"}, "subject": []}\n')
    head = commit_all(repo, "Document the releases")
    run(repo, "git", "push", "-q", "origin", "docs")
    ws = tmp_path / "ws"
    run(tmp_path, "git", "clone", "-q", "--branch", "docs", bare.as_uri(), str(ws))
    assert (ws / COMMENT).is_dir()
    assert (ws / SARIF).is_symlink()
    assert (ws / CODEQUALITY).is_symlink()
    return ws, base, head, outside


def assert_outside_intact(outside: Path) -> None:
    """What the committed symlinks point at was neither removed nor written."""
    assert (outside / "secret").read_text() == "not the gate's\n"
    assert sorted(p.name for p in (outside / "dir").iterdir()) == ["kept"]
    assert (outside / "dir" / "kept").read_text() == "kept\n"


def assert_removed(ws: Path, outside: Path, names: tuple[str, ...]) -> None:
    """None of ``names`` is left in the checkout, and nothing a symlink named was touched."""
    assert [name for name in names if os.path.lexists(ws / name)] == []
    assert_outside_intact(outside)


def assert_gate_wrote(ws: Path, names: tuple[str, ...]) -> None:
    """Each report is a regular file the gate wrote in this run (not what was committed)."""
    for name in names:
        path = ws / name
        assert path.is_file(), f"{name} was not written"
        assert not path.is_symlink(), name
    if COMMENT in names:
        body = (ws / COMMENT).read_text()
        assert body.startswith(f"{MARKER}\n")
        assert "forged" not in body
    if SARIF in names:
        assert json.loads((ws / SARIF).read_text())["version"] == "2.1.0"
    if JUNIT in names:
        assert "promote-gate:publish/v1" in (ws / JUNIT).read_text()
    if VERDICT in names:
        subjects = json.loads((ws / VERDICT).read_text())["subject"]
        assert "publish/v1/model.json" in {s["name"] for s in subjects}


def named(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (step,) = [s for s in steps if s.get("name") == name]
    return step


def fake_python(tmp_path: Path, name: str, *, exit_code: int = 0) -> tuple[Path, Path]:
    """A stand-in for the `python` that installs promote-gate (pip would need the network):
    it records which python ran, its argv and its working directory; asked for a virtual
    environment (`-m venv DIR`), it makes DIR/bin/python, a stand-in like itself. Returns
    (its directory, its log)."""
    bin_dir = tmp_path / f"fake-{name}"
    bin_dir.mkdir()
    log = tmp_path / f"{name}-calls.jsonl"
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, shutil, sys\n"
        "argv = sys.argv[1:]\n"
        f"with open({str(log)!r}, 'a', encoding='utf-8') as f:\n"
        "    python = os.path.abspath(sys.argv[0])\n"
        "    f.write(json.dumps({'python': python, 'argv': argv, 'cwd': os.getcwd()}) + '\\n')\n"
        "if argv[argv.index('-m') + 1 :][:1] == ['venv'] if '-m' in argv else False:\n"
        "    os.makedirs(os.path.join(argv[-1], 'bin'), exist_ok=True)\n"
        "    shutil.copy(__file__, os.path.join(argv[-1], 'bin', 'python'))\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return bin_dir, log


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def on_path(bin_dir: Path) -> dict[str, str]:
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


# --------------------------------------------------------------------------- stale reports


def test_github_cleanup_removes_what_the_change_committed_and_the_gate_runs(
    hostile: tuple[Path, str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head, outside = hostile
    github_pr_env(monkeypatch, tmp_path, base, head)
    steps = github_steps(load(WORKFLOW))
    cleanup, install = named(steps, CLEANUP), named(steps, INSTALL)
    assert steps.index(cleanup) < steps.index(install)

    proc = bash(cleanup["run"], ws)
    assert proc.returncode == 0, proc.stderr  # `rm -f` stops here on the directory
    assert_removed(ws, outside, (JUNIT, SARIF, COMMENT, VERDICT))

    (gate,) = [s for s in steps if s.get("id") == "gate"]
    assert steps.index(install) < steps.index(gate)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    proc = bash(gate["run"], ws, {"RUNNER_TEMP": str(runner_temp)})
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert (runner_temp / "promote-gate.exit").read_text() == "0\n"
    published = tuple(uploaded(step_using(steps, "actions/upload-artifact")))
    assert set(published) == {JUNIT, SARIF, COMMENT, VERDICT}
    # no bundle is being released: no verdict to attest, and never the one the change committed
    assert not os.path.lexists(ws / VERDICT)
    assert_gate_wrote(ws, tuple(p for p in published if p != VERDICT))


def test_action_cleanup_removes_what_the_change_committed_and_the_gate_runs(
    hostile: tuple[Path, str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head, outside = hostile
    github_pr_env(monkeypatch, tmp_path, base, head)
    output = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    doc = load(ACTION)
    steps = doc["runs"]["steps"]
    names = [s["name"] for s in steps]
    assert names.index(CLEANUP) < names.index(INSTALL) < names.index("promote-gate")
    inputs = {"comment": COMMENT}

    script, env = action_step(doc, inputs, CLEANUP)
    proc = bash(script, ws, env)
    assert proc.returncode == 0, proc.stderr
    assert_removed(ws, outside, (JUNIT, SARIF, COMMENT))

    script, env = action_step(doc, inputs)
    proc = bash(script, ws, env | action_installed(tmp_path))
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert output.read_text() == "exit-code=0\n"
    assert_gate_wrote(ws, (JUNIT, SARIF, COMMENT))


def gitlab_job(job: dict[str, Any]) -> str:
    """before_script and script, as GitLab runs them: one shell, in order."""
    return "\n".join(str(item) for item in [*job.get("before_script", []), *job["script"]])


def run_gitlab_job(
    job: dict[str, Any], ws: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[subprocess.CompletedProcess[str]]]:
    """The job as the runner runs it: before_script and script in one shell, then each
    after_script in a shell of its own (whose status never changes the job's)."""
    main = bash(gitlab_job(job), ws, env)
    after = [bash(str(script), ws, env) for script in job.get("after_script", [])]
    return main, after


def test_gitlab_cleanup_removes_what_the_change_committed_and_the_gate_runs(
    hostile: tuple[Path, str, str, Path], tmp_path: Path
) -> None:
    """The whole job, note switched on: the stale paths go, pip is asked (outside the
    checkout) for exactly the spec, the gate runs and the note posted is its comment."""
    ws, base, head, outside = hostile
    (ws / "dvcs").write_text("a name `dvc[s3]` would match as a glob\n")
    job = load(GITLAB)["promote-gate"]
    bin_dir, log = fake_python(tmp_path, "python")
    env = gitlab_mr_env(job, base, head) | on_path(bin_dir)
    env |= {"PROMOTE_GATE_SPEC": "promote-gate[dvc] dvc[s3]", "PROMOTE_GATE_MR_NOTE": "true"}
    env |= {"CI_PROJECT_ID": "5", "CI_MERGE_REQUEST_IID": "7"}
    env |= {"PROMOTE_GATE_NOTE_TOKEN": "glpat-fake"}
    with fake_gitlab([[]]) as (api, requests):
        main, _ = run_gitlab_job(job, ws, env | {"CI_API_V4_URL": api})
    assert main.returncode == 0, (main.stdout, main.stderr)
    (pip,) = calls(log)
    assert pip["argv"] == ["-I", "-m", "pip", "install", "promote-gate[dvc]", "dvc[s3]"]
    assert Path(pip["cwd"]).resolve() != ws.resolve()
    assert_gate_wrote(ws, (JUNIT, CODEQUALITY, COMMENT))
    assert_outside_intact(outside)
    (posted,) = [body for method, _, _, body in requests if method == "POST"]
    assert posted == {"body": (ws / COMMENT).read_text()}


# --------------------------------------------------------------------------- installing


# The spellings the templates document, and two that split: words with glob characters
# (`[dvc]`, `[s3]`), runs of spaces, tabs and lines. Each must reach pip word for word.
SPECS = {
    "pypi": f"promote-gate=={VERSION}",
    "git": f"promote-gate@git+{HOME}@{TAG}",
    "git-dvc-s3": f"promote-gate[dvc]@git+{HOME}@{TAG}  dvc[s3]",
    "lines-and-tabs": f"promote-gate[dvc]=={VERSION}\ndvc[s3]\tdvc[gs] ",
}


def default_spec(template: Path) -> str:
    """The PROMOTE_GATE_SPEC a template ships with."""
    doc = load(template)
    if template == WORKFLOW:
        return str(doc["jobs"][GATE_JOB]["env"]["PROMOTE_GATE_SPEC"])
    return str(doc["promote-gate"]["variables"]["PROMOTE_GATE_SPEC"])


def plant_glob_matches(where: Path, words: list[str]) -> list[str]:
    """Files in ``where`` that each glob-like word would match if the shell expanded it
    (`promote-gate[dvc]` matches `promote-gated`; the git URL, a path through directories),
    and `promote-gated` and `dvcs` whatever the words. Returns what was planted."""
    names = {"promote-gated", "dvcs"}
    names |= {re.sub(r"\[(.)[^\]]*\]", r"\1", w) for w in words if "[" in w}
    for name in names:
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a name the spec would match as a glob\n")
    return sorted(names)


def globbed(spec: str, where: Path) -> list[str]:
    """What an unquoted, globbing shell would make of ``spec`` in ``where``: the control
    showing the planted files would catch a glob."""
    proc = bash('printf "%s\\n" $PROMOTE_GATE_SPEC', where, {"PROMOTE_GATE_SPEC": spec})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def gitlab_install(job: dict[str, Any]) -> str:
    """The before_script item that installs promote-gate."""
    (item,) = [str(i) for i in job["before_script"] if "pip install" in str(i)]
    return item


@pytest.mark.parametrize("spec", ["default", *SPECS])
@pytest.mark.parametrize("template", ["github", "gitlab-bash", "gitlab-sh"])
def test_install_hands_pip_exactly_the_spec_words(tmp_path: Path, template: str, spec: str) -> None:
    """The template's own install step, pip replaced by a recorder: files named like every
    word's glob expansion sit where pip runs and in the checkout, and pip is still asked for
    exactly the spec's words, from outside the checkout, with `-I`."""
    path = WORKFLOW if template == "github" else GITLAB
    text = default_spec(path) if spec == "default" else SPECS[spec]
    words = text.split()
    checkout, pip_cwd = tmp_path / "checkout", tmp_path / "pip-cwd"
    checkout.mkdir()
    pip_cwd.mkdir()
    for where in (checkout, pip_cwd):
        planted = plant_glob_matches(where, words)
    if any("[" in w for w in words):  # the planted names are what a glob would have taken
        assert globbed(text, pip_cwd) != words
        assert set(globbed(text, pip_cwd)) & set(planted)
    bin_dir, log = fake_python(tmp_path, "python")
    env = on_path(bin_dir) | {"PROMOTE_GATE_SPEC": text}
    if template == "github":
        script = named(github_steps(load(WORKFLOW)), INSTALL)["run"]
        proc = bash(script, checkout, env | {"RUNNER_TEMP": str(pip_cwd)})
    else:
        # GitLab installs in `mktemp -d`, empty: a stand-in hands it the planted directory
        (bin_dir / "mktemp").write_text(f"#!/bin/sh\necho '{pip_cwd}'\n")
        (bin_dir / "mktemp").chmod(0o755)
        script = gitlab_install(load(GITLAB)["promote-gate"])
        shell = (
            ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
            if template == "gitlab-bash"
            else ["sh", "-e"]
        )
        proc = subprocess.run(
            [*shell, "-c", script],
            cwd=checkout,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    (pip,) = calls(log)
    assert pip["argv"] == ["-I", "-m", "pip", "install", *words]
    assert pip["cwd"] == str(pip_cwd)


@pytest.mark.parametrize("packages", ["", "dvc[s3]", "dvc[s3]\ndvc-gs", " dvc[s3]\tdvc[gs]  "])
def test_action_installs_into_its_own_venv_exactly_the_packages_words(
    tmp_path: Path, packages: str
) -> None:
    """The action's install step, python replaced by a recorder: a virtual environment of its
    own in the runner's temporary directory (never pip into the runner's system Python, which
    refuses it: PEP 668), then that environment's pip asked for this revision of the action
    and exactly the `packages` words, from outside the checkout, with `-I`."""
    doc = load(ACTION)
    runner_temp, checkout = tmp_path / "runner-temp", tmp_path / "checkout"
    runner_temp.mkdir()
    checkout.mkdir()
    words = packages.split()
    for where in (runner_temp, checkout):
        plant_glob_matches(where, words)
    bin_dir, log = fake_python(tmp_path, "python3")
    script, env = action_step(doc, {"packages": packages}, INSTALL)
    env |= on_path(bin_dir) | {"GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(runner_temp)}
    proc = bash(script, checkout, env)
    assert proc.returncode == 0, proc.stderr
    venv = runner_temp / "promote-gate-venv"
    create, install = calls(log)
    assert create["python"] == str(bin_dir / "python3")  # the runner's python3, only to make it
    assert create["argv"] == ["-I", "-m", "venv", "--clear", "promote-gate-venv"]
    assert create["cwd"] == str(runner_temp)
    assert install["python"] == str(venv / "bin" / "python")
    assert install["argv"] == ["-I", "-m", "pip", "install", str(ROOT), *words]
    assert install["cwd"] == str(runner_temp)
    # and the gate step runs what that environment installed
    (gate,) = [s for s in doc["runs"]["steps"] if s.get("id") == "gate"]
    assert f'"{ACTION_GATE}" ci ' in gate["run"]


# --------------------------------------------------------------------------- the gate ran


def test_github_gate_job_is_never_skipped_and_checks_the_gate_ran() -> None:
    doc = load(WORKFLOW)
    job = doc["jobs"][GATE_JOB]
    assert "if" not in job  # a skipped job would satisfy a required check
    steps = github_steps(doc)
    assert [s.get("name") for s in steps if "continue-on-error" in s] == []
    guard = steps[-1]
    assert guard["if"] == ALWAYS_RUN  # after a failed set-up too
    (gate,) = [s for s in steps if s.get("id") == "gate"]
    # the gate step records its exit status where the change cannot write (the runner's
    # temporary directory), and the guard reads it from there
    assert 'echo "$status" > "$RUNNER_TEMP/promote-gate.exit"' in gate["run"]
    assert 'marker="$RUNNER_TEMP/promote-gate.exit"' in guard["run"]


@pytest.mark.parametrize(
    ("marker", "passes"),
    [
        (None, False),  # the gate step never ran (a failed install, a skipped step)
        ("0\n", True),
        ("1\n", False),
        ("2\n", False),
        ("", False),
        ("symlink", False),  # not written by the gate step, which writes a file
    ],
    ids=["absent", "passed", "violations", "could-not-evaluate", "empty", "symlink"],
)
def test_github_guard_fails_unless_the_gate_ran_and_passed(
    tmp_path: Path, marker: str | None, passes: bool
) -> None:
    (guard,) = [s for s in github_steps(load(WORKFLOW)) if s.get("if") == ALWAYS_RUN]
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "promote-gate.exit").write_text("0\n")  # what a change can commit: no say
    if marker == "symlink":
        (runner_temp / "promote-gate.exit").symlink_to(checkout / "promote-gate.exit")
    elif marker is not None:
        (runner_temp / "promote-gate.exit").write_text(marker)
    proc = bash(guard["run"], checkout, {"RUNNER_TEMP": str(runner_temp)})
    assert (proc.returncode == 0) == passes, (proc.stdout, proc.stderr)
    if not passes:
        assert "::error title=promote-gate::" in proc.stdout


def test_github_gate_step_records_a_gate_that_could_not_evaluate(tmp_path: Path) -> None:
    """The real gate, where it cannot evaluate (no repository): the step fails with its exit
    status, records it, and the guard fails the job."""
    steps = github_steps(load(WORKFLOW))
    (gate,) = [s for s in steps if s.get("id") == "gate"]
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    not_a_repo = tmp_path / "not-a-repo"
    not_a_repo.mkdir()
    env = {"RUNNER_TEMP": str(runner_temp)}
    proc = bash(gate["run"], not_a_repo, env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert (runner_temp / "promote-gate.exit").read_text() == "2\n"
    proc = bash(steps[-1]["run"], not_a_repo, env)
    assert proc.returncode == 1
    assert "the gate exited 2" in proc.stdout


@pytest.mark.parametrize(
    ("gate_exit", "expected"),
    [(None, 1), ("0", 0), ("1", 1), ("2", 2)],
    ids=["did-not-run", "passed", "violations", "could-not-evaluate"],
)
def test_gitlab_job_fails_unless_the_gate_ran_and_passed(
    tmp_path: Path, gate_exit: str | None, expected: int
) -> None:
    job = load(GITLAB)["promote-gate"]
    last = str(job["script"][-1])
    env = {} if gate_exit is None else {"gate_exit": gate_exit}
    proc = bash(last, tmp_path, env)
    assert proc.returncode == expected, (proc.stdout, proc.stderr)
    if gate_exit is None:
        assert "the gate did not run" in proc.stdout


def test_gitlab_failed_set_up_fails_the_job_and_posts_nothing(
    hostile: tuple[Path, str, str, Path], tmp_path: Path
) -> None:
    """pip fails: the job fails, the gate never runs, and no note is posted (not even the
    one a change could leave by the comment's name)."""
    ws, base, head, outside = hostile
    job = load(GITLAB)["promote-gate"]
    bin_dir, log = fake_python(tmp_path, "python", exit_code=1)
    env = gitlab_mr_env(job, base, head) | on_path(bin_dir) | {"PROMOTE_GATE_MR_NOTE": "true"}
    env |= {"CI_PROJECT_ID": "5", "CI_MERGE_REQUEST_IID": "7"}
    env |= {"PROMOTE_GATE_NOTE_TOKEN": "glpat-fake"}
    with fake_gitlab([[]]) as (api, requests):
        main, _ = run_gitlab_job(job, ws, env | {"CI_API_V4_URL": api})
    assert main.returncode != 0
    assert len(calls(log)) == 1
    assert requests == []
    # nothing for the artifacts to publish either
    assert_removed(ws, outside, (JUNIT, CODEQUALITY, COMMENT, VERDICT))


# --------------------------------------------------------------------------- this run's reports


def test_github_optional_jobs_read_only_this_runs_artifact() -> None:
    """Each optional job downloads the gate job's artifact of this run (no run-id, no token)
    into the runner's temporary directory, and reads a report nowhere else."""
    doc = load(WORKFLOW)
    gate_steps = github_steps(doc)
    upload = step_using(gate_steps, "actions/upload-artifact")
    assert upload["id"] == "upload"
    assert upload["if"] == GATE_RAN  # only what the gate step, run after the cleanup, wrote
    outputs = doc["jobs"][GATE_JOB]["outputs"]
    assert outputs == {"reports": "${{ steps.upload.outputs.artifact-id }}"}
    for name in (CODE_SCANNING_JOB, COMMENT_JOB):
        job = doc["jobs"][name]
        assert "needs.promote-gate.outputs.reports != ''" in job["if"]
        steps = github_steps(doc, name)
        download = step_using(steps, "actions/download-artifact")
        assert download["with"] == {"name": upload["with"]["name"], "path": DOWNLOADED}
        assert DOWNLOADED.startswith("${{ runner.temp }}/")  # outside the workspace
        assert "continue-on-error" not in download
        for step in steps:
            texts = [str(step.get("run", ""))]
            texts += [str(v) for v in step.get("with", {}).values()]
            texts += [str(v) for v in step.get("env", {}).values()]
            for text in texts:
                for report in REPORTS:
                    for found in re.finditer(re.escape(report), text):
                        before = text[: found.start()]
                        assert before.endswith("promote-gate-reports/"), (name, text)
                        assert steps.index(download) < steps.index(step), (name, text)


@pytest.mark.parametrize("gate_failed", [False, True], ids=["gate-passed", "gate-failed"])
def test_github_optional_jobs_do_not_run_without_an_artifact(gate_failed: bool) -> None:
    jobs = load(WORKFLOW)["jobs"]
    for artifact in (True, False):
        contexts = github_contexts("pull_request", switches=True, artifact=artifact)
        runs = [
            job_runs(jobs[name], contexts, gate_failed=gate_failed, cancelled=False)
            for name in (CODE_SCANNING_JOB, COMMENT_JOB)
        ]
        assert runs == [artifact, artifact]


def test_github_code_scanning_never_uploads_a_committed_sarif(repo: Path, tmp_path: Path) -> None:
    """A SARIF report the change committed, of a run that evaluated, in the checkout: the job
    reads only the artifact's copy (absent here), so nothing is uploaded."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    (guard,) = [s for s in github_steps(load(WORKFLOW), CODE_SCANNING_JOB) if s.get("id")]
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    argv = [sys.executable, "-m", "promote_gate", "check", "--repo", str(repo)]
    proc = subprocess.run(
        [*argv, "--sarif", str(checkout / SARIF)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    output = tmp_path / "github-output"
    env = {"GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(runner_temp)}
    ran = bash(guard["run"], checkout, env)
    assert ran.returncode == 0, ran.stderr
    assert output.read_text() == "ok=false\n"


def test_github_comment_never_posts_a_committed_comment(tmp_path: Path) -> None:
    proc, posted = run_comment_step(tmp_path, [[]], body=None, committed=FORGED)
    assert proc.returncode == 0, proc.stderr
    assert posted == []


# --------------------------------------------------------------------------- linters


def run_scripts(template: Path) -> list[tuple[str, str]]:
    """Every GitHub `run:` of the workflow or the action: (where, script)."""
    doc = load(template)
    if template == ACTION:
        steps = [("action", s) for s in doc["runs"]["steps"]]
    else:
        steps = [(job, s) for job in doc["jobs"] for s in github_steps(doc, job)]
    return [
        (f"{where}: {s.get('name', s.get('uses'))}", s["run"]) for where, s in steps if "run" in s
    ]


@pytest.mark.parametrize("template", [WORKFLOW, ACTION], ids=["workflow", "action"])
def test_no_expression_is_pasted_into_a_script(template: Path) -> None:
    """`${{ }}` in `run:` is expanded into the script's text before the shell reads it: a
    value with a quote or `$(...)` would run. Values reach scripts through `env:`."""
    pasted = [where for where, script in run_scripts(template) if "${{" in script]
    assert pasted == []


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' brings it)")
    return found


def shellcheck(shell: str, script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "script.sh"
    path.write_text(script + "\n")
    return subprocess.run(
        [tool("shellcheck"), "--shell", shell, "--norc", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_shellcheck_passes_every_template_script(tmp_path: Path) -> None:
    # the same shellcheck refuses what the templates once did: the check is not vacuous
    refused = shellcheck("bash", "python -I -m pip install $PROMOTE_GATE_SPEC", tmp_path)
    assert refused.returncode != 0, refused.stdout
    scripts = [(f"{t.name} {w}", "bash", s) for t in (WORKFLOW, ACTION) for w, s in run_scripts(t)]
    # GitLab runs before_script and script in one shell: sh where an image has no bash
    scripts.append((GITLAB.name, "sh", gitlab_job(load(GITLAB)["promote-gate"])))
    failures = []
    for where, shell, script in scripts:
        proc = shellcheck(shell, script, tmp_path)
        if proc.returncode != 0:
            failures.append(f"{where}:\n{proc.stdout}")
    assert failures == [], "\n".join(failures)


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    config = ROOT / "ci-templates" / "zizmor.yml"
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--config", str(config)]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        check=False,
    )


def test_zizmor_finds_nothing_in_the_workflow_and_the_action(tmp_path: Path) -> None:
    proc = zizmor(WORKFLOW, ACTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the same zizmor refuses an input pasted into a script: the check is not vacuous
    broken = tmp_path / "action.yml"
    broken.write_text(
        ACTION.read_text().replace(
            ' ci --junit-xml "$PROMOTE_GATE_JUNIT_XML"',
            ' ci ${{ inputs.args }} --junit-xml "$PROMOTE_GATE_JUNIT_XML"',
        )
    )
    assert broken.read_text() != ACTION.read_text()
    refused = zizmor(broken)
    assert refused.returncode != 0
    assert "template-injection" in refused.stdout + refused.stderr


# --------------------------------------------------------------------------- no credentials


@pytest.mark.parametrize("history", ["full", "shallow"])
def test_github_gate_needs_no_token_with_full_history(
    workspace: tuple[Path, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    history: str,
) -> None:
    """The gate job's checkout keeps no token (`persist-credentials: false`): a private
    origin then refuses every fetch the gate would make, stood in for here by an origin that
    cannot be reached at all. With the template's full history (`fetch-depth: 0`: every branch
    and the base) the gate needs none and passes; with less, it fails closed -- exit 2, and the
    job's last step fails -- never a comparison against less."""
    ws, base, head = workspace
    (checkout,) = [
        s for s in github_steps(load(WORKFLOW)) if "actions/checkout@" in s.get("uses", "")
    ]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    if history == "shallow":
        origin = run(ws, "git", "remote", "get-url", "origin").strip()
        shallow = tmp_path / "shallow"
        run(
            tmp_path, "git", "clone", "-q", "--depth", "1", "--branch", "docs", origin, str(shallow)
        )
        ws = shallow
    run(ws, "git", "remote", "set-url", "origin", str(tmp_path / "no-such-origin.git"))
    github_pr_env(monkeypatch, tmp_path, base, head)
    steps = github_steps(load(WORKFLOW))
    (gate,) = [s for s in steps if s.get("id") == "gate"]
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {"RUNNER_TEMP": str(runner_temp)}
    proc = bash(gate["run"], ws, env)
    guard = bash(steps[-1]["run"], ws, env)
    if history == "full":
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert "GitHub pull_request #1 into main" in proc.stdout
        assert guard.returncode == 0, guard.stdout
    else:
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        # the cause and the fix, not "origin has no default branch"
        assert "cannot be asked" in proc.stderr, proc.stderr
        assert "fetch-depth: 0" in proc.stderr
        assert (runner_temp / "promote-gate.exit").read_text() == "2\n"
        assert guard.returncode == 1
        assert "the gate exited 2" in guard.stdout


# --------------------------------------------------------------------------- the action's own venv

SYSTEM_PYTHON = Path("/usr/bin/python3")  # a distribution's Python, as on GitHub's Ubuntu runners


def externally_managed(python: Path) -> bool:
    """Whether ``python`` refuses `pip install` outside a virtual environment (PEP 668) and
    can make one."""
    if not python.exists():
        return False
    probe = (
        "import ensurepip, os, sysconfig, venv; "
        "print(os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))"
    )
    proc = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=False)
    return proc.stdout.strip() == "True"


@pytest.mark.slow
def test_action_installs_and_runs_with_an_externally_managed_python(
    workspace: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action on a runner whose `python3` is the distribution's (PEP 668, as on
    ubuntu-24.04): pip into it is refused, so the action makes its own environment under
    $RUNNER_TEMP, installs this revision there, and the gate step runs that promote-gate."""
    if not externally_managed(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is not an externally managed Python with venv here")
    if not (ROOT / "promote_gate").is_dir():  # the release workflow tests the wheel without it
        pytest.skip("the action installs the source tree, and this run removed it")
    bin_dir = tmp_path / "runner-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(SYSTEM_PYTHON)
    refused = subprocess.run(
        [bin_dir / "python3", "-I", "-m", "pip", "install", "--dry-run", "pyyaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stdout + refused.stderr
    ws, base, head = workspace
    github_pr_env(monkeypatch, tmp_path, base, head)
    # the action's checkout, as the runner makes it: a copy, so that pip's build stays there
    action = tmp_path / "action"
    shutil.copytree(
        ROOT,
        action,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", ".*_cache", "__pycache__", ".hypothesis", "*.egg-info", "build", "dist"
        ),
    )
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    output = tmp_path / "github-output"
    env = on_path(bin_dir) | {
        "GITHUB_ACTION_PATH": str(action),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
    }
    doc = load(ACTION)
    script, step_env = action_step(doc, {}, INSTALL)
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=ws,
        env={**os.environ, **step_env, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    venv = runner_temp / "promote-gate-venv"
    assert (venv / "bin" / "python").resolve() == SYSTEM_PYTHON.resolve()  # the runner's, in a venv
    version = subprocess.run(
        [venv / "bin" / "promote-gate", "--version"], capture_output=True, text=True, check=False
    )
    assert version.stdout.strip() == f"promote-gate {VERSION}"
    script, step_env = action_step(doc, {})
    proc = bash(script, ws, step_env | env)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert output.read_text() == "exit-code=0\n"
    assert (ws / JUNIT).is_file()
