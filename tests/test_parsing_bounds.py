"""Bounded resolution: no dvc.yaml can make the resolver expand without bound.

Every check reads every dvc.yaml of the repository, so one committed anywhere (a nested
``sub/dvc.yaml`` here) with a matrix of 8 keys x 10 values, a foreach over 400,000 items
or a ``${}`` repeated over a large params value must be refused (exit 2, naming the file and
the construct) instead of hanging every check. The bombs are sized so that a resolver that
expanded before counting could not finish at all (10^8 stages; terabytes of strings): the
tests complete only because the count comes first, no clock involved. What stays within the
budgets still resolves exactly as DVC resolves it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Gate, commit_all  # type: ignore[import-not-found, unused-ignore]
from test_dvc_corpus import _ours, _theirs  # type: ignore[import-not-found, unused-ignore]

from promote_gate.dvc.parsing import (
    MAX_RESOLVED_SIZE,
    MAX_STAGES_PER_DVCFILE,
    MAX_STAGES_PER_PROJECT,
    ParsingError,
)

MATRIX_BOMB = (
    "stages:\n  ok:\n    cmd: echo ok\n  bomb:\n    matrix:\n"
    + "".join(f"      k{k}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for k in range(8))
    + "    cmd: echo ${item.k0}\n    outs: ['out/${key}']\n"
)

HUGE_FOREACH = 400_000  # ~2.7 MB, 800,000 nodes of params: within the document bounds
FOREACH_BOMB = (  # 200 outputs a stage: 8 * 10^7 paths, were the 400,000 stages generated
    "stages:\n  bomb:\n    foreach: ${items}\n    do:\n      cmd: echo ${item}\n"
    "      outs: [" + ", ".join(f"'out/${{item}}/{n}'" for n in range(200)) + "]\n"
)

BIG = 4 * 1024 * 1024  # one params string, well within the 16 MiB document bound
INTERPOLATION_BOMB = (
    "stages:\n  bomb:\n    foreach: ${items}\n    do:\n      cmd: echo "
    + "${big}" * 1000  # 4 GiB a stage, a thousand stages
    + "\n"
)

ALIASES = 450_000  # YAML aliases of one 4 MiB string: 6 MB and 900,000 nodes, within bounds
ALIAS_BOMB = f"s: &s {'x' * BIG}\nbomb: [{', '.join(['*s'] * ALIASES)}]\n"

BOMBS = {
    # (files under sub/, what the message must name)
    "a matrix of 8 keys x 10 values (10^8 stages)": (
        {"dvc.yaml": MATRIX_BOMB},
        ("stages.bomb.matrix", "a matrix of 8 keys", "100000000 stages,"),
    ),
    "a foreach over 400,000 items": (
        {
            "dvc.yaml": FOREACH_BOMB,
            "params.yaml": f"items: [{', '.join(map(str, range(HUGE_FOREACH)))}]\n",
        },
        ("stages.bomb.foreach", f"a foreach over {HUGE_FOREACH} items"),
    ),
    "a 4 MiB value interpolated 1000 times per stage": (
        {
            "dvc.yaml": INTERPOLATION_BOMB,
            "params.yaml": f"big: {'x' * BIG}\nitems: [{', '.join(map(str, range(1000)))}]\n",
        },
        ("stages.bomb@0.cmd", f"more than {MAX_RESOLVED_SIZE} characters"),
    ),
    "an alias bomb written into a string (2 TB)": (
        {
            "dvc.yaml": "metrics: ['m${bomb}.json']\nstages:\n  s:\n    cmd: echo\n",
            "params.yaml": ALIAS_BOMB,
        },
        ("metrics.0", f"more than {MAX_RESOLVED_SIZE} characters"),
    ),
    "a 4 MiB vars file read again for each of 10,000 stages": (
        {
            "dvc.yaml": "stages:\n  bomb:\n    foreach: ${items}\n    do:\n"
            "      vars: [big.yaml]\n      cmd: echo ${item}\n",
            "big.yaml": f"big: {'x' * BIG}\n",
            "params.yaml": f"items: [{', '.join(map(str, range(10_000)))}]\n",
        },
        ("stages.bomb@", ".vars", f"more than {MAX_RESOLVED_SIZE} characters"),
    ),
}


def _add(root: Path, files: dict[str, str], under: str = "sub") -> None:
    for rel, text in files.items():
        (root / under / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / under / rel).write_text(text)


@pytest.mark.parametrize("rev", [(), ("--rev", "HEAD")], ids=["worktree", "rev-HEAD"])
@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_bomb_anywhere_is_refused_before_it_expands(
    bomb: str, rev: tuple[str, ...], repo: Path, gate: Gate
) -> None:
    files, named = BOMBS[bomb]
    _add(repo, files)
    commit_all(repo, "a nested dvc.yaml that would expand without bound")
    code, out, err = gate("check", "--repo", str(repo), *rev)
    said = out + err  # the report says why it could not evaluate; where is the reporter's
    assert code == 2, said
    assert "sub/dvc.yaml" in said
    for text in named:
        assert text in said
    assert "Traceback" not in said
    assert "internal error" not in said


def _project(root: Path, files: dict[str, str]) -> Path:
    """A git repository holding a DVC project's metadata (no data: resolution needs none)."""
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    _add(root, {".dvc/config": "", **files}, under="")
    return root


