"""``promote-gate check``: every bundle in the working tree, a commit's tree or the index."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from promote_gate import verbosity
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
    if args.junit_xml and verbosity.level() > verbosity.QUIET:
        print(f"JUnit report written to {args.junit_xml}", file=sys.stderr)
    return report.exit_code


def _tag(args: argparse.Namespace) -> str | None:
    """The GTO tag ``--rev`` names (``model@v1.0.0`` or ``refs/tags/model@v1.0.0``), if it
    names one and no --base is given: such a revision is judged as the tag's push is."""
    if args.rev is None or args.base is not None or args.staged:
        return None
    from promote_gate.gto import parse_tag

    name = args.rev.removeprefix("refs/tags/")
    if parse_tag(name) is None:
        return None
    with Git.open(args.repo) as git:
        found = git.run("for-each-ref", "--format=%(objectname)", f"refs/tags/{name}").strip()
    return name if found else None


def check_tag(args: argparse.Namespace, name: str) -> int:
    """``check --rev TAG``: the GTO tag and the bundle it releases, judged as its push would
    be, against this clone's tags, under the policy of origin's default branch."""
    from promote_gate.context.tags import plan_local
    from promote_gate.gate import judge_tag_event

    with Git.open(args.repo) as git:
        plan = plan_local(git, [name], "origin")
    (event,) = plan.events
    report = judge_tag_event(args.repo, plan, event, ignore=args.ignore or ())
    tip = f"origin's default branch at {plan.policy_rev[:12]}" if plan.policy_rev else None
    said = f"policy: {tip}" if tip else "policy: the tagged commit's own (no origin branch)"
    return emit(dataclasses.replace(report, notes=(said, *report.notes)), args)


def run(args: argparse.Namespace) -> int:
    tag = _tag(args)
    if tag is not None:
        return check_tag(args, tag)
    base = args.base
    policy_rev = None
    notes: tuple[str, ...] = ()
    said = None
    if args.staged:  # the index, against what the remote has, under that base's policy
        note = f"staged: compared with {base}, under its policy"
        if base is None:
            from promote_gate.context.bases import staged_base  # the quick test's module

            with Git.open(args.repo) as git:
                base, note = staged_base(git, git.head())
        notes = (note,)
    elif args.rev is None and base is None:  # the working tree: as a push would be judged
        from promote_gate.context.bases import working_base

        with Git.open(args.repo) as git:
            base, policy_rev, said = working_base(git, git.head())
        if args.config is not None:  # the file the user named governs, as it always did
            policy_rev = None
    checkout = open_checkout(
        args.repo,
        rev=args.rev,
        staged=args.staged,
        base=base,
        policy_rev=policy_rev,
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
    if args.staged:
        notes = (*report.notes, *notes)
    else:  # which base first: it decides what the rest of the report means
        notes = (base_line(report, said, args.base, checkout.base), *report.notes)
    return emit(dataclasses.replace(report, notes=notes), args)


def base_line(report: Report, said: str | None, named: str | None, commit: str | None) -> str:
    """One line saying what the bundles were compared with, and how many it released."""
    if said is None and commit is not None:
        said = f"{named} ({commit[:12]})"
    if said is None:
        said = "none (--rev without --base): every bundle is a candidate"
    if commit is None:
        return f"base: {said}"
    released = sum(
        1 for b in report.bundles if b.facts and b.facts.release and b.facts.release.released
    )
    return f"base: {said}, {released} bundle{'' if released == 1 else 's'} released"
