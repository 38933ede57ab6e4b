"""PG7xx: the model registry — a pushed GTO tag (``model@v3.0.0``, ``model#prod#4``) must
release a bundle that passes, the way the policy of the default branch allows.

These rules judge a tag (``TagFacts``); the bundle it releases is judged beside them, at
the tagged commit, by every other rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from promote_gate import gto
from promote_gate.facts import TagFacts
from promote_gate.rules.base import Finding, NotApplicable, Outcome, Rule


def _shown(facts: TagFacts) -> str:
    """Where a tag's finding is shown: the bundle it releases, else the tag's ref."""
    return facts.bundle or f"refs/tags/{facts.name}"


def _bundle_missing(facts: TagFacts) -> Iterator[Outcome]:
    if not facts.releases or facts.commit is None:
        yield NotApplicable("the tag releases no version")
        return
    if facts.action == "assign" and not facts.registered:
        yield NotApplicable("no version is registered at the commit (see PG704)")
        return
    if facts.bundle_problem:
        yield Finding(
            _shown(facts),
            f"{facts.name} releases {facts.version or 'a version'} at {facts.commit[:12]}, "
            f"but {facts.bundle_problem}",
        )


def _bundle_mismatch(facts: TagFacts) -> Iterator[Outcome]:
    said_bundle = facts.trailers.get(gto.BUNDLE_TRAILER)
    said_manifest = facts.trailers.get(gto.MANIFEST_TRAILER)
    if not facts.releases or facts.bundle is None or facts.bundle_problem:
        yield NotApplicable("no bundle to compare the tag with")
        return
    if said_bundle is None and said_manifest is None:
        yield NotApplicable("the tag's message pins no bundle (no Promote-Gate trailers)")
        return
    if said_bundle is not None and said_bundle != facts.bundle:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"the tag's {gto.BUNDLE_TRAILER} trailer names another bundle than its version's",
            expected=facts.bundle,
            found=said_bundle,
        )
    if said_manifest is not None and said_manifest != facts.manifest_sha256:
        yield Finding(
            f"{facts.bundle}/manifest.json",
            f"the tag's {gto.MANIFEST_TRAILER} trailer is not the sha256 of the bundle's "
            f"manifest at {str(facts.commit)[:12]}: the tag pins other content",
            expected=said_manifest,
            found=facts.manifest_sha256 or "no manifest.json",
        )


def _artifact_path(facts: TagFacts) -> Iterator[Outcome]:
    if not facts.releases or facts.bundle is None or facts.bundle_problem:
        yield NotApplicable("no bundle to point the artifact at")
        return
    own = facts.artifact.rpartition(":")[2]
    if facts.artifact_path is None:
        yield Finding(
            facts.artifact_file,
            f"{facts.artifact_file} at {str(facts.commit)[:12]} declares no artifact {own}: "
            f"`dvc artifacts get` cannot resolve {facts.name}",
            expected=f"artifacts: {own}: path: {facts.bundle.rpartition('/')[2]} bundle",
            found="no entry",
        )
    elif facts.artifact_resolved != facts.bundle:
        yield Finding(
            facts.artifact_file,
            f"artifacts.{own}.path at {str(facts.commit)[:12]} is not the bundle the tag "
            f"releases: `dvc artifacts get … --rev {facts.version}` would hand out "
            f"{facts.artifact_path}",
            expected=facts.bundle,
            found=facts.artifact_path,
        )


def _unregistered(facts: TagFacts) -> Iterator[Outcome]:
    if facts.action != "assign" or facts.deleted or facts.commit is None:
        yield NotApplicable("not a stage assignment")
        return
    if not facts.registered:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"{facts.name} assigns stage {facts.stage} at {facts.commit[:12]}, where no "
            f"version of {facts.artifact} is registered (GTO would invent one from the commit)",
        )
    elif facts.deregistered:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"{facts.name} assigns stage {facts.stage} to {facts.version}, which is deregistered",
        )


def _stage_unknown(facts: TagFacts) -> Iterator[Outcome]:
    if facts.action != "assign" or facts.deleted or not facts.stages:
        yield NotApplicable("not an assignment, or the policy lists no stages")
        return
    if facts.stage not in facts.stages:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"stage {facts.stage} is not one of the policy's stages ({facts.policy})",
            expected=", ".join(facts.stages),
            found=str(facts.stage),
        )


def _stage_skipped(facts: TagFacts) -> Iterator[Outcome]:
    if facts.action != "assign" or facts.deleted or not facts.ordered:
        yield NotApplicable("not an assignment, or the policy's stages are not ordered")
        return
    if facts.stage not in facts.stages:
        yield NotApplicable("not one of the policy's stages (see PG705)")
        return
    if not facts.registered:
        yield NotApplicable("no version is registered at the commit (see PG704)")
        return
    earlier = facts.stages[: facts.stages.index(str(facts.stage))]
    missing = [s for s in earlier if s not in facts.assigned_before]
    if missing:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"{facts.version or facts.name} goes to {facts.stage} without holding "
            f"{', '.join(missing)} first (registry.ordered, {facts.policy})",
            expected=" → ".join(facts.stages),
            found=", ".join(facts.assigned_before) or "no earlier stage",
        )


def _stage_branch(facts: TagFacts) -> Iterator[Outcome]:
    if facts.action != "assign" or facts.deleted or facts.branch_patterns is None:
        yield NotApplicable("not an assignment, or the stage may come from any branch")
        return
    if not facts.branches:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"{str(facts.commit)[:12]} is on none of the branches stage {facts.stage} may "
            f"come from, as the remote has them (registry.stage_branches, {facts.policy})",
            expected=", ".join(facts.branch_patterns),
            found="no such branch holds the commit",
        )


def _unsigned(facts: TagFacts) -> Iterator[Outcome]:
    if not facts.signed_required or facts.deleted:
        yield NotApplicable("the policy does not require signed tags")
        return
    if facts.signature == "unsigned":
        yield Finding(
            f"refs/tags/{facts.name}",
            f"{facts.name} is not signed, and registry.signed_tags requires it ({facts.policy})",
        )


def _untrusted(facts: TagFacts) -> Iterator[Outcome]:
    if not facts.signed_required or facts.deleted:
        yield NotApplicable("the policy does not require signed tags")
        return
    if facts.signature == "untrusted":
        yield Finding(
            f"refs/tags/{facts.name}",
            f"{facts.name}'s signature is not by a key of the policy's allowed signers: "
            f"{facts.signature_detail}",
        )


def _rewritten(facts: TagFacts) -> Iterator[Outcome]:
    if facts.deleted:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"the push deletes {facts.name} from the remote: the registry's history is "
            "rewritten under its consumers (GTO records a retraction as a new tag: "
            "`gto deprecate`)",
        )
    elif facts.moved_from is not None:
        yield Finding(
            f"refs/tags/{facts.name}",
            f"the push moves {facts.name}, which the remote has at {facts.moved_from[:12]}: "
            "a released tag is never rewritten",
            expected=facts.moved_from,
        )


def _malformed(facts: TagFacts) -> Iterator[Outcome]:
    for why in facts.malformed:
        yield Finding(f"refs/tags/{facts.name}", f"{facts.name}: {why}")


def _rule(
    code: str, name: str, summary: str, rationale: str, fix: str, example: str, check: Any
) -> Rule:
    return Rule(code, name, summary, rationale, fix, example, check, subject="tag")


RULES = (
    _rule(
        "PG701",
        "tag-bundle-missing",
        "a GTO registration or stage assignment releases a version with no bundle at the "
        "tagged commit",
        "Deployments follow GTO tags: a version that is not a bundle was never judged, so "
        "nothing vouches for what `dvc artifacts get` hands out.",
        "Tag the commit that holds publish/vN as version vN.0.0: `promote-gate tag vN`.",
        "`model@v3.0.0` on a commit without publish/v3, or `model@v1.2.0` (no bundle v1.2).",
        _bundle_missing,
    ),
    _rule(
        "PG702",
        "tag-bundle-mismatch",
        "a tag's Promote-Gate-Bundle or Promote-Gate-Manifest-SHA256 trailer differs from "
        "the bundle at the tagged commit",
        "The trailers pin the reviewed content, not just a commit: a difference means the "
        "tag was moved to, or written for, other content than was reviewed.",
        "Delete the local tag and let `promote-gate tag` write it on the commit holding the "
        "reviewed bundle.",
        "The tag says manifest sha256 ab12…, the bundle at the commit has cd34….",
        _bundle_mismatch,
    ),
    _rule(
        "PG703",
        "artifact-path-mismatch",
        "at the tagged commit, dvc.yaml's `artifacts.NAME.path` is missing or is not the "
        "bundle the tag releases",
        "`dvc artifacts get URL NAME --rev vN.0.0` and DVC Studio read the path at the tagged "
        "commit: anything but the bundle hands consumers other files than were released.",
        "`promote-gate promote --artifact NAME` points the artifact at each new bundle; tag "
        "the commit where it points at the version's bundle.",
        "`model@v1.0.0` on a commit whose dvc.yaml says `model: {path: publish/v2}`.",
        _artifact_path,
    ),
    _rule(
        "PG704",
        "stage-version-unregistered",
        "a stage assignment tags a commit with no registered version, or a deregistered one",
        "GTO invents a version from the commit for an unregistered assignment, and still "
        "serves a deregistered version assigned a stage: deployments follow it either way.",
        "Register the version first (`promote-gate tag vN`), then assign the stage.",
        "`model#prod` pushed on a commit that no `model@vX.Y.Z` tag registers.",
        _unregistered,
    ),
    _rule(
        "PG705",
        "stage-unknown",
        "a stage assignment names a stage the policy's registry.stages does not list",
        "A misspelt stage (`prd`) is followed by no deployment, and hides that the version "
        "never reached the one intended.",
        "Assign one of the stages registry.stages lists (or add the stage on the default branch).",
        "registry.stages is [dev, staging, prod]; `model#production#3` is pushed.",
        _stage_unknown,
    ),
    _rule(
        "PG706",
        "stage-skipped",
        "with registry.ordered, a stage assignment skips an earlier stage of registry.stages",
        "An ordered promotion path (dev → staging → prod) is only a contract if prod cannot "
        "be reached without staging (gto#321).",
        "Assign the version the earlier stages first, in order.",
        "`model#prod#2` for a version never assigned staging, or unassigned from it since "
        "(`model#staging!#3`).",
        _stage_skipped,
    ),
    _rule(
        "PG707",
        "stage-branch",
        "a stage assignment tags a commit that no branch registry.stage_branches allows for "
        "that stage holds, as the remote has it",
        "Restricting a stage to commits on main (gto#333) keeps unreviewed branches out of "
        "production however they are tagged.",
        "Merge the change into an allowed branch and tag the commit there.",
        "stage_branches: {prod: [main]}; `model#prod#5` on a feature branch's commit.",
        _stage_branch,
    ),
    _rule(
        "PG708",
        "tag-unsigned",
        "with registry.signed_tags, a GTO tag is not signed",
        "Anyone who can push can tag: a signature says which release manager did.",
        "`promote-gate tag VERSION --sign` (git's own `git tag -s`, with an SSH key from "
        "registry.allowed_signers).",
        "`model#prod#3` created with `git tag -a`.",
        _unsigned,
    ),
    _rule(
        "PG709",
        "tag-signer-untrusted",
        "with registry.signed_tags, a GTO tag's signature does not verify with a key of the "
        "allowed-signers file at the policy's revision",
        "A signature by a key the default branch does not list proves nothing: a change "
        "cannot add its own signer.",
        "Sign with a key registry.allowed_signers lists on the default branch (`git "
        "verify-tag` shows who signed).",
        "`model@v2.0.0` signed with a personal key not in .promote-gate/allowed_signers.",
        _untrusted,
    ),
    _rule(
        "PG710",
        "tag-rewritten",
        "a push deletes or moves a GTO tag the remote has",
        "Consumers pinned a version by its tag: moving or deleting it changes what they get "
        "under the same name, a released version edited in place.",
        "Leave the tag; retract with a new one (`gto deprecate NAME vX.Y.Z`) and release a "
        "new version.",
        "`git push --force origin model@v1.0.0` after re-tagging another commit.",
        _rewritten,
    ),
    _rule(
        "PG711",
        "tag-malformed",
        "a GTO-named tag GTO or `dvc artifacts get` cannot read as the release it looks "
        "like (lightweight, renamed, nested, @created, a second version on one commit, a "
        "version registered twice, a directory outside the repository)",
        "GTO ignores lightweight tags and breaks on some others: a deployment following the "
        "registry would see nothing, or fail, while the tag looks like a release. A tag "
        "object put under another name still carries its own name, message and signature: "
        "a signed `model#staging#2` pushed as `model#prod#3` is no signed prod assignment.",
        "Let `promote-gate tag` (or `gto register`/`gto assign`) write the tag.",
        "`git tag model@v1.0.0` (lightweight), or `model@v2.0.0` on the commit of v1.0.0.",
        _malformed,
    ),
)
