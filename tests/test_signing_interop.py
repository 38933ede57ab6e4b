"""``sign`` / ``verify --key`` against the stock OpenSSF model signing verifier and openssl.

Every case signs publish/v1 of a real DVC project with ``promote-gate sign``, changes the
bundle the way a consumer's copy could be changed, and asks both verifiers: the stock
``model_signing verify key`` (the CLI installed beside this interpreter) and
``promote-gate verify DIR --key PUB``. Where the two agree, the table says so once; where
promote-gate is deliberately stricter, the stock verdict is asserted too, so a change in
either side shows up. Copies are made twice: the repository's own publish/v1 (with
model.json.dvc and DVC's .gitignore) and a pointer-less copy, as ``dvc get`` delivers it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate  # type: ignore[import-not-found, unused-ignore]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from promote_gate.errors import MAX_DOCUMENT_BYTES
from promote_gate.signing import PAYLOAD_TYPE, key_pem, payload_bytes, root_digest, sign_pae

STOCK = Path(sys.executable).parent / "model_signing"  # model_signing 1.1.1 (+ pyopenssl)
PASSWORD = "PROMOTE_GATE_KEY_PASSWORD"  # noqa: S105 (the variable's name)
COPIES = ("repo", "pointer-less")

Mutation = Callable[[Path], object]
Edit = Callable[[dict[str, Any]], object]
Writer = Callable[[Path, "Signer"], object]  # makes bundle.sig (or what stands there)


# --------------------------------------------------------------------------- the tables


def _write(name: str, text: str) -> Mutation:
    return lambda b: (b / name).write_text(text)


def _append(name: str, text: str) -> Mutation:
    return lambda b: (b / name).write_text((b / name).read_text() + text)


def _remove(name: str) -> Mutation:
    return lambda b: (b / name).unlink()


def _reverse_sha256sums(bundle: Path) -> None:
    """The same sums in another order: still valid, but not the bytes that were signed."""
    lines = (bundle / "SHA256SUMS").read_text().splitlines(keepends=True)
    (bundle / "SHA256SUMS").write_text("".join(reversed(lines)))


def _envelope(edit: Edit) -> Mutation:
    """Edit bundle.sig's JSON outside the signed payload (the signature stays valid)."""

    def mutate(bundle: Path) -> None:
        doc = json.loads((bundle / "bundle.sig").read_text())
        edit(doc)
        (bundle / "bundle.sig").write_text(json.dumps(doc))

    return mutate


def _payload_digest_edited(bundle: Path) -> None:
    """One resource digest changed in the payload (subject recomputed), the old sig kept."""
    doc = json.loads((bundle / "bundle.sig").read_text())
    statement = statement_of(doc)
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    fix_root(statement)
    doc["dsseEnvelope"]["payload"] = base64.b64encode(payload_bytes(statement)).decode()
    (bundle / "bundle.sig").write_text(json.dumps(doc))


