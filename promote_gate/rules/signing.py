"""PG6xx: signed releases. ``bundle.sig`` (model signing v1.0) is by a trusted key and
signs exactly what the bundle declares: every file SHA256SUMS lists, and SHA256SUMS."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator

from promote_gate.bundle import SIGNATURE, parse_sha256sums
from promote_gate.facts import BundleFacts
from promote_gate.rules.base import Finding, NotApplicable, Outcome, Rule
from promote_gate.rules.integrity import listed_files
from promote_gate.signing import Signed
from promote_gate.yamlio import DocumentError

# what model_signing leaves unsigned at a model's top by default, besides the signature
_GIT_NAMES = (".git", ".gitattributes", ".github", ".gitignore")
MAX_SHOWN = 20  # differences named one by one; the rest are counted


def declared(facts: BundleFacts) -> dict[str, str] | None:
    """What a signature of the bundle must sign (name -> sha256): the files SHA256SUMS
    lists, and SHA256SUMS itself; None when SHA256SUMS cannot be read (PG106's finding).
    The other rules hold the files to these digests (PG104, PG106), so each defect has
    one code: a file edited is PG104, a signature over other content is PG602."""
    doc = facts.docs["checksums"]
    if not doc.present or doc.error or doc.digest is None or not isinstance(doc.value, str):
        return None
    try:
        sums = parse_sha256sums(doc.value)
    except DocumentError:
        return None
    return {**sums, doc.name: doc.digest.sha256}


def companions(names: Iterable[str]) -> set[str]:
    """What DVC keeps beside each file it stores: the ``.dvc`` pointer, and the
    ``.gitignore`` in its directory — never in a copy made by ``dvc get``, so never signed."""
    found = set()
    for name in names:
        found.add(name + ".dvc")
        folder = posixpath.dirname(name)
        found.add(f"{folder}/.gitignore" if folder else ".gitignore")
    return found


def may_ignore(promoted: Iterable[str]) -> set[str]:
    """What a signature may leave unsigned: bundle.sig, the names model_signing skips at
    the top, and what DVC keeps beside each promoted file."""
    return {SIGNATURE, *_GIT_NAMES} | companions(promoted)


def _signature_missing(facts: BundleFacts) -> Iterator[Outcome]:
    sig = facts.signature
    if sig is None or not sig.required or sig.doc.present:
        return
    if facts.release is not None and facts.release.released:
        yield NotApplicable("released before a signature was required: signing it is allowed")
        return
    trusted = ", ".join(sig.keys)
    yield Finding(
        facts.repo_path(SIGNATURE),
        f"the bundle is not signed: a signature by a trusted key ({trusted}) is required",
    )


def _signature_invalid(facts: BundleFacts) -> Iterator[Outcome]:
    sig = facts.signature
    if sig is None:
        return
    if not sig.doc.present:
        yield NotApplicable("the bundle is not signed (no bundle.sig)")
        return
    where = facts.repo_path(SIGNATURE)
    if sig.doc.error is not None:
        yield Finding(where, sig.doc.error)
        return
    if sig.problem == "invalid":
        yield Finding(where, sig.why)
        return
    if sig.problem == "untrusted":
        return  # PG603: what an untrusted key signed says nothing
    signed: Signed = sig.doc.value
    expected = declared(facts)
    if expected is None:
        yield NotApplicable("SHA256SUMS cannot be read (PG106): what is signed cannot be told")
        return
    problems = [
        Finding(where, f"does not sign {name}, which the bundle declares")
        for name in sorted(expected.keys() - signed.resources.keys())
    ]
    problems += [
        Finding(where, f"signs {name}, which the bundle does not declare")
        for name in sorted(signed.resources.keys() - expected.keys())
    ]
    problems += [
        Finding(
            where,
            f"signs other content for {name} than the bundle declares",
            expected[name],
            signed.resources[name],
        )
        for name in sorted(expected.keys() & signed.resources.keys())
        if expected[name] != signed.resources[name]
    ]
    allowed = may_ignore(str(e.get("path")) for e in listed_files(facts))
    problems += [
        Finding(
            where,
            f"leaves {path!r} unsigned: only bundle.sig, .dvc pointers and the .gitignore "
            "files DVC writes may be",
        )
        for path in signed.ignore_paths
        if path.strip("/") not in allowed
    ]
    yield from problems[:MAX_SHOWN]
    if len(problems) > MAX_SHOWN:  # a signature of another bundle differs in every name
        yield Finding(where, f"and {len(problems) - MAX_SHOWN} more differences from the bundle")
    if not problems and not sig.keys:
        yield NotApplicable(
            "no trusted key given: the signature matches the bundle, but who signed it is not "
            "checked (verify --key KEY.pem)"
        )


def _signature_untrusted(facts: BundleFacts) -> Iterator[Outcome]:
    sig = facts.signature
    if sig is None or (sig.doc.present and sig.doc.error):
        return  # PG602: what cannot be read names no signer
    if not sig.doc.present:
        yield NotApplicable("the bundle is not signed (no bundle.sig)")
        return
    if not sig.keys:
        yield NotApplicable("no trusted key given (signing.keys, or verify --key)")
        return
    if sig.problem == "untrusted":
        yield Finding(facts.repo_path(SIGNATURE), f"{sig.why}; trusted: {', '.join(sig.keys)}")


_SIGNATURE = frozenset({"signature"})
RULES = (
    Rule(
        code="PG601",
        name="signature-missing",
        summary="a new bundle has no bundle.sig where the policy requires signing "
        "(signing.required), or verify was given --key and the bundle is unsigned",
        rationale="Anyone who can write the files can write a matching manifest and "
        "SHA256SUMS; only a signature says who released the bundle.",
        fix="Sign it: `promote-gate sign VERSION --key release.key`, then commit bundle.sig.",
        example="publish/v3/ is pushed to main without publish/v3/bundle.sig, and the policy "
        "says `signing: {required: true, keys: [keys/release.pub]}`.",
        check=_signature_missing,
        needs_repo=False,
        needs_manifest=False,
        evidence=_SIGNATURE,
    ),
    Rule(
        code="PG602",
        name="signature-invalid",
        summary="bundle.sig is not a model signing v1.0 signature promote-gate can read (not a "
        "regular file, too large, malformed), does not verify under the key it names, or "
        "signs other files or content than the bundle declares (SHA256SUMS and every file it "
        "lists)",
        rationale="A signature over other content vouches for nothing in this bundle: the "
        "bundle was changed after signing, or the signature was made for another one.",
        fix="Sign the bundle as it is (`promote-gate sign VERSION --key release.key`); a "
        "released bundle's content never changes, cut a new version instead.",
        example="publish/v2/bundle.sig is copied from publish/v1/, or its payload was edited.",
        check=_signature_invalid,
        needs_repo=False,
        needs_manifest=False,
        evidence=_SIGNATURE,
    ),
    Rule(
        code="PG603",
        name="signature-untrusted",
        summary="bundle.sig is signed by a key the policy at the base (signing.keys) or "
        "verify's --key does not trust",
        rationale="A signature proves who signed only if that key is trusted before the "
        "change: a change that brings its own key could sign its own release.",
        fix="Sign with a trusted key; to trust a new key, add it to signing.keys in a change "
        "of its own, merged before the release it signs.",
        example="a branch adds keys/mine.pub to signing.keys and signs publish/v3 with it.",
        check=_signature_untrusted,
        needs_repo=False,
        needs_manifest=False,
        evidence=_SIGNATURE,
    ),
)
