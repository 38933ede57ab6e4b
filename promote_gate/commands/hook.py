"""``promote-gate hook pre-push`` / ``hook pre-commit`` and ``promote-gate install``.

git runs a pre-push hook with ``<remote name> <remote url>`` and one stdin line per ref:
``<local ref> <local sha> <remote ref> <remote sha>``. Every ref is judged, on its committed
tree (never the working tree), against what the remote already has. A push that touches no
bundle is answered from one ``git diff`` without importing the rule machinery.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from promote_gate import config as config_mod
from promote_gate.errors import EXIT_OK, GateError, UsageError
from promote_gate.repo import Git, is_zero

MARKER = "# promote-gate pre-push hook"


@dataclass(frozen=True)
class Target:
    """One ref of a push: what to check, against what, or why not."""

    remote_ref: str
    local_sha: str
    base: str | None = None  # None: nothing on the remote to compare with: every bundle is new
    skip: str | None = None
    note: str | None = None
    policy: config_mod.Config = field(default_factory=config_mod.Config)
    policy_rev: str | None = None  # the commit whose policy applies (never the pushed head)


def policy_at(git: Git, commit: str) -> config_mod.Config:
    """The policy (.promote-gate.yaml) at ``commit``: the base's, so a push cannot switch off its own gate."""
    from promote_gate.yamlio import MAX_DOCUMENT_BYTES

    return config_mod.load(lambda path: git.read_at(commit, path, MAX_DOCUMENT_BYTES))


@dataclass(frozen=True)
class RemoteHeads:
    """What the remote has: its branches' tips (those present here) and its default branch."""

    tips: dict[str, str]  # branch name -> sha, only commits this clone has
    default: str | None  # the remote's HEAD branch


def heads_from_refs(git: Git, remote: str) -> RemoteHeads:
    """The remote as its remote-tracking refs (``refs/remotes/<remote>/…``) last saw it."""
    prefix = f"refs/remotes/{remote}/"
    tips = {}
    for ref in git.refs(prefix):
        branch = ref[len(prefix) :]
        sha = git.resolve(ref)
        if branch != "HEAD" and sha is not None:
            tips[branch] = sha
    default = git.symbolic(f"{prefix}HEAD")
    default = default[len(prefix) :] if default and default.startswith(prefix) else None
    return RemoteHeads(tips, default)


def heads_from_remote(git: Git, remote: str) -> RemoteHeads:
    """The remote as it is now (``git ls-remote``), for a push by URL or stale tracking refs;
    falls back to the remote-tracking refs when the remote cannot be asked."""
    listing = git.ls_remote(remote)
    if listing is None:
        heads = heads_from_refs(git, remote)
        if not heads.tips:
            raise GateError(
                f"cannot ask {remote} which branches it has, and there are no remote-tracking "
                "refs for it: the policy that applies to a new branch cannot be told"
            )
        return heads
    tips = {}
    default = None
    for line in listing.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            default = line[len("ref: refs/heads/") : -len("\tHEAD")]
            continue
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/") and git.has_commit(sha):
            tips[ref[len("refs/heads/") :]] = sha
    return RemoteHeads(tips, default)


def new_branch_base(
    git: Git, local: str, heads: RemoteHeads, config: config_mod.Config, exclude: str | None = None
) -> tuple[str | None, str]:
    """The base for a branch the remote does not have yet: the nearest merge base with a
    release branch the remote has (bundles present there are released)."""
    bases = []
    for branch, tip in sorted(heads.tips.items()):
        if branch != exclude and config.is_release_branch(branch):
            found = git.merge_base(local, tip)
            if found:
                bases.append((found, branch))
    if bases:
        # the nearest: the merge base that every other one is an ancestor of
        best = next((b for b in bases if all(git.is_ancestor(o[0], b[0]) for o in bases)), bases[0])
        return best[0], f"new branch: compared with its merge base with {best[1]}"
    shared = [git.merge_base(local, tip) for b, tip in heads.tips.items() if b != exclude]
    known = [c for c in shared if c]
    if not known:
        return None, "new branch with no commit shared with the remote: every bundle is new"
    parent = next(c for c in known if all(git.is_ancestor(o, c) for o in known))
    return (
        parent,
        f"new branch: compared with {parent[:12]}, the last commit it shares with the remote",
    )


