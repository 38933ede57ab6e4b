"""``rules``, ``explain`` and ``schema``: the public contract, printed from the registry."""

from __future__ import annotations

import argparse
import json

from promote_gate.errors import UsageError
from promote_gate.rules import BY_CODE, RULES
from promote_gate.rules.docs import explain, rules_markdown


def run(args: argparse.Namespace) -> int:
    if args.command == "rules":
        if args.format == "markdown":
            print(rules_markdown(), end="")
        else:
            width = max(len(r.name) for r in RULES)
            for rule in RULES:
                print(f"{rule.code}  {rule.name:<{width}}  {rule.summary}")
        return 0
    if args.command == "explain":
        found = BY_CODE.get(args.code.upper())
        if found is None:
            raise UsageError(f"no rule {args.code}; `promote-gate rules` lists them")
        print(explain(found), end="")
        return 0
    from promote_gate.bundle import manifest_schema
    from promote_gate.config import schema

    print(json.dumps(manifest_schema() if args.which == "manifest" else schema(), indent=2))
    return 0
