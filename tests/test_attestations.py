"""in-toto attestations, judged by the reference implementations rather than by our own
reader: ``promote-gate attest`` (a Statement v1 in a DSSE envelope, ``.intoto.jsonl``) and
``promote-gate ci --attest`` (a Statement with in-toto's Test Result predicate).

The oracles: ``in_toto_attestation`` (the Statement proto and its ``validate()``, the Test
Result predicate proto), ``securesystemslib`` (``dsse.Envelope.verify``, with the key id it
derives itself) and ``cryptography`` (the raw ECDSA check over DSSE's PAE). Every digest is
recomputed from bytes the test reads itself: the workspace, ``git show`` and the DVC remote.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from in_toto_attestation.predicates.test_result.v0 import (  # type: ignore[import-untyped, unused-ignore]
    test_result_pb2,
)
from in_toto_attestation.v1 import statement_pb2  # type: ignore[import-untyped, unused-ignore]
from in_toto_attestation.v1.statement import (  # type: ignore[import-untyped, unused-ignore]
    Statement,
)
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    V2,
    Verdict,
    World,
    ci,
    github_pr,
    github_push,
    gitlab_env,
    release_v2,
)
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import (  # type: ignore[attr-defined, unused-ignore]
    CryptoSigner,
    SSlibKey,
)

from promote_gate.commands.demo import REMOTE
from promote_gate.commands.promote import promote

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
RELEASE_BUNDLE = "https://promote-gate.dev/release-bundle/v0.1"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
MODEL = f"{V1}/model.json"
CURVES: dict[str, tuple[ec.EllipticCurve, hashes.HashAlgorithm]] = {
    "P-256": (ec.SECP256R1(), hashes.SHA256()),
    "P-384": (ec.SECP384R1(), hashes.SHA384()),
}
TEST_NAME = re.compile(r"publish/v\d+:PG\d{3}")


@pytest.fixture(autouse=True)
def contained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No outer CI's variables, no outer password; every write (the hash cache, reports a
    command writes beside itself) lands under tmp_path."""
    for key in list(os.environ):
        if key == "CI" or key.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_")):
            monkeypatch.delenv(key)
    monkeypatch.delenv("PROMOTE_GATE_KEY_PASSWORD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------- keys


class Key:
    """An EC key pair: the private PEM on disk (what ``--key`` takes), the public half."""

    def __init__(self, directory: Path, curve: str, password: bytes | None = None) -> None:
        self.curve = curve
        self.private = ec.generate_private_key(CURVES[curve][0])
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{curve}-{os.urandom(4).hex()}.key"
        self.path.write_bytes(
            self.private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
        )
        self.public = self.private.public_key()
        self.pem = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def sslib(self) -> SSlibKey:
        """The key as securesystemslib builds it (its default key id)."""
        return SSlibKey.from_crypto(self.public)

    def under(self, keyid: str) -> SSlibKey:
        """The key under a key id of our choosing: ``Envelope.verify`` tries a key only on a
        signature with its key id, so this isolates the ECDSA check from the key id's."""
        scheme = {"P-256": "ecdsa-sha2-nistp256", "P-384": "ecdsa-sha2-nistp384"}[self.curve]
        return SSlibKey(keyid, "ecdsa", scheme, {"public": self.pem.decode()})


def signer_keyid(line: str) -> str:
    (sig,) = json.loads(line)["signatures"]
    keyid: str = sig["keyid"]
    return keyid


# --------------------------------------------------------------------------- oracles


def envelope_of(line: str) -> Envelope:
    return Envelope.from_dict(json.loads(line))


def payload_of(line: str) -> bytes:
    return base64.b64decode(json.loads(line)["payload"], validate=True)


def strict_json(text: bytes | str) -> Any:
    """JSON as RFC 8259 has it: Python's ``json`` (and so protobuf's ``json_format``) also
    reads NaN and Infinity, which Go's encoding/json, jq and JavaScript reject."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON (RFC 8259)")

    return json.loads(text, parse_constant=refuse)


def validated(payload: bytes | str) -> dict[str, Any]:
    """The Statement, after in-toto's own parser (unknown top-level field: ParseError) and
    ``validate()`` (type, subjects with digests, predicateType, a predicate) accept it."""
    stmt: dict[str, Any] = strict_json(payload)
    pb = json_format.Parse(payload, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    return stmt


def verify_sslib(line: str, *keys: SSlibKey) -> dict[str, Any]:
    verified: dict[str, Any] = envelope_of(line).verify(list(keys), 1)
    return verified


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1's pre-authentication encoding, written from the DSSE spec."""
    kind = payload_type.encode()
    return b"DSSEv1 " + b" ".join(
        [str(len(kind)).encode(), kind, str(len(payload)).encode(), payload]
    )


def verify_raw(line: str, key: Key) -> None:
    """The signature checked with ``cryptography`` alone: DER ECDSA over the PAE, with the
    hash the curve calls for. InvalidSignature when it does not verify."""
    env = json.loads(line)
    (sig,) = env["signatures"]
    key.public.verify(
        base64.b64decode(sig["sig"], validate=True),
        pae(env["payloadType"], base64.b64decode(env["payload"], validate=True)),
        ec.ECDSA(CURVES[key.curve][1]),
    )


def dotted_names(value: Any, where: str = "") -> list[str]:
    """Every object field NAME (not value) containing '.' or '$', anywhere in ``value``."""
    found: list[str] = []
    if isinstance(value, dict):
        for name, inner in value.items():
            if "." in name or "$" in name:
                found.append(f"{where}/{name}")
            found += dotted_names(inner, f"{where}/{name}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += dotted_names(inner, f"{where}[{index}]")
    return found


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (how ``dvc params diff`` names them)."""
    if not isinstance(data, dict) or not data:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out |= flat(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256sums(text: str) -> dict[str, str]:
    return {
        name.lstrip("*"): digest
        for digest, name in (line.split(None, 1) for line in text.splitlines() if line.strip())
    }


# --------------------------------------------------------------------------- attest


def attest(gate: Gate, repo: Path, *extra: str) -> tuple[int, str, str]:
    code, out, err = gate("attest", "v1", "--repo", str(repo), *extra)
    assert "Traceback" not in err
    return code, out, err


def attested_line(gate: Gate, repo: Path, *extra: str) -> str:
    code, out, err = attest(gate, repo, *extra)
    assert code == 0, err
    assert out.endswith("\n")
    assert out.count("\n") == 1, out  # one .intoto.jsonl line
    return out.rstrip("\n")


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return Key(tmp_path_factory.mktemp("other-key"), "P-256")


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_attest_envelope_verifies_with_securesystemslib_and_the_public_key(
    curve: str, repo: Path, tmp_path: Path, gate: Gate
) -> None:
    """A consumer holding only the public key: securesystemslib derives the key id itself
    (``SSlibKey.from_crypto``) and tries the key on the signature carrying that key id."""
    key = Key(tmp_path / "keys", curve)
    line = attested_line(gate, repo, "--key", str(key.path))
    env = json.loads(line)
    assert set(env) == {"payloadType", "payload", "signatures"}
    assert env["payloadType"] == PAYLOAD_TYPE
    (sig,) = env["signatures"]
    assert set(sig) == {"keyid", "sig"}
    verify_raw(line, key)  # the ECDSA signature itself: DER over the PAE, the curve's hash
    assert list(verify_sslib(line, key.under(sig["keyid"]))) == [sig["keyid"]]
    assert sig["keyid"] == key.sslib.keyid, "not securesystemslib's default key id"
    assert list(verify_sslib(line, key.sslib)) == [key.sslib.keyid]


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_attest_statement_validates_and_states_the_bundle(
    curve: str, repo: Path, tmp_path: Path, gate: Gate
) -> None:
    key = Key(tmp_path / "keys", curve)
    line = attested_line(gate, repo, "--key", str(key.path))
    stmt = validated(payload_of(line))
    assert stmt["_type"] == STATEMENT_V1
    assert stmt["predicateType"] == RELEASE_BUNDLE

    # the subjects: the promoted file, digests of the bytes in the workspace
    manifest = json.loads((repo / V1 / "manifest.json").read_bytes())
    data = (repo / MODEL).read_bytes()
    (entry,) = manifest["files"]
    assert stmt["subject"] == [
        {
            "name": MODEL,
            "digest": {"sha256": sha256(data), "md5": entry["md5"]},
        }
    ]
    assert entry["md5"] == hashlib.md5(data).hexdigest()  # DVC 3's md5 of a file: plain md5

    predicate = stmt["predicate"]
    assert dotted_names(predicate) == [], "in-toto: extension field names avoid '.' and '$'"
    assert predicate["bundle"] == {"version": "v1", "path": V1}
    assert predicate["gitCommit"] == manifest["source"]["commit"]
    assert run(repo, "git", "cat-file", "-t", predicate["gitCommit"]).strip() == "commit"
    assert predicate["manifest"]["name"] == f"{V1}/manifest.json"
    assert predicate["manifest"]["digest"] == {
        "sha256": sha256((repo / V1 / "manifest.json").read_bytes())
    }
    assert predicate["dvcLock"]["sha256"] == manifest["source"]["dvc_lock_sha256"]
    assert predicate["dvcLock"]["sha256"] == sha256((repo / V1 / "lock.yaml").read_bytes())
    assert predicate["stages"] == ["train"]

    # params and metrics: lists of {file, key, value}; the dotted names are values
    params = yaml.safe_load((repo / V1 / "params.yaml").read_text())
    expected = [
        {"file": file, "key": k, "value": v}
        for file, inner in params.items()
        for k, v in flat(inner).items()
    ]
    assert sorted(map(json.dumps, predicate["params"])) == sorted(map(json.dumps, expected))
    assert any("." in p["key"] for p in predicate["params"])  # train.lr stays a value
    metrics = json.loads((repo / V1 / "metrics.json").read_text())
    expected = [
        {"file": file, "key": k, "value": v}
        for file, snapshot in metrics.items()
        for k, v in flat(snapshot["values"]).items()
    ]
    assert sorted(map(json.dumps, predicate["metrics"])) == sorted(map(json.dumps, expected))

    # documents: every other file SHA256SUMS lists, and SHA256SUMS, each with its sha256
    sums_text = (repo / V1 / "SHA256SUMS").read_text()
    listed = set(sha256sums(sums_text)) | {"SHA256SUMS"}
    documents = {d["name"]: d for d in predicate["documents"]}
    assert set(documents) == {f"{V1}/{n}" for n in listed - {"model.json"}}
    for name, descriptor in documents.items():
        assert descriptor["digest"] == {"sha256": sha256((repo / name).read_bytes())}, name
    assert documents[f"{V1}/report.md"]["mediaType"] == "text/markdown"


def test_attest_payload_is_json_for_an_infinite_param(
    repo: Path, tmp_path: Path, gate: Gate
) -> None:
    """A pipeline parameter YAML reads as infinity (``.inf``) is a valid DVC param and
    the bundle passes verify; the statement must still be JSON every consumer parses."""
    params = repo / "params.yaml"
    params.write_text(params.read_text() + "tol: .inf\n")
    dvc_yaml = repo / "dvc.yaml"
    text = dvc_yaml.read_text()
    assert "params: [train.lr, train.epochs]" in text
    dvc_yaml.write_text(text.replace("[train.lr, train.epochs]", "[train.lr, train.epochs, tol]"))
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "train: a tolerance")
    promote(str(repo), "v2", [])
    commit_all(repo, "Promote v2")
    code, out, err = gate("attest", "v2", "--repo", str(repo), "--unsigned")
    assert code == 0, err
    stmt = validated(payload_of(out.rstrip("\n")))
    assert [p["file"] for p in stmt["predicate"]["params"] if p["key"] == "tol"] == ["params.yaml"]


def test_attest_tampered_payload_and_another_key_do_not_verify(
    repo: Path, tmp_path: Path, gate: Gate, other_key: Key
) -> None:
    key = Key(tmp_path / "keys", "P-256")
    line = attested_line(gate, repo, "--key", str(key.path))
    signer = key.under(signer_keyid(line))
    verify_sslib(line, signer)
    env = json.loads(line)
    payload = bytearray(payload_of(line))
    at = payload.index(b'"gitCommit":"') + len(b'"gitCommit":"')
    payload[at] = ord("0") if payload[at] != ord("0") else ord("1")  # one byte
    tampered = json.dumps(env | {"payload": base64.b64encode(bytes(payload)).decode()})
    validated(bytes(payload))  # still a well-formed statement: only the signature can tell
    with pytest.raises(VerificationError):
        verify_sslib(tampered, signer)
    with pytest.raises(InvalidSignature):
        verify_raw(tampered, key)

    with pytest.raises(VerificationError):  # another key, by its own key id
        verify_sslib(line, other_key.sslib)
    # another key presented under the signer's key id: the ECDSA check itself refuses
    with pytest.raises(VerificationError):
        verify_sslib(line, other_key.under(signer_keyid(line)))
    with pytest.raises(InvalidSignature):
        verify_raw(line, other_key)


def test_attest_with_an_encrypted_key_reads_the_password_variable(
    repo: Path, tmp_path: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Key(tmp_path / "keys", "P-384", password=b"correct horse")
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal: never a prompt
    code, out, err = attest(gate, repo, "--key", str(key.path))
    assert code == 2, err  # no terminal to ask on (pytest's stdin): a usage error
    assert out == ""
    assert "the key is encrypted: set PROMOTE_GATE_KEY_PASSWORD" in err
    monkeypatch.setenv("PROMOTE_GATE_KEY_PASSWORD", "wrong horse")
    code, out, err = attest(gate, repo, "--key", str(key.path))
    assert code == 2, err
    assert out == ""
    assert "wrong password" in err
    monkeypatch.setenv("PROMOTE_GATE_KEY_PASSWORD", "correct horse")
    line = attested_line(gate, repo, "--key", str(key.path))
    verify_raw(line, key)
    verify_sslib(line, key.under(signer_keyid(line)))


def test_attest_unsigned_is_the_same_statement_with_no_signature(
    repo: Path, tmp_path: Path, gate: Gate
) -> None:
    key = Key(tmp_path / "keys", "P-256")
    unsigned = attested_line(gate, repo, "--unsigned")
    env = json.loads(unsigned)
    assert env["signatures"] == []
    assert env["payloadType"] == PAYLOAD_TYPE
    stmt = validated(payload_of(unsigned))
    assert stmt["predicateType"] == RELEASE_BUNDLE
    with pytest.raises(VerificationError, match="threshold"):
        verify_sslib(unsigned, key.sslib)

    signed = attested_line(gate, repo, "--key", str(key.path))
    assert payload_of(unsigned) == payload_of(signed)  # what the signer signs is what we wrote

    # "for a CI signer to add": securesystemslib signs it, and it then verifies
    later = envelope_of(unsigned)
    later.sign(CryptoSigner(key.private))
    assert list(later.verify([key.sslib], 1)) == [key.sslib.keyid]


def test_attest_output_writes_the_line_to_the_file_only(
    repo: Path, tmp_path: Path, gate: Gate
) -> None:
    key = Key(tmp_path / "keys", "P-256")
    shown = attested_line(gate, repo, "--unsigned")
    target = tmp_path / "out" / "v1.intoto.jsonl"
    target.parent.mkdir()
    code, out, err = attest(gate, repo, "--unsigned", "--output", str(target))
    assert code == 0, err
    assert out == ""
    assert str(target) in err
    assert target.read_text() == shown + "\n"  # unsigned: byte for byte what stdout shows

    code, out, err = attest(gate, repo, "--key", str(key.path), "--output", str(target))
    assert code == 0, err
    assert out == ""
    text = target.read_text()
    assert text.endswith("\n")
    assert text.count("\n") == 1
    line = text.rstrip("\n")
    assert payload_of(line) == payload_of(shown)
    verify_raw(line, key)
    verify_sslib(line, key.under(signer_keyid(line)))


@pytest.mark.parametrize("how", ["--key", "--unsigned"])
@pytest.mark.parametrize("damage", ["report-edited", "content-absent"])
def test_attest_refuses_a_bundle_that_does_not_pass_verify(
    damage: str, how: str, repo: Path, tmp_path: Path, gate: Gate
) -> None:
    key = Key(tmp_path / "keys", "P-256")
    if damage == "report-edited":
        report = repo / V1 / "report.md"
        report.write_text(report.read_text() + "\nEdited after release.\n")
        why, changed = "PG106 checksums-mismatch: sha256 of report.md", f" M {V1}/report.md"
    else:  # the DVC content not pulled: only its pointer is here
        (repo / MODEL).unlink()
        why, changed = "PG102 file-missing", ""
    signing = ["--key", str(key.path)] if how == "--key" else ["--unsigned"]
    target = tmp_path / "v1.intoto.jsonl"
    for extra in ([], ["--output", str(target)]):
        code, out, err = attest(gate, repo, *signing, *extra)
        assert code == 1, (out, err)
        assert out == ""
        assert f"{V1} does not pass verify" in err
        assert why in err
        assert not target.exists()
    assert list(tmp_path.rglob("*.intoto.jsonl")) == []
    assert run(repo, "git", "status", "--porcelain").rstrip("\n") == changed


# --------------------------------------------------------------------------- ci --attest


def content(world: World, rev: str, name: str, md5: str | None) -> bytes:
    """A file's bytes at ``rev``: from git, or (DVC-tracked) from the DVC remote by its md5."""
    proc = subprocess.run(
        ["git", "show", f"{rev}:{name}"],
        cwd=world.work,
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode == 0:
        return proc.stdout
    assert md5 is not None, f"{name}: neither in git at {rev} nor given an md5"
    return (world.remote / "files" / "md5" / md5[:2] / md5[2:]).read_bytes()


def ci_attest(
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp: Path,
    branch: str,
    head: str,
    provider: str,
) -> tuple[Verdict, dict[str, Any]]:
    """``promote-gate ci --attest FILE`` on ``branch``'s pull (merge) request into main (or
    on a push of ``head`` to ``branch``), in a fresh clone, with the variables the runner
    sets; returns the verdict and the statement."""
    target = tmp / "verdict.intoto.json"
    attest = ("--attest", str(target))
    github = {"GITHUB_SERVER_URL": "https://github.example.com", "GITHUB_RUN_ID": "4242"}
    if provider == "github-push":  # the template attests on a push to a release branch
        before = world.sha("main")  # the local main: where the change was cut from
        verdict = github_push(
            world, gate, monkeypatch, tmp, branch, before, head, *attest, env_extra=github
        )
    elif provider == "github":
        verdict = github_pr(world, gate, monkeypatch, tmp, branch, head, *attest, env_extra=github)
    else:
        ws = world.clone(tmp / "ws", branch)
        gitlab_env(
            monkeypatch,
            {
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_COMMIT_SHA": head,
                "CI_COMMIT_REF_NAME": branch,
                "CI_MERGE_REQUEST_IID": "3",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch,
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
                "CI_MERGE_REQUEST_DIFF_BASE_SHA": world.sha("main"),
                "CI_JOB_URL": "https://gitlab.example.com/acme/models/-/jobs/99",
            },
        )
        verdict = ci(gate, monkeypatch, ws, *attest)
    assert "Traceback" not in verdict.err
    assert target.is_file(), verdict.text
    text = target.read_text()
    stmt = validated(text)
    assert set(stmt) == {"_type", "subject", "predicateType", "predicate"}  # not an envelope
    assert stmt["predicateType"] == TEST_RESULT
    # the predicate as in-toto's Test Result proto reads it: no field it does not know
    json_format.Parse(json.dumps(stmt["predicate"]), test_result_pb2.TestResult())
    predicate = stmt["predicate"]
    assert predicate["result"] in {"PASSED", "WARNED", "FAILED"}
    tests = [*predicate["passedTests"], *predicate["warnedTests"], *predicate["failedTests"]]
    assert all(TEST_NAME.fullmatch(t) for t in tests), tests
    assert len(tests) == len(set(tests)), "a test is in one list, once"
    return verdict, stmt


def check_subjects(world: World, head: str, stmt: dict[str, Any], versions: list[str]) -> None:
    """The subjects are every file each bundle's SHA256SUMS lists, and SHA256SUMS, with the
    sha256 of the bytes at ``head`` (md5 too for the promoted, DVC-tracked files)."""
    subjects = {s["name"]: s["digest"] for s in stmt["subject"]}
    assert len(subjects) == len(stmt["subject"])
    expected: set[str] = set()
    for version in versions:
        bundle = f"publish/{version}"
        sums = sha256sums(content(world, head, f"{bundle}/SHA256SUMS", None).decode())
        expected |= {f"{bundle}/{name}" for name in [*sums, "SHA256SUMS"]}
        manifest = json.loads(content(world, head, f"{bundle}/manifest.json", None))
        for entry in manifest["files"]:
            name = f"{bundle}/{entry['path']}"
            assert subjects[name]["md5"] == entry["md5"], name
    assert set(subjects) == expected
    for name, digest in subjects.items():
        data = content(world, head, name, digest.get("md5"))
        assert digest["sha256"] == sha256(data), name
        if "md5" in digest:
            assert digest["md5"] == hashlib.md5(data).hexdigest(), name


def policy_descriptor(world: World, commit: str) -> dict[str, Any]:
    data = content(world, commit, ".promote-gate.yaml", None)
    return {"name": ".promote-gate.yaml", "digest": {"gitCommit": commit, "sha256": sha256(data)}}


def good_v2(work: Path) -> None:
    release_v2(work, lr="0.1")


def test_ci_attest_on_a_passing_github_pull_request(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("good-v2", good_v2)
    verdict, stmt = ci_attest(world, gate, monkeypatch, tmp_path, "good-v2", head, "github")
    assert verdict.code == 0, verdict.text
    predicate = stmt["predicate"]
    assert predicate["result"] == "PASSED"
    assert predicate["failedTests"] == []
    assert predicate["warnedTests"] == []
    assert {"publish/v1:PG104", "publish/v2:PG104", "publish/v2:PG101"} <= set(
        predicate["passedTests"]
    )
    assert predicate["configuration"] == [policy_descriptor(world, world.sha("main"))]
    assert predicate["url"] == "https://github.example.com/acme/models/actions/runs/4242"
    check_subjects(world, head, stmt, ["v2"])  # v1 was attested when it was released


def test_ci_attest_on_a_push_to_main_that_passes(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the GitHub template signs with actions/attest: a push to a release branch."""
    before = world.sha("main")
    head = world.branch("good-v2", good_v2)
    run(world.work, "git", "push", "-q", "origin", f"{head}:refs/heads/main")
    verdict, stmt = ci_attest(world, gate, monkeypatch, tmp_path, "main", head, "github-push")
    assert verdict.code == 0, verdict.text
    assert f"head {head[:12]}, base {before[:12]}" in verdict.out
    predicate = stmt["predicate"]
    assert predicate["result"] == "PASSED"
    assert predicate["failedTests"] == []
    assert "publish/v2:PG104" in predicate["passedTests"]
    assert predicate["configuration"] == [policy_descriptor(world, before)]
    assert predicate["url"] == "https://github.example.com/acme/models/actions/runs/4242"
    check_subjects(world, head, stmt, ["v2"])


def edit_v2_report(work: Path) -> None:
    release_v2(work, lr="0.1")
    report = work / V2 / "report.md"
    report.write_text(report.read_text() + "\nEdited after promotion.\n")


def edit_v1_report(work: Path) -> None:
    report = work / V1 / "report.md"
    report.write_text(report.read_text() + "\nEdited after release.\n")


def test_ci_attest_on_a_failing_github_pull_request(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = V2
    head = world.branch("bad", edit_v2_report)
    verdict, stmt = ci_attest(world, gate, monkeypatch, tmp_path, "bad", head, "github")
    assert verdict.code == 1, verdict.text
    assert verdict.failed, verdict.text
    predicate = stmt["predicate"]
    assert predicate["result"] == "FAILED"
    failed = predicate["failedTests"]
    assert {t.rpartition(":")[2] for t in failed} == verdict.failed  # as the text report says
    assert all(t.startswith(f"{bundle}:") for t in failed), failed
    assert f"{bundle}:PG106" in failed
    assert not set(failed) & set(predicate["passedTests"])
    assert predicate["configuration"] == [policy_descriptor(world, world.sha("main"))]


def test_ci_attest_on_a_gitlab_merge_request_names_the_job(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("good-v2", good_v2)
    verdict, stmt = ci_attest(world, gate, monkeypatch, tmp_path, "good-v2", head, "gitlab")
    assert verdict.code == 0, verdict.text
    assert "GitLab merge request !3 into main" in verdict.out
    predicate = stmt["predicate"]
    assert predicate["result"] == "PASSED"
    assert predicate["url"] == "https://gitlab.example.com/acme/models/-/jobs/99"
    assert predicate["configuration"] == [policy_descriptor(world, world.sha("main"))]
    check_subjects(world, head, stmt, ["v2"])


def test_ci_attest_unverified_content_is_warned(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """metadata_only, and the DVC remote out of reach: the content rules are skipped for
    want of evidence, so the verdict is WARNED, not PASSED."""
    config = world.work / ".promote-gate.yaml"
    config.write_text(config.read_text() + "metadata_only: true\n")
    commit_all(world.work, "policy: CI cannot reach the DVC remote")
    run(world.work, "git", "push", "-q", "origin", "main")
    head = world.branch("good-v2", good_v2)
    (tmp_path / REMOTE).mkdir()  # an empty remote beside the clone
    verdict, stmt = ci_attest(world, gate, monkeypatch, tmp_path, "good-v2", head, "github")
    assert verdict.code == 0, verdict.text
    predicate = stmt["predicate"]
    assert predicate["result"] == "WARNED"
    assert predicate["failedTests"] == []
    assert "publish/v2:PG104" in predicate["warnedTests"]
    assert predicate["configuration"] == [policy_descriptor(world, world.sha("main"))]


def test_ci_attest_of_a_released_bundle_edited_names_no_subject(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """v1 edited after release (PG501): no bundle is being released, so no statement is
    written (a deploy job finds no PASSED attestation for the edited file either)."""
    head = world.branch("bad", edit_v1_report)
    target = tmp_path / "verdict.intoto.json"
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "bad", head, "--attest", str(target))
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed, verdict.text
    assert not target.exists()
    assert "--attest: no bundle file to attest: none written" in verdict.err


def remove_v1(work: Path) -> None:
    run(work, "git", "rm", "-r", "-q", V1)


def test_ci_attest_writes_no_statement_without_a_subject(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A change that deletes the only released bundle fails, and leaves no file to name: an
    in-toto Statement needs at least one subject, so none is written, and stderr says so
    (the GitHub template's attest job then attests nothing)."""
    head = world.branch("rm-v1", remove_v1)
    target = tmp_path / "verdict.intoto.json"
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "rm-v1", head, "--attest", str(target))
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed
    assert not target.exists()
    assert "--attest: no bundle file to attest: none written" in verdict.err
