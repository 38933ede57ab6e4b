"""``promote-gate hook pre-commit`` / ``pre-merge-commit`` / ``pre-push``: the hooks as git
runs them.

git runs a pre-commit hook (and a pre-merge-commit hook, before ``git merge`` records a merge
commit) with nothing: the index (``GIT_INDEX_FILE`` when git set one) is judged against the
upstream, as ``check --staged``. git runs a pre-push hook with ``<remote name> <remote url>``
and one stdin line per ref: ``<local ref> <local sha> <remote ref> <remote sha>``. Every ref
is judged, on its committed tree (never the working tree), against what the remote already
has. The pre-commit framework's pre-push stage runs ``hook pre-push`` too, with the first ref
in ``PRE_COMMIT_*`` variables (what the remote has of it is asked of the remote). A commit or
push that touches no bundle is answered from one tree comparison (``diff-tree`` or
``diff-index``, which no configuration can blind) without importing the rule machinery
(``context/bases.py`` decides what each is judged against).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from promote_gate.context.bases import change_touches_gate, plan, remote_has, staged_base
from promote_gate.context.policy import policy_at
from promote_gate.errors import EXIT_OK, UsageError
from promote_gate.git import Git

# the hooks that judge the index: git runs pre-merge-commit, like pre-commit, with no
# arguments, before `git merge` records a merge commit
COMMIT_KINDS = ("pre-commit", "pre-merge-commit")

if TYPE_CHECKING:
    from promote_gate.report import Report


def _judge(
    repo: str,
    *,
    rev: str | None = None,
    staged: bool = False,
    base: str | None,
    policy_rev: str | None,
    ignore: tuple[str, ...] = (),
) -> Report:
    """Every project of the pushed or staged tree, against ``base``, under ``policy_rev``'s
    policy (never the judged tree's own)."""
    full_site()
    from promote_gate.context.checkout import open_checkout
    from promote_gate.gate import Selection, judge_checkout

    checkout = open_checkout(
        repo,
        rev=rev,
        staged=staged,
        base=base,
        policy_from="base",
        policy_rev=policy_rev,
        every_project=True,
    )
    with checkout:
        return judge_checkout(checkout, Selection(ignore=ignore))


def judge_push(repo: str, lines: list[str], remote: str) -> int:
    tag_lines = [line for line in lines if len(line.split()) == 4 and "refs/tags/" in line]
    if tag_lines:  # GTO's grammar only for a push that carries a tag: the quick path skips it
        from promote_gate.context.tags import is_gto

        tag_lines = [line for line in tag_lines if is_gto(line.split()[2])]
        lines = [line for line in lines if line not in tag_lines]
    tagged = judge_tag_push(repo, tag_lines, remote) if tag_lines else EXIT_OK
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
    unreached: dict[str, None] = {}  # why a DVC remote could not be asked (PG505), in order
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
        report = _judge(repo, rev=target.local_sha, base=target.base, policy_rev=target.policy_rev)
        from promote_gate.reporters import text

        print(f"{head}:", file=sys.stderr)
        sys.stderr.write(text.render(report, colour=text.use_colour(sys.stderr)))
        worst = max(worst, report.exit_code)
        unreached.update(dict.fromkeys(remote_unreached(report)))
    if worst:
        print(
            "promote-gate: push refused. Fix the violations above (promote-gate explain CODE "
            "says how), or push to a branch that is not a release branch.",
            file=sys.stderr,
        )
    for reason in unreached:
        _say_unreached(reason)
    return max(worst, tagged)


def judge_tag_push(repo: str, lines: list[str], remote: str) -> int:
    """The GTO tags of a push (``model@v1.0.0``, ``model#prod#3``): each judged with the
    bundle it releases, against the remote's registry, under the default branch's policy."""
    full_site()
    from promote_gate.context.tags import GITHUB_TAG_LIMIT, plan_push
    from promote_gate.gate import judge_tag_event
    from promote_gate.reporters import text

    git = Git.open(repo)
    try:
        tags = plan_push(git, lines, remote)
    finally:
        git.close()
    if len(tags.events) > GITHUB_TAG_LIMIT:
        print(
            f"promote-gate: warning: {len(tags.events)} tags in one push: GitHub runs no "
            f"workflow for a push of more than {GITHUB_TAG_LIMIT} tags, so CI will not judge "
            "them; push them a few at a time",
            file=sys.stderr,
        )
    worst = EXIT_OK
    for event in tags.events:
        sha = event.new.object[:12] if event.new else "deleted"
        print(f"promote-gate: refs/tags/{event.name} ({sha}):", file=sys.stderr)
        report = judge_tag_event(repo, tags, event)
        sys.stderr.write(text.render(report, colour=text.use_colour(sys.stderr)))
        worst = max(worst, report.exit_code)
    if worst:
        print(
            "promote-gate: tag push refused. Fix the violations above (promote-gate explain "
            "CODE says how); `promote-gate tag VERSION` writes tags that pass.",
            file=sys.stderr,
        )
    return worst


def _say_unreached(reason: str) -> None:
    """Why a refused push's DVC remote could not be asked, and what the user can do."""
    from promote_gate.context.checkout import REMOTE_TIMEOUT_ENV  # loaded: the push was judged
    from promote_gate.remote_io import REMOTE_TIMEOUT

    print(
        f"promote-gate: {reason}.\n"
        "promote-gate:   require_pushed: whether the release's data was pushed could not be "
        "checked, and CI, reading the same remote, refuses what it cannot find there.\n"
        "promote-gate:   Make the remote reachable (network, VPN, credentials in "
        ".dvc/config.local) and push again;\n"
        f"promote-gate:   {REMOTE_TIMEOUT_ENV} (seconds of silence, default {REMOTE_TIMEOUT:g}) "
        "sets how long it is waited for;\n"
        "promote-gate:   or, for this one push only, `git push --no-verify` (it skips every "
        "hook; CI still judges the release).",
        file=sys.stderr,
    )


def remote_unreached(report: Report) -> list[str]:
    """Why the DVC remote could not be asked, for each remote a refused bundle's PG505 could
    not check (require_pushed): the push is refused, and the user is told what to do."""
    found = []
    for bundle in report.bundles:
        repo = bundle.facts.repo if bundle.facts is not None else None
        remote = repo.remote if repo is not None else None
        if remote is None or remote.present is not None or remote.name is None:
            continue
        if any(r.rule.code == "PG505" and r.status == "failed" for r in bundle.results):
            found.append(remote.reason or f"DVC remote {remote.name} ({remote.url})")
    return found


# git runs pre-merge-commit before it names the merged commits anywhere (no MERGE_HEAD yet):
# whether source.commit is in the merge commit's history cannot be told until it exists
MERGE_UNKNOWN = ("PG205",)


def judge_commit(repo: str, merge: bool = False) -> int:
    """git's pre-commit hook: judge the index, what this commit records, against what the
    remote already has of the branch (HEAD without an upstream), under that base's policy.
    A commit whose tree differs from the base in nothing the gate reads (one
    ``git diff-index --cached`` against the base: this commit and the unpushed ones before
    it) is answered silently, without loading the rules. With ``merge`` (pre-merge-commit),
    every rule but :data:`MERGE_UNKNOWN`, which the push hook and CI judge on the commit."""
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
    from promote_gate.reporters import text

    report = _judge(
        repo, staged=True, base=base, policy_rev=base, ignore=MERGE_UNKNOWN if merge else ()
    )
    print(f"promote-gate: {note}", file=sys.stderr)
    if merge:
        print(
            f"promote-gate: a merge commit: {', '.join(MERGE_UNKNOWN)} (source.commit in "
            "history) is judged when it is pushed: git names the merged commits only after "
            "this hook",
            file=sys.stderr,
        )
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
    if kind in COMMIT_KINDS:  # a merge commit records the index exactly as a commit does
        return judge_commit(repo, merge=kind == "pre-merge-commit")
    if os.environ.get("PRE_COMMIT") != "1":  # git's own pre-push hook: the refs on stdin
        if lines is None:
            lines = sys.stdin.read().splitlines()
        return judge_push(repo, lines, remote or "origin")
    return judge_framework_push(repo, remote)


def judge_framework_push(repo: str, remote: str | None) -> int:
    """The pre-commit framework's pre-push stage: it read git's stdin itself and passes the
    first ref in the environment (run by hand, ``pre-commit run --hook-stage pre-push``:
    HEAD). What the remote has of the branch is asked of the remote, never taken from
    ``PRE_COMMIT_FROM_REF``: for a branch the remote lacks, the framework names the parent
    of the first commit no remote-tracking ref has, which may be a commit only pushed to an
    ungated branch (it would count as released)."""
    to_ref = (
        os.environ.get("PRE_COMMIT_TO_REF") or os.environ.get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"
    )
    branch = os.environ.get("PRE_COMMIT_REMOTE_BRANCH") or "refs/heads/main"
    remote = os.environ.get("PRE_COMMIT_REMOTE_NAME") or remote or "origin"
    git = Git.open(repo)
    try:
        local = git.resolve(to_ref)
        if branch.startswith("refs/tags/"):  # a tag object is the tag: never peeled here
            local = git.run("rev-parse", "--verify", "--quiet", "--end-of-options", to_ref).strip()
        if not local:
            raise UsageError(f"PRE_COMMIT_TO_REF {to_ref}: no such commit")
        has = remote_has(git, remote, branch)
    finally:
        git.close()
    return judge_push(repo, [f"{to_ref} {local} {branch} {has}"], remote)


def full_site() -> None:
    """Before the rule machinery is imported in a hook started with ``python -S``: the site
    initialisation the quick path skipped (``.pth`` files: editable installs, namespace
    packages), exactly as a normal start would have done it."""
    if sys.flags.no_site and "site" not in sys.modules:  # not already done
        import site

        site.main()
