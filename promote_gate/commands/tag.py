"""``promote-gate tag VERSION [--stage STAGE] [--sign] [--push REMOTE]``: register a bundle
as a GTO version, and assign it a stage, with GTO's own tags — only when the gate passes.

The version's commit is the oldest on HEAD's first-parent history where the bundle exists
and dvc.yaml's ``artifacts.NAME.path`` points at it (what ``dvc artifacts get --rev``
reads), or ``--rev``; an existing registration keeps its commit. The tags are annotated
(GTO reads no other), named as GTO names them (``NAME@vN.0.0``; ``NAME#STAGE#K`` with GTO's
counter), with ``Promote-Gate-Bundle``/``Promote-Gate-Manifest-SHA256`` trailers that pin
the content, not just a commit. They are created, judged exactly as their push would be,
and deleted again if the gate refuses them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable

from promote_gate import gto
from promote_gate.context.policy import load_policy, project_of
from promote_gate.dvc.artifacts import declared
from promote_gate.errors import EXIT_OK, DocumentError, RefusedError, UsageError
from promote_gate.git import ZERO_SHA, Git
from promote_gate.repo import CommitView, WorktreeView

SEARCHED = 2000  # first-parent commits that changed the bundle or dvc.yaml, at most


MAX_WAIT_SECONDS = 2
"""How far ahead of this clock the artifact's newest tag may be for ``tag`` to wait for the
clock to pass it rather than date its tags after it."""


def _holds(git: Git, commit: str, bundle: str, own: str) -> bool:
    """Whether ``commit`` has the bundle and dvc.yaml's artifact ``own`` points at it."""
    view = CommitView(git, commit)
    if view.read(f"{bundle}/manifest.json") is None:
        return False
    try:
        found = [a for a in declared(view.read, ["dvc.yaml"]) if a.name == own]
    except DocumentError:  # an unreadable dvc.yaml points at nothing
        return False
    return bool(found) and found[-1].resolved == bundle


def version_commit(git: Git, bundle: str, own: str, rev: str | None) -> str:
    """The commit to register the bundle at (see the module's docstring)."""
    if rev is not None:
        commit = git.resolve(rev)
        if commit is None:
            raise UsageError(f"--rev {rev}: no such commit")
        if not _holds(git, commit, bundle, own):
            raise RefusedError(
                f"{commit[:12]} does not hold {git.prefix}{bundle} with dvc.yaml's "
                f"artifacts.{own}.path pointing at it"
            )
        return commit
    listed = git.run(
        "rev-list",
        "--first-parent",
        "--reverse",
        "HEAD",
        "--",
        git.path(bundle),
        git.path("dvc.yaml"),
    ).split()
    for commit in listed[:SEARCHED]:
        if _holds(git, commit, bundle, own):
            return commit
    raise RefusedError(
        f"no commit of HEAD's history holds {git.prefix}{bundle} with dvc.yaml's "
        f"artifacts.{own}.path pointing at it: `promote-gate promote --artifact {own}` "
        "points the artifact at each new bundle; commit it"
    )


def _message(subject: str, bundle: str, manifest: bytes) -> bytes:
    return (
        f"{subject}\n\n{gto.BUNDLE_TRAILER}: {bundle}\n"
        f"{gto.MANIFEST_TRAILER}: {hashlib.sha256(manifest).hexdigest()}\n"
    ).encode()


