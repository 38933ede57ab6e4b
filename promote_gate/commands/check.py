"""``promote-gate check``: every bundle in the working tree or a commit's tree."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable

from promote_gate import config as config_mod
from promote_gate.collect import Collector, evidence_store, list_bundles
from promote_gate.dvc.cache import cache_dir
from promote_gate.errors import UsageError
from promote_gate.files import write_report
from promote_gate.repo import CommitView, Git, View, WorktreeView
from promote_gate.report import Report, judge, no_rule_ran, selected_rules


def emit(report: Report, args: argparse.Namespace) -> int:
    """Write the report in the requested formats; return its exit code."""
    from promote_gate.reporters import REPORTERS, junit, text

    if args.junit_xml:
        write_report(args.junit_xml, junit.render(report))
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


def open_view(repo: str, rev: str | None) -> tuple[Git, View]:
    git = Git.open(repo)
    if rev is None:
        return git, WorktreeView(git.root, cache=cache_dir(git.root))
    commit = git.resolve(rev)
    if commit is None:
        raise UsageError(f"--rev {rev}: no such commit in {git.root}")
    return git, CommitView(git, commit)


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
) -> Report:
    """Collect and judge the bundles in the working tree or ``rev``.

    With ``base``, bundles present there are released (PG501 guards them) and the others are
    candidates; without, every bundle is a candidate. ``policy_from="base"`` reads the
    configuration from the base revision, so a change cannot switch off its own gate.

    Evidence a candidate is defined by (promoted bytes, .dir listings, recorded metrics)
    that cannot be read here fails its rule, unless the policy sets ``metadata_only``;
    ``require_data`` extends that to released bundles. ``ci`` ignores the checkout's own
    DVC cache and ``.dvc/config.local`` (a change could bring them).
    """
    git, view = open_view(repo, rev)
    try:
        base_view = None
        if base is not None:
            base_commit = git.resolve(base)
            if base_commit is None:
                raise UsageError(f"--base {base}: no such commit in {git.root}")
            base_view = CommitView(git, base_commit)
        policy_view = base_view if policy_from == "base" and base_view is not None else view
        if policy_rev is not None:  # the caller knows whose policy applies (hook, CI)
            policy_commit = git.resolve(policy_rev)
            if policy_commit is None:
                raise UsageError(f"policy revision {policy_rev}: no such commit in {git.root}")
            if base_view is None or policy_commit != base_view.commit:
                policy_view = CommitView(git, policy_commit)
        rel = _repo_relative(config_path, git.root) if config_path else None
        if rel is not None and isinstance(policy_view, CommitView):
            config = config_mod.load(policy_view.read, rel, explicit_in_view=True)
        else:
            config = config_mod.load(policy_view.read, config_path, present=policy_view.present)
        for each in {id(v): v for v in (view, base_view, policy_view) if v is not None}.values():
            each.limit = config.max_document_bytes
        notes = _policy_notes(view, policy_view, config_path)
        store, remote, evidence_notes = evidence_store(
            git, view, policy_view, ci=ci, dvc_cache=dvc_cache
        )
        notes += evidence_notes
        unverified = (
            "metadata_only is set: the content of candidate bundles (promoted bytes, .dir "
            "listings, DVC-stored metrics) was not required to be verified"
            if config.metadata_only
            else None
        )
        present = list_bundles(view, config)
        released = list_bundles(base_view, config) if base_view else []
        names = sorted(set(present) | set(released), key=_order(config))
        unknown = sorted(set(bundles or ()) - set(names))
        if unknown:
            raise UsageError(
                f"no bundle {', '.join(unknown)} under {config.publish_root}/ in the {view.label}"
            )
        chosen = selected_rules(select or config.select, [*config.ignore, *(ignore or ())])
        collector = Collector(view, config, git, policy_view, store, remote)
        collector.released = frozenset(released)
        collector.ci = ci
        numbered = [n for n in present if config.version_number(n) is not None]
        surface = max(numbered, key=lambda n: config.version_number(n) or 0) if numbered else None
        results = []
        for name in names:
            if bundles and name not in bundles:
                continue
            path = f"{config.publish_root}/{name}"
            release = collector.release(base_view, name, path, released, present)
            facts = collector.bundle(
                name, path, candidate=not release.released, surface=name == surface
            )
            facts = dataclasses.replace(facts, release=release)
            strict = require_data or (facts.candidate and not config.metadata_only)
            results.append(
                judge(facts, chosen, require_data=strict, traceback_on_error=traceback_on_error)
            )
        report = Report(tuple(results), view.label, notes=tuple(notes), unverified=unverified)
        return no_rule_ran(report)
    finally:
        git.close()


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
    report = check_repo(
        args.repo,
        rev=args.rev,
        base=args.base,
        config_path=args.config,
        bundles=args.bundle,
        select=args.select,
        ignore=args.ignore,
        require_data=args.require_data,
        traceback_on_error=args.traceback,
    )
    return emit(report, args)
