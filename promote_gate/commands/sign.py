"""``promote-gate sign VERSION --key KEY.pem`` and ``promote-gate attest VERSION``: a
release manager's signatures of a bundle in the working tree.

Both start from the bundle as ``verify`` judges it — every file present and as the
manifest and SHA256SUMS say (the DVC content pulled), hashed once through the hash cache —
and refuse a bundle that does not pass. ``sign`` writes ``bundle.sig`` (model signing v1.0,
:mod:`promote_gate.signing`) inside the bundle; ``attest`` prints an in-toto statement of
the release (:mod:`promote_gate.attestation`) in a DSSE envelope.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any, NamedTuple

from promote_gate import __version__
from promote_gate.bundle import MANIFEST, SIGNATURE
from promote_gate.codes import selected_rules
from promote_gate.context.checkout import open_view, view_at
from promote_gate.dvc.params import flatten
from promote_gate.errors import MAX_DOCUMENT_BYTES, GateError, RefusedError, UsageError
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts
from promote_gate.files import safe_target, write_atomic, write_report
from promote_gate.hashcache import HashCache
from promote_gate.report import judge
from promote_gate.rules.integrity import listed_files
from promote_gate.rules.signing import companions, declared

PASSWORD_VARIABLE = "PROMOTE_GATE_KEY_PASSWORD"  # noqa: S105 (a variable name, not a password)


class Verified(NamedTuple):
    """A bundle of the working tree that passes ``verify``: where it is, and its facts."""

    root: str  # the project's directory on disk
    path: str  # project-relative, e.g. publish/v2
    facts: BundleFacts
    digests: dict[str, str]  # every file the bundle declares -> sha256 (what a signature signs)


def verified_bundle(args: argparse.Namespace) -> Verified:
    """The bundle ``args.version`` of the project, judged as ``verify`` judges it with its
    content required; RefusedError (exit 1) naming what fails."""
    git, _, config = open_view(args.repo, None, args.project, args.config)
    if config.version_number(args.version) is None:
        raise UsageError(
            f"{args.version!r} is not a version name ({config.version_pattern!r}, "
            "version_pattern in the policy)"
        )
    path = f"{config.publish_root}/{args.version}"
    hashes = HashCache()
    try:
        view = view_at(git, None, hashes)
        if view.entry(path) is None and not view.files_under(path):
            raise UsageError(f"{path}: no such bundle in {git.root}")
        facts = read_bundle(Scope(view, config), args.version, path)
    finally:
        hashes.close()
    bundle = judge(facts, selected_rules([], ["PG6"]))
    failed = [r for r in bundle.results if r.status in {"failed", "error"}]
    if failed:
        lines = [
            f"  {r.rule.code} {r.rule.name}: "
            + (r.findings[0].described if r.findings else r.reason or "")
            for r in failed
        ]
        raise RefusedError(
            f"{path} does not pass verify, so it is not signed:\n" + "\n".join(lines)
        )
    # verify passed: every file is listed and matches SHA256SUMS (PG103, PG104, PG106), or
    # its content is not here to judge (PG104 skipped), which signing cannot pass over
    absent = sorted(rel for rel, item in facts.files.items() if item.digest is None)
    if absent:
        raise RefusedError(
            f"{path}: not in the workspace, so it cannot be hashed: {', '.join(absent)} "
            f"(run: dvc pull {shlex.quote(path)})"
        )
    digests = declared(facts)
    if digests is None:  # PG106 failed first; a guard for the type, never reached
        raise RefusedError(f"{path}: SHA256SUMS cannot be read")
    return Verified(git.root, path, facts, digests)


def _private_key(path: str) -> Any:
    """The signing key: a PEM file, decrypted with $PROMOTE_GATE_KEY_PASSWORD or, on a
    terminal, a password typed (never a command-line argument: ps would show it)."""
    from promote_gate.signing import private_key

    try:
        with open(path, "rb") as fobj:
            data = fobj.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--key {path}: {exc.strerror}") from exc
    password = os.environ.get(PASSWORD_VARIABLE)
    encrypted = b"ENCRYPTED" in data[:4096]
    if encrypted and password is None and sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {path}: ")
    return private_key(data, path, password.encode() if password is not None else None)


def sign(args: argparse.Namespace) -> int:
    from promote_gate.signing import key_pem, model_statement, sign_model

    key = _private_key(args.key)
    bundle = verified_bundle(args)
    facts = bundle.facts
    source = facts.manifest_value.get("source", {})
    dvc_stored = [str(e["path"]) for e in listed_files(facts) if e.get("storage") == "dvc"]
    statement = model_statement(
        args.version,
        bundle.digests,
        [SIGNATURE, *sorted(companions(dvc_stored))],
        {
            "bundle": args.version,
            "manifestSha256": bundle.digests[MANIFEST],
            "sourceCommit": source.get("commit"),
            "dvcLockSha256": source.get("dvc_lock_sha256"),
            "tool": f"promote-gate {__version__}",
        },
    )
    target = os.path.join(bundle.root, *bundle.path.split("/"), SIGNATURE)
    replaced = os.path.lexists(target)
    write_atomic(safe_target(target, bundle.root), sign_model(statement, key).decode())
    here = os.getcwd()
    git, shown = "git", os.path.relpath(target, here).replace(os.sep, "/")
    if shown.startswith("../"):  # typed outside the project: git -C finds the repository
        git, shown = f"git -C {shlex.quote(bundle.root)}", f"{bundle.path}/{SIGNATURE}"
    print(
        f"{'Signed again' if replaced else 'Signed'} {bundle.path}: {len(bundle.digests)} files, "
        f"key {key_pem(key).hint[:16]}… -> {bundle.path}/{SIGNATURE}"
    )
    print(f"  {git} add {shlex.quote(shown)} && {git} commit -m 'Sign {args.version}'")
    return 0


def attest(args: argparse.Namespace) -> int:
    from promote_gate import attestation

    key = None if args.unsigned else _private_key(args.key)
    bundle = verified_bundle(args)
    facts = bundle.facts
    manifest = facts.manifest_value
    source = manifest.get("source", {})
    promoted = listed_files(facts)
    names = {str(e["path"]) for e in promoted}
    subjects = [
        {
            "name": f"{bundle.path}/{entry['path']}",
            "digest": {"sha256": entry["sha256"], "md5": entry["md5"]},
        }
        for entry in promoted
    ]
    # snapshots that verify cannot judge (PG3xx/PG4xx need the repository) are read as found
    params = facts.docs["params"].value if isinstance(facts.docs["params"].value, dict) else {}
    metrics = facts.docs["metrics"].value if isinstance(facts.docs["metrics"].value, dict) else {}
    predicate = {
        "bundle": {"version": args.version, "path": bundle.path},
        "manifest": attestation.document(f"{bundle.path}/{MANIFEST}", bundle.digests[MANIFEST]),
        "gitCommit": source.get("commit"),
        "dvcLock": {"sha256": source.get("dvc_lock_sha256"), "files": _lock_files(source)},
        "stages": sorted({str(e["source"]["stage"]) for e in promoted}),
        "params": attestation.entries(
            {f: flatten(v) for f, v in params.items() if isinstance(v, dict)}
        ),
        "metrics": attestation.entries(
            {f: flatten(e.get("values", {})) for f, e in metrics.items() if isinstance(e, dict)}
        ),
        "documents": [
            attestation.document(f"{bundle.path}/{name}", sha)
            for name, sha in sorted(bundle.digests.items())
            if name not in names
        ],
        "tool": f"promote-gate {__version__}",
    }
    stmt = attestation.statement(subjects, attestation.RELEASE_PREDICATE, predicate)
    line = attestation.envelope(stmt, key) + "\n"
    if args.output:
        write_report(args.output, line)
        print(f"Attestation of {bundle.path} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(line)
    return 0


def _lock_files(source: dict[str, Any]) -> list[str]:
    """The dvc.lock files the manifest names (one name, or a list where dvc.yaml nests)."""
    named = source.get("dvc_lock", "dvc.lock")
    return [named] if isinstance(named, str) else [str(n) for n in named]


def run(args: argparse.Namespace) -> int:
    if args.command == "sign":
        return sign(args)
    if args.command == "attest":
        return attest(args)
    raise GateError(f"unknown command {args.command}")
