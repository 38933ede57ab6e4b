"""``promote-gate hook pre-push`` / ``hook pre-commit`` and ``promote-gate install``.

git runs a pre-push hook with ``<remote name> <remote url>`` and one stdin line per ref:
``<local ref> <local sha> <remote ref> <remote sha>``. Every ref is judged, on its committed
tree (never the working tree), against what the remote already has. A push that touches no
bundle is answered from one ``git diff`` without importing the rule machinery.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from dataclasses import dataclass, field

from promote_gate import config as config_mod
from promote_gate.errors import EXIT_OK, UsageError
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


def policy_at(git: Git, commit: str) -> config_mod.Config:
    """The policy (.promote-gate.yaml) at ``commit``: the base's, so a push cannot switch off its own gate."""
    return config_mod.load(lambda path: git.read_at(commit, path))


def new_branch_base(
    git: Git, local: str, remote: str, config: config_mod.Config, exclude: str | None = None
) -> tuple[str | None, str]:
    """The base for a ref the remote does not have yet."""
    prefix = f"refs/remotes/{remote}/"
    bases = []
    for ref in git.refs(prefix):
        branch = ref[len(prefix) :]
        if branch != exclude and config.is_release_branch(branch):
            found = git.merge_base(local, ref)
            if found:
                bases.append((found, ref))
    if bases:
        # the nearest: the merge base that every other one is an ancestor of
        best = next((b for b in bases if all(git.is_ancestor(o[0], b[0]) for o in bases)), bases[0])
        return best[0], f"new branch: compared with its merge base with {best[1]}"
    parent = git.first_unpushed_parent(
        local, remote, exclude=f"{prefix}{exclude}" if exclude else None
    )
    if parent is None:
        return None, "new branch with no commit on the remote: every bundle is new"
    return parent, f"new branch: compared with {parent[:12]}, the last commit already on {remote}"


def trusted_commit(git: Git, local: str, remote: str, own: str | None) -> str:
    """Whose policy decides for a branch the remote does not have yet: the nearest commit it
    shares with any branch already on the remote, never the new branch's own head (which
    could drop itself from release_branches). With nothing shared, the head is all there is."""
    anything = config_mod.Config(release_branches=("*",))
    base, _ = new_branch_base(git, local, remote, anything, exclude=own)
    return base or local


GATE_FILES = frozenset({"dvc.yaml", ".dvc/config", config_mod.CONFIG_FILE, config_mod.PYPROJECT})


def touches_gate(policy: config_mod.Config, paths: list[str]) -> bool:
    """Whether a change can alter a verdict: bundles, what consumers read, the pipeline's
    outputs (internal paths), the DVC remote, the policy. Anything else cannot."""
    if any(p.startswith(policy.publish_root + "/") or p in GATE_FILES for p in paths):
        return True
    if not policy.consumers:
        return False
    import pathspec

    consumers = pathspec.GitIgnoreSpec.from_lines(policy.consumers)
    return any(consumers.match_file(p) for p in paths)


def plan(git: Git, lines: list[str], remote: str) -> list[Target]:
    targets = []
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
        config = policy_at(
            git, remote_sha if known else trusted_commit(git, local_sha, remote, own)
        )
        if not remote_ref.startswith("refs/heads/") or not config.is_release_branch(remote_ref):
            targets.append(
                Target(
                    remote_ref, local_sha, skip="not a release branch (release_branches): not gated"
                )
            )
        elif known:
            targets.append(Target(remote_ref, local_sha, base=remote_sha, policy=config))
        else:
            base, note = new_branch_base(git, local_sha, remote, config, exclude=own)
            if not is_zero(remote_sha):
                note = f"the remote's {remote_sha[:12]} is not here (fetch first?); {note}"
            targets.append(Target(remote_ref, local_sha, base=base, note=note, policy=config))
    return targets


def judge_push(repo: str, lines: list[str], remote: str) -> int:
    git = Git.open(repo)
    try:
        targets = plan(git, lines, remote)
        quick = {
            t.remote_ref: not touches_gate(t.policy, git.diff_names(t.base, t.local_sha))
            for t in targets
            if t.skip is None and t.base is not None
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

        report = check_repo(repo, rev=target.local_sha, base=target.base, policy_from="base")
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
{MARKER} (written by `promote-gate install`; `promote-gate install --force` rewrites it)
exec "{{python}}" -c "{LAUNCH}" "$@"
"""


def install(args: argparse.Namespace) -> int:
    git = Git.open(args.repo)
    hooks = git.run("rev-parse", "--git-path", "hooks").strip()  # honours core.hooksPath
    hooks = hooks if os.path.isabs(hooks) else os.path.join(git.root, hooks)
    path = os.path.join(hooks, "pre-push")
    if os.path.exists(path) and not args.force:
        with open(path, encoding="utf-8", errors="replace") as fobj:
            if MARKER not in fobj.read():
                raise UsageError(
                    f"{path} exists and is not promote-gate's: add "
                    '`promote-gate hook pre-push "$@"` to it, or use --force to replace it'
                )
    os.makedirs(hooks, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fobj:
        fobj.write(HOOK.format(python=sys.executable))
    # executable for everyone who can read it, like git's own sample hooks
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)  # noqa: S103
    print(f"promote-gate: installed {path}")
    return EXIT_OK
