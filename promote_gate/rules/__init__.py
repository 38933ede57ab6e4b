"""The rule catalogue: every rule, in one literal tuple (codes are a public contract)."""

from __future__ import annotations

from promote_gate.rules import (
    integrity,
    metrics,
    params,
    provenance,
    registry,
    release,
    signing,
)
from promote_gate.rules.base import Finding, NotApplicable, Outcome, Rule, Unverified

RULES: tuple[Rule, ...] = (
    *integrity.RULES,
    *provenance.RULES,
    *params.RULES,
    *metrics.RULES,
    *release.RULES,
    *signing.RULES,
    *registry.RULES,
)
BY_CODE = {rule.code: rule for rule in RULES}

__all__ = ["BY_CODE", "RULES", "Finding", "NotApplicable", "Outcome", "Rule", "Unverified"]
