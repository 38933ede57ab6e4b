"""Signatures: the OpenSSF model signing v1.0 format (key-based) and DSSE envelopes.

A bundle's ``bundle.sig`` is what the stock ``model_signing sign key`` writes: a Sigstore
bundle v0.3 (JSON) holding a DSSE envelope around an in-toto Statement v1 whose predicate
(``https://model_signing/signature/v1.0``) lists every signed file with its sha256, and
whose one subject's digest is the sha256 over those digests (the raw 32 bytes each, in the
order listed). The signature is ECDSA (DER) over DSSE's pre-authentication encoding, with
the hash the curve calls for (P-256: SHA-256, P-384: SHA-384, P-521: SHA-512); the key is
named by ``verificationMaterial.publicKey.hint``, the sha256 of its PEM.

Reading is strict where the stock verifier is lenient on purpose: exactly one signature,
at least one resource, every name a normalised relative path named once, ``sha256``
throughout. ``cryptography`` is imported only by the functions that sign or verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promote_gate.errors import UsageError
from promote_gate.yamlio import DocumentError, load_json

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MODEL_SIGNATURE = "https://model_signing/signature/v1.0"
# curve -> (hash, securesystemslib's scheme name for the key id of an in-toto envelope)
CURVES = {
    "secp256r1": ("sha256", "ecdsa-sha2-nistp256"),
    "secp384r1": ("sha384", "ecdsa-sha2-nistp384"),
    "secp521r1": ("sha512", "ecdsa-sha2-nistp521"),
}
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----\r?\n.*?-----END PUBLIC KEY-----", re.DOTALL)


@dataclass(frozen=True)
class PublicKey:
    """A key that may sign: where it came from, and its PEM as the format hashes it."""

    name: str  # a repository path, or the file given on the command line
    pem: bytes  # SubjectPublicKeyInfo PEM, re-serialised: what the hint is the sha256 of
    curve: str

    @property
    def hint(self) -> str:
        return hashlib.sha256(self.pem).hexdigest()


@dataclass(frozen=True)
class Signed:
    """What a ``bundle.sig`` says, parsed strictly (not yet verified)."""

    hint: str | None
    payload: bytes
    signature: bytes
    subject: str
    root: str
    resources: Mapping[str, str]  # signed name -> sha256
    ignore_paths: tuple[str, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)  # promote-gate's predicate field


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def root_digest(digests: Sequence[str]) -> str:
    """The model's digest: sha256 over the files' raw sha256 digests, in the order given."""
    return hashlib.sha256(b"".join(bytes.fromhex(d) for d in digests)).hexdigest()


def canonical_order(names: Sequence[str]) -> list[str]:
    """The order ``model_signing`` lists files in: by path components."""
    return sorted(names, key=lambda name: name.split("/"))


# --------------------------------------------------------------------------- keys


def _curve_of(key: Any, name: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = getattr(getattr(key, "curve", None), "name", None)
    if not isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) or (
        curve not in CURVES
    ):
        what = f"an EC {curve} key" if curve else f"a {type(key).__name__.lstrip('_')}"
        raise UsageError(
            f"{name}: {what}: model signing v1.0 signs with EC P-256, P-384 or P-521 keys "
            "(openssl ecparam -genkey -name prime256v1 -noout -out release.key)"
        )
    return str(curve)


def _pem_of(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def public_keys(data: bytes, name: str) -> tuple[PublicKey, ...]:
    """Every PEM public key in ``data`` (an allowed-signers file holds several). UsageError
    when there is none or one is not a signing key."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        raise UsageError(f"{name}: no PEM public key in it (-----BEGIN PUBLIC KEY-----)")
    from cryptography.exceptions import UnsupportedAlgorithm

    keys = []
    for block in blocks:
        try:
            key = load_pem_public_key(block)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise UsageError(f"{name}: not a readable PEM public key ({exc})") from exc
        keys.append(PublicKey(name, _pem_of(key), _curve_of(key, name)))
    return tuple(keys)


