"""pipeline_status against real ``dvc status``: the gate calls a stage stale exactly when DVC does.

pipeline_status re-derives ``dvc status`` for pipeline stages (so ``check --rev`` can judge a
commit's tree without a checkout). Each scenario mutates a real, reproduced DVC project and
compares the stale stages on both sides; ``.dvc`` pointer entries of ``dvc status`` are not
pipeline stages and are left out.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import commit_all, pinned_env, run

from promote_gate.dvc.lock import parse_lock
from promote_gate.dvc.parsing import parse_project
from promote_gate.dvc.status import StageStatus, pipeline_status
from promote_gate.git import Git
from promote_gate.repo import CommitView, View, WorktreeView

Mutation = Callable[[Path], object]


# --------------------------------------------------------------------------- both sides


def gate_status(view: View) -> dict[str, StageStatus]:
    """pipeline_status as ``Collector._status`` calls it."""
    project = parse_project(view)
    assert project is not None
    lock_bytes = view.read("dvc.lock")
    assert lock_bytes is not None
    lock = parse_lock(lock_bytes, "dvc.lock", project.wdirs)
    return pipeline_status(view, project, lock)


def gate_stale(view: View) -> dict[str, tuple[str, ...]]:
    """Stale stages (non-empty ``changes``) with the reasons the gate gives."""
    return {name: st.changes for name, st in gate_status(view).items() if st.changes}


@contextmanager
def cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def dvc_status(root: Path) -> dict[str, Any]:
    """What ``dvc status --json`` prints: ``CmdDataStatus`` dumps ``Repo.status()`` as is.

    Called in process (a ``dvc`` subprocess costs ~1 s of start-up per scenario);
    test_in_process_status_is_dvc_status_json checks the two agree.
    """
    from dvc.repo import Repo

    with cwd(root), Repo(str(root)) as repo:
        return dict(repo.status())


def dvc_stale(status: dict[str, Any]) -> set[str]:
    return {name for name in status if not name.endswith(".dvc")}


def dvc_lock_stages(root: Path) -> list[str]:
    """Stage names in dvc.lock, as DVC wrote them."""
    from ruamel.yaml import YAML

    return list(YAML(typ="safe").load((root / "dvc.lock").read_text())["stages"])


def assert_agrees(root: Path, expected: set[str]) -> None:
    """The gate and DVC name the same stages; ``expected`` pins what DVC says.

    Where DVC says a DVC-managed path is "deleted" or "not in cache" (not pulled), the gate
    names it not checked out or not pulled rather than stale: an absent checkout says
    nothing about whether dvc.lock was reproduced.
    """
    status = dvc_status(root)
    ours = {
        n: st.changes + st.unverified + st.not_pulled + st.not_checked_out
        for n, st in gate_status(WorktreeView(str(root))).items()
    }
    ours = {n: why for n, why in ours.items() if why}
    assert set(ours) == dvc_stale(status), (
        f"dvc status: {json.dumps(status, indent=1)}\npromote-gate: {json.dumps(ours, indent=1)}"
    )
    assert dvc_stale(status) == expected, status


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def append(path: Path, text: str) -> None:
    with path.open("a") as fobj:
        fobj.write(text)


# --------------------------------------------------------------------------- the demo project


def unchanged(root: Path) -> None:
    """The baseline: the reproduced project as it is."""


def _track_momentum(root: Path) -> None:
    """A new key in params.yaml, and in the stage's ``params:`` list."""
    edit(
        root / "dvc.yaml",
        "params: [train.lr, train.epochs]",
        "params: [train.lr, train.epochs, train.momentum]",
    )
    append(root / "params.yaml", "  momentum: 0.9\n")


