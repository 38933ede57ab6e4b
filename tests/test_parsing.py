"""The dvc.yaml resolver, construct by construct, against DVC's own (``dvc.repo.Repo.index``).

Each case is a small project (dvc.yaml, params, vars files, ``.dvc/config``); the stages
promote-gate resolves (name, cmd, wdir, deps, params, outs with flags) must equal DVC's. Where
DVC refuses a dvc.yaml, promote-gate refuses it too, naming the file and, where it has one,
the line, and the CLI says so as an error (exit 2), never "internal error".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Gate, commit_all  # type: ignore[import-not-found, unused-ignore]
from test_dvc_corpus import _ours, _theirs  # type: ignore[import-not-found, unused-ignore]

from promote_gate.dvc.parsing import ParsingError

ACCEPTED: dict[str, dict[str, str]] = {
    "an escaped interpolation stays literal": {
        "dvc.yaml": "stages:\n  s:\n    cmd: echo \\${not} ${x}\n",
        "params.yaml": "x: 1\n",
    },
    "list indexing and nested keys": {
        "dvc.yaml": "stages:\n  s:\n    cmd: echo ${a.b[1]} ${a.c.d}\n    deps: ['${a.c.d}']\n",
        "params.yaml": "a:\n  b: [x, y]\n  c:\n    d: data.csv\n",
    },
    "numbers, booleans and floats as DVC formats them": {
        "dvc.yaml": "stages:\n  s:\n    cmd: run ${f} ${g} ${b} ${i} ${n}\n",
        "params.yaml": "f: 0.001\ng: 1.0e-05\nb: true\ni: 100000000000000000000\nn: null\n",
    },
    "foreach over a list of scalars and of mappings": {
        "dvc.yaml": "stages:\n  a:\n    foreach: [x, y]\n    do:\n      cmd: echo ${item}\n"
        "      outs: ['${item}.txt']\n  b:\n    foreach:\n      - {n: 1}\n      - {n: 2}\n"
        "    do:\n      cmd: echo ${item.n}\n",
    },
    "foreach over a mapping: key and item": {
        "dvc.yaml": "stages:\n  t:\n    foreach:\n      us: {lr: 1}\n      eu: {lr: 2}\n"
        "    do:\n      cmd: train ${key} ${item.lr}\n      params: ['lr.${key}']\n",
        "params.yaml": "lr:\n  us: 1\n  eu: 2\n",
    },
    "matrix over lists and a referenced mapping's keys": {
        "dvc.yaml": "stages:\n  m:\n    matrix:\n      model: ${models}\n      seed: [1, 2]\n"
        "    cmd: fit ${item.model} ${item.seed}\n    outs: ['out/${item.model}-${item.seed}']\n",
        "params.yaml": "models:\n  cnn: {}\n  mlp: {}\n",
    },
    "vars: a file, selected keys of a file, an inline mapping; stage vars": {
        "dvc.yaml": "vars:\n  - cfg.yaml\n  - more.yaml:k1,k2\n  - {inline: 3}\nstages:\n  s:\n"
        "    vars:\n      - {local: 4}\n    cmd: echo ${a} ${k1} ${k2} ${inline} ${local}\n",
        "cfg.yaml": "a: 1\n",
        "more.yaml": "k1: x\nk2: y\nk3: z\n",
    },
    "cmd unpacking with boolean_optional and append": {
        "dvc.yaml": "stages:\n  s:\n    cmd: train ${opts}\n",
        "params.yaml": "opts:\n  lr: 0.1\n  fast: false\n  slow: true\n  tags: [a, b]\n"
        "  nested:\n    depth: 2\n",
        ".dvc/config": "[parsing]\n    bool = boolean_optional\n    list = append\n",
    },
    "cmd as a list, wdir interpolated": {
        "dvc.yaml": "stages:\n  s:\n    wdir: ${dir}\n    cmd:\n      - echo ${x}\n      - echo done\n"
        "    deps: [../in.txt]\n    outs: [o.txt]\n",
        "params.yaml": "dir: sub\nx: 1\n",
    },
    "params: whole files, several files, params.py constants and class attributes": {
        "dvc.yaml": "stages:\n  s:\n    cmd: run\n    params:\n      - lr\n      - other.yaml:\n"
        "      - params.py:\n          - LR\n          - Model.DEPTH\n",
        "params.yaml": "lr: 1\n",
        "other.yaml": "x: 1\n",
        "params.py": "LR = 0.1\n\n\nclass Model:\n    DEPTH = 3\n",
    },
    "metrics and plots with flags, top-level metrics": {
        "dvc.yaml": "metrics: [top.json]\nstages:\n  s:\n    cmd: run\n    metrics:\n"
        "      - m.json:\n          cache: false\n    plots:\n      - p.csv:\n          x: step\n"
        "    outs:\n      - model.bin:\n          persist: true\n",
    },
}

REFUSED: dict[str, dict[str, str]] = {
    "a list interpolated as the whole cmd": {
        "dvc.yaml": "stages:\n  s:\n    cmd: ${cmd}\n    outs: [out.txt]\n",
        "params.yaml": "cmd: [echo a, echo b]\n",
    },
    "a key that does not exist": {
        "dvc.yaml": "stages:\n  s:\n    cmd: echo ${nope}\n",
        "params.yaml": "x: 1\n",
    },
    "a var redefined": {
        "dvc.yaml": "vars:\n  - {x: 2}\nstages:\n  s:\n    cmd: echo ${x}\n",
        "params.yaml": "x: 1\n",
    },
    "a mapping interpolated into a path": {
        "dvc.yaml": "stages:\n  s:\n    cmd: echo\n    deps: ['data/${d}']\n",
        "params.yaml": "d:\n  a: 1\n",
    },
    "an interpolated flag (DVC validates flags before it interpolates)": {
        "dvc.yaml": "stages:\n  s:\n    cmd: echo\n    outs:\n      - out.txt:\n"
        "          cache: ${cached}\n",
        "params.yaml": "cached: false\n",
    },
    "an unknown stage key": {
        "dvc.yaml": "stages:\n  s:\n    cmd: echo\n    depz: [x]\n",
    },
}


def _project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".dvc").mkdir()
    (root / ".dvc/config").write_text("")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_resolves_as_dvc_resolves(name: str, tmp_path: Path) -> None:
    root = _project(tmp_path / "p", ACCEPTED[name])
    theirs = _theirs(root)
    assert theirs, "DVC resolved no stage: the case tests nothing"
    ours, _ = _ours(root)
    assert ours == theirs


@pytest.mark.parametrize("name", list(REFUSED))
def test_refuses_what_dvc_refuses_naming_file_and_line(
    name: str, tmp_path: Path, gate: Gate
) -> None:
    from dvc.exceptions import DvcException

    root = _project(tmp_path / "p", REFUSED[name])
    with pytest.raises(DvcException):
        _theirs(root)
    with pytest.raises(ParsingError, match=r"dvc\.yaml"):
        _ours(root)
    (root / "publish").mkdir()  # so that there is something to judge
    commit_all(root, "pipeline")
    code, out, err = gate("diff", "HEAD", "HEAD", "--repo", str(root))
    assert code == 2, out
    assert "dvc.yaml" in err
    assert "internal error" not in err
