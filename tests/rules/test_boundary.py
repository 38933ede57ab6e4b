"""PG503 (experiment leaks), PG504 (consumers reading internal paths), PG505 (unpushed data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, copy_repo, pinned_env, run

from promote_gate.commands.promote import promote


def _results(
    gate: Gate, repo: Path, bundle: str, *extra: str
) -> tuple[int, dict[str, dict[str, Any]]]:
    code, doc = gate.json("check", "--repo", str(repo), *extra)
    found = next(b for b in doc["bundles"] if b["name"] == bundle)
    return code, {r["code"]: r for r in found["results"]}


@pytest.fixture(scope="module")
def leaked(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v2 promoted from a real `dvc exp run`, then copied onto main without the experiment."""
    root = tmp_path_factory.mktemp("leak") / "repo"
    copy_repo(template, root)
    with pinned_env(tmp_path_factory.mktemp("leak-home")):
        run(root, "dvc", "exp", "run", "-q", "-n", "hot-lr", "-S", "train.lr=0.3")
        run(root, "dvc", "exp", "branch", "hot-lr", "exp-hot-lr")
        run(root, "git", "reset", "-q", "--hard")  # the run left its results in the workspace
        run(root, "git", "checkout", "-q", "exp-hot-lr")
        run(root, "dvc", "checkout", "-q")
        promote(str(root), "v2", [])
        commit_all(root, "promote v2 on the experiment branch")
        run(root, "git", "checkout", "-q", "main")
        run(root, "git", "checkout", "exp-hot-lr", "--", "publish/v2")
        commit_all(root, "copy v2 onto main")
        run(root, "git", "branch", "-q", "-D", "exp-hot-lr")  # the experiment ref stays
    return root


def test_experiment_output_on_main_is_an_exploratory_leak(leaked: Path, gate: Gate) -> None:
    assert run(leaked, "git", "for-each-ref", "refs/exps/").strip(), "dvc exp run made a ref"
    code, results = _results(gate, leaked, "v2", "--rev", "HEAD")
    assert code == 1
    messages = [f["message"] for f in results["PG503"]["findings"]]
    assert any("only in the experiment refs/exps/" in m for m in messages), messages


def test_baseline_bundle_is_not_a_leak(leaked: Path, gate: Gate) -> None:
    _, results = _results(gate, leaked, "v1", "--rev", "HEAD", "--base", "HEAD~1")
    assert results["PG503"]["status"] == "skipped"  # released: judged on its own evidence
    _, results = _results(gate, leaked, "v1", "--rev", "HEAD~1")
    assert results["PG503"]["status"] == "passed"


def test_exploratory_path_is_a_leak(repo: Path, gate: Gate) -> None:
    manifest = repo / "publish/v1/manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"][0]["source"]["path"] = "scratch/model.json"
    manifest.write_text(json.dumps(doc))
    _, results = _results(gate, repo, "v1")
    assert any(
        "exploratory pattern 'scratch/'" in f["message"] for f in results["PG503"]["findings"]
    )


def test_consumer_reading_a_pipeline_output_is_named_with_the_path_to_use(
    repo: Path, gate: Gate
) -> None:
    (repo / "deploy").mkdir()
    (repo / "deploy/serve.yaml").write_text("name: api\nmodel: ./models/model.json\n")
    (repo / "deploy/ok.yaml").write_text("model: publish/v1/model.json\n")
    code, results = _results(gate, repo, "v1")
    assert code == 1
    (finding,) = results["PG504"]["findings"]
    assert finding["path"] == "deploy/serve.yaml"
    assert "line 2" in finding["message"]
    assert finding["expected"] == "publish/v1/model.json"


def test_provenance_is_not_a_consumer_read(repo: Path, gate: Gate) -> None:
    """The bundle's own manifest and report name source paths: that is provenance."""
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text().replace('consumers: ["deploy/**"]', 'consumers: ["**/*"]'))
    _, results = _results(gate, repo, "v1")
    paths = {f["path"] for f in results["PG504"]["findings"]}
    assert not [p for p in paths if p.startswith("publish/")], paths


def test_pointer_resolving_outside_the_bundle(repo: Path, gate: Gate) -> None:
    pointer = repo / "publish/v1/model.json.dvc"
    pointer.write_text(
        pointer.read_text().replace("path: model.json", "path: ../../models/model.json")
    )
    _, results = _results(gate, repo, "v1")
    assert [f["message"] for f in results["PG105"]["findings"]] == [
        "the .dvc pointer names a path outside the bundle: ../../models/model.json"
    ]
    assert results["PG504"]["status"] == "passed"  # one defect, one code


def test_unpushed_data_then_pushed(repo: Path, gate: Gate, tmp_path: Path) -> None:
    remote = tmp_path / "empty-remote"
    remote.mkdir()
    run(repo, "dvc", "remote", "add", "-q", "-f", "-d", "storage", str(remote))
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + "require_pushed: true\n")
    code, results = _results(gate, repo, "v1")
    assert code == 1
    (finding,) = results["PG505"]["findings"]
    assert finding["path"] == "publish/v1/model.json"
    assert "dvc push -r storage publish/v1/model.json" in finding["message"]
    run(repo, "dvc", "push", "-q")
    code, results = _results(gate, repo, "v1")
    assert results["PG505"]["status"] == "passed"
    assert code == 0


def test_require_pushed_without_a_remote(repo: Path, gate: Gate) -> None:
    run(repo, "dvc", "remote", "remove", "storage")
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + "require_pushed: true\n")
    _, results = _results(gate, repo, "v1")
    assert "no default DVC remote" in results["PG505"]["findings"][0]["message"]


def test_a_change_cannot_point_the_remote_at_data_it_brings(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    """The DVC remote is policy: in CI it is read from the base, like .promote-gate.yaml."""
    (tmp_path / "real-remote").mkdir()
    run(repo, "dvc", "remote", "add", "-q", "-f", "-d", "storage", str(tmp_path / "real-remote"))
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + "require_pushed: true\n")
    commit_all(repo, "require pushed data")
    fake = repo / "fake-remote"
    shutil.copytree(repo / ".dvc" / "cache", fake)
    run(repo, "dvc", "remote", "modify", "storage", "url", "../fake-remote")
    commit_all(repo, "point the remote at a copy committed with the change")
    junit = tmp_path / "junit.xml"
    code, out, _ = gate(
        "ci", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1", "--junit-xml", str(junit)
    )
    assert code == 1, out
    assert "PG505" in out
    assert "real-remote" in out
