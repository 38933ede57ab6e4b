"""``promote-gate check``: every bundle in the working tree, a commit's tree or the index."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from promote_gate.context.checkout import open_checkout
from promote_gate.files import write_report
from promote_gate.gate import Selection, judge_checkout
from promote_gate.git import Git
from promote_gate.report import Report


def emit(report: Report, args: argparse.Namespace) -> int:
    """Write the report in the requested formats; return its exit code."""
    from promote_gate.reporters import reporter, text

    if args.junit_xml:
        write_report(args.junit_xml, reporter("junit")(report))
    if args.sarif:
        write_report(args.sarif, reporter("sarif")(report))
    if args.format == "text":
        out = text.render(report, colour=not args.output and text.use_colour(sys.stdout))
    else:
        out = reporter(args.format)(report)
    if args.output:
        write_report(args.output, out)
    else:
        sys.stdout.write(out)
    if args.junit_xml:
        print(f"JUnit report written to {args.junit_xml}", file=sys.stderr)
    return report.exit_code


def run(args: argparse.Namespace) -> int:
    base = args.base
    notes: tuple[str, ...] = ()
    if args.staged:  # the index, against what the remote has, under that base's policy
        note = f"staged: compared with {base}, under its policy"
        if base is None:
            from promote_gate.context.bases import staged_base  # the quick test's module

            with Git.open(args.repo) as git:
                base, note = staged_base(git, git.head())
        notes = (note,)
    checkout = open_checkout(
        args.repo,
        rev=args.rev,
        staged=args.staged,
        base=base,
        config_path=args.config,
        project=args.project,
        no_cache=args.no_cache,
    )
    selection = Selection(
        bundles=args.bundle or (),
        select=args.select or (),
        ignore=args.ignore or (),
        require_data=args.require_data,
        traceback_on_error=args.traceback,
    )
    with checkout:
        report = judge_checkout(checkout, selection)
    return emit(dataclasses.replace(report, notes=(*report.notes, *notes)), args)
