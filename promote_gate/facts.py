"""What the collect step hands the rules: frozen records, no I/O behind them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promote_gate.compare import Comparison
from promote_gate.dvc.lock import LockFile
from promote_gate.dvc.pointer import Pointer
from promote_gate.dvc.status import StageStatus
from promote_gate.git import Kind
from promote_gate.hashing import Digest


@dataclass(frozen=True)
class Doc:
    """A document read from the bundle: its parsed value, or why it could not be read."""

    name: str  # bundle-relative
    present: bool
    value: Any = None
    error: str | None = None
    digest: Digest | None = None
    text: str | None = None  # as read (decoded), for locating a finding's line (locate.py)

    @property
    def ok(self) -> bool:
        return self.present and self.error is None


@dataclass(frozen=True)
class FileFacts:
    """One file in the bundle directory (a DVC-tracked file counts once its pointer is there)."""

    relpath: str  # bundle-relative
    kind: Kind
    target: str | None = None  # a symlink's target
    digest: Digest | None = None  # None: content not available here
    in_tree: bool = True  # the file itself is in the view (a git blob or a workspace file)
    pointer: Pointer | None = None  # its ``.dvc`` pointer, when one is next to it
    pointer_error: str | None = None
    pointer_path: str | None = None  # what the pointer says it tracks (outs[0].path)
    pointer_text: str | None = None  # the pointer as read, for locating a finding's line
    missing: str | None = None  # why the content could not be read (DVC-stored, not here)

    @property
    def storage(self) -> str:
        """Where the bytes really are: ``dvc`` when a ``.dvc`` pointer stands for them."""
        return "dvc" if self.pointer is not None or self.pointer_error is not None else "git"


@dataclass(frozen=True)
class ConsumerRead:
    """A consumer file naming an internal pipeline path instead of the release surface."""

    file: str
    line: int
    path: str  # the internal path it names
    instead: str  # the publish path to use


@dataclass(frozen=True)
class ArtifactLeak:
    """A dvc.yaml artifact (what GTO tags and ``dvc artifacts get`` resolve) whose path is
    not inside the publish root."""

    file: str  # the dvc.yaml, project-relative
    line: int | None
    name: str  # as GTO names it
    path: str  # as written


@dataclass(frozen=True)
class Recorded:
    """A metrics file as the promoted state recorded it: its verified bytes, or why not."""

    data: bytes | None
    where: str | None = None  # "git at 1a2b3c…", "the DVC cache", "DVC remote …"
    reason: str | None = None  # why the bytes are not available here
    command: str | None = None  # what provides them
    conflict: str | None = None  # git at source.commit holds other bytes than recorded


@dataclass(frozen=True)
class RemoteFacts:
    """The default DVC remote and which promoted objects it holds."""

    name: str | None
    url: str | None
    present: Mapping[str, bool] | None  # md5 -> a verified copy in the remote; None: not checkable
    reason: str | None = None  # why it is not checkable


@dataclass(frozen=True)
class RepoEvidence:
    """What the repository says about a bundle (absent for ``verify``)."""

    checked: str  # "commit 1a2b3c" or "working tree"
    checked_commit: str | None
    source_known: bool
    source_is_ancestor: bool
    source_lock: LockFile | None
    source_lock_sha256: str | None
    source_lock_error: str | None
    dir_listings: Mapping[str, Mapping[str, str] | None]  # "<md5>.dir" -> relpath -> md5
    # snapshot metrics file -> its recorded bytes (when a selected rule reads "content")
    content: Mapping[str, Recorded] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)  # object md5 -> why not read
    declared_metrics: tuple[str, ...] | None = None  # what dvc.yaml declares at source.commit
    declared_error: str | None = None  # why that could not be read
    status: Mapping[str, StageStatus] | None = None  # set for candidates only
    status_error: str | None = None
    # the checked view's dvc.lock files (project path -> text), where PG204's findings are shown
    lock_texts: Mapping[str, str] = field(default_factory=dict)
    comparison: Comparison | None = None  # with the baseline; candidates only
    comparison_note: str | None = None  # why there is no comparison
    # with the newest released version, where the baseline is itself being released: a
    # chain of new versions must not add up regressions each within the policy
    release_comparison: Comparison | None = None
    lineage: Mapping[str, frozenset[str]] | None = None  # out md5 -> commits recording it
    experiments: Mapping[str, str] = field(default_factory=dict)  # out md5 -> refs/exps/… ref
    exploratory: tuple[tuple[str, str], ...] = ()  # (path, glob) hits
    consumer_reads: tuple[ConsumerRead, ...] = ()  # for the release surface (newest bundle)
    consumers_error: str | None = None  # why the internal paths could not be told
    artifact_leaks: tuple[ArtifactLeak, ...] = ()  # dvc.yaml artifacts outside the publish root
    artifacts_error: str | None = None  # why the artifacts could not be read
    remote: RemoteFacts | None = None  # when require_pushed is on
    ci: bool = False  # CI reads DVC objects from the remote only: `dvc push` provides them


@dataclass(frozen=True)
class ReleaseFacts:
    """The bundle against the base revision: released (present at the base) or a candidate."""

    base: str | None  # "commit 1a2b3c…", or None when nothing is released (no base)
    released: bool
    removed: bool = False  # released, and gone from the checked revision
    changes: tuple[str, ...] = ()  # repository paths that differ from the base
    attribute_changes: tuple[str, ...] = ()  # checkout attributes that differ from the base
    released_versions: tuple[int, ...] = ()  # version numbers present at the base
    versions: tuple[int, ...] = ()  # version numbers present at the checked revision
    # changed text file -> the first line that differs from the base (where PG501 shows it)
    changed_lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SignatureFacts:
    """The bundle's ``bundle.sig`` as read, parsed (``doc.value``: a ``signing.Signed``)
    and checked against the keys the policy (or ``verify --key``) trusts."""

    doc: Doc
    required: bool  # the policy requires a signature, or verify was given keys
    keys: tuple[str, ...]  # the trusted keys' names: none, nothing to check who signed
    signer: str | None = None  # the trusted key that verifies it
    problem: str = ""  # "invalid" or "untrusted" when no trusted key verifies it
    why: str = ""


@dataclass(frozen=True)
class BundleFacts:
    name: str  # "v1"
    path: str  # "publish/v1", or the directory given to verify
    version: int | None
    manifest: Doc
    files: Mapping[str, FileFacts]
    docs: Mapping[str, Doc]  # role ("params", "metrics", "lock", "report", "checksums") -> Doc
    candidate: bool = False  # being released: not present at the base
    repo: RepoEvidence | None = None
    release: ReleaseFacts | None = None
    bookkeeping: frozenset[str] = field(default_factory=frozenset)
    kind: str = "directory"  # what the bundle path is: a directory, or a submodule/symlink/file
    manifest_errors: tuple[str, ...] = ()  # where manifest.json breaks its JSON Schema
    attributes: tuple[tuple[str, str, str], ...] = ()  # (path, attribute, value) changing bytes
    require_metrics: bool = False  # the policy: a bundle without metrics fails PG401
    signature: SignatureFacts | None = None  # collected when a signature rule is selected

    @property
    def manifest_value(self) -> dict[str, Any]:
        value = self.manifest.value
        return value if isinstance(value, dict) else {}

    def repo_path(self, relpath: str) -> str:
        return f"{self.path}/{relpath}" if self.path else relpath

    def shown(self, relpath: str) -> str:
        """The bundle file a reader can open for ``relpath``: a DVC-tracked promoted file that
        is not in the checked tree (a commit has only its pointer) is its ``.dvc`` pointer."""
        item = self.files.get(relpath)
        if item is not None and not item.in_tree and item.pointer is not None:
            return relpath + ".dvc"
        return relpath


@dataclass(frozen=True)
class TagFacts:
    """One GTO tag a push (or CI run) creates, moves or deletes, as the registry, the tagged
    commit and the policy of the default branch's tip say (``evidence/tag.py``). The bundle
    at the commit is judged by the bundle rules beside it."""

    name: str  # the tag's name, without refs/tags/
    action: str  # GTO's: register, deregister, assign, unassign, deprecate; "" for @created
    artifact: str  # GTO's name: "model", "dir:model"
    stage: str | None = None
    version: str | None = None  # the GTO version the tag concerns (an assignment's: registered)
    commit: str | None = None  # the commit GTO reads it as tagging
    deleted: bool = False
    moved_from: str | None = None  # the remote's id of a tag the push moves
    malformed: tuple[str, ...] = ()  # why GTO or DVC cannot read it as the tag it looks like
    bundle: str | None = None  # the bundle it releases, from the repository's top
    bundle_problem: str | None = None  # why there is no such bundle at the commit
    manifest_sha256: str | None = None  # of the bundle's manifest.json at the commit
    trailers: Mapping[str, str] = field(default_factory=dict)
    artifact_file: str = "dvc.yaml"  # the dvc.yaml GTO reads the artifact from
    artifact_path: str | None = None  # artifacts.NAME.path as written there; None: no entry
    artifact_resolved: str | None = None  # from the repository's top
    registered: bool = True  # an assignment's commit has a registration
    deregistered: bool = False
    stages: tuple[str, ...] = ()  # the policy's (registry.stages), lowest first
    ordered: bool = False
    assigned_before: tuple[str, ...] = ()  # stages other tags assigned it and did not unassign
    branch_patterns: tuple[str, ...] | None = None  # where the stage may come from; None: any
    branches: tuple[str, ...] = ()  # the remote's branches whose tip holds the commit
    signed_required: bool = False
    signature: str = ""  # "unsigned", "trusted", "untrusted" ("" when not required)
    signature_detail: str = ""
    policy: str = ""  # where the policy came from

    @property
    def releases(self) -> bool:
        """Whether the tag makes a version something deployments follow."""
        return self.action in {"register", "assign"} and not self.deleted
