"""Attacks on signed releases (bundle.sig, PG601-PG603) and the gate's attestations.

An attacker commits to a branch and opens a pull request (or pushes through the installed
hook); the base branch is protected. Each test is one attack, run through the real gate (a
real ``git push`` with the installed hook, or ``promote-gate ci`` in a fresh clone as the
templates run it) or ``verify`` on a real signed bundle. Attacks the product defeats are
regression tests with the exact failing codes and what the report says; attacks that
succeeded were fixed (a key on an unsupported curve, a signature replaced without trusted
keys, a gained signature's byte-rewriting attribute, a project name holding a newline); their
tests now hold the fix. Existing coverage is not repeated: tests/rules/test_signing.py (a change's own key,
a released bundle signed or re-signed, a removed signature), tests/test_signing_interop.py
(hostile bundle.sig against the stock verifier), tests/test_attestations.py.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from cryptography.hazmat.primitives import serialization
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    V2,
    Verdict,
    World,
    github_pr,
    release_v2,
)

from promote_gate.commands.demo import build_project
from promote_gate.commands.promote import promote
from promote_gate.signing import (
    PAYLOAD_TYPE,
    new_key_pair,
    payload_bytes,
    public_keys,
    root_digest,
    sign_pae,
)

THROUGH = ["ci", "hook"]
Change = Callable[[Path], None]
Statement = dict[str, Any]


# --------------------------------------------------------------------------- keys and helpers


def _key(path: Path) -> Path:
    """A new EC P-256 key pair: ``path`` (private, PKCS#8 PEM) and ``path.pub``."""
    new_key_pair(str(path), str(path.with_suffix(".pub")))
    return path


def _pub(key: Path) -> Path:
    return key.with_suffix(".pub")


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """``release`` (the key the base trusts) and ``other`` (the attacker's)."""
    home = tmp_path / "keys"
    home.mkdir()
    return {name: _key(home / f"{name}.key") for name in ("release", "other")}


def _sign(gate: Gate, repo: Path, version: str, key: Path) -> None:
    code, out, err = gate("sign", version, "--repo", str(repo), "--key", str(key))
    assert code == 0, out + err


def _resign(
    sig: Path,
    key: Path,
    hint: Path | None,
    edit: Callable[[Statement], None] | None = None,
    raw: Callable[[Statement], bytes] | None = None,
) -> None:
    """Replace ``sig`` by a signature of its (edited) statement made with ``key``, naming
    the public key ``hint`` (None: no hint). ``raw`` gives the payload's exact bytes."""
    doc = json.loads(sig.read_text())
    statement: Statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    if edit is not None:
        edit(statement)
        digests = [r["digest"] for r in statement["predicate"]["resources"]]
        statement["subject"][0]["digest"]["sha256"] = root_digest(digests)
    payload = raw(statement) if raw is not None else payload_bytes(statement)
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    material = doc["verificationMaterial"]["publicKey"]
    material.pop("hint", None)
    if hint is not None:
        material["hint"] = public_keys(hint.read_bytes(), hint.name)[0].hint
    envelope = doc["dsseEnvelope"]
    envelope["payload"] = base64.b64encode(payload).decode()
    signature = base64.b64encode(sign_pae(private, PAYLOAD_TYPE, payload)).decode()
    envelope["signatures"] = [{"sig": signature, "keyid": ""}]
    sig.write_text(json.dumps(doc))


@dataclass(frozen=True)
class Attack:
    """A released v1 on a bare origin, the keys, and the gate."""

    world: World
    keys: dict[str, Path]
    gate: Gate
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path

    @property
    def work(self) -> Path:
        return self.world.work

    def trust(self, *, required: bool = True, sign_v1: bool = True) -> None:
        """On main, pushed: keys/release.pub trusted by the policy, v1 signed with it."""
        work = self.work
        (work / "keys").mkdir(exist_ok=True)
        shutil.copy(_pub(self.keys["release"]), work / "keys/release.pub")
        policy = work / ".promote-gate.yaml"
        flag = "true" if required else "false"
        policy.write_text(
            policy.read_text() + f"signing:\n  required: {flag}\n  keys: [keys/release.pub]\n"
        )
        if sign_v1:
            self.sign(work, "v1")
        self.publish("trust the release key")

    def publish(self, message: str) -> None:
        """Commit what main's work tree holds and push it: history that passed the gate."""
        commit_all(self.work, message)
        run(self.work, "git", "push", "-q", "origin", "main")

    def sign(self, repo: Path, version: str, key: str = "release") -> None:
        _sign(self.gate, repo, version, self.keys[key])

    def verdict(self, through: str, name: str, change: Change, *, dvc_push: bool = True) -> Verdict:
        head = self.world.branch(name, change, dvc_push=dvc_push)
        verdict: Verdict = self.world.gate(
            through, self.gate, self.monkeypatch, self.tmp_path, name, head
        )
        return verdict


@pytest.fixture
def attack(
    world: World,
    keys: dict[str, Path],
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Attack:
    return Attack(world, keys, gate, monkeypatch, tmp_path)


# --------------------------------------------------------------------------- 1. who is trusted


@pytest.mark.parametrize("through", THROUGH)
def test_a_key_appended_to_the_trusted_key_file_is_not_trusted(
    attack: Attack, through: str
) -> None:
    """The change keeps the trusted key and appends its own PEM to keys/release.pub (a key
    file may hold several keys): the file is read at the base, where it holds one."""

    def append_own_key(work: Path) -> None:
        release_v2(work, lr="0.1")
        trusted = work / "keys/release.pub"
        trusted.write_bytes(trusted.read_bytes() + _pub(attack.keys["other"]).read_bytes())
        attack.sign(work, "v2", "other")

    attack.trust()
    verdict = attack.verdict(through, "append", append_own_key)
    assert (verdict.code, verdict.failed) == (1, {"PG603"}), verdict.text
    assert "signed by a key that is not trusted (key hint " in verdict.text
    assert "trusted: keys/release.pub" in verdict.text


def test_check_of_a_working_tree_takes_keys_from_the_remote_default_branch(
    attack: Attack,
) -> None:
    """Unpushed local commits trust the attacker's key and sign v2 with it: ``check`` of the
    working tree judges as the push would (origin/main's policy and keys), while ``check
    --rev HEAD`` reads the policy from the checked commit, as the README says."""
    attack.trust()
    work = attack.work
    release_v2(work, lr="0.1")
    shutil.copy(_pub(attack.keys["other"]), work / "keys/mine.pub")
    policy = work / ".promote-gate.yaml"
    policy.write_text(
        policy.read_text().replace("[keys/release.pub]", "[keys/release.pub, keys/mine.pub]")
    )
    attack.sign(work, "v2", "other")
    commit_all(work, "trust my key and sign v2 with it")

    code, out, err = attack.gate("check", "--repo", str(work))
    assert code == 1, out + err
    assert attack.gate.failed_codes("check", "--repo", str(work)) == {"PG603"}
    assert "base: origin/main (" in out
    assert "this change edits the promote-gate policy" in out

    assert attack.gate.failed_codes("check", "--repo", str(work), "--rev", "HEAD") == set()


def _monorepo_trust(attack: Attack) -> Path:
    """On main, pushed: a DVC project ``sub`` whose own policy requires signing by
    keys/release.pub; the repository's top holds the release key there."""
    work = attack.work
    sub = work / "sub"
    build_project(sub, subdir=True)  # commits the pipeline, pushes its data
    (work / "keys").mkdir()
    shutil.copy(_pub(attack.keys["release"]), work / "keys/release.pub")
    policy = sub / ".promote-gate.yaml"
    policy.write_text(policy.read_text() + "signing: {required: true, keys: [keys/release.pub]}\n")
    attack.publish("sub requires signed releases")
    return sub


@pytest.mark.parametrize(("signer", "expected"), [("release", set()), ("other", {"PG603"})])
def test_a_projects_keys_are_read_from_the_repository_top_at_the_base(
    attack: Attack, signer: str, expected: set[str]
) -> None:
    """A project's policy names keys/release.pub: the repository top's file at the base, never
    the project's own sub/keys/release.pub that the change brings with its key."""
    sub = _monorepo_trust(attack)

    def release(work: Path) -> None:
        promote(str(work / "sub"), "v1", [])
        run(work / "sub", "dvc", "push", "-q")
        (work / "sub/keys").mkdir()
        shutil.copy(_pub(attack.keys["other"]), work / "sub/keys/release.pub")
        attack.sign(work / "sub", "v1", signer)

    assert sub.is_dir()
    verdict = attack.verdict("ci", f"sub-{signer}", release)
    assert (verdict.code, verdict.failed) == (1 if expected else 0, expected), verdict.text
    assert "sub/publish/v1" in verdict.text
    if expected:
        assert "trusted: keys/release.pub" in verdict.text


def _trust_in_working_tree(repo: Path, line: str) -> None:
    policy = repo / ".promote-gate.yaml"
    policy.write_text(policy.read_text() + line + "\n")


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("../outside.pub", "signing.keys: '../outside.pub' leaves the repository ('..')"),
        ("keys/../../outside.pub", "leaves the repository ('..')"),
        ("/etc/outside.pub", "signing.keys: '/etc/outside.pub' is absolute"),
    ],
)
def test_a_key_path_outside_the_repository_is_an_invalid_policy(
    repo: Path, gate: Gate, entry: str, said: str
) -> None:
    _trust_in_working_tree(repo, f"signing: {{keys: ['{entry}']}}")
    code, out, err = gate("check", "--repo", str(repo))
    assert code == 2, out + err
    assert said in err


