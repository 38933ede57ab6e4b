"""``promote-gate verify DIR``: a consumer's check, with nothing but the bundle."""

from __future__ import annotations

import argparse
import dataclasses
import os

from promote_gate.codes import selected_rules
from promote_gate.commands.check import emit
from promote_gate.config import Config
from promote_gate.errors import MAX_DOCUMENT_BYTES, UsageError
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.scope import Scope
from promote_gate.evidence.signature import signature
from promote_gate.hashcache import HashCache
from promote_gate.repo import WorktreeView
from promote_gate.report import Report, judge, no_rule_ran
from promote_gate.signing import PublicKey


def run(args: argparse.Namespace) -> int:
    keys = given_keys([*args.key, *args.allowed_signers])
    chosen = selected_rules(args.select, args.ignore)
    report = verify_directory(
        args.directory,
        keys,
        chosen,
        no_cache=args.no_cache,
        require_data=args.require_data,
        traceback=args.traceback,
    )
    return emit(report, args)


def verify_directory(
    shown: str,
    keys: tuple[PublicKey, ...],
    chosen: dict[str, str | None],
    *,
    no_cache: bool = False,
    require_data: bool = False,
    traceback: bool = False,
) -> Report:
    """The report on the bundle directory ``shown`` judged alone; with ``keys``, signed by
    one of them."""
    directory = os.path.abspath(shown)
    if not os.path.isdir(directory):
        raise UsageError(f"{shown}: no such directory")
    hashes = None if no_cache else HashCache()
    # A plain directory: a .git or .dvc in it is content (PG103), never skipped as a
    # repository's own. Nothing here runs git: a .git in a bundle is the attacker's.
    view = WorktreeView.directory(directory, hashes=hashes)
    scope = Scope(view, Config(), keys=keys, signature_required=bool(keys))
    try:
        facts = read_bundle(scope, os.path.basename(directory), "")
        if facts.kind == "directory":
            facts = dataclasses.replace(facts, signature=signature(scope, facts))
    finally:
        if hashes is not None:
            hashes.close()
    version = facts.manifest_value.get("version")
    if isinstance(version, str):
        # A consumer may unpack a bundle under any name; the manifest names the version.
        facts = dataclasses.replace(facts, name=version)
    bundle = judge(facts, chosen, require_data=require_data, traceback_on_error=traceback)
    bundle = dataclasses.replace(bundle, path=shown)
    return no_rule_ran(Report((bundle,), f"directory {shown}"))


def given_keys(paths: list[str]) -> tuple[PublicKey, ...]:
    """The public keys a consumer trusts: ``--key`` files, and ``--allowed-signers`` files
    holding several PEM keys. Read from where the consumer keeps them, never the bundle."""
    from promote_gate.signing import public_keys

    keys: list[PublicKey] = []
    for path in paths:
        try:
            with open(path, "rb") as fobj:
                data = fobj.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from exc
        if len(data) > MAX_DOCUMENT_BYTES:
            raise UsageError(f"{path}: larger than {MAX_DOCUMENT_BYTES} bytes: not a key file")
        keys.extend(public_keys(data, path))
    return tuple(keys)
