"""``promote-gate ci``: the required status check in GitHub Actions and GitLab CI.

It works out what is being merged (head) and what it is merged into (base) from the CI's
own variables (``context/ci.py``: deepening a shallow clone, bounded), reads the policy from
the base, and writes JUnit, annotations, a summary and a Code Quality report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from promote_gate import config as config_mod
from promote_gate import verbosity
from promote_gate.config import Config
from promote_gate.context.checkout import open_checkout
from promote_gate.context.ci import (
    Event,
    History,
    base_and_policy,
    detect,
    refspecs,
    tag_plan,
)
from promote_gate.context.policy import policy_at
from promote_gate.errors import EXIT_OK, MAX_DOCUMENT_BYTES, GateError, UsageError
from promote_gate.files import write_report
from promote_gate.gate import Selection, judge_checkout, judge_tag_event
from promote_gate.git import Git
from promote_gate.gto import parse_tag
from promote_gate.report import Report
from promote_gate.reporters.text import safe


def run(args: argparse.Namespace) -> int:
    from promote_gate.reporters import comment, junit, sarif

    config_mod.TRUST_VALIDATION_CACHE = False  # CI validates every policy it reads
    env = os.environ
    ctx = detect(env, args)
    git = Git.open(args.repo)
    try:
        head = git.resolve(ctx.head)
        if head is None:
            raise UsageError(f"the head revision {ctx.head} is not in this clone")
        try:  # only to choose what to fetch: the decisions use the base's policy
            fetch_policy = policy_at(git, head)
        except GateError:
            fetch_policy = Config()
        wanted = {b for b in (ctx.target, ctx.default_branch) if b}
        wanted |= {b for _, bs in fetch_policy.registry.stage_branches for b in bs if "*" not in b}
        history = History(
            git, args.remote, lambda: refspecs(git, args.remote, wanted, fetch_policy)
        )
        if ctx.tag is not None and parse_tag(ctx.tag) is not None:
            report, policies = _tag_report(args, history, ctx)
            return _emit(args, ctx, report, policies)
        base, trusted, note = base_and_policy(git, history, head, ctx)
        policy = policy_at(git, trusted)
        if ctx.target is not None and not policy.is_release_branch(ctx.target):
            print(
                safe(f"promote-gate: {ctx.what}: {ctx.target} is not a release branch: not gated")
            )
            reason = f"{ctx.target} is not a release branch"
            write_report(args.junit_xml, junit.render_skipped(reason))
            if args.codequality:
                write_report(args.codequality, "[]\n")
            skipped = Report((), f"{ctx.what}: not gated", notes=(f"Not gated: {reason}.",))
            if args.sarif:
                write_report(args.sarif, sarif.render(skipped))
            if args.comment:
                write_report(args.comment, comment.render(skipped))
            return EXIT_OK
    finally:
        git.close()

    if verbosity.level() > verbosity.QUIET:  # -q: findings and errors only
        print(safe(f"promote-gate: {note}; head {head[:12]}, base {base[:12] if base else 'none'}"))
    if args.policy_from == "head":
        print(
            "promote-gate: WARNING: --policy-from head: the policy of the change itself applies; "
            "a change can switch off its own gate. Use this only to bootstrap."
        )
    checkout = open_checkout(
        args.repo,
        rev=head,
        base=base,
        policy_from=args.policy_from,
        policy_rev=trusted if args.policy_from == "base" else None,
        config_path=args.config,
        ci=True,
        dvc_cache=args.dvc_cache,
        project=args.project,
        every_project=args.project is None,
    )
    with checkout:
        selection = Selection(require_data=args.require_data, traceback_on_error=args.traceback)
        report = judge_checkout(checkout, selection)
        policies = _policy_files(checkout.git, trusted, [p.config for p in checkout.projects])
    report = dataclasses.replace(report, notes=(*report.notes, note))
    return _emit(args, ctx, report, policies)


def _tag_report(
    args: argparse.Namespace, history: History, ctx: Event
) -> tuple[Report, list[dict[str, Any]]]:
    """A run of a GTO tag: the tag and the bundle it releases, judged as its push is."""
    plan = tag_plan(history, ctx)
    (event,) = plan.events
    print(
        safe(f"promote-gate: {ctx.what}; policy: the default branch at {str(plan.policy_rev)[:12]}")
    )
    report = judge_tag_event(args.repo, plan, event, ci=True)
    trusted = plan.policy_rev
    policies = (
        _policy_files(history.git, trusted, [policy_at(history.git, trusted)]) if trusted else []
    )
    return report, policies


def _emit(
    args: argparse.Namespace, ctx: Event, report: Report, policies: list[dict[str, Any]]
) -> int:
    """Every output of a CI run, from its report."""
    from promote_gate.reporters import comment, github, gitlab, junit, markdown, sarif, text

    env = os.environ
    sys.stdout.write(text.render(report, colour=text.use_colour(sys.stdout)))
    write_report(args.junit_xml, junit.render(report))
    if verbosity.level() > verbosity.QUIET:
        print(f"JUnit report written to {args.junit_xml}", file=sys.stderr)
    if ctx.provider == "github":
        sys.stdout.write(github.render(report))
        summary = env.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fobj:
                fobj.write(markdown.render(report))
    if args.codequality:
        write_report(args.codequality, gitlab.render(report))
    if args.sarif:
        write_report(args.sarif, sarif.render(report))
    if args.comment:
        write_report(args.comment, comment.render(report))
    if args.attest:
        statement = verdict(report, policies, _run_url(env))
        if statement is None:  # an in-toto statement needs a subject
            print("promote-gate: --attest: no bundle file to attest: none written", file=sys.stderr)
        else:
            write_report(args.attest, statement)
    return report.exit_code


def _policy_files(git: Git, commit: str, configs: list[Config]) -> list[dict[str, Any]]:
    """The policy files that judged the run, as in-toto ResourceDescriptors pinned by the
    commit they were read at (the base's tip) and their sha256."""
    from promote_gate.hashing import sha256_hex

    found: dict[str, dict[str, Any]] = {}
    for config in configs:
        name = config.origin.removesuffix(" [tool.promote-gate]")
        if name == "defaults" or name in found:
            continue
        data = git.read_at(commit, name, MAX_DOCUMENT_BYTES)
        digest = {"gitCommit": commit} | ({"sha256": sha256_hex(data)} if data else {})
        found[name] = {"name": name, "digest": digest}
    return list(found.values()) or [
        {"name": "(promote-gate defaults)", "digest": {"gitCommit": commit}}
    ]


def _run_url(env: Mapping[str, str]) -> str | None:
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return env.get("CI_JOB_URL") or None


def verdict(report: Report, configuration: list[dict[str, Any]], url: str | None) -> str | None:
    """The gate's verdict as an in-toto Statement with the Test Result predicate: its
    subjects every file each bundle being released declares (what a deploy job holds), its
    tests every bundle's rules (``publish/v2:PG104``). None when no bundle is being released:
    a statement needs a subject, and a released bundle was attested when it was released."""
    from promote_gate import attestation
    from promote_gate.rules.signing import declared

    subjects: list[dict[str, Any]] = []
    tests: dict[str, list[str]] = {"passed": [], "failed": [], "warned": []}
    for bundle in report.bundles:
        for result in bundle.results:
            status = {"error": "failed"}.get(result.status, result.status)
            if status == "skipped" and result.unverified:
                status = "warned"
            if status in tests:
                tests[status].append(f"{bundle.path}:{result.rule.code}")
        facts = bundle.facts
        if facts is None or not facts.candidate:
            continue  # a released bundle was attested when it was released
        md5 = {
            str(e.get("path")): str(e.get("md5"))
            for e in facts.manifest_value.get("files", [])
            if isinstance(e, dict)
        }
        for name, sha in sorted((declared(facts) or {}).items()):
            digest = {"sha256": sha} | ({"md5": md5[name]} if name in md5 else {})
            subjects.append({"name": f"{bundle.path}/{name}", "digest": digest})
    if not subjects:
        return None
    named = [s["name"] for s in subjects if any(ord(c) < 32 or ord(c) == 127 for c in s["name"])]
    if named:  # a checksums file or a log would read it as two names
        raise GateError(f"--attest: a file name holds a control character: {named[0]!r}")
    predicate = attestation.verdict_predicate(
        tests["passed"], tests["failed"], tests["warned"], configuration, url
    )
    stmt = attestation.statement(subjects, attestation.TEST_RESULT, predicate)
    return json.dumps(stmt, indent=2, sort_keys=True) + "\n"
