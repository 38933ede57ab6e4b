"""Rule codes and selector matching: a leaf module, so the policy (``config.py``) and the CLI
can validate ``select``/``ignore`` without importing the rule registry. A test checks that
``CODES`` is the registry's codes, in its order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from promote_gate.errors import UsageError

# every rule's code, as promote_gate.rules.RULES lists them (a public contract: never reused)
CODES = (
    "PG101",
    "PG102",
    "PG103",
    "PG104",
    "PG105",
    "PG106",
    "PG201",
    "PG202",
    "PG203",
    "PG204",
    "PG205",
    "PG206",
    "PG301",
    "PG302",
    "PG304",
    "PG401",
    "PG402",
    "PG403",
    "PG404",
    "PG405",
    "PG501",
    "PG502",
    "PG503",
    "PG504",
    "PG505",
    "PG506",
    "PG601",
    "PG602",
    "PG603",
    "PG701",
    "PG702",
    "PG703",
    "PG704",
    "PG705",
    "PG706",
    "PG707",
    "PG708",
    "PG709",
    "PG710",
    "PG711",
)


def unknown_selectors(selectors: Iterable[str]) -> list[str]:
    """Selectors that are no rule code nor a prefix of one (``PG140``, ``PG9``): as ruff
    does, such a typo is an error, never a selection of nothing."""
    return [s for s in selectors if not any(code.startswith(s) for code in CODES)]


def _longest(code: str, patterns: Iterable[str]) -> int:
    """The length of the most specific pattern matching ``code`` (0: none)."""
    return max((len(p) for p in patterns if code.startswith(p)), default=0)


def selected_rules(select: Sequence[str], ignore: Sequence[str]) -> dict[str, str | None]:
    """code -> None when the rule runs, or why it does not (``--select``/``--ignore``).

    Where a code matches both, the more specific selector wins (flake8's rule): ``--select
    PG1 --ignore PG104`` runs PG101 but not PG104; ``--ignore PG1 --select PG104`` runs
    PG104 alone of PG1; equally specific, ignore wins. Unknown selectors are a UsageError.
    """
    unknown = unknown_selectors([*select, *ignore])
    if unknown:
        raise UsageError(
            f"unknown rule selector(s) {', '.join(unknown)}: a rule code or a prefix of one "
            f"(promote-gate rules lists them)"
        )
    chosen: dict[str, str | None] = {}
    for code in CODES:
        selected = _longest(code, select) if select else 1
        ignored = _longest(code, ignore)
        if not selected:
            chosen[code] = f"not selected (--select {','.join(select)})"
        elif ignored >= selected:
            chosen[code] = f"ignored (--ignore {','.join(ignore)})"
        else:
            chosen[code] = None
    return chosen