DEMO: dict[str, tuple[Mutation, set[str]]] = {
    "clean": (unchanged, set()),
    "params": (lambda r: edit(r / "params.yaml", "lr: 0.05", "lr: 0.2"), {"train"}),
    "code-dep": (lambda r: append(r / "src/train.py", "# tweak\n"), {"train"}),
    "data-dep": (lambda r: append(r / "data/raw.csv", "1.0,1.0,1.0,1\n"), {"prepare"}),
    "cmd": (
        lambda r: edit(
            r / "dvc.yaml", "cmd: python3 src/train.py", "cmd: python3 src/train.py --fast"
        ),
        {"train"},
    ),
    "output-deleted": (lambda r: (r / "models/model.json").unlink(), {"train", "evaluate"}),
    "out-removed-from-stage": (
        lambda r: edit(r / "dvc.yaml", "    outs: [models/model.json]\n", ""),
        set(),
    ),
    "new-param-key": (_track_momentum, {"train"}),
    "param-removed": (lambda r: edit(r / "params.yaml", "  epochs: 8\n", ""), {"train"}),
    "untracked-param-added": (lambda r: append(r / "params.yaml", "unused: 1\n"), set()),
    "params-reformatted": (
        lambda r: (r / "params.yaml").write_text(
            "# same values, other layout\ntrain: {epochs: 8, lr: 5.0e-2}\nprepare: {seed: 7, split: .25}\n"
        ),
        set(),
    ),
    "dir-output-gains-a-file": (
        lambda r: (r / "data/prepared/extra.csv").write_text("1,2,3,0\n"),
        {"prepare", "train", "evaluate"},
    ),
    "uncached-metric-edited": (
        lambda r: (r / "eval/metrics.json").write_text('{"acc": 1.0, "loss": 0.0}\n'),
        {"evaluate"},
    ),
}


@pytest.mark.parametrize("scenario", list(DEMO))
def test_demo_worktree_agrees_with_dvc_status(repo: Path, scenario: str) -> None:
    mutate, expected = DEMO[scenario]
    mutate(repo)
    assert_agrees(repo, expected)


def test_missing_checkout_is_not_checked_out_not_stale(repo: Path) -> None:
    (repo / "models/model.json").unlink()  # the DVC cache still has it: DVC says "deleted"
    status = gate_status(WorktreeView(str(repo)))
    assert all(not st.changes and not st.unverified for st in status.values()), status
    assert status["train"].not_checked_out == ("models/model.json",)
    assert status["evaluate"].not_checked_out == ("models/model.json",)
    assert all(not st.not_pulled for st in status.values()), status


OUTS = {"prepare": {"data/prepared"}, "train": {"models/model.json"}, "evaluate": set()}


def _outs_dvc_calls(status: dict[str, Any], stage: str, word: str) -> set[str]:
    return {
        path
        for change in status.get(stage, [])
        if isinstance(change, dict)
        for path, said in change.get("changed outs", {}).items()
        if said == word
    }


def test_a_clone_without_dvc_pull_is_not_pulled_as_dvc_says_not_in_cache(
    repo: Path, tmp_path: Path
) -> None:
    """A fresh clone: DVC calls every output "not in cache" (and the deps "deleted"); the
    gate calls them not pulled, judges the stages as dvc.lock records them, and finds
    nothing stale. After ``dvc fetch`` the cache has them: DVC says "deleted", the gate
    not checked out."""
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    assert (clone / ".dvc/../../dvc-remote").resolve() == (repo.parent / "dvc-remote").resolve()
    for word, field in (("not in cache", "not_pulled"), ("deleted", "not_checked_out")):
        if word == "deleted":
            run(clone, "dvc", "fetch", "-q")
        dvc = dvc_status(clone)
        ours = gate_status(WorktreeView(str(clone)))
        assert dvc_stale(dvc) == set(ours) == {"prepare", "train", "evaluate"}, dvc
        for name, st in ours.items():
            assert st.changes == (), st
            assert st.unverified == (), st
            outs = {p for p in getattr(st, field) if p in OUTS[name]}
            assert outs == _outs_dvc_calls(dvc, name, word) == OUTS[name], (name, dvc)
        assert set(ours["prepare"].not_pulled + ours["prepare"].not_checked_out) == {
            "data/raw.csv",
            "data/prepared",
        }


