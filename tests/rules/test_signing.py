"""PG601-PG603: signed releases in the gate, through a real push (the installed hook) and a
real CI run (a fresh clone, GitHub's pull-request variables). The trusted keys are the
policy's at the base: a change cannot bring the key that signs its own release."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run
from cryptography.hazmat.primitives import serialization
from scenario import V1, V2, World, release_v2

from promote_gate.signing import PAYLOAD_TYPE, new_key_pair, sign_pae

THROUGH = ["ci", "hook"]


def _key(path: Path) -> Path:
    """A new EC P-256 key pair: ``path`` (private, PKCS#8 PEM) and ``path.pub``."""
    new_key_pair(str(path), str(path.with_suffix(".pub")))
    return path


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    home = tmp_path / "keys"
    home.mkdir()
    return {name: _key(home / f"{name}.key") for name in ("release", "other")}


def _trust(world: World, keys: dict[str, Path], *, required: bool = True) -> None:
    """On main, pushed: the release key committed, and the policy trusting it."""
    work = world.work
    (work / "keys").mkdir(exist_ok=True)
    (work / "keys/release.pub").write_bytes(keys["release"].with_suffix(".pub").read_bytes())
    policy = work / ".promote-gate.yaml"
    flag = "true" if required else "false"
    policy.write_text(
        policy.read_text() + f"signing:\n  required: {flag}\n  keys: [keys/release.pub]\n"
    )
    commit_all(work, "trust the release key")
    run(work, "git", "push", "-q", "origin", "main")


def _sign(gate: Gate, work: Path, version: str, key: Path) -> None:
    code, out, err = gate("sign", version, "--repo", str(work), "--key", str(key))
    assert code == 0, out + err


@dataclass(frozen=True)
class Case:
    """A released v1 on a bare origin, the keys, and the gate: what every test here uses."""

    world: World
    keys: dict[str, Path]
    gate: Gate
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path

    def sign(self, work: Path, version: str, key: str = "release") -> None:
        _sign(self.gate, work, version, self.keys[key])

    def verdict(
        self, through: str, name: str, change: Callable[[Path], object]
    ) -> tuple[int, set[str], str]:
        """Branch ``name`` cut from main with ``change``, judged as CI judges its pull
        request (``"ci"``) or as the installed hook judges pushing it to main (``"hook"``)."""
        head = self.world.branch(name, change)  # type: ignore[arg-type, unused-ignore]
        verdict = self.world.gate(through, self.gate, self.monkeypatch, self.tmp_path, name, head)
        return verdict.code, verdict.failed, verdict.text


@pytest.fixture
def case(
    world: World,
    keys: dict[str, Path],
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Case:
    return Case(world, keys, gate, monkeypatch, tmp_path)


@pytest.mark.parametrize("through", THROUGH)
def test_a_new_release_must_be_signed(case: Case, through: str) -> None:
    _trust(case.world, case.keys)
    code, failed, text = case.verdict(through, "unsigned", lambda w: release_v2(w, lr="0.1"))
    assert (code, failed) == (1, {"PG601"}), text
    assert f"{V2}/bundle.sig" in text
    assert "keys/release.pub" in text


def _signed_v2(case: Case, key: str) -> Callable[[Path], None]:
    def change(work: Path) -> None:
        release_v2(work, lr="0.1")
        case.sign(work, "v2", key)

    return change


@pytest.mark.parametrize("through", THROUGH)
def test_a_release_signed_by_the_trusted_key_passes(case: Case, through: str) -> None:
    _trust(case.world, case.keys)
    code, failed, text = case.verdict(through, "signed", _signed_v2(case, "release"))
    assert (code, failed) == (0, set()), text


def test_a_key_the_base_does_not_trust_is_refused(case: Case) -> None:
    _trust(case.world, case.keys)
    code, failed, text = case.verdict("ci", "other", _signed_v2(case, "other"))
    assert (code, failed) == (1, {"PG603"}), text
    assert "not trusted" in text


@pytest.mark.parametrize("through", THROUGH)
def test_a_change_cannot_trust_its_own_key(case: Case, through: str) -> None:
    """The attacker's branch adds its key to signing.keys (and overwrites the trusted key's
    file with its own) and signs its release: the base's keys judge it."""
    _trust(case.world, case.keys)

    def own_key(work: Path) -> None:
        release_v2(work, lr="0.1")
        mine = case.keys["other"].with_suffix(".pub").read_bytes()
        (work / "keys/mine.pub").write_bytes(mine)
        (work / "keys/release.pub").write_bytes(mine)
        policy = work / ".promote-gate.yaml"
        policy.write_text(
            policy.read_text().replace("[keys/release.pub]", "[keys/release.pub, keys/mine.pub]")
        )
        case.sign(work, "v2", "other")

    code, failed, text = case.verdict(through, "mine", own_key)
    assert (code, failed) == (1, {"PG603"}), text


@pytest.mark.parametrize("through", THROUGH)
def test_a_released_bundle_may_gain_a_signature(case: Case, through: str) -> None:
    _trust(case.world, case.keys)
    code, failed, text = case.verdict(through, "sign-v1", lambda w: case.sign(w, "v1"))
    assert (code, failed) == (0, set()), text


def _released_signed(case: Case) -> None:
    """v1 signed by the release key on main, pushed: a released, signed bundle."""
    _trust(case.world, case.keys)
    case.sign(case.world.work, "v1")
    commit_all(case.world.work, "sign v1")
    run(case.world.work, "git", "push", "-q", "origin", "main")


def _resigned_over(work: Path, key: Path, change: dict[str, str]) -> None:
    """v1's bundle.sig replaced by a valid signature of the trusted key over other digests."""
    sig = work / V1 / "bundle.sig"
    bundle = json.loads(sig.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    for resource in statement["predicate"]["resources"]:
        resource["digest"] = change.get(resource["name"], resource["digest"])
    from promote_gate.signing import root_digest

    digests = [r["digest"] for r in statement["predicate"]["resources"]]
    statement["subject"][0]["digest"]["sha256"] = root_digest(digests)
    payload = json.dumps(statement).encode()
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    envelope = bundle["dsseEnvelope"]
    envelope["payload"] = base64.b64encode(payload).decode()
    signature = sign_pae(private, PAYLOAD_TYPE, payload)
    envelope["signatures"] = [{"sig": base64.b64encode(signature).decode(), "keyid": ""}]
    sig.write_text(json.dumps(bundle))


@pytest.mark.parametrize("through", THROUGH)
def test_a_released_signature_over_other_content_fails(case: Case, through: str) -> None:
    _released_signed(case)
    forged = {"model.json": "0" * 64}
    code, failed, text = case.verdict(
        through, "resign", lambda w: _resigned_over(w, case.keys["release"], forged)
    )
    assert (code, failed) == (1, {"PG602"}), text
    assert "model.json" in text


def test_a_released_bundle_signed_again_by_a_trusted_key_passes(case: Case) -> None:
    """Signing again (a new signature over the same content) replaces nothing that was
    released: the decision the README documents."""
    _released_signed(case)
    code, failed, text = case.verdict("ci", "again", lambda w: case.sign(w, "v1"))
    assert (code, failed) == (0, set()), text


def test_removing_a_released_signature_is_an_edit_of_the_release(case: Case) -> None:
    _released_signed(case)
    code, failed, text = case.verdict("ci", "unsign", lambda w: (w / V1 / "bundle.sig").unlink())
    assert (code, failed) == (1, {"PG501"}), text
    assert f"{V1}/bundle.sig" in text


def test_a_release_edited_after_signing_is_one_defect(case: Case) -> None:
    """A new bundle's SHA256SUMS rewritten after it was signed: the signature no longer signs
    it (PG602), and nothing else is wrong with the bundle."""
    _trust(case.world, case.keys)

    def edited(work: Path) -> None:
        _signed_v2(case, "release")(work)
        sums = work / V2 / "SHA256SUMS"
        lines = sorted(sums.read_text().splitlines(), reverse=True)
        sums.write_text("\n".join(lines) + "\n")  # reordered: other bytes, same content

    code, failed, text = case.verdict("ci", "edited", edited)
    assert (code, failed) == (1, {"PG602"}), text
    assert "SHA256SUMS" in text


def test_a_trusted_key_missing_at_the_base_cannot_be_judged(case: Case) -> None:
    work = case.world.work
    _trust(case.world, case.keys)
    run(work, "git", "rm", "-q", "keys/release.pub")
    commit_all(work, "lose the key")
    run(work, "git", "push", "-q", "origin", "main")

    def bring_it(work: Path) -> None:
        (work / "keys").mkdir(exist_ok=True)
        (work / "keys/release.pub").write_bytes(case.keys["other"].with_suffix(".pub").read_bytes())

    code, _, text = case.verdict("ci", "nokey", bring_it)
    assert code == 2, text
    assert "signing.keys: keys/release.pub is not there" in text


def test_required_signing_without_keys_is_an_invalid_policy(repo: Path, gate: Gate) -> None:
    policy = repo / ".promote-gate.yaml"
    policy.write_text(policy.read_text() + "signing: {required: true}\n")
    code, _, err = gate("check", "--repo", str(repo))
    assert code == 2
    assert "signing.required: true needs at least one key" in err


def test_signatures_are_checked_where_not_required(case: Case) -> None:
    """signing.required off: an unsigned bundle passes, a signature by an untrusted key
    does not (a signature is judged whenever there is one)."""
    _trust(case.world, case.keys, required=False)
    code, failed, text = case.verdict("ci", "untrusted", _signed_v2(case, "other"))
    assert (code, failed) == (1, {"PG603"}), text
