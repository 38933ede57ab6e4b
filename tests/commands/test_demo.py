"""The README's first command: the demo builds, promotes, passes, and catches every break."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Gate


@pytest.mark.slow
def test_demo_passes_clean_and_catches_every_mutation(tmp_path: Path, gate: Gate) -> None:
    code, out, err = gate("demo", str(tmp_path / "demo"))
    assert code == 0, out + err
    assert "MISSED" not in out
    assert out.count("caught") == 18
    # the model registry: four tag pushes pass, three tags are refused, each by its rule
    assert out.count("Pushed to origin") == 4
    assert "caught  model#prod#9: prod on a commit with no bundle" in out
    assert "push refused: PG706" in out  # prod before staging, ordered
    assert "push refused: PG204" in out  # v3 registered on a stale pipeline
    assert "v2.0.0       publish/v2" in out
    assert "stages: dev, staging, prod" in out
    assert "passed  a consumer's copy of v2, verified with release.pub" in out
    assert "model_signing verify key" in out  # what a consumer without promote-gate runs
    assert "caught  a forged copy" in out
    assert "passed  v2 retrained for real and dvc pushed" in out
    assert "exit 1: PG204, PG402, PG403" in out  # CI: forged metrics, read at source.commit
    assert "exit 1: PG201" in out  # CI: a swapped file inside a promoted directory
    assert "## Promotion review: `v1` → `v2`" in out
    reports = sorted(p.name for p in (tmp_path / "demo").glob("junit-*.xml"))
    assert "junit-clean.xml" in reports
    assert "junit-v2-regression.xml" in reports


def test_demo_refuses_a_non_empty_directory(tmp_path: Path, gate: Gate) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    code, _, err = gate("demo", str(tmp_path))
    assert code == 2
    assert "not empty" in err
    assert (tmp_path / "keep.txt").read_text() == "mine\n"
