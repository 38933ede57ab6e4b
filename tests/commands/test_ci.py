"""``promote-gate ci`` as GitHub Actions and GitLab CI run it.

Every test works on real repositories: a bare ``origin`` on disk, a pull request branch pushed
to it, and a CI workspace cloned from it (full, or shallow as actions/checkout and GitLab clone
by default), with the variables set exactly as the runners set them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

# Run alone (`mypy tests/commands/x.py`), mypy does not see tests/ as a root: conftest
# resolves only in the suite-wide run, so the ignore must tolerate being unused there.
from conftest import (  # type: ignore[import-not-found, unused-ignore]
    SHARED_SCHEMAS,
    Gate,
    commit_all,
    copy_repo,
    pinned_env,
    run,
)

from promote_gate.commands.demo import REMOTE
from promote_gate.commands.promote import promote

V1 = "publish/v1"
JUNIT = "promote-gate-junit.xml"
CODEQUALITY = "gl-code-quality-report.json"
FETCHING = "promote-gate: fetching history from origin"
# GitLab's Code Quality severities (docs.gitlab.com, "Code Quality report format")
SEVERITIES = {"info", "minor", "major", "critical", "blocker"}
NOWHERE = "0123456789abcdef0123456789abcdef01234567"  # a sha no repository has


@pytest.fixture(autouse=True)
def no_outer_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite may itself run in GitHub Actions or GitLab CI: their variables must not leak."""
    for key in list(os.environ):
        if key == "CI" or key.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_")):
            monkeypatch.delenv(key)


# --------------------------------------------------------------------------- repositories


@dataclass(frozen=True)
class PR:
    """A branch pushed to a bare origin, to be merged into main."""

    bare: Path
    branch: str
    base: str  # main's tip when the branch was cut: the merge base
    head: str


