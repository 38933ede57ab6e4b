"""PG5xx: the release boundary. A released version never changes; a new one is cut instead."""

from __future__ import annotations

from collections.abc import Iterator

from promote_gate.bundle import MANIFEST
from promote_gate.facts import BundleFacts
from promote_gate.rules.base import Finding, NotApplicable, Outcome, Rule, Unverified
from promote_gate.rules.integrity import indexed_files, listed_files
from promote_gate.rules.provenance import excerpt


def _released_version_mutated(facts: BundleFacts) -> Iterator[Outcome]:
    release = facts.release
    if release is None or not release.released:
        return
    if release.removed:
        yield Finding(
            facts.path, f"released bundle {facts.name} was removed (it is in the {release.base})"
        )
        return
    for path in release.changes:
        yield Finding(
            path,
            f"differs from the released {facts.name} in the {release.base}",
            line=release.changed_lines.get(path),
        )
    for change in release.attribute_changes:
        path, _, what = change.partition(": ")
        yield Finding(
            path,
            f"git attributes changed since the released {facts.name} ({what}): consumers "
            "checking it out now get other bytes than were released",
        )


def _version_order(facts: BundleFacts) -> Iterator[Outcome]:
    where = facts.repo_path(MANIFEST)
    if facts.version is None:
        yield Finding(
            facts.path, f"bundle directory {facts.name!r} does not fit the version pattern"
        )
        return
    version = facts.manifest_value.get("version")
    if isinstance(version, str) and version != facts.name:
        yield Finding(
            where,
            "manifest version differs from the directory name",
            facts.name,
            version,
            key=("version",),
        )
    release = facts.release
    released = release.released_versions if release else ()
    if released and facts.version <= max(released):
        yield Finding(
            facts.path,
            f"version {facts.version} does not sort after the newest released version {max(released)}",
        )
    known = {*released, *(release.versions if release else ())}
    if facts.version > 1 and facts.version - 1 not in known:
        yield Finding(facts.path, f"version {facts.version} skips {facts.version - 1}")


def _source_out(facts: BundleFacts, entry: dict[str, object]) -> str | None:
    """The md5 lock.yaml records for the output a promoted file comes from (a file or a .dir)."""
    lock = excerpt(facts)
    source = entry.get("source")
    if lock is None or not isinstance(source, dict):
        return None
    hit = lock.producer(str(source.get("path")))
    return hit[1].md5 if hit else None


def _listing(facts: BundleFacts, path: str) -> tuple[str, ...] | None:
    """Where the manifest lists ``path``: a promoted file's path, or the path it came from."""
    for index, entry in indexed_files(facts):
        source = entry.get("source")
        if entry.get("path") == path:
            return ("files", index, "path")
        if isinstance(source, dict) and source.get("path") == path:
            return ("files", index, "source", "path")
    return None