def private_key(data: bytes, name: str, password: bytes | None) -> Any:
    """An EC private key from PEM, decrypted with ``password`` where it is encrypted."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(data, password)
    except TypeError as exc:  # encrypted without a password, or a password it does not need
        encrypted = password is None
        raise UsageError(
            f"{name}: the key is encrypted: set PROMOTE_GATE_KEY_PASSWORD (or sign on a terminal)"
            if encrypted
            else f"{name}: the key is not encrypted, but a password was given"
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise UsageError(f"{name}: a key promote-gate cannot use ({exc})") from exc
    except ValueError as exc:
        raise UsageError(f"{name}: not a readable PEM private key, or a wrong password") from exc
    _curve_of(key, name)
    return key


def new_key_pair(private: str, public: str) -> None:
    """A new EC P-256 key: ``private`` (PKCS#8 PEM, unencrypted, owner-only) and ``public``
    (SubjectPublicKeyInfo PEM), as ``openssl ecparam -genkey -name prime256v1`` would."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fobj:
        fobj.write(data)
    with open(public, "wb") as fobj:
        fobj.write(key_pem(key).pem)


def key_pem(key: Any) -> PublicKey:
    """The public half of a private key, as a :class:`PublicKey`."""
    public = key.public_key()
    return PublicKey("", _pem_of(public), _curve_of(public, "the key"))


def _ecdsa(curve: str) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    algorithm: dict[str, hashes.HashAlgorithm] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    return ec.ECDSA(algorithm[CURVES[curve][0]])


def sign_pae(key: Any, payload_type: str, payload: bytes) -> bytes:
    """The DER ECDSA signature of DSSE's encoding of ``payload``."""
    der: bytes = key.sign(pae(payload_type, payload), _ecdsa(key.curve.name))
    return der


def verifies(key: PublicKey, payload_type: str, payload: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public: Any = load_pem_public_key(key.pem)
    try:
        public.verify(signature, pae(payload_type, payload), _ecdsa(key.curve))
    except InvalidSignature:
        return False
    return True


def _canonical(value: Any) -> str:
    """OLPC canonical JSON (securesystemslib's ``encode_canonical``) for strings and
    objects: keys sorted, no whitespace, strings escaping only ``\\`` and ``"`` (a PEM's
    newlines stay raw newlines, unlike ``json.dumps``)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        items = (f"{_canonical(k)}:{_canonical(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"not in a key id: {type(value).__name__}")


def sslib_keyid(key: PublicKey) -> str:
    """securesystemslib's default key id for ``key`` (what its ``Envelope.verify`` matches a
    signature's ``keyid`` against): sha256 of its canonical JSON key dict."""
    canonical = _canonical(
        {
            "keytype": "ecdsa",
            "scheme": CURVES[key.curve][1],
            "keyval": {"public": key.pem.decode()},
        }
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- the format


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as proto3's JSON spells them ("Infinity", "-Infinity",
    "NaN"): a param of ``.inf`` stays readable, and the payload stays JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def payload_bytes(statement: Mapping[str, Any]) -> bytes:
    """A statement's bytes as signed: compact JSON, keys sorted, strictly JSON."""
    return json.dumps(
        _finite(dict(statement)),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode()


def model_statement(
    subject: str,
    resources: Mapping[str, str],
    ignore_paths: Sequence[str],
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """The in-toto Statement model signing v1.0 signs; ``facts`` rides in the predicate
    under ``promote_gate`` (the format's verifiers ignore fields they do not know)."""
    names = canonical_order(list(resources))
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": subject, "digest": {"sha256": root_digest([resources[n] for n in names])}}
        ],
        "predicateType": MODEL_SIGNATURE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": list(ignore_paths),
            },
            "resources": [
                {"name": n, "algorithm": "sha256", "digest": resources[n]} for n in names
            ],
            "promote_gate": dict(facts),
        },
    }


def sign_model(statement: Mapping[str, Any], key: Any) -> bytes:
    """``bundle.sig``'s bytes: the statement signed with ``key``, in a Sigstore bundle."""
    payload = payload_bytes(statement)
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_pem(key).hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [
                {
                    "sig": base64.b64encode(sign_pae(key, PAYLOAD_TYPE, payload)).decode(),
                    "keyid": "",
                }
            ],
        },
    }
    return (json.dumps(bundle, separators=(",", ":")) + "\n").encode()


