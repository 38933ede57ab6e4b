"""PG404's default verdict on real public DVC projects, against DVC's own pipeline graph.

Each pair of commits of a project in ``../shared/corpus/dvc-projects/`` is laid out as a
git repository (the corpus holds no code: every dependency the pipeline reads that neither
a stage nor a ``.dvc`` file produces is written as a git-tracked placeholder, as the real
repository tracks it). DVC (``dvc.repo.Repo``) says which stages the metrics stages rest
on (its graph), what each dependency is (a stage's output, a ``.dvc`` file's, or neither)
and its hash in dvc.lock; the oracle is the policy written down: a dependency that differs
between the two commits is named as an evaluation input that differs when it is data
upstream (DVC-tracked, or git-tracked and no code pattern matches it) or the metrics
stages' own, and never when it is code upstream.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import commit_all, run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.compare import compare
from promote_gate.config import DEFAULT_CODE, Config
from promote_gate.evidence.comparison import side_of_revision
from promote_gate.git import Git
from promote_gate.objects import ObjectStore
from promote_gate.repo import CommitView

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dvc-projects"


def _pairs() -> list[Any]:
    """(earlier folder, later folder, project directory) for each project present in two
    folders of the same repository (the folders' order does not matter: both are commits)."""
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CORPUS} is absent"))]
    found = []
    for repo in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        commits = sorted(p for p in repo.iterdir() if p.is_dir())
        for a, b in itertools.pairwise(commits):
            for dirpath, dirnames, _ in os.walk(a):
                rel = Path(dirpath).relative_to(a).as_posix()
                if ".dvc" in dirnames and (b / rel / ".dvc").is_dir():
                    name = f"{repo.name}/{a.name}..{b.name}/{rel}"
                    found.append(pytest.param((a, b, "" if rel == "." else rel), id=name))
    return found


def _covers(out: str, dep: str) -> bool:
    return dep == out or dep.startswith(out + "/")


def _dvc_facts(project: Path) -> dict[str, tuple[str | None, str]] | None:
    """What DVC says the metrics stages rest on: dependency -> (its dvc.lock hash, "own",
    "data" or "code"), or None where DVC refuses the project or it has no metrics."""
    import networkx as nx  # type: ignore[import-untyped, unused-ignore]
    import pathspec
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    code = pathspec.GitIgnoreSpec.from_lines(DEFAULT_CODE)
    facts: dict[str, tuple[str | None, str]] = {}
    try:
        with Repo(str(project)) as repo:
            graph = repo.index.graph
            stages = list(repo.index.stages)
    except DvcException:
        return None

    def rel(path: str) -> str:
        return Path(os.path.relpath(path, project)).as_posix()

    produced = [rel(o.fs_path) for s in stages if not s.is_data_source for o in s.outs]
    tracked = [rel(o.fs_path) for s in stages if s.is_data_source for o in s.outs]
    metrics = [s for s in stages if any(o.metric for o in s.outs)]
    if not metrics:
        return None
    upstream = {u for s in metrics for u in nx.descendants(graph, s)} - set(metrics)
    for own, group in ((True, metrics), (False, upstream)):
        for stage in group:
            for dep in stage.deps:
                if hasattr(dep, "params") or stage.is_data_source:
                    continue
                path = rel(dep.fs_path)
                if any(_covers(o, path) for o in produced):
                    continue  # an intermediate: its own sources count
                dvc_tracked = any(_covers(t, path) or _covers(path, t) for t in tracked)
                kind = (
                    "own" if own else "data" if dvc_tracked or not code.match_file(path) else "code"
                )
                facts.setdefault(path, (dep.hash_info.value if dep.hash_info else None, kind))
    return facts


def _lay_out(folder: Path, work: Path, project: str) -> None:
    """The commit's folder as the working tree, its pipeline's git-tracked inputs written."""
    for item in work.iterdir():
        if item.name != ".git":
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    shutil.copytree(folder, work, dirs_exist_ok=True)
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    root = work / project
    try:
        with Repo(str(root)) as repo:
            stages = list(repo.index.stages)
    except DvcException:
        return
    outs = [o for s in stages for o in s.outs]
    for stage in stages:
        for dep in stage.deps:
            path = (root / dep.fs_path).resolve()  # DVC's may be relative to the cwd
            if not path.is_relative_to(work.resolve()):
                continue  # outside the repository: nothing git could track
            if hasattr(dep, "params") or path.exists():
                continue
            if any(_covers(str(o.fs_path), str(path)) for o in outs):
                continue
            value = dep.hash_info.value if dep.hash_info else "none"
            if str(value).endswith(".dir"):
                path = path / "placeholder"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{value}\n")
        for out in stage.outs:
            metric = (root / out.fs_path).resolve()
            if out.metric and metric.is_relative_to(work.resolve()) and not metric.exists():
                metric.parent.mkdir(parents=True, exist_ok=True)
                metric.write_text("{}\n")


@pytest.mark.slow
@pytest.mark.parametrize("pair", _pairs())
def test_default_comparability_follows_dvcs_graph(
    pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, project = pair
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # DVC resolves some paths against the working directory
    run(work, "git", "init", "-q", "-b", "main")
    commits, facts = [], []
    for folder in (a, b):
        _lay_out(folder, work, project)
        commits.append(commit_all(work, folder.name))
        facts.append(_dvc_facts(work / project))
    before, after = facts
    if before is None or after is None:
        pytest.skip("DVC refuses a dvc.yaml here, or no stage produces metrics")
    git = Git.open(str(work)).project(project)
    store = ObjectStore([])
    config = Config()
    try:
        sides = [side_of_revision(CommitView(git, c), store, config) for c in commits]
    finally:
        git.close()
    said = "\n".join(compare(sides[0], sides[1], config).not_comparable)
    for path in sorted(set(before) | set(after)):
        (was, kind), (now, _) = before.get(path, (None, "")), after.get(path, (None, ""))
        kind = kind or after[path][1]
        if was == now or not was or not now:
            continue
        named = f"evaluation input {path} " in said
        assert named == (kind in {"own", "data"}), (path, kind, said)
