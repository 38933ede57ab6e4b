"""What a CI run judges: head, base and the commit whose policy applies, worked out from the
CI's own variables (GitHub Actions, GitLab CI), with the history they need fetched into a
(possibly shallow) clone in bounded steps. The policy never comes from the head."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from promote_gate import config as config_mod
from promote_gate.bundle import list_bundles
from promote_gate.config import Config
from promote_gate.context.bases import Anchor, RemoteHeads, anchor, heads_from_refs
from promote_gate.context.policy import policy_at
from promote_gate.context.tags import TagPlan
from promote_gate.errors import GateError
from promote_gate.git import ZERO_SHA, Git, is_zero
from promote_gate.repo import CommitView
from promote_gate.yamlio import DocumentError, load_json

DEPTHS = (50, 500, 5000)


@dataclass(frozen=True)
class Event:
    """The CI run: what it checks (head), against what (base), into which branch (target)."""

    provider: str  # "github", "gitlab" or "local"
    head: str  # a revision
    base: str | None  # a revision, or None: every bundle is new
    target: str | None  # the branch being merged or pushed into
    what: str  # one line for the log
    merge: bool = False  # a pull/merge request or merge queue: judged from the merge base
    default_branch: str | None = None  # the repository's default branch: the trust anchor
    rerun: bool = False  # no push behind it (a schedule, a manual run): the branch as it is
    tag: str | None = None  # a tag run (GitHub push of refs/tags/…, GitLab tag pipeline)
    tag_before: str | None = None  # what the remote had at the tag before (GitHub: before)
    tag_deleted: bool = False


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _github(env: Mapping[str, str]) -> Event:
    payload: dict[str, object] = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as fobj:
            try:
                payload = _dict(json.load(fobj))
            except ValueError as exc:
                raise GateError(f"GITHUB_EVENT_PATH {path} is not a JSON event: {exc}") from exc
    event = env.get("GITHUB_EVENT_NAME", "")
    head = env.get("GITHUB_SHA") or "HEAD"
    default = str(_dict(payload.get("repository")).get("default_branch") or "") or None
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        base_info, head_info = _dict(pull.get("base")), _dict(pull.get("head"))
        target = env.get("GITHUB_BASE_REF") or str(base_info.get("ref") or "") or None
        base = str(base_info.get("sha") or "") or None
        if event == "pull_request_target":  # GITHUB_SHA is the base branch's tip there
            head = str(head_info.get("sha") or head)
        number = pull.get("number")
        return Event(
            "github",
            head,
            base,
            target,
            f"GitHub {event} #{number} into {target}",
            merge=True,
            default_branch=default,
        )
    group = payload.get("merge_group")
    if event == "merge_group" or isinstance(group, dict):
        # a merge queue: head is the queue's merge commit, gated like a pull request into
        # the queue's base branch
        info = _dict(group)
        base_ref = str(info.get("base_ref") or "")
        target = base_ref.removeprefix("refs/heads/") or None
        head = str(info.get("head_sha") or head)
        base = str(info.get("base_sha") or "") or None
        return Event(
            "github",
            head,
            base,
            target,
            f"GitHub merge queue into {target}",
            merge=True,
            default_branch=default,
        )
    ref = env.get("GITHUB_REF", "")
    target = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    before = str(payload.get("before") or "")
    if ref.startswith("refs/tags/"):  # the ref names the tag: no text anyone can edit
        return Event(
            "github",
            head,
            None,
            None,
            f"GitHub {event or 'run'} of the tag {ref.removeprefix('refs/tags/')}",
            default_branch=default,
            tag=ref.removeprefix("refs/tags/"),
            tag_before=before or None,
            tag_deleted=payload.get("deleted") is True,
        )
    base = before if before and not is_zero(before) else None
    return Event(
        "github",
        head,
        base,
        target,
        f"GitHub {event or 'run'} on {ref or head}",
        False,
        default,
        rerun=event != "push",  # workflow_dispatch, schedule: the branch as it is
    )


def _gitlab(env: Mapping[str, str]) -> Event:
    head = env.get("CI_COMMIT_SHA") or "HEAD"
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
    default = env.get("CI_DEFAULT_BRANCH") or None
    if target:
        # without CI_MERGE_REQUEST_DIFF_BASE_SHA the base is the merge base with the target
        # branch, worked out in run(): never the head, never the source branch
        base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or None
        iid = env.get("CI_MERGE_REQUEST_IID", "?")
        return Event(
            "gitlab",
            head,
            base,
            target,
            f"GitLab merge request !{iid} into {target}",
            merge=True,
            default_branch=default,
        )
    branch = env.get("CI_COMMIT_BRANCH")
    before = env.get("CI_COMMIT_BEFORE_SHA", "")
    if env.get("CI_COMMIT_TAG"):
        tag = env["CI_COMMIT_TAG"]
        return Event(
            "gitlab",
            head,
            None,
            None,
            f"GitLab tag pipeline of {tag}",
            default_branch=default,
            tag=tag,
        )
    base = before if before and not is_zero(before) else None
    source = env.get("CI_PIPELINE_SOURCE", "push")
    return Event(
        "gitlab",
        head,
        base,
        branch,
        f"GitLab {source} pipeline on {branch or head}",
        False,
        default,
        rerun=source != "push",  # schedule, web, api, trigger: no before sha, nothing pushed
    )


def detect(env: Mapping[str, str], args: argparse.Namespace) -> Event:
    """The CI's view of head/base/target; ``--rev``/``--base``/``--target-branch`` override it."""
    if env.get("GITHUB_ACTIONS") == "true":
        ctx = _github(env)
    elif env.get("GITLAB_CI") == "true":
        ctx = _gitlab(env)
    else:
        ctx = Event("local", "HEAD", None, None, "no CI detected: --rev/--base decide")
    return dataclasses.replace(
        ctx,
        head=args.rev or ctx.head,
        base=args.base or ctx.base,
        target=args.target_branch or ctx.target,
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
        self._branches: set[str] | None = None
        self.unreachable: str | None = None  # why the remote could not be asked, if it could not

    def remote_branches(self) -> set[str]:
        """The branches the remote has (``git ls-remote --heads``, asked once)."""
        if self._branches is None:
            try:
                listing = self.git.run("ls-remote", "--heads", "--", self.remote)
            except (
                GateError
            ) as exc:  # unreachable: nothing will be fetched (fine with full history)
                listing = ""
                self.unreachable = str(exc).splitlines()[0] if str(exc) else "no answer"
            self._branches = {
                line.split("\trefs/heads/", 1)[1]
                for line in listing.splitlines()
                if "\trefs/heads/" in line
            }
        return self._branches

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
            if not self.shallow():  # a full clone: one plain fetch of the branches, no depth
                if self.step > 1:
                    return False
                extra = []
            elif extra[0] == "--unshallow" and not self.shallow():
                return False
            print(
                f"promote-gate: fetching history from {self.remote} ({' '.join(extra) or 'branches'})",
                file=sys.stderr,
            )
            if self.refspecs is None:
                self.refspecs = self._refspecs()
            self.git.ok("fetch", "--no-tags", "--quiet", self.remote, *extra, *self.refspecs)
            return True
        return False


def refspecs(git: Git, remote: str, wanted: set[str], policy: Config) -> list[str]:
    """The remote's target, default and release branches that exist (a missing one fails a
    fetch)."""
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
        if b in wanted or policy.is_release_branch(b) or b in config_mod.DEFAULT_RELEASE_BRANCHES
    ]


