"""SARIF for GitHub code scanning and the pull-request comment, read back as their consumers
read them: the SARIF log validated against the OASIS SARIF 2.1.0 JSON Schema with Errata 01
(vendored in tests/schemas), every finding a result at its file and line with its rule's help;
the comment body as the templates post it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    World,
    github_pr,
    release_v2,
)

from promote_gate.reporters import comment, sarif
from promote_gate.rules import BY_CODE, RULES
from promote_gate.rules.docs import rules_markdown

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json"
WORKFLOW = ROOT / "ci-templates" / "github" / "promote-gate.yml"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    # the OASIS errata01 schema (draft-04: "id"), the one promote-gate's logs name as $schema
    assert schema["id"] == sarif.SCHEMA
    validator = jsonschema.validators.validator_for(schema)
    assert validator is jsonschema.Draft4Validator
    return validator(schema, format_checker=jsonschema.FormatChecker())  # every known format


def _valid(path: Path) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(path.read_text())
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return log


def _invocation(log: dict[str, Any]) -> dict[str, Any]:
    (only,) = log["runs"][0]["invocations"]
    invocation: dict[str, Any] = only
    return invocation


def _results(log: dict[str, Any]) -> list[dict[str, Any]]:
    (only,) = log["runs"]
    results: list[dict[str, Any]] = only["results"]
    return results


def _where(result: dict[str, Any]) -> tuple[str, int]:
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    return physical["artifactLocation"]["uri"], physical["region"]["startLine"]


def _break(repo: Path) -> None:
    """Two unlisted files, a params snapshot edited, a report row edited."""
    bundle = repo / V1
    (bundle / "a.txt").write_text("copied in\n")
    (bundle / "b b.txt").write_text("a name with a space\n")
    params = bundle / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.02"))
    report = bundle / "report.md"
    report.write_text(report.read_text().replace("| `train.lr` | 0.05 |", "| `train.lr` | 0.5 |"))


def test_schema_refuses_a_broken_log(tmp_path: Path) -> None:
    """The validation below is not vacuous: the schema refuses what code scanning refuses."""
    broken = tmp_path / "broken.sarif"
    broken.write_text(json.dumps({"version": "2.1.0", "runs": [{"results": []}]}))  # no tool
    with pytest.raises(AssertionError, match="tool"):
        _valid(broken)


def test_the_vendored_schema_is_the_errata01_text() -> None:
    """Its README names its source and sha256; it holds what Errata 01 corrected (a region
    needs a start, a suppression has a ``status``), which the original 2.1.0 schema lacks."""
    readme = (SCHEMA.parent / "README.md").read_text()
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() in readme
    definitions = json.loads(SCHEMA.read_text())["definitions"]
    assert {"required": ["startLine"]} in definitions["region"]["anyOf"]
    suppression = definitions["suppression"]["properties"]
    assert "status" in suppression
    assert "state" not in suppression


def test_every_finding_is_a_result_where_junit_puts_it(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    _break(repo)
    out, xml = tmp_path / "r.sarif", tmp_path / "r.xml"
    code, _, _ = gate("check", "--repo", str(repo), "--sarif", str(out), "--junit-xml", str(xml))
    assert code == 1
    log = _valid(out)
    results = _results(log)
    junit = {
        (c.get("name", "").split(":")[0].split()[0], c.get("file"), int(c.get("line") or 1))
        for c in ET.parse(xml).getroot().iter("testcase")
        if c.find("failure") is not None
    }
    seen = {(r["ruleId"], _where(r)[0].replace("%20", " "), _where(r)[1]) for r in results}
    assert seen == junit  # every finding, each at its own file and line
    assert len(results) == len(junit)
    assert {r["level"] for r in results} == {"error"}
    assert f"{V1}/b%20b.txt" in {_where(r)[0] for r in results}  # a URI, percent-encoded
    # the report's row and the snapshot's key, by line
    pg304 = next(r for r in results if r["ruleId"] == "PG304")
    assert _where(pg304)[0] == f"{V1}/report.md"
    assert "(expected 0.05, found 0.5)" in pg304["message"]["text"]
    # each result names its rule; the rule carries its explain text as help
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in RULES]
    for result in results:
        descriptor = rules[result["ruleIndex"]]
        assert descriptor["id"] == result["ruleId"]
        assert "## How to fix" in descriptor["help"]["markdown"]
        assert BY_CODE[result["ruleId"]].fix in descriptor["help"]["markdown"]
    prints = [r["partialFingerprints"][sarif.FINGERPRINT] for r in results]
    assert len(set(prints)) == len(prints)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_fingerprints_do_not_move_with_the_base(repo: Path, gate: Gate, tmp_path: Path) -> None:
    first_base = run(repo, "git", "rev-parse", "HEAD").strip()
    (repo / "NOTES.md").write_text("unrelated\n")
    second_base = commit_all(repo, "unrelated")
    report = repo / V1 / "report.md"
    report.write_text(report.read_text().replace("# Release v1", "# Release v1 (edited)"))
    commit_all(repo, "edit the released report")
    prints = []
    for base in (first_base, second_base):
        out = tmp_path / f"{base}.sarif"
        code, _, _ = gate(
            "check", "--repo", str(repo), "--rev", "HEAD", "--base", base, "--sarif", str(out)
        )
        assert code == 1
        results = _results(_valid(out))
        assert any(base[:12] in r["message"]["text"] for r in results if r["ruleId"] == "PG501")
        prints.append(sorted(r["partialFingerprints"][sarif.FINGERPRINT] for r in results))
    assert prints[0] == prints[1]


def _rule_error_and_finding(repo: Path, gate: Gate, out: Path) -> dict[str, Any]:
    """A commit where two rules cannot run (dvc.yaml is not YAML) and another finds a file
    the manifest does not list: the gate exits 2, and writes its SARIF."""
    (repo / "dvc.yaml").write_text("stages: [not, a, mapping\n")
    (repo / V1 / "a.txt").write_text("copied in\n")
    commit_all(repo, "break dvc.yaml, add a file to v1")
    code, _, _ = gate("check", "--repo", str(repo), "--rev", "HEAD", "--sarif", str(out))
    assert code == 2
    return _valid(out)


def test_a_rule_that_cannot_run_leaves_the_findings_and_says_so(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    log = _rule_error_and_finding(repo, gate, tmp_path / "r.sarif")
    assert log["$schema"] == sarif.SCHEMA  # the schema it was just validated against
    results = _results(log)
    # the real finding is a result, at its file
    (finding,) = [r for r in results if r["ruleId"] == "PG103"]
    assert (finding["level"], _where(finding)) == ("error", (f"{V1}/a.txt", 1))
    # each rule that could not run is an error on the file its message names (the check
    # visibly fails there) ...
    errors = {r["ruleId"]: r for r in results if "could not run" in r["message"]["text"]}
    assert set(errors) == {"PG204", "PG504", "PG506"}
    assert {_where(r)[0] for r in errors.values()} == {"dvc.yaml"}
    assert {r["level"] for r in errors.values()} == {"error"}
    # ... and a tool execution notification naming the rule and its notification descriptor
    driver = log["runs"][0]["tool"]["driver"]
    invocation = _invocation(log)
    notes = {n["associatedRule"]["id"]: n for n in invocation["toolExecutionNotifications"]}
    assert set(notes) == {"PG204", "PG504", "PG506"}
    for code, note in notes.items():
        assert note["level"] == "error"
        assert driver["rules"][note["associatedRule"]["index"]]["id"] == code
        descriptor = note["descriptor"]
        assert driver["notifications"][descriptor["index"]]["id"] == descriptor["id"]
        assert descriptor["id"] == "rule-error"
        assert note["message"]["text"] == errors[code]["message"]["text"]
        (where,) = note["locations"]
        assert where["physicalLocation"]["artifactLocation"]["uri"] == "dvc.yaml"
    # the other rules ran: the run is uploaded (see below), so its findings reach code scanning
    assert invocation["executionSuccessful"] is True


def _template_uploads(sarif_file: Path, tmp_path: Path) -> bool:
    """Whether the GitHub template's code-scanning job uploads ``sarif_file``: its guard step
    run for real on it, where the job downloads it."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    (guard,) = [s for s in jobs["code-scanning"]["steps"] if s.get("id") == "evaluated"]
    runner_temp = tmp_path / "runner-temp"
    (runner_temp / "promote-gate-reports").mkdir(parents=True)
    shutil.copy(sarif_file, runner_temp / "promote-gate-reports" / "promote-gate.sarif")
    output = tmp_path / "github-output"
    env = {**os.environ, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(runner_temp)}
    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", guard["run"]]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return output.read_text() == "ok=true\n"


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (runners have it)")
def test_the_template_uploads_a_run_in_which_a_rule_could_not_run(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    out = tmp_path / "r.sarif"
    _rule_error_and_finding(repo, gate, out)
    assert _template_uploads(out, tmp_path)


def test_a_gate_error_is_a_failed_execution(tmp_path: Path, gate: Gate) -> None:
    (tmp_path / "plain").mkdir()
    out = tmp_path / "r.sarif"
    code, _, err = gate("check", "--repo", str(tmp_path / "plain"), "--sarif", str(out))
    assert code == 2
    assert "not inside a git repository" in err
    log = _valid(out)
    assert _results(log) == []
    invocation = _invocation(log)
    assert invocation["executionSuccessful"] is False  # the template uploads nothing
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["descriptor"] == {"id": "gate-error", "index": 0}
    assert log["runs"][0]["tool"]["driver"]["notifications"][0]["id"] == "gate-error"
    assert "associatedRule" not in note
    assert "not inside a git repository" in note["message"]["text"]


def test_evidence_not_read_is_a_note_not_silence(repo: Path, gate: Gate, tmp_path: Path) -> None:
    """A released v1, and neither the DVC cache nor the remote holds its model: its bytes
    cannot be hashed here. For a released bundle that is a skip, not a failure."""
    run(repo, "rm", "-rf", ".dvc/cache", "../dvc-remote")
    out = tmp_path / "r.sarif"
    argv = ("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD")
    code, _, _ = gate(*argv, "--sarif", str(out))
    assert code == 0  # not required for a released bundle (--require-data makes it fail) ...
    warnings = [r for r in _results(_valid(out)) if r["level"] == "note"]
    assert warnings  # ... but never silent
    assert all("not verified" in r["message"]["text"] for r in warnings)
    assert any("unreachable" in r["message"]["text"] for r in warnings)  # the remote, named
    assert all(_where(r)[0].startswith(V1) for r in warnings)


def test_help_uri_points_at_the_readme_rule_anchor() -> None:
    readme = (ROOT / "README.md").read_text()
    assert rules_markdown() in readme  # the README's table is the registry's
    for rule in RULES:
        uri = sarif.help_uri(rule, "https://docs.example/promote-gate#top")
        assert uri == f"https://docs.example/promote-gate#{rule.code.lower()}-{rule.name}"
        assert f'<a id="{rule.code.lower()}-{rule.name}"></a>' in readme
    assert sarif.help_uri(RULES[0], None) is None


def test_github_pr_writes_sarif_and_the_comment(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("v2", lambda work: release_v2(work, lr="0.1"))
    body = tmp_path / "comment.md"
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "v2", head, "--comment", str(body))
    assert verdict.code == 0, verdict.text
    log = _valid(tmp_path / "ws" / "promote-gate.sarif")  # on GitHub, written by default
    assert _results(log) == []
    text = body.read_text()
    assert text.splitlines()[0] == comment.MARKER
    assert "## promote-gate: passed" in text
    assert "Review of <code>publish/v2</code>" in text
    assert "Promotion review: `v1` → `v2`" in text
    assert "`train.lr`" in text  # the params that changed, side by side


def test_the_comment_says_what_failed_and_is_bounded(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def hand_edit(work: Path) -> None:
        report = work / V1 / "report.md"
        report.write_text(report.read_text() + "\nAlso good on Tuesdays.\n")
        commit_all(work, "edit the released report")

    head = world.branch("edit", hand_edit)
    body = tmp_path / "comment.md"
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "edit", head, "--comment", str(body))
    assert verdict.code == 1
    text = body.read_text()
    assert text.startswith(comment.MARKER + "\n")
    assert "## promote-gate: failed" in text
    assert "PG501 released-version-mutated" in text
    assert f"`{V1}/report.md:" in text  # at the first line the edit added
    # a body over GitHub's limit is cut at a line, its <details> closed, and says so
    from promote_gate.report import Report

    huge = Report((), "commit 0", notes=tuple(f"note {i} " + "x" * 200 for i in range(400)))
    cut = comment.render(huge)
    assert len(cut) <= comment.MAX_CHARS + 200
    assert cut.rstrip().endswith("hold all of it._")


def test_change_controlled_text_cannot_hide_the_rest_of_the_comment() -> None:
    """A param value or path with `<!--` would open an HTML comment in the rendered body."""
    from promote_gate.reporters import markdown

    cell = markdown.escape("lr <!-- the rest is hidden | x\ny")
    assert "<" not in cell
    assert "\\|" in cell
    assert "\n" not in cell