def trusted_commit(git: Git, local: str, heads: RemoteHeads, own: str | None) -> str | None:
    """Whose policy decides for a branch the remote does not have yet: its merge base with
    the remote's default branch — history that went through the gate — never the new
    branch's own head, nor a commit only pushed to some ungated branch. None when the
    remote has no default branch to anchor to (a new repository)."""
    candidates = [heads.default] if heads.default else []
    candidates += [b for b in config_mod.DEFAULT_RELEASE_BRANCHES if "*" not in b]
    for branch in candidates:
        tip = heads.tips.get(branch or "")
        if branch != own and tip is not None:
            return git.merge_base(local, tip)
    return None


GATE_FILES = frozenset(
    {
        "dvc.yaml",
        "dvc.lock",
        ".dvc/config",
        ".dvc/config.local",
        config_mod.CONFIG_FILE,
        config_mod.PYPROJECT,
    }
)


def touches_gate(policy: config_mod.Config, paths: list[str]) -> bool:
    """Whether a change can alter a verdict: bundles, what consumers read, the pipeline, the
    DVC remote, the policy, git attributes (they change checked-out bytes). Nothing else can."""
    if any(
        p.startswith(policy.publish_root + "/")
        or p in GATE_FILES
        or p.rsplit("/", 1)[-1] == ".gitattributes"
        for p in paths
    ):
        return True
    if not policy.consumers:
        return False
    import pathspec

    consumers = pathspec.GitIgnoreSpec.from_lines(policy.consumers)
    return any(consumers.match_file(p) for p in paths)


def plan(git: Git, lines: list[str], remote: str) -> list[Target]:
    targets = []
    heads: RemoteHeads | None = None
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise UsageError(f"pre-push: cannot read the line {line!r} git sent")
        _local_ref, local_sha, remote_ref, remote_sha = parts
        if is_zero(local_sha):
            targets.append(Target(remote_ref, local_sha, skip="deletion: nothing to check"))
            continue
        known = not is_zero(remote_sha) and git.has_commit(remote_sha)
        own = remote_ref.removeprefix("refs/heads/")
        trusted: str | None = remote_sha
        if known:
            config = policy_at(git, remote_sha)
        else:
            heads = heads or heads_from_remote(git, remote)
            trusted = trusted_commit(git, local_sha, heads, own)
            if trusted is None and heads.tips:
                raise GateError(
                    f"cannot tell which policy applies to the new branch {own}: it shares no "
                    f"history with the default branch of {remote} (fetch it first?)"
                )
            config = policy_at(git, trusted or local_sha)  # nothing on the remote yet: bootstrap
        if not remote_ref.startswith("refs/heads/") or not config.is_release_branch(remote_ref):
            targets.append(
                Target(
                    remote_ref, local_sha, skip="not a release branch (release_branches): not gated"
                )
            )
        elif known:
            targets.append(
                Target(remote_ref, local_sha, base=remote_sha, policy=config, policy_rev=trusted)
            )
        else:
            assert heads is not None
            base, note = new_branch_base(git, local_sha, heads, config, exclude=own)
            if not is_zero(remote_sha):
                note = f"the remote's {remote_sha[:12]} is not here (fetch first?); {note}"
            targets.append(
                Target(
                    remote_ref,
                    local_sha,
                    base=base,
                    note=note,
                    policy=config,
                    policy_rev=trusted or local_sha,
                )
            )
    return targets


def judge_push(repo: str, lines: list[str], remote: str) -> int:
    git = Git.open(repo)
    try:
        targets = plan(git, lines, remote)
        # the quick path only for a fast-forward: rewritten history (a force push) can
        # change a verdict (PG205) with an identical tree
        quick = {
            t.remote_ref: not touches_gate(t.policy, git.diff_names(t.base, t.local_sha))
            for t in targets
            if t.skip is None and t.base is not None and git.is_ancestor(t.base, t.local_sha)
        }
    finally:
        git.close()
    worst = EXIT_OK
    for target in targets:
        head = f"promote-gate: {target.remote_ref} ({target.local_sha[:12]})"
        if target.skip:
            print(f"{head}: {target.skip}", file=sys.stderr)
            continue
        if target.note:
            print(f"{head}: {target.note}", file=sys.stderr)
        if quick.get(target.remote_ref):
            print(f"{head}: no bundle changed: passed", file=sys.stderr)
            continue
        from promote_gate.commands.check import check_repo
        from promote_gate.reporters import text

        report = check_repo(
            repo,
            rev=target.local_sha,
            base=target.base,
            policy_from="base",
            policy_rev=target.policy_rev,
        )
        print(f"{head}:", file=sys.stderr)
        sys.stderr.write(text.render(report, colour=text.use_colour(sys.stderr)))
        worst = max(worst, report.exit_code)
    if worst:
        print(
            "promote-gate: push refused. Fix the violations above (promote-gate explain CODE "
            "says how), or push to a branch that is not a release branch.",
            file=sys.stderr,
        )
    return worst


