"""``promote-gate check``: every bundle in the working tree or a commit's tree."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

from promote_gate import config as config_mod
from promote_gate.collect import Collector, evidence_store, list_bundles
from promote_gate.dvc.cache import cache_dir
from promote_gate.dvc.project import find_projects
from promote_gate.errors import UsageError
from promote_gate.files import write_report
from promote_gate.hashcache import HashCache
from promote_gate.repo import CommitView, Git, IndexView, View, WorktreeView
from promote_gate.report import BundleReport, Report, judge, no_rule_ran, selected_rules
from promote_gate.rules import RULES


def emit(report: Report, args: argparse.Namespace) -> int:
    """Write the report in the requested formats; return its exit code."""
    from promote_gate.reporters import REPORTERS, junit, text

    if args.junit_xml:
        write_report(args.junit_xml, junit.render(report))
    if args.sarif:
        write_report(args.sarif, REPORTERS["sarif"](report))
    if args.format == "text":
        out = text.render(report, colour=not args.output and text.use_colour(sys.stdout))
    else:
        out = REPORTERS[args.format](report)
    if args.output:
        write_report(args.output, out)
    else:
        sys.stdout.write(out)
    if args.junit_xml:
        print(f"JUnit report written to {args.junit_xml}", file=sys.stderr)
    return report.exit_code


def open_view(
    repo: str, rev: str | None, project: str | None = None, config_path: str | None = None
) -> tuple[Git, View, config_mod.Config]:
    """The DVC project ``repo`` lies in (or ``project``): its git, its view (the working
    tree, or ``rev``'s tree) and its policy as that view has it."""
    top = Git.open(repo)
    directory = project_of(top, repo, project) or ""
    git = top.project(directory)
    commit = _commit(git, rev, "--rev") if rev is not None else None
    view = _view(git, commit)
    config = load_policy(view, _view(top, commit), directory, config_path, False)
    return git, view, config


def _commit(git: Git, rev: str, what: str) -> str:
    commit = git.resolve(rev)
    if commit is None:
        raise UsageError(f"{what} {rev}: no such commit in {git.top}")
    return commit


def _view(git: Git, commit: str | None, hashes: HashCache | None = None) -> View:
    if commit is None:
        return WorktreeView(git.root, cache=cache_dir(git.root), hashes=hashes)
    return CommitView(git, commit)


def project_of(git: Git, directory: str, explicit: str | None) -> str | None:
    """The DVC project a command run in ``directory`` works on, as DVC finds it (the nearest
    directory up to the top with ``.dvc/config``): its top-relative path, or None for the
    top. ``explicit`` (``--project``) names it instead."""
    top = os.path.realpath(git.top)
    if explicit is not None:
        where = os.path.realpath(os.path.join(directory, explicit))
        if os.path.commonpath([where, top]) != top:
            raise UsageError(f"--project {explicit}: outside the repository {git.top}")
        rel = os.path.relpath(where, top).replace(os.sep, "/")
        return None if rel == "." else rel
    here = os.path.realpath(directory)
    while os.path.commonpath([here, top]) == top and here != top:
        config = os.path.join(here, ".dvc", "config")
        if os.path.isfile(config) and not os.path.islink(config):
            return os.path.relpath(here, top).replace(os.sep, "/")
        here = os.path.dirname(here)
    return None


def load_policy(
    view: View, top: View, project: str, config_path: str | None, explicit_in_view: bool
) -> config_mod.Config:
    """A project's policy: its own configuration file, else the repository's (the top's),
    with paths such as ``publish_root`` relative to the project; ``--config`` for all."""
    if config_path is not None:
        return config_mod.load(top.read, config_path, explicit_in_view=explicit_in_view)
    if project:
        own = config_mod.load_own(view.read, view.present, project + "/")
        if own is not None:
            return own
    return config_mod.load(top.read, present=top.present)


def _prefixed(bundle: BundleReport, project: str) -> BundleReport:
    """A project's bundle report with its paths made top-relative."""
    if not project:
        return bundle
    lead = project + "/"

    def fix(item: Any) -> Any:
        return dataclasses.replace(item, path=lead + item.path)

    results = tuple(
        dataclasses.replace(
            r,
            findings=tuple(fix(f) for f in r.findings),
            unverified=tuple(fix(u) for u in r.unverified),
        )
        for r in bundle.results
    )
    return dataclasses.replace(bundle, path=lead + bundle.path, results=results, project=project)


def check_repo(
    repo: str,
    *,
    rev: str | None = None,
    base: str | None = None,
    policy_from: str = "checked",
    policy_rev: str | None = None,
    config_path: str | None = None,
    bundles: list[str] | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    require_data: bool = False,
    traceback_on_error: bool = False,
    ci: bool = False,
    dvc_cache: str | None = None,
    project: str | None = None,
    every_project: bool = False,
    no_cache: bool = False,
    staged: bool = False,
) -> Report:
    """Collect and judge the bundles in the working tree or ``rev``, in every DVC project of
    the repository (or the one ``repo`` lies in, or ``project``, unless ``every_project``).

    With ``base``, bundles present there are released (PG501 guards them) and the others are
    candidates; without, every bundle is a candidate. ``policy_from="base"`` reads the
    configuration from the base revision, so a change cannot switch off its own gate.

    Evidence a candidate is defined by (promoted bytes, .dir listings, recorded metrics)
    that cannot be read here fails its rule, unless the policy sets ``metadata_only``;
    ``require_data`` extends that to released bundles. ``ci`` ignores the checkout's own
    DVC cache and ``.dvc/config.local`` (a change could bring them). Files whose identity
    is unchanged since an earlier run are not hashed again (the user's hash cache), except in
    CI and with ``no_cache``: there every byte is hashed. ``staged`` judges the index (what
    ``git commit`` would record) instead of the working tree.
    """
    top_git = Git.open(repo)
    hashes = None if ci or no_cache else HashCache()
    if ci or no_cache:
        config_mod.TRUST_VALIDATION_CACHE = False
    try:
        commit = _commit(top_git, rev, "--rev") if rev is not None else None
        base_commit = _commit(top_git, base, "--base") if base is not None else None
        policy_commit = base_commit if policy_from == "base" else commit
        if policy_rev is not None:  # the caller knows whose policy applies (hook, CI)
            policy_commit = _commit(top_git, policy_rev, "policy revision")
        rel = _repo_relative(config_path, top_git.root) if config_path else None
        in_view = rel is not None and policy_commit is not None
        chosen_project = None if every_project else project_of(top_git, repo, project)

        def view_of(git: Git, hashes: HashCache | None = None) -> View:
            return IndexView(git) if staged else _view(git, commit, hashes)

        top_view = view_of(top_git)
        if chosen_project is not None:
            projects = [chosen_project]
        else:
            projects = find_projects(top_view)
            if base_commit is not None:  # a project the change removes: its bundles too
                projects = sorted(
                    set(projects) | set(find_projects(CommitView(top_git, base_commit))),
                    key=lambda d: (d != "", d),
                )
        policy_top = _view(top_git, policy_commit) if policy_commit is not None else top_view
        reports: list[BundleReport] = []
        notes: list[str] = []
        unverified = None
        wanted = set(bundles or ())
        seen: set[str] = set()
        for directory in projects:
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
            found, project_notes, why = _check_project(
                git,
                view,
                base_view,
                policy_view,
                config,
                wanted=wanted,
                select=select,
                ignore=ignore,
                require_data=require_data,
                traceback_on_error=traceback_on_error,
                ci=ci,
                dvc_cache=dvc_cache,
                config_path=config_path,
                hashes=hashes,
            )
            lead = directory + "/" if directory else ""
            seen |= {b.name for b in found} | {lead + b.path for b in found}
            reports += [_prefixed(b, directory) for b in found]
            notes += [n if not directory else f"{n} [{directory}]" for n in project_notes]
            unverified = unverified or why
        unknown = sorted(wanted - seen)
        if unknown:
            raise UsageError(f"no bundle {', '.join(unknown)} in the {top_view.label}")
        report = Report(
            tuple(reports),
            top_view.label,
            notes=tuple(dict.fromkeys(notes)),
            unverified=unverified,
        )
        return no_rule_ran(report)
    finally:
        top_git.close()
        if hashes is not None:
            hashes.close()


def _check_project(
    git: Git,
    view: View,
    base_view: CommitView | None,
    policy_view: View,
    config: config_mod.Config,
    *,
    wanted: set[str],
    select: list[str] | None,
    ignore: list[str] | None,
    require_data: bool,
    traceback_on_error: bool,
    ci: bool,
    dvc_cache: str | None,
    config_path: str | None,
    hashes: HashCache | None = None,
) -> tuple[list[BundleReport], list[str], str | None]:
    """One DVC project's bundles judged (paths project-relative), its notes, and why its
    candidates' content was not required to be verified (``metadata_only``)."""
    for each in {id(v): v for v in (view, base_view, policy_view) if v is not None}.values():
        each.limit = config.max_document_bytes
    notes = _policy_notes(view, policy_view, config_path)
    store, remote, evidence_notes = evidence_store(
        git, view, policy_view, ci=ci, dvc_cache=dvc_cache
    )
    notes += evidence_notes
    store.hashes = hashes
    unverified = (
        "metadata_only is set: the content of candidate bundles (promoted bytes, .dir "
        "listings, DVC-stored metrics) was not required to be verified"
        if config.metadata_only
        else None
    )
    present = list_bundles(view, config)
    released = list_bundles(base_view, config) if base_view else []
    names = sorted(set(present) | set(released), key=_order(config))
    chosen = selected_rules(select or config.select, [*config.ignore, *(ignore or ())])
    collector = Collector(view, config, git, policy_view, store, remote)
    collector.released = frozenset(released)
    collector.ci = ci
    collector.needed = frozenset().union(
        *(rule.evidence for rule in RULES if chosen.get(rule.code, "off") is None)
    )
    numbered = [n for n in present if config.version_number(n) is not None]
    surface = max(numbered, key=lambda n: config.version_number(n) or 0) if numbered else None
    lead = git.prefix
    results = []
    for name in names:
        path = f"{config.publish_root}/{name}"
        if wanted and name not in wanted and lead + path not in wanted:
            continue
        release = collector.release(base_view, name, path, released, present)
        facts = collector.bundle(
            name, path, candidate=not release.released, surface=name == surface
        )
        facts = dataclasses.replace(facts, release=release)
        strict = require_data or (facts.candidate and not config.metadata_only)
        results.append(
            judge(facts, chosen, require_data=strict, traceback_on_error=traceback_on_error)
        )
    return results, notes, unverified if results else None


def _repo_relative(path: str, root: str) -> str | None:
    """``path`` as a repository path, if it lies inside the repository (else None)."""
    real_root = os.path.realpath(root)
    full = os.path.join(
        os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path)
    )
    if os.path.commonpath([full, real_root]) != real_root:
        return None
    return os.path.relpath(full, real_root).replace(os.sep, "/")


def _order(config: config_mod.Config) -> Callable[[str], tuple[bool, int, str]]:
    def key(name: str) -> tuple[bool, int, str]:
        number = config.version_number(name)
        return (number is None, number or 0, name)

    return key


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


def run(args: argparse.Namespace) -> int:
    base, policy_from = args.base, "checked"
    notes: tuple[str, ...] = ()
    if args.staged:  # the index, against what the remote has, under that base's policy
        policy_from = "base"
        note = f"staged: compared with {base}, under its policy"
        if base is None:
            from promote_gate.commands.hook import staged_base

            git = Git.open(args.repo)
            try:
                base, note = staged_base(git, git.head())
            finally:
                git.close()
        notes = (note,)
    report = check_repo(
        args.repo,
        rev=args.rev,
        staged=args.staged,
        base=base,
        policy_from=policy_from,
        config_path=args.config,
        bundles=args.bundle,
        select=args.select,
        ignore=args.ignore,
        require_data=args.require_data,
        traceback_on_error=args.traceback,
        project=args.project,
        no_cache=args.no_cache,
    )
    return emit(dataclasses.replace(report, notes=(*report.notes, *notes)), args)
