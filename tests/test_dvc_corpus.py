"""Differential tests against DVC itself on real public DVC projects.

``../shared/corpus/dvc-projects/`` holds the DVC metadata (dvc.yaml, dvc.lock, params,
.dvc/config, no data) of two public repositories at several commits: a root project with a
long lock history and double interpolations, and a monorepo of subdirectory projects
(``dvc init --subdir``) with foreach/matrix stages and nested dvc.yaml files. For every
project at every commit, the stages promote-gate resolves (name, cmd, wdir, deps, params,
outs with their flags) and its reading of each dvc.lock equal what ``dvc.repo.Repo`` loads,
and PG204's verdict equals ``dvc status`` wherever DVC can judge without data (the command
and the params). Where DVC refuses a dvc.yaml, promote-gate refuses it too, naming it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from promote_gate.dvc.lock import project_lock
from promote_gate.dvc.parsing import ParsingError, Project, parse_project
from promote_gate.dvc.status import pipeline_status
from promote_gate.errors import DocumentError
from promote_gate.repo import WorktreeView

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dvc-projects"


def _projects() -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CORPUS} is absent"))]
    found = []
    for repo in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        for commit in sorted(p for p in repo.iterdir() if p.is_dir()):
            for dirpath, dirnames, _ in os.walk(commit):
                if ".dvc" in dirnames:
                    project = Path(dirpath)
                    found.append(pytest.param(project, id=str(project.relative_to(CORPUS))))
    return found


def _dvcfiles(root: Path) -> list[str]:
    """The dvc.yaml files DVC loads in a project: nested ones, not those of subprojects."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d
            for d in dirnames
            if d not in {".git", ".dvc"} and not (Path(dirpath) / d / ".dvc").is_dir()
        ]
        if "dvc.yaml" in filenames:
            found.append((Path(dirpath) / "dvc.yaml").relative_to(root).as_posix())
    return sorted(found, key=lambda f: (f != "dvc.yaml", f))


def _ours(root: Path) -> tuple[dict[str, Any], Project | None]:
    """What promote-gate reads, as the gate reads it: its own discovery of dvc.yaml files
    (checked against the walk above), its resolver, and every dvc.lock as one."""
    view = WorktreeView(str(root))
    project = parse_project(view)
    stages: dict[str, Any] = {}
    if project is None:
        assert _dvcfiles(root) == [] or all(not (root / f).read_bytes() for f in _dvcfiles(root))
        return stages, None
    assert list(project.dvcfiles) == _dvcfiles(root)
    lock, _ = project_lock(view.read, project)
    locks = lock.stages if lock is not None else {}
    for name, st in project.stages.items():
        entry = locks.get(name)
        stages[name] = {
            "cmd": st.cmd,
            "wdir": st.wdir,
            "deps": sorted(st.deps),
            "params": sorted(
                (p.file, tuple(sorted(p.keys)) if p.keys is not None else None) for p in st.params
            ),
            "outs": sorted((o.path, o.cache, o.metric, o.plot) for o in st.outs),
            "lock": None
            if entry is None
            else {
                "deps": sorted((d.path, d.md5) for d in entry.deps),
                "outs": sorted((o.path, o.md5) for o in entry.outs),
                "params": {f: dict(v) for f, v in sorted(entry.params.items())},
            },
        }
    return stages, project


def _rel(path: str, root: Path) -> str:
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return "" if rel == "." else rel


def _theirs(root: Path) -> dict[str, Any]:
    from dvc.repo import Repo

    stages: dict[str, Any] = {}
    with Repo(str(root)) as repo:
        for st in repo.index.stages:
            if st.is_data_source:
                continue
            dvcfile = _rel(st.path, root)
            name = st.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{st.name}"
            params = [d for d in st.deps if type(d).__name__ == "ParamsDependency"]
            deps = [d for d in st.deps if type(d).__name__ != "ParamsDependency"]
            lock_file = st.dvcfile._lockfile  # noqa: SLF001 - DVC's own reading, for comparison
            recorded = (lock_file.load().get("stages") or {}) if lock_file.exists() else {}
            stages[name] = {
                "cmd": st.cmd,
                "wdir": _rel(st.wdir, root),
                "deps": sorted(_rel(d.fs_path, root) for d in deps),
                "params": sorted(
                    (_rel(d.fs_path, root), tuple(sorted(d.params)) if d.params else None)
                    for d in params
                ),
                "outs": sorted(
                    (_rel(o.fs_path, root), bool(o.use_cache), bool(o.metric), bool(o.plot))
                    for o in st.outs
                ),
                "lock": None
                if st.name not in recorded
                else {
                    "deps": sorted(
                        (_rel(d.fs_path, root), d.hash_info.value if d.hash_info else None)
                        for d in deps
                    ),
                    "outs": sorted(
                        (_rel(o.fs_path, root), o.hash_info.value if o.hash_info else None)
                        for o in st.outs
                    ),
                    "params": dict(
                        sorted(
                            (_rel(d.fs_path, root), dict(d.hash_info.value or {}))
                            for d in params
                            if d.hash_info
                        )
                    ),
                },
            }
    return stages


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    source: Path = request.param
    root = tmp_path / "project"
    shutil.copytree(source, root)
    for dirpath, _, filenames in os.walk(root):  # the corpus is read-only
        Path(dirpath).chmod(0o755)
        for name in filenames:
            (Path(dirpath) / name).chmod(0o644)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("project", _projects(), indirect=True)
