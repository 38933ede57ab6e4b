"""``promote-gate hook pre-commit`` / ``hook pre-push`` and ``promote-gate install``.

git runs a pre-commit hook with nothing: the index (``GIT_INDEX_FILE`` when git set one) is
judged against the upstream, as ``check --staged``. git runs a pre-push hook with ``<remote
name> <remote url>`` and one stdin line per ref: ``<local ref> <local sha> <remote ref>
<remote sha>``. Every ref is judged, on its committed tree (never the working tree), against
what the remote already has. The pre-commit framework's pre-push stage runs ``hook pre-push``
too, with the first ref in ``PRE_COMMIT_*`` variables. A commit or push that touches no bundle
is answered from one ``git diff`` without importing the rule machinery.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promote_gate import config as config_mod
from promote_gate.errors import EXIT_OK, GateError, UsageError
from promote_gate.repo import Git, is_zero

if TYPE_CHECKING:
    import argparse


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
    from promote_gate.errors import MAX_DOCUMENT_BYTES

    def present(path: str) -> bool:
        return git.ok("cat-file", "-e", f"{commit}:{path}")

    return config_mod.load(
        lambda path: git.read_at(commit, path, MAX_DOCUMENT_BYTES), present=present
    )


@dataclass(frozen=True)
class RemoteHeads:
    """What the remote has: its branches' tips (those present here) and its default branch."""

    tips: dict[str, str]  # branch name -> sha, only commits this clone has
    default: str | None  # the remote's HEAD branch
    missing: frozenset[str] = frozenset()  # branches the remote has whose tips are not here


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
    """The remote as it is now (``git ls-remote``), for a push by URL or a clone without
    remote-tracking refs; falls back to those refs when the remote cannot be asked."""
    listing = git.ls_remote(remote)
    if listing is None:
        heads = heads_from_refs(git, remote)
        if not heads.tips:
            raise GateError(
                f"cannot ask {remote} which branches it has, and there are no remote-tracking "
                "refs for it: the policy that applies cannot be told"
            )
        return heads
    tips = {}
    missing = set()
    default = None
    for line in listing.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            default = line[len("ref: refs/heads/") : -len("\tHEAD")]
            continue
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/heads/"):
            continue
        if git.has_commit(sha):
            tips[ref[len("refs/heads/") :]] = sha
        else:
            missing.add(ref[len("refs/heads/") :])
    return RemoteHeads(tips, default, frozenset(missing))


def remote_heads(git: Git, remote: str) -> RemoteHeads:
    """The remote's branches: its remote-tracking refs when they name its default branch
    (no network on the common path), else ``git ls-remote``."""
    heads = heads_from_refs(git, remote)
    if heads.default is not None and heads.default in heads.tips:
        return heads
    return heads_from_remote(git, remote)


def anchor(git: Git, local: str, heads: RemoteHeads, remote: str) -> tuple[str, str] | None:
    """The commit whose policy governs a push of ``local`` to any branch but the default one:
    its merge base with the remote's default branch — history that went through the gate —
    never the pushed head, nor a commit only pushed to some other branch (which could have
    relaxed the policy on its way in). Returns (that commit, the branch); None for a remote
    with no branch yet (bootstrap)."""
    names = [heads.default] if heads.default else []
    names += [b for b in config_mod.DEFAULT_RELEASE_BRANCHES if "*" not in b]
    for branch in names:
        if branch in heads.missing:
            raise GateError(
                f"{remote}'s {branch} is at a commit this clone does not have: fetch first "
                "(its policy governs this push)"
            )
        tip = heads.tips.get(branch or "")
        if tip is not None:
            found = git.merge_base(local, tip)
            if found is None:
                raise GateError(
                    f"{local[:12]} shares no history with {remote}'s {branch}: the policy "
                    "that governs it cannot be told"
                )
            return found, str(branch)
    if heads.tips or heads.missing:
        raise GateError(
            f"{remote} has no default branch (main, master) to take the policy from: "
            "push the default branch first"
        )
    return None


# files (by name, in any project) whose change can alter a verdict
GATE_NAMES = frozenset(
    {"dvc.yaml", "dvc.lock", ".gitattributes", config_mod.CONFIG_FILE, config_mod.PYPROJECT}
)
GATE_SUFFIXES = (".dvc/config", ".dvc/config.local")


