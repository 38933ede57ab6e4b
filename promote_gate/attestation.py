"""in-toto attestations: Statement v1 in a DSSE envelope (``.intoto.jsonl``).

Two predicates: a release bundle's facts (``RELEASE_PREDICATE``, promote-gate's own: what
was promoted, from which commit and ``dvc.lock``, under which params, with which metrics)
and the gate's verdict as a Test Result (in-toto's ``test-result/v0.1``). Field names
follow in-toto's guidance: lowerCamelCase, no ``.`` (params and metrics are lists of
``{file, key, value}``, never keyed by a dotted name).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from promote_gate.signing import PAYLOAD_TYPE, STATEMENT_TYPE, key_pem, payload_bytes, sign_pae
from promote_gate.signing import sslib_keyid as keyid

RELEASE_PREDICATE = "https://promote-gate.dev/release-bundle/v0.1"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
MEDIA_TYPES = {".json": "application/json", ".yaml": "application/yaml", ".md": "text/markdown"}


def statement(
    subjects: Sequence[Mapping[str, Any]], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [dict(s) for s in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def envelope(stmt: Mapping[str, Any], key: Any | None) -> str:
    """One ``.intoto.jsonl`` line: the statement in a DSSE envelope, signed with ``key``
    (its key id as securesystemslib derives it), or with no signature for a CI signer to
    add (``attest --unsigned``)."""
    payload = payload_bytes(stmt)
    signatures = []
    if key is not None:
        sig = sign_pae(key, PAYLOAD_TYPE, payload)
        signatures.append({"keyid": keyid(key_pem(key)), "sig": base64.b64encode(sig).decode()})
    return json.dumps(
        {
            "payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode(),
            "signatures": signatures,
        },
        separators=(",", ":"),
    )


def entries(values: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``{file: {dotted key: value}}`` as in-toto-friendly ``[{file, key, value}]``."""
    return [
        {"file": file, "key": key, "value": value}
        for file, inner in sorted(values.items())
        for key, value in sorted(inner.items())
    ]


def document(name: str, sha256: str) -> dict[str, Any]:
    """A bundle document as an in-toto ResourceDescriptor."""
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    descriptor: dict[str, Any] = {"name": name, "digest": {"sha256": sha256}}
    if suffix in MEDIA_TYPES:
        descriptor["mediaType"] = MEDIA_TYPES[suffix]
    return descriptor


def verdict_predicate(
    passed: Sequence[str],
    failed: Sequence[str],
    warned: Sequence[str],
    configuration: Sequence[Mapping[str, Any]],
    url: str | None,
) -> dict[str, Any]:
    """in-toto's Test Result: FAILED when a test failed, WARNED when one could not be
    judged (a rule skipped for want of evidence), else PASSED."""
    result = "FAILED" if failed else "WARNED" if warned else "PASSED"
    predicate: dict[str, Any] = {
        "result": result,
        "configuration": [dict(c) for c in configuration],
        "passedTests": list(passed),
        "warnedTests": list(warned),
        "failedTests": list(failed),
    }
    if url:
        predicate["url"] = url
    return predicate
