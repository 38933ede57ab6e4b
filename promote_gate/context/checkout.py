"""The checkout: one frozen value saying what a run judges — the repository, its DVC
projects, the checked tree (working tree, a commit, or the index), the base, the view whose
policy applies, each project's policy and where DVC objects may come from. ``check``, ``ci``
and the hooks build it through :func:`open_checkout`; ``diff`` and ``promote`` through
:func:`open_view`. Nothing is collected here: evidence is the providers' job."""

# No `from __future__ import annotations` here: it would make the NamedTuples below compile
# their annotations as ForwardRefs at every import (see evidence/records.py).

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, final

from promote_gate import config as config_mod
from promote_gate.context.policy import load_policy, project_of, trusted_keys
from promote_gate.dvc.cache import Remote, cache_dir, default_remote
from promote_gate.dvc.project import find_projects
from promote_gate.errors import UsageError
from promote_gate.facts import RemoteFacts
from promote_gate.git import Git
from promote_gate.hashcache import HashCache
from promote_gate.objects import DirectorySource, ObjectStore, Source, remote_source
from promote_gate.remote_io import KNOB, RemoteReads, remote_timeout
from promote_gate.repo import CommitView, IndexView, View, WorktreeView
from promote_gate.signing import PublicKey


class ProjectCheckout(NamedTuple):
    """One DVC project of a checkout: its git (paths relative to it), its views, policy
    and evidence store, and the notes a reader of the report needs about them."""

    directory: str  # top-relative, "" for the top
    git: Git
    view: View  # the checked tree
    base_view: CommitView | None  # what is released; None: every bundle is new
    policy_view: View  # the tree whose policy (and DVC remote) applies
    config: config_mod.Config
    store: ObjectStore
    remote: RemoteFacts
    notes: tuple[str, ...]
    keys: tuple[PublicKey, ...] = ()  # trusted to sign, read where the policy is


@final
@dataclass(frozen=True)
class Checkout:
    """What one run judges. A context manager: leaving it ends the git processes and
    closes the hash cache."""

    git: Git  # the repository's top
    view: View  # the checked tree at the top
    commit: str | None  # the checked commit (None: the working tree or the index)
    base: str | None
    projects: tuple[ProjectCheckout, ...]
    ci: bool
    hashes: HashCache | None

    def close(self) -> None:
        self.git.close()
        if self.hashes is not None:
            self.hashes.close()

    def __enter__(self) -> "Checkout":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def commit_of(git: Git, rev: str, what: str) -> str:
    """``rev`` as a full commit id, or a UsageError naming the option it came from."""
    commit = git.resolve(rev)
    if commit is None:
        raise UsageError(f"{what} {rev}: no such commit in {git.top}")
    return commit


def view_at(git: Git, commit: str | None, hashes: HashCache | None = None) -> View:
    """``commit``'s tree, or with None the working tree (with the project's DVC cache)."""
    if commit is None:
        return WorktreeView(git.root, cache=cache_dir(git.root), hashes=hashes)
    return CommitView(git, commit)


def open_view(
    repo: str, rev: str | None, project: str | None = None, config_path: str | None = None
) -> tuple[Git, View, config_mod.Config]:
    """The DVC project ``repo`` lies in (or ``project``): its git, its view (the working
    tree, or ``rev``'s tree) and its policy as that view has it."""
    top = Git.open(repo)
    directory = project_of(top, repo, project) or ""
    git = top.project(directory)
    commit = commit_of(git, rev, "--rev") if rev is not None else None
    view = view_at(git, commit)
    config = load_policy(view, view_at(top, commit), directory, config_path, False)
    return git, view, config