def run(args: argparse.Namespace) -> int:
    if args.kind == "pre-push":
        return judge_push(args.repo, sys.stdin.read().splitlines(), args.remote or "origin")
    # pre-commit's pre-push stage: it read git's stdin itself and passes the first ref as env
    to_ref = os.environ.get("PRE_COMMIT_TO_REF") or "HEAD"
    from_ref = os.environ.get("PRE_COMMIT_FROM_REF") or "0" * 40
    branch = os.environ.get("PRE_COMMIT_REMOTE_BRANCH") or "refs/heads/main"
    remote = os.environ.get("PRE_COMMIT_REMOTE_NAME") or "origin"
    git = Git.open(args.repo)
    try:
        local = git.resolve(to_ref)
    finally:
        git.close()
    if local is None:
        raise UsageError(f"PRE_COMMIT_TO_REF {to_ref}: no such commit")
    return judge_push(args.repo, [f"{to_ref} {local} {branch} {from_ref}"], remote)


# git runs hooks in the work tree: `python -m` (and `-c`) would put it first on sys.path, so a
# yaml.py committed to the checked repository would run. The snippet drops it before importing.
LAUNCH = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from promote_gate.cli import main; sys.exit(main(['hook', 'pre-push', *sys.argv[1:]]))"
)
HOOK = f"""#!/bin/sh
{MARKER} (written by `promote-gate install`)
# A pre-push hook that was here before is kept as pre-push.legacy and runs first, with the
# same arguments and the same refs on stdin, as pre-commit chains one.
here="$(dirname "$0")"
if [ -x "$here/pre-push.legacy" ]; then
    refs="$(cat)"
    printf '%s\\n' "$refs" | "$here/pre-push.legacy" "$@" || exit $?
    printf '%s\\n' "$refs" | "{{python}}" -c "{LAUNCH}" "$@"
    exit $?
fi
exec "{{python}}" -c "{LAUNCH}" "$@"
"""


def _hooks_dir(git: Git) -> str:
    """Where git runs hooks from, refusing a directory that resolves, through a symlink,
    outside the repository and its git dir (a committed symlink named by core.hooksPath)."""
    hooks = git.run("rev-parse", "--git-path", "hooks").strip()  # honours core.hooksPath
    hooks = os.path.normpath(hooks if os.path.isabs(hooks) else os.path.join(git.root, hooks))
    common = git.run("rev-parse", "--git-common-dir").strip()
    common = os.path.realpath(common if os.path.isabs(common) else os.path.join(git.root, common))
    resolved = os.path.realpath(hooks)
    allowed = [common, os.path.realpath(git.root)]
    inside = any(os.path.commonpath([resolved, a]) == a for a in allowed)
    if resolved != hooks and not inside:
        raise UsageError(
            f"the hooks directory {hooks} resolves through a symlink to {resolved}, outside "
            f"the repository and its git dir: refusing to write a hook there"
        )
    return hooks


def _is_ours(path: str) -> bool:
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as fobj:
        return MARKER in fobj.read(4096)


def install(args: argparse.Namespace) -> int:
    from promote_gate.files import write_atomic

    git = Git.open(args.repo)
    try:
        hooks = _hooks_dir(git)
    finally:
        git.close()
    path = os.path.join(hooks, "pre-push")
    legacy = path + ".legacy"
    kept = None
    if os.path.lexists(path) and not _is_ours(path):
        if os.path.lexists(legacy) and not args.force:
            raise UsageError(
                f"{path} is not promote-gate's, and {legacy} exists already: merge them into "
                "one hook, or use --force to replace the .legacy one"
            )
        os.replace(path, legacy)  # a symlink is moved as the link, never followed
        kept = legacy
    # executable for everyone who can read it, like git's own sample hooks
    write_atomic(path, HOOK.format(python=sys.executable), mode=0o777)
    print(f"promote-gate: installed {path}")
    if kept:
        print(f"promote-gate: the hook that was there is kept as {kept} and runs first")
    return EXIT_OK
