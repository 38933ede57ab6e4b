"""A rule's documentation under ruff's headings, and the README's rule table: both
generated from the registry, never written twice (``explain``, ``rules``, SARIF's help)."""

from __future__ import annotations

from promote_gate.rules import RULES, Rule


def find_rule(query: str) -> Rule | None:
    """The rule a code or a name names, in any case (``PG204``, ``pg204``, ``Pipeline-Stale``)."""
    wanted = query.strip().lower()
    return next((r for r in RULES if wanted in {r.code.lower(), r.name}), None)


def similar_rules(query: str, count: int = 3) -> list[str]:
    """Up to ``count`` rules whose code or name is close to ``query``, as ``name (CODE)``,
    the closest first: a name containing it (``stale``), the same characters in another
    order (``PG240``), then difflib's similarity (``pipline-stale``), then the longer
    common start."""
    import difflib

    wanted = query.strip().lower()
    titles = {r.code.lower(): r for r in RULES} | {r.name: r for r in RULES}
    scored = []
    for key in titles:
        ratio = difflib.SequenceMatcher(None, wanted, key).ratio()
        contains = len(wanted) >= 3 and wanted in key
        if contains or ratio >= 0.6:
            same = sorted(wanted) == sorted(key)
            lead = next(
                (i for i, (a, b) in enumerate(zip(wanted, key, strict=False)) if a != b), len(key)
            )
            scored.append((contains, same, ratio, lead, key))
    close = [key for *_, key in sorted(scored, reverse=True)]
    found = list(dict.fromkeys(titles[key] for key in close))[:count]
    return [f"{r.name} ({r.code})" for r in found]


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
