"""PG2xx: the bundle traces to a reproduced pipeline state in this repository's history."""

from __future__ import annotations

from collections.abc import Iterator

from promote_gate.dvc import DVC_LOCK
from promote_gate.dvc.lock import LockFile
from promote_gate.dvc.project import lock_of
from promote_gate.facts import BundleFacts
from promote_gate.hashing import LEGACY
from promote_gate.rules.base import (
    Finding,
    NotApplicable,
    Outcome,
    Rule,
    Unverified,
    provides,
)
from promote_gate.rules.integrity import listed_files

SOURCE_COMMIT = ("source", "commit")  # where manifest.json names the commit it was made from


def excerpt(facts: BundleFacts) -> LockFile | None:
    """The bundle's lock.yaml, parsed (the collect step parses it; None if it could not)."""
    value = facts.docs["lock"].value
    return value if isinstance(value, LockFile) else None


def _source(facts: BundleFacts) -> dict[str, str]:
    source = facts.manifest_value.get("source")
    return (
        {k: v for k, v in source.items() if isinstance(v, str)} if isinstance(source, dict) else {}
    )


def _no_provenance(facts: BundleFacts) -> Iterator[Outcome]:
    lock = excerpt(facts)
    if lock is None:
        yield NotApplicable("no readable lock.yaml to trace files to (PG202)")
        return
    listings = facts.repo.dir_listings if facts.repo else {}
    for entry in listed_files(facts):
        path, md5, source = entry.get("path"), entry.get("md5"), entry.get("source")
        if not isinstance(path, str) or not isinstance(source, dict) or path not in facts.files:
            continue  # PG102 (missing) or PG105 (unsafe) say what is wrong with it
        where = facts.repo_path(path)
        stage = lock.stages.get(str(source.get("stage")))
        if stage is None:
            yield Finding(where, f"claims stage {source.get('stage')!r}, which is not in lock.yaml")
            continue
        src = str(source.get("path"))
        out = next((o for o in stage.outs if o.path == src or src.startswith(o.path + "/")), None)
        if out is None or out.md5 is None:
            yield Finding(where, f"{src} is not an output of stage {stage.name} in lock.yaml")
            continue
        item = facts.files.get(path)
        if item is not None and item.digest is not None and item.digest.md5 != md5:
            continue  # the bytes are not what the manifest says: PG104's finding
        actual = md5
        legacy_unread = False
        if out.hash_name == LEGACY:  # DVC 2 hashed text with CRLF folded: needs the bytes
            if item is not None and item.digest is not None:
                actual = item.digest.md5_for(out.hash_name)
            else:
                legacy_unread = True
        if out.path == src:
            if out.md5 != actual and legacy_unread:
                yield Unverified(
                    where,
                    f"{src} was recorded with DVC 2's md5-dos2unix; its content is not here",
                    f"dvc pull {where}",
                )
            elif out.md5 != actual:
                yield Finding(
                    where,
                    f"md5 differs from output {src} of stage {stage.name}",
                    out.md5,
                    str(actual),
                )
            continue
        listing = listings.get(out.md5)
        if listing is None:
            why = facts.repo.unavailable.get(out.md5) if facts.repo else None
            yield Unverified(
                where,
                f"the .dir listing of {out.path} ({out.md5}) is {why or 'not in the DVC cache'}",
                provides(facts, out.path, "fetch", why),
            )
            continue
        expected = listing.get(src[len(out.path) + 1 :])
        if expected != actual:
            yield Finding(
                where,
                f"md5 differs from {src} in output {out.path} of stage {stage.name}",
                str(expected),
                str(actual),
            )


def excerpt_gaps(facts: BundleFacts) -> list[tuple[str, str, str]]:
    """(stage, dependency, producing stage) for each stage upstream of the excerpt's that
    it leaves out, per dvc.lock at source.commit; empty when that cannot be told here."""
    lock = excerpt(facts)
    full = facts.repo.source_lock if facts.repo else None
    if lock is None or full is None:
        return []
    return [
        (stage.name, dep.path, hit[0].name)
        for stage in lock.stages.values()
        for dep in stage.deps
        for hit in [full.producer(dep.path)]
        if hit is not None and hit[0].name not in lock.stages
    ]