def ensure_history(history: History, head: str, base: str | None) -> None:
    """Make ``base``, its merge base with ``head`` and the bundles' source commits present.

    Never compares against less: if the base or the merge base cannot be had, the gate
    cannot evaluate. A source commit that is still missing after fetching everything is
    not the clone's fault (a rebase after promoting, say): PG203/PG205 name it.
    """
    git = history.git

    def missing(sources: bool) -> list[str]:
        wanted = [c for c in _source_commits(git, head) if not git.has_commit(c)] if sources else []
        if base is not None and not git.has_commit(base):
            wanted.append(base)
        elif base is not None and git.merge_base(base, head) is None:
            wanted.append(f"the merge base of {base[:12]} and {head[:12]}")
        return wanted

    while missing(sources=True) and history.fetch_more():
        pass
    if missing(sources=False):
        raise GateError(
            f"{', '.join(m[:40] for m in missing(sources=False))} not in this clone, even after "
            f"fetching from {history.remote}: check out full history (GitHub actions/checkout: "
            '`fetch-depth: 0`; GitLab: `GIT_DEPTH: "0"`)'
        )


def _heads(history: History, ctx: Event) -> RemoteHeads:
    """The remote's branches as this clone has them, its default and main/master fetched."""
    for branch in {ctx.default_branch, *config_mod.DEFAULT_RELEASE_BRANCHES}:
        if branch and "*" not in branch:
            _branch_tip(history, branch)
    heads = heads_from_refs(history.git, history.remote)
    default = ctx.default_branch or heads.default
    fixed = [b for b in config_mod.DEFAULT_RELEASE_BRANCHES if "*" not in b]
    if history.unreachable and not any(b in heads.tips for b in [default, *fixed] if b):
        raise GateError(
            f"this clone has no default branch to take the policy from, and {history.remote} "
            f"cannot be asked for it ({history.unreachable}): check out full history (GitHub "
            'actions/checkout: `fetch-depth: 0`; GitLab: `GIT_DEPTH: "0"`)'
        )
    return RemoteHeads(heads.tips, default)


