"""``rules``, ``explain`` and ``schema``: the public contract, printed from the registry."""

from __future__ import annotations

import argparse
import json

from promote_gate.errors import UsageError
from promote_gate.rules import RULES
from promote_gate.rules.docs import explain, find_rule, rules_markdown, similar_rules


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
        found = find_rule(args.rule)
        if found is None:
            close = similar_rules(args.rule)
            hint = "explain takes a code (PG204) or a name (pipeline-stale);"
            if close:
                listed = ", ".join(close[:-1]) + " or " if len(close) > 1 else ""
                hint = f"did you mean {listed}{close[-1]}?"
            raise UsageError(f"no rule {args.rule!r}; {hint} `promote-gate rules` lists them all")
        print(explain(found), end="")
        return 0
    from promote_gate.bundle import manifest_schema
    from promote_gate.config import schema

    print(json.dumps(manifest_schema() if args.which == "manifest" else schema(), indent=2))
    return 0
