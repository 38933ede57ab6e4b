"""The command line as a user meets it: exit codes, messages, the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Gate

from promote_gate.cli import main
from promote_gate.rules import RULES


@pytest.mark.parametrize("code", [r.code for r in RULES])
def test_explain_every_rule(gate: Gate, code: str) -> None:
    status, out, _ = gate("explain", code.lower())
    assert status == 0
    for heading in ("## What it checks", "## Why it matters", "## Example", "## How to fix"):
        assert heading in out
    assert out.startswith(f"# {code} ")


def test_explain_unknown_rule(gate: Gate) -> None:
    status, _, err = gate("explain", "PG999")
    assert status == 2
    assert "promote-gate rules" in err


def test_rules_list_and_readme_table_agree(gate: Gate) -> None:
    status, out, _ = gate("rules", "--format", "markdown")
    assert status == 0
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert out in readme, "README rule table is stale: paste `promote-gate rules --format markdown`"


def test_schema_prints_json(gate: Gate) -> None:
    status, out, _ = gate("schema", "manifest")
    assert status == 0
    assert json.loads(out)["properties"]["schema"]["const"] == "promote-gate/manifest/1"


def test_traceback_after_the_command(repo: Path, gate: Gate) -> None:
    assert gate("check", "--repo", str(repo), "--traceback")[0] == 0


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--select", "XX1"])
    assert exc.value.code == 2
    assert "not a rule code" in capsys.readouterr().err


def test_unreadable_repo_exits_2_without_traceback(tmp_path: Path, gate: Gate) -> None:
    status, _, err = gate("check", "--repo", str(tmp_path / "missing"))
    assert status == 2
    assert "no such directory" in err
    assert "Traceback" not in err


def test_text_report_names_rule_file_and_fix(repo: Path, gate: Gate) -> None:
    (repo / "publish/v1/notes.txt").write_text("x\n")
    status, out, _ = gate("check", "--repo", str(repo))
    assert status == 1
    assert "PG103 file-unlisted  publish/v1/notes.txt" in out
    assert "fix: Remove the file from the bundle" in out
    assert out.rstrip().splitlines()[-1].startswith("promote-gate failed: 1 bundle(s)")


def test_select_by_prefix(repo: Path, gate: Gate) -> None:
    (repo / "publish/v1/notes.txt").write_text("x\n")
    status, doc = gate.json("check", "--repo", str(repo), "--select", "PG3,PG4")
    assert status == 0
    ran = {r["code"] for r in doc["bundles"][0]["results"] if r["status"] != "skipped"}
    assert ran == {"PG301", "PG302", "PG304", "PG401", "PG402", "PG403"}


def test_config_select_and_unknown_bundle(repo: Path, gate: Gate) -> None:
    (repo / ".promote-gate.yaml").write_text("outputs: [models/model.json]\nignore: [PG103]\n")
    (repo / "publish/v1/notes.txt").write_text("x\n")
    assert gate("check", "--repo", str(repo))[0] == 0
    status, _, err = gate("check", "--repo", str(repo), "--bundle", "v9")
    assert status == 2
    assert "no bundle v9" in err
