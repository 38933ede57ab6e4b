"""The CI templates, the composite action and the pre-commit manifest.

Each is valid for its platform (check-jsonschema's vendored schemas, pre-commit's own
manifest check), has the properties the gate relies on (full history, reports uploaded even
when the gate fails, no allow_failure), and the commands it runs pass in a real repository
under the variables the platform sets. The optional code-scanning upload and pull/merge
request comment are off by default, run when the gate fails, skip forks, and their scripts
post or update one comment: run against a stand-in `gh` and a stand-in GitLab API on
127.0.0.1 (no network).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pyproject.toml's own dependency there
    import tomli as tomllib

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
PYPROJECT = ROOT / "pyproject.toml"
# The project as pyproject.toml declares it: its version (the release tag is v + it) and its
# home, the one place the repository's address is written (tests/test_release_path.py).
PROJECT: dict[str, Any] = tomllib.loads(PYPROJECT.read_text())["project"]
VERSION: str = PROJECT["version"]
HOME: str = PROJECT["urls"]["Source"]
TAG = f"v{VERSION}"
JUNIT = "promote-gate-junit.xml"
CODEQUALITY = "gl-code-quality-report.json"
SARIF = "promote-gate.sarif"
COMMENT = "promote-gate-comment.md"
VERDICT = "promote-gate-verdict.json"  # ci --attest: the verdict as an in-toto statement
MARKER = "<!-- promote-gate -->"  # the comment's first line, which the templates look for
ALWAYS = "${{ !cancelled() }}"
# the gate job's steps that read its reports run only if the gate step itself ran (and so the
# stale files were removed first), failed or passed
GATE_RAN = (
    "${{ !cancelled() && (steps.gate.outcome == 'success' || steps.gate.outcome == 'failure') }}"
)
# where the optional jobs download this run's artifact: the runner's temporary directory,
# emptied for every job, never the checkout
DOWNLOADED = "${{ runner.temp }}/promote-gate-reports"
GATE_JOB = "promote-gate"  # the required status check's name
CODE_SCANNING_JOB = "code-scanning"
COMMENT_JOB = "pull-request-comment"
ATTEST_JOB = "attest-verdict"


@pytest.fixture(autouse=True)
def no_outer_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite may itself run in GitHub Actions or GitLab CI: their variables must not leak."""
    for key in list(os.environ):
        if key == "CI" or key.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_")):
            monkeypatch.delenv(key)


def load(path: Path) -> Any:
    """YAML 1.2, as GitHub and GitLab read it (`on:` is a key, not the boolean true)."""
    return load_yaml(path.read_bytes(), path.name)


def github_steps(doc: dict[str, Any], job: str = GATE_JOB) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = doc["jobs"][job]["steps"]
    return steps


def runs_promote_gate(word: str) -> bool:
    """A command word naming promote-gate: on PATH, or the action's own virtual environment's
    (``"$RUNNER_TEMP/promote-gate-venv/bin/promote-gate"``)."""
    return word == "promote-gate" or (word.startswith("$") and word.endswith("/promote-gate"))


def gate_argv(command: str) -> list[str]:
    argv = shlex.split(command, comments=True)
    if "||" in argv:  # `promote-gate ci ... || status=$?`: the script keeps the exit status
        argv = argv[: argv.index("||")]
    assert runs_promote_gate(argv[0]), command
    argv = ["promote-gate", *argv[1:]]
    assert argv[:2] == ["promote-gate", "ci"], command
    return argv


def option(argv: list[str], name: str) -> str:
    """The value given to ``name`` on a command line (it must be given exactly once)."""
    assert argv.count(name) == 1, f"{name} given {argv.count(name)} times: {argv}"
    return argv[argv.index(name) + 1]


def github_gate_argv(doc: dict[str, Any]) -> list[str]:
    (command,) = gate_commands([s.get("run", "") for s in github_steps(doc)])
    return gate_argv(command)


