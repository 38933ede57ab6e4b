"""What the registry, the tagged commit and the policy say about one pushed GTO tag
(``TagFacts``, judged by ``rules/registry.py``). Every read is of git objects: the tag
object, the tagged commit's tree, the remote's branches; nothing of a working tree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
from collections.abc import Callable
from typing import Any

from promote_gate import gto
from promote_gate.config import Config
from promote_gate.dvc.artifacts import declared
from promote_gate.dvc.project import find_dvcfiles
from promote_gate.errors import MAX_DOCUMENT_BYTES, DocumentError, GateError
from promote_gate.facts import TagFacts
from promote_gate.git import Git, is_zero
from promote_gate.gto import TagRef
from promote_gate.repo import CommitView

BUNDLE_ACTIONS = frozenset({"register", "assign"})


def tag_facts(
    git: Git,
    name: str,
    new: TagRef | None,
    old: str,
    registry: tuple[TagRef, ...],
    branches: dict[str, str],
    policy_for: Callable[[str], Config],
    signers: Callable[[], bytes | None],
    message: Callable[[TagRef], str],
) -> TagFacts:
    """The facts of the tag ``name`` a push sets to ``new`` (None: deletes) where the remote
    had ``old``; ``registry``: the remote's GTO tags with the push applied; ``policy_for``:
    a project directory's policy; ``signers``: the allowed-signers file's bytes."""
    parsed = gto.parse_tag(name)
    assert parsed is not None
    directory, _, own = parsed.artifact.rpartition(":")
    config = policy_for(directory)
    reg = config.registry
    facts = TagFacts(
        name,
        parsed.action,
        parsed.artifact,
        stage=parsed.stage,
        version=parsed.version,
        deleted=new is None,
        moved_from=None if is_zero(old) or new is None else old,
        stages=reg.stages,
        ordered=reg.ordered,
        signed_required=reg.signed_tags,
        policy=config.origin,
    )
    if new is None:
        return facts
    malformed = _malformed(new, parsed, directory, registry)
    commit = new.commit
    trailers = gto.trailers(message(new)) if new.kind == "tag" else {}
    signature, detail = _signature(git, new, message, signers) if reg.signed_tags else ("", "")
    facts = dataclasses.replace(
        facts,
        commit=commit,
        malformed=malformed,
        trailers=trailers,
        signature=signature,
        signature_detail=detail,
    )
    if commit is None or parsed.action not in BUNDLE_ACTIONS:
        return facts
    version = parsed.version
    registered = deregistered = False
    if parsed.action == "assign":
        versions = _registered_at(registry, parsed.artifact, commit)
        version = versions[-1] if versions else None
        registered = bool(versions)
    else:
        registered = True
    if version is not None:
        deregistered = any(
            (p := r.parsed) is not None
            and p.artifact == parsed.artifact
            and p.action == "deregister"
            and p.version == version
            for r in registry
        )
    held: dict[str, None] = {}  # in GTO's order: an unassignment withdraws the stage
    for r in registry:
        p = r.parsed
        if r.name == name or r.commit != commit or p is None or p.artifact != parsed.artifact:
            continue
        if p.action == "assign" and p.stage:
            held[p.stage] = None
        elif p.action == "unassign" and p.stage:
            held.pop(p.stage, None)
    assigned = tuple(held)
    patterns = dict(reg.stage_branches).get(parsed.stage or "") if parsed.stage else None
    allowed = [b for b in branches if parsed.stage and reg.branch_allowed(parsed.stage, b) is True]
    holding = tuple(sorted(b for b in allowed if git.is_ancestor(commit, branches[b])))
    facts = dataclasses.replace(
        facts,
        version=version,
        registered=registered,
        deregistered=deregistered,
        assigned_before=assigned,
        branch_patterns=patterns,
        branches=holding,
    )
    return _with_bundle(git, facts, directory, own, config, commit, version)


def _registered_at(registry: tuple[TagRef, ...], artifact: str, commit: str) -> list[str]:
    """The versions of ``artifact`` registered at ``commit``, oldest first."""
    return [
        p.version
        for r in registry
        if r.commit == commit
        and (p := r.parsed) is not None
        and p.artifact == artifact
        and p.action == "register"
        and p.version
    ]


def _malformed(
    new: TagRef, parsed: gto.TagName, directory: str, registry: tuple[TagRef, ...]
) -> tuple[str, ...]:
    """Why GTO and ``dvc artifacts get`` cannot read the tag as the release it looks like."""
    why = []
    if new.kind != "tag":
        why.append(
            f"a lightweight tag (a {new.kind}): GTO, DVC Studio and `dvc artifacts get` see only "
            "annotated tags"
        )
    elif new.renamed:
        why.append(
            f"its tag object names itself {new.header!r}: a tag put under another name, "
            "whose message and signature are of that one"
        )
    elif new.target_kind == "tag":
        why.append("a tag of a tag: GTO reads its version at the inner tag object, not a commit")
    elif new.target_kind != "commit":
        why.append(f"it tags a {new.target_kind}, not a commit")
    if parsed.action == "":
        why.append("`@created` is no GTO action, and an annotated one breaks every GTO read")
    parts = directory.split("/") if directory else []
    if any(not p or p.startswith((".", "-")) for p in parts):
        why.append(
            f"the artifact's directory {directory!r} is no path GTO and DVC resolve inside "
            "the repository"
        )
    if parsed.action == "register" and new.commit is not None:
        others = [
            (r.name, r.commit)
            for r in registry
            if r.name != new.name
            and (p := r.parsed) is not None
            and p.artifact == parsed.artifact
            and p.action == "register"
            and (r.commit == new.commit or p.version == parsed.version)
        ]
        for other, at in others:
            if at == new.commit:
                why.append(
                    f"{other} already registers a version at this commit: GTO allows one "
                    "version per commit"
                )
            else:
                why.append(f"{other} already registers {parsed.version} at {str(at)[:12]}")
    return tuple(why)


def _signature(
    git: Git, new: TagRef, message: Callable[[TagRef], str], signers: Callable[[], bytes | None]
) -> tuple[str, str]:
    """Whether the tag is signed by a key of the policy's allowed signers: ("unsigned" |
    "trusted" | "untrusted", git's verdict)."""
    text = message(new) if new.kind == "tag" else ""
    if "-----BEGIN " not in text:
        return "unsigned", "the tag carries no signature"
    if "-----BEGIN SSH SIGNATURE-----" not in text:
        return "untrusted", (
            "signed with GPG or X.509: only SSH signatures, checked against the policy's "
            "allowed-signers file, are trusted"
        )
    allowed = signers()
    if allowed is None:
        raise GateError("registry.allowed_signers is missing at the policy's revision")
    trusted, said = git.verify_tag(new.object, allowed)
    return ("trusted" if trusted else "untrusted"), said


