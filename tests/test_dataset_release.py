"""A pipeline that declares no metrics (a dataset release) is promoted; ``require_metrics``
makes that a violation for teams that want every release measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import World, edit_json, resum  # type: ignore[import-not-found, unused-ignore]

DVC_YAML = """\
stages:
  build:
    cmd: python build.py
    deps: [build.py, raw.csv]
    params: [build.rows]
    outs: [dataset/train.csv]
"""
BUILD = """\
import os
import yaml
rows = yaml.safe_load(open("params.yaml"))["build"]["rows"]
os.makedirs("dataset", exist_ok=True)
lines = open("raw.csv").read().splitlines()[: rows + 1]
open("dataset/train.csv", "w").write("\\n".join(lines) + "\\n")
"""


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run(root, "git", "init", "-q", "-b", "main")
    run(root, "dvc", "init", "-q")
    (root / "raw.csv").write_text("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(50)))
    (root / "build.py").write_text(BUILD)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text("build:\n  rows: 20\n")
    (root / ".promote-gate.yaml").write_text("outputs: [dataset/train.csv]\n")
    run(root, "dvc", "repro", "-q")
    commit_all(root, "dataset pipeline")
    return root


def test_a_pipeline_without_metrics_is_promoted_and_says_so(dataset: Path, gate: Gate) -> None:
    code, _, err = gate("promote", "v1", "--repo", str(dataset))
    assert code == 0, err
    bundle = dataset / "publish/v1"
    assert json.loads((bundle / "metrics.json").read_text()) == {}
    assert "This release records no metrics" in (bundle / "report.md").read_text()
    commit_all(dataset, "Promote v1")
    code, out, err = gate("check", "--repo", str(dataset), "--rev", "HEAD")
    assert (code, err) == (0, ""), out
    code, out, _ = gate("verify", str(bundle))
    assert code == 0, out

    # the policy now wants metrics: the committed bundle fails PG401, promote refuses
    (dataset / ".promote-gate.yaml").write_text(
        "outputs: [dataset/train.csv]\nrequire_metrics: true\n"
    )
    commit_all(dataset, "require metrics")
    code, doc = gate.json("check", "--repo", str(dataset), "--rev", "HEAD")
    assert code == 1
    failed = {r["code"]: r for b in doc["bundles"] for r in b["results"] if r["status"] == "failed"}
    assert set(failed) == {"PG401"}
    assert "records no metrics" in failed["PG401"]["findings"][0]["message"]
    code, _, err = gate("promote", "v2", "--repo", str(dataset))
    assert code == 1
    assert "require_metrics" in err
    assert not (dataset / "publish/v2").exists()


def test_emptying_the_snapshot_of_a_measured_pipeline_is_caught(world: World, gate: Gate) -> None:
    """An empty snapshot passes only where the pipeline declares no metrics: emptying a
    measured release's snapshot (to dodge PG405) leaves out what dvc.yaml declares."""
    work = world.work
    edit_json(work / "publish/v1/metrics.json", lambda doc: doc.clear())
    resum(work / "publish/v1")
    code, doc = gate.json("check", "--repo", str(work))
    failed = {r["code"] for b in doc["bundles"] for r in b["results"] if r["status"] == "failed"}
    assert code == 1
    assert "PG402" in failed


def test_diff_of_releases_without_metrics_says_comparability_was_not_judged(
    dataset: Path, gate: Gate
) -> None:
    assert gate("promote", "v1", "--repo", str(dataset))[0] == 0
    commit_all(dataset, "Promote v1")
    params = dataset / "params.yaml"
    params.write_text("build:\n  rows: 30\n")
    run(dataset, "dvc", "repro", "-q")
    commit_all(dataset, "30 rows")
    assert gate("promote", "v2", "--repo", str(dataset))[0] == 0
    commit_all(dataset, "Promote v2")
    code, out, _ = gate("diff", "v1", "v2", "--repo", str(dataset))
    assert code == 0, out
    assert "Comparable: not judged: no stage of either side produces metrics" in out
    assert "stages none" not in out
    assert "build.rows" in out