def _exploratory_leak(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    for path, pattern in repo.exploratory:
        yield Finding(
            facts.repo_path(MANIFEST),
            f"{path} matches the exploratory pattern {pattern!r}",
            key=_listing(facts, path),
        )
    if repo.lineage is None:
        return
    states: dict[str, frozenset[str]] = {}
    for entry in listed_files(facts):
        md5 = _source_out(facts, entry)
        path = facts.repo_path(str(entry.get("path")))
        if md5 is None:
            continue  # PG201 names files that trace to nothing
        commits = repo.lineage.get(md5, frozenset())
        if not commits:
            ref = repo.experiments.get(md5)
            where = (
                f"only in the experiment {ref}" if ref else "in no dvc.lock on the release lineage"
            )
            yield Finding(path, f"its output {md5} is recorded {where}")
            continue
        states[path] = commits
    if len(states) > 1 and not frozenset.intersection(*states.values()):
        yield Finding(
            facts.path,
            "the bundle mixes outputs of different lock states: no single dvc.lock records "
            f"them all ({', '.join(sorted(states))})",
        )


def _internal_path_leak(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    if repo.consumers_error:
        raise RuntimeError(repo.consumers_error)
    for read in repo.consumer_reads:
        yield Finding(
            read.file,
            f"line {read.line} reads the internal path {read.path}; consumers must read the "
            f"release surface: {read.instead}",
            expected=read.instead,
            found=read.path,
            line=read.line,
        )


def _artifact_outside(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    if repo.artifacts_error:
        raise RuntimeError(repo.artifacts_error)
    for leak in repo.artifact_leaks:
        yield Finding(
            leak.file,
            f"artifact {leak.name} points at {leak.path}, outside the publish root: "
            f"`dvc artifacts get` and GTO tags would hand consumers an internal path",
            expected=f"{facts.path.rpartition('/')[0]}/<version>",
            found=leak.path,
            line=leak.line,
        )


def _data_not_pushed(facts: BundleFacts) -> Iterator[Outcome]:
    repo = facts.repo
    assert repo is not None
    remote = repo.remote
    if remote is None:
        yield NotApplicable("require_pushed is off")
        return
    if remote.present is None:
        if remote.name is None:
            yield Finding(".dvc/config", remote.reason or "no default DVC remote")
            return
        reason = remote.reason or f"DVC remote {remote.name} ({remote.url}) could not be read"
        if facts.candidate:
            # require_pushed asks for evidence, not for its absence to be excused: a release
            # whose data cannot be seen in the remote is not known to be pushed (whatever
            # metadata_only says of content), and CI, reading the same remote, refuses it
            yield Finding(
                facts.path,
                f"{reason}: whether this release's data was pushed could not be checked, and "
                "unchecked does not pass (not the same as not pushed: once the remote can be "
                f"reached, run: dvc push -r {remote.name})",
            )
        else:
            yield Unverified(facts.path, reason, f"dvc status -c -r {remote.name}")
        return
    for entry in listed_files(facts):
        md5 = entry.get("md5")
        item = facts.files.get(str(entry.get("path")))
        stored = entry.get("storage") == "dvc" or (item is not None and item.storage == "dvc")
        if stored and isinstance(md5, str) and not remote.present.get(md5):
            path = facts.repo_path(str(entry.get("path")))
            yield Finding(
                path,
                f"no copy of content {md5} that hashes to it in the DVC remote {remote.name} "
                f"({remote.url}): not pushed, consumers cannot dvc pull this release "
                f"(run: dvc push -r {remote.name} {path})",
            )


RULES = (
    Rule(
        code="PG501",
        name="released-version-mutated",
        summary="a bundle present at the base revision differs in any file, pointer or manifest, "
        "or in the git attributes that shape its checkout (.gitattributes), or was removed",
        rationale="Consumers pinned to a released version must get the same bytes forever; an "
        "edit in place silently changes what they depend on.",
        fix="Revert the change to the released bundle and promote a new version instead.",
        example="publish/v1/model.pkl.dvc was updated to a retrained model after v1 was merged.",
        check=_released_version_mutated,
        needs_manifest=False,
        applies_to_removed=True,
    ),
    Rule(
        code="PG502",
        name="version-order",
        summary="a new bundle's version does not sort after every released version, skips a "
        "number, does not fit the version pattern, or differs from its manifest",
        rationale="Versions are how consumers find the newest release and tell releases apart; "
        "gaps and reorderings make both ambiguous.",
        fix="Promote the next free version number (the newest released one plus one).",
        example="v3 is added while the newest released version is v1.",
        check=_version_order,
        needs_manifest=False,
        candidates_only=True,
    ),
    Rule(
        code="PG503",
        name="exploratory-leak",
        summary="a promoted file traces to experiment state (only in refs/exps, or in no dvc.lock "
        "on the release lineage), matches an exploratory glob, or the bundle mixes outputs of "
        "different lock states",
        rationale="Exploratory results were never made baseline state; releasing them, or mixing "
        "them with baseline outputs, gives consumers something nobody can reproduce from the branch.",
        fix="Apply the experiment (`dvc exp apply`), commit it, `dvc repro`, and promote from that "
        "commit; keep scratch outputs out of the release.",
        example="publish/v2/model.json comes from `dvc exp run -S train.lr=0.3`, never committed.",
        check=_exploratory_leak,
        candidates_only=True,
        evidence=frozenset({"lineage"}),
    ),
    Rule(
        code="PG504",
        name="internal-path-leak",
        summary="a consumer (deploy config, serving code, downstream import) reads an internal "
        "pipeline path instead of the publish root",
        rationale="Internal outputs change with every run; a consumer that reads them depends "
        "on unreleased, unreviewed state and breaks when the pipeline moves on.",
        fix="Point the consumer at the bundle path named in the message (publish/<version>/…).",
        example="deploy/serve.yaml says `model: models/model.json` instead of publish/v1/model.json.",
        check=_internal_path_leak,
        evidence=frozenset({"consumers"}),
    ),
    Rule(
        code="PG505",
        name="data-not-pushed",
        summary="with require_pushed, a DVC-tracked promoted file's content is not in the "
        "default DVC remote",
        rationale="A release consumers cannot `dvc pull` or `dvc get` is not a release.",
        fix="`dvc push -r <remote>` the bundle's files to the default remote the policy's "
        "revision configures (`dvc remote add -d` one if there is none); when the remote "
        "could not be reached, make it reachable (network, credentials in "
        ".dvc/config.local) and run the gate again.",
        example="publish/v1/model.json.dvc is committed but `dvc push` was never run.",
        check=_data_not_pushed,
        evidence=frozenset({"remote"}),
    ),
    Rule(
        code="PG506",
        name="artifact-outside-publish",
        summary="a dvc.yaml artifact (what GTO tags and `dvc artifacts get` resolve) points "
        "outside the publish root",
        rationale="`dvc artifacts get NAME --rev vX.Y.Z` and DVC Studio hand consumers whatever "
        "`artifacts.NAME.path` names: an internal pipeline path there is PG504's leak, reached "
        "through the model registry instead of a config file.",
        fix="Point the artifact at a bundle: `promote-gate promote --artifact NAME` writes "
        "`artifacts: NAME: path: publish/<version>`.",
        example="dvc.yaml says `artifacts: {model: {path: models/model.pkl}}`.",
        check=_artifact_outside,
        evidence=frozenset({"artifacts"}),
    ),
)
