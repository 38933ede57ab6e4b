"""``promote-gate promote [VERSION]``: write a bundle from the reproduced pipeline, or refuse.

Nothing is written unless every precondition holds: the bundle is assembled in a
temporary directory next to its destination and renamed into place at the end. The version
is the next one (the newest bundle's number plus one) unless named; a named version that
``check`` would refuse (PG502 version-order) is refused here, by the same rule.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from promote_gate import __version__, verbosity
from promote_gate import config as config_mod
from promote_gate.bundle import (
    DEFAULT_NAMES,
    MANIFEST,
    MANIFEST_SCHEMA_ID,
    list_bundles,
    render_manifest,
    render_report,
    render_sha256sums,
)
from promote_gate.context.policy import load_policy, project_of
from promote_gate.dvc import DEFAULT_PARAMS, DVC_LOCK, DVC_YAML, dvc_in, norm
from promote_gate.dvc.artifacts import point_artifact
from promote_gate.dvc.cache import cache_dir, ensure_cached, read_dir_listing
from promote_gate.dvc.ignore import DvcIgnore
from promote_gate.dvc.lock import LockFile, LockStage, lock_digest, project_lock
from promote_gate.dvc.params import flatten, read_metrics_file
from promote_gate.dvc.parsing import parse_project
from promote_gate.dvc.project import no_pipeline
from promote_gate.errors import RefusedError, UsageError
from promote_gate.git import Git
from promote_gate.hashing import Digest, digest_bytes, sha256_hex
from promote_gate.objects import DirectorySource, ObjectStore
from promote_gate.repo import WorktreeView
from promote_gate.yamlio import DocumentError, dump_yaml, load_json


@dataclass(frozen=True)
class Promoted:
    bundle_path: str  # inside the bundle
    workspace_path: str  # repository-relative, where it is now
    stage: str
    source_path: (
        str  # the pipeline output path it comes from (a file inside a directory output too)
    )
    digest: Digest


def closure(lock: LockFile, stages: Iterable[str]) -> list[str]:
    """``stages`` and every stage upstream of them, in dvc.lock order."""
    wanted: set[str] = set()
    todo = list(stages)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        for dep in lock.stages[name].deps:
            hit = lock.producer(dep.path)
            if hit is not None:
                todo.append(hit[0].name)
    return [name for name in lock.stages if name in wanted]


def _dvc_status(root: str, stages: list[str]) -> dict[str, Any]:
    """Real ``dvc status`` for the stages: promote trusts DVC itself here."""
    try:
        from dvc.repo import Repo
    except ImportError as exc:
        raise UsageError("promote runs DVC itself: pip install 'promote-gate[dvc]'") from exc

    with Repo(root) as repo:
        # DVC resolves bare targets against the process's cwd; name the dvc.yaml explicitly.
        # a nested dvc.yaml's stage is addressed "sub/dvc.yaml:train"
        targets = [
            f"{os.path.join(root, *(name.rpartition(':')[0] or DVC_YAML).split('/'))}:"
            f"{name.rpartition(':')[2]}"
            for name in stages
        ]
        status: dict[str, Any] = repo.status(targets=targets, with_deps=True)
    return status


def _expected_md5(stage: LockStage, src: str, cache: str) -> str | None:
    store = ObjectStore([DirectorySource(cache, "the DVC cache")])
    for out in stage.outs:
        if out.path == src:
            return out.md5
        if src.startswith(out.path + "/") and out.md5:
            listing = read_dir_listing(store, out.md5)
            return listing.get(src[len(out.path) + 1 :]) if listing else None
    return None


def _gather(view: WorktreeView, lock: LockFile, outs: list[str], cache: str) -> list[Promoted]:
    ignore = DvcIgnore(view)
    found: list[Promoted] = []
    for out in outs:
        hit = lock.producer(out)
        if hit is None:
            raise RefusedError(f"--out {out} is not an output recorded in {DVC_LOCK}")
        stage, lock_out = hit
        entry = view.entry(out)
        files = (
            [out]
            if entry is not None
            else [e.path for e in view.files_under(out) if not ignore.ignored(e.path)]
        )
        if not files:
            raise RefusedError(
                f"{out} is not in the workspace: run `dvc checkout {out}` (or dvc pull)"
            )
        name = out.rsplit("/", 1)[-1]
        for path in files:
            item = view.entry(path)
            if item is None or item.kind != "file":
                raise RefusedError(
                    f"{path} is a {item.kind if item else 'missing file'}, not a regular file"
                )
            digest = view.digest(path)
            assert digest is not None
            expected = _expected_md5(stage, path, cache)
            actual = digest.md5_for(lock_out.hash_name)
            if expected is None:
                raise RefusedError(
                    f"{path}: the .dir listing of {lock_out.path} is not in the DVC cache (dvc fetch)"
                )
            if expected != actual:
                raise RefusedError(
                    f"{path} in the workspace (md5 {actual}) is not what {DVC_LOCK} recorded "
                    f"({expected}): run `dvc checkout {lock_out.path}` or `dvc repro`"
                )
            bundle_path = name if path == out else f"{name}/{path[len(out) + 1 :]}"
            found.append(Promoted(bundle_path, path, stage.name, path, digest))
    seen: dict[str, str] = {}
    for promoted in found:
        key = promoted.bundle_path.casefold()
        if key in seen:
            raise RefusedError(
                f"{seen[key]} and {promoted.workspace_path} would both be "
                f"{promoted.bundle_path} in the bundle"
            )
        seen[key] = promoted.workspace_path
    return found


def _metrics(
    view: WorktreeView, lock: LockFile, metrics_files: Iterable[str], cache: str
) -> dict[str, Any]:
    snap: dict[str, Any] = {}
    for path in metrics_files:
        hit = lock.producer(path)
        if hit is None:
            continue  # declared but produced by no stage in dvc.lock: not evidence of this state
        data = view.read(path)
        if data is None:
            raise RefusedError(
                f"metrics file {path} is not in the workspace: run `dvc checkout {path}`"
            )
        stage, out = hit
        md5 = digest_bytes(data).md5_for(out.hash_name)
        if md5 != _expected_md5(stage, path, cache):
            raise RefusedError(f"metrics file {path} differs from {DVC_LOCK}: run `dvc repro`")
        try:
            values = read_metrics_file(data, path)
        except DocumentError as exc:
            raise RefusedError(f"metrics file {path}: {exc}") from exc
        snap[path] = {"md5": digest_bytes(data).md5, "stage": stage.name, "values": values}
    return snap


def _previous(
    view: WorktreeView, config: config_mod.Config, version: str
) -> tuple[str, dict[str, Any]] | None:
    older = [
        n
        for n in list_bundles(view, config)
        if (config.version_number(n) or 0) < (config.version_number(version) or 0)
    ]
    if not older:
        return None
    name = older[-1]
    data = view.read(f"{config.publish_root}/{name}/{DEFAULT_NAMES['metrics']}")
    try:
        snap = load_json(data, "metrics") if data else None
    except DocumentError:
        return None
    if not isinstance(snap, dict):
        return None
    return name, {f: e.get("values", {}) for f, e in snap.items() if isinstance(e, dict)}


# say(level, line): a line for the person running promote, shown from that verbosity up
Say = Callable[[int, str], None]


class Created(NamedTuple):
    path: str  # the bundle, relative to the repository's top
    project: str  # its DVC project's directory ("" for the top)
    top: str  # the repository's top directory
    artifact: str | None = None  # the dvc.yaml artifact pointed at it


def _version_order(config: config_mod.Config, version: str, present: dict[str, int]) -> None:
    """Refuse ``version`` where ``check`` would (PG502 version-order): the rule itself judges
    the bundle about to be written, every bundle already here counting as released (the
    strictest base a hook or CI could judge it against)."""
    from promote_gate.facts import BundleFacts, Doc, ReleaseFacts
    from promote_gate.rules import BY_CODE, Finding

    number, numbers = config.version_number(version), tuple(sorted(present.values()))
    known = tuple(sorted({*numbers, number or 0}))
    release = ReleaseFacts(None, released=False, released_versions=numbers, versions=known)
    path = f"{config.publish_root}/{version}"
    manifest = Doc(MANIFEST, present=False)
    facts = BundleFacts(version, path, number, manifest, {}, {}, candidate=True, release=release)
    rule = BY_CODE["PG502"]
    found = [o.message for o in rule.check(facts) if isinstance(o, Finding)]
    if found:
        newest = max(present, key=present.__getitem__) if present else None
        where = f"the newest bundle is {newest}" if newest else "there is no bundle yet"
        raise RefusedError(
            f"{rule.code} {rule.name}: {'; '.join(found)} ({where}); `promote-gate check` "
            f"would refuse {version}. Promote the next version: promote-gate promote "
            f"{config.version_name(max(numbers, default=0) + 1)}"
        )


def promote(
    repo: str,
    version: str | None,
    outs: list[str],
    config_path: str | None = None,
    now: datetime | None = None,
    project_dir: str | None = None,
    say: Say | None = None,
    artifact: str | None = None,
) -> Created:
    """Create the bundle in the DVC project ``repo`` lies in (or ``project_dir``); return
    where it is. ``version`` None: the next one (the newest
    bundle's number plus one; the first without one). ``say`` hears what it decides and
    reads (see ``Say``). Raises RefusedError/UsageError."""
    say = say or (lambda _level, _line: None)
    top = Git.open(repo)
    directory = project_of(top, repo, project_dir) or ""
    git = top.project(directory)
    root = git.root
    view = WorktreeView(root, cache=cache_dir(root))
    if config_path is not None:
        config = config_mod.load(view.read, config_path)
    else:
        config = load_policy(view, WorktreeView(top.root), directory, None, False)
    project = parse_project(view)
    if project is None:
        raise RefusedError(no_pipeline(top.root, directory))
    publish = os.path.join(root, *config.publish_root.split("/"))
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(publish), real_root]) != real_root or (
        os.path.realpath(publish) != os.path.join(real_root, *config.publish_root.split("/"))
    ):
        raise UsageError(
            f"publish_root: {config.publish_root}/ resolves through a symlink to "
            f"{os.path.realpath(publish)}: bundles are written only into the repository itself"
        )
    present = {
        name: number
        for name in list_bundles(view, config)
        if (number := config.version_number(name)) is not None
    }
    if version is None:
        newest = max(present, key=present.__getitem__) if present else None
        version = config.version_name(max(present.values(), default=0) + 1)
        after = f"the next after {newest}" if newest else "the first version"
        say(verbosity.DEFAULT, f"No version given: promoting {version}, {after}.")
    if config.version_number(version) is None:
        raise UsageError(
            f"version {version!r} does not fit the version pattern {config.version_pattern!r}"
        )
    say(verbosity.VERBOSE, f"policy: {config.origin} (version pattern {config.version_pattern})")
    bundle_rel = f"{config.publish_root}/{version}"
    if view.files_under(bundle_rel) or os.path.exists(os.path.join(root, bundle_rel)):
        raise RefusedError(
            f"{bundle_rel} already exists: released versions are never rewritten; cut a new version"
        )
    _version_order(config, version, present)
    outs = [norm(o) for o in (outs or list(config.outputs))]
    if not outs:
        raise UsageError(
            "nothing to promote: pass --out PATH or set 'outputs' in the configuration"
        )
    head = git.head()
    if head is None:
        raise RefusedError("the repository has no commit yet: commit the pipeline first")
    say(verbosity.VERBOSE, f"source.commit: {head} (HEAD)")

    try:
        lock, locks = project_lock(view.read, project)
    except DocumentError as exc:
        raise RefusedError(str(exc)) from exc
    if lock is None:
        raise RefusedError(
            f"there is no {DVC_LOCK} in {directory or 'the project'}: run `dvc repro` and commit"
        )
    params_files = {p.file for st in project.stages.values() for p in st.params} | {DEFAULT_PARAMS}
    # the metrics too: one git tracks (cache: false) is evidence read at source.commit, so it
    # must be committed there (DVC-cached ones are git-ignored: git status never lists them)
    dirty = git.changed_paths([*project.dvcfiles, *locks, *sorted(params_files), *project.metrics])
    if dirty:
        raise RefusedError(
            f"uncommitted changes in {', '.join(dirty)}: commit them (after `dvc repro`) first"
        )
    for path, data in locks.items():
        if git.read_at(head, path) != data:
            raise RefusedError(f"{git.path(path)} differs from HEAD: commit it first")

    import pathspec

    exploratory = pathspec.GitIgnoreSpec.from_lines(map(config_mod.anchored, config.exploratory))
    scratch = [o for o in outs if exploratory.match_file(o) or exploratory.match_file(o + "/")]
    if scratch:
        raise RefusedError(
            f"{', '.join(scratch)}: exploratory paths (config 'exploratory') are not released"
        )
    cache = cache_dir(root)
    promoted = _gather(view, lock, outs, cache)
    metrics = _metrics(view, lock, project.metrics, cache)
    if not metrics and config.require_metrics:
        raise RefusedError(
            f"no metrics, and the policy sets require_metrics: declare the pipeline's metrics "
            f"in {DVC_YAML} (stage or top-level `metrics:`)"
        )
    producing = {p.stage for p in promoted} | {m["stage"] for m in metrics.values()}
    stages = closure(lock, producing)
    start = time.perf_counter()
    status = {k: v for k, v in _dvc_status(root, stages).items() if v}
    took = time.perf_counter() - start
    say(verbosity.VERBOSE, f"dvc status of {', '.join(stages)}: {took:.2f} s")
    if status:
        details = "; ".join(f"{k}: {v}" for k, v in status.items())
        raise RefusedError(
            f"the pipeline is not up to date (dvc status: {details}): run `dvc repro` and commit"
        )

    params: dict[str, dict[str, Any]] = {}
    for name in stages:
        for pfile, values in lock.stages[name].params.items():
            params.setdefault(pfile, {}).update(values)
    excerpt = {"schema": "2.0", "stages": {name: lock.raw["stages"][name] for name in stages}}
    created = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")

    files: list[dict[str, Any]] = [
        {
            "path": p.bundle_path,
            "md5": p.digest.md5,
            "sha256": p.digest.sha256,
            "size": p.digest.size,
            "storage": "dvc" if p.digest.size > config.dvc_threshold_bytes else "git",
            "source": {"stage": p.stage, "path": p.source_path},
        }
        for p in promoted
    ]
    for item, entry in zip(promoted, files, strict=True):
        say(
            verbosity.VERBOSE,
            f"file: {item.bundle_path} from {item.workspace_path} (stage {item.stage}, "
            f"{item.digest.size} bytes, stored in {entry['storage']})",
        )
    for path, entry in metrics.items():
        say(verbosity.VERBOSE, f"metrics: {path} (stage {entry['stage']})")
    previous = _previous(view, config, version)
    say(verbosity.VERBOSE, f"report compares with: {previous[0] if previous else 'nothing'}")
    manifest = {
        "schema": MANIFEST_SCHEMA_ID,
        "version": version,
        "created": created,
        "tool": f"promote-gate {__version__}",
        "source": {
            "commit": head,
            "dvc_lock_sha256": lock_digest(locks),
            "dvc_lock": DVC_LOCK if list(locks) == [DVC_LOCK] else sorted(locks),
        },
        "files": files,
        **DEFAULT_NAMES,
    }
    docs = {
        DEFAULT_NAMES["params"]: dump_yaml(params),
        DEFAULT_NAMES["metrics"]: json.dumps(metrics, indent=2, sort_keys=True) + "\n",
        DEFAULT_NAMES["lock"]: dump_yaml(excerpt),
        DEFAULT_NAMES["report"]: render_report(
            version=version,
            source_commit=head,
            lock_sha256=lock_digest(locks),
            created=created,
            params=params,
            metrics={f: flatten(e["values"]) for f, e in metrics.items()},
            files=files,
            previous=previous,
        ),
        MANIFEST: render_manifest(manifest),
    }
    sums = {str(f["path"]): str(f["sha256"]) for f in files} | {
        n: sha256_hex(t.encode()) for n, t in docs.items()
    }
    docs[DEFAULT_NAMES["checksums"]] = render_sha256sums(sums)

    dest = os.path.join(root, *bundle_rel.split("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{version}.", dir=os.path.dirname(dest))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a bundle is ordinary content
    try:
        ignored = []
        for item, entry in zip(promoted, files, strict=True):
            target = os.path.join(tmp, *item.bundle_path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(root, item.workspace_path), target)
            if entry["storage"] == "dvc":
                ensure_cached(cache, target, item.digest.md5)
                pointer = {
                    "outs": [
                        {
                            "md5": item.digest.md5,
                            "size": item.digest.size,
                            "hash": "md5",
                            "path": item.bundle_path.rsplit("/", 1)[-1],
                        }
                    ]
                }
                with open(target + ".dvc", "w", encoding="utf-8") as fobj:
                    fobj.write(dump_yaml(pointer))
                ignored.append("/" + item.bundle_path)
        for name, text in docs.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as fobj:
                fobj.write(text)
        if ignored:
            with open(os.path.join(tmp, ".gitignore"), "w", encoding="utf-8") as fobj:
                fobj.write("".join(f"{line}\n" for line in ignored))
        os.rename(tmp, dest)
        named = artifact or config.registry.artifact
        if named:
            point_artifact(root, named, config, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        git.close()
    return Created(norm(bundle_rel, directory), directory, top.root, named or None)


def run(args: argparse.Namespace) -> int:
    level = verbosity.level()

    def say(at: int, line: str) -> None:
        if level >= at:
            print(line, flush=True)  # before `dvc status`, which takes its time

    where = {"project_dir": args.project, "artifact": args.artifact}
    made = promote(args.repo, args.version, args.out, args.config, say=say, **where)
    if level == verbosity.QUIET:
        print(f"Created {made.path}")
    elif level >= verbosity.DEFAULT:
        # the commands as typed here: git and DVC read paths from the working directory
        here = os.getcwd()
        home = os.path.join(made.top, made.project)
        git, path = "git", os.path.relpath(os.path.join(made.top, made.path), here)
        paths = [made.path, norm(DVC_YAML, made.project)] if made.artifact else [made.path]
        added = " ".join(
            shlex.quote(os.path.relpath(os.path.join(made.top, p), here)) for p in paths
        )
        if _outside(here, made.top):
            git, path, added = f"git -C {shlex.quote(made.top)}", made.path, shlex.join(paths)
        push = dvc_in(os.path.relpath(home, here) if _outside(here, home) else "", "dvc push")
        print(f"Created {made.path}. Review {made.path}/report.md, then:")
        print(f"  {git} add {added} && {git} commit -m 'Promote {path.rsplit('/')[-1]}'")
        print(f"  {push}   # so consumers can fetch the DVC-tracked files")
    return 0


def _outside(path: str, directory: str) -> bool:
    return os.path.relpath(path, directory).split(os.sep)[0] == os.pardir
