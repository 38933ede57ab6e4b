"""``rules``, ``explain`` and ``schema``: the public contract, printed from the registry."""

from __future__ import annotations

import argparse
import json

from promote_gate.errors import UsageError
from promote_gate.rules import BY_CODE, RULES, Rule


def explain(rule: Rule) -> str:
    """A rule's documentation, under ruff's headings."""
    scope = (
        "the bundle alone (also run by `verify`)"
        if not rule.needs_repo
        else "the bundle and the repository"
    )
    if rule.candidates_only:
        scope += "; only for bundles being released"
    return "\n".join(
        [
            f"# {rule.code} {rule.name}",
            "",
            "## What it checks",
            f"Violated when {rule.summary}. Evidence: {scope}.",
            "",
            "## Why it matters",
            rule.rationale,
            "",
            "## Example",
            rule.example,
            "",
            "## How to fix",
            rule.fix,
            "",
        ]
    )


def rules_markdown() -> str:
    """The README's rule table; each row is an anchor (``#pg104-content-mismatch``) that
    SARIF's ``helpUri`` points to."""
    rows = ["| code | name | violated when | `verify` |", "|---|---|---|---|"]
    rows += [
        f'| <a id="{r.code.lower()}-{r.name}"></a>{r.code} | {r.name} | {r.summary} '
        f"| {'yes' if not r.needs_repo else 'no'} |"
        for r in RULES
    ]
    return "\n".join(rows) + "\n"


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
