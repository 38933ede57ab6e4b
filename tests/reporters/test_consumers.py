"""What CI consumers show, read back the way they read it: the JUnit XML (file, line, one
case per finding, skip text), GitLab Code Quality (location, description, blockers, stable
fingerprints) and GitHub workflow commands (parsed with the runner's own rules)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import edit_json, resum  # type: ignore[import-not-found, unused-ignore]

V1 = "publish/v1"


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return 1 + next(i for i, text in enumerate(lines) if needle in text)


def _junit(gate: Gate, tmp: Path, *argv: str) -> tuple[int, ET.Element]:
    out = tmp / "junit.xml"
    code, _, _ = gate(*argv, "--junit-xml", str(out))
    return code, ET.parse(out).getroot()


def _codequality(gate: Gate, tmp: Path, *argv: str) -> tuple[int, list[dict[str, Any]]]:
    out = tmp / "cq.json"
    code, _, _ = gate(*argv, "--format", "gitlab", "--output", str(out))
    issues: list[dict[str, Any]] = json.loads(out.read_text())
    return code, issues


_COMMAND = re.compile(r"^::(?P<cmd>[a-z]+)(?: (?P<props>[^:]*))?::(?P<data>.*)$")


def _annotations(text: str) -> list[dict[str, str]]:
    """``::error file=…,line=…,title=…::message`` lines as the runner parses them."""

    def unescape(value: str, prop: bool) -> str:
        value = value.replace("%0D", "\r").replace("%0A", "\n")
        if prop:
            value = value.replace("%3A", ":").replace("%2C", ",")
        return value.replace("%25", "%")

    found = []
    for line in text.splitlines():
        match = _COMMAND.match(line)
        if not match or match["cmd"] != "error":
            continue
        props = dict(p.split("=", 1) for p in (match["props"] or "").split(",") if "=" in p)
        found.append(
            {k: unescape(v, True) for k, v in props.items()}
            | {"message": unescape(match["data"], False)}
        )
    return found


def _break(repo: Path) -> None:
    """Two unlisted files, a params snapshot edited, a report row edited, a SHA256SUMS line."""
    bundle = repo / V1
    (bundle / "a.txt").write_text("copied in\n")
    (bundle / "b.txt").write_text("copied in too\n")
    params = bundle / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.02"))
    report = bundle / "report.md"
    report.write_text(report.read_text().replace("| `train.lr` | 0.05 |", "| `train.lr` | 0.5 |"))


def test_junit_one_case_per_finding_with_file_and_line(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    _break(repo)
    code, root = _junit(gate, tmp_path, "check", "--repo", str(repo))
    assert code == 1
    failing = [c for c in root.iter("testcase") if c.find("failure") is not None]
    by_rule: dict[str, list[ET.Element]] = {}
    for case in failing:
        failure = case.find("failure")
        assert failure is not None
        by_rule.setdefault(failure.get("type", ""), []).append(case)
    # each PG103 finding is a case of its own, each with its own file
    assert sorted(c.get("file", "") for c in by_rule["PG103"]) == [f"{V1}/a.txt", f"{V1}/b.txt"]
    assert sorted(c.get("name", "") for c in by_rule["PG103"]) == [
        f"PG103 file-unlisted: {V1}/a.txt",
        f"PG103 file-unlisted: {V1}/b.txt",
    ]
    # the report's row and the snapshot's key, by line
    row = _line_of(repo / V1 / "report.md", "| `train.lr` | 0.5 |")
    assert {c.get("line") for c in by_rule["PG304"]} == {str(row)}
    assert {c.get("file") for c in by_rule["PG304"]} == {f"{V1}/report.md"}
    key = _line_of(repo / V1 / "params.yaml", "train.lr")
    assert [c.get("line") for c in by_rule["PG302"]] == [str(key)]
    # the root counts cases: failures are findings
    assert root.get("failures") == str(len(failing))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == str(len(failing))


def test_skip_reason_is_the_skipped_elements_text(repo: Path, gate: Gate, tmp_path: Path) -> None:
    code, root = _junit(gate, tmp_path, "check", "--repo", str(repo))
    assert code == 0
    skipped = {
        c.get("name"): c.find("skipped")
        for c in root.iter("testcase")
        if c.find("skipped") is not None
    }
    element = skipped["PG505 data-not-pushed"]
    assert element is not None
    assert element.text == element.get("message")
    assert "require_pushed" in (element.text or "")


def test_codequality_carries_location_line_and_both_sides(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    _break(repo)
    code, issues = _codequality(gate, tmp_path, "check", "--repo", str(repo))
    assert code == 1
    row = _line_of(repo / V1 / "report.md", "| `train.lr` | 0.5 |")
    pg304 = [i for i in issues if i["check_name"] == "PG304"]
    assert [i["location"] for i in pg304] == [{"path": f"{V1}/report.md", "lines": {"begin": row}}]
    assert "(expected 0.05, found 0.5)" in pg304[0]["description"]
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_codequality_fingerprints_do_not_move_with_the_base(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    """The same violation against two bases (the second an unrelated commit later)."""
    first_base = run(repo, "git", "rev-parse", "HEAD").strip()
    (repo / "NOTES.md").write_text("unrelated\n")
    second_base = commit_all(repo, "unrelated")
    report = repo / V1 / "report.md"
    report.write_text(report.read_text().replace("# Release v1", "# Release v1 (edited)"))
    commit_all(repo, "edit the released report")
    prints = []
    for base in (first_base, second_base):
        code, issues = _codequality(
            gate, tmp_path, "check", "--repo", str(repo), "--rev", "HEAD", "--base", base
        )
        assert code == 1
        pg501 = [i for i in issues if i["check_name"] == "PG501"]
        assert pg501
        assert base[:12] in pg501[0]["description"]  # the message names the base ...
        prints.append(sorted(i["fingerprint"] for i in issues))
    assert prints[0] == prints[1]  # ... the fingerprint does not


def test_a_rule_that_cannot_run_is_visible_everywhere(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    """dvc.yaml broken at the checked commit: the pipeline's status (PG204), its outputs
    (PG504) and its artifacts (PG506) cannot be told. Each reporter shows it where findings go, on dvc.yaml."""
    (repo / "dvc.yaml").write_text("stages: [not, a, mapping\n")
    commit_all(repo, "break dvc.yaml")
    argv = ("check", "--repo", str(repo), "--rev", "HEAD")
    code, root = _junit(gate, tmp_path, *argv)
    assert code == 2
    errors = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert {c.get("name") for c in errors} == {
        "PG204 pipeline-stale",
        "PG504 internal-path-leak",
        "PG506 artifact-outside-publish",
    }
    assert {c.get("file") for c in errors} == {"dvc.yaml"}
    code, issues = _codequality(gate, tmp_path, *argv)
    assert code == 2
    blockers = {i["check_name"]: i for i in issues if i["severity"] == "blocker"}
    assert set(blockers) == {"PG204", "PG504", "PG506"}
    assert blockers["PG204"]["location"]["path"] == "dvc.yaml"
    assert "could not run" in blockers["PG204"]["description"]
    code, out, _ = gate(*argv, "--format", "github")
    titles = {a.get("title") for a in _annotations(out)}
    assert "PG204 pipeline-stale could not run" in titles


def test_a_gate_error_is_a_blocker_and_an_annotation(tmp_path: Path, gate: Gate) -> None:
    (tmp_path / "plain").mkdir()
    cq = tmp_path / "cq.json"
    code, _, err = gate(
        "check", "--repo", str(tmp_path / "plain"), "--format", "gitlab", "--output", str(cq)
    )
    assert code == 2
    assert "not inside a git repository" in err
    (issue,) = json.loads(cq.read_text())
    assert issue["severity"] == "blocker"
    assert "not inside a git repository" in issue["description"]
    code, out, _ = gate("check", "--repo", str(tmp_path / "plain"), "--format", "github")
    (annotation,) = _annotations(out)
    assert "not inside a git repository" in annotation["message"]


def test_annotations_point_at_files_the_commit_has(repo: Path, gate: Gate, tmp_path: Path) -> None:
    """In a commit the DVC-tracked model is only its pointer: that is where a finding goes."""
    edit_json(
        repo / V1 / "manifest.json",
        lambda doc: doc["files"][0].update(md5="0" * 32),
    )
    resum(repo / V1)
    commit_all(repo, "forge the model's md5")
    code, root = _junit(gate, tmp_path, "check", "--repo", str(repo), "--rev", "HEAD")
    assert code == 1
    files = {
        c.get("file")
        for c in root.iter("testcase")
        if (f := c.find("failure")) is not None and f.get("type") in {"PG102", "PG104"}
    }
    assert f"{V1}/model.json.dvc" in files
    assert f"{V1}/model.json" not in files
    code, out, _ = gate("check", "--repo", str(repo), "--rev", "HEAD", "--format", "github")
    paths = {a.get("file") for a in _annotations(out)}
    assert f"{V1}/model.json" not in paths
    assert all((repo / p).exists() for p in paths if p), paths
