"""What a reviewer reads names the difference, not the documents: a changed param is its
leaf key and two values, whatever section the stage declares; `diff` says what it compared."""

from __future__ import annotations

from pathlib import Path

from conftest import Gate, commit_all, run

from promote_gate.commands.promote import promote

# a train section whose other keys are long: printed whole, one finding would be kilobytes
_SECTION = "train:\n  lr: 0.05\n  epochs: 8\n  layers: [" + ", ".join(["512"] * 200) + "]\n"


def _declare_whole_section(repo: Path) -> None:
    """train declares its whole params section (`params: [train]`), reproduced and promoted."""
    dvc_yaml = repo / "dvc.yaml"
    text = dvc_yaml.read_text()
    assert "params: [train.lr, train.epochs]" in text
    dvc_yaml.write_text(text.replace("params: [train.lr, train.epochs]", "params: [train]"))
    params = repo / "params.yaml"
    params.write_text(params.read_text().split("train:")[0] + _SECTION)
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "train reads its whole section")
    promote(str(repo), "v2", [])
    commit_all(repo, "Promote v2")


def test_a_one_digit_param_change_is_one_short_finding(repo: Path, gate: Gate) -> None:
    _declare_whole_section(repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.06"))
    commit_all(repo, "lr 0.06, not reproduced")
    base = run(repo, "git", "rev-parse", "HEAD~2").strip()  # v2 being released
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", "--base", base)
    assert code == 1
    (v2,) = [b for b in doc["bundles"] if b["name"] == "v2"]
    (stale,) = [r for r in v2["results"] if r["code"] == "PG204"]
    (finding,) = stale["findings"]
    assert "param params.yaml:train.lr: modified (0.05 -> 0.06)" in finding["message"]
    assert len(finding["message"]) < 200, finding["message"]
    assert finding["values"] == [0.05, 0.06]  # whole, for machines
    code, out, _ = gate("check", "--repo", str(repo), "--rev", "HEAD", "--base", base)
    (line,) = [x for x in out.splitlines() if "PG204" in x]
    assert len(line) < 200, line


def test_diff_tables_show_leaves_and_bounded_values(repo: Path, gate: Gate) -> None:
    _declare_whole_section(repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("512]", "256]"))
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "last layer 256")
    promote(str(repo), "v3", [])
    commit_all(repo, "Promote v3")
    code, out, _ = gate("diff", "v2", "v3", "--repo", str(repo))
    assert code == 0
    (row,) = [x for x in out.splitlines() if "train.layers" in x]
    assert len(row) < 200, row
    assert "…" in row  # cut: --format json has the value whole
    code, doc = gate.json("diff", "v2", "v3", "--repo", str(repo), "--format", "json")
    (param,) = [p for p in doc["params"] if p["key"] == "train.layers"]
    assert param["after"][-1] == 256


def test_diff_with_a_commit_names_only_stages_both_sides_have(repo: Path, gate: Gate) -> None:
    """A commit's dvc.lock has every stage, a bundle's excerpt only the promoted ones and
    their upstream: a stage outside the excerpt is not "removed"."""
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text()
        + "  summary:\n    cmd: cp eval/metrics.json summary.json\n"
        + "    deps: [eval/metrics.json]\n    outs: [summary.json]\n"
    )
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "a summary stage")
    code, out, _ = gate("diff", "HEAD", "v1", "--repo", str(repo))
    assert code == 0
    assert "summary" not in out.split("Lock stages whose hashes changed:")[1]


def test_a_rule_that_could_not_run_says_so_once(repo: Path, gate: Gate, tmp_path: Path) -> None:
    (repo / "dvc.yaml").write_text("stages: [not, a, mapping\n")
    commit_all(repo, "break dvc.yaml")
    sarif, quality = tmp_path / "r.sarif", tmp_path / "q.json"
    code, _, _ = gate("check", "--repo", str(repo), "--rev", "HEAD", "--sarif", str(sarif))
    assert code == 2
    gate(
        "check",
        "--repo",
        str(repo),
        "--rev",
        "HEAD",
        "--format",
        "gitlab",
        "--output",
        str(quality),
    )
    for text in (sarif.read_text(), quality.read_text()):
        assert "PG204 pipeline-stale could not run: " in text
        assert "could not run: the rule could not run" not in text