def test_stages_and_lock_resolve_as_dvc_resolves_them(project: Path) -> None:
    from dvc.exceptions import DvcException

    try:
        theirs = _theirs(project)
    except DvcException:  # DVC refuses this dvc.yaml: so must we, naming it
        with pytest.raises(ParsingError, match=r"dvc\.yaml.*validation failed"):
            _ours(project)
        return
    ours, _ = _ours(project)
    assert ours == theirs


_PARAM = re.compile(r"^param (?P<file>.+?):(?P<key>[^:]+): (?P<kind>modified|new|deleted)")


def _declared(pfile: str, leaf: str, declared: set[tuple[str, str]]) -> str:
    """The declared params key a changed leaf belongs to (itself, or a section above it)."""
    parts = leaf.split(".")
    for n in range(len(parts), 0, -1):
        if (pfile, ".".join(parts[:n])) in declared:
            return ".".join(parts[:n])
    return parts[0]  # a whole-file params entry: DVC names the top-level key


@pytest.mark.slow
@pytest.mark.parametrize("project", _projects(), indirect=True)
def test_pipeline_stale_agrees_with_dvc_status_on_what_needs_no_data(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command and the params: the parts of `dvc status` that need no data."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    monkeypatch.chdir(project)  # DVC names stages relative to the working directory
    status: dict[str, Any] = {}
    try:
        with Repo(str(project)) as repo:
            # stage by stage: a `dvc import` elsewhere in the project needs the network
            for stage in repo.index.stages:
                if stage.is_data_source:
                    continue
                dvcfile = _rel(stage.path, project)
                address = stage.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{stage.name}"
                for key, value in repo.status(targets=[f"{dvcfile}:{stage.name}"]).items():
                    status[address if key.rpartition(":")[2] == stage.name else key] = value
    except DvcException:
        pytest.skip("DVC refuses this dvc.yaml (the other test checks we refuse it too)")
    _, ours_project = _ours(project)
    if ours_project is None:
        pytest.skip("no dvc.yaml in the project (DVC has nothing to say either)")
    view = WorktreeView(str(project))
    lock, _ = project_lock(view.read, ours_project)
    if lock is None:
        pytest.skip("no dvc.lock in the project")
    root_stages = dict(ours_project.stages)
    try:
        verdicts = pipeline_status(view, ours_project, lock, list(root_stages))
    except (DocumentError, ParsingError) as exc:
        pytest.fail(f"promote-gate could not judge what DVC judged: {exc}")
    for name, stage in root_stages.items():
        theirs = status.get(name, [])
        their_cmd = "changed command" in theirs
        their_always = "always changed" in theirs
        their_params = {
            (pfile, key, kind)
            for entry in theirs
            if isinstance(entry, dict)
            for pfile, change in (entry.get("changed deps") or {}).items()
            if isinstance(change, dict)
            for key, kind in change.items()
        }
        ours = verdicts[name].changes
        # we name the leaf that changed (train.lr), DVC the key the stage declares (train)
        declared = {(pdef.file, key) for pdef in stage.params for key in (pdef.keys or ())}
        our_params = {
            (m["file"], _declared(m["file"], m["key"], declared), m["kind"])
            for c in ours
            for m in [_PARAM.match(c)]
            if m
        }
        assert ("changed command" in ours) == their_cmd, (name, ours, theirs)
        assert any(c.startswith("always changed") for c in ours) == their_always, (name, ours)
        assert our_params == their_params, (name, ours, theirs)
