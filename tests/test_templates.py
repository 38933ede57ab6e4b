"""The CI templates, the composite action and the pre-commit manifest.

Each is valid for its platform (check-jsonschema's vendored schemas, pre-commit's own
manifest check), has the properties the gate relies on (full history, reports uploaded even
when the gate fails, no allow_failure), and the commands it runs pass in a real repository
under the variables the platform sets.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Run alone (`mypy tests/x.py`), mypy may not see tests/ as a root: the ignore must tolerate
# being unused in the suite-wide run.
from conftest import (  # type: ignore[import-not-found, unused-ignore]
    SHARED_SCHEMAS,
    commit_all,
    run,
)

from promote_gate.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "ci-templates" / "github" / "promote-gate.yml"
ACTION = ROOT / "action.yml"
GITLAB = ROOT / "ci-templates" / "gitlab" / "promote-gate.gitlab-ci.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
JUNIT = "promote-gate-junit.xml"
CODEQUALITY = "gl-code-quality-report.json"
ALWAYS = "${{ !cancelled() }}"


@pytest.fixture(autouse=True)
def no_outer_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite may itself run in GitHub Actions or GitLab CI: their variables must not leak."""
    for key in list(os.environ):
        if key == "CI" or key.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_")):
            monkeypatch.delenv(key)


def load(path: Path) -> Any:
    """YAML 1.2, as GitHub and GitLab read it (`on:` is a key, not the boolean true)."""
    return load_yaml(path.read_bytes(), path.name)