def _branch_tip(history: History, branch: str) -> str | None:
    """The remote's ``branch`` tip, fetched into its remote-tracking ref if it is not here
    (and only if the remote has it: a fetch that fails still writes to .git)."""
    git, remote = history.git, history.remote
    ref = f"refs/remotes/{remote}/{branch}"
    if git.resolve(ref) is None and branch in history.remote_branches():
        depth = ["--depth", str(DEPTHS[0])] if history.shallow() else []
        git.ok("fetch", "--no-tags", "--quiet", *depth, remote, f"+refs/heads/{branch}:{ref}")
    return git.resolve(ref)


def _anchor(history: History, head: str, ctx: Event, heads: RemoteHeads) -> Anchor | None:
    """The remote's default branch for ``head`` (its tip and merge base), fetching history
    until the merge base shows; None when the remote has no branch yet (bootstrap)."""
    while True:  # a shallow clone may need more history before the merge base shows
        try:
            found = anchor(history.git, head, heads, history.remote)
            break
        except GateError:
            if not history.fetch_more():
                raise
            heads = _heads(history, ctx)
    if found is not None:
        ensure_history(history, head, found.merge_base)
    return found


def _default_branch(heads: RemoteHeads) -> str | None:
    """The remote's default branch: as the CI names it, else the remote's HEAD, else main or
    master where the remote has one (a shallow clone has no ``origin/HEAD``), as ``anchor``
    finds it."""
    if heads.default:
        return heads.default
    fixed = [b for b in config_mod.DEFAULT_RELEASE_BRANCHES if "*" not in b]
    return next((b for b in fixed if b in heads.tips), None)


def _target_tip(history: History, head: str, target: str) -> str:
    """The target branch's current tip on the remote (fetched if this clone lacks it)."""
    tip = _branch_tip(history, target)
    if tip is None:
        raise GateError(f"the branch {target} is not on {history.remote}: the base cannot be told")
    ensure_history(history, head, tip)
    return tip


