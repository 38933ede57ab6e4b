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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from promote_gate.collect import list_bundles
from promote_gate.commands.check import check_repo, write_file
from promote_gate.commands.hook import new_branch_base, policy_at, trusted_commit
from promote_gate.config import Config
from promote_gate.errors import EXIT_OK, GateError, UsageError
from promote_gate.repo import CommitView, Git, is_zero
from promote_gate.report import Report
from promote_gate.reporters.text import safe
from promote_gate.yamlio import DocumentError, load_json

DEPTHS = (50, 500, 5000)


@dataclass(frozen=True)
class Context:
    provider: str  # "github", "gitlab" or "local"
    head: str  # a revision
    base: str | None  # a revision, or None: every bundle is new
    target: str | None  # the branch being merged or pushed into
    what: str  # one line for the log
    merge: bool = False  # a pull/merge request: judged from the merge base with the target


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
        return Context(
            "github", head, base, target, f"GitHub {event} #{number} into {target}", merge=True
        )
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
        return Context(
            "gitlab", head, base, target, f"GitLab merge request !{iid} into {target}", merge=True
        )
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
        ctx.merge,
    )


def _source_commits(git: Git, head: str) -> list[str]:
    """The source commits the bundles at ``head`` name: PG203/PG205 need them present."""
    view = CommitView(git, head)
    try:
        config = policy_at(git, head)
    except GateError:  # the head's policy is not the one that applies; its publish root will do
        config = Config()
    commits = []
    for name in list_bundles(view, config):
        try:
            manifest = load_json(view.read(f"{config.publish_root}/{name}/manifest.json") or b"")
        except DocumentError:
            continue
        source = manifest.get("source") if isinstance(manifest, dict) else None
        commit = source.get("commit") if isinstance(source, dict) else None
        if isinstance(commit, str) and len(commit) == 40:
            commits.append(commit)
    return commits


class History:
    """Fetches what a comparison needs into a (possibly shallow) clone, in bounded steps."""

    def __init__(self, git: Git, remote: str, refspecs: Callable[[], list[str]]) -> None:
        self.git = git
        self.remote = remote
        self._refspecs = refspecs  # asked only when a fetch is needed: it talks to the remote
        self.refspecs: list[str] | None = None
        self.step = 0

    def shallow(self) -> bool:
        return self.git.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def fetch_more(self) -> bool:
        """One more step (depth 50, then deeper, then unshallow); False when there is no more."""
        steps = [
            ["--depth", str(DEPTHS[0])],
            *(["--deepen", str(d)] for d in DEPTHS[1:]),
            ["--unshallow"],
        ]
        while self.step < len(steps):
            extra = steps[self.step]
            self.step += 1
            if extra[0] == "--unshallow" and not self.shallow():
                return False
            if extra[0] == "--deepen" and not self.shallow():
                continue
            print(
                f"promote-gate: fetching history from {self.remote} ({' '.join(extra)})",
                file=sys.stderr,
            )
            if self.refspecs is None:
                self.refspecs = self._refspecs()
            self.git.ok("fetch", "--no-tags", "--quiet", self.remote, *extra, *self.refspecs)
            return True
        return False


def _refspecs(git: Git, remote: str, target: str | None, policy: Config) -> list[str]:
    """The remote's target and release branches that exist (a missing one fails a fetch)."""
    try:
        listing = git.run("ls-remote", "--heads", remote)
    except GateError:
        return []  # unreachable: the fetch will say so
    branches = [
        line.split("\trefs/heads/", 1)[1]
        for line in listing.splitlines()
        if "\trefs/heads/" in line
    ]
    return [
        f"+refs/heads/{b}:refs/remotes/{remote}/{b}"
        for b in branches
        if b == target or policy.is_release_branch(b)
    ]


def ensure_history(history: History, head: str, base: str | None) -> None:
    """Make ``base``, its merge base with ``head`` and the bundles' source commits present.

    Never compares against less: if the history cannot be had, the gate cannot evaluate.
    """
    git = history.git

    def missing() -> list[str]:
        wanted = [c for c in _source_commits(git, head) if not git.has_commit(c)]
        if base is not None and not git.has_commit(base):
            wanted.append(base)
        elif base is not None and git.merge_base(base, head) is None:
            wanted.append(f"the merge base of {base[:12]} and {head[:12]}")
        return wanted

    while missing() and history.fetch_more():
        pass
    if missing():
        raise GateError(
            f"{', '.join(m[:40] for m in missing())} not in this clone, even after fetching "
            f"from {history.remote}: check out full history (GitHub actions/checkout: "
            '`fetch-depth: 0`; GitLab: `GIT_DEPTH: "0"`)'
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
        try:  # only to choose what to fetch: the decisions use the base's policy
            policy = policy_at(git, head)
        except GateError:
            policy = Config()
        history = History(git, args.remote, lambda: _refspecs(git, args.remote, ctx.target, policy))
        base: str | None = None
        note = ctx.what
        if ctx.base is not None:
            ensure_history(history, head, ctx.base)
            base = git.resolve(ctx.base)
            assert base is not None
            if ctx.merge:  # a merge request judges only its change: from the merge base
                base = git.merge_base(base, head) or base
        if base is None and ctx.target is not None and ctx.provider != "local":
            trusted = trusted_commit(git, head, args.remote, ctx.target)
            while trusted == head and history.fetch_more():
                trusted = trusted_commit(git, head, args.remote, ctx.target)
            policy = policy_at(git, trusted)
        else:
            policy = policy_at(git, base or head)
        if ctx.target is not None and not policy.is_release_branch(ctx.target):
            print(
                safe(f"promote-gate: {ctx.what}: {ctx.target} is not a release branch: not gated")
            )
            reason = f"{ctx.target} is not a release branch"
            write_file(args.junit_xml, junit.render_skipped(reason))
            if args.codequality:
                write_file(args.codequality, "[]\n")
            return EXIT_OK
        if base is None and ctx.target is not None and ctx.provider != "local":
            base, note = new_branch_base(git, head, args.remote, policy, exclude=ctx.target)
            while base is None and history.fetch_more():
                base, note = new_branch_base(git, head, args.remote, policy, exclude=ctx.target)
            note = f"{ctx.what}; {note}"
            ensure_history(history, head, base)
    finally:
        git.close()

    print(safe(f"promote-gate: {note}; head {head[:12]}, base {base[:12] if base else 'none'}"))
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