def github_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = doc["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def step_using(steps: list[dict[str, Any]], action: str) -> dict[str, Any]:
    matches = [s for s in steps if str(s.get("uses", "")).startswith(f"{action}@")]
    assert len(matches) == 1, f"expected one {action} step, found {len(matches)}"
    return matches[0]


def gate_commands(lines: list[str]) -> list[str]:
    """The shell lines that run promote-gate itself (not `pip install promote-gate`)."""
    commands = [
        line.strip()
        for text in lines
        for line in text.splitlines()
        if line.strip() and shlex.split(line, comments=True)[:1] == ["promote-gate"]
    ]
    assert commands, "the template runs no promote-gate command"
    return commands


# --------------------------------------------------------------------------- schemas


def check_jsonschema(schema: str, instance: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", f"vendor.{schema}"]
    return subprocess.run(
        [*argv, str(instance)],
        capture_output=True,
        text=True,
        check=False,
    )


def _drop_runs_on(doc: dict[str, Any]) -> None:
    (job,) = doc["jobs"].values()
    del job["runs-on"]


def _drop_composite_shell(doc: dict[str, Any]) -> None:
    for step in doc["runs"]["steps"]:
        del step["shell"]


def _artifacts_sometimes(doc: dict[str, Any]) -> None:
    doc["promote-gate"]["artifacts"]["when"] = "sometimes"


SCHEMAS: list[tuple[str, Path, Callable[[dict[str, Any]], None]]] = [
    ("github-workflows", WORKFLOW, _drop_runs_on),
    ("github-actions", ACTION, _drop_composite_shell),
    ("gitlab-ci", GITLAB, _artifacts_sometimes),
]


@pytest.mark.parametrize(("schema", "path", "breakage"), SCHEMAS, ids=[s[0] for s in SCHEMAS])
def test_template_is_valid_for_its_platform(
    schema: str, path: Path, breakage: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    proc = check_jsonschema(schema, path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the same schema refuses a broken copy: the check above is not vacuous
    broken = load(path)
    breakage(broken)
    copy = tmp_path / f"broken-{path.stem}.json"
    copy.write_text(json.dumps(broken))
    refused = check_jsonschema(schema, copy)
    assert refused.returncode != 0, refused.stdout


def test_pre_commit_manifest_is_valid() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(HOOKS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- properties


def test_github_workflow_has_what_the_gate_needs() -> None:
    doc = load(WORKFLOW)
    assert "pull_request" in doc["on"]
    assert "merge_group" in doc["on"]  # merge queues are gated like pull requests
    assert "main" in doc["on"]["pull_request"]["branches"]
    assert doc["permissions"] == {"contents": "read", "checks": "write"}
    steps = github_steps(doc)
    checkout = step_using(steps, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # full history: the gate compares with the base
    (gate,) = [s for s in steps if "promote-gate ci" in str(s.get("run", ""))]
    upload = step_using(steps, "actions/upload-artifact")
    reporter = step_using(steps, "mikepenz/action-junit-report")
    assert steps.index(checkout) < steps.index(gate) < steps.index(upload)
    assert steps.index(gate) < steps.index(reporter)
    # the gate failing is exactly when the reports matter
    assert upload["if"] == ALWAYS
    assert reporter["if"] == ALWAYS
    junit = shlex.split(gate["run"])[shlex.split(gate["run"]).index("--junit-xml") + 1]
    assert upload["with"]["path"] == junit
    assert reporter["with"]["report_paths"] == junit
    # a fork's pull request gets a read-only token: annotate instead of creating a check run
    annotate_only = reporter["with"]["annotate_only"]
    assert annotate_only.startswith("${{")
    assert annotate_only.endswith("}}")
    assert "github.event_name == 'pull_request'" in annotate_only
    assert "github.event.pull_request.head.repo.full_name != github.repository" in annotate_only


def test_action_runs_the_gate_with_its_inputs() -> None:
    doc = load(ACTION)
    assert doc["runs"]["using"] == "composite"
    assert doc["inputs"]["junit-xml"]["default"] == JUNIT
    assert doc["inputs"]["args"]["default"] == ""
    assert doc["outputs"]["junit-xml"]["value"] == "${{ inputs.junit-xml }}"
    (command,) = gate_commands([s.get("run", "") for s in doc["runs"]["steps"]])
    assert command.startswith("promote-gate ci ")
    assert '--junit-xml "${{ inputs.junit-xml }}"' in command
    assert command.endswith("${{ inputs.args }}")


def test_gitlab_job_has_what_the_gate_needs() -> None:
    job = load(GITLAB)["promote-gate"]
    assert job["variables"]["GIT_DEPTH"] == "0"  # a string, as GitLab documents it
    assert "allow_failure" not in job  # a red gate must block the merge
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"] == {"junit": JUNIT, "codequality": CODEQUALITY}
    assert set(artifacts["paths"]) == {JUNIT, CODEQUALITY}
    (command,) = gate_commands(job["script"])
    argv = shlex.split(command)
    assert argv[:2] == ["promote-gate", "ci"]
    assert argv[argv.index("--junit-xml") + 1] == JUNIT
    assert argv[argv.index("--codequality") + 1] == CODEQUALITY


@pytest.mark.parametrize("template", [WORKFLOW, GITLAB, ACTION], ids=lambda p: p.name)
def test_templates_verify_content_by_default(template: Path) -> None:
    """The default cannot pass forged evidence: no flag that weakens it, and the opt-out
    (`metadata_only`, a reviewed policy change) is documented where the template is copied."""
    text = template.read_text()
    doc = load(template)
    if template == WORKFLOW:
        scripts = [s.get("run", "") for s in github_steps(doc)]
    elif template == ACTION:
        scripts = [s.get("run", "") for s in doc["runs"]["steps"]]
    else:
        scripts = doc["promote-gate"]["script"]
    for command in gate_commands(scripts):
        assert "--policy-from" not in command
        assert "--dvc-cache" not in command
    if template != ACTION:
        assert "metadata_only: true" in text
        assert "never from the change's own .dvc/" in text


def test_pre_commit_hook_runs_on_push() -> None:
    (hook,) = load(HOOKS)
    assert hook["id"] == "promote-gate"
    assert hook["stages"] == ["pre-push"]
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert hook["language"] == "python"
    assert hook["minimum_pre_commit_version"] == "3.2.0"
    assert shlex.split(hook["entry"])[0] == "promote-gate"


# --------------------------------------------------------------------------- running them


@pytest.fixture
def workspace(repo: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """A full clone (fetch-depth 0 / GIT_DEPTH 0) of an origin, at a pull request's head.

    Returns (workspace, base, head).
    """
    bare = tmp_path / "origin.git"
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    run(repo, "git", "remote", "add", "origin", bare.as_uri())
    run(repo, "git", "push", "-q", "origin", "main")
    base = run(repo, "git", "rev-parse", "main").strip()
    run(repo, "git", "checkout", "-q", "-b", "docs")
    (repo / "README.md").write_text("Models, released as publish/vN.\n")
    head = commit_all(repo, "Document the releases")
    run(repo, "git", "push", "-q", "origin", "docs")
    ws = tmp_path / "ws"
    run(tmp_path, "git", "clone", "-q", "--branch", "docs", bare.as_uri(), str(ws))
    return ws, base, head


def bash(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A step's script, as the runners run it: bash with -e and pipefail."""
    assert shutil.which("promote-gate", path=os.environ["PATH"]) is not None
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def github_pr_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base: str, head: str) -> Path:
    event = tmp_path / "event.json"
    payload = {
        "number": 1,
        "pull_request": {
            "number": 1,
            "base": {"ref": "main", "sha": base},
            "head": {"ref": "docs", "sha": head},
        },
    }
    event.write_text(json.dumps(payload))
    summary = tmp_path / "step_summary.md"
    summary.write_text("")
    env = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": head,
        "GITHUB_REF": "refs/pull/1/merge",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "docs",
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return summary


def check_reports(ws: Path, junit: str) -> None:
    path = ws / junit
    assert path.is_file(), f"{junit} was not written"
    xsd = SHARED_SCHEMAS / "junit-10-with-file.xsd"
    if xsd.exists():
        import xmlschema

        xmlschema.XMLSchema(str(xsd)).validate(str(path))
    root = ET.parse(path).getroot()
    assert root.get("failures") == "0"
    assert {s.get("name") for s in root.iter("testsuite")} == {"promote-gate:publish/v1"}


def test_github_workflow_commands_pass_in_a_pull_request(
    workspace: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head = workspace
    summary = github_pr_env(monkeypatch, tmp_path, base, head)
    steps = github_steps(load(WORKFLOW))
    for command in gate_commands([s.get("run", "") for s in steps]):
        proc = bash(command, ws)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        assert "GitHub pull_request #1 into main" in proc.stdout
    check_reports(ws, step_using(steps, "actions/upload-artifact")["with"]["path"])
    assert (
        ws / step_using(steps, "mikepenz/action-junit-report")["with"]["report_paths"]
    ).is_file()
    assert (ws / JUNIT).is_file()
    assert summary.read_text().startswith("## promote-gate: passed")


def test_action_commands_pass_in_a_pull_request(
    workspace: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head = workspace
    summary = github_pr_env(monkeypatch, tmp_path, base, head)
    monkeypatch.setenv("GITHUB_ACTION_PATH", str(ROOT))
    doc = load(ACTION)
    substitutions = {
        "${{ inputs.junit-xml }}": doc["inputs"]["junit-xml"]["default"],
        "${{ inputs.args }}": doc["inputs"]["args"]["default"],
    }
    for template in gate_commands([s.get("run", "") for s in doc["runs"]["steps"]]):
        command = template
        for expression, value in substitutions.items():
            command = command.replace(expression, value)
        assert "${{" not in command, command
        proc = bash(command, ws)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    output = doc["outputs"]["junit-xml"]["value"]
    check_reports(ws, substitutions.get(output, output))
    assert (ws / JUNIT).is_file()
    assert summary.read_text().startswith("## promote-gate: passed")


def test_gitlab_job_commands_pass_in_a_merge_request(
    workspace: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head = workspace
    job = load(GITLAB)["promote-gate"]
    env = {
        **job["variables"],  # GitLab exports the job's variables to its scripts
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_COMMIT_SHA": head,
        "CI_COMMIT_REF_NAME": "docs",
        "CI_DEFAULT_BRANCH": "main",
        "CI_MERGE_REQUEST_IID": "1",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "docs",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    for command in gate_commands(job["script"]):
        proc = bash(command, ws)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        assert "GitLab merge request !1 into main" in proc.stdout
        assert "::error" not in proc.stdout
    artifacts = job["artifacts"]
    for path in [*artifacts["paths"], *artifacts["reports"].values()]:
        assert (ws / path).is_file(), f"the job uploads {path}, which was not written"
    check_reports(ws, artifacts["reports"]["junit"])
    assert json.loads((ws / artifacts["reports"]["codequality"]).read_text()) == []
    assert (ws / JUNIT).is_file()
    assert (ws / CODEQUALITY).is_file()