def test_a_clone_without_dvc_pull_still_sees_a_committed_data_change(
    repo: Path, tmp_path: Path
) -> None:
    """``dvc add`` of new data committed without ``dvc repro``: a clone without the data
    still finds prepare stale, from the .dvc file's md5 against dvc.lock's."""
    append(repo / "data/raw.csv", "1.0,1.0,1.0,1\n")
    run(repo, "dvc", "add", "-q", "data/raw.csv")
    commit_all(repo, "new data, no repro")
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    stale = gate_stale(WorktreeView(str(clone)))
    assert set(stale) == {"prepare"}, stale
    assert "dep data/raw.csv: modified" in stale["prepare"][0]
    assert "not in the workspace" in stale["prepare"][0]


def test_in_process_status_is_dvc_status_json(repo: Path) -> None:
    edit(repo / "params.yaml", "lr: 0.05", "lr: 0.2")
    (repo / "models/model.json").unlink()
    printed = json.loads(run(repo, "dvc", "status", "--json"))
    assert printed == dvc_status(repo)
    assert dvc_stale(printed) == {"train", "evaluate"}


def test_clean_demo_reports_nothing_unverified(repo: Path) -> None:
    status = gate_status(WorktreeView(str(repo)))
    assert set(status) == {"prepare", "train", "evaluate"}
    assert all(st.changes == () and st.unverified == () for st in status.values()), status


# --------------------------------------------------------------------------- committed states

COMMITTED: dict[str, tuple[Mutation, set[str]]] = {
    "params": (lambda r: edit(r / "params.yaml", "lr: 0.05", "lr: 0.2"), {"train"}),
    "code-dep": (lambda r: append(r / "src/evaluate.py", "# tweak\n"), {"evaluate"}),
    "cmd": (
        lambda r: edit(
            r / "dvc.yaml", "cmd: python3 src/prepare.py", "cmd: python3 src/prepare.py -v"
        ),
        {"prepare"},
    ),
    "unrelated-file": (lambda r: (r / "NOTES.md").write_text("notes\n"), set()),
}


@contextmanager
def opened(root: Path) -> Iterator[Git]:
    git = Git.open(str(root))
    try:
        yield git
    finally:
        git.close()


def test_commit_view_of_a_reproduced_commit_is_clean(repo: Path) -> None:
    with opened(repo) as git:
        head = git.head()
        assert head is not None
        status = gate_status(CommitView(git, head))
    assert set(status) == {"prepare", "train", "evaluate"}
    assert all(st.changes == () and st.unverified == () for st in status.values()), status
    assert dvc_stale(dvc_status(repo)) == set()  # the checkout of that commit, for DVC


@pytest.mark.parametrize("scenario", list(COMMITTED))
def test_commit_view_sees_committed_changes(repo: Path, scenario: str) -> None:
    mutate, expected = COMMITTED[scenario]
    with opened(repo) as git:
        before = git.head()
        assert before is not None
        mutate(repo)
        after = commit_all(repo, f"commit {scenario} without dvc repro")
        run(repo, "git", "checkout", "-q", before)  # the commit view must not read the workspace

        assert set(gate_stale(CommitView(git, after))) == expected
        assert gate_stale(CommitView(git, before)) == {}


def test_commit_view_sees_a_committed_data_change(repo: Path) -> None:
    """data/raw.csv is DVC-tracked: the commit holds only its pointer, which `dvc add` moved."""
    append(repo / "data/raw.csv", "1.0,1.0,1.0,1\n")
    run(repo, "dvc", "add", "-q", "data/raw.csv")
    sha = commit_all(repo, "new data, no repro")
    assert dvc_stale(dvc_status(repo)) == {"prepare"}
    with opened(repo) as git:
        assert set(gate_stale(CommitView(git, sha))) == {"prepare"}


# --------------------------------------------------------------------------- a richer project

