"""What a commit or a push is judged against, and under whose policy (the hooks).

A commit (``check --staged``, the pre-commit hook) is compared with where HEAD meets its
upstream. A push is compared with what the remote already has, under the policy of the
remote's default branch — history that went through the gate — never of the pushed head;
``check`` of a working tree is judged as that push would be (``working_base``).
Also the hooks' quick test: whether a change can alter a verdict at all. Light: no rules,
no DVC, no PyYAML once the policy was validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from promote_gate import config as config_mod
from promote_gate.context.policy import policy_at
from promote_gate.errors import MAX_DOCUMENT_BYTES, GateError, UsageError
from promote_gate.git import ZERO_SHA, Git, is_zero, iter_parents


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
    # one process for every branch (a clone may track thousands): not a rev-parse each
    listing = git.run("for-each-ref", "--format=%(objecttype) %(objectname) %(refname)", prefix)
    for line in listing.splitlines():
        kind, sha, ref = line.split(" ", 2)
        branch = ref[len(prefix) :]
        if branch != "HEAD" and kind == "commit":
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


def remote_has(git: Git, remote: str, ref: str) -> str:
    """The commit ``remote`` has at ``ref``, as the remote says it: its remote-tracking ref
    when there is one, else ``git ls-remote``; the zero sha when the remote lacks the
    branch (a new branch: judged against its merge base with the default branch)."""
    branch = ref.removeprefix("refs/heads/")
    if branch == ref:  # not a branch (a tag): never gated, nothing to look up
        return ZERO_SHA
    tracked = git.resolve(f"refs/remotes/{remote}/{branch}")
    if tracked is not None:
        return tracked
    heads = heads_from_remote(git, remote)
    if branch in heads.missing:
        raise GateError(f"{remote}'s {branch} is at a commit this clone does not have: fetch first")
    return heads.tips.get(branch, ZERO_SHA)


class Anchor(NamedTuple):
    """The default branch as the remote has it: the trust anchor of every push and request
    that is not to the default branch itself."""

    branch: str
    tip: str  # whose policy applies: the branch's current tip, which no change can choose
    merge_base: str  # what counts as released: the history the change shares with it


def default_branch(heads: RemoteHeads) -> str | None:
    """The remote's default branch: its HEAD where that names a branch it has, else main or
    master where it has one (a bare repository's HEAD may name a branch never pushed)."""
    fixed = [b for b in config_mod.DEFAULT_RELEASE_BRANCHES if "*" not in b]
    names = [heads.default, *fixed] if heads.default else fixed
    return next((b for b in names if b in heads.tips or b in heads.missing), None)


def anchor(git: Git, local: str, heads: RemoteHeads, remote: str) -> Anchor | None:
    """The remote's default branch for a push of ``local`` to any other branch: its tip
    governs (never the pushed head, nor the fork point, which the change chooses by forking
    before a policy change), and what it shares with ``local`` is released (never what an
    earlier push of the same branch brought: its gate may have failed). None for a remote
    with no branch yet (bootstrap)."""
    branch = default_branch(heads)
    if branch in heads.missing:
        raise GateError(
            f"{remote}'s {branch} is at a commit this clone does not have: fetch first "
            "(its policy governs this push)"
        )
    if branch is not None:
        tip = heads.tips[branch]
        found = git.merge_base(local, tip)
        if found is None:
            raise GateError(
                f"{local[:12]} shares no history with {remote}'s {branch}: the policy "
                "that governs it cannot be told"
            )
        return Anchor(branch, tip, found)
    if heads.tips or heads.missing:
        raise GateError(
            f"{remote} has no default branch (main, master) to take the policy from: "
            "push the default branch first"
        )
    return None


# files (by name, in any project) whose change can alter a verdict; `.gitmodules` decides
# what git's own diffs show of a submodule (`ignore = all`) and what a checkout puts there
GATE_NAMES = frozenset(
    {
        "dvc.yaml",
        "dvc.lock",
        ".gitattributes",
        ".gitmodules",
        config_mod.CONFIG_FILE,
        config_mod.PYPROJECT,
    }
)
GATE_SUFFIXES = (".dvc/config", ".dvc/config.local")


def touches_gate(projects: dict[str, config_mod.Config], paths: list[str]) -> bool:
    """Whether a change can alter a verdict: bundles (a submodule under the publish root
    included), what consumers read, a pipeline, a DVC remote, a policy, git attributes
    (they change checked-out bytes), submodule settings. Nothing else can.
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
    top = top or policy_at(git, trusted)  # the caller may have read it already
    found = {"": top}
    if paths is None:
        from promote_gate.dvc.project import find_projects
        from promote_gate.repo import CommitView

        directories = {d for commit in trees for d in find_projects(CommitView(git, commit))}
    else:
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

    The default branch, as the remote has it: against the remote's tip, under its policy.
    Any other branch, new or existing: under the policy of the remote default branch's
    current tip, against what it shares with that branch (its merge base): a branch the
    remote has vouches for nothing, whatever its gate said.
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
        base: str | None
        if known and own == default_branch(heads):
            trusted: str | None = remote_sha
            base = remote_sha
        else:
            found = anchor(git, local_sha, heads, remote)
            trusted = found.tip if found else None
            base = found.merge_base if found else None
            if found is None:
                note = f"nothing on {remote} yet: the pushed head's own policy applies"
            else:
                what = "new branch" if not known else "not the default branch"
                note = (
                    f"{what}: compared with its merge base with {found.branch}, "
                    f"under the policy of {found.branch}'s tip"
                )
        config = policy_at(git, trusted or local_sha)
        if not remote_ref.startswith("refs/heads/") or not config.is_release_branch(remote_ref):
            targets.append(
                Target(
                    remote_ref, local_sha, skip="not a release branch (release_branches): not gated"
                )
            )
            continue
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


class WorkingBase(NamedTuple):
    """What ``check`` of a working tree is judged against, and under whose policy."""

    base: str | None  # bundles present here are released; None: every bundle is a candidate
    policy_rev: str | None  # the commit whose policy applies; None: the working tree's own
    said: str  # which base, for the report's ``base:`` line ("origin/main (1a2b3c…)")


def _upstream(git: Git) -> tuple[str, str] | None:
    """The current branch's upstream when it is a remote-tracking branch: (remote, its
    ``refs/remotes/…`` ref). None on a detached HEAD, without an upstream, or with a local
    branch as upstream (``git branch --track x main``)."""
    branch = git.symbolic("HEAD")
    if branch is None or not branch.startswith("refs/heads/"):
        return None
    remote, _, ref = (
        git.run("for-each-ref", "--format=%(upstream:remotename)%00%(upstream)", "--", branch)
        .strip()
        .partition("\0")
    )
    if not remote or remote == "." or not ref.startswith("refs/remotes/"):
        return None
    return remote, ref


def _remote_name(git: Git) -> tuple[str | None, str]:
    """The remote whose default branch anchors a branch without an upstream: ``origin``,
    else the only remote; or None and why (no remote, or several: which one is unknown)."""
    names = git.run("remote").split()
    if "origin" in names:
        return "origin", ""
    if len(names) == 1:
        return names[0], ""
    return None, "no upstream, no remote" if not names else "no upstream, no remote origin"


def working_base(git: Git, head: str | None) -> WorkingBase:
    """What ``check`` of the working tree compares with, as the push hook would judge this
    branch (:func:`plan`), from the remote-tracking refs alone (no network): what HEAD
    shares with the remote's default branch is released, under that branch's tip's policy
    (:func:`anchor`). The branch's own upstream, when it is not the default branch, vouches
    for nothing (a failed push makes it too); it only names the remote, and is the base
    when that remote has no default branch to anchor to (as ``staged_base`` takes it).
    With neither, every bundle is a candidate under the working tree's policy, as before
    anything was pushed."""
    if head is None:
        return WorkingBase(None, None, "none (no commit yet): every bundle is a candidate")
    upstream = _upstream(git)
    remote, why = (upstream[0], "") if upstream else _remote_name(git)
    if remote is None:
        return WorkingBase(None, None, f"none ({why}): every bundle is a candidate")
    try:
        found = anchor(git, head, heads_from_refs(git, remote), remote)
    except GateError as exc:  # nothing to anchor to: a newcomer's check is not the push
        found, why = None, str(exc)
    else:
        why = f"no remote-tracking branch of {remote} here (git fetch {remote})"
    if found is not None:
        name = f"{remote}/{found.branch}"
        if found.merge_base == found.tip:
            return WorkingBase(found.merge_base, found.tip, f"{name} ({found.tip[:12]})")
        said = (
            f"{found.merge_base[:12]}, where HEAD meets {name} "
            f"({found.tip[:12]}, whose policy applies)"
        )
        return WorkingBase(found.merge_base, found.tip, said)
    tip = git.resolve(upstream[1]) if upstream is not None else None
    if upstream is not None and tip is not None:
        base = git.merge_base(head, tip)
        if base is None:
            raise GateError("HEAD shares no history with its upstream: what is released is unknown")
        name = upstream[1].removeprefix("refs/remotes/")
        said = f"{base[:12]}, where HEAD meets its upstream {name} (under its policy; {why})"
        return WorkingBase(base, base, said)
    return WorkingBase(None, None, f"none ({why}): every bundle is a candidate")