def _foreach(count: int) -> dict[str, str]:
    return {
        "dvc.yaml": "stages:\n  each:\n    foreach: ${items}\n    do:\n      cmd: echo ${item}"
        " ${table[0]}\n      outs: ['out/${item}.txt']\n",
        # a table of 300,000 entries beside the items: a context copied per item would copy
        # it ten thousand times (3 * 10^9 values); shared, it is never copied
        "params.yaml": f"items: [{', '.join(f'i{n}' for n in range(count))}]\n"
        f"table: [{', '.join(['7'] * 300_000)}]\n",
    }


def _matrix(count: int) -> dict[str, str]:
    side = 100
    assert count % side == 0
    return {
        "dvc.yaml": "stages:\n  grid:\n    matrix:\n      a: ${seeds}\n      b:\n"
        + "".join(f"        - b{n}\n" for n in range(side))
        + "    cmd: fit ${item.a} ${item.b} ${key}\n    outs: ['m/${item.a}-${item.b}.bin']\n",
        "params.yaml": f"seeds: [{', '.join(map(str, range(count // side)))}]\n",
    }


@pytest.mark.slow
def test_at_the_budget_resolves_as_dvc_resolves(tmp_path: Path) -> None:
    """A foreach and a matrix of exactly the per-dvc.yaml budget each, in one project (two
    dvc.yaml files, within the project's budget): every stage as DVC resolves it."""
    assert 2 * MAX_STAGES_PER_DVCFILE <= MAX_STAGES_PER_PROJECT
    root = _project(tmp_path / "p", {})
    _add(root, _foreach(MAX_STAGES_PER_DVCFILE))
    _add(root, _matrix(MAX_STAGES_PER_DVCFILE), under="grid")
    theirs = _theirs(root)
    assert len(theirs) == 2 * MAX_STAGES_PER_DVCFILE
    ours, _ = _ours(root)
    assert ours == theirs


@pytest.mark.parametrize("construct", ["foreach", "matrix"])
def test_one_stage_over_the_budget_is_refused(construct: str, tmp_path: Path) -> None:
    make = _foreach if construct == "foreach" else _matrix
    files = make(MAX_STAGES_PER_DVCFILE + (1 if construct == "foreach" else 100))
    root = _project(tmp_path / "p", files)
    with pytest.raises(ParsingError, match=rf"stages\.\w+\.{construct}' in dvc\.yaml:2: .*per dvc"):
        _ours(root)


def test_the_project_budget_sums_its_dvc_yaml_files(tmp_path: Path) -> None:
    """Each nested dvc.yaml within its own budget, together over the project's: the one that
    passes the project's budget is named."""
    per_file = MAX_STAGES_PER_DVCFILE
    files = MAX_STAGES_PER_PROJECT // per_file + 1  # enough to pass the project's budget
    root = _project(tmp_path / "p", {})
    for number in range(files):
        _add(root, _matrix(per_file), under=f"part{number}")
    with pytest.raises(ParsingError, match=r"part\d/dvc\.yaml.*resolves per project") as caught:
        _ours(root)
    assert f"part{MAX_STAGES_PER_PROJECT // per_file}/dvc.yaml" in str(caught.value)