def _object(value: Any, what: str, required: Sequence[str], optional: Sequence[str] = ()) -> Any:
    if not isinstance(value, dict):
        raise DocumentError(f"{what} is not a JSON object")
    missing = [k for k in required if k not in value]
    if missing:
        raise DocumentError(f"{what} has no {missing[0]!r}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:  # the Sigstore bundle is parsed strictly by model_signing too
        raise DocumentError(f"{what} has an unknown field {unknown[0]!r}")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise DocumentError(f"{what} is not a string")
    return value


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(_string(value, what), validate=True)
    except binascii.Error as exc:
        raise DocumentError(f"{what} is not base64") from exc


def _safe_name(name: str) -> bool:
    return (
        bool(name)
        and not name.startswith("/")
        and posixpath.normpath(name) == name
        and ".." not in name.split("/")
        and not any(ord(c) < 32 for c in name)
    )


def parse_signature(data: bytes, what: str = "bundle.sig") -> Signed:
    """A model signing v1.0 signature file, parsed strictly. DocumentError says what is
    wrong; nothing is verified here."""
    bundle = _object(
        load_json(data, what), what, ("mediaType", "verificationMaterial", "dsseEnvelope")
    )
    if bundle["mediaType"] != BUNDLE_MEDIA_TYPE:
        raise DocumentError(f"{what}: mediaType is not {BUNDLE_MEDIA_TYPE}")
    material = bundle["verificationMaterial"]
    if isinstance(material, dict) and "publicKey" not in material:
        raise DocumentError(
            f"{what} is not signed with a key (a certificate or keyless signature): "
            "promote-gate verifies key-based signatures"
        )
    material = _object(material, f"{what}: verificationMaterial", ("publicKey",), ("tlogEntries",))
    public = _object(material["publicKey"], f"{what}: publicKey", (), ("hint",))
    hint = public.get("hint")
    if hint is not None and not _HEX64.fullmatch(_string(hint, f"{what}: the key hint")):
        raise DocumentError(f"{what}: the key hint is not a sha256")
    envelope = _object(
        bundle["dsseEnvelope"], f"{what}: dsseEnvelope", ("payload", "payloadType", "signatures")
    )
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise DocumentError(f"{what}: payloadType is not {PAYLOAD_TYPE}")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise DocumentError(f"{what} must carry exactly one signature")
    one = _object(signatures[0], f"{what}: the signature", ("sig",), ("keyid",))
    payload = _b64(envelope["payload"], f"{what}: the payload")
    statement = _object(
        load_json(payload, f"{what}: the signed statement"),
        f"{what}: the signed statement",
        ("_type", "subject", "predicateType", "predicate"),
    )
    if statement["_type"] != STATEMENT_TYPE or statement["predicateType"] != MODEL_SIGNATURE:
        raise DocumentError(f"{what} is not an in-toto statement of type {MODEL_SIGNATURE}")
    subjects = statement["subject"]
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise DocumentError(f"{what}: the statement must have exactly one subject")
    subject = _object(subjects[0], f"{what}: the subject", ("name", "digest"))
    digest = _object(subject["digest"], f"{what}: the subject's digest", ("sha256",))
    root = _string(digest["sha256"], f"{what}: the subject's sha256")
    predicate = _predicate(statement["predicate"], what)
    serial = _object(
        predicate["serialization"],
        f"{what}: serialization",
        ("method", "hash_type"),
        ("allow_symlinks", "ignore_paths"),
    )
    if serial["method"] != "files" or serial["hash_type"] != "sha256":
        raise DocumentError(f"{what}: only serialization method 'files' with sha256 is read")
    ignore = serial.get("ignore_paths", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise DocumentError(f"{what}: ignore_paths is not a list of paths")
    resources: dict[str, str] = {}
    listed = predicate["resources"]
    if not isinstance(listed, list) or not listed:
        raise DocumentError(f"{what} signs no file")
    digests = []
    for item in listed:
        entry = _object(item, f"{what}: a resource", ("name", "algorithm", "digest"))
        name = _string(entry["name"], f"{what}: a resource name")
        sha = _string(entry["digest"], f"{what}: the digest of {name!r}")
        if entry["algorithm"] != "sha256" or not _HEX64.fullmatch(sha):
            raise DocumentError(f"{what}: {name!r} is not signed by its sha256")
        if not _safe_name(name):
            raise DocumentError(f"{what} names {name!r}, which is not a path inside the bundle")
        if name in resources:
            raise DocumentError(f"{what} names {name!r} twice")
        resources[name] = sha
        digests.append(sha)
    if root != root_digest(digests):
        raise DocumentError(f"{what}: the subject's digest is not the digest of its files")
    facts = predicate.get("promote_gate")
    return Signed(
        hint=hint,
        payload=payload,
        signature=_b64(one["sig"], f"{what}: the signature"),
        subject=_string(subject["name"], f"{what}: the subject's name"),
        root=root,
        resources=resources,
        ignore_paths=tuple(ignore),
        facts=facts if isinstance(facts, dict) else {},
    )


def _predicate(value: Any, what: str) -> Any:
    """The predicate: its two fields read, others ignored as the format says."""
    if not isinstance(value, dict):
        raise DocumentError(f"{what}: the predicate is not a JSON object")
    for key in ("serialization", "resources"):
        if key not in value:
            raise DocumentError(f"{what}: the predicate has no {key!r}")
    return value


def signer(signed: Signed, keys: Sequence[PublicKey]) -> tuple[PublicKey | None, str, str]:
    """Who signed it: (the key, "", "") when one of ``keys`` verifies it; else (None, kind,
    why) with kind "untrusted" (no key given is the one it names) or "invalid" (the key
    it names does not verify it: the statement was altered or the signature forged)."""
    named = [k for k in keys if k.hint == signed.hint] if signed.hint else list(keys)
    for key in named:
        if verifies(key, PAYLOAD_TYPE, signed.payload, signed.signature):
            return key, "", ""
    if signed.hint is None:
        return None, "untrusted", "it carries no key hint, and no trusted key verifies it"
    if not named:
        return (
            None,
            "untrusted",
            f"signed by a key that is not trusted (key hint {signed.hint[:16]}…)",
        )
    return (
        None,
        "invalid",
        (
            f"the signature does not verify under {named[0].name}, the key it names: "
            "the signed statement was altered or the signature forged"
        ),
    )