WRITE = """\
import os, sys
os.makedirs(os.path.dirname(sys.argv[1]) or ".", exist_ok=True)
open(sys.argv[1], "w").write(" ".join(sys.argv[2:]) + "\\n")
"""
GEN = """\
import os, sys, yaml
name = sys.argv[1]
lr = yaml.safe_load(open("params.yaml"))["cfg"][name]["lr"]
os.makedirs("out", exist_ok=True)
open(f"out/{name}.txt", "w").write(f"{name} {lr}\\n")
"""
SUMMARY = """\
import json, os
os.makedirs("reports", exist_ok=True)
files = sorted(os.listdir("out")) + sorted(os.listdir("scaled"))
json.dump({"n": len(files)}, open("reports/summary.json", "w"))
open("reports/curve.csv", "w").write("step,value\\n" + "".join(f"{i},{i * i}\\n" for i in range(5)))
"""
RICH_DVC_YAML = """\
vars:
  - config/vars.yaml:names,prefix
  - suffix: txt
stages:
  gen:
    foreach: ${names}
    do:
      cmd: python3 src/gen.py ${item}
      deps:
        - ./src/gen.py
      params:
        - cfg.${item}.lr
      outs:
        - ./out/${item}.${suffix}
  scale:
    foreach: ${factors}
    do:
      cmd: python3 src/write.py scaled/${key}.txt ${key} ${item}
      deps:
        - src/write.py
      outs:
        - scaled/${key}.txt
  grid:
    matrix:
      opt: ${grid.opt}
      depth: ${grid.depth}
    cmd: python3 src/write.py grid/${item.opt}-${item.depth}.txt ${item.opt} ${item.depth}
    deps:
      - src/write.py
    outs:
      - grid/${item.opt}-${item.depth}.txt
  summarise:
    cmd:
      - python3 src/summary.py
      - python3 -c "print('${prefix} done')"
    deps:
      - out
      - scaled
      - src/summary.py
    params:
      - other.yaml:
      - extra.yaml:
          - alpha
          - nested.beta
    outs:
      - reports
  inner:
    wdir: sub
    cmd: python3 ../src/write.py result.txt ${prefix}
    deps:
      - ../src/write.py
      - ./../other.yaml
    params:
      - threshold
    outs:
      - result.txt
metrics:
  - reports/summary.json
plots:
  - reports/curve.csv:
      x: step
      y: value
"""
RICH_FILES = {
    "params.yaml": (
        "cfg:\n  small:\n    lr: 0.1\n  large:\n    lr: 0.01\n"
        "factors:\n  x: 2\n  y: 3\n"
        "grid:\n  opt: [adam, sgd]\n  depth: [1, 2]\n"
    ),
    "config/vars.yaml": "names: [small, large]\nprefix: run\nunused: 1\n",
    "other.yaml": "mode: fast\nlayers: [4, 8]\n",
    "extra.yaml": "alpha: 0.5\nnested:\n  beta: 2\n  ignored: 9\n",
    "sub/params.yaml": "threshold: 0.7\n",
    "src/write.py": WRITE,
    "src/gen.py": GEN,
    "src/summary.py": SUMMARY,
    "dvc.yaml": RICH_DVC_YAML,
}
RICH_STAGES = {
    "gen@small",
    "gen@large",
    "scale@x",
    "scale@y",
    "grid@adam-1",
    "grid@adam-2",
    "grid@sgd-1",
    "grid@sgd-2",
    "summarise",
    "inner",
}


@pytest.fixture(scope="module")
def rich_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """foreach (list, dict), matrix, cmd lists, ./paths, whole-file params, vars, wdir: reproduced."""
    root = tmp_path_factory.mktemp("rich") / "repo"
    for rel, text in RICH_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    with pinned_env(tmp_path_factory.mktemp("home")):
        run(root, "git", "init", "-q", "-b", "main")
        run(root, "dvc", "init", "-q")
        run(root, "dvc", "config", "core.autostage", "false")
        run(root, "dvc", "repro", "-q")
        commit_all(root, "rich pipeline, reproduced")
    return root