def touches_gate(projects: dict[str, config_mod.Config], paths: list[str]) -> bool:
    """Whether a change can alter a verdict: bundles, what consumers read, a pipeline, a DVC
    remote, a policy, git attributes (they change checked-out bytes). Nothing else can.
    ``projects`` maps each DVC project's directory ("" for the top) to its policy."""
    import unicodedata

    def fold(text: str) -> str:  # as case-insensitive filesystems compare names
        return unicodedata.normalize("NFC", text).casefold()

    if any(p.rsplit("/", 1)[-1] in GATE_NAMES or p.endswith(GATE_SUFFIXES) for p in paths):
        return True
    for directory, policy in projects.items():
        lead = directory + "/" if directory else ""
        root = fold(lead + policy.publish_root + "/")
        if any(fold(p).startswith(root) for p in paths):
            return True
        if policy.consumers:
            import pathspec

            consumers = pathspec.GitIgnoreSpec.from_lines(policy.consumers)
            if any(p.startswith(lead) and consumers.match_file(p[len(lead) :]) for p in paths):
                return True
    return False


def project_policies(
    git: Git,
    trees: list[str],
    trusted: str,
    paths: list[str] | None = None,
    top: config_mod.Config | None = None,
) -> dict[str, config_mod.Config]:
    """The DVC projects in the ``trees`` (commits), each with its policy as ``trusted`` has it
    (its own configuration file, else the top's). With ``paths``, only the projects that can
    hold them (a directory above one of them with ``.dvc/config`` in a tree), each looked up
    in the one ``cat-file`` process: no listing of whole trees on the hooks' quick path."""
    from promote_gate.errors import MAX_DOCUMENT_BYTES

    top = top or policy_at(git, trusted)  # the caller may have read it already
    found = {"": top}
    if paths is None:
        from promote_gate.dvc.project import find_projects
        from promote_gate.repo import CommitView

        directories = {d for commit in trees for d in find_projects(CommitView(git, commit))}
    else:
        from promote_gate.repo import iter_parents

        above = {d for p in paths for d in iter_parents(p)}
        directories = {
            d for d in above for commit in trees if git.has_file(commit, f"{d}/.dvc/config")
        }
    for directory in sorted(directories):
        if directory:
            sub = git.project(directory)
            own = config_mod.load_own(
                lambda path, sub=sub: sub.read_at(trusted, path, MAX_DOCUMENT_BYTES),
                where=directory + "/",
            )
            found[directory] = own or top
    return found


def change_touches_gate(
    git: Git, trees: list[str], trusted: str, paths: list[str], top: config_mod.Config
) -> bool:
    """Whether changed ``paths`` can alter a verdict in any project of the ``trees``, under
    ``trusted``'s policies (``top``, the repository's, asked first: no lookups when it
    already says yes). The hooks' quick paths."""
    return touches_gate({"": top}, paths) or touches_gate(
        project_policies(git, trees, trusted, paths, top), paths
    )


