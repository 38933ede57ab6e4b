"""Where DVC projects and their dvc.yaml files are, as DVC's own discovery finds them.

A DVC project is a directory with ``.dvc/config`` (``dvc init``, ``dvc init --subdir``): one
git repository may hold several (a monorepo). Within a project, DVC loads every
``dvc.yaml`` below its root, except inside ``.dvc/``, ``.git/``, a nested project or a
directory ``.dvcignore`` excludes; a stage of ``sub/dvc.yaml`` is addressed
``sub/dvc.yaml:stage`` and recorded in ``sub/dvc.lock``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from promote_gate.dvc import DVC_LOCK, DVC_YAML
from promote_gate.repo import REPOSITORY_DIRS, CommitView, View, WorktreeView, walk

CONFIG = ".dvc/config"


def lock_of(dvcfile: str) -> str:
    """The dvc.lock next to a dvc.yaml: ``sub/dvc.yaml`` -> ``sub/dvc.lock``."""
    return dvcfile[: -len(DVC_YAML)] + DVC_LOCK


def _parts_ok(parts: list[str]) -> bool:
    return not any(p in {".git", ".dvc"} for p in parts)


def _tree_paths(view: View) -> Iterator[str]:
    """Every path of a view that can hold projects (a commit's tree, or a walk of the working
    tree that never follows a symlink nor enters ``.git``, and refuses a tree too deep)."""
    if isinstance(view, CommitView):
        yield from view.paths()
        return
    assert isinstance(view, WorktreeView)
    for directory, dirnames, others in walk(view.root):
        lead = f"{directory}/" if directory else ""
        if ".dvc" in dirnames:  # a project: only its config matters, never its cache
            here = os.path.join(view.root, *directory.split("/")) if directory else view.root
            config = os.path.join(here, ".dvc", "config")
            if os.path.isfile(config) and not os.path.islink(config):
                yield lead + CONFIG
        # at every level: DVC's discovery never looks inside a .git or a .dvc
        dirnames[:] = [d for d in dirnames if d not in REPOSITORY_DIRS]
        for name in others:
            yield lead + name


def find_projects(view: View) -> list[str]:
    """The directories (view-relative, "" for its root) holding a DVC project, sorted: the
    root first. A repository without any ``.dvc/config`` is one project at its root (as
    before ``dvc init``: the gate still judges what is there)."""
    found = set()
    for path in _tree_paths(view):
        if path == CONFIG:
            found.add("")
        elif path.endswith("/" + CONFIG):
            directory = path[: -len(CONFIG) - 1]
            if _parts_ok(directory.split("/")):
                found.add(directory)
    return sorted(found, key=lambda d: (d != "", d)) or [""]


def choose_one(view: View) -> str:
    """At the top of a repository whose DVC projects are all below it: which there are and
    how to choose one ("" when the top is itself a project, or there is none)."""
    top = view.entry(CONFIG)
    if top is not None and top.kind == "file":  # the top is a project: no walk of the tree
        return ""
    projects = find_projects(view)
    if "" in projects:  # there is none
        return ""
    return (
        f"the repository holds the DVC projects {', '.join(p for p in projects if p)}: run "
        "promote-gate inside one, or pass --project DIR"
    )


def no_pipeline(top: str, directory: str) -> str:
    """Why there is nothing to promote in the project ``directory`` of the repository at
    ``top``: no dvc.yaml, or not inside a DVC project."""
    if directory:
        return f"there is no {DVC_YAML} in the DVC project {directory}/: run `dvc repro` and commit"
    hint = choose_one(WorktreeView(top))
    if hint:
        return f"there is no {DVC_YAML} at the top of the repository; {hint}"
    return f"there is no {DVC_YAML} here: run `dvc repro` and commit"


def owner(projects: list[str], path: str) -> str | None:
    """The innermost project containing ``path`` (view-relative), or None."""
    containing = [p for p in projects if p in {"", path} or path.startswith(p + "/")]
    return max(containing, key=len, default=None)


def find_dvcfiles(view: View) -> list[str]:
    """Every dvc.yaml of the project ``view`` is rooted at, as DVC loads them: the root one
    first, nested ones below it, none inside a nested project or an ignored directory."""
    from promote_gate.dvc.ignore import DvcIgnore

    paths = list(_tree_paths(view))
    nested = {
        p[: -len(CONFIG)]  # "sub/" for "sub/.dvc/config"
        for p in paths
        if p.endswith("/" + CONFIG) and _parts_ok(p[: -len(CONFIG) - 1].split("/"))
    }
    ignore = DvcIgnore(view)
    found = []
    for path in paths:
        if path != DVC_YAML and not path.endswith("/" + DVC_YAML):
            continue
        if not _parts_ok(path.split("/")[:-1]) or any(path.startswith(n) for n in nested):
            continue
        if path != DVC_YAML and ignore.ignored(path):
            continue
        entry = view.entry(path)
        if entry is None or entry.kind != "file":
            continue
        found.append(path)
    return sorted(found, key=lambda f: (f != DVC_YAML, f))