@pytest.fixture
def rich(rich_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "rich"
    shutil.copytree(rich_template, dest, symlinks=True)
    return dest


RICH: dict[str, tuple[Mutation, set[str]]] = {
    "clean": (unchanged, set()),
    "foreach-item-param": (
        lambda r: edit(r / "params.yaml", "    lr: 0.1\n", "    lr: 0.2\n"),
        {"gen@small"},
    ),
    "foreach-dict-item": (lambda r: edit(r / "params.yaml", "x: 2", "x: 4"), {"scale@x"}),
    "matrix-axis": (
        lambda r: edit(r / "params.yaml", "depth: [1, 2]", "depth: [1, 3]"),
        {"grid@adam-3", "grid@sgd-3"},
    ),
    "whole-file-params": (
        lambda r: edit(r / "other.yaml", "mode: fast", "mode: slow"),
        {"summarise", "inner"},
    ),
    "whole-file-params-new-key": (
        lambda r: append(r / "other.yaml", "dropout: 0.1\n"),
        {"summarise", "inner"},
    ),
    "keyed-params-tracked-key": (
        lambda r: edit(r / "extra.yaml", "alpha: 0.5", "alpha: 0.6"),
        {"summarise"},
    ),
    "keyed-params-nested-key": (
        lambda r: edit(r / "extra.yaml", "beta: 2", "beta: 3"),
        {"summarise"},
    ),
    "keyed-params-untracked-key": (
        lambda r: edit(r / "extra.yaml", "ignored: 9", "ignored: 10"),
        set(),
    ),
    "wdir-default-params": (lambda r: edit(r / "sub/params.yaml", "0.7", "0.8"), {"inner"}),
    "vars-interpolated-into-cmds": (
        lambda r: edit(r / "config/vars.yaml", "prefix: run", "prefix: go"),
        {"summarise", "inner"},
    ),
    "vars-unused-key": (lambda r: edit(r / "config/vars.yaml", "unused: 1", "unused: 2"), set()),
    "dotslash-dep": (lambda r: append(r / "src/gen.py", "# tweak\n"), {"gen@small", "gen@large"}),
    "shared-dep-with-dotdot": (
        lambda r: append(r / "src/write.py", "# tweak\n"),
        {"scale@x", "scale@y", "grid@adam-1", "grid@adam-2", "grid@sgd-1", "grid@sgd-2", "inner"},
    ),
    "metric-inside-dir-output": (
        lambda r: (r / "reports/summary.json").write_text("{}"),
        {"summarise"},
    ),
    "matrix-output-deleted": (lambda r: (r / "grid/sgd-2.txt").unlink(), {"grid@sgd-2"}),
    "foreach-output-edited": (
        lambda r: (r / "out/small.txt").write_text("x\n"),
        {"gen@small", "summarise"},
    ),
    "wdir-output-deleted": (lambda r: (r / "sub/result.txt").unlink(), {"inner"}),
}


@pytest.mark.parametrize("scenario", list(RICH))
def test_rich_worktree_agrees_with_dvc_status(rich: Path, scenario: str) -> None:
    mutate, expected = RICH[scenario]
    mutate(rich)
    assert_agrees(rich, expected)


def test_rich_stage_names_match_dvc(rich: Path) -> None:
    """foreach/matrix expand to the names dvc.lock has (``gen@small``, ``grid@adam-1``)."""
    project = parse_project(WorktreeView(str(rich)))
    assert project is not None
    assert set(project.stages) == set(dvc_lock_stages(rich)) == RICH_STAGES


def test_rich_commit_view_agrees_with_dvc_on_its_checkout(rich: Path) -> None:
    """The committed, reproduced pipeline is clean for DVC; the commit's tree must be too.

    ``out/`` and ``scaled/`` are deps of ``summarise`` whose files are outputs of the
    foreach stages: git holds only the ``.gitignore`` DVC wrote there.
    """
    assert dvc_stale(dvc_status(rich)) == set()
    with opened(rich) as git:
        head = git.head()
        assert head is not None
        assert gate_stale(CommitView(git, head)) == {}


def test_rich_commit_view_sees_a_committed_params_change(rich: Path) -> None:
    edit(rich / "params.yaml", "    lr: 0.01\n", "    lr: 0.02\n")
    edit(rich / "sub/params.yaml", "0.7", "0.9")
    sha = commit_all(rich, "params changed, no repro")
    assert dvc_stale(dvc_status(rich)) == {"gen@large", "inner"}
    with opened(rich) as git:
        stale = gate_stale(CommitView(git, sha))
    assert {"gen@large", "inner"} <= set(stale)
    assert not {"gen@small", "scale@x", "grid@adam-1"} & set(stale)


# --------------------------------------------------------------------------- after a real repro


def test_foreach_over_mappings_and_booleans_is_clean_after_repro(rich: Path) -> None:
    """DVC names items of a list of mappings by index (``combo@0``) and booleans ``true``/``false``."""
    edit(
        rich / "dvc.yaml",
        "stages:\n",
        "stages:\n"
        "  combo:\n"
        "    foreach:\n"
        "      - {opt: adam, depth: 1}\n"
        "      - {opt: sgd, depth: 2}\n"
        "    do:\n"
        "      cmd: python3 src/write.py combo/${item.opt}-${item.depth}.txt ${item.opt}\n"
        "      deps:\n"
        "        - src/write.py\n"
        "      outs:\n"
        "        - combo/${item.opt}-${item.depth}.txt\n"
        "  flags:\n"
        "    foreach: [true, false]\n"
        "    do:\n"
        "      cmd: python3 src/write.py flags/${item}.txt ${item}\n"
        "      deps:\n"
        "        - src/write.py\n"
        "      outs:\n"
        "        - flags/${item}.txt\n",
    )
    run(rich, "dvc", "repro", "-q")
    assert {"combo@0", "combo@1", "flags@true", "flags@false"} <= set(dvc_lock_stages(rich))
    assert_agrees(rich, set())


def test_whole_file_params_with_a_dotted_top_level_key_is_clean_after_repro(rich: Path) -> None:
    """DVC tracks a whole params file by its top-level keys, dots and all (``lr.decay``)."""
    append(rich / "other.yaml", "lr.decay: 0.5\n")
    run(rich, "dvc", "repro", "-q")
    assert_agrees(rich, set())


def test_params_with_digit_separators_are_clean_after_repro(rich: Path) -> None:
    """``batch: 1_000`` is the int 1000 for DVC (ruamel), and dvc.lock records 1000."""
    append(rich / "extra.yaml", "batch: 1_000\n")
    edit(rich / "dvc.yaml", "          - alpha\n", "          - alpha\n          - batch\n")
    run(rich, "dvc", "repro", "-q")
    assert "batch: 1000" in (rich / "dvc.lock").read_text()
    assert_agrees(rich, set())


def test_committed_dep_inside_a_dvc_added_directory(repo: Path) -> None:
    """A stage reading one file of a `dvc add`ed directory: at a commit, the file's hash comes
    from the directory's .dir listing, as DVC recorded it (the file is not in git)."""
    (repo / "extra").mkdir()
    (repo / "extra/a.txt").write_text("a\n")
    (repo / "extra/b.txt").write_text("b\n")
    run(repo, "dvc", "add", "-q", "extra")
    append(
        repo / "dvc.yaml",
        "  count:\n    cmd: python3 -c \"print(len(open('extra/a.txt').read()))\" > count.txt\n"
        "    deps: [extra/a.txt]\n    outs: [count.txt]\n",
    )
    run(repo, "dvc", "repro", "-q", "count")
    sha = commit_all(repo, "a stage reading a file of a tracked directory")
    assert dvc_stale(dvc_status(repo)) == set()
    git = Git.open(str(repo))
    try:
        status = gate_status(CommitView(git, sha))
    finally:
        git.close()
    assert status["count"].changes == ()
    assert status["count"].unverified == ()