def base_and_policy(
    git: Git, history: History, head: str, ctx: Event
) -> tuple[str | None, str, str]:
    """(the base to judge against, the commit whose policy applies, a line for the log).

    The policy never comes from a commit the change can choose (its head, its fork point):
    for a pull/merge request or merge queue into the default branch, its current tip; for a
    push to the default branch, the branch as it was (``before``); for everything else — a
    push to, or a request into, any other branch, and a run on no branch (a tag) — the
    default branch's current tip. What counts as released: what a request into the default
    branch is merged into (its merge base with it); the default branch's previous tip for a
    push to it; for everything else, what the head shares with the default branch — never
    what an earlier push of another branch brought, whose gate may have failed.
    """
    what = ctx.what
    if ctx.provider == "local":  # no CI context: --rev/--base decide
        if ctx.base is None:
            return None, head, what  # the checked revision's own policy
        ensure_history(history, head, ctx.base)
        base = git.resolve(ctx.base)
        assert base is not None
        return base, base, what
    heads = _heads(history, ctx)
    default = _default_branch(heads)
    if ctx.merge and ctx.target is not None and ctx.target == default:
        given = None
        if ctx.base is not None:
            ensure_history(history, head, ctx.base)
            given = git.resolve(ctx.base)
        tip = _target_tip(history, head, ctx.target)
        base = git.merge_base(given or tip, head)
        if base is None:
            raise GateError(f"{head[:12]} shares no history with {ctx.target}: no base to judge")
        if given is None:
            what = f"{what}; base: the merge base with {history.remote}/{ctx.target}"
        return base, tip, f"{what}; policy: {history.remote}/{ctx.target} at {tip[:12]}"
    if not ctx.merge and ctx.target is not None and ctx.target == default:
        if ctx.rerun:  # nothing pushed: the branch as it is, under its own tip's policy
            tip = _target_tip(history, head, ctx.target)
            base = git.merge_base(tip, head)
            if base is None:
                raise GateError(f"{head[:12]} shares no history with {ctx.target}")
            return base, tip, f"{what}; base: the merge base with {history.remote}/{ctx.target}"
        if ctx.base is not None:  # a push: the branch as it was governs what it receives
            ensure_history(history, head, ctx.base)
            base = git.resolve(ctx.base)
            assert base is not None
            return base, base, what
    # Everything else is judged as a push to a branch that is not the default one: a new or
    # existing branch, a request into such a branch (whose tip a failed push may have made,
    # and whose policy that push may have relaxed), a run with no branch at all (a tag).
    found = _anchor(history, head, ctx, heads)
    if found is None:
        return None, head, f"{what}; nothing on {history.remote} yet: the head's own policy applies"
    if ctx.merge:
        kind = f"a request into {ctx.target}, not the default branch"
    elif ctx.target is None:
        kind = "not a branch"
    elif ctx.base is None and not ctx.rerun:
        kind = "new branch"
    else:
        kind = "not the default branch"
    note = (
        f"{what}; {kind}: compared with its merge base with {found.branch}, under the "
        f"policy of {history.remote}/{found.branch} at {found.tip[:12]}"
    )
    return found.merge_base, found.tip, note


def tag_plan(history: History, ctx: Event) -> TagPlan:
    """A CI run of a GTO tag, as the pre-push hook judges its push: the tag object (a
    checkout may have replaced it with a lightweight ref: fetched again by its full ref),
    the remote's tags (the registry), and the default branch, whose tip's policy applies."""
    from promote_gate.context.tags import TagEvent, describe, local_tags, tags_plan

    git, remote, name = history.git, history.remote, str(ctx.tag)
    ref = f"refs/tags/{name}"
    git.ok("fetch", "--no-tags", "--quiet", "--force", "--", remote, f"+{ref}:{ref}")
    git.ok("fetch", "--quiet", "--force", "--tags", "--", remote)
    sha = git.run("for-each-ref", "--format=%(objectname)", ref).strip()
    if not sha and not ctx.tag_deleted:
        raise GateError(f"the tag {name} is neither in this clone nor on {remote}")
    new = None if ctx.tag_deleted or not sha else describe(git, name, sha)
    heads = _heads(history, ctx)
    commit = git.resolve(sha) if sha else None
    if commit:
        found = _anchor(history, commit, ctx, heads)
        tip = found.tip if found else None
    else:  # a deletion tags nothing to anchor: the default branch's tip governs it
        branch = _default_branch(heads)
        if branch is None and heads.tips:
            raise GateError(
                f"{remote} has no default branch (main, master) to take the policy from"
            )
        tip = heads.tips.get(branch) if branch else None
    old = ctx.tag_before if ctx.tag_before and not is_zero(ctx.tag_before) else ZERO_SHA
    if new is not None and old == new.object:
        old = ZERO_SHA
    events = [TagEvent(name, new, old)]
    return tags_plan(events, local_tags(git), heads, tip, remote)
