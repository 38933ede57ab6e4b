"""``promote-gate ci``: the required status check in GitHub Actions and GitLab CI.

It works out what is being merged (head) and what it is merged into (base) from the CI's
own variables, makes sure the clone has the history to compare them (deepening a shallow
clone, bounded), reads the policy from the base, and writes JUnit, annotations, a summary
and a Code Quality report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from promote_gate.commands.check import check_repo, write_file
from promote_gate.commands.hook import new_branch_base, policy_at
from promote_gate.errors import EXIT_OK, GateError, UsageError
from promote_gate.repo import Git, is_zero
from promote_gate.report import Report

DEPTHS = (50, 500, 5000)


@dataclass(frozen=True)
class Context:
    provider: str  # "github", "gitlab" or "local"
    head: str  # a revision
    base: str | None  # a revision, or None: every bundle is new
    target: str | None  # the branch being merged or pushed into
    what: str  # one line for the log


def _github(env: Mapping[str, str]) -> Context:
    payload: dict[str, object] = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as fobj:
            loaded = json.load(fobj)
        payload = loaded if isinstance(loaded, dict) else {}
    event = env.get("GITHUB_EVENT_NAME", "")
    head = env.get("GITHUB_SHA") or "HEAD"
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        base_info = pull.get("base") if isinstance(pull.get("base"), dict) else {}
        head_info = pull.get("head") if isinstance(pull.get("head"), dict) else {}
        assert isinstance(base_info, dict)
        assert isinstance(head_info, dict)
        target = env.get("GITHUB_BASE_REF") or str(base_info.get("ref") or "") or None
        base = str(base_info.get("sha") or "") or None
        if event == "pull_request_target":  # GITHUB_SHA is the base branch's tip there
            head = str(head_info.get("sha") or head)
        number = pull.get("number")
        return Context("github", head, base, target, f"GitHub {event} #{number} into {target}")
    ref = env.get("GITHUB_REF", "")
    target = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    before = str(payload.get("before") or "")
    base = before if before and not is_zero(before) else None
    return Context("github", head, base, target, f"GitHub {event or 'run'} on {ref or head}")


def _gitlab(env: Mapping[str, str]) -> Context:
    head = env.get("CI_COMMIT_SHA") or "HEAD"
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
    if target:
        base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or None
        iid = env.get("CI_MERGE_REQUEST_IID", "?")
        return Context("gitlab", head, base, target, f"GitLab merge request !{iid} into {target}")
    branch = env.get("CI_COMMIT_BRANCH")
    before = env.get("CI_COMMIT_BEFORE_SHA", "")
    base = before if before and not is_zero(before) else None
    return Context("gitlab", head, base, branch, f"GitLab pipeline on {branch or head}")


def detect(env: Mapping[str, str], args: argparse.Namespace) -> Context:
    """The CI's view of head/base/target; ``--rev``/``--base``/``--target-branch`` override it."""
    if env.get("GITHUB_ACTIONS") == "true":
        ctx = _github(env)
    elif env.get("GITLAB_CI") == "true":
        ctx = _gitlab(env)
    else:
        ctx = Context("local", "HEAD", None, None, "no CI detected: --rev/--base decide")
    return Context(
        ctx.provider,
        args.rev or ctx.head,
        args.base or ctx.base,
        args.target_branch or ctx.target,
        ctx.what,
    )


def ensure_history(git: Git, head: str, base: str, target: str | None, remote: str) -> str:
    """Make ``base`` and its merge base with ``head`` present, deepening a shallow clone.

    Returns the base commit. Never compares against less: if the history cannot be had,
    the gate cannot evaluate.
    """
    refspec = [f"+refs/heads/{target}:refs/remotes/{remote}/{target}"] if target else []

    def ready() -> bool:
        return git.has_commit(base) and git.merge_base(base, head) is not None

    attempts = [["--depth", str(DEPTHS[0]), *refspec]]
    attempts += [["--deepen", str(d), *refspec] for d in DEPTHS[1:]]
    attempts.append(["--unshallow", *refspec])
    for extra in attempts:
        if ready():
            break
        if (
            extra[0] == "--unshallow"
            and git.run("rev-parse", "--is-shallow-repository").strip() != "true"
        ):
            break
        print(
            f"promote-gate: fetching history from {remote} ({' '.join(extra[:2])})", file=sys.stderr
        )
        git.ok("fetch", "--no-tags", "--quiet", remote, *extra)
    if not ready():
        raise GateError(
            f"the base {base[:12]} or its merge base with {head[:12]} is not in this clone, even "
            f"after fetching from {remote}: check out full history (GitHub actions/checkout: "
            '`fetch-depth: 0`; GitLab: `GIT_DEPTH: "0"`)'
        )
    resolved = git.resolve(base)
    assert resolved is not None
    return resolved


def _skipped_junit(reason: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<testsuites name="promote-gate" tests="1" failures="0" errors="0">\n'
        '  <testsuite name="promote-gate" tests="1" failures="0" errors="0" skipped="1" time="0">\n'
        '    <testcase name="promote-gate" classname="promote-gate" time="0">\n'
        f'      <skipped message="{reason}" />\n'
        "    </testcase>\n  </testsuite>\n</testsuites>\n"
    )


def run(args: argparse.Namespace) -> int:
    from promote_gate.reporters import github, gitlab, junit, markdown, text

    env = os.environ
    ctx = detect(env, args)
    git = Git.open(args.repo)
    try:
        head = git.resolve(ctx.head)
        if head is None:
            raise UsageError(f"the head revision {ctx.head} is not in this clone")
        base: str | None = None
        if ctx.base is not None:
            base = ensure_history(git, head, ctx.base, ctx.target, args.remote)
        policy = policy_at(git, base or head)
        if ctx.target is not None and not policy.is_release_branch(ctx.target):
            print(f"promote-gate: {ctx.what}: {ctx.target} is not a release branch: not gated")
            write_file(args.junit_xml, _skipped_junit(f"{ctx.target} is not a release branch"))
            return EXIT_OK
        note = ctx.what
        if base is None and ctx.target is not None and ctx.provider != "local":
            base, note = new_branch_base(git, head, args.remote, policy)
            note = f"{ctx.what}; {note}"
    finally:
        git.close()

    print(f"promote-gate: {note}; head {head[:12]}, base {base[:12] if base else 'none'}")
    if args.policy_from == "head":
        print(
            "promote-gate: WARNING: --policy-from head: the policy of the change itself applies; "
            "a change can switch off its own gate. Use this only to bootstrap."
        )
    report = check_repo(
        args.repo,
        rev=head,
        base=base,
        policy_from=args.policy_from,
        config_path=args.config,
        require_data=args.require_data,
        traceback_on_error=args.traceback,
    )
    report = Report(report.bundles, report.checked, report.errors, (*report.notes, note))
    sys.stdout.write(text.render(report, colour=text.use_colour(sys.stdout)))
    write_file(args.junit_xml, junit.render(report))
    print(f"JUnit report written to {args.junit_xml}", file=sys.stderr)
    if ctx.provider == "github":
        sys.stdout.write(github.render(report))
        summary = env.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fobj:
                fobj.write(markdown.render(report))
    if args.codequality:
        write_file(args.codequality, gitlab.render(report))
    return report.exit_code
