"""PG501/PG502: released versions never change, new ones are cut in order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Gate, commit_all, copy_repo, pinned_env, run

from promote_gate.commands.promote import promote


def _check(gate: Gate, repo: Path, base: str = "HEAD~1") -> set[str]:
    return gate.failed_codes("check", "--repo", str(repo), "--rev", "HEAD", "--base", base)


@pytest.fixture(scope="module")
def v2_repo(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 released, then a real retrain (lr 0.05 -> 0.1, dvc repro) promoted as v2."""
    root = tmp_path_factory.mktemp("v2") / "repo"
    copy_repo(template, root)
    with pinned_env(tmp_path_factory.mktemp("v2home")):
        params = root / "params.yaml"
        params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.1"))
        run(root, "dvc", "repro", "-q")
        commit_all(root, "Retrain with lr 0.1")
        promote(str(root), "v2", [])
        commit_all(root, "Promote v2")
    return root


def test_correct_v1_to_v2_promotion_is_clean(v2_repo: Path, gate: Gate) -> None:
    code, doc = gate.json("check", "--repo", str(v2_repo), "--rev", "HEAD", "--base", "HEAD~2")
    assert code == 0, doc
    by_bundle = {b["name"]: {r["code"]: r["status"] for r in b["results"]} for b in doc["bundles"]}
    assert by_bundle["v1"]["PG501"] == "passed"
    assert by_bundle["v1"]["PG204"] == "skipped"  # released: judged on its own evidence
    assert by_bundle["v2"]["PG502"] == "passed"
    assert by_bundle["v2"]["PG204"] == "passed"


def test_released_bundle_edited_in_place(repo: Path, gate: Gate) -> None:
    report = repo / "publish/v1/report.md"
    report.write_text(report.read_text() + "\nA note added after release.\n")
    commit_all(repo, "edit v1 report")
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1")
    assert code == 1
    pg501 = next(r for r in doc["bundles"][0]["results"] if r["code"] == "PG501")
    assert pg501["status"] == "failed"
    assert [f["path"] for f in pg501["findings"]] == ["publish/v1/report.md"]


def test_released_model_pointer_replaced(repo: Path, gate: Gate) -> None:
    pointer = repo / "publish/v1/model.json.dvc"
    pointer.write_text(pointer.read_text().replace("md5: ", "md5: 1", 1))
    commit_all(repo, "swap model")
    assert "PG501" in _check(gate, repo)


def test_released_bundle_removed(repo: Path, gate: Gate) -> None:
    shutil.rmtree(repo / "publish/v1")  # with the DVC checkout of model.json
    commit_all(repo, "drop v1")
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1")
    assert code == 1
    (bundle,) = doc["bundles"]
    statuses = {r["code"]: r["status"] for r in bundle["results"]}
    assert statuses["PG501"] == "failed"
    assert statuses["PG101"] == "skipped"  # one clear finding, not a cascade


def test_rename_is_a_removal_and_a_misnumbered_version(repo: Path, gate: Gate) -> None:
    run(repo, "git", "mv", "publish/v1", "publish/v2")
    commit_all(repo, "re-version v1 as v2")
    failed = _check(gate, repo)
    assert {"PG501", "PG502"} <= failed


def test_skipped_number(repo: Path, gate: Gate) -> None:
    shutil.copytree(repo / "publish/v1", repo / "publish/v3")
    manifest = repo / "publish/v3/manifest.json"
    manifest.write_text(manifest.read_text().replace('"version": "v1"', '"version": "v3"'))
    commit_all(repo, "add v3")
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1")
    assert code == 1
    v3 = next(b for b in doc["bundles"] if b["name"] == "v3")
    pg502 = next(r for r in v3["results"] if r["code"] == "PG502")
    assert any("skips 2" in f["message"] for f in pg502["findings"])


def test_new_version_must_sort_after_released(repo: Path, gate: Gate) -> None:
    run(repo, "git", "mv", "publish/v1", "publish/v2")
    manifest = repo / "publish/v2/manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "v2"}))
    commit_all(repo, "released is v2")
    shutil.copytree(repo / "publish/v2", repo / "publish/v1")
    manifest = repo / "publish/v1/manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "v1"}))
    commit_all(repo, "add v1 after v2")
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD~1")
    assert code == 1
    v1 = next(b for b in doc["bundles"] if b["name"] == "v1")
    pg502 = next(r for r in v1["results"] if r["code"] == "PG502")
    assert any("does not sort after" in f["message"] for f in pg502["findings"])


def test_working_tree_against_base_ignores_dvc_checkouts(repo: Path, gate: Gate) -> None:
    """publish/v1/model.json is a DVC checkout, not in git: it is not a change to v1."""
    assert gate("check", "--repo", str(repo), "--base", "HEAD")[0] == 0
    (repo / "publish/v1/params.yaml").write_text("train: {lr: 9}\n")
    assert "PG501" in gate.failed_codes("check", "--repo", str(repo), "--base", "HEAD")