def _lock_excerpt_invalid(facts: BundleFacts) -> Iterator[Outcome]:
    doc = facts.docs["lock"]
    where = facts.repo_path(doc.name)
    if not doc.present:
        yield Finding(where, "the bundle has no lock excerpt")
        return
    if doc.error:
        yield Finding(where, doc.error)
        return
    lock = excerpt(facts)
    full = facts.repo.source_lock if facts.repo else None
    if lock is None or full is None:
        yield Unverified(
            where,
            "upstream closure not checked: it needs dvc.lock at source.commit"
            + (" (see PG203)" if facts.repo else ", which verify does not have"),
            None if facts.repo else "promote-gate check, in the repository",
        )
        return
    for stage, dep, producer in excerpt_gaps(facts):
        yield Finding(
            where,
            f"stage {stage} depends on {dep}, produced by stage {producer}, "
            "which the excerpt leaves out",
            key=("stages", stage),
        )


def _lock_evidence_mismatch(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    source = _source(facts)
    commit = source.get("commit", "")
    where = facts.repo_path(facts.docs["lock"].name)
    if not repo.source_known:
        yield Finding(
            facts.repo_path("manifest.json"),
            f"source.commit {commit} is not in this repository (shallow clone? fetch it)",
            key=SOURCE_COMMIT,
        )
        return
    if repo.source_lock_error:
        yield Finding(where, f"{DVC_LOCK} at {commit[:12]}: {repo.source_lock_error}")
        return
    if repo.source_lock_sha256 != source.get("dvc_lock_sha256"):
        yield Finding(
            facts.repo_path("manifest.json"),
            f"source.dvc_lock_sha256 does not match {DVC_LOCK} at {commit[:12]}",
            repo.source_lock_sha256,
            source.get("dvc_lock_sha256"),
            key=("source", "dvc_lock_sha256"),
        )
    lock, full = excerpt(facts), repo.source_lock
    if lock is None or full is None:
        return
    for name, stage in lock.stages.items():
        original = full.stages.get(name)
        if original is None:
            yield Finding(
                where, f"stage {name} is not in {DVC_LOCK} at {commit[:12]}", key=("stages", name)
            )
        elif dict(original.raw) != dict(stage.raw):
            yield Finding(
                where,
                f"stage {name} differs from {DVC_LOCK} at {commit[:12]}",
                key=("stages", name),
            )


def _pipeline_stale(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    if repo.status_error:
        raise RuntimeError(repo.status_error)
    lock = excerpt(facts)
    if lock is None or repo.status is None:
        return
    for name in lock.stages:
        status = repo.status.get(name)
        if status is None:
            continue
        where, key = lock_entry(name)
        for change in status.changes:
            text = f"stage {name}: {change} (at {repo.checked})"
            yield Finding(where, text, key=key, values=status.values.get(change))
        for reason in status.unverified:
            yield Unverified(where, f"stage {name}: {reason}", key=key)


def lock_entry(stage: str) -> tuple[str, tuple[str, ...]]:
    """The dvc.lock recording ``stage`` and its key there: ``sub/dvc.yaml:train`` is
    ``train`` in ``sub/dvc.lock``, as DVC addresses and records it."""
    dvcfile, _, name = stage.rpartition(":")
    return (lock_of(dvcfile) if dvcfile else DVC_LOCK), ("stages", name)


def _unexplained_output(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    comparison = repo.comparison
    if comparison is None:
        yield NotApplicable(repo.comparison_note or "no baseline to compare with")
        return
    where = facts.repo_path(facts.docs["lock"].name)
    for stage, outs in comparison.unexplained:
        yield Finding(
            where,
            f"stage {stage}: {', '.join(outs)} changed since {comparison.baseline.label} while its "
            "command, dependencies and params did not: the outputs were not reproduced from "
            "what dvc.lock records (dvc commit -f, an edited dvc.lock, or a forced re-run)",
            key=("stages", stage),
        )


def _source_not_in_history(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    commit = _source(facts).get("commit", "")
    if not repo.source_known:
        yield Finding(
            facts.repo_path("manifest.json"),
            f"source.commit {commit} is not in this repository",
            key=SOURCE_COMMIT,
        )
    elif not repo.source_is_ancestor:
        yield Finding(
            facts.repo_path("manifest.json"),
            f"source.commit {commit[:12]} is not an ancestor of the {repo.checked}",
            key=SOURCE_COMMIT,
        )


RULES = (
    Rule(
        code="PG201",
        name="no-provenance",
        summary="a promoted file does not trace to a stage output with the same md5 in lock.yaml",
        rationale="A file that no recorded pipeline run produced cannot be explained or reproduced.",
        fix="Promote only outputs of a reproduced pipeline: `dvc repro`, commit, then "
        "`promote-gate promote`.",
        example="model.pkl in the bundle has md5 abc…, while lock.yaml's train stage recorded def….",
        check=_no_provenance,
    ),
    Rule(
        code="PG202",
        name="lock-excerpt-invalid",
        summary="lock.yaml is missing, unparsable, or leaves out a stage upstream of the promoted ones",
        rationale="The lock excerpt is the evidence of how the release was made; a partial one "
        "hides inputs a reviewer needs to see.",
        fix="Re-create the bundle with `promote-gate promote`, which copies the stages and their "
        "upstream closure verbatim.",
        example="lock.yaml holds train but not prepare, whose output train depends on.",
        check=_lock_excerpt_invalid,
        needs_repo=False,
    ),
    Rule(
        code="PG203",
        name="lock-evidence-mismatch",
        summary="lock.yaml differs from dvc.lock at source.commit, or that commit or its dvc.lock "
        "checksum is unknown",
        rationale="The evidence in the bundle must be the evidence git recorded, or it proves nothing.",
        fix="Push the source commit, and re-promote rather than editing lock.yaml.",
        example="lock.yaml's train stage lists lr 0.1 while dvc.lock at source.commit says 0.2.",
        check=_lock_evidence_mismatch,
    ),
    Rule(
        code="PG204",
        name="pipeline-stale",
        summary="for a bundle being released, dvc.lock does not match its dvc.yaml, params or "
        "dependencies (dvc status is not clean for the promoted stages), or a stage of its lock "
        "excerpt is no longer in dvc.yaml",
        rationale="The state being released was never reproduced: the recorded outputs do not "
        "follow from the current code, data and params.",
        fix="Run `dvc repro`, commit dvc.lock, and promote a new version from that commit.",
        example="params.yaml sets lr 0.2 but dvc.lock recorded lr 0.1 for train.",
        check=_pipeline_stale,
        candidates_only=True,
        evidence=frozenset({"status"}),
    ),
    Rule(
        code="PG205",
        name="source-not-in-history",
        summary="source.commit is not an ancestor of the checked revision",
        rationale="A release made from a commit outside this branch's history (an experiment "
        "branch, a rebased-away commit) cannot be traced from what is being merged.",
        fix="Merge the source commit into this branch, or promote again from this branch.",
        example="v1 was promoted on a local experiment branch and copied onto main.",
        check=_source_not_in_history,
    ),
    Rule(
        code="PG206",
        name="unexplained-output-change",
        summary="relative to the baseline, a stage's outputs changed while its command, "
        "dependencies and params did not",
        rationale="DVC re-runs a stage only when its command, dependencies or params change; "
        "outputs that moved without a cause were recorded without reproducing them (`dvc commit "
        "-f`, a hand-edited dvc.lock) — the lock no longer explains the release.",
        fix="Reproduce for real (`dvc repro`) and promote again. If a non-deterministic stage was "
        "re-run on purpose (`dvc repro -f`), make the cause visible: a seed or run id as a param.",
        example="train's model.json md5 changed from v1 to v2 with the same data, code and lr.",
        check=_unexplained_output,
        candidates_only=True,
        evidence=frozenset({"comparison"}),
    ),
)