def _with_bundle(
    git: Git,
    facts: TagFacts,
    directory: str,
    own: str,
    config: Config,
    commit: str,
    version: str | None,
) -> TagFacts:
    """The bundle the version stands for at the commit, and the artifact DVC resolves."""
    lead = directory + "/" if directory else ""
    changes: dict[str, Any] = {}
    if not git.has_file(commit, f"{lead}.dvc/config"):
        where = f"{directory}/" if directory else "the repository's top"
        changes["bundle_problem"] = (
            f"{where} is no DVC project at {commit[:12]}: the artifact {facts.artifact} names "
            "no promote-gate bundle"
        )
        return dataclasses.replace(facts, **changes)
    number = gto.bundle_number(version, config.version_number) if version else None
    if version is not None and number is None:
        changes["bundle_problem"] = (
            f"version {version} names no bundle: bundle vN is GTO version vN.0.0 "
            f"(or the bundle's own name, with version_pattern {config.version_pattern!r})"
        )
    view = CommitView(git.project(directory), commit)
    if number is not None:
        bundle = f"{config.publish_root}/{config.version_name(number)}"
        changes["bundle"] = lead + bundle
        manifest = view.read(f"{bundle}/manifest.json")
        if not view.files_under(bundle):
            changes["bundle_problem"] = f"there is no {lead}{bundle} at {commit[:12]}"
        elif manifest is not None:
            changes["manifest_sha256"] = hashlib.sha256(manifest).hexdigest()
    try:
        found = [a for a in declared(view.read, find_dvcfiles(view)) if a.name == own]
    except DocumentError as exc:
        found = []
        changes["artifact_path"] = f"unreadable ({exc})"
    changes["artifact_file"] = lead + "dvc.yaml"
    if found:
        changes["artifact_path"] = str(found[-1].path)
        resolved = found[-1].resolved
        changes["artifact_resolved"] = (
            posixpath.normpath(lead + resolved) if resolved is not None else None
        )
    return dataclasses.replace(facts, **changes)


def allowed_signers(git: Git, rev: str, path: str) -> bytes | None:
    """The allowed-signers file at the policy's revision (git objects, bounded)."""
    return git.read_at(rev, path, MAX_DOCUMENT_BYTES)
