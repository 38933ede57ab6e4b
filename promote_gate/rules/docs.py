"""A rule's documentation under ruff's headings, and the README's rule table: both
generated from the registry, never written twice (``explain``, ``rules``, SARIF's help)."""

from __future__ import annotations

from promote_gate.rules import RULES, Rule


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