def open_checkout(
    repo: str,
    *,
    rev: str | None = None,
    staged: bool = False,
    base: str | None = None,
    policy_from: str = "checked",
    policy_rev: str | None = None,
    config_path: str | None = None,
    ci: bool = False,
    dvc_cache: str | None = None,
    project: str | None = None,
    every_project: bool = False,
    no_cache: bool = False,
) -> Checkout:
    """The checkout of the working tree, ``rev`` or (``staged``) the index, in every DVC
    project of the repository (or the one ``repo`` lies in, or ``project``, unless
    ``every_project``).

    ``base``: what is released (for the index, ``bases.staged_base`` decides it); with
    ``staged`` the base's policy applies (a staged policy never does).
    ``policy_from="base"`` reads the policy from the base, so a change cannot switch off
    its own gate; ``policy_rev`` names the commit whose policy
    applies when the caller worked it out (the hooks, CI). ``ci`` ignores the checkout's
    own DVC cache and ``.dvc/config.local`` (a change could bring them). The user's hash
    cache is used except in CI and with ``no_cache``: there every byte is hashed.
    """
    top_git = Git.open(repo)
    hashes = None if ci or no_cache else HashCache()
    if ci or no_cache:
        config_mod.TRUST_VALIDATION_CACHE = False
    try:
        if staged:  # a staged policy never applies: the base's does
            policy_from = "base"
        commit = commit_of(top_git, rev, "--rev") if rev is not None else None
        base_commit = commit_of(top_git, base, "--base") if base is not None else None
        policy_commit = base_commit if policy_from == "base" else commit
        if policy_rev is not None:  # the caller knows whose policy applies (hook, CI)
            policy_commit = commit_of(top_git, policy_rev, "policy revision")
        rel = _repo_relative(config_path, top_git.root) if config_path else None
        in_view = rel is not None and policy_commit is not None
        chosen = None if every_project else project_of(top_git, repo, project)

        def view_of(git: Git, hashes: HashCache | None = None) -> View:
            return IndexView(git) if staged else view_at(git, commit, hashes)

        top_view = view_of(top_git)
        if chosen is not None:
            directories = [chosen]
        else:
            directories = find_projects(top_view)
            if base_commit is not None:  # a project the change removes: its bundles too
                directories = sorted(
                    set(directories) | set(find_projects(CommitView(top_git, base_commit))),
                    key=lambda d: (d != "", d),
                )
        _printable(directories)
        policy_top = view_at(top_git, policy_commit) if policy_commit is not None else top_view
        projects = []
        down: dict[str, str] = {}  # remotes that could not be asked: once per run, not per project
        reads = RemoteReads()  # what the run read from each remote, for the report's note
        for directory in directories:
            git = top_git.project(directory)
            view = view_of(git, hashes)
            base_view = CommitView(git, base_commit) if base_commit is not None else None
            policy_view = view
            if policy_commit is not None and policy_commit == base_commit:
                policy_view = base_view or view
            elif policy_commit is not None and policy_commit != commit:
                policy_view = CommitView(git, policy_commit)
            config = load_policy(
                policy_view, policy_top, directory, rel if in_view else config_path, in_view
            )
            for each in {id(v): v for v in (view, base_view, policy_view) if v}.values():
                each.limit = config.max_document_bytes
            own_notes = _policy_notes(view, policy_view, config_path)
            store, remote, evidence_notes = evidence_store(
                git, view, policy_view, ci=ci, dvc_cache=dvc_cache, down=down, reads=reads
            )
            store.hashes = hashes
            projects.append(
                ProjectCheckout(
                    directory,
                    git,
                    view,
                    base_view,
                    policy_view,
                    config,
                    store,
                    remote,
                    (*own_notes, *evidence_notes),
                    trusted_keys(policy_top, config),
                )
            )
    except BaseException:
        top_git.close()
        if hashes is not None:
            hashes.close()
        raise
    return Checkout(top_git, top_view, commit, base_commit, tuple(projects), ci, hashes)


def _printable(directories: list[str]) -> None:
    """Refuse a DVC project whose directory name holds a control character: the name
    reaches CI logs, reports and attestations, where a newline starts another line."""
    for directory in directories:
        if any(ord(c) < 32 or ord(c) == 127 for c in directory):
            raise UsageError(
                f"a DVC project directory's name holds a control character: {directory!r}"
            )


def _repo_relative(path: str, root: str) -> str | None:
    """``path`` as a repository path, if it lies inside the repository (else None)."""
    real_root = os.path.realpath(root)
    full = os.path.join(
        os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path)
    )
    if os.path.commonpath([full, real_root]) != real_root:
        return None
    return os.path.relpath(full, real_root).replace(os.sep, "/")


def _policy_notes(view: View, policy_view: View, config_path: str | None) -> list[str]:
    if config_path is not None or policy_view is view:
        return []
    mine = [view.read(name) for name in (config_mod.CONFIG_FILE, config_mod.PYPROJECT)]
    theirs = [policy_view.read(name) for name in (config_mod.CONFIG_FILE, config_mod.PYPROJECT)]
    if mine == theirs:
        return []
    note = (
        "note: this change edits the promote-gate policy; the policy of the base "
        f"({policy_view.label}) applies until it is merged"
    )
    return [note]


LOCAL_CONFIG = ".dvc/config.local"
REMOTE_TIMEOUT_ENV = KNOB