def uploaded(step: dict[str, Any]) -> list[str]:
    """The paths an actions/upload-artifact step uploads (one per line)."""
    return [line.strip() for line in step["with"]["path"].splitlines() if line.strip()]


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
        if line.strip() and runs_promote_gate((shlex.split(line, comments=True) or [""])[0])
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
    del doc["jobs"][GATE_JOB]["runs-on"]


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
    # each job states its permissions; the gate job never holds the optional jobs' write ones
    assert doc["permissions"] == {"contents": "read"}
    assert doc["jobs"][GATE_JOB]["permissions"] == {"contents": "read", "checks": "write"}
    steps = github_steps(doc)
    checkout = step_using(steps, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # full history: the gate compares with the base
    (gate,) = [s for s in steps if "promote-gate ci" in str(s.get("run", ""))]
    upload = step_using(steps, "actions/upload-artifact")
    reporter = step_using(steps, "mikepenz/action-junit-report")
    assert steps.index(checkout) < steps.index(gate) < steps.index(upload)
    assert steps.index(gate) < steps.index(reporter)
    # the gate failing is exactly when the reports matter; a gate that never ran wrote none
    assert upload["if"] == GATE_RAN
    assert reporter["if"] == GATE_RAN
    argv = github_gate_argv(doc)
    assert (option(argv, "--junit-xml"), option(argv, "--sarif")) == (JUNIT, SARIF)
    assert option(argv, "--comment") == COMMENT
    assert option(argv, "--attest") == VERDICT
    # every report the gate writes is uploaded, for people and for the optional jobs
    assert set(uploaded(upload)) == {JUNIT, SARIF, COMMENT, VERDICT}
    assert reporter["with"]["report_paths"] == JUNIT
    # a fork's pull request gets a read-only token: annotate instead of creating a check run
    annotate_only = reporter["with"]["annotate_only"]
    assert annotate_only.startswith("${{")
    assert annotate_only.endswith("}}")
    assert "github.event_name == 'pull_request'" in annotate_only
    assert "github.event.pull_request.head.repo.full_name != github.repository" in annotate_only


def test_github_code_scanning_uploads_the_gates_sarif() -> None:
    doc = load(WORKFLOW)
    job = doc["jobs"][CODE_SCANNING_JOB]
    assert job["needs"] == GATE_JOB
    # what upload-sarif needs, on this job only: its token exists only when the switch is on
    assert job["permissions"] == {
        "contents": "read",
        "actions": "read",
        "security-events": "write",
    }
    steps = github_steps(doc, CODE_SCANNING_JOB)
    checkout = step_using(steps, "actions/checkout")
    assert checkout["with"]["persist-credentials"] is False
    download = step_using(steps, "actions/download-artifact")
    sarif = step_using(steps, "github/codeql-action/upload-sarif")
    # pinned by commit (tests/test_release_path.py: PINS holds every action's one pin)
    assert re.fullmatch(r"github/codeql-action/upload-sarif@[0-9a-f]{40}", sarif["uses"])
    assert steps.index(checkout) < steps.index(download) < steps.index(sarif)
    gate_upload = step_using(github_steps(doc), "actions/upload-artifact")
    assert download["with"]["name"] == gate_upload["with"]["name"]
    assert download["with"]["path"] == DOWNLOADED
    # the job runs only when there is an artifact: a download that fails is a failure
    assert "continue-on-error" not in download
    # the file the gate writes is the file uploaded, as this run's artifact holds it
    assert option(github_gate_argv(doc), "--sarif") == SARIF
    assert sarif["with"]["sarif_file"] == f"{DOWNLOADED}/{SARIF}"
    assert sarif["with"]["category"] == "promote-gate"
    (guard,) = [s for s in steps if s.get("id") == "evaluated"]
    assert steps.index(download) < steps.index(guard) < steps.index(sarif)
    assert sarif["if"] == "${{ steps.evaluated.outputs.ok == 'true' }}"


@pytest.mark.parametrize(
    ("argv", "uploads"),
    [((), True), (("--repo", "/nonexistent-promote-gate"), False)],
    ids=["evaluated", "could not evaluate"],
)
def test_github_code_scanning_uploads_only_a_run_that_evaluated(
    argv: tuple[str, ...], uploads: bool, repo: Path, tmp_path: Path
) -> None:
    """The guard step, run on the SARIF the gate really wrote: a passing run is uploaded; a
    run that could not evaluate (exit 2) is not, or it would close every open alert."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    doc = load(WORKFLOW)
    (guard,) = [s for s in github_steps(doc, CODE_SCANNING_JOB) if s.get("id") == "evaluated"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promote_gate",
            "check",
            "--repo",
            str(repo),
            *argv,
            "--sarif",
            str(tmp_path / SARIF),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == (0 if uploads else 2), proc.stderr
    # where the job downloads the artifact: $RUNNER_TEMP/promote-gate-reports
    runner_temp = tmp_path / "runner-temp"
    (runner_temp / "promote-gate-reports").mkdir(parents=True)
    (tmp_path / SARIF).rename(runner_temp / "promote-gate-reports" / SARIF)
    output = tmp_path / "github-output"
    env = {"GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(runner_temp)}
    ran = bash(guard["run"], tmp_path, env)
    assert ran.returncode == 0, ran.stderr
    assert output.read_text() == f"ok={'true' if uploads else 'false'}\n"


def test_github_comment_posts_the_gates_comment() -> None:
    doc = load(WORKFLOW)
    job = doc["jobs"][COMMENT_JOB]
    assert job["needs"] == GATE_JOB
    assert job["permissions"] == {"pull-requests": "write"}
    steps = github_steps(doc, COMMENT_JOB)
    download = step_using(steps, "actions/download-artifact")
    assert (
        download["with"]["name"]
        == step_using(github_steps(doc), "actions/upload-artifact")["with"]["name"]
    )
    (post,) = [s for s in steps if "gh api" in s.get("run", "")]
    assert steps.index(download) < steps.index(post)
    assert post["shell"] == "bash"  # bash -eo pipefail: a failed `gh api` fails the step
    assert post["env"]["GH_TOKEN"] == "${{ github.token }}"  # noqa: S105 - names the job token
    # the body is the comment the gate wrote, as this run's artifact holds it
    assert download["with"]["path"] == DOWNLOADED
    assert option(github_gate_argv(doc), "--comment") == COMMENT
    assert f'body="$RUNNER_TEMP/promote-gate-reports/{COMMENT}"' in post["run"]
    # values reach the script through the environment, never pasted into it
    assert "${{" not in post["run"]
    assert MARKER in post["run"]


def test_github_write_permissions_are_only_where_they_are_used() -> None:
    doc = load(WORKFLOW)
    writes = {
        (job_id, scope)
        for job_id, job in doc["jobs"].items()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert writes == {
        (GATE_JOB, "checks"),
        (CODE_SCANNING_JOB, "security-events"),
        (COMMENT_JOB, "pull-requests"),
        (ATTEST_JOB, "id-token"),
        (ATTEST_JOB, "attestations"),
    }
    assert "write" not in doc["permissions"].values()


# A GitHub Actions `if:` expression: the subset the template uses (|| && ! == != parentheses,
# 'strings', context paths, status functions), so that each optional job's switch, fork check
# and run-on-failure are checked as GitHub decides them, not as substrings.
_EXPRESSION_TOKEN = re.compile(
    r"\s*(?:(\|\||&&|==|!=|!|\(|\))|'((?:[^']|'')*)'|([A-Za-z_][\w.\-]*)(\(\))?)"
)
STATUS_FUNCTIONS = {"success", "failure", "cancelled", "always"}


class _Expression:
    def __init__(self, text: str, contexts: dict[str, Any], status: dict[str, bool]) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.strip()
        while pos < len(text):
            match = _EXPRESSION_TOKEN.match(text, pos)
            assert match is not None, f"cannot read {text[pos:]!r}"
            op, string, name, call = match.groups()
            if op is not None:
                self.tokens.append(("op", op))
            elif string is not None:
                self.tokens.append(("str", string.replace("''", "'")))
            else:
                self.tokens.append(("call" if call else "path", name))
            pos = match.end()
        self.contexts = contexts
        self.status = status

    def peek(self) -> str | None:
        return self.tokens[0][1] if self.tokens and self.tokens[0][0] == "op" else None

    def evaluate(self) -> Any:
        value = self.or_()
        assert not self.tokens, f"left over: {self.tokens}"
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.tokens.pop(0)
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == "&&":
            self.tokens.pop(0)
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        left = self.unary()
        if self.peek() in {"==", "!="}:
            op = self.tokens.pop(0)[1]
            right = self.unary()
            if isinstance(left, str) and isinstance(right, str):  # GitHub ignores case
                equal = left.casefold() == right.casefold()
            else:
                equal = left == right
            return equal if op == "==" else not equal
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.tokens.pop(0)
            return not truthy(self.unary())
        kind, text = self.tokens.pop(0)
        if (kind, text) == ("op", "("):
            value = self.or_()
            assert self.tokens.pop(0) == ("op", ")")
            return value
        if kind == "str":
            return text
        if kind == "call":
            return self.status[text]
        assert kind == "path", text
        found: Any = self.contexts  # a missing property is null, as in GitHub
        for key in text.split("."):
            found = found.get(key) if isinstance(found, dict) else None
        return found


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def job_runs(
    job: dict[str, Any], contexts: dict[str, Any], *, gate_failed: bool, cancelled: bool
) -> bool:
    """Whether GitHub runs a job that needs the gate job, as its `if:` decides."""
    condition = job["if"].strip()
    # anything outside ${{ }} makes the condition a non-empty string: always true
    assert condition.startswith("${{"), condition
    assert condition.endswith("}}"), condition
    text = condition[3:-2]
    if not STATUS_FUNCTIONS & set(re.findall(r"(\w+)\(\)", text)):
        text = f"success() && ({text})"  # GitHub's implicit default
    status = {
        "success": not (gate_failed or cancelled),
        "failure": gate_failed,
        "cancelled": cancelled,
        "always": True,
    }
    return truthy(_Expression(text, contexts, status).evaluate())


def github_contexts(
    event: str,
    *,
    fork: bool = False,
    switches: bool = False,
    artifact: bool = True,
    ref_type: str = "branch",
) -> dict[str, Any]:
    """The contexts a job's `if:` reads; ``artifact``: the gate job uploaded its reports (its
    output is the artifact's id, an empty string when it uploaded none); ``ref_type``: what
    a push pushed (a GTO tag: "tag")."""
    github: dict[str, Any] = {"event_name": event, "repository": "acme/models", "event": {}}
    github["ref_type"] = ref_type
    if event == "pull_request":
        head = "someone/models" if fork else "acme/models"
        github["event"] = {"pull_request": {"number": 7, "head": {"repo": {"full_name": head}}}}
    variables = (
        {"PROMOTE_GATE_CODE_SCANNING": "true", "PROMOTE_GATE_PR_COMMENT": "true"}
        if switches
        else {}
    )
    needs = {GATE_JOB: {"outputs": {"reports": "1234" if artifact else ""}}}
    return {"github": github, "vars": variables, "needs": needs}


# (event, fork, switched on, gate failed, run cancelled) -> (code scanning, comment)
OPTIONAL_JOBS: list[tuple[str, bool, bool, bool, bool, tuple[bool, bool]]] = [
    ("pull_request", False, False, False, False, (False, False)),  # off by default
    ("pull_request", False, False, True, False, (False, False)),
    ("push", False, False, False, False, (False, False)),
    ("pull_request", False, True, False, False, (True, True)),
    ("pull_request", False, True, True, False, (True, True)),  # a red gate: when it matters
    ("pull_request", False, True, True, True, (False, False)),  # cancelled
    ("pull_request", True, True, True, False, (False, False)),  # a fork's read-only token
    ("push", False, True, True, False, (True, False)),  # no pull request to comment on
    ("merge_group", False, True, False, False, (True, False)),
]


@pytest.mark.parametrize(
    ("event", "fork", "switches", "gate_failed", "cancelled", "expected"), OPTIONAL_JOBS
)
def test_github_optional_jobs_run_when_switched_on(
    event: str,
    fork: bool,
    switches: bool,
    gate_failed: bool,
    cancelled: bool,
    expected: tuple[bool, bool],
) -> None:
    jobs = load(WORKFLOW)["jobs"]
    contexts = github_contexts(event, fork=fork, switches=switches)
    runs = tuple(
        job_runs(jobs[name], contexts, gate_failed=gate_failed, cancelled=cancelled)
        for name in (CODE_SCANNING_JOB, COMMENT_JOB)
    )
    assert runs == expected


def test_github_switches_are_one_variable_each() -> None:
    jobs = load(WORKFLOW)["jobs"]
    contexts = github_contexts("pull_request", switches=True)
    for name, switch in [
        (CODE_SCANNING_JOB, "PROMOTE_GATE_CODE_SCANNING"),
        (COMMENT_JOB, "PROMOTE_GATE_PR_COMMENT"),
    ]:
        assert f"vars.{switch} == 'true'" in jobs[name]["if"]
        for value in ["false", "", "yes"]:
            off = {**contexts, "vars": {**contexts["vars"], switch: value}}
            assert not job_runs(jobs[name], off, gate_failed=False, cancelled=False), (name, value)
    text = WORKFLOW.read_text()
    # the top of the template says how to switch each on
    header = text[: text.index("\nname:")]
    assert "PROMOTE_GATE_CODE_SCANNING = true" in header
    assert "PROMOTE_GATE_PR_COMMENT = true" in header


def test_github_s3_role_is_assumed_only_when_named() -> None:
    """The optional OIDC step for an S3 remote: run only with PROMOTE_GATE_AWS_ROLE set,
    before the gate, with a short session; the id-token permission stays off (commented)."""
    steps = load(WORKFLOW)["jobs"][GATE_JOB]["steps"]
    names = [step.get("name") for step in steps]
    role = steps[names.index("Assume the read-only role of the DVC remote")]
    assert names.index("Assume the read-only role of the DVC remote") < names.index("promote-gate")
    assert role["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert role["with"]["role-to-assume"] == "${{ vars.PROMOTE_GATE_AWS_ROLE }}"
    assert int(role["with"]["role-duration-seconds"]) <= 3600
    contexts = github_contexts("pull_request")
    for value, runs in (("", False), ("arn:aws:iam::123456789012:role/read-dvc", True)):
        contexts["vars"] = {"PROMOTE_GATE_AWS_ROLE": value}
        text = role["if"].strip()[3:-2]
        status = {"success": True, "failure": False, "cancelled": False, "always": True}
        assert truthy(_Expression(f"success() && ({text})", contexts, status).evaluate()) == runs
    assert "      # id-token: write" in WORKFLOW.read_text()


def test_action_runs_the_gate_with_its_inputs() -> None:
    doc = load(ACTION)
    assert doc["runs"]["using"] == "composite"
    assert doc["inputs"]["junit-xml"]["default"] == JUNIT
    assert doc["inputs"]["sarif"]["default"] == SARIF
    assert doc["inputs"]["comment"]["default"] == ""  # not written unless asked for
    assert doc["inputs"]["args"]["default"] == ""
    for name in ["junit-xml", "sarif", "comment"]:
        assert doc["outputs"][name]["value"] == f"${{{{ inputs.{name} }}}}"
    (step,) = [s for s in doc["runs"]["steps"] if s.get("id") == "gate"]
    (command,) = gate_commands([step["run"]])
    # the promote-gate the action installed into its own environment, not one on PATH
    assert command.startswith(f'"{ACTION_GATE}" ci ')
    assert '--junit-xml "$PROMOTE_GATE_JUNIT_XML"' in command
    assert '--sarif "$PROMOTE_GATE_SARIF"' in command
    assert '"${args[@]}"' in command  # the extra arguments, split from the environment
    assert step["env"] == {
        "PROMOTE_GATE_JUNIT_XML": "${{ inputs.junit-xml }}",
        "PROMOTE_GATE_SARIF": "${{ inputs.sarif }}",
        "PROMOTE_GATE_COMMENT": "${{ inputs.comment }}",
        "PROMOTE_GATE_ARGS": "${{ inputs.args }}",
    }
    # the exit status is an output: a workflow publishes the reports only if the gate ran
    assert doc["outputs"]["exit-code"]["value"] == "${{ steps.gate.outputs.exit-code }}"
    assert step["id"] == "gate"


def test_gitlab_job_has_what_the_gate_needs() -> None:
    job = load(GITLAB)["promote-gate"]
    assert job["variables"]["GIT_DEPTH"] == "0"  # a string, as GitLab documents it
    assert "allow_failure" not in job  # a red gate must block the merge
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"] == {"junit": JUNIT, "codequality": CODEQUALITY}
    assert set(artifacts["paths"]) == {JUNIT, CODEQUALITY, COMMENT, VERDICT}
    (command,) = gate_commands(job["script"])
    argv = gate_argv(command)
    assert option(argv, "--junit-xml") == JUNIT
    assert option(argv, "--codequality") == CODEQUALITY
    assert option(argv, "--comment") == COMMENT


def gitlab_note_script(job: dict[str, Any]) -> str:
    """The item of the job's ``script`` that posts the merge request note."""
    (script,) = [str(item) for item in job["script"] if "PROMOTE_GATE_MR_NOTE" in str(item)]
    return script


def test_gitlab_note_is_optional_and_says_what_it_needs() -> None:
    text = GITLAB.read_text()
    job = load(GITLAB)["promote-gate"]
    assert job["variables"]["PROMOTE_GATE_MR_NOTE"] == "false"  # off by default
    # in the gate's own shell, after it (and whatever its verdict): the file it just wrote
    assert "after_script" not in job
    script = gitlab_note_script(job)
    (gate,) = [
        i
        for i, item in enumerate(job["script"])
        if any(line.startswith("promote-gate ci ") for line in str(item).splitlines())
    ]
    assert gate < job["script"].index(script)
    assert script.startswith('if [ "${PROMOTE_GATE_MR_NOTE:-}" = "true" ] && ')
    assert '[ -n "${gate_exit:-}" ]' in script.splitlines()[0]  # only once the gate ran
    # the note's body is the file the gate writes
    (body,) = re.findall(r'^BODY = "([^"]+)"', script, flags=re.MULTILINE)
    assert body == option(gate_argv(gate_commands(job["script"])[0]), "--comment")
    assert (
        "python3 -I - <<'EOF'" in script
    )  # a quoted here-document: the shell expands nothing in it
    assert "PROMOTE_GATE_NOTE_TOKEN" in script
    header = text[: text.index("\npromote-gate:")]
    assert 'PROMOTE_GATE_MR_NOTE = "true"' in header
    assert "PROMOTE_GATE_NOTE_TOKEN" in header
    assert "CI_JOB_TOKEN cannot write notes" in header


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


@pytest.mark.parametrize("template", [WORKFLOW, ACTION, GITLAB], ids=["github", "action", "gitlab"])
def test_python_in_ci_never_imports_from_the_checkout(template: Path) -> None:
    """`python -m pip` and `python3 -` put the current directory (the change's checkout) first
    on sys.path: a committed pip/ or json.py would run with the job's credentials. -I."""
    lines = [line.strip() for line in template.read_text().splitlines()]
    pythons = [line for line in lines if re.search(r"\bpython3? (-m|-\s|-c)", line)]
    runs = [line for line in lines if re.search(r"\bpython3? ", line) and "-I" not in line]
    assert pythons == [], pythons  # every python invocation isolated ...
    assert [line for line in runs if not line.startswith("#")] == []  # ... with -I


def test_pre_commit_hook_runs_on_push() -> None:
    hooks = {hook["id"]: hook for hook in load(HOOKS)}
    hook = hooks["promote-gate"]  # the push-time gate (the manifest may hold other hooks)
    assert hook["stages"] == ["pre-push"]
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert hook["language"] == "python"
    assert hook["minimum_pre_commit_version"] == "3.2.0"
    assert shlex.split(hook["entry"]) == ["promote-gate", "hook", "pre-push"]


def test_pre_commit_staged_hook_runs_on_commits_that_stage_what_the_gate_reads() -> None:
    """The commit-stage hook judges the index itself (no file names) and runs only when a
    staged path can matter, as pre-commit matches ``files`` (re.search on each path)."""
    import re

    hooks = {hook["id"]: hook for hook in load(HOOKS)}
    hook = hooks["promote-gate-staged"]
    assert hook["stages"] == ["pre-commit"]
    assert hook["pass_filenames"] is False
    assert "always_run" not in hook
    assert shlex.split(hook["entry"]) == ["promote-gate", "hook", "pre-commit"]
    pattern = re.compile(hook["files"])
    runs_on = [
        "publish/v1/report.md",
        "publish/v2/model.json.dvc",
        "models/a/publish/v1/manifest.json",
        "dvc.yaml",
        "dvc.lock",
        "sub/dvc.lock",
        "data/raw.csv.dvc",
        "params.yaml",
        "configs/params.json",
        ".promote-gate.yaml",
        "pyproject.toml",
        ".gitattributes",
        ".gitmodules",
        ".dvc/config",
        "sub/.dvc/config",
    ]
    skips = ["README.md", "src/train.py", "notes/publishing.md", "dvc.yaml.bak", "republish/x"]
    assert [p for p in runs_on if not pattern.search(p)] == []
    assert [p for p in skips if pattern.search(p)] == []


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


def bash(
    command: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A step's script, as the runners run it: bash with -e and pipefail (and the step's env)."""
    assert shutil.which("promote-gate", path=os.environ["PATH"]) is not None
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
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


def check_review(ws: Path, sarif: str, comment: str) -> None:
    """The SARIF report and the comment body the optional jobs read were written."""
    report = json.loads((ws / sarif).read_text())
    assert report["version"] == "2.1.0"
    assert report["runs"][0]["results"] == []  # the change passes
    body = (ws / comment).read_text()
    assert body.splitlines()[0] == MARKER  # what the templates look for to update one comment


def test_github_workflow_commands_pass_in_a_pull_request(
    workspace: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head = workspace
    summary = github_pr_env(monkeypatch, tmp_path, base, head)
    doc = load(WORKFLOW)
    steps = github_steps(doc)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    (gate,) = [s for s in steps if s.get("id") == "gate"]
    proc = bash(gate["run"], ws, {"RUNNER_TEMP": str(runner_temp)})
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "GitHub pull_request #1 into main" in proc.stdout
    assert (runner_temp / "promote-gate.exit").read_text() == "0\n"
    for path in uploaded(step_using(steps, "actions/upload-artifact")):
        if path == VERDICT:  # the change releases no bundle: nothing to attest, and it says so
            assert not (ws / path).exists()
            assert "--attest: no bundle file to attest: none written" in proc.stderr
            continue
        assert (ws / path).is_file(), f"the job uploads {path}, which was not written"
    check_reports(ws, step_using(steps, "mikepenz/action-junit-report")["with"]["report_paths"])
    # what the optional jobs read from the artifact, by name
    sarif = step_using(github_steps(doc, CODE_SCANNING_JOB), "github/codeql-action/upload-sarif")
    assert sarif["with"]["sarif_file"] == f"{DOWNLOADED}/{SARIF}"
    check_review(ws, SARIF, COMMENT)
    assert summary.read_text().startswith("## promote-gate: passed")
    # the gate ran and passed: the job's last step passes
    (guard,) = [s for s in steps if s.get("if") == "${{ always() }}"]
    proc = bash(guard["run"], ws, {"RUNNER_TEMP": str(runner_temp)})
    assert proc.returncode == 0, (proc.stdout, proc.stderr)


# where the action's install step puts promote-gate: a virtual environment of its own
ACTION_GATE = "$RUNNER_TEMP/promote-gate-venv/bin/promote-gate"


def action_installed(tmp_path: Path) -> dict[str, str]:
    """A runner's temporary directory as the action's install step leaves it (its virtual
    environment's promote-gate: here, the one under test). Returns the step's RUNNER_TEMP."""
    runner_temp = tmp_path / "runner-temp"
    (runner_temp / "promote-gate-venv" / "bin").mkdir(parents=True, exist_ok=True)
    gate = shutil.which("promote-gate")
    assert gate is not None
    target = Path(ACTION_GATE.replace("$RUNNER_TEMP", str(runner_temp)))
    if not target.exists():
        target.symlink_to(gate)
    return {"RUNNER_TEMP": str(runner_temp)}


def action_step(
    doc: dict[str, Any], inputs: dict[str, str], step_name: str = "promote-gate"
) -> tuple[str, dict[str, str]]:
    """The action's step ``step_name`` (by default the gate) as the runner runs it: its script and
    environment, with the workflow's inputs (the defaults, overridden by ``inputs``)
    substituted."""
    values = {name: spec.get("default", "") for name, spec in doc["inputs"].items()} | inputs

    def substitute(text: str) -> str:
        for name, value in values.items():
            text = text.replace(f"${{{{ inputs.{name} }}}}", value)
        assert "${{" not in text, text
        return text

    (step,) = [s for s in doc["runs"]["steps"] if s["name"] == step_name]
    env = {key: substitute(str(value)) for key, value in step.get("env", {}).items()}
    return substitute(step["run"]), env


def test_action_commands_pass_in_a_pull_request(
    workspace: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head = workspace
    summary = github_pr_env(monkeypatch, tmp_path, base, head)
    monkeypatch.setenv("GITHUB_ACTION_PATH", str(ROOT))
    doc = load(ACTION)
    outputs = {name: output["value"] for name, output in doc["outputs"].items()}

    output = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("RUNNER_TEMP", action_installed(tmp_path)["RUNNER_TEMP"])
    script, env = action_step(doc, {})
    proc = bash(script, ws, env)
    assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
    assert output.read_text() == "exit-code=0\n"  # the gate ran: the reports are its own
    check_reports(ws, env["PROMOTE_GATE_JUNIT_XML"])
    assert outputs["junit-xml"] == "${{ inputs.junit-xml }}"
    assert (ws / JUNIT).is_file()
    assert json.loads((ws / SARIF).read_text())["version"] == "2.1.0"
    assert not (ws / COMMENT).exists()  # no comment unless asked for
    assert summary.read_text().startswith("## promote-gate: passed")

    # a workflow that asks for the comment, and names the SARIF file, gets both there
    script, env = action_step(doc, {"comment": "review.md", "sarif": "gate.sarif"})
    proc = bash(script, ws, env)
    assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
    check_review(ws, "gate.sarif", "review.md")
    assert not (ws / COMMENT).exists()

    # args are split on whitespace (lines too) and never globbed: `cq*.json` is one name
    (ws / "cq-decoy.json").write_text("[]")
    script, env = action_step(doc, {"args": "--codequality   cq*.json\n--require-data"})
    proc = bash(script, ws, env)
    assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
    assert json.loads((ws / "cq*.json").read_text()) == []
    assert (ws / "cq-decoy.json").read_text() == "[]"


def gitlab_mr_env(job: dict[str, Any], base: str, head: str) -> dict[str, str]:
    return {
        **{key: str(value) for key, value in job["variables"].items()},  # GitLab exports them
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


def test_gitlab_job_commands_pass_in_a_merge_request(
    workspace: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, base, head = workspace
    job = load(GITLAB)["promote-gate"]
    for key, value in gitlab_mr_env(job, base, head).items():
        monkeypatch.setenv(key, value)
    for command in gate_commands(job["script"]):
        proc = bash(command, ws)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        assert "GitLab merge request !1 into main" in proc.stdout
        assert "::error" not in proc.stdout
    artifacts = job["artifacts"]
    for path in [*artifacts["paths"], *artifacts["reports"].values()]:
        if path == VERDICT:  # the change releases no bundle: nothing to attest
            assert not (ws / path).exists()
            continue
        assert (ws / path).is_file(), f"the job uploads {path}, which was not written"
    check_reports(ws, artifacts["reports"]["junit"])
    assert json.loads((ws / artifacts["reports"]["codequality"]).read_text()) == []
    assert (ws / JUNIT).is_file()
    assert (ws / CODEQUALITY).is_file()
    assert (ws / COMMENT).read_text().splitlines()[0] == MARKER
    # the note is off by default: its script does nothing (it would need a token and a URL)
    proc = bash(gitlab_note_script(job), ws, {"gate_exit": "0"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


# --------------------------------------------------------------------------- posting the comment

# A stand-in for the GitHub CLI: records each call (argv, the token, the body it was handed)
# and answers `gh api --paginate ... --jq FILTER` with canned pages through jq, page by page,
# as gh does; any other call answers nothing (`--silent`).
FAKE_GH = """\
import json, os, subprocess, sys

argv = sys.argv[1:]
call = {"argv": argv, "token": os.environ.get("GH_TOKEN")}
for flag, value in zip(argv, argv[1:]):
    if flag in ("-F", "--field") and value.startswith("body=@"):
        with open(value[len("body=@"):], encoding="utf-8") as f:
            call["body"] = f.read()
with open(os.environ["FAKE_GH_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(call) + "\\n")
if "--paginate" in argv:
    with open(os.environ["FAKE_GH_PAGES"], encoding="utf-8") as f:
        pages = json.load(f)
    jq = argv[argv.index("--jq") + 1]
    for page in pages:
        out = subprocess.run(
            ["jq", "-r", jq], input=json.dumps(page), capture_output=True, text=True, check=True
        )
        sys.stdout.write(out.stdout)
elif "--silent" not in argv:
    print("{}")
"""

BOT = "github-actions[bot]"


def comment(id_: int, login: str, body: str) -> dict[str, Any]:
    return {"id": id_, "user": {"login": login}, "body": body}


def run_comment_step(
    tmp_path: Path,
    pages: list[list[dict[str, Any]]],
    *,
    body: str | None,
    committed: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run the workflow's comment step with a fake `gh` first on PATH; return its calls.

    ``body`` is the comment in this run's artifact (downloaded to $RUNNER_TEMP), ``committed``
    a file by the same name in the step's working directory (what a change could commit)."""
    if shutil.which("jq") is None:
        pytest.skip("jq is needed to evaluate the step's --jq filter as gh does")
    (step,) = [s for s in github_steps(load(WORKFLOW), COMMENT_JOB) if "gh api" in s.get("run", "")]
    expressions = {
        "${{ github.token }}": "fake-token",
        "${{ github.event.pull_request.number }}": "7",
    }
    env = {key: expressions.get(str(value), str(value)) for key, value in step["env"].items()}
    assert not any("${{" in value for value in env.values()), env
    work = tmp_path / "work"
    work.mkdir()
    runner_temp = tmp_path / "runner-temp"
    (runner_temp / "promote-gate-reports").mkdir(parents=True)
    if body is not None:
        (runner_temp / "promote-gate-reports" / COMMENT).write_text(body)
    if committed is not None:
        (work / COMMENT).write_text(committed)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f"#!{sys.executable}\n{FAKE_GH}")
    gh.chmod(0o755)
    (tmp_path / "pages.json").write_text(json.dumps(pages))
    log = tmp_path / "gh-calls.jsonl"
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_REPOSITORY": "acme/models",
        "RUNNER_TEMP": str(runner_temp),
        "FAKE_GH_LOG": str(log),
        "FAKE_GH_PAGES": str(tmp_path / "pages.json"),
    }
    proc = subprocess.run(
        # `shell: bash` runs a step as `bash --noprofile --norc -eo pipefail {0}`
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=work,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def method(call: dict[str, Any]) -> str:
    argv: list[str] = call["argv"]
    return argv[argv.index("--method") + 1] if "--method" in argv else "GET"


BODY_TEXT = f"{MARKER}\n## promote-gate: passed\n"


def test_github_comment_updates_the_comment_it_posted(tmp_path: Path) -> None:
    pages = [
        [
            comment(101, "alice", f"{MARKER}\nquoting the gate: not ours to edit"),
            comment(102, BOT, "another workflow's comment"),
        ],
        [
            comment(103, BOT, f"{MARKER}\n## promote-gate: failed\n"),
            comment(104, BOT, f"{MARKER}\na later one"),
        ],
    ]
    proc, calls = run_comment_step(tmp_path, pages, body=BODY_TEXT)
    assert proc.returncode == 0, proc.stderr
    assert [method(c) for c in calls] == ["GET", "PATCH"]
    assert "--paginate" in calls[0]["argv"]
    assert "repos/acme/models/issues/7/comments?per_page=100" in calls[0]["argv"]
    assert "repos/acme/models/issues/comments/103" in calls[1]["argv"]
    assert calls[1]["body"] == BODY_TEXT
    assert {c["token"] for c in calls} == {"fake-token"}


def test_github_comment_is_posted_when_there_is_none(tmp_path: Path) -> None:
    pages = [[comment(101, "alice", f"{MARKER}\nquoting the gate"), comment(102, BOT, "hi")]]
    proc, calls = run_comment_step(tmp_path, pages, body=BODY_TEXT)
    assert proc.returncode == 0, proc.stderr
    assert [method(c) for c in calls] == ["GET", "POST"]
    assert "repos/acme/models/issues/7/comments" in calls[1]["argv"]
    assert calls[1]["body"] == BODY_TEXT


def test_github_comment_is_skipped_without_a_body(tmp_path: Path) -> None:
    proc, calls = run_comment_step(tmp_path, [[comment(103, BOT, MARKER)]], body=None)
    assert proc.returncode == 0, proc.stderr
    assert calls == []
    assert "::notice" in proc.stdout


class FakeGitLab(BaseHTTPRequestHandler):
    """GitLab's user and merge request notes API for project 5, merge request !7: pages of
    ``notes`` with X-Next-Page; records every request."""

    pages: ClassVar[list[list[dict[str, Any]]]] = []
    requests: ClassVar[list[tuple[str, str, str | None, Any]]] = []
    NOTES = "/api/v4/projects/5/merge_requests/7/notes"

    def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, self.headers.get("PRIVATE-TOKEN"), body))
        return urlsplit(self.path).path

    def do_GET(self) -> None:
        path = self._record()
        if path == "/api/v4/user":
            self._answer(200, {"id": 42, "username": "project_5_bot"})
        elif path == self.NOTES:
            page = int(parse_qs(urlsplit(self.path).query)["page"][0])
            following = str(page + 1) if page < len(self.pages) else ""
            self._answer(200, self.pages[page - 1], {"X-Next-Page": following})
        else:
            self._answer(404, {"message": "404 Not found"})

    def do_PUT(self) -> None:
        self._record()
        self._answer(200, {"id": 0})

    def do_POST(self) -> None:
        self._record()
        self._answer(201, {"id": 0})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@contextmanager
def fake_gitlab(pages: list[list[dict[str, Any]]]) -> Iterator[tuple[str, list[Any]]]:
    """A local GitLab API on 127.0.0.1 for the duration of the block; yields its API URL and
    the requests it received."""

    class Handler(FakeGitLab):
        pass

    Handler.pages = pages
    Handler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v4", Handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def note(id_: int, author: int, body: str, *, system: bool = False) -> dict[str, Any]:
    return {"id": id_, "author": {"id": author}, "body": body, "system": system}


def run_after_script(
    tmp_path: Path, api: str, variables: dict[str, str], *, body: str | None
) -> subprocess.CompletedProcess[str]:
    """The job's note script, as the runner runs it after the gate (which sets ``gate_exit``),
    in a merge request pipeline of project 5."""
    job = load(GITLAB)["promote-gate"]
    work = tmp_path / "work"
    work.mkdir()
    if body is not None:
        (work / COMMENT).write_text(body)
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env |= {key: str(value) for key, value in job["variables"].items()}
    env |= {
        "CI_API_V4_URL": api,
        "CI_PROJECT_ID": "5",
        "CI_MERGE_REQUEST_IID": "7",
        "PROMOTE_GATE_NOTE_TOKEN": "glpat-fake",
        "gate_exit": "1",  # a red gate: when the note matters
    }
    env |= variables
    env = {key: value for key, value in env.items() if value != "<unset>"}
    script = gitlab_note_script(job)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


NOTES_PATH = FakeGitLab.NOTES
ON = {"PROMOTE_GATE_MR_NOTE": "true"}


NOTE_PAGES = {
    # ours (author 42, the token's user, first line the marker) on the second page: followed
    "second-page": [
        [
            note(11, 42, f"{MARKER}\nmentioned in a system note", system=True),
            note(12, 7, f"{MARKER}\na person quoting the gate: not ours to edit"),
        ],
        [
            note(13, 42, "another note by the bot"),
            note(14, 42, f"{MARKER}\nold"),
            note(15, 42, MARKER),
        ],
    ],
    # ours on the first page: the pages after it cannot make it post a second note
    "first-page": [
        [note(12, 7, f"{MARKER}\nquoting"), note(14, 42, f"{MARKER}\nold")],
        [note(13, 42, "another note by the bot")],
    ],
}


@pytest.mark.parametrize("layout", NOTE_PAGES)
def test_gitlab_note_updates_the_note_it_posted(tmp_path: Path, layout: str) -> None:
    pages = NOTE_PAGES[layout]
    with fake_gitlab(pages) as (api, requests):
        proc = run_after_script(tmp_path, api, ON, body=BODY_TEXT)
    assert proc.returncode == 0, proc.stderr
    listed = [("GET", NOTES_PATH)] * (2 if layout == "second-page" else 1)
    assert [(m, urlsplit(p).path) for m, p, _, _ in requests] == [
        ("GET", "/api/v4/user"),
        *listed,
        ("PUT", f"{NOTES_PATH}/14"),
    ]
    assert requests[-1][3] == {"body": BODY_TEXT}
    assert {token for _, _, token, _ in requests} == {"glpat-fake"}
    assert "updated merge request note 14" in proc.stdout


def test_gitlab_note_is_posted_when_there_is_none(tmp_path: Path) -> None:
    pages = [[note(12, 7, f"{MARKER}\na person quoting the gate")]]
    with fake_gitlab(pages) as (api, requests):
        proc = run_after_script(tmp_path, api, ON, body=BODY_TEXT)
    assert proc.returncode == 0, proc.stderr
    assert [(m, urlsplit(p).path) for m, p, _, _ in requests][-1] == ("POST", NOTES_PATH)
    assert requests[-1][3] == {"body": BODY_TEXT}


@pytest.mark.parametrize(
    ("variables", "body"),
    [
        ({}, BODY_TEXT),  # the template's default: off
        ({"PROMOTE_GATE_MR_NOTE": "yes"}, BODY_TEXT),  # only "true" switches it on
        ({**ON, "CI_MERGE_REQUEST_IID": "<unset>"}, BODY_TEXT),  # a branch pipeline
        (ON, None),  # the gate wrote no comment (it never started)
        ({**ON, "gate_exit": "<unset>"}, BODY_TEXT),  # the gate did not run: not its comment
    ],
    ids=["off", "not-true", "branch-pipeline", "no-body", "gate-did-not-run"],
)
def test_gitlab_note_is_skipped(
    tmp_path: Path, variables: dict[str, str], body: str | None
) -> None:
    with fake_gitlab([[note(14, 42, MARKER)]]) as (api, requests):
        proc = run_after_script(tmp_path, api, variables, body=body)
    assert proc.returncode == 0, proc.stderr
    assert requests == []


def test_gitlab_note_without_a_token_says_so(tmp_path: Path) -> None:
    with fake_gitlab([[]]) as (api, requests):
        variables = {**ON, "PROMOTE_GATE_NOTE_TOKEN": "<unset>"}
        proc = run_after_script(tmp_path, api, variables, body=BODY_TEXT)
    assert proc.returncode == 0  # a line in the log: the job's status is the gate's
    assert "PROMOTE_GATE_NOTE_TOKEN" in proc.stderr
    assert "the gate's verdict stands" in proc.stdout
    assert requests == []


def test_github_comment_refuses_a_body_the_gate_did_not_write(tmp_path: Path) -> None:
    """A body without the marker (a file the change committed, the gate never having run) is
    not posted under the bot's name."""
    proc, calls = run_comment_step(tmp_path, [[]], body="## promote-gate: passed\n")
    assert proc.returncode == 0, proc.stderr
    assert calls == []


def test_gitlab_note_refuses_a_body_the_gate_did_not_write(tmp_path: Path) -> None:
    with fake_gitlab([[]]) as (api, requests):
        proc = run_after_script(
            tmp_path, api, {"PROMOTE_GATE_MR_NOTE": "true"}, body="## promote-gate: passed\n"
        )
    assert "is not promote-gate's comment" in proc.stderr
    assert [r for r in requests if r[0] in {"POST", "PUT"}] == []


def test_gitlab_note_never_follows_a_symlinked_body(tmp_path: Path) -> None:
    """A committed promote-gate-comment.md -> /proc/self/environ would post the token."""
    secret = tmp_path / "secret"
    secret.write_text(MARKER + "\nPROMOTE_GATE_NOTE_TOKEN=glpat-fake\n")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / COMMENT).symlink_to(secret)
    job = load(GITLAB)["promote-gate"]
    script = gitlab_note_script(job)
    with fake_gitlab([[]]) as (api, requests):
        env = {**os.environ, "PROMOTE_GATE_MR_NOTE": "true", "CI_API_V4_URL": api}
        env |= {"gate_exit": "0"}
        env |= {"CI_PROJECT_ID": "5", "CI_MERGE_REQUEST_IID": "7"}
        env |= {"PROMOTE_GATE_NOTE_TOKEN": "glpat-fake"}
        for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(key, None)
        proc = bash(script, tmp_path / "work", env)
    assert proc.returncode == 0, proc.stderr
    assert requests == []