def run(args: argparse.Namespace) -> int:
    from promote_gate.context.tags import local_tags, remote_tags

    top = Git.open(args.repo)
    directory = project_of(top, args.repo, args.project) or ""
    git = top.project(directory)
    config = load_policy(
        WorktreeView(git.root), WorktreeView(top.root), directory, args.config, False
    )
    own = args.artifact or config.registry.artifact
    if not own:
        raise UsageError("which artifact? pass --artifact NAME or set registry.artifact")
    if not gto.NAME.fullmatch(own) or (args.stage and not gto.NAME.fullmatch(args.stage)):
        raise UsageError("artifact and stage names are letters, digits, -, _ and / (GTO's)")
    number = config.version_number(args.version)
    if number is None:
        raise UsageError(f"{args.version!r} is no bundle version ({config.version_pattern!r})")
    artifact = f"{directory}:{own}" if directory else own
    in_tag = gto.artifact_tag_name(artifact)
    version = gto.gto_version(args.version, number)
    bundle = f"{config.publish_root}/{args.version}"
    registration = f"{in_tag}@{version}"
    unpushed: list[str] = []  # a registration made here before, which the push must carry
    if args.push:  # the remote's tags: GTO's counter and the registry are the remote's
        top.run("fetch", "--quiet", "--tags", "--", args.push)
    tags = local_tags(top)
    if args.push and registration in tags and registration not in remote_tags(top, args.push):
        unpushed.append(registration)
    created: list[str] = []
    newest = max(
        (t.time or 0 for t in tags.values() if t.parsed and t.parsed.artifact == artifact),
        default=0,
    )
    if registration in tags:
        commit = tags[registration].commit
        if commit is None:
            raise RefusedError(f"{registration} exists but tags no commit: GTO cannot read it")
    else:
        commit = version_commit(git, bundle, own, args.rev)
    manifest = git.read_at(commit, f"{bundle}/manifest.json") or b""
    shown = f"{directory}/{bundle}" if directory else bundle
    wanted = []
    if registration not in tags:
        subject = f"Register {artifact} {version}: promote-gate bundle {shown}"
        wanted.append((registration, subject))
    if args.stage:
        counter = gto.next_counter(list(tags), artifact)
        subject = f"Assign stage {args.stage} to {artifact} {version}: promote-gate bundle {shown}"
        wanted.append((f"{in_tag}#{args.stage}#{counter}", subject))
    if not wanted and not unpushed:
        print(f"{registration} already registers {shown}: nothing to tag")
        top.close()
        return EXIT_OK
    try:
        created = _create(top, wanted, commit, newest, args.sign, _message_for(shown, manifest))
        worst = _judge(top, unpushed + created, args.push)
    except BaseException:
        _delete(top, created)
        top.close()
        raise
    if worst:
        _delete(top, created)
        top.close()
        refused = ", ".join(unpushed + created)
        raise RefusedError(f"the gate refuses {refused}: no tag was created or pushed")
    for name in created:
        print(f"Created {name} ({commit[:12]}, {shown})")
    refs = [f"refs/tags/{n}" for n in unpushed + created]
    try:
        if args.push:
            top.run("push", "--quiet", "--", args.push, *refs)
            print(f"Pushed to {args.push}")
        else:
            print(f"Push them: git push origin {' '.join(refs)}")
    finally:
        top.close()
    return EXIT_OK


def _message_for(bundle: str, manifest: bytes) -> Callable[[str], bytes]:
    def message(subject: str) -> bytes:
        return _message(subject, bundle, manifest)

    return message


def _create(
    top: Git,
    wanted: list[tuple[str, str]],
    commit: str,
    newest: int,
    sign: bool,
    message: Callable[[str], bytes],
) -> list[str]:
    """The annotated (``sign``: signed) tags, each in a later second than ``newest`` (the
    artifact's newest tag) and than the one before: GTO orders events by the tagger's
    second, so they are read in the order made. The clock's next second is waited for; a
    tag dated further ahead (another machine's clock) is followed by the second after it,
    said on stderr — waiting for it could take years. On a failure those made are deleted."""
    created: list[str] = []
    try:
        for name, subject in wanted:
            ahead = newest - int(time.time())
            if ahead > MAX_WAIT_SECONDS:
                if not created:
                    sys.stderr.write(
                        f"warning: the artifact's newest tag is dated {ahead} s ahead of this "
                        "clock: the new tags are dated after it, for GTO to read them as newest\n"
                    )
                newest += 1
            else:
                while int(time.time()) <= newest:  # the clock's next second
                    time.sleep(0.05)
                newest = int(time.time())
            date = {"GIT_COMMITTER_DATE": f"@{newest} +0000"}
            flag = "-s" if sign else "-a"
            top.run("tag", flag, "-F", "-", "--", name, commit, input_=message(subject), env=date)
            created.append(name)
    except BaseException:
        _delete(top, created)
        raise
    return created


def _judge(top: Git, names: list[str], remote: str | None) -> int:
    """The new tags judged as their push would be (``remote``: against its registry)."""
    from promote_gate.context.tags import local_tags, plan_local, plan_push
    from promote_gate.gate import judge_tag_event
    from promote_gate.reporters import text

    if remote:
        tags = local_tags(top)
        lines = [f"refs/tags/{n} {tags[n].object} refs/tags/{n} {ZERO_SHA}" for n in names]
        plan = plan_push(top, lines, remote)
    else:
        plan = plan_local(top, names, "origin")
    worst = EXIT_OK
    for event in plan.events:
        report = judge_tag_event(top.root, plan, event)
        if report.exit_code:
            sys.stderr.write(text.render(report, colour=text.use_colour(sys.stderr)))
        worst = max(worst, report.exit_code)
    return worst


def _delete(top: Git, names: list[str]) -> None:
    for name in names:
        top.ok("tag", "-d", "--", name)