def make_origin(work: Path, bare: Path) -> str:
    """A bare origin on disk holding ``work``'s main; returns main's sha."""
    run(bare.parent, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    run(work, "git", "remote", "add", "origin", bare.as_uri())
    run(work, "git", "push", "-q", "origin", "main")
    return run(work, "git", "rev-parse", "main").strip()


def push_branch(work: Path, branch: str, change: Callable[[Path], None]) -> str:
    """Cut ``branch`` from main, commit ``change`` on it, push it; returns its head."""
    run(work, "git", "checkout", "-q", "-b", branch, "main")
    change(work)
    head = commit_all(work, f"{branch}: change")
    run(work, "git", "push", "-q", "origin", branch)
    run(work, "git", "checkout", "-q", "main")
    return head


def make_pr(repo: Path, tmp_path: Path, change: Callable[[Path], None], branch: str) -> PR:
    base = make_origin(repo, tmp_path / "origin.git")
    head = push_branch(repo, branch, change)
    return PR(tmp_path / "origin.git", branch, base, head)


def workspace(bare: Path, dest: Path, branch: str, *, shallow: bool) -> Path:
    """The CI's clone: `actions/checkout` with fetch-depth 0 or 1 / GitLab's GIT_DEPTH.

    No DVC cache (nothing is pulled); the DVC remote beside the origin is copied beside the
    clone, where the repository's relative ``../dvc-remote`` finds it."""
    remote = bare.parent / REMOTE
    if remote.exists() and not (dest.parent / REMOTE).exists():
        shutil.copytree(remote, dest.parent / REMOTE)
    depth = ["--depth", "1"] if shallow else []
    run(bare.parent, "git", "clone", "-q", *depth, "--branch", branch, bare.as_uri(), str(dest))
    assert (run(dest, "git", "rev-parse", "--is-shallow-repository").strip() == "true") is shallow
    return dest


def edit_v1_report(work: Path) -> None:
    report = work / V1 / "report.md"
    report.write_text(report.read_text() + "\nA note added after release.\n")


def add_unlisted(work: Path) -> None:
    (work / V1 / "notes.txt").write_text("copied in after release\n")


def many_unlisted(work: Path) -> None:
    for number in range(12):
        (work / V1 / f"notes-{number:02}.txt").write_text(f"copied in {number}\n")


def relax_and_edit(work: Path) -> None:
    """A PR that switches the rules off in its own policy and edits a released bundle."""
    relax_policy(work)
    edit_v1_report(work)


def relax_policy(work: Path) -> None:
    config = work / ".promote-gate.yaml"
    config.write_text(config.read_text() + "ignore: [PG1, PG2, PG3, PG4, PG5, PG6]\n")


@pytest.fixture(scope="module")
def v2_pr(template: Path, tmp_path_factory: pytest.TempPathFactory) -> PR:
    """A good pull request: lr 0.05 -> 0.1, a real ``dvc repro``, promoted as v2."""
    top = tmp_path_factory.mktemp("v2pr")
    work = top / "work"
    copy_repo(template, work)
    with pinned_env(tmp_path_factory.mktemp("v2prhome")):
        base = make_origin(work, top / "origin.git")
        run(work, "git", "checkout", "-q", "-b", "promote-v2")
        params = work / "params.yaml"
        params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.1"))
        run(work, "dvc", "repro", "-q")
        commit_all(work, "Retrain with lr 0.1")
        promote(str(work), "v2", [])
        head = commit_all(work, "Promote v2")
        run(work, "git", "push", "-q", "origin", "promote-v2")
        run(work, "dvc", "push", "-q")
    return PR(top / "origin.git", "promote-v2", base, head)


def copy_origin(pr: PR, tmp_path: Path) -> Path:
    """A private copy of a shared origin (and the DVC remote beside it), for a test that
    moves its branches."""
    bare = tmp_path / "origin.git"
    shutil.copytree(pr.bare, bare, symlinks=True)
    shutil.copytree(pr.bare.parent / REMOTE, tmp_path / REMOTE)
    return bare


# --------------------------------------------------------------------------- CI environments


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def github_event(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    payload: dict[str, object],
) -> Path:
    """GitHub Actions' variables, the event payload file and an empty step summary file."""
    runner = tmp_path / "runner"
    runner.mkdir(parents=True, exist_ok=True)
    event = runner / "event.json"
    event.write_text(json.dumps(payload))
    summary = runner / "step_summary.md"
    summary.write_text("")
    base = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    set_env(monkeypatch, base | env)
    return summary


def github_pr(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pr: PR,
    *,
    event: str = "pull_request",
    base_sha: str | None = None,
) -> Path:
    payload: dict[str, object] = {
        "action": "synchronize",
        "number": 1,
        "pull_request": {
            "number": 1,
            "base": {"ref": "main", "sha": base_sha or pr.base},
            "head": {"ref": pr.branch, "sha": pr.head},
        },
    }
    env = {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_SHA": pr.head,
        "GITHUB_REF": "refs/pull/1/merge",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": pr.branch,
    }
    return github_event(monkeypatch, tmp_path, env, payload)


def github_push(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, branch: str, before: str, after: str
) -> Path:
    env = {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_SHA": after,
        "GITHUB_REF": f"refs/heads/{branch}",
        "GITHUB_REF_NAME": branch,
        "GITHUB_BASE_REF": "",  # set, and empty, for every event but pull requests
        "GITHUB_HEAD_REF": "",
    }
    payload: dict[str, object] = {"ref": f"refs/heads/{branch}", "before": before, "after": after}
    return github_event(monkeypatch, tmp_path, env, payload)


def gitlab_mr(
    monkeypatch: pytest.MonkeyPatch,
    pr: PR,
    *,
    target: str = "main",
    diff_base: str | None = None,
) -> None:
    set_env(
        monkeypatch,
        {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_COMMIT_SHA": pr.head,
            "CI_COMMIT_REF_NAME": pr.branch,
            "CI_DEFAULT_BRANCH": "main",
            "CI_MERGE_REQUEST_IID": "1",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": pr.branch,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": target,
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": diff_base or pr.base,
        },
    )


def gitlab_push(monkeypatch: pytest.MonkeyPatch, branch: str, before: str, after: str) -> None:
    set_env(
        monkeypatch,
        {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_SHA": after,
            "CI_COMMIT_BRANCH": branch,
            "CI_COMMIT_REF_NAME": branch,
            "CI_COMMIT_BEFORE_SHA": before,
            "CI_DEFAULT_BRANCH": "main",
        },
    )


def gate_ci(
    gate: Gate, monkeypatch: pytest.MonkeyPatch, ws: Path, *extra: str
) -> tuple[int, str, str]:
    """``promote-gate ci`` from the workspace, as the job's script runs it."""
    monkeypatch.chdir(ws)
    return gate("ci", "--repo", str(ws), *extra)


# --------------------------------------------------------------------------- report readers

_ANNOTATION = re.compile(r"::error (?P<props>[^:]*)::(?P<message>.*)")


def runner_lines(out: str) -> list[str]:
    """stdout as the Actions runner reads it: \\r, \\n and \\r\\n all end a line."""
    return re.split(r"\r\n|\r|\n", out)


def error_commands(out: str) -> list[tuple[dict[str, str], str]]:
    """The ``::error`` workflow commands: (properties, message), still escaped."""
    found = []
    for line in runner_lines(out):
        if line.startswith("::error"):
            match = _ANNOTATION.fullmatch(line)
            assert match, f"not a well-formed annotation: {line!r}"
            props = dict(item.split("=", 1) for item in match["props"].split(","))
            found.append((props, match["message"]))
    return found


def validate_junit(path: Path) -> ET.Element:
    xsd = SHARED_SCHEMAS / "junit-10-with-file.xsd"
    if not xsd.exists():
        pytest.skip(f"{xsd} is absent (../shared is not beside this checkout)")
    import xmlschema

    xmlschema.XMLSchema(str(xsd)).validate(str(path))
    return ET.parse(path).getroot()


def failing_cases(root: ET.Element) -> dict[str, ET.Element]:
    """``promote-gate.publish.v1:PG501 released-version-mutated`` -> its failing testcase."""
    return {
        f"{case.get('classname')}:{case.get('name')}": case
        for case in root.iter("testcase")
        if case.find("failure") is not None
    }


def violations(out: str) -> int:
    match = re.search(r"promote-gate failed: .*: (\d+) violation\(s\)", out)
    assert match, out
    return int(match.group(1))


# --------------------------------------------------------------------------- GitHub pull requests


def test_github_pr_with_a_good_v2_passes(
    v2_pr: PR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    ws = workspace(v2_pr.bare, tmp_path / "ws", v2_pr.branch, shallow=False)
    summary = github_pr(monkeypatch, tmp_path, v2_pr)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 0, (out, err)
    assert "GitHub pull_request #1 into main" in out
    assert f"head {v2_pr.head[:12]}, base {v2_pr.base[:12]}" in out
    assert "promote-gate passed: 2 bundle(s)" in out
    assert error_commands(out) == []
    assert FETCHING not in err  # full history: nothing to fetch
    markdown = summary.read_text()
    assert markdown.startswith("## promote-gate: passed")
    assert "### `publish/v1`: ok" in markdown
    assert "### `publish/v2`: ok" in markdown
    assert "| `params.yaml` | `train.lr` | 0.1 |" in markdown  # v2's params table
    assert "<details><summary>Metrics</summary>" in markdown
    assert "| `eval/metrics.json` | `acc` |" in markdown
    root = validate_junit(ws / JUNIT)
    assert failing_cases(root) == {}
    suites = {suite.get("name") for suite in root.iter("testsuite")}
    assert suites == {"promote-gate:publish/v1", "promote-gate:publish/v2"}


def test_github_pr_editing_a_released_bundle_fails(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    pr = make_pr(repo, tmp_path, edit_v1_report, "fix-typo")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    summary = github_pr(monkeypatch, tmp_path, pr)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 1, (out, err)
    found = error_commands(out)
    added = len((repo / V1 / "report.md").read_text().splitlines()) + 1  # the first line added
    assert found[0][0] == {
        "file": f"{V1}/report.md",
        "line": str(added),
        "title": "PG501 released-version-mutated",
    }
    assert found[0][1].startswith(
        f"differs from the released v1 in the commit {pr.base[:12]} — fix: Revert"
    )
    assert f"::error file={V1}/report.md,line={added},title=PG501 released-version-mutated::" in out
    markdown = summary.read_text()
    assert markdown.startswith("## promote-gate: failed")
    assert "### `publish/v1`: FAIL" in markdown
    assert f"| ❌ PG501 released-version-mutated | `{V1}/report.md:{added}` |" in markdown
    assert "| `params.yaml` | `train.lr` | 0.05 |" in markdown
    assert "| `eval/metrics.json` | `acc` |" in markdown
    root = validate_junit(ws / JUNIT)
    case = failing_cases(root)[
        f"promote-gate.publish.v1:PG501 released-version-mutated: publish/v1/report.md:{added}"
    ]
    assert case.get("file") == f"{V1}/report.md"
    assert case.get("line") == str(added)
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "PG501"


@pytest.mark.parametrize("change", ["good-v2", "edit-report", "unlisted-file"])
def test_shallow_clone_fetches_history_and_reaches_the_same_verdict(
    change: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gate: Gate,
) -> None:
    if change == "good-v2":
        pr: PR = request.getfixturevalue("v2_pr")
    else:
        edit = edit_v1_report if change == "edit-report" else add_unlisted
        pr = make_pr(request.getfixturevalue("repo"), tmp_path, edit, change)
    results = {}
    for shallow in (False, True):
        name = "shallow" if shallow else "full"
        ws = workspace(pr.bare, tmp_path / name, pr.branch, shallow=shallow)
        summary = github_pr(monkeypatch, tmp_path / f"{name}-runner", pr)
        code, out, err = gate_ci(gate, monkeypatch, ws)
        assert (FETCHING in err) is shallow, err
        assert f"base {pr.base[:12]}" in out
        results[name] = (code, out, summary.read_text(), (ws / JUNIT).read_text())
    assert results["full"][0] == (0 if change == "good-v2" else 1)
    assert results["shallow"] == results["full"]


def test_annotations_are_escaped_as_actions_core_escapes_them(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    odd = "notes,50%:x.txt"  # with CR/LF it would be an unsafe name (PG105), named by repr

    def list_odd_path(work: Path) -> None:
        manifest = work / V1 / "manifest.json"
        doc = json.loads(manifest.read_text())
        doc["files"].append({**doc["files"][0], "path": odd})
        manifest.write_text(json.dumps(doc, indent=2))

    pr = make_pr(repo, tmp_path, list_odd_path, "odd-path")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    github_pr(monkeypatch, tmp_path, pr)
    code, out, _ = gate_ci(gate, monkeypatch, ws)
    assert code == 1
    found = error_commands(out)
    # properties: % CR LF : , escaped
    properties = [props for props, _ in found]
    assert {
        "file": f"{V1}/notes%2C50%25%3Ax.txt",
        "title": "PG102 file-missing",
    } in properties
    # data: % escaped, ':' and ',' kept
    messages = [message for _, message in found]
    assert any(m.startswith("listed in the manifest but notes,50%25:x.txt") for m in messages), (
        messages
    )


def test_file_names_cannot_inject_workflow_commands(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """A pull request names the files; the runner must see only the gate's own commands."""

    def add_hostile_name(work: Path) -> None:
        (work / V1 / "notes\n::stop-commands::pwned").write_text("x\n")

    pr = make_pr(repo, tmp_path, add_hostile_name, "hostile-name")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    github_pr(monkeypatch, tmp_path, pr)
    code, out, _ = gate_ci(gate, monkeypatch, ws)
    assert code == 1
    assert len(error_commands(out)) == violations(out)
    commands = [line for line in runner_lines(out) if line.startswith("::")]
    assert [c for c in commands if not c.startswith("::error ")] == [], (
        "lines the runner obeys as workflow commands (`::stop-commands::` hides every "
        "annotation after it)"
    )


def test_at_most_ten_annotations_and_the_last_counts_the_rest(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    def many(work: Path) -> None:
        many_unlisted(work)
        edit_v1_report(work)

    pr = make_pr(repo, tmp_path, many, "many")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    github_pr(monkeypatch, tmp_path, pr)
    code, out, _ = gate_ci(gate, monkeypatch, ws)
    assert code == 1
    total = violations(out)
    assert total > 20  # 13 x PG501, 12 x PG103, PG104
    found = error_commands(out)
    assert len(found) == 10
    assert all(props["title"].startswith("PG501 ") for props, _ in found[:9])  # most severe first
    props, message = found[-1]
    assert props == {"title": "promote-gate"}
    assert message.startswith(f"{total - 9} more violation(s)")
    assert "JUnit" in message


# --------------------------------------------------------------------------- GitHub pushes


@pytest.mark.parametrize("shallow", [False, True], ids=["full", "shallow"])
def test_github_push_of_a_bad_change_to_main_fails(
    shallow: bool, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    before = make_origin(repo, tmp_path / "origin.git")
    edit_v1_report(repo)
    after = commit_all(repo, "edit v1 on main")
    run(repo, "git", "push", "-q", "origin", "main")
    ws = workspace(tmp_path / "origin.git", tmp_path / "ws", "main", shallow=shallow)
    github_push(monkeypatch, tmp_path, "main", before, after)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 1, (out, err)
    assert "GitHub push on refs/heads/main" in out
    assert f"head {after[:12]}, base {before[:12]}" in out
    assert (FETCHING in err) is shallow
    assert error_commands(out)[0][0]["title"] == "PG501 released-version-mutated"


@pytest.mark.parametrize("shallow", [False, True], ids=["full", "shallow"])
def test_github_push_of_v2_to_main_passes(
    shallow: bool, v2_pr: PR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    bare = copy_origin(v2_pr, tmp_path)
    run(bare, "git", "update-ref", "refs/heads/main", v2_pr.head, v2_pr.base)  # fast-forward
    ws = workspace(bare, tmp_path / "ws", "main", shallow=shallow)
    summary = github_push(monkeypatch, tmp_path, "main", v2_pr.base, v2_pr.head)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 0, (out, err)
    assert f"base {v2_pr.base[:12]}" in out
    assert "### `publish/v2`: ok" in summary.read_text()


def test_github_push_to_a_feature_branch_is_not_gated(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    pr = make_pr(repo, tmp_path, edit_v1_report, "feature/x")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    github_push(monkeypatch, tmp_path, "feature/x", pr.base, pr.head)
    code, out, _ = gate_ci(gate, monkeypatch, ws)
    assert code == 0
    assert "feature/x is not a release branch: not gated" in out
    assert error_commands(out) == []
    root = validate_junit(ws / JUNIT)
    skipped = root.find(".//skipped")
    assert skipped is not None
    assert skipped.get("message") == "feature/x is not a release branch"


def test_not_gated_junit_is_well_formed_for_any_branch_name(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """git allows & < > " in branch names; the JUnit file GitLab/GitHub parse must stay XML."""
    branch = 'feature/R&D-"<fast>"'
    run(repo, "git", "check-ref-format", "--branch", branch)
    pr = make_pr(repo, tmp_path, edit_v1_report, branch)
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    github_push(monkeypatch, tmp_path, branch, pr.base, pr.head)
    code, out, _ = gate_ci(gate, monkeypatch, ws)
    assert code == 0
    assert f"{branch} is not a release branch" in out
    root = validate_junit(ws / JUNIT)
    skipped = root.find(".//skipped")
    assert skipped is not None
    assert skipped.get("message") == f"{branch} is not a release branch"


def test_pull_request_target_after_main_moved_judges_only_the_change(
    v2_pr: PR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """pull_request_target: GITHUB_SHA is main's tip, the head is the PR's; main got v2 since.

    The PR (a README edit cut before v2) touches no bundle; v2 being released on main
    meanwhile is not the PR removing it.
    """
    bare = copy_origin(v2_pr, tmp_path)
    dev = tmp_path / "dev"
    run(tmp_path, "git", "clone", "-q", "--branch", "main", bare.as_uri(), str(dev))

    def document(work: Path) -> None:
        (work / "README.md").write_text("Models.\n")

    head = push_branch(dev, "docs", document)
    run(bare, "git", "update-ref", "refs/heads/main", v2_pr.head, v2_pr.base)  # v2 merged
    ws = workspace(bare, tmp_path / "ws", "docs", shallow=False)
    github_pr(
        monkeypatch,
        tmp_path,
        PR(bare, "docs", v2_pr.base, head),
        event="pull_request_target",
        base_sha=v2_pr.head,
    )
    monkeypatch.setenv("GITHUB_SHA", v2_pr.head)  # the base branch's tip, for this event
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert f"head {head[:12]}" in out
    assert "released bundle v2 was removed" not in out
    assert code == 0, (out, err)


# --------------------------------------------------------------------------- GitLab


def test_gitlab_merge_request_writes_a_code_quality_report(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    def bad(work: Path) -> None:
        edit_v1_report(work)
        add_unlisted(work)

    pr = make_pr(repo, tmp_path, bad, "edit-v1")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    gitlab_mr(
        monkeypatch, pr, diff_base=run(ws, "git", "merge-base", "origin/main", "HEAD").strip()
    )
    code, out, err = gate_ci(gate, monkeypatch, ws, "--codequality", CODEQUALITY)
    assert code == 1, (out, err)
    assert "GitLab merge request !1 into main" in out
    assert f"head {pr.head[:12]}, base {pr.base[:12]}" in out
    assert error_commands(out) == []  # GitHub's workflow commands are GitHub's
    issues = json.loads((ws / CODEQUALITY).read_text())
    assert isinstance(issues, list)
    assert len(issues) == violations(out)
    for issue in issues:
        assert isinstance(issue["description"], str)
        assert issue["description"]
        assert re.fullmatch(r"PG\d{3}", issue["check_name"])
        assert issue["severity"] in SEVERITIES
        path = issue["location"]["path"]
        assert path.startswith(f"{V1}/"), path  # repo-relative, so the MR diff can show it
        assert run(ws, "git", "cat-file", "-t", f"{pr.head}:{path}").strip() == "blob"
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    by_check = {(i["check_name"], i["location"]["path"]) for i in issues}
    assert ("PG501", f"{V1}/report.md") in by_check
    assert ("PG103", f"{V1}/notes.txt") in by_check
    root = validate_junit(ws / JUNIT)
    added = len((repo / V1 / "report.md").read_text().splitlines()) + 1  # the first line added
    assert (
        f"promote-gate.publish.v1:PG501 released-version-mutated: publish/v1/report.md:{added}"
        in failing_cases(root)
    )


def test_gitlab_merge_request_into_a_feature_branch_still_writes_its_reports(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """The template's job runs for every MR and declares both reports as artifacts."""
    pr = make_pr(repo, tmp_path, edit_v1_report, "edit-v1")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    gitlab_mr(monkeypatch, pr, target="feature/y")
    code, out, _ = gate_ci(gate, monkeypatch, ws, "--codequality", CODEQUALITY)
    assert code == 0
    assert "feature/y is not a release branch" in out
    validate_junit(ws / JUNIT)
    assert (ws / CODEQUALITY).is_file(), "--codequality FILE was asked for and not written"
    assert json.loads((ws / CODEQUALITY).read_text()) == []


@pytest.mark.parametrize("change", ["good-v2", "edit-report"])
def test_gitlab_branch_pipeline_compares_with_the_previous_tip(
    change: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gate: Gate,
) -> None:
    if change == "good-v2":
        v2: PR = request.getfixturevalue("v2_pr")
        bare = copy_origin(v2, tmp_path)
        run(bare, "git", "update-ref", "refs/heads/main", v2.head, v2.base)
        before, after = v2.base, v2.head
    else:
        work: Path = request.getfixturevalue("repo")
        bare = tmp_path / "origin.git"
        before = make_origin(work, bare)
        edit_v1_report(work)
        after = commit_all(work, "edit v1 on main")
        run(work, "git", "push", "-q", "origin", "main")
    ws = workspace(bare, tmp_path / "ws", "main", shallow=True)  # GitLab's default GIT_DEPTH
    gitlab_push(monkeypatch, "main", before, after)
    code, out, err = gate_ci(gate, monkeypatch, ws, "--codequality", CODEQUALITY)
    assert code == (0 if change == "good-v2" else 1), (out, err)
    assert "GitLab push pipeline on main" in out
    assert f"head {after[:12]}, base {before[:12]}" in out
    issues = json.loads((ws / CODEQUALITY).read_text())
    assert [i["check_name"] for i in issues][:1] == ([] if change == "good-v2" else ["PG501"])


# --------------------------------------------------------------------------- policy


def test_a_pr_cannot_switch_off_its_own_gate(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    pr = make_pr(repo, tmp_path, relax_and_edit, "relax")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=True)
    summary = github_pr(monkeypatch, tmp_path, pr)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 1, (out, err)
    assert "PG501 released-version-mutated" in out
    assert "this change edits the promote-gate policy" in out
    assert f"the policy of the base (commit {pr.base[:12]}) applies until it is merged" in out
    assert "until it is merged" in summary.read_text()
    assert "WARNING" not in out


def test_policy_from_head_applies_the_change_and_says_so_loudly(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    pr = make_pr(repo, tmp_path, relax_and_edit, "relax")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    github_pr(monkeypatch, tmp_path, pr)
    code, out, err = gate_ci(gate, monkeypatch, ws, "--policy-from", "head")
    assert "promote-gate: WARNING: --policy-from head" in out
    assert "a change can switch off its own gate" in out
    # the head's policy ignores every rule: a run in which no rule ran is not a pass
    assert code == 2, (out, err)
    assert "no rule ran: every rule was skipped" in out


# --------------------------------------------------------------------------- history and fallback


def test_base_that_exists_nowhere_is_an_error_naming_the_fix(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    pr = make_pr(repo, tmp_path, edit_v1_report, "edit-v1")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=True)
    gitlab_mr(monkeypatch, pr, diff_base=NOWHERE)
    code, out, err = gate_ci(gate, monkeypatch, ws, "--codequality", CODEQUALITY)
    assert code == 2, (out, err)
    assert FETCHING in err
    assert "fetch-depth: 0" in err
    assert 'GIT_DEPTH: "0"' in err
    assert "promote-gate passed" not in out
    root = validate_junit(ws / JUNIT)
    error = root.find(".//error")
    assert error is not None
    assert NOWHERE[:12] in (error.get("message") or "")
    assert "fetch-depth: 0" in (error.text or "")


def test_without_ci_variables_the_flags_decide(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    pr = make_pr(repo, tmp_path, edit_v1_report, "edit-v1")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=False)
    code, out, _ = gate_ci(gate, monkeypatch, ws, "--rev", pr.head, "--base", pr.base)
    assert code == 1
    assert "no CI detected: --rev/--base decide" in out
    assert f"head {pr.head[:12]}, base {pr.base[:12]}" in out
    assert "PG501 released-version-mutated" in out
    assert error_commands(out) == []
    junit = failing_cases(validate_junit(ws / JUNIT))
    added = len((repo / V1 / "report.md").read_text().splitlines()) + 1  # the first line added
    assert (
        f"promote-gate.publish.v1:PG501 released-version-mutated: publish/v1/report.md:{added}"
        in junit
    )
    # no --base: every bundle is judged as new; nothing is "released" to compare with
    code, out, _ = gate_ci(gate, monkeypatch, ws, "--rev", pr.head)
    assert "base none" in out
    assert "PG501" not in out
    assert code == 1  # the edited report still breaks v1's own checksums (PG106)
    assert "PG106 checksums-mismatch" in out


def new_release_branch(v2: PR, tmp_path: Path, *, stale: bool) -> tuple[Path, str]:
    """v2's branch pushed as a new branch ``release/2`` (optionally with params changed after)."""
    bare = copy_origin(v2, tmp_path)
    dev = tmp_path / "dev"
    run(tmp_path, "git", "clone", "-q", "--branch", v2.branch, bare.as_uri(), str(dev))
    run(dev, "git", "checkout", "-q", "-b", "release/2")
    if stale:  # committed without dvc repro: v2 no longer matches its pipeline
        params = dev / "params.yaml"
        params.write_text(params.read_text().replace("lr: 0.1", "lr: 0.3"))
        commit_all(dev, "Try lr 0.3")
    run(dev, "git", "push", "-q", "origin", "release/2")
    return bare, run(dev, "git", "rev-parse", "HEAD").strip()


def test_github_push_creating_a_release_branch_judges_its_new_bundles(
    v2_pr: PR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """A new branch has no `before`: it is compared with main, where it was cut, not itself."""
    bare, head = new_release_branch(v2_pr, tmp_path, stale=True)
    ws = workspace(bare, tmp_path / "ws", "release/2", shallow=False)
    github_push(monkeypatch, tmp_path, "release/2", "0" * 40, head)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert f"head {head[:12]}, base {v2_pr.base[:12]}" in out, (out, err)
    assert "PG204 pipeline-stale" in out
    assert code == 1


@pytest.mark.parametrize("shallow", [False, True], ids=["full", "shallow"])
def test_github_push_creating_a_release_branch_with_a_good_v2_passes(
    shallow: bool, v2_pr: PR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    bare, head = new_release_branch(v2_pr, tmp_path, stale=False)
    ws = workspace(bare, tmp_path / "ws", "release/2", shallow=shallow)
    github_push(monkeypatch, tmp_path, "release/2", "0" * 40, head)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert "PG205" not in out, "v1 and v2's source commits are in the branch's history"
    assert code == 0, (out, err)


def test_an_invalid_policy_in_the_head_does_not_stop_the_base_policy(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """The head's .promote-gate.yaml may use a key this version does not know: the base's
    policy applies, so the gate still runs (and says the policy changed)."""

    def future_policy(work: Path) -> None:
        config = work / ".promote-gate.yaml"
        config.write_text(config.read_text() + "future_key: 1\n")

    pr = make_pr(repo, tmp_path, future_policy, "future")
    ws = workspace(pr.bare, tmp_path / "ws", pr.branch, shallow=True)
    github_pr(monkeypatch, tmp_path, pr)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 0, (out, err)
    assert "this change edits the promote-gate policy" in out


def test_new_release_branch_cannot_drop_itself_from_the_policy(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    def drop_and_edit(work: Path) -> None:
        config = work / ".promote-gate.yaml"
        config.write_text(config.read_text() + "release_branches: [main]\n")
        edit_v1_report(work)

    make_origin(repo, tmp_path / "origin.git")
    head = push_branch(repo, "release/2", drop_and_edit)
    ws = workspace(tmp_path / "origin.git", tmp_path / "ws", "release/2", shallow=True)
    github_push(monkeypatch, tmp_path, "release/2", "0" * 40, head)
    code, out, err = gate_ci(gate, monkeypatch, ws)
    assert code == 1, (out, err)
    assert "PG501" in out


def test_a_ci_cache_is_used_and_each_object_in_it_hashed_before_it_counts(
    v2_pr: PR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """`ci --dvc-cache DIR` (a cache CI restored, e.g. with actions/cache): with the DVC
    remote gone, its objects are the evidence — once each hashes to its name; a forged one
    is said to be forged and counts for nothing."""
    ws = workspace(v2_pr.bare, tmp_path / "ws", v2_pr.branch, shallow=False)
    cache = tmp_path / "ci-cache"
    shutil.copytree(tmp_path / REMOTE, cache)  # a DVC remote and a cache share the layout
    shutil.rmtree(tmp_path / REMOTE)
    github_pr(monkeypatch, tmp_path, v2_pr)
    code, out, err = gate_ci(gate, monkeypatch, ws, "--dvc-cache", str(cache))
    assert code == 0, (out, err)
    pointer = yaml.safe_load((ws / "publish/v2/model.json.dvc").read_text())
    md5 = pointer["outs"][0]["md5"]
    forged = cache / "files" / "md5" / md5[:2] / md5[2:]
    forged.chmod(0o644)
    forged.write_bytes(b'{"weights": [1, 2, 3]}\n')
    code, out, err = gate_ci(gate, monkeypatch, ws, "--dvc-cache", str(cache))
    assert code == 1, (out, err)
    assert f"does not hash to {md5} (corrupt or forged): ignored" in out
