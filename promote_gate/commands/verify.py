"""``promote-gate verify DIR``: a consumer's check, with nothing but the bundle."""

from __future__ import annotations

import argparse
import dataclasses
import os

from promote_gate.codes import selected_rules
from promote_gate.commands.check import emit
from promote_gate.config import Config
from promote_gate.errors import UsageError
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.scope import Scope
from promote_gate.hashcache import HashCache
from promote_gate.repo import WorktreeView
from promote_gate.report import Report, judge, no_rule_ran


def run(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.directory)
    if not os.path.isdir(directory):
        raise UsageError(f"{args.directory}: no such directory")
    hashes = None if args.no_cache else HashCache()
    # A plain directory: a .git or .dvc in it is content (PG103), never skipped as a
    # repository's own. Nothing here runs git: a .git in a bundle is the attacker's.
    view = WorktreeView.directory(directory, hashes=hashes)
    try:
        facts = read_bundle(Scope(view, Config()), os.path.basename(directory), "")
    finally:
        if hashes is not None:
            hashes.close()
    version = facts.manifest_value.get("version")
    if isinstance(version, str):
        # A consumer may unpack a bundle under any name; the manifest names the version.
        facts = dataclasses.replace(facts, name=version)
    chosen = selected_rules(args.select, args.ignore)
    bundle = judge(facts, chosen, require_data=args.require_data, traceback_on_error=args.traceback)
    bundle = dataclasses.replace(bundle, path=args.directory)
    return emit(no_rule_ran(Report((bundle,), f"directory {args.directory}")), args)
