"""A finding is shown at its line — in JUnit, SARIF, GitHub annotations and GitLab Code
Quality alike — wherever its evidence has one: a ``.dvc`` pointer's ``md5:``, a metric's key
in metrics.json, a stage in dvc.lock, ``source.commit`` in manifest.json, where a parser
stopped. Each line is checked against the file as committed."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.demo import resum
from promote_gate.gate import check_repo

V1 = "publish/v1"
Shown = tuple[str, str, int | None]  # (rule code, file, line) as a CI consumer shows it


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of ``text`` holding ``needle``, once."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def _committed(repo: Path, path: str, rev: str = "HEAD") -> str:
    return run(repo, "git", "show", f"{rev}:{path}")


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _cases(gate: Gate, out: Path, *argv: str) -> list[Shown]:
    """Failing JUnit cases as (code, file, line)."""
    code, _, err = gate(*argv, "--junit-xml", str(out))
    assert code == 1, err
    found = []
    for case in ET.parse(out).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            found.append((failure.get("type", ""), case.get("file", ""), _int(case.get("line"))))
    return sorted(found)


def _github(gate: Gate, *argv: str) -> list[Shown]:
    _, out, _ = gate(*argv, "--format", "github")
    found = []
    for match in re.finditer(r"(?m)^::error (?P<props>[^:]*)::", out):
        props = dict(p.split("=", 1) for p in match["props"].split(","))
        found.append((props["title"].split()[0], props["file"], _int(props.get("line"))))
    return sorted(found)


def _sarif(gate: Gate, tmp: Path, *argv: str) -> list[Shown]:
    out = tmp / "report.sarif"
    gate(*argv, "--format", "sarif", "--output", str(out))
    doc: dict[str, Any] = json.loads(out.read_text())
    return sorted(
        (
            result["ruleId"],
            place["artifactLocation"]["uri"],
            place.get("region", {}).get("startLine"),
        )
        for result in doc["runs"][0]["results"]
        for place in [result["locations"][0]["physicalLocation"]]
    )


def _codequality(gate: Gate, tmp: Path, *argv: str) -> list[Shown]:
    out = tmp / "codequality.json"
    gate(*argv, "--format", "gitlab", "--output", str(out))
    issues: list[dict[str, Any]] = json.loads(out.read_text())
    return sorted(
        (i["check_name"], i["location"]["path"], i["location"]["lines"]["begin"]) for i in issues
    )


def _break_three_ways(repo: Path) -> None:
    """The released model's pointer names other content, a metric is typed in, and
    source.commit names a commit off the branch; SHA256SUMS agrees (a careful forger)."""
    run(repo, "git", "checkout", "-q", "-b", "side")
    side = commit_all(repo, "experiment on a side branch")
    run(repo, "git", "checkout", "-q", "main")
    pointer = repo / V1 / "model.json.dvc"
    pointer.write_text(re.sub(r"md5: \w+", "md5: " + "0123456789abcdef" * 2, pointer.read_text()))
    metrics = repo / V1 / "metrics.json"
    doc = json.loads(metrics.read_text())
    doc["eval/metrics.json"]["values"]["acc"] = 0.99
    metrics.write_text(json.dumps(doc, indent=2))
    manifest = repo / V1 / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["source"]["commit"] = side
    manifest.write_text(json.dumps(doc, indent=2))
    resum(repo / V1)
    commit_all(repo, "v1 broken three ways")


def test_pointer_metric_and_source_findings_are_at_their_lines(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    _break_three_ways(repo)
    argv = ("check", "--repo", str(repo), "--rev", "HEAD")
    shown = _cases(gate, tmp_path / "junit.xml", *argv)
    # the commit has only the model's pointer: both PG104 findings are shown at its md5 line
    md5 = _line_of(_committed(repo, f"{V1}/model.json.dvc"), "md5:")
    acc = _line_of(_committed(repo, f"{V1}/metrics.json"), '"acc"')
    commit = _line_of(_committed(repo, f"{V1}/manifest.json"), '"commit"')
    assert shown == [
        ("PG104", f"{V1}/model.json.dvc", md5),  # pointer md5 differs from the manifest
        ("PG104", f"{V1}/model.json.dvc", md5),  # its content cannot be verified
        ("PG205", f"{V1}/manifest.json", commit),
        ("PG402", f"{V1}/metrics.json", acc),
    ]
    # every CI consumer is told the same file and line
    assert _github(gate, *argv) == shown
    assert _sarif(gate, tmp_path, *argv) == shown
    assert _codequality(gate, tmp_path, *argv) == shown


def test_a_person_reads_the_line_with_the_file_it_is_in(repo: Path) -> None:
    # data shown at its pointer: the line is the pointer's, and says so
    _break_three_ways(repo)
    (bundle,) = check_repo(str(repo), rev="HEAD").bundles
    md5 = _line_of(_committed(repo, f"{V1}/model.json.dvc"), "md5:")
    acc = _line_of(_committed(repo, f"{V1}/metrics.json"), '"acc"')
    commit = _line_of(_committed(repo, f"{V1}/manifest.json"), '"commit"')
    assert sorted(bundle.where(f) for r in bundle.failed for f in r.findings) == [
        f"{V1}/manifest.json:{commit}",
        f"{V1}/metrics.json:{acc}",
        f"{V1}/model.json (model.json.dvc:{md5})",
        f"{V1}/model.json.dvc:{md5}",
    ]


def test_stale_stage_is_shown_at_its_entry_in_dvc_lock(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.2"))
    commit_all(repo, "a param changed, dvc repro forgotten")
    shown = _cases(gate, tmp_path / "junit.xml", "check", "--repo", str(repo), "--rev", "HEAD")
    stage = _line_of(_committed(repo, "dvc.lock"), "  train:")
    assert shown == [("PG204", "dvc.lock", stage)]


# a stage of a nested dvc.yaml: its findings are at its own dvc.lock, where DVC records it
NESTED = {
    "w.py": "import json, sys\njson.dump({'made': sys.argv[2:]}, open(sys.argv[1], 'w'))\n",
    "sub/params.yaml": "train:\n  lr: 0.1\n",
    "sub/dvc.yaml": "stages:\n"
    "  train:\n    cmd: python ../w.py model.json\n    deps: [../w.py]\n"
    "    params: [train.lr]\n    outs: [model.json]\n"
    "  measure:\n    cmd: python ../w.py metrics.json 1\n    deps: [model.json]\n"
    "    metrics:\n      - metrics.json:\n          cache: false\n",
    ".promote-gate.yaml": "outputs: [sub/model.json]\n",
}


def test_a_nested_stage_is_shown_in_its_own_dvc_lock(tmp_path: Path, gate: Gate) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run(repo, "git", "init", "-q", "-b", "main")
    run(repo, "dvc", "init", "-q")
    for rel, text in NESTED.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    run(repo, "dvc", "repro", "-q", "--all-pipelines")
    commit_all(repo, "pipeline")
    code, _, err = gate("promote", "v1", "--repo", str(repo))
    assert code == 0, err
    commit_all(repo, "promote v1")
    params = repo / "sub" / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.1", "lr: 0.3"))
    commit_all(repo, "a param changed, dvc repro forgotten")
    shown = _cases(gate, tmp_path / "junit.xml", "check", "--repo", str(repo), "--rev", "HEAD")
    stage = _line_of(_committed(repo, "sub/dvc.lock"), "  train:")
    assert shown == [("PG204", "sub/dvc.lock", stage)]


@pytest.mark.parametrize(
    ("document", "old", "new", "code"),
    [
        ("params.yaml", "  train.epochs:", "  oops: a: b\n  train.epochs:", "PG301"),
        ("metrics.json", '"acc": 0.9,', '"acc": 0.9.1,', "PG401"),
    ],
)
def test_a_document_that_does_not_parse_is_shown_where_the_parser_stopped(
    repo: Path, gate: Gate, tmp_path: Path, document: str, old: str, new: str, code: str
) -> None:
    path = repo / V1 / document
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    resum(repo / V1)
    shown = _cases(gate, tmp_path / "junit.xml", "check", "--repo", str(repo))
    broken = _line_of(path.read_text(), new.splitlines()[0])
    assert shown == [(code, f"{V1}/{document}", broken)]


def test_an_edited_released_pointer_is_shown_at_its_md5(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    pointer = repo / V1 / "model.json.dvc"
    pointer.write_text(re.sub(r"md5: \w+", "md5: " + "0123456789abcdef" * 2, pointer.read_text()))
    commit_all(repo, "released v1's pointer replaced in place")
    argv = ("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1")
    shown = _cases(gate, tmp_path / "junit.xml", *argv)
    md5 = _line_of(_committed(repo, f"{V1}/model.json.dvc"), "md5:")
    assert shown == [
        ("PG104", f"{V1}/model.json.dvc", md5),
        ("PG501", f"{V1}/model.json.dvc", md5),
    ]


def test_an_edited_released_document_is_shown_at_its_first_changed_line(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    params = repo / V1 / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.02"))
    resum(repo / V1)
    commit_all(repo, "released v1 edited in place")
    argv = ("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1")
    shown = _cases(gate, tmp_path / "junit.xml", *argv)
    released = [s for s in shown if s[0] == "PG501" and s[1] == f"{V1}/params.yaml"]
    assert released == [("PG501", f"{V1}/params.yaml", _line_of(params.read_text(), "lr: 0.02"))]


@pytest.mark.slow
def test_the_demos_failures_carry_their_lines(tmp_path: Path, gate: Gate) -> None:
    code, out, err = gate("demo", str(tmp_path / "demo"))
    assert code == 0, out + err
    failures = [
        (failure.get("type"), case)
        for report in sorted((tmp_path / "demo").glob("junit-*.xml"))
        for case in ET.parse(report).getroot().iter("testcase")
        for failure in case.iter("failure")
    ]
    # a file found missing or unlisted (PG102, PG103) is about the whole file: no line
    judged = [case for code, case in failures if code not in {"PG102", "PG103"}]
    with_line = [case for case in judged if case.get("line")]
    assert len(judged) >= 20
    assert len(with_line) >= 0.9 * len(judged), [
        c.get("name") for c in judged if c not in with_line
    ]
