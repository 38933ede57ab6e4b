"""What a pushed GTO tag is judged against, and under whose policy.

A GTO tag (``model@v1.0.0``, ``model#prod#3``) is what deployments follow, so a tag push is
a release event: the tagged commit's bundle is judged as a push of that commit to a branch
that is not the default one would be (against what it shares with the remote's default
branch, under the policy of that branch's tip: a tag cannot bring its own policy), and the
tag itself against the registry as the remote has it (``registry``: the remote's GTO tags,
with this push's applied). Names that are not GTO tags are not gated.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from promote_gate import gto
from promote_gate.context.bases import RemoteHeads, default_branch, remote_heads
from promote_gate.errors import MAX_DOCUMENT_BYTES, GateError
from promote_gate.git import ZERO_SHA, Git, is_zero
from promote_gate.gto import TagRef

TAGS = "refs/tags/"
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256
# GitHub creates no push event for more than three tags pushed at once
GITHUB_TAG_LIMIT = 3


class TagEvent(NamedTuple):
    """One tag a push (or a CI run) creates, moves or deletes."""

    name: str
    new: TagRef | None  # None: deleted
    old: str  # what the remote had (the zero id: nothing)


class TagPlan(NamedTuple):
    """The GTO tags of one push and what they are judged against."""

    events: tuple[TagEvent, ...]
    registry: tuple[TagRef, ...]  # the remote's GTO tags with this push's applied
    policy_rev: str | None  # the default branch's tip; None: nothing on the remote yet
    branches: dict[str, str]  # the remote's branches (name -> tip) this clone has
    skipped: tuple[tuple[str, str], ...] = ()  # (tag, why it is not gated)
    note: str | None = None


_FORMAT = (
    "%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)%00%(*objecttype)%00"
    "%(taggerdate:unix)%00%(tag)"
)
_FIELDS = _FORMAT.count("%00")


def _tag_ref(name: str, fields: list[str]) -> TagRef:
    obj, kind, target, target_kind, time, header = fields
    return TagRef(
        name,
        obj,
        kind,
        target or None,
        target_kind or None,
        int(time) if time.strip().lstrip("-").isdigit() else None,
        header if kind == "tag" else None,
    )


def local_tags(git: Git) -> dict[str, TagRef]:
    """Every tag of the clone that GTO's grammar reads, in one ``for-each-ref``."""
    found = {}
    for line in git.run("for-each-ref", f"--format={_FORMAT}", TAGS).splitlines():
        ref, *fields = line.split("\0")
        name = ref[len(TAGS) :]
        if len(fields) == _FIELDS and gto.parse_tag(name) is not None:
            found[name] = _tag_ref(name, fields)
    return found


def describe(git: Git, name: str, oid: str) -> TagRef:
    """The object ``oid`` a push gives the tag ``name``, read from this clone's objects."""
    if not OBJECT_ID.fullmatch(oid):  # a pre-push line is input: an id, never an option
        raise GateError(f"{oid[:80]!r} is no object id (the pushed tag {name})")
    kind = git.run("cat-file", "-t", oid).strip()
    if kind != "tag":
        return TagRef(name, oid, kind)
    target = target_kind = header = None
    time = None
    for line in _tag_text(git, oid).split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(" ")
        if key == "object":
            target = value
        elif key == "type":
            target_kind = value
        elif key == "tag":
            header = value
        elif key == "tagger":
            stamp = value.rsplit(" ", 2)
            time = int(stamp[-2]) if len(stamp) == 3 and stamp[-2].isdigit() else None
    return TagRef(name, oid, kind, target, target_kind, time, header)


def message(git: Git, ref: TagRef) -> str:
    """An annotated tag's message (its signature, if any, included), "" for a lightweight."""
    if ref.kind != "tag":
        return ""
    text = _tag_text(git, ref.object)
    return text.split("\n\n", 1)[1] if "\n\n" in text else ""


def _tag_text(git: Git, oid: str) -> str:
    """A tag object's text, read up to the document bound (a pushed tag is hostile input)."""
    data = git.cat_if_exists(oid, MAX_DOCUMENT_BYTES)
    if data is None:
        raise GateError(f"git cannot read the tag object {oid}")
    return data.decode("utf-8", "replace")


def is_gto(ref: str) -> bool:
    """Whether a pushed ref is a GTO tag (the gate judges it) — the one test of the hook's
    quick path."""
    return ref.startswith(TAGS) and gto.parse_tag(ref[len(TAGS) :]) is not None


