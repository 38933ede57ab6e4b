"""Every templating feature DVC 3 accepts, end to end on a small real repository each.

For each feature: ``dvc repro`` -> ``promote v1`` -> commit -> ``check --rev HEAD`` passes;
then a param the promoted chain depends on is changed and committed without ``dvc repro``,
and ``check --rev HEAD`` names the stale stage (PG204) — so the gate resolved the feature
exactly as DVC did, both when it agrees and when it must not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]

# A stage command: `python w.py OUT ARGS...` writes its arguments to OUT (JSON).
WRITE = """\
import json, os, sys
out = sys.argv[1]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
json.dump(sys.argv[2:], open(out, "w"))
"""
# `python m.py IN... ` writes metrics.json from its inputs.
MEASURE = """\
import json, sys
json.dump({"score": sum(len(open(p).read()) for p in sys.argv[1:])}, open("metrics.json", "w"))
"""
CONFIG = "outputs: [{out}]\ndvc_threshold_bytes: 100000\n"


@dataclass(frozen=True)
class Feature:
    files: dict[str, str]
    out: str  # the promoted output
    stale: str  # the stage PG204 must name after ``edit``
    edit: Callable[[Path], None]


def _replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(repo: Path) -> None:
        text = (repo / path).read_text()
        assert old in text, (path, old)
        (repo / path).write_text(text.replace(old, new, 1))

    return edit


def _measure(*deps: str) -> str:
    listed = " ".join(deps)
    return (
        f"  measure:\n    cmd: python m.py {listed}\n    deps: [m.py, {', '.join(deps)}]\n"
        "    metrics:\n      - metrics.json:\n          cache: false\n"
    )


FEATURES = {
    "two interpolations in one string": Feature(
        {
            "params.yaml": "base:\n  dir: out\n  name: model.json\ntrain:\n  lr: 0.1\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: python w.py ${base.dir}/${base.name} "
            "${train.lr}\n    deps: [w.py]\n    params: [train.lr, base]\n"
            '    outs: ["${base.dir}/${base.name}"]\n' + _measure("out/model.json"),
        },
        "out/model.json",
        "train",
        _replace("params.yaml", "lr: 0.1", "lr: 0.2"),
    ),
    "vars at top level and stage level": Feature(
        {
            "cfg.yaml": "model:\n  size: 3\nother: 1\n",
            "dvc.yaml": "vars:\n  - cfg.yaml:model\n  - {tag: final}\nstages:\n  train:\n"
            "    vars:\n      - {suffix: json}\n"
            "    cmd: python w.py out/${tag}.${suffix} ${model.size}\n    deps: [w.py, cfg.yaml]\n"
            '    outs: ["out/${tag}.${suffix}"]\n' + _measure("out/final.json"),
            "params.yaml": "unused: 1\n",
        },
        "out/final.json",
        "train",
        _replace("cfg.yaml", "size: 3", "size: 4"),
    ),
    "foreach over a reference to a dict": Feature(
        {
            "params.yaml": "models:\n  small:\n    size: 1\n  big:\n    size: 2\n",
            "dvc.yaml": "stages:\n  train:\n    foreach: ${models}\n    do:\n"
            "      cmd: python w.py out/${key}.json ${item.size}\n      deps: [w.py]\n"
            '      params: ["models.${key}.size"]\n      outs: ["out/${key}.json"]\n'
            + _measure("out/big.json"),
        },
        "out/big.json",
        "train@big",
        _replace("params.yaml", "size: 2", "size: 5"),
    ),
    "matrix over a reference to a dict and a list": Feature(
        {
            "params.yaml": "models:\n  small: 1\n  big: 2\nseeds: [1, 2]\n",
            "dvc.yaml": "stages:\n  train:\n    matrix:\n      model: ${models}\n"
            "      seed: ${seeds}\n"
            "    cmd: python w.py out/${item.model}-${item.seed}.json\n    deps: [w.py]\n"
            '    params: [models]\n    outs: ["out/${item.model}-${item.seed}.json"]\n'
            + _measure("out/big-2.json"),
        },
        "out/big-2.json",
        "train@big-2",
        _replace("params.yaml", "big: 2", "big: 3"),
    ),
    "dict, list and bool unpacking in cmd": Feature(
        {
            "params.yaml": "train:\n  lr: 0.1\n  fast: true\n  layers: [8, 4]\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: python w.py out/model.json ${train}\n"
            "    deps: [w.py]\n    params: [train]\n    outs: [out/model.json]\n"
            + _measure("out/model.json"),
            ".dvc/config.append": "[parsing]\n    list = append\n",
        },
        "out/model.json",
        "train",
        _replace("params.yaml", "fast: true", "fast: false"),
    ),
    "params.py": Feature(
        {
            "params.py": "LR = 0.1\n\n\nclass Train:\n    EPOCHS = 5\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: python w.py out/model.json\n"
            "    deps: [w.py]\n    params:\n      - params.py:\n          - LR\n"
            "          - Train.EPOCHS\n    outs: [out/model.json]\n" + _measure("out/model.json"),
        },
        "out/model.json",
        "train",
        _replace("params.py", "EPOCHS = 5", "EPOCHS = 6"),
    ),
    "wdir": Feature(
        {
            "sub/params.yaml": "train:\n  lr: 0.1\n",
            "dvc.yaml": "stages:\n  train:\n    wdir: sub\n"
            "    cmd: python ../w.py out/model.json\n    deps: [../w.py]\n"
            "    params: [train.lr]\n    outs: [out/model.json]\n" + _measure("sub/out/model.json"),
            "params.yaml": "unused: 1\n",
        },
        "sub/out/model.json",
        "train",
        _replace("sub/params.yaml", "lr: 0.1", "lr: 0.3"),
    ),
    "a nested dvc.yaml": Feature(
        {
            "sub/params.yaml": "train:\n  lr: 0.1\n",
            "sub/dvc.yaml": "stages:\n  train:\n    cmd: python ../w.py out/model.json "
            "${train.lr}\n    deps: [../w.py]\n    params: [train.lr]\n    outs: [out/model.json]\n"
            "  measure:\n    cmd: python ../m.py out/model.json\n    deps: [../m.py, out/model.json]\n"
            "    metrics:\n      - metrics.json:\n          cache: false\n",
        },
        "sub/out/model.json",
        "sub/dvc.yaml:train",
        _replace("sub/params.yaml", "lr: 0.1", "lr: 0.3"),
    ),
}


def _build(root: Path, feature: Feature) -> None:
    root.mkdir()
    run(root, "git", "init", "-q", "-b", "main")
    run(root, "dvc", "init", "-q")
    files = {"w.py": WRITE, "m.py": MEASURE, **feature.files}
    files[".promote-gate.yaml"] = CONFIG.format(out=feature.out)
    for rel, text in files.items():
        if rel.endswith(".append"):
            with (root / rel.removesuffix(".append")).open("a") as fobj:
                fobj.write(text)
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    run(root, "dvc", "repro", "-q", "--all-pipelines")
    commit_all(root, "pipeline")


@pytest.mark.parametrize("name", list(FEATURES))
def test_feature_promotes_checks_green_and_catches_a_stale_pipeline(
    name: str, tmp_path: Path, gate: Gate
) -> None:
    feature = FEATURES[name]
    repo = tmp_path / "repo"
    _build(repo, feature)

    code, out, err = gate("promote", "v1", "--repo", str(repo))
    assert code == 0, err
    commit_all(repo, "promote v1")
    manifest = json.loads((repo / "publish/v1/manifest.json").read_text())
    assert [f["source"]["path"] for f in manifest["files"]] == [feature.out]
    code, out, err = gate("check", "--repo", str(repo), "--rev", "HEAD")
    assert (code, err) == (0, ""), out

    feature.edit(repo)
    commit_all(repo, "change a param, forget dvc repro")
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD")
    assert code == 1, doc
    failed = {r["code"]: r for b in doc["bundles"] for r in b["results"] if r["status"] == "failed"}
    assert set(failed) == {"PG204"}
    assert any(feature.stale in f["message"] for f in failed["PG204"]["findings"]), failed