@pytest.mark.parametrize("link", ["keys/release.pub", "keys"])
def test_a_key_is_never_read_through_a_symlink(
    repo: Path, gate: Gate, keys: dict[str, Path], tmp_path: Path, link: str
) -> None:
    """The trusted key file (or its directory) is a symlink to a key outside the repository:
    never read, whichever tree the policy comes from (here the working tree: no remote)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(_pub(keys["release"]), outside / "release.pub")
    (repo / "keys").mkdir()
    if link == "keys":
        (repo / "keys").rmdir()
        (repo / "keys").symlink_to(outside)
    else:
        (repo / link).symlink_to(outside / "release.pub")
    _trust_in_working_tree(repo, "signing: {keys: [keys/release.pub]}")
    code, out, err = gate("check", "--repo", str(repo))
    assert code == 2, out + err
    what = "not there" if link == "keys" else "not a regular file"
    assert f"signing.keys: keys/release.pub is {what} in the working tree" in err
    assert "a trusted key must be committed where the policy is" in err


# An EC public key on a curve OpenSSL knows and ``cryptography`` does not (secp112r1).
_SECP112R1_SPKI = bytes.fromhex(
    "3032301006072a8648ce3d020106052b81040006031e0004"
    "01010101010101010101010101010101010101010101010101010101"
)
_SECP112R1_SEC1 = bytes.fromhex("301c020101040e0101010101010101010101010101a00706052b81040006")


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode()


@pytest.mark.parametrize("command", ["check", "verify", "sign"])
def test_a_key_on_an_unsupported_curve_is_a_usage_error(
    repo: Path, gate: Gate, tmp_path: Path, command: str
) -> None:
    public = tmp_path / "odd.pub"
    public.write_bytes(_pem("PUBLIC KEY", _SECP112R1_SPKI))
    private = tmp_path / "odd.key"
    private.write_bytes(_pem("EC PRIVATE KEY", _SECP112R1_SEC1))
    if command == "check":  # the policy's key, as every gate run reads it (here no remote)
        (repo / "keys").mkdir()
        shutil.copy(public, repo / "keys/odd.pub")
        policy = repo / ".promote-gate.yaml"
        policy.write_text(policy.read_text() + "signing: {keys: [keys/odd.pub]}\n")
        code, out, err = gate("check", "--repo", str(repo))
        named = "keys/odd.pub"
    elif command == "verify":
        code, out, err = gate("verify", str(repo / V1), "--key", str(public))
        named = str(public)
    else:
        code, out, err = gate("sign", "v1", "--repo", str(repo), "--key", str(private))
        named = str(private)
    assert code == 2, out + err
    assert "internal error" not in err
    assert named in err


@pytest.mark.parametrize("where", ["publish", "publish/v1"])
def test_sign_never_writes_through_a_symlinked_bundle_or_publish_root(
    repo: Path, gate: Gate, keys: dict[str, Path], tmp_path: Path, where: str
) -> None:
    """A hostile checkout whose publish root or bundle is a symlink to a directory outside
    the repository: sign refuses, and nothing is written there."""
    outside = tmp_path / "outside"
    shutil.move(repo / where, outside)
    (repo / where).symlink_to(outside)
    code, out, err = gate("sign", "v1", "--repo", str(repo), "--key", str(keys["release"]))
    if where == "publish":
        assert code == 2, out + err
        assert "publish/v1: no such bundle in" in err
    else:
        assert code == 1, out + err
        assert "publish/v1 does not pass verify, so it is not signed" in err
    assert not list(outside.rglob("bundle.sig"))
    assert not list(outside.rglob(".promote-gate-*"))


# --------------------------------------------------------------------------- 2. PG501's exception


def _sig_symlink(work: Path) -> None:
    sig = work / V1 / "bundle.sig"
    sig.unlink()
    sig.symlink_to("SHA256SUMS")


def _sig_directory(work: Path) -> None:
    sig = work / V1 / "bundle.sig"
    data = sig.read_bytes()
    sig.unlink()
    sig.mkdir()
    (sig / "bundle.sig").write_bytes(data)


def _sig_nested(work: Path) -> None:
    (work / V1 / "extra").mkdir()
    shutil.copy(work / V1 / "bundle.sig", work / V1 / "extra/bundle.sig")


def _sig_case_twin(work: Path) -> None:
    shutil.copy(work / V1 / "bundle.sig", work / V1 / "Bundle.sig")


def _sig_pointer(work: Path) -> None:
    pointer = (work / V1 / "model.json.dvc").read_text().replace("model.json", "bundle.sig")
    (work / V1 / "bundle.sig.dvc").write_text(pointer)


@pytest.mark.parametrize(
    ("change", "expected", "where", "said"),
    [
        pytest.param(
            _sig_symlink,
            {"PG501", "PG602"},
            "bundle.sig",
            "bundle.sig is a symlink, not a file",
            id="symlink",
        ),
        pytest.param(
            _sig_directory,
            {"PG501", "PG103"},
            "bundle.sig/bundle.sig",
            "in the bundle but not listed in the manifest",
            id="directory",
        ),
        pytest.param(
            _sig_nested,
            {"PG501", "PG103"},
            "extra/bundle.sig",
            "in the bundle but not listed in the manifest",
            id="nested",
        ),
        pytest.param(
            _sig_case_twin,
            {"PG501", "PG103"},
            "Bundle.sig",
            "in the bundle but not listed in the manifest",
            id="case-twin",
        ),
        pytest.param(
            _sig_pointer,
            {"PG501", "PG103"},
            "bundle.sig.dvc",
            "in the bundle but not listed in the manifest",
            id="dvc-pointer",
        ),
    ],
)
def test_only_a_regular_bundle_sig_may_change_in_a_released_bundle(
    attack: Attack, change: Change, expected: set[str], where: str, said: str
) -> None:
    """PG501 exempts exactly ``<bundle>/bundle.sig`` as a regular file: a symlink or a
    directory there, a signature elsewhere in the bundle, a case twin or a DVC pointer for
    it are edits of the release."""
    attack.trust()
    verdict = attack.verdict("ci", "not-a-signature", change, dvc_push=False)
    assert (verdict.code, verdict.failed) == (1, expected), verdict.text
    assert f"PG501 released-version-mutated  {V1}/{where}" in verdict.text
    assert "differs from the released v1" in verdict.text
    assert said in verdict.text


def _utf16_signature(work: Path) -> None:
    """A root .gitattributes making every checkout of v1's bundle.sig UTF-16 (the file is
    re-encoded so that git stores the same UTF-8 blob)."""
    (work / ".gitattributes").write_text("publish/v1/bundle.sig working-tree-encoding=UTF-16LE\n")
    sig = work / V1 / "bundle.sig"
    sig.write_bytes(sig.read_text().encode("utf-16-le"))


def test_attributes_rewriting_a_released_signature_are_an_edit(attack: Attack) -> None:
    attack.trust()
    verdict = attack.verdict("ci", "utf16", _utf16_signature, dvc_push=False)
    assert (verdict.code, verdict.failed) == (1, {"PG501"}), verdict.text
    assert (
        "git attributes changed since the released v1 (working-tree-encoding unspecified -> "
        "UTF-16LE)" in verdict.text
    )


def test_attributes_rewriting_a_new_bundles_signature_are_a_content_mismatch(
    attack: Attack,
) -> None:
    """The contrast to the next test: in a new bundle, bundle.sig is one of the files whose
    checkout git must not rewrite (PG104)."""
    attack.trust()

    def signed_utf16(work: Path) -> None:
        release_v2(work, lr="0.1")
        attack.sign(work, "v2")
        (work / ".gitattributes").write_text(
            "publish/v2/bundle.sig working-tree-encoding=UTF-16LE\n"
        )
        sig = work / V2 / "bundle.sig"
        sig.write_bytes(sig.read_text().encode("utf-16-le"))

    verdict = attack.verdict("ci", "utf16-v2", signed_utf16)
    assert (verdict.code, verdict.failed) == (1, {"PG104"}), verdict.text
    assert "git attribute working-tree-encoding=UTF-16LE applies" in verdict.text
    assert f"{V2}/bundle.sig" in verdict.text


def test_a_signature_added_to_a_released_bundle_with_rewriting_attributes(
    attack: Attack,
) -> None:
    attack.trust(sign_v1=False)

    def sign_and_rewrite(work: Path) -> None:
        attack.sign(work, "v1")
        _utf16_signature(work)

    head = attack.world.branch("utf16-new", sign_and_rewrite, dvc_push=False)
    clone = attack.world.clone(attack.tmp_path / "consumer", "utf16-new")
    _, out, err = attack.gate("verify", str(clone / V1), "--key", str(_pub(attack.keys["release"])))
    assert "PG602 signature-invalid" in out + err  # what a consumer's checkout verifies
    assert "bundle.sig is not valid JSON" in out + err
    verdict = attack.world.gate(
        "ci", attack.gate, attack.monkeypatch, attack.tmp_path, "utf16-new", head
    )
    assert verdict.code == 1, verdict.text


def _trust_nothing_sign_v1(attack: Attack) -> None:
    """On main, pushed: v1 signed by the release manager's key; no signing policy (the team
    signs for its consumers, who run verify --key; the gate trusts no key)."""
    attack.sign(attack.work, "v1")
    attack.publish("sign v1")


def test_without_trusted_keys_a_released_bundle_cannot_gain_a_signature(attack: Attack) -> None:
    """Without signing.keys nothing could judge who signed: a signature the released bundle
    gains is an edit of the release (PG501), as the README says."""
    verdict = attack.verdict(
        "ci", "sign-v1", lambda work: attack.sign(work, "v1", "other"), dvc_push=False
    )
    assert (verdict.code, verdict.failed) == (1, {"PG501"}), verdict.text


def test_without_trusted_keys_a_released_signature_cannot_be_replaced(attack: Attack) -> None:
    _trust_nothing_sign_v1(attack)
    head = attack.world.branch(
        "resign-v1", lambda work: attack.sign(work, "v1", "other"), dvc_push=False
    )
    clone = attack.world.clone(attack.tmp_path / "consumer", "resign-v1")
    argv = ("verify", str(clone / V1), "--key", str(_pub(attack.keys["release"])))
    _, out, err = attack.gate(*argv)
    assert "PG603 signature-untrusted" in out + err  # the released v1, as consumers get it now
    verdict = attack.world.gate(
        "ci", attack.gate, attack.monkeypatch, attack.tmp_path, "resign-v1", head
    )
    assert verdict.code == 1, verdict.text


# --------------------------------------------------------------------------- 3. what is signed


def test_the_signature_of_v1_copied_to_v2_is_invalid_and_the_verdict_fails(
    attack: Attack,
) -> None:
    """A valid signature by the trusted key, of another bundle: it signs other content for
    every document (the manifest names the version), and the verdict says FAILED."""
    attack.trust()

    def copied(work: Path) -> None:
        release_v2(work, lr="0.1")
        shutil.copy(work / V1 / "bundle.sig", work / V2 / "bundle.sig")

    head = attack.world.branch("copied", copied)
    verdict_file = attack.tmp_path / "verdict.json"
    verdict = github_pr(
        attack.world,
        attack.gate,
        attack.monkeypatch,
        attack.tmp_path,
        "copied",
        head,
        "--attest",
        str(verdict_file),
    )
    assert (verdict.code, verdict.failed) == (1, {"PG602"}), verdict.text
    assert "signs other content for manifest.json than the bundle declares" in verdict.text
    assert "signs other content for model.json than the bundle declares" in verdict.text
    statement = json.loads(verdict_file.read_text())
    assert statement["predicate"]["result"] == "FAILED"
    assert f"{V2}:PG602" in statement["predicate"]["failedTests"]


@pytest.mark.parametrize("through", THROUGH)
def test_a_hint_naming_the_trusted_key_over_another_keys_signature(
    attack: Attack, through: str
) -> None:
    attack.trust()

    def lying_hint(work: Path) -> None:
        release_v2(work, lr="0.1")
        attack.sign(work, "v2", "other")
        _resign(work / V2 / "bundle.sig", attack.keys["other"], _pub(attack.keys["release"]))

    verdict = attack.verdict(through, "hint", lying_hint)
    assert (verdict.code, verdict.failed) == (1, {"PG602"}), verdict.text
    assert "the signature does not verify under keys/release.pub, the key it names" in verdict.text


# verify on a real signed publish/v1: hostile signatures the interop tests do not cover


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _with(**serialization_: Any) -> Callable[[Statement], None]:
    return lambda s: s["predicate"]["serialization"].update(serialization_)


def _many(count: int) -> Callable[[Statement], None]:
    def edit(statement: Statement) -> None:
        statement["predicate"]["resources"] += [
            {"name": f"f{i:07d}", "algorithm": "sha256", "digest": "0" * 64} for i in range(count)
        ]

    return edit


def _reordered(statement: Statement) -> None:
    statement["predicate"]["resources"].reverse()


def _renamed_subject(statement: Statement) -> None:
    statement["subject"][0]["name"] = "v999"


@dataclass(frozen=True)
class Forgery:
    name: str
    write: Callable[[Path, dict[str, Path]], None]  # (bundle.sig, keys)
    failed: frozenset[str]
    said: str


def _by(
    key: str,
    hint: str | None,
    edit: Callable[[Statement], None] | None = None,
    raw: Callable[[Statement], bytes] | None = None,
) -> Callable[[Path, dict[str, Path]], None]:
    def write(sig: Path, keys: dict[str, Path]) -> None:
        _resign(sig, keys[key], _pub(keys[hint]) if hint else None, edit, raw)

    return write


def _envelope(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path, dict[str, Path]], None]:
    def write(sig: Path, _: dict[str, Path]) -> None:
        doc = json.loads(sig.read_text())
        edit(doc)
        sig.write_text(json.dumps(doc))

    return write


def _text(data: bytes) -> Callable[[Path, dict[str, Path]], None]:
    def write(sig: Path, _: dict[str, Path]) -> None:
        sig.write_bytes(data)

    return write


def _sig_value(value: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["dsseEnvelope"]["signatures"][0].update(sig=value)


NONE: frozenset[str] = frozenset()
PG602 = frozenset({"PG602"})
FORGERIES = [
    Forgery(
        "no hint, another key",
        _by("other", None),
        frozenset({"PG603"}),
        "it carries no key hint, and no trusted key verifies it",
    ),
    Forgery(
        "all files signed, model.json also in ignore_paths",
        _by("release", "release", _with(ignore_paths=["bundle.sig", "model.json"])),
        PG602,
        "leaves 'model.json' unsigned",
    ),
    Forgery(
        "all files signed, '.' in ignore_paths",
        _by("release", "release", _with(ignore_paths=["."])),
        PG602,
        "leaves '.' unsigned",
    ),
    Forgery(
        "2000 undeclared resources",
        _by("release", "release", _many(2000)),
        PG602,
        "signs f0000000, which the bundle does not declare",
    ),
    Forgery(  # 2000 findings would be 2000 lines in every report: 20 named, the rest counted
        "2000 undeclared resources, counted",
        _by("release", "release", _many(2000)),
        PG602,
        "and 1980 more differences from the bundle",
    ),
    Forgery(
        "bundle.sig nested 100000 deep",
        _text(_nested(100_000)),
        PG602,
        "bundle.sig is nested too deeply",
    ),
    Forgery(
        "signed statement nested 100000 deep",
        _by("release", "release", raw=lambda _: _nested(100_000)),
        PG602,
        "bundle.sig: the signed statement is nested too deeply",
    ),
    Forgery(
        "an empty signature",
        _envelope(_sig_value("")),
        PG602,
        "the signature does not verify under",
    ),
    Forgery(
        "a signature that is no DER",
        _envelope(_sig_value("AAAA")),
        PG602,
        "the signature does not verify under",
    ),
    Forgery(
        "a payload that is no base64",
        _envelope(lambda doc: doc["dsseEnvelope"].update(payload="not base64!")),
        PG602,
        "bundle.sig: the payload is not base64",
    ),
    Forgery(
        "NaN in the signed statement",
        _by("release", "release", raw=lambda s: payload_bytes(s)[:-1] + b',"x":NaN}'),
        PG602,
        "contains NaN, which is not JSON",
    ),
    # accepted, as by the stock verifier: what model_signing skips at a model's top by
    # default may be left unsigned (README names only bundle.sig, pointers and .gitignore;
    # such files in the bundle are PG103 anyway)
    Forgery(
        "ignore_paths naming .git, .github and .gitattributes",
        _by("release", "release", _with(ignore_paths=["bundle.sig", ".git", ".github"])),
        NONE,
        "",
    ),
    # accepted, as by the stock verifier: the order only changes the subject digest, which
    # is recomputed; the subject's name is not the version (the manifest's digest is)
    Forgery("resources in reverse order", _by("release", "release", _reordered), NONE, ""),
    Forgery("subject named v999", _by("release", "release", _renamed_subject), NONE, ""),
]


@pytest.mark.parametrize("forgery", [pytest.param(f, id=f.name) for f in FORGERIES])
def test_hostile_signature_under_verify(
    repo: Path,
    gate: Gate,
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    forgery: Forgery,
) -> None:
    monkeypatch.chdir(tmp_path)
    _sign(gate, repo, "v1", keys["release"])
    bundle = repo / V1
    forgery.write(bundle / "bundle.sig", keys)
    argv = ("verify", str(bundle), "--key", str(_pub(keys["release"])))
    code, out, err = gate(*argv)
    assert "Traceback" not in out + err
    assert "internal error" not in err
    assert code == (1 if forgery.failed else 0), out + err
    assert gate.failed_codes(*argv) == forgery.failed
    assert forgery.said in out


# --------------------------------------------------------------------------- 4. attestations

FAKE = "ab" * 32  # the sha256 of whatever file the attacker wants a deploy job to accept
NEWLINE_PROJECT = f"p\n{FAKE}  evil"


def _checksums_of(statement: Statement) -> list[str]:
    """What the GitHub template's attest-verdict job hands actions/attest as
    subject-checksums: jq -r '.subject[] | "\\(.digest.sha256)  \\(.name)"', whose raw
    output keeps a newline inside a name."""
    text = "\n".join(f"{s['digest']['sha256']}  {s['name']}" for s in statement["subject"])
    return [line.split("  ", 1)[0] for line in text.split("\n")]


def test_a_newline_in_a_project_directory_cannot_forge_an_attested_digest(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pull request adding a DVC project in a directory whose name holds a newline (and a
    forged checksums line after it): had it passed, its v1's subjects would carry the newline
    into the attest job's checksums file, attesting a digest of the attacker's choice. The
    gate refuses the project's name (exit 2, naming it), so nothing of it is ever attested."""

    def add_project(work: Path) -> None:
        build_project(work / "p", subdir=True)  # commits the pipeline, pushes its data
        run(work, "git", "mv", "p", NEWLINE_PROJECT)

    source = world.branch("project", add_project)
    verdict_file = tmp_path / "verdict.json"
    first = github_pr(
        world, gate, monkeypatch, tmp_path / "pr", "project", source, "--attest", str(verdict_file)
    )
    assert first.code == 2, first.text
    assert "a DVC project directory's name holds a control character" in first.text
    assert not verdict_file.exists()
    # and the template's job refuses such a name in any verdict it is handed
    forged = {"subject": [{"name": NEWLINE_PROJECT, "digest": {"sha256": FAKE}}]}
    assert len(_checksums_of(forged)) == 2  # what jq -r would have written: two lines