@pytest.mark.parametrize("template", [WORKFLOW, GITLAB], ids=["github", "gitlab"])
def test_reports_come_from_this_run_only(template: Path) -> None:
    """Before anything runs, the job removes every report file it later uploads or posts: a
    change that commits them (or symlinks by their names) publishes nothing of its own."""
    if template == WORKFLOW:
        steps = github_steps(load(WORKFLOW))
        commands = [str(s.get("run", "")) for s in steps]
        published = set(uploaded(step_using(steps, "actions/upload-artifact")))
    else:
        job = load(GITLAB)["promote-gate"]
        commands = [str(c) for c in job["before_script"]]
        published = set(job["artifacts"]["paths"])
    # -r: a directory by a report's name (which `rm -f` cannot remove, stopping the job
    # before the gate) goes too; -f: absent names are fine; --: a name is never an option
    (cleanup,) = [c for c in commands if c.startswith("rm -rf -- ")]
    install = next(c for c in commands if "pip install" in c)
    assert commands.index(cleanup) < commands.index(install)
    assert published <= set(shlex.split(cleanup)[2:])


# (event, switched on, gate failed) -> whether the verdict is attested
ATTESTED: list[tuple[str, bool, bool, bool]] = [
    ("push", True, False, True),
    ("tag-push", True, False, False),  # a GTO tag push releases no bundle of its own
    ("push", False, False, False),  # off by default
    ("push", True, True, False),  # only a verdict that passed
    ("pull_request", True, False, False),  # deploys follow pushes to release branches
    ("merge_group", True, False, False),
]


