"""What every evidence provider reads: one DVC project of one checkout, and what the run
has already learnt of it (each ``dvc.yaml`` parsed once, each bundle read and hashed once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from promote_gate.config import Config
from promote_gate.dvc.cache import cache_dir
from promote_gate.dvc.parsing import Project, parse_project
from promote_gate.errors import GateError
from promote_gate.facts import BundleFacts, RemoteFacts
from promote_gate.git import Git
from promote_gate.gitattributes import Attributes
from promote_gate.objects import DirectorySource, ObjectStore
from promote_gate.repo import CommitView, View
from promote_gate.signing import PublicKey
from promote_gate.yamlio import DocumentError


class Memo:
    """Evidence that cannot change during a run, computed once and shared by the bundles."""

    def __init__(self) -> None:
        self.checked: tuple[Project | None, DocumentError | None] | None = None
        self.projects: dict[str, tuple[Project | None, str | None]] = {}
        self.attributes: dict[int, Attributes] = {}
        self.bundles: dict[tuple[str, str], BundleFacts] = {}
        self.statuses: dict[frozenset[str], tuple[Any, str | None]] = {}
        self.lineage: tuple[dict[str, frozenset[str]], dict[str, str]] | None = None
        self.trees: dict[str, CommitView] = {}  # commit -> its tree (a bundle's source.commit)


@dataclass(frozen=True)
class Scope:
    """One project of one checkout, as the providers see it.

    ``store`` is where content-addressed evidence (DVC objects) may come from; every object
    is hashed against its address before it counts. ``remote`` is the default DVC remote as
    the policy's revision configures it (PG505). ``released``: bundle names present at the
    base. ``git`` is None for a bare bundle directory (``verify``).
    """

    view: View
    config: Config
    git: Git | None = None  # None for a bare bundle directory
    store: ObjectStore = field(default_factory=lambda: ObjectStore([]))
    policy_view: View | None = None
    remote: RemoteFacts | None = None
    released: frozenset[str] = frozenset()
    ci: bool = False  # CI: DVC objects come from the remote alone
    keys: tuple[PublicKey, ...] = ()  # trusted to sign (the policy's, or verify --key)
    signature_required: bool = False  # a new bundle must be signed by one of them
    memo: Memo = field(default_factory=Memo, compare=False)

    @classmethod
    def local(cls, view: View, config: Config, git: Git) -> Scope:
        """A scope reading DVC objects from the project's own cache (``diff``)."""
        store = ObjectStore([DirectorySource(cache_dir(view.root), "the DVC cache")])
        return cls(view, config, git, store)

    @cached_property
    def checked_commit(self) -> str | None:
        """The commit checked, or for the working tree and the index, HEAD."""
        if isinstance(self.view, CommitView):
            return self.view.commit
        return self.git.head() if self.git is not None else None

    def checked_project(self) -> Project | None:
        """The checked view's dvc.yaml files resolved, once (DocumentError each time)."""
        if self.memo.checked is None:
            try:
                self.memo.checked = (parse_project(self.view), None)
            except DocumentError as exc:
                self.memo.checked = (None, exc)
        project, error = self.memo.checked
        if error is not None:
            raise error
        return project

    def project_at(self, commit: str) -> tuple[Project | None, str | None]:
        """dvc.yaml as ``commit`` had it (git objects), or why it cannot be read."""
        if commit not in self.memo.projects:
            assert self.git is not None
            try:
                project = parse_project(CommitView(self.git, commit))
                error = None if project is not None else f"there is no dvc.yaml at {commit[:12]}"
            except (DocumentError, GateError) as exc:
                project, error = None, f"dvc.yaml at {commit[:12]} cannot be read: {exc}"
            self.memo.projects[commit] = (project, error)
        return self.memo.projects[commit]

    def attributes(self, view: View) -> Attributes:
        """The git attributes of ``view`` (one evaluator per view, each file read once)."""
        if id(view) not in self.memo.attributes:
            self.memo.attributes[id(view)] = Attributes(attribute_reader(view))
        return self.memo.attributes[id(view)]


def attribute_reader(view: View) -> Callable[[str], bytes | None]:
    """``.gitattributes`` blobs as git reads them (a symlinked one is its link text)."""

    def read(path: str) -> bytes | None:
        entry = view.entry(path)
        if entry is None:
            return None
        if entry.kind == "symlink":
            return (entry.target or "").encode("utf-8", "surrogateescape")
        return view.read(path) if entry.kind == "file" else None

    return read


def listed(facts: BundleFacts) -> list[dict[str, Any]]:
    """The manifest's file entries that are objects (the schema checks the rest)."""
    files = facts.manifest_value.get("files")
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def source_commit(facts: BundleFacts) -> str | None:
    """``source.commit`` as the manifest names it (unchecked)."""
    source = facts.manifest_value.get("source")
    commit = source.get("commit") if isinstance(source, dict) else None
    return commit if isinstance(commit, str) else None