def remote_tags(git: Git, remote: str) -> dict[str, str]:
    """The remote's GTO tags (name -> the id its ref points at), as ``git ls-remote`` says."""
    listing = git.run("ls-remote", "--tags", "--refs", "--", remote)
    found = {}
    for line in listing.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith(TAGS) and gto.parse_tag(ref[len(TAGS) :]) is not None:
            found[ref[len(TAGS) :]] = sha
    return found


def _anchor_tip(heads: RemoteHeads, remote: str) -> str | None:
    branch = default_branch(heads)
    if branch in heads.missing:
        raise GateError(
            f"{remote}'s {branch} is at a commit this clone does not have: fetch first "
            "(its policy governs tags)"
        )
    if branch is None:
        if heads.tips or heads.missing:
            raise GateError(
                f"{remote} has no default branch (main, master) to take the policy from: "
                "push the default branch first"
            )
        return None
    return heads.tips[branch]


def plan_push(git: Git, lines: list[str], remote: str) -> TagPlan:
    """The GTO tags among a pre-push hook's lines, against the remote's registry, under the
    policy of the remote's default branch's tip."""
    heads = remote_heads(git, remote)
    has = remote_tags(git, remote)
    events: list[TagEvent] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or not is_gto(parts[2]):
            continue
        _local, sha, ref, _old = parts
        name = ref[len(TAGS) :]
        # what the remote has at the tag, as it says now (the pre-commit framework passes
        # no remote sha for a tag; git's line may be stale)
        new = None if is_zero(sha) else describe(git, name, sha)
        events.append(TagEvent(name, new, has.get(name, ZERO_SHA)))
    artifacts = {p.artifact for e in events if (p := gto.parse_tag(e.name)) is not None}
    registry: dict[str, TagRef] = {}
    here = local_tags(git) if artifacts else {}  # one for-each-ref for the tags both have
    for name, sha in has.items():
        parsed = gto.parse_tag(name)
        if parsed is None or parsed.artifact not in artifacts:
            continue
        if name in here and here[name].object == sha:
            registry[name] = here[name]
            continue
        if not git.ok("cat-file", "-e", sha):
            raise GateError(
                f"{remote} has the tag {name} at {sha[:12]}, which this clone does not have: "
                f"`git fetch {remote} --tags` first (the registry it is judged against)"
            )
        registry[name] = describe(git, name, sha)
    return _plan(events, registry, heads, remote)


def _plan(
    events: list[TagEvent],
    registry: dict[str, TagRef],
    heads: RemoteHeads,
    remote: str,
) -> TagPlan:
    return tags_plan(events, registry, heads, _anchor_tip(heads, remote), remote)


def tags_plan(
    events: list[TagEvent],
    registry: dict[str, TagRef],
    heads: RemoteHeads,
    tip: str | None,
    remote: str,
) -> TagPlan:
    """The plan of ``events`` against ``registry`` with them applied, under ``tip``'s policy."""
    for event in events:
        if event.new is None:
            registry.pop(event.name, None)
        else:
            registry[event.name] = event.new
    note = None if tip else f"nothing on {remote} yet: the tagged commit's own policy applies"
    ordered = sorted(registry.values(), key=lambda r: (r.time or 0, r.name))
    return TagPlan(tuple(events), tuple(ordered), tip, dict(heads.tips), note=note)


def plan_local(git: Git, names: list[str], remote: str) -> TagPlan:
    """Tags of this clone judged as if pushed (``check --rev TAG``, CI's tag runs, ``tag``,
    ``registry``): against the clone's own GTO tags — in CI, what it fetched from the
    remote — under the policy of the remote's default branch as its remote-tracking refs
    have it (asked of the remote when there are none)."""
    from promote_gate.context.bases import heads_from_refs

    tags = local_tags(git)
    events = []
    for name in names:
        if name not in tags:
            sha = git.run("for-each-ref", "--format=%(objectname)", TAGS + name).strip()
            if not sha:
                raise GateError(f"there is no tag {name!r} here")
            tags[name] = describe(git, name, sha)
        events.append(TagEvent(name, tags[name], ZERO_SHA))
    heads = heads_from_refs(git, remote)
    if heads.default is None and not heads.tips:
        heads = remote_heads(git, remote)
    return _plan(events, tags, heads, remote)
