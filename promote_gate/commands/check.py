"""``promote-gate check``: every bundle in the working tree or a commit's tree."""

from __future__ import annotations

import argparse
import os
import sys

from promote_gate import config as config_mod
from promote_gate.collect import Collector, list_bundles
from promote_gate.errors import UsageError
from promote_gate.repo import CommitView, Git, View, WorktreeView
from promote_gate.report import Report, judge, selected_rules


def write_file(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fobj:
        fobj.write(text)


def emit(report: Report, args: argparse.Namespace) -> int:
    """Write the report in the requested formats; return its exit code."""
    from promote_gate.reporters import REPORTERS, junit, text

    if args.junit_xml:
        write_file(args.junit_xml, junit.render(report))
    if args.format == "text":
        out = text.render(report, colour=not args.output and text.use_colour(sys.stdout))
    else:
        out = REPORTERS[args.format](report)
    if args.output:
        write_file(args.output, out)
    else:
        sys.stdout.write(out)
    if args.junit_xml:
        print(f"JUnit report written to {args.junit_xml}", file=sys.stderr)
    return report.exit_code


def open_view(repo: str, rev: str | None) -> tuple[Git, View]:
    git = Git.open(repo)
    if rev is None:
        return git, WorktreeView(git.root)
    commit = git.resolve(rev)
    if commit is None:
        raise UsageError(f"--rev {rev}: no such commit in {git.root}")
    return git, CommitView(git, commit)


def check_repo(
    repo: str,
    *,
    rev: str | None = None,
    config_path: str | None = None,
    bundles: list[str] | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    require_data: bool = False,
    traceback_on_error: bool = False,
) -> Report:
    """Collect and judge every bundle (or the named ones) in the working tree or ``rev``."""
    git, view = open_view(repo, rev)
    try:
        config = config_mod.load(view.read, config_path)
        names = list_bundles(view, config)
        unknown = sorted(set(bundles or ()) - set(names))
        if unknown:
            raise UsageError(
                f"no bundle {', '.join(unknown)} under {config.publish_root}/ in the {view.label}"
            )
        numbered = [n for n in names if config.version_number(n) is not None]
        newest = max(numbered, key=lambda n: config.version_number(n) or 0) if numbered else None
        chosen = selected_rules(select or config.select, [*config.ignore, *(ignore or ())])
        collector = Collector(view, config, git)
        return Report(
            tuple(
                judge(
                    collector.bundle(
                        name, f"{config.publish_root}/{name}", candidate=name == newest
                    ),
                    chosen,
                    require_data=require_data,
                    traceback_on_error=traceback_on_error,
                )
                for name in names
                if not bundles or name in bundles
            ),
            view.label,
        )
    finally:
        git.close()


def run(args: argparse.Namespace) -> int:
    report = check_repo(
        args.repo,
        rev=args.rev,
        config_path=args.config,
        bundles=args.bundle,
        select=args.select,
        ignore=args.ignore,
        require_data=args.require_data,
        traceback_on_error=args.traceback,
    )
    return emit(report, args)
