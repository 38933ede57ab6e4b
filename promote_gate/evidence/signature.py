"""The bundle's signature (``bundle.sig``): read, parsed, and checked against the keys
the policy trusts (or ``verify --key``). What it should sign is the rules' to judge."""

from __future__ import annotations

from promote_gate.bundle import SIGNATURE
from promote_gate.evidence.bundle import read_doc
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts, SignatureFacts
from promote_gate.signing import parse_signature, signer


def signature(scope: Scope, facts: BundleFacts) -> SignatureFacts:
    """``bundle.sig`` as the bundle holds it and who of the trusted keys signed it: read
    only as a regular file, bounded like every document; verified only once it parses."""
    doc = read_doc(scope.view, facts.repo_path(SIGNATURE), SIGNATURE, parse_signature)
    found = SignatureFacts(
        doc, scope.signature_required, tuple(dict.fromkeys(k.name for k in scope.keys))
    )
    if not doc.ok or not scope.keys:
        return found
    key, problem, why = signer(doc.value, scope.keys)
    return SignatureFacts(doc, found.required, found.keys, key.name if key else None, problem, why)
