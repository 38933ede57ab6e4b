"""PG404/PG405 and ``diff``: a candidate against its baseline, from snapshots and history only."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, copy_repo, pinned_env, run

from promote_gate.commands.promote import promote

# The template is the demo project, whose .promote-gate.yaml holds the policy under test:
# the evaluate stage must be comparable; acc may fall by 0.01 at most, loss rise by 0.02.


def _retrain_and_promote(root: Path, **params: str) -> None:
    text = (root / "params.yaml").read_text()
    for key, value in params.items():
        lines = [
            f"  {key}: {value}" if line.strip().startswith(f"{key}:") else line
            for line in text.splitlines()
        ]
        text = "\n".join(lines) + "\n"
    (root / "params.yaml").write_text(text)
    run(root, "dvc", "repro", "-q")
    commit_all(root, f"retrain {params}")
    promote(str(root), "v2", [])
    commit_all(root, "Promote v2")


def _released(template: Path, factory: pytest.TempPathFactory, name: str, **params: str) -> Path:
    root = factory.mktemp(name) / "repo"
    copy_repo(template, root)
    with pinned_env(factory.mktemp(f"{name}-home")):
        _retrain_and_promote(root, **params)
    return root


@pytest.fixture(scope="module")
def better(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v2 retrained with lr 0.5: acc 0.90 -> 0.94, loss 0.242 -> 0.212 (the demo's numbers)."""
    return _released(template, tmp_path_factory, "better", lr="0.5")