def _git_dir(bundle: Path) -> None:
    (bundle / ".git").mkdir()
    (bundle / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutation | None
    stock_accepts: bool
    codes: frozenset[str]  # promote-gate's failing codes
    other_key: bool = False  # verify with a key that did not sign
    copies: tuple[str, ...] = COPIES


def _codes(*codes: str) -> frozenset[str]:
    return frozenset(codes)


# Both verifiers agree on the verdict; the codes are promote-gate's (one defect, one code).
AGREE = [
    Case("unchanged", None, True, _codes()),
    Case("model.json edited", _append("model.json", " "), False, _codes("PG104")),
    Case("notes.txt added", _write("notes.txt", "added\n"), False, _codes("PG103")),
    Case("metrics.json removed", _remove("metrics.json"), False, _codes("PG401")),
    Case("model.json removed", _remove("model.json"), False, _codes("PG102")),
    Case("SHA256SUMS reordered", _reverse_sha256sums, False, _codes("PG602")),
    Case("payload digest edited", _payload_digest_edited, False, _codes("PG602")),
    Case("another key", None, False, _codes("PG603"), other_key=True),
    Case(
        "mediaType changed",
        _envelope(lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle+json")),
        False,
        _codes("PG602"),
    ),
    Case("symlink added", lambda b: (b / "link").symlink_to("model.json"), False, _codes("PG103")),
    Case("empty directory added", lambda b: (b / "empty").mkdir(), True, _codes()),
    Case(
        "key hint removed",
        _envelope(lambda d: d["verificationMaterial"]["publicKey"].pop("hint")),
        True,
        _codes(),
    ),
    Case(
        "keyid set",
        _envelope(lambda d: d["dsseEnvelope"]["signatures"][0].update(keyid="k1")),
        True,
        _codes(),
    ),
    Case("pointer removed", _remove("model.json.dvc"), True, _codes(), copies=("repo",)),
]

# promote-gate is deliberately stricter: the stock verifier accepts, promote-gate does not.
STRICTER = [
    Case(".gitattributes added", _write(".gitattributes", "* -text\n"), True, _codes("PG103")),
    Case(".git/ added", _git_dir, True, _codes("PG103")),
    Case(
        "pointer edited",
        lambda b: (b / "model.json.dvc").write_text(
            (b / "model.json.dvc").read_text().replace("md5: ", "md5: 0")
        ),
        True,
        _codes("PG104"),
        copies=("repo",),
    ),
    Case(
        "a second signature",
        _envelope(lambda d: d["dsseEnvelope"]["signatures"].append({"sig": "AAAA", "keyid": ""})),
        True,
        _codes("PG602"),
    ),
]


def _table(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(case, copy, id=f"{case.name}-{copy}") for case in cases for copy in case.copies
    ]


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Signer:
    key: Any  # the private key object (cryptography)
    private: Path  # its PEM
    public: Path  # the public key's PEM


def make_key(
    where: Path,
    name: str,
    curve: ec.EllipticCurve | None = None,
    password: bytes | None = None,
) -> Signer:
    """A fresh EC key (P-256 unless told), PKCS#8 PEM, encrypted when given a password."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    return write_key(where, name, key, password)


def write_key(where: Path, name: str, key: Any, password: bytes | None = None) -> Signer:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    private = where / f"{name}.key"
    public = where / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Signer(key, private, public)


def sign(gate: Gate, repo: Path, signer: Signer) -> Path:
    """``promote-gate sign v1``: publish/v1 with its bundle.sig."""
    code, out, err = gate("sign", "v1", "--key", str(signer.private), "--repo", str(repo))
    assert code == 0, (out, err)
    bundle = repo / "publish" / "v1"
    assert (bundle / "bundle.sig").is_file()
    return bundle


def copy_of(bundle: Path, copy: str, dest: Path) -> Path:
    """The bundle itself ("repo") or a pointer-less copy: no .dvc, no .gitignore."""
    if copy == "repo":
        return bundle
    shutil.copytree(
        bundle,
        dest,
        ignore=lambda _, names: [n for n in names if n.endswith(".dvc") or n == ".gitignore"],
    )
    assert not (dest / "model.json.dvc").exists()
    assert (dest / "model.json").is_file()
    return dest


def stock(bundle: Path, public: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert STOCK.is_file(), f"{STOCK}: install model_signing and pyopenssl in this venv"
    argv = [str(STOCK), "verify", "key", str(bundle), "--signature", str(bundle / "bundle.sig")]
    return subprocess.run(
        [*argv, "--public_key", str(public), *extra],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def stock_accepts(bundle: Path, public: Path, *extra: str) -> bool:
    proc = stock(bundle, public, *extra)
    assert proc.returncode in {0, 1}, (proc.stdout, proc.stderr)
    if proc.returncode == 0:
        assert "Verification succeeded" in proc.stdout, (proc.stdout, proc.stderr)
    return proc.returncode == 0


@dataclass(frozen=True)
class Ours:
    code: int
    failed: set[str]
    text: str


def ours(gate: Gate, bundle: Path, *keys: Path, flag: str = "--key") -> Ours:
    """``promote-gate verify DIR --key PUB``: exit code, failing codes, the text report."""
    argv = ["verify", str(bundle)]
    for key in keys:
        argv += [flag, str(key)]
    code, out, err = gate(*argv)
    assert "Traceback" not in out + err
    failed = gate.failed_codes(*argv)
    return Ours(code, failed, out + err)


def statement_of(doc: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    return statement


def fix_root(statement: dict[str, Any]) -> None:
    """The subject's digest over the resources as listed (what both verifiers recompute)."""
    digests = [r["digest"] for r in statement["predicate"]["resources"]]
    statement["subject"][0]["digest"]["sha256"] = root_digest(digests)


def forge(bundle: Path, signer: Signer, edit: Edit) -> None:
    """bundle.sig over an edited statement, validly signed by ``signer``: what a holder of
    the trusted key (or a compromised signing job) could produce."""
    doc = json.loads((bundle / "bundle.sig").read_text())
    statement = statement_of(doc)
    edit(statement)
    fix_root(statement)
    payload = payload_bytes(statement)
    doc["verificationMaterial"]["publicKey"]["hint"] = key_pem(signer.key).hint
    doc["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    sig = sign_pae(signer.key, PAYLOAD_TYPE, payload)
    doc["dsseEnvelope"]["signatures"] = [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]
    (bundle / "bundle.sig").write_text(json.dumps(doc))


# --------------------------------------------------------------------------- 1. differential


@pytest.mark.parametrize(("case", "copy"), _table(AGREE))
def test_stock_and_promote_gate_agree(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case, copy: str
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release")
    other = make_key(tmp_path, "other")
    bundle = copy_of(sign(gate, repo, signer), copy, tmp_path / "download" / "v1")
    if case.mutate is not None:
        case.mutate(bundle)
    trusted = (other if case.other_key else signer).public

    stock_verdict = stock_accepts(bundle, trusted)
    verdict = ours(gate, bundle, trusted)

    assert stock_verdict is case.stock_accepts
    assert (verdict.code == 0) is stock_verdict, verdict.text
    assert verdict.failed == case.codes, verdict.text


@pytest.mark.parametrize(("case", "copy"), _table(STRICTER))
def test_promote_gate_is_stricter(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case, copy: str
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release")
    bundle = copy_of(sign(gate, repo, signer), copy, tmp_path / "download" / "v1")
    assert case.mutate is not None
    case.mutate(bundle)

    assert stock_accepts(bundle, signer.public) is case.stock_accepts
    verdict = ours(gate, bundle, signer.public)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == case.codes, verdict.text


# --------------------------------------------------------------------------- 2. keys


@pytest.mark.parametrize(
    ("curve", "password"),
    [
        pytest.param(ec.SECP384R1(), None, id="P-384"),
        pytest.param(ec.SECP521R1(), None, id="P-521"),
        pytest.param(ec.SECP256R1(), b"correct horse", id="P-256-encrypted"),
        pytest.param(ec.SECP384R1(), b"pw384", id="P-384-encrypted"),
    ],
)
def test_other_curves_and_encrypted_keys_verify(
    repo: Path,
    gate: Gate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    curve: ec.EllipticCurve,
    password: bytes | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release", curve, password)
    if password is not None:
        assert b"ENCRYPTED" in signer.private.read_bytes()
        monkeypatch.setenv(PASSWORD, password.decode())
    bundle = sign(gate, repo, signer)
    for copy in COPIES:
        where = copy_of(bundle, copy, tmp_path / "download" / "v1")
        assert stock_accepts(where, signer.public), copy
        verdict = ours(gate, where, signer.public)
        assert (verdict.code, verdict.failed) == (0, set()), verdict.text


def test_encrypted_key_without_the_variable_is_a_usage_error(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(PASSWORD, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal to ask on, as in CI
    signer = make_key(tmp_path, "release", password=b"secret")
    code, out, err = gate("sign", "v1", "--key", str(signer.private), "--repo", str(repo))
    assert code == 2, (out, err)
    assert PASSWORD in err
    assert "Traceback" not in out + err
    assert not (repo / "publish" / "v1" / "bundle.sig").exists()


def test_wrong_password_is_a_usage_error(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PASSWORD, "not it")
    signer = make_key(tmp_path, "release", password=b"secret")
    code, out, err = gate("sign", "v1", "--key", str(signer.private), "--repo", str(repo))
    assert code == 2, (out, err)
    assert "wrong password" in err
    assert "Traceback" not in out + err
    assert not (repo / "publish" / "v1" / "bundle.sig").exists()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(ed25519.Ed25519PrivateKey.generate, id="Ed25519"),
        pytest.param(lambda: rsa.generate_private_key(65537, 2048), id="RSA"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), id="secp256k1"),
    ],
)
def test_keys_model_signing_cannot_use_are_refused(
    repo: Path,
    gate: Gate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], PrivateKeyTypes],
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = write_key(tmp_path, "odd", make())
    code, out, err = gate("sign", "v1", "--key", str(signer.private), "--repo", str(repo))
    assert code == 2, (out, err)
    assert "EC P-256, P-384 or P-521" in err
    assert "Traceback" not in out + err
    assert not (repo / "publish" / "v1" / "bundle.sig").exists()
    code, out, err = gate("verify", str(repo / "publish" / "v1"), "--key", str(signer.public))
    assert code == 2, (out, err)
    assert "EC P-256, P-384 or P-521" in err
    assert "Traceback" not in out + err


# --------------------------------------------------------------------------- 3. openssl


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
@pytest.mark.parametrize(
    ("curve", "digest"),
    [
        pytest.param(ec.SECP256R1(), "-sha256", id="P-256"),
        pytest.param(ec.SECP384R1(), "-sha384", id="P-384"),
    ],
)
def test_openssl_verifies_the_envelope(
    repo: Path,
    gate: Gate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    curve: ec.EllipticCurve,
    digest: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release", curve)
    doc = json.loads((sign(gate, repo, signer) / "bundle.sig").read_text())
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"])
    (tmp_path / "sig.der").write_bytes(
        base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"])
    )

    def openssl(payload: bytes, public: Path) -> subprocess.CompletedProcess[str]:
        pae = b"DSSEv1 28 application/vnd.in-toto+json %d %s" % (len(payload), payload)
        (tmp_path / "pae").write_bytes(pae)
        argv = ["openssl", "dgst", digest, "-verify", str(public), "-signature", "sig.der", "pae"]
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)

    good = openssl(payload, signer.public)
    assert (good.returncode, good.stdout.strip()) == (0, "Verified OK"), good.stderr
    forged = payload.replace(b'"bundle":"v1"', b'"bundle":"v9"')
    assert forged != payload
    altered = openssl(forged, signer.public)
    assert altered.returncode == 1
    assert "Verification failure" in altered.stdout + altered.stderr
    stranger = openssl(payload, make_key(tmp_path, "other", curve).public)
    assert stranger.returncode == 1


# --------------------------------------------------------------------------- 4. hostile bundle.sig


def _resources(edit: Callable[[list[dict[str, Any]]], None]) -> Edit:
    return lambda statement: edit(statement["predicate"]["resources"])


def _sign_nothing(statement: dict[str, Any]) -> None:
    statement["predicate"]["resources"] = []
    statement["predicate"]["serialization"]["ignore_paths"] = ["."]


def _leave_model_unsigned(statement: dict[str, Any]) -> None:
    predicate = statement["predicate"]
    predicate["resources"] = [r for r in predicate["resources"] if r["name"] != "model.json"]
    predicate["serialization"]["ignore_paths"].append("model.json")


def _claim_blake2(statement: dict[str, Any]) -> None:
    statement["predicate"]["serialization"]["hash_type"] = "blake2"


@dataclass(frozen=True)
class Hostile:
    name: str
    write: Writer
    stock_accepts: bool
    message: str  # what promote-gate's report says (PG602's finding)


def _text(text: str) -> Writer:
    return lambda b, _: (b / "bundle.sig").write_text(text)


def _forged(edit: Edit) -> Writer:
    return lambda b, signer: forge(b, signer, edit)


HOSTILE = [
    Hostile("not JSON", _text("this is not JSON\n"), False, "bundle.sig is not valid JSON"),
    Hostile("a JSON list", _text("[1, 2]\n"), False, "bundle.sig is not a JSON object"),
    Hostile(
        "an object without the envelope",
        _text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}\n'),
        False,
        "has no 'verificationMaterial'",
    ),
    Hostile(
        "an unknown top-level field",
        lambda b, _: _envelope(lambda d: d.update(comment="hi"))(b),
        False,
        "unknown field 'comment'",
    ),
    # forged: validly signed by the trusted key
    Hostile(
        "an absolute name",
        _forged(_resources(lambda r: r.append({**r[0], "name": "/etc/hostname"}))),
        False,
        "names '/etc/hostname', which is not a path inside the bundle",
    ),
    Hostile(
        "a duplicated resource",
        _forged(_resources(lambda r: r.append(dict(r[0])))),
        True,
        "names 'SHA256SUMS' twice",
    ),
    Hostile(
        "an unnormalised name",
        _forged(_resources(lambda r: r[0].update(name="./" + r[0]["name"]))),
        True,
        "names './SHA256SUMS', which is not a path inside the bundle",
    ),
    Hostile("no resources, ignore_paths ['.']", _forged(_sign_nothing), True, "signs no file"),
    Hostile(
        "model.json in ignore_paths",
        _forged(_leave_model_unsigned),
        True,
        "leaves 'model.json' unsigned",
    ),
    Hostile("hash_type blake2", _forged(_claim_blake2), True, "only serialization method 'files'"),
]


@pytest.fixture
def signed_copy(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Signer]:
    """A pointer-less copy of the signed publish/v1 and the key that signed it."""
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release")
    bundle = copy_of(sign(gate, repo, signer), "pointer-less", tmp_path / "download" / "v1")
    return bundle, signer


@pytest.mark.parametrize("hostile", [pytest.param(h, id=h.name) for h in HOSTILE])
def test_hostile_signature_file(
    signed_copy: tuple[Path, Signer], gate: Gate, hostile: Hostile
) -> None:
    bundle, signer = signed_copy
    hostile.write(bundle, signer)
    assert stock_accepts(bundle, signer.public) is hostile.stock_accepts
    verdict = ours(gate, bundle, signer.public)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG602"}, verdict.text
    assert hostile.message in verdict.text


def test_a_signature_of_nothing_passes_any_directory_with_the_stock_verifier(
    signed_copy: tuple[Path, Signer], gate: Gate, tmp_path: Path
) -> None:
    """resources [] and ignore_paths ["."]: the stock verifier accepts it on anything."""
    bundle, signer = signed_copy
    forge(bundle, signer, _sign_nothing)
    anything = tmp_path / "anything"
    anything.mkdir()
    (anything / "payload.bin").write_bytes(b"\x7fELF not the model")
    shutil.copy(bundle / "bundle.sig", anything / "bundle.sig")
    assert stock_accepts(anything, signer.public)
    (bundle / "model.json").write_text("{}\n")
    assert stock_accepts(bundle, signer.public)
    verdict = ours(gate, bundle, signer.public)
    assert verdict.failed == {"PG104", "PG602"}, verdict.text


def test_signature_file_over_the_size_bound(signed_copy: tuple[Path, Signer], gate: Gate) -> None:
    bundle, signer = signed_copy
    with (bundle / "bundle.sig").open("ab") as fobj:
        fobj.write(b" " * (MAX_DOCUMENT_BYTES + 1))
    verdict = ours(gate, bundle, signer.public)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG602"}, verdict.text
    assert "bundle.sig is larger than the 16777216 bytes read as a document" in verdict.text


def test_resource_outside_the_bundle_is_never_read(
    signed_copy: tuple[Path, Signer], gate: Gate
) -> None:
    bundle, signer = signed_copy
    outside = bundle.parent / "outside.txt"
    outside.write_text("not part of the release\n")
    entry = {
        "name": "../outside.txt",
        "algorithm": "sha256",
        "digest": hashlib.sha256(outside.read_bytes()).hexdigest(),
    }
    forge(bundle, signer, _resources(lambda r: r.append(entry)))
    # the stock verifier reads it when told to ignore unsigned files: it matters there
    assert stock_accepts(bundle, signer.public, "--ignore_unsigned_files")
    assert not stock_accepts(bundle, signer.public)
    present = ours(gate, bundle, signer.public)
    outside.unlink()
    assert not stock_accepts(bundle, signer.public, "--ignore_unsigned_files")
    absent = ours(gate, bundle, signer.public)

    assert present == absent
    assert present.code == 1, present.text
    assert present.failed == {"PG602"}, present.text
    assert "names '../outside.txt', which is not a path inside the bundle" in present.text


@pytest.mark.parametrize("target", ["valid signature", "nothing"])
def test_symlink_at_bundle_sig_is_not_followed(
    signed_copy: tuple[Path, Signer], gate: Gate, tmp_path: Path, target: str
) -> None:
    bundle, signer = signed_copy
    elsewhere = tmp_path / "elsewhere.sig"
    (bundle / "bundle.sig").rename(elsewhere)
    if target == "nothing":
        elsewhere.unlink()
    (bundle / "bundle.sig").symlink_to(elsewhere)

    assert not stock_accepts(bundle, signer.public)
    verdict = ours(gate, bundle, signer.public)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG602"}, verdict.text
    assert "bundle.sig is a symlink, not a file" in verdict.text


def test_sign_replaces_a_symlinked_bundle_sig_without_writing_through_it(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me\n")
    (repo / "publish" / "v1" / "bundle.sig").symlink_to(elsewhere)
    bundle = sign(gate, repo, signer)
    assert elsewhere.read_text() == "keep me\n"
    assert not (bundle / "bundle.sig").is_symlink()
    assert stock_accepts(bundle, signer.public)


@pytest.mark.parametrize("kind", ["directory", "FIFO"])
def test_no_regular_file_at_bundle_sig_is_unsigned(
    signed_copy: tuple[Path, Signer], gate: Gate, kind: str
) -> None:
    """A directory or FIFO is no file (README, hostile input): the bundle is not signed."""
    bundle, signer = signed_copy
    (bundle / "bundle.sig").unlink()
    if kind == "directory":
        (bundle / "bundle.sig").mkdir()
        assert not stock_accepts(bundle, signer.public)
    else:
        os.mkfifo(bundle / "bundle.sig")  # the stock verifier would wait on it: not run
    verdict = ours(gate, bundle, signer.public)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG601"}, verdict.text
    assert "the bundle is not signed" in verdict.text


@pytest.mark.parametrize("name", ["report.md.dvc", "SHA256SUMS.dvc", "bundle.sig.dvc"])
def test_a_pointer_named_after_a_document_is_unlisted_content(
    signed_copy: tuple[Path, Signer], gate: Gate, name: str
) -> None:
    bundle, signer = signed_copy
    (bundle / name).write_bytes(b"#!/bin/sh\nanything at all\n")
    assert not stock_accepts(bundle, signer.public)  # "Extra files found in model"
    verdict = ours(gate, bundle, signer.public)
    assert verdict.failed == {"PG103"}, verdict.text


# --------------------------------------------------------------------------- 5. allowed signers


@pytest.mark.parametrize("signed_by", ["first", "second", "neither"])
def test_allowed_signers_file(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed_by: str
) -> None:
    monkeypatch.chdir(tmp_path)
    first, second, third = (make_key(tmp_path, n) for n in ("first", "second", "third"))
    allowed = tmp_path / "allowed_signers.pem"
    allowed.write_bytes(first.public.read_bytes() + second.public.read_bytes())
    signer = {"first": first, "second": second, "neither": third}[signed_by]
    bundle = sign(gate, repo, signer)

    verdict = ours(gate, bundle, allowed, flag="--allowed-signers")
    if signed_by == "neither":
        assert (verdict.code, verdict.failed) == (1, {"PG603"}), verdict.text
    else:
        assert (verdict.code, verdict.failed) == (0, set()), verdict.text
        assert stock_accepts(bundle, signer.public)


# --------------------------------------------------------------------------- 6. signed again


def test_signed_twice_is_still_accepted(
    repo: Path, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    signer = make_key(tmp_path, "release")
    sign(gate, repo, signer)
    code, out, err = gate("sign", "v1", "--key", str(signer.private), "--repo", str(repo))
    assert code == 0, (out, err)
    assert out.startswith("Signed again publish/v1: 7 files"), out
    bundle = repo / "publish" / "v1"
    for copy in COPIES:
        where = copy_of(bundle, copy, tmp_path / "download" / "v1")
        assert stock_accepts(where, signer.public), copy
        verdict = ours(gate, where, signer.public)
        assert (verdict.code, verdict.failed) == (0, set()), verdict.text
