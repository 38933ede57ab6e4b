"""The JUnit file is what GitLab and the GitHub reporters read: valid, with bodies and files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import SHARED_SCHEMAS, Gate

V1 = "publish/v1"


def _validate(path: Path) -> None:
    xsd = SHARED_SCHEMAS / "junit-10-with-file.xsd"
    if not xsd.exists():
        pytest.skip(f"{xsd} is absent (../shared is not beside this checkout)")
    import xmlschema

    xmlschema.XMLSchema(str(xsd)).validate(str(path))


def test_failing_bundle_junit_validates_and_names_files(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    (repo / V1 / "notes.txt").write_text("copied in\n")
    params = repo / V1 / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.02"))
    out = tmp_path / "junit.xml"
    code, _, _ = gate("check", "--repo", str(repo), "--junit-xml", str(out))
    assert code == 1
    _validate(out)
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("name") == f"promote-gate:{V1}"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert len(cases) == len(list(suite.iter("testcase"))), "testcase names must be unique"
    # one case per finding, named by rule and location, with its file (and line)
    unlisted = cases[f"PG103 file-unlisted: {V1}/notes.txt"]
    failure = unlisted.find("failure")
    assert failure is not None
    assert failure.get("type") == "PG103"
    assert unlisted.get("file") == f"{V1}/notes.txt"
    assert unlisted.get("classname") == "promote-gate.publish.v1"
    assert "notes.txt" in (failure.text or "")
    assert "fix:" in (failure.text or "")
    (params_case,) = [c for n, c in cases.items() if (n or "").startswith("PG302 params-mismatch")]
    assert params_case.get("file") == f"{V1}/params.yaml"
    lines = (repo / V1 / "params.yaml").read_text().splitlines()
    key_line = 1 + next(i for i, text in enumerate(lines) if "train.lr" in text)
    assert params_case.get("line") == str(key_line)
    body = params_case.find("failure")
    assert body is not None
    assert "train.lr" in (body.text or "")
    assert "train.lr" in (body.get("message") or "")
    passed = cases["PG201 no-provenance"]
    assert passed.find("failure") is None
    assert passed.find("skipped") is None


def test_clean_junit_records_passes_and_skips(repo: Path, gate: Gate, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    code, _, _ = gate("check", "--repo", str(repo), "--ignore", "PG4", "--junit-xml", str(out))
    assert code == 0
    _validate(out)
    root = ET.parse(out).getroot()
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    # PG4 ignored; PG206 (no baseline), PG505 (require_pushed off) and PG602/PG603 (the
    # bundle is not signed) have nothing to judge
    assert {c.get("name", "")[:5] for c in skipped} == {
        "PG602",
        "PG603",
        "PG206",
        "PG401",
        "PG402",
        "PG403",
        "PG404",
        "PG405",
        "PG505",
    }
    assert not [c for c in root.iter("testcase") if c.find("failure") is not None]


def test_gate_error_still_writes_junit_error(tmp_path: Path, gate: Gate) -> None:
    out = tmp_path / "junit.xml"
    (tmp_path / "plain").mkdir()
    code, _, err = gate("check", "--repo", str(tmp_path / "plain"), "--junit-xml", str(out))
    assert code == 2
    assert "not inside a git repository" in err
    _validate(out)
    error = ET.parse(out).getroot().find(".//error")
    assert error is not None
    assert "not inside a git repository" in (error.get("message") or "")