def plan(git: Git, lines: list[str], remote: str) -> list[Target]:
    """What to judge for each pushed ref, against what, under whose policy.

    The default branch: against the remote's tip, under its policy. Any other branch:
    under the policy of its merge base with the default branch; an existing branch against
    its remote tip, a new one against that merge base (a branch the remote has, whatever its
    CI said, vouches for nothing).
    """
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
        heads = heads or remote_heads(git, remote)
        own = remote_ref.removeprefix("refs/heads/")
        known = not is_zero(remote_sha) and git.has_commit(remote_sha)
        if not is_zero(remote_sha) and not known:
            raise GateError(
                f"{remote}'s {own} is at {remote_sha[:12]}, which this clone does not have: "
                "fetch first"
            )
        note = None
        anchor_branch = heads.default or "the default branch"
        if known and own == heads.default:
            trusted: str | None = remote_sha
        else:
            found = anchor(git, local_sha, heads, remote)
            trusted = found[0] if found else None
            if found is None:
                note = f"nothing on {remote} yet: the pushed head's own policy applies"
            else:
                anchor_branch = found[1]
        config = policy_at(git, trusted or local_sha)
        if not remote_ref.startswith("refs/heads/") or not config.is_release_branch(remote_ref):
            targets.append(
                Target(
                    remote_ref, local_sha, skip="not a release branch (release_branches): not gated"
                )
            )
            continue
        base = remote_sha if known else trusted
        if not known:
            note = note or f"new branch: compared with its merge base with {anchor_branch}"
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
        quick = {}
        for t in targets:
            if t.skip is None and t.base is not None and git.is_ancestor(t.base, t.local_sha):
                paths = git.diff_names(t.base, t.local_sha)
                trusted = t.policy_rev or t.base
                quick[t.remote_ref] = not change_touches_gate(
                    git, [t.base, t.local_sha], trusted, paths, t.policy
                )
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
        full_site()
        from promote_gate.commands.check import check_repo
        from promote_gate.reporters import text

        report = check_repo(
            repo,
            rev=target.local_sha,
            base=target.base,
            policy_from="base",
            policy_rev=target.policy_rev,
            every_project=True,
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


def staged_base(git: Git, head: str | None) -> tuple[str | None, str]:
    """What a staged bundle is compared with, and a sentence saying so: with an upstream, the
    last commit HEAD shares with it (what the remote already has of this branch, whether
    the branch is ahead, behind or both); else HEAD; None before the first commit. The
    policy is that commit's: an early warning by the rules the branch already lives under
    (the push hook and CI apply the default branch's)."""
    if head is None:
        return None, "staged: no commit yet: every bundle is new, under the staged policy"
    upstream = git.resolve("@{upstream}")
    if upstream is None:
        return head, "staged: compared with HEAD (no upstream), under its policy"
    base = git.merge_base(head, upstream)
    if base is None:
        raise GateError("HEAD shares no history with its upstream: what is released is unknown")
    return base, (
        f"staged: compared with {base[:12]}, where HEAD meets its upstream (what the remote "
        "already has), under its policy"
    )


def judge_commit(repo: str) -> int:
    """git's pre-commit hook: judge the index, what this commit records, against what the
    remote already has of the branch (HEAD without an upstream), under that base's policy.
    A commit whose tree differs from the base in nothing the gate reads (one
    ``git diff-index --cached`` against the base: this commit and the unpushed ones before
    it) is answered silently, without loading the rules."""
    git = Git.open(repo)
    try:
        head = git.head()
        base, note = staged_base(git, head)
        if base is not None:
            paths = git.staged_names(base)
            if not change_touches_gate(git, [base], base, paths, policy_at(git, base)):
                return EXIT_OK
    finally:
        git.close()
    full_site()
    from promote_gate.commands.check import check_repo
    from promote_gate.reporters import text

    report = check_repo(
        repo, staged=True, base=base, policy_from="base", policy_rev=base, every_project=True
    )
    print(f"promote-gate: {note}", file=sys.stderr)
    sys.stderr.write(text.render(report, colour=text.use_colour(sys.stderr)))
    if report.exit_code:
        print(
            "promote-gate: commit refused. Fix the violations above (promote-gate explain CODE "
            "says how). The push hook and CI judge what is pushed whatever is committed.",
            file=sys.stderr,
        )
    return report.exit_code


def run(kind: str, repo: str, remote: str | None, lines: list[str] | None = None) -> int:
    """Run as the ``kind`` hook. ``lines``: the refs git gave a pre-push hook on stdin,
    when the caller read them already."""
    if kind == "pre-commit":
        return judge_commit(repo)
    if os.environ.get("PRE_COMMIT") != "1":  # git's own pre-push hook: the refs on stdin
        if lines is None:
            lines = sys.stdin.read().splitlines()
        return judge_push(repo, lines, remote or "origin")
    # the pre-commit framework's pre-push stage read git's stdin itself and passes the first
    # ref in the environment (run by hand, `pre-commit run --hook-stage pre-push`: HEAD)
    to_ref = os.environ.get("PRE_COMMIT_TO_REF") or "HEAD"
    from_ref = os.environ.get("PRE_COMMIT_FROM_REF") or "0" * 40
    branch = os.environ.get("PRE_COMMIT_REMOTE_BRANCH") or "refs/heads/main"
    remote = os.environ.get("PRE_COMMIT_REMOTE_NAME") or remote or "origin"
    git = Git.open(repo)
    try:
        local = git.resolve(to_ref)
    finally:
        git.close()
    if local is None:
        raise UsageError(f"PRE_COMMIT_TO_REF {to_ref}: no such commit")
    return judge_push(repo, [f"{to_ref} {local} {branch} {from_ref}"], remote)


HOOK_TYPES = ("pre-commit", "pre-push")


def marker(kind: str) -> str:
    return f"# promote-gate {kind} hook"


def launch(kind: str, paths: list[str]) -> str:
    """The Python an installed hook runs, under ``python -S``: no site initialisation (the
    interpreter starts in a fifth of the time), ``paths`` (where promote-gate and its
    dependencies were installed) added instead. git runs hooks in the work tree, which
    ``-c`` puts first on sys.path: it is dropped, so a yaml.py committed to the checked
    repository never runs. A full check calls ``site.main()`` first (see ``full_site``);
    an installation that moved since falls back to it at once."""
    return "\n".join(
        [
            "import sys",
            'sys.path[:] = [p for p in sys.path if p not in ("", ".")] + ' + json.dumps(paths),
            "try:",
            "    from promote_gate.cli import hook_main",
            "except ImportError:",
            "    import site",
            "    site.main()",
            "    from promote_gate.cli import hook_main",
            f"sys.exit(hook_main({json.dumps(kind)}, sys.argv[1:]))",
        ]
    )


def install_paths() -> list[str]:
    """Where this promote-gate and its dependencies are installed, for ``launch``."""
    import site

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [os.path.dirname(package), *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        found.append(site.getusersitepackages())
    return list(dict.fromkeys(found))


def full_site() -> None:
    """Before the rule machinery is imported in a hook started with ``python -S``: the site
    initialisation the quick path skipped (``.pth`` files: editable installs, namespace
    packages), exactly as a normal start would have done it."""
    if sys.flags.no_site and "site" not in sys.modules:  # not already done
        import site

        site.main()


# A hook that was there before is kept as <kind>.legacy and runs first, with the same
# arguments (and for pre-push the same refs on stdin), as pre-commit chains one.
_CHAIN = {
    "pre-push": """    refs="$(cat)"
    printf '%s\\n' "$refs" | "$here/pre-push.legacy" "$@" || exit $?
    printf '%s\\n' "$refs" | {python} -S -c {launch} "$@"
    exit $?""",
    "pre-commit": """    "$here/pre-commit.legacy" "$@" || exit $?""",
}
HOOK = """#!/bin/sh
{marker} (written by `promote-gate install`)
# A {kind} hook that was here before is kept as {kind}.legacy and runs first.
here="$(dirname "$0")"
if [ -x "$here/{kind}.legacy" ]; then
{chain}
fi
exec {python} -S -c {launch} "$@"
"""


def hook_script(kind: str, python: str, paths: list[str]) -> str:
    import shlex

    fields = {
        "kind": kind,
        "python": shlex.quote(python),
        "launch": shlex.quote(launch(kind, paths)),
        "marker": marker(kind),
    }
    return HOOK.format(chain=_CHAIN[kind].format(**fields), **fields)


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


def _is_ours(path: str, kind: str) -> bool:
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as fobj:
        return marker(kind) in fobj.read(4096)


def install(args: argparse.Namespace) -> int:
    """Write git hooks (``--hook-type``, repeatable; default pre-commit and pre-push)."""
    from promote_gate.files import write_atomic

    git = Git.open(args.repo)
    try:
        hooks = _hooks_dir(git)
    finally:
        git.close()
    kinds = list(dict.fromkeys(args.hook_type or HOOK_TYPES))
    paths = install_paths()
    for kind in kinds:  # refuse before writing anything
        path = os.path.join(hooks, kind)
        foreign = os.path.lexists(path) and not _is_ours(path, kind)
        if foreign and os.path.lexists(path + ".legacy") and not args.force:
            raise UsageError(
                f"{path} is not promote-gate's, and {path}.legacy exists already: merge "
                "them into one hook, or use --force to replace the .legacy one"
            )
    for kind in kinds:
        path = os.path.join(hooks, kind)
        legacy = path + ".legacy"
        kept = None
        if os.path.lexists(path) and not _is_ours(path, kind):
            os.replace(path, legacy)  # a symlink is moved as the link, never followed
            kept = legacy
        # executable for everyone who can read it, like git's own sample hooks
        write_atomic(path, hook_script(kind, sys.executable, paths), mode=0o777)
        print(f"promote-gate: installed {path}")
        if kept:
            print(f"promote-gate: the hook that was there is kept as {kept} and runs first")
    return EXIT_OK