@pytest.mark.parametrize(("event", "switched", "gate_failed", "attested"), ATTESTED)
def test_github_attests_only_a_passing_push(
    event: str, switched: bool, gate_failed: bool, attested: bool
) -> None:
    job = load(WORKFLOW)["jobs"][ATTEST_JOB]
    tag = event == "tag-push"
    contexts = github_contexts("push" if tag else event, ref_type="tag" if tag else "branch")
    contexts["vars"] = {"PROMOTE_GATE_ATTEST": "true"} if switched else {}
    contexts["needs"][GATE_JOB]["result"] = "failure" if gate_failed else "success"
    assert job_runs(job, contexts, gate_failed=gate_failed, cancelled=False) == attested
    assert job["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/attest@")]
    assert step["with"]["predicate-type"] == "https://in-toto.io/attestation/test-result/v0.1"
    header = WORKFLOW.read_text().split("\nname:")[0]
    assert "PROMOTE_GATE_ATTEST = true" in header
    assert "gh attestation verify publish/v2/model.json" in header


@pytest.mark.parametrize("broken", [False, True])
def test_github_attest_step_reads_the_verdict_the_gate_wrote(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    """The attest job's script, run on the statement `ci --attest` really wrote: a passing
    verdict becomes the predicate file and a checksums file `sha256sum -c` confirms in the
    repository; a failing one is refused."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    if broken:  # v1 being released with an edited report: PG106
        report = repo / "publish/v1/report.md"
        report.write_text(report.read_text() + "edited\n")
        run(repo, "git", "commit", "-qam", "edit v1")
    monkeypatch.chdir(tmp_path)
    verdict = tmp_path / "runner-temp/promote-gate-reports/promote-gate-verdict.json"
    verdict.parent.mkdir(parents=True)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "promote_gate", "ci", "--repo", str(repo), "--rev", "HEAD"),
            # the base before v1: v1 is the bundle being released, whose files are attested
            *("--base", "HEAD~2" if broken else "HEAD~1", "--target-branch", "main"),
            *("--attest", str(verdict)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == (1 if broken else 0), proc.stdout + proc.stderr
    (script,) = [s["run"] for s in load(WORKFLOW)["jobs"][ATTEST_JOB]["steps"] if "run" in s]
    output = tmp_path / "github-output"
    env = {"RUNNER_TEMP": str(tmp_path / "runner-temp"), "GITHUB_OUTPUT": str(output)}
    ran = bash(script, tmp_path, env)
    assert ran.returncode == (1 if broken else 0), ran.stderr
    if broken:
        return
    assert output.read_text() == "attest=true\n"
    statement = json.loads(verdict.read_text())
    predicate = json.loads((tmp_path / "runner-temp/promote-gate-predicate.json").read_text())
    assert predicate == statement["predicate"]
    assert predicate["result"] == "PASSED"
    subjects = tmp_path / "runner-temp/promote-gate-subjects.sha256"
    assert "publish/v1/model.json" in subjects.read_text()
    checked = subprocess.run(
        ["sha256sum", "-c", str(subjects)], cwd=repo, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_github_attest_job_without_a_verdict_attests_nothing(tmp_path: Path) -> None:
    """No verdict file (a branch the policy does not gate, no bundle to name): a notice,
    and the attest step is skipped; a symlink by that name is no verdict either."""
    job = load(WORKFLOW)["jobs"][ATTEST_JOB]
    (script,) = [s["run"] for s in job["steps"] if "run" in s]
    (attest,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/attest@")]
    assert attest["if"] == "${{ steps.verdict.outputs.attest == 'true' }}"
    reports = tmp_path / "runner-temp/promote-gate-reports"
    reports.mkdir(parents=True)
    for present in (False, True):
        if present:
            (tmp_path / "elsewhere.json").write_text('{"predicate": {"result": "PASSED"}}')
            (reports / VERDICT).symlink_to(tmp_path / "elsewhere.json")
        output = tmp_path / f"github-output-{present}"
        env = {"RUNNER_TEMP": str(tmp_path / "runner-temp"), "GITHUB_OUTPUT": str(output)}
        ran = bash(script, tmp_path, env)
        assert ran.returncode == 0, ran.stderr
        assert output.read_text() == "attest=false\n"
        assert "no verdict to attest" in ran.stdout


def _github_glob(pattern: str) -> re.Pattern[str]:
    """A GitHub branch/tag filter pattern: ``*`` never crosses ``/``, ``**`` does."""
    parts = re.split(r"(\*\*|\*)", pattern)
    mapping = {"**": ".*", "*": "[^/]*"}
    return re.compile("".join(mapping.get(p, re.escape(p)) for p in parts))


@pytest.mark.parametrize(
    ("tag", "gated"),
    [
        ("model@v2.0.0", True),  # a registration
        ("model#prod#3", True),  # a stage assignment
        ("model#prod", True),
        ("nested/model@v1.0.0-rc.1", True),  # GTO names may hold "/"
        ("sub=model#stage/x#4", True),  # a monorepo artifact, a stage with "/"
        ("v1.2.0", False),  # a plain release tag: no GTO, no tag run
        ("release-2026", False),
    ],
)
def test_templates_run_on_gto_tag_pushes(tag: str, gated: bool) -> None:
    """A GTO tag push is a release event: both templates run the gate for it (GitHub's
    `on.push.tags` filter, GitLab's `rules:` on CI_COMMIT_TAG), and for no other tag."""
    doc = load(WORKFLOW)
    on = doc.get("on", doc.get(True))
    patterns = on["push"]["tags"]
    assert any(_github_glob(p).fullmatch(tag) for p in patterns) == gated
    gitlab = load(GITLAB)
    (job,) = [j for j in gitlab.values() if isinstance(j, dict) and "rules" in j]
    tag_rules = [r["if"] for r in job["rules"] if "CI_COMMIT_TAG" in r["if"]]
    (rule,) = tag_rules
    regex = rule.split("=~", 1)[1].strip().strip("/")
    assert bool(re.search(regex, tag)) == gated