@pytest.fixture(scope="module")
def worse(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v2 trained for 1 epoch: loss 0.242 -> 0.322."""
    return _released(template, tmp_path_factory, "worse", epochs="1")


@pytest.fixture(scope="module")
def resplit(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v2 evaluated on a different test split: the eval data changed under the evaluate stage."""
    return _released(template, tmp_path_factory, "resplit", lr="0.5", split="0.4")


def _results(gate: Gate, repo: Path, *extra: str) -> tuple[int, dict[str, dict[str, Any]]]:
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", *extra)
    v2 = next(b for b in doc["bundles"] if b["name"] == "v2")
    return code, {r["code"]: r for r in v2["results"]}


def test_comparable_improvement_passes(better: Path, gate: Gate) -> None:
    code, results = _results(gate, better)
    assert code == 0
    assert results["PG404"]["status"] == "passed"
    assert results["PG405"]["status"] == "passed"


def test_regression_beyond_the_policy_fails(worse: Path, gate: Gate) -> None:
    code, results = _results(gate, worse)
    assert code == 1
    assert results["PG404"]["status"] == "passed"
    (finding,) = results["PG405"]["findings"]
    message = finding["message"]
    for part in ("loss", "0.2421 -> 0.3221", "+0.08", "lower is better", "allowed regression 0.02"):
        assert part in message, message


def test_different_eval_data_is_not_comparable(resplit: Path, gate: Gate) -> None:
    code, results = _results(gate, resplit)
    assert code == 1
    messages = " ".join(f["message"] for f in results["PG404"]["findings"])
    assert "dependency data/prepared differs" in messages
    assert "3fbf02e37bb4f11fc5332f8964753bbe.dir in v1" in messages  # both hashes are named
    assert results["PG405"]["status"] == "skipped"
    assert "not comparable" in results["PG405"]["reason"]


def test_comparison_needs_no_dvc_cache(worse: Path, tmp_path: Path, gate: Gate) -> None:
    """CI has not pulled: lock.yaml, the snapshots and git history are enough."""
    clone = tmp_path / "ci"
    run(tmp_path, "git", "clone", "-q", str(worse), str(clone))
    assert not (clone / ".dvc" / "cache").exists()
    _, results = _results(gate, clone)
    assert results["PG405"]["status"] == "failed"
    assert results["PG404"]["status"] == "passed"


def test_first_version_has_no_baseline(repo: Path, gate: Gate) -> None:
    code, doc = gate.json("check", "--repo", str(repo))
    assert code == 0
    results = {r["code"]: r for r in doc["bundles"][0]["results"]}
    assert results["PG405"]["status"] == "skipped"
    assert "no earlier promoted version" in results["PG405"]["reason"]


def test_baseline_can_be_a_git_revision(worse: Path, gate: Gate, tmp_path: Path) -> None:
    """baseline: a commit: the pipeline state there (dvc.lock + its metrics) is the baseline."""
    v1_commit = run(worse, "git", "rev-list", "-n", "1", "HEAD", "--", "publish/v1").strip()
    config = tmp_path / "policy.yaml"
    config.write_text((worse / ".promote-gate.yaml").read_text() + f"baseline: {v1_commit}\n")
    code, results = _results(gate, worse, "--config", str(config))
    assert code == 1
    assert "vs commit " in results["PG405"]["findings"][0]["message"]


Render = Callable[[str], Any]


@pytest.mark.parametrize(
    ("fmt", "parse"),
    [("json", json.loads), ("markdown", str), ("text", str)],
    ids=["json", "markdown", "text"],
)
def test_diff_reviews_a_promotion(better: Path, gate: Gate, fmt: str, parse: Render) -> None:
    code, out, _ = gate("diff", "--repo", str(better), "--format", fmt)  # default: v1 -> v2
    assert code == 0
    if fmt == "json":
        doc = parse(out)
        assert (doc["baseline"], doc["candidate"], doc["comparable"]) == ("v1", "v2", True)
        assert {"file": "params.yaml", "key": "train.lr", "before": 0.05, "after": 0.5} in doc[
            "params"
        ]
        acc = next(m for m in doc["metrics"] if m["key"] == "acc")
        assert (acc["before"], acc["after"], acc["regressed"]) == (0.9, 0.94, False)
        assert [f["path"] for f in doc["files"]] == ["model.json"]
        assert {s["stage"] for s in doc["stages"]} == {"train", "evaluate"}
    elif fmt == "markdown":
        assert "## Promotion review: `v1` → `v2`" in out
        assert "| params.yaml | train.lr | 0.05 | 0.5 |" in out
        assert "| eval/metrics.json | acc | 0.9 | 0.94 | +0.04 | ok (higher is better" in out
    else:
        assert "Comparable: yes" in out
        assert "train.lr" in out


def test_diff_names_what_makes_it_not_comparable(resplit: Path, gate: Gate) -> None:
    code, out, _ = gate("diff", "v1", "v2", "--repo", str(resplit))
    assert code == 0
    assert "Comparable: NO" in out
    assert "data/prepared" in out


def test_diff_of_unknown_side_is_a_usage_error(repo: Path, gate: Gate) -> None:
    code, _, err = gate("diff", "nosuch", "v1", "--repo", str(repo))
    assert code == 2
    assert "neither a bundle" in err


# --------------------------------------------------------------------------- the default
# Without `comparability.stages`, the evaluation's source inputs decide: what the metrics
# stages read, traced upstream to data no stage produces, not the intermediate outputs a
# changed param regenerates (the get-started project's featurization change).


def _default_policy(tmp_path: Path) -> str:
    from promote_gate.commands.demo import CONFIG

    text = CONFIG.replace("comparability:\n", "").replace(
        "  stages: [evaluate]       # its data and code must be identical between compared releases\n",
        "",
    )
    assert "comparability" not in text
    path = tmp_path / "default-policy.yaml"
    path.write_text(text)
    return str(path)


def test_default_traces_the_evaluation_to_its_sources(template: Path) -> None:
    from promote_gate.compare import source_inputs
    from promote_gate.dvc.lock import parse_lock

    lock = parse_lock((template / "dvc.lock").read_bytes())
    code = frozenset({"src/prepare.py", "src/train.py"})  # git-tracked, matching *.py
    found = source_inputs(lock, ("evaluate",), frozenset({"models/model.json"}), code)
    # prepare's program is not an input of the evaluation; its data is; the model may change
    assert {p: stage for p, (_, stage) in found.items()} == {
        "src/evaluate.py": "evaluate",
        "data/raw.csv": "prepare",
    }


def test_default_a_changed_param_regenerating_eval_data_stays_comparable(
    resplit: Path, gate: Gate, tmp_path: Path
) -> None:
    policy = _default_policy(tmp_path)
    code, results = _results(gate, resplit, "--config", policy)
    assert results["PG404"]["status"] == "passed", results["PG404"]
    code, out, _ = gate("diff", "--repo", str(resplit), "--config", policy)
    assert code == 0
    assert "Comparable: yes: the evaluation's source inputs (data/raw.csv, src/evaluate.py)" in out


def _less_raw_data(root: Path) -> None:
    """data/raw.csv cut to 300 rows (dvc add), reproduced and committed."""
    raw = root / "data/raw.csv"
    raw.write_text("".join(raw.read_text().splitlines(keepends=True)[:301]))
    run(root, "dvc", "add", "-q", "data/raw.csv")
    run(root, "dvc", "repro", "-q")
    commit_all(root, "less data")


@pytest.fixture(scope="module")
def new_data(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v2 with data/raw.csv cut to 300 rows (dvc add), reproduced: the eval data's source moved."""
    root = tmp_path_factory.mktemp("new-data") / "repo"
    copy_repo(template, root)
    with pinned_env(tmp_path_factory.mktemp("new-data-home")):
        _less_raw_data(root)
        promote(str(root), "v2", [])
        commit_all(root, "Promote v2")
    return root


def test_default_a_changed_source_of_the_eval_data_is_not_comparable(
    new_data: Path, gate: Gate, tmp_path: Path
) -> None:
    policy = _default_policy(tmp_path)
    code, results = _results(gate, new_data, "--config", policy)
    assert code == 1
    (finding,) = results["PG404"]["findings"]
    assert "evaluation input data/raw.csv (read by stage prepare) differs" in finding["message"]
    assert results["PG405"]["status"] == "skipped"
    code, out, _ = gate("diff", "--repo", str(new_data), "--config", policy)
    assert "Comparable: NO: compared the evaluation's source inputs" in out
    assert "evaluation input data/raw.csv" in out


@pytest.fixture(scope="module")
def named_data(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prepare's command names its data (`python3 src/prepare.py data/raw.csv`, as DVC's own
    get-started does): v2 so reproduced, then v3 with data/raw.csv cut to 300 rows."""
    root = tmp_path_factory.mktemp("named-data") / "repo"
    copy_repo(template, root)
    with pinned_env(tmp_path_factory.mktemp("named-data-home")):
        dvc_yaml = root / "dvc.yaml"
        text = dvc_yaml.read_text()
        assert "cmd: python3 src/prepare.py\n" in text
        dvc_yaml.write_text(
            text.replace(
                "cmd: python3 src/prepare.py\n", "cmd: python3 src/prepare.py data/raw.csv\n"
            )
        )
        run(root, "dvc", "repro", "-q")
        commit_all(root, "prepare names its data")
        promote(str(root), "v2", [])
        commit_all(root, "Promote v2")
        _less_raw_data(root)
        promote(str(root), "v3", [])
        commit_all(root, "Promote v3")
    return root


def test_default_data_a_command_names_is_still_an_input(
    named_data: Path, gate: Gate, tmp_path: Path
) -> None:
    """A file the upstream command names as an argument is its data, not its program: the
    evaluation's source moved, so v3 is not comparable with v2 (was: "Comparable: yes")."""
    policy = _default_policy(tmp_path)
    code, doc = gate.json("check", "--repo", str(named_data), "--rev", "HEAD", "--config", policy)
    v3 = next(b for b in doc["bundles"] if b["name"] == "v3")
    results = {r["code"]: r for r in v3["results"]}
    assert code == 1
    (finding,) = results["PG404"]["findings"]
    assert "evaluation input data/raw.csv (read by stage prepare) differs" in finding["message"]
    code, out, _ = gate("diff", "v2", "v3", "--repo", str(named_data), "--config", policy)
    assert "Comparable: NO" in out
    assert "evaluation input src/prepare.py" not in out  # the program is still not an input
    assert "treated as code, not compared: src/prepare.py" in out


# --------------------------------------------------------------------------- code or data
# Upstream of the evaluation, a dependency is code when git tracks it and the policy's
# `comparability.code` patterns (default: *.py, *.R, *.sh, *.ipynb, src/**) match it; every
# other one is data, and a DVC-tracked one always, whatever its name.


def _bundle_results(doc: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    bundle = next(b for b in doc["bundles"] if b["name"] == name)
    return {r["code"]: r for r in bundle["results"]}


@pytest.fixture(scope="module")
def upstream(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prepare also reads a git-tracked data/stopwords.txt. v2 so reproduced; v3 with that
    file edited (data upstream: not comparable with v2); v4 with src/prepare.py changed to
    sort its rows before the shuffle (code upstream: comparable with v3), each reproduced."""
    root = tmp_path_factory.mktemp("upstream") / "repo"
    copy_repo(template, root)
    with pinned_env(tmp_path_factory.mktemp("upstream-home")):
        (root / "data/stopwords.txt").write_text("the\na\n")
        dvc_yaml = root / "dvc.yaml"
        text = dvc_yaml.read_text()
        old = "deps: [src/prepare.py, data/raw.csv]"
        assert old in text
        dvc_yaml.write_text(
            text.replace(old, "deps: [src/prepare.py, data/raw.csv, data/stopwords.txt]")
        )
        run(root, "git", "add", "data/stopwords.txt")
        run(root, "dvc", "repro", "-q")
        commit_all(root, "prepare reads stopwords")
        for name, change in (
            ("v2", None),
            ("v3", lambda: (root / "data/stopwords.txt").write_text("the\na\nan\n")),
            ("v4", lambda: _edit_prepare(root)),
        ):
            if change is not None:
                change()
                run(root, "dvc", "repro", "-q")
                commit_all(root, f"before {name}")
            promote(str(root), name, [])
            commit_all(root, f"Promote {name}")
    return root


def _edit_prepare(root: Path) -> None:
    script = root / "src/prepare.py"
    text = script.read_text()
    old = 'rows = list(csv.reader(open("data/raw.csv")))[1:]\n'
    assert old in text
    script.write_text(text.replace(old, old + "rows.sort()\n"))


def test_git_tracked_data_upstream_is_compared(upstream: Path, gate: Gate, tmp_path: Path) -> None:
    """A git-tracked file upstream that no code pattern matches is data: editing it and
    reproducing makes the next release not comparable."""
    policy = _default_policy(tmp_path)
    code, doc = gate.json("check", "--repo", str(upstream), "--rev", "HEAD", "--config", policy)
    assert code == 1
    (finding,) = _bundle_results(doc, "v3")["PG404"]["findings"]
    assert (
        "evaluation input data/stopwords.txt (read by stage prepare) differs" in finding["message"]
    )
    _code, out, _ = gate("diff", "v2", "v3", "--repo", str(upstream), "--config", policy)
    assert "Comparable: NO" in out


def test_a_code_change_upstream_stays_comparable_and_diff_says_what_was_code(
    upstream: Path, gate: Gate, tmp_path: Path
) -> None:
    policy = _default_policy(tmp_path)
    code, doc = gate.json("check", "--repo", str(upstream), "--rev", "HEAD", "--config", policy)
    assert _bundle_results(doc, "v4")["PG404"]["status"] == "passed"
    code, out, _ = gate("diff", "v3", "v4", "--repo", str(upstream), "--config", policy)
    assert code == 0
    assert (
        "Comparable: yes: the evaluation's source inputs (data/raw.csv, data/stopwords.txt" in out
    )
    assert "treated as code, not compared: src/prepare.py" in out
    code, doc = gate.json(
        "diff", "v3", "v4", "--repo", str(upstream), "--config", policy, "--format", "json"
    )
    assert doc["comparability_code"] == ["src/prepare.py"]


def test_code_patterns_are_the_policy(upstream: Path, gate: Gate, tmp_path: Path) -> None:
    """`comparability.code` decides: a policy naming data/*.txt as code makes v3 comparable;
    one naming no *.py makes the code change of v4 a change of the evaluation's inputs."""
    policy = Path(_default_policy(tmp_path))
    text = policy.read_text()
    as_code = tmp_path / "as-code.yaml"
    as_code.write_text(text + 'comparability:\n  code: ["*.py", "data/*.txt"]\n')
    _, doc = gate.json("check", "--repo", str(upstream), "--rev", "HEAD", "--config", str(as_code))
    assert _bundle_results(doc, "v3")["PG404"]["status"] == "passed"
    no_code = tmp_path / "no-code.yaml"
    no_code.write_text(text + 'comparability:\n  code: ["*.sh"]\n')
    _code, doc = gate.json(
        "check", "--repo", str(upstream), "--rev", "HEAD", "--config", str(no_code)
    )
    (finding,) = _bundle_results(doc, "v4")["PG404"]["findings"]
    assert "evaluation input src/prepare.py (read by stage prepare) differs" in finding["message"]


def test_dvc_tracked_data_is_data_whatever_the_patterns(
    new_data: Path, gate: Gate, tmp_path: Path
) -> None:
    """data/raw.csv is DVC-tracked (dvc add): a policy calling everything code does not make
    a change to it comparable."""
    policy = Path(_default_policy(tmp_path))
    everything = tmp_path / "everything.yaml"
    everything.write_text(policy.read_text() + 'comparability:\n  code: ["**"]\n')
    code, results = _results(gate, new_data, "--config", str(everything))
    assert code == 1
    (finding,) = results["PG404"]["findings"]
    assert "evaluation input data/raw.csv (read by stage prepare) differs" in finding["message"]


def test_code_is_what_git_tracks_and_the_patterns_match(tmp_path: Path) -> None:
    """code_inputs asks the commit: a git-tracked src/ file is code; a directory under src/
    holding a .dvc pointer (DVC-tracked data inside) is data; a file git does not track is
    data; a dvc-added *.sh is data; a stage's output is neither (not a source)."""
    from promote_gate.dvc.lock import parse_lock
    from promote_gate.evidence.comparison import code_inputs
    from promote_gate.git import Git
    from promote_gate.repo import CommitView

    run(tmp_path, "git", "init", "-q", "-b", "main")
    for path, text in {
        "src/prepare.py": "print()\n",
        "src/assets/readme.txt": "weights below\n",
        "src/assets/weights.bin.dvc": "outs:\n- md5: 0\n  path: weights.bin\n",
        "tools/fetch.sh.dvc": "outs:\n- md5: 0\n  path: fetch.sh\n",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    commit = commit_all(tmp_path, "code and data")
    lock = parse_lock(
        b"schema: '2.0'\nstages:\n  prepare:\n    cmd: python src/prepare.py\n    deps:\n"
        b"    - path: src/prepare.py\n      md5: a\n    - path: src/assets\n      md5: b.dir\n"
        b"    - path: tools/fetch.sh\n      md5: c\n    - path: src/untracked.py\n      md5: d\n"
        b"    outs:\n    - path: data/prepared\n      md5: e.dir\n"
        b"  train:\n    cmd: python src/prepare.py\n    deps:\n    - path: data/prepared\n"
        b"      md5: e.dir\n    outs:\n    - path: model.pkl\n      md5: f\n"
    )
    git = Git.open(str(tmp_path))
    try:
        found = code_inputs(lock, CommitView(git, commit), ("*.py", "*.sh", "src/**"))
    finally:
        git.close()
    assert found == {"src/prepare.py"}