def evidence_store(
    git: Git,
    view: View,
    policy_view: View,
    *,
    ci: bool = False,
    dvc_cache: str | None = None,
    down: dict[str, str] | None = None,
    reads: RemoteReads | None = None,
) -> tuple[ObjectStore, RemoteFacts, list[str]]:
    """Where DVC objects may come from, the default remote (PG505), and notes for the report.

    The remote is the one the policy's revision configures (the base, in the hooks and CI):
    its name (``core.remote``) and URL come from that revision's committed ``.dvc/config``
    alone, so neither a change nor a machine's own settings can make the gate read other
    storage than CI does. ``.dvc/config.local`` is a machine's own file: outside CI, and
    only while git does not track it, it may add options (credentials, a profile, timeouts)
    to the remotes the policy names, never move them (their ``url``) or choose another
    default. In CI the checkout's DVC cache is not used at all (a change could bring one):
    objects come from ``dvc_cache`` when given, and from the remote. A remote is waited for
    at most ``PROMOTE_GATE_REMOTE_TIMEOUT`` seconds of silence (remote_io.REMOTE_TIMEOUT),
    its client limited to as much and one attempt; ``down`` (shared by the projects of one
    run) remembers a remote that could not be asked, so that it is not asked again.
    """
    notes: list[str] = []
    try:
        timeout = remote_timeout(os.environ.get(REMOTE_TIMEOUT_ENV))
    except ValueError as exc:
        raise UsageError(f"{REMOTE_TIMEOUT_ENV}: {exc}") from exc
    commits = [v for v in (view, policy_view) if isinstance(v, CommitView)]
    tracked = any(v.entry(LOCAL_CONFIG) is not None for v in commits) or (
        git.head() is not None and git.read_at("HEAD", LOCAL_CONFIG) is not None
    )
    local = not ci and not tracked
    if tracked:
        notes.append(
            f"note: {LOCAL_CONFIG} is committed; it is a machine's own file and is ignored"
        )
    sources: list[Source] = []
    cache = dvc_cache or (None if ci else cache_dir(git.root, local=local))
    if cache is not None:
        sources.append(DirectorySource(os.path.abspath(cache), "the DVC cache"))
    read = policy_view.read if isinstance(policy_view, CommitView) else None
    remote = default_remote(git.root, read, local=False)
    if local:
        remote, local_note = _with_local_options(git.root, read, remote)
        notes += local_note
    reason = None
    if remote.name is None or remote.url is None:
        reason = "no default DVC remote is configured (dvc remote add -d)"
    else:
        source, reason = remote_source(
            remote.name, remote.url, dict(remote.config), git.root, timeout
        )
        if source is not None:
            sources.append(source)
    if policy_view is not view:
        mine = default_remote(git.root, view.read if isinstance(view, CommitView) else None, False)
        if (mine.name, mine.url) != (remote.name, remote.url):
            notes.append(
                f"note: this change re-points the default DVC remote ({remote.name}: "
                f"{remote.url} -> {mine.name}: {mine.url}); the remote of the base "
                f"({policy_view.label}) applies until it is merged"
            )
    store = ObjectStore(sources, unavailable=None, remote_timeout=timeout, down=down, reads=reads)
    return store, RemoteFacts(remote.name, remote.url, None, reason), notes


def _with_local_options(
    root: str, read: Callable[[str], bytes | None] | None, policy: Remote
) -> tuple[Remote, list[str]]:
    """The policy's remotes with what ``.dvc/config.local`` sets for them on this machine
    (credentials, a profile, an account: it overrides as in DVC), except where they are:
    each ``url`` and the default stay as the policy has them. A note when config.local
    would have moved the default remote."""
    here = default_remote(root, read, local=True)
    theirs: Mapping[str, Mapping[str, str]] = policy.config.get("remote", {})
    ours: Mapping[str, Mapping[str, str]] = here.config.get("remote", {})
    remotes = {
        name: {**options, **ours.get(name, {}), "url": options["url"]}
        if "url" in options
        else dict(options)
        for name, options in theirs.items()
    }
    merged = Remote(policy.name, policy.url, {**policy.config, "remote": remotes})
    if (here.name, here.url) == (policy.name, policy.url):
        return merged, []
    reads = (
        f"the gate reads {policy.name}: {policy.url}, the remote the policy's revision "
        "configures, as CI does"
        if policy.name is not None and policy.url is not None
        else "the policy's revision configures none, and the gate reads none (as CI): "
        "commit one (dvc remote add -d)"
    )
    note = (
        f"note: {LOCAL_CONFIG} makes the default DVC remote {here.name}: {here.url} on this "
        f"machine; {reads} (config.local may add credentials to a remote, never move it)"
    )
    return merged, [note]
