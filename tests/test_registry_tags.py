"""GTO tags through a real ``git push`` (issue 23): the pre-push hook judges every pushed GTO
tag — the registry rules PG701 to PG711 and the bundle the tag releases, at the tagged commit —
under the policy of the remote's default branch, and refuses the push as a whole.

Each case is what a release manager does by hand (``git tag -a``, ``git tag -s``,
``git push --force``) or with ``promote-gate tag``; the verdict is read from what the push
prints, per tag, and from what the bare origin holds afterwards (``git ls-remote``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import Verdict, World, retrain  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.promote import promote

# a finding's line in the text report: "  PG704 stage-version-unregistered  refs/tags/…"
_FAILED = re.compile(r"(?m)^  (PG\d{3}) [a-z-]+  (?!skipped:)")
# where the hook starts each tag's report: "promote-gate: refs/tags/NAME (0123456789ab):"
_TAG_HEAD = re.compile(r"(?m)^promote-gate: refs/tags/(.+) \(([0-9a-f]{12}|deleted)\):$")
ARTIFACT_V1 = "artifacts:\n  model:\n    path: publish/v1\n"
STAGES = "registry:\n  stages: [dev, staging, prod]\n"
ORDERED = "registry:\n  stages: [dev, staging, prod]\n  ordered: true\n"


# --------------------------------------------------------------------------- helpers


def failed_codes(text: str) -> set[str]:
    """The codes the hook's text report shows as violated (a skipped rule says ``skipped:``)."""
    return set(_FAILED.findall(text))


def failed_by_tag(text: str) -> dict[str, set[str]]:
    """Each judged tag's violated codes, from the hook's per-tag reports."""
    heads = list(_TAG_HEAD.finditer(text))
    found = {}
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        end = after.start() if after is not None else len(text)
        found[head.group(1)] = failed_codes(text[head.end() : end])
    return found


def judged(verdict: Verdict) -> Verdict:
    """A verdict the gate reached: no crash, no rule that could not run."""
    assert "Traceback" not in verdict.text, verdict.text
    assert "could not run" not in verdict.text, verdict.text
    assert "promote-gate: error:" not in verdict.text, verdict.text
    return verdict


def refused(verdict: Verdict) -> dict[str, set[str]]:
    """The push was refused by the gate: each tag's violated codes."""
    judged(verdict)
    assert verdict.code == 1, verdict.text
    assert "promote-gate: tag push refused" in verdict.text
    return failed_by_tag(verdict.text)


def passed(verdict: Verdict) -> None:
    judged(verdict)
    assert verdict.code == 0, verdict.text
    assert "refused" not in verdict.text
    assert failed_codes(verdict.text) == set()


def push_tags(world: World, *names: str, force: bool = False) -> Verdict:
    """``git push origin refs/tags/NAME…`` for real (the installed hook decides)."""
    refs = [f"refs/tags/{name}" for name in names]
    return world.push(*(["--force"] if force else []), "origin", *refs)


def tag(world: World, name: str, rev: str = "HEAD", message: str = "release") -> None:
    """An annotated tag, as ``git tag -a`` writes it."""
    run(world.work, "git", "tag", "-a", "-m", message, name, rev)


def untag(world: World, *names: str) -> None:
    run(world.work, "git", "tag", "-d", *names)


def on_origin(world: World) -> dict[str, str]:
    """The origin's tags (name -> the object its ref points at), as ``git ls-remote`` says."""
    listing = run(world.work, "git", "ls-remote", "--tags", "--refs", "origin")
    pairs = (line.split("\t") for line in listing.splitlines())
    return {ref.removeprefix("refs/tags/"): sha for sha, ref in pairs}


def local_tag(world: World, name: str) -> str:
    """The object the local tag ``name`` points at."""
    return run(world.work, "git", "rev-parse", f"refs/tags/{name}").strip()


def set_policy(world: World, text: str) -> None:
    """Append ``text`` to the policy on main and push main (set-up, not under test: the
    hook is skipped)."""
    config = world.work / ".promote-gate.yaml"
    config.write_text(config.read_text() + text)
    commit_all(world.work, "policy: registry")
    run(world.work, "git", "push", "-q", "--no-verify", "origin", "main")


def promote_gate_tag(gate: Gate, world: World, *argv: str) -> tuple[int, str, str]:
    return gate("tag", *argv, "--artifact", "model", "--repo", str(world.work))


def register_v1(gate: Gate, world: World, *argv: str) -> None:
    """``promote-gate tag v1`` (plus ``argv``), pushed through the hook: it passes."""
    code, out, err = promote_gate_tag(gate, world, "v1", *argv)
    assert code == 0, out + err
    names = re.findall(r"(?m)^Created (\S+) ", out)
    assert names, out
    passed(push_tags(world, *names))


def feature(world: World, name: str, change: str | None = None) -> str:
    """A commit on branch ``name`` off main (``change``: the policy it writes), pushed to
    origin without the hook; main checked out again. Its sha."""
    run(world.work, "git", "checkout", "-q", "-b", name, "main")
    if change is not None:
        (world.work / ".promote-gate.yaml").write_text(change)
    (world.work / "NOTES.md").write_text(f"{name}\n")
    head = commit_all(world.work, f"{name}: change")
    run(world.work, "git", "push", "-q", "--no-verify", "origin", name)
    run(world.work, "git", "checkout", "-q", "main")
    return head


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def registry_world(world: World) -> World:
    """v1 released on main, dvc.yaml's artifact ``model`` pointing at it, pushed; no hook."""
    dvc_yaml = world.work / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + ARTIFACT_V1)
    commit_all(world.work, "artifact model: publish/v1")
    run(world.work, "git", "push", "-q", "origin", "main")
    return world


@pytest.fixture
def reg(registry_world: World, gate: Gate) -> World:
    """``registry_world`` with git's own pre-push hook (``promote-gate install``)."""
    registry_world.install_hook(gate)
    return registry_world


# --------------------------------------------------------------------------- passing


def test_promote_gate_tag_writes_tags_the_push_lets_through(reg: World, gate: Gate) -> None:
    """`promote-gate tag v1 --stage dev`: the registration and the assignment GTO writes,
    annotated, pinning the bundle's manifest; pushed through the hook, they reach origin."""
    released_at = reg.sha()
    code, out, err = promote_gate_tag(gate, reg, "v1", "--stage", "dev")
    assert code == 0, out + err
    assert f"Created model@v1.0.0 ({released_at[:12]}, publish/v1)" in out
    assert f"Created model#dev#1 ({released_at[:12]}, publish/v1)" in out
    message = run(reg.work, "git", "cat-file", "tag", "model@v1.0.0")
    manifest = (reg.work / "publish/v1/manifest.json").read_bytes()
    assert "\nPromote-Gate-Bundle: publish/v1\n" in message
    assert f"\nPromote-Gate-Manifest-SHA256: {hashlib.sha256(manifest).hexdigest()}\n" in message
    verdict = push_tags(reg, "model@v1.0.0", "model#dev#1")
    passed(verdict)
    assert set(failed_by_tag(verdict.err)) == {"model@v1.0.0", "model#dev#1"}
    assert on_origin(reg) == {
        "model@v1.0.0": local_tag(reg, "model@v1.0.0"),
        "model#dev#1": local_tag(reg, "model#dev#1"),
    }
    peeled = run(reg.work, "git", "ls-remote", "origin", "refs/tags/model@v1.0.0^{}").split()
    assert peeled[0] == released_at


# --------------------------------------------------------------------------- PG701 to PG703


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("model@v2.0.0", "there is no publish/v2 at "),
        ("model@v1.2.0", "version v1.2.0 names no bundle"),
    ],
)
def test_pg701_a_registration_without_its_bundle_is_refused(
    reg: World, name: str, said: str
) -> None:
    tag(reg, name)
    verdict = push_tags(reg, name)
    assert refused(verdict) == {name: {"PG701"}}
    assert said in verdict.err
    assert on_origin(reg) == {}


def test_pg702_a_trailer_pinning_other_content_is_refused(reg: World, tmp_path: Path) -> None:
    """A registration whose message pins a manifest sha256 the bundle at the commit does not
    have is refused; the same tag with the right sha256 passes."""
    manifest = (reg.work / "publish/v1/manifest.json").read_bytes()
    right = hashlib.sha256(manifest).hexdigest()
    wrong = hashlib.sha256(manifest + b" ").hexdigest()
    for sha, ok in ((wrong, False), (right, True)):
        message = tmp_path / f"message-{sha}"
        message.write_text(
            "Register model v1.0.0\n\n"
            f"Promote-Gate-Bundle: publish/v1\nPromote-Gate-Manifest-SHA256: {sha}\n"
        )
        run(reg.work, "git", "tag", "-f", "-a", "-F", str(message), "model@v1.0.0")
        verdict = push_tags(reg, "model@v1.0.0")
        if ok:
            passed(verdict)
            assert on_origin(reg) == {"model@v1.0.0": local_tag(reg, "model@v1.0.0")}
        else:
            assert refused(verdict) == {"model@v1.0.0": {"PG702"}}
            assert f"expected: {wrong}  found: {right}" in verdict.err
            assert on_origin(reg) == {}


@pytest.mark.parametrize(
    ("artifacts", "found"),
    [
        ("artifacts:\n  model:\n    path: publish/v2\n", "found: publish/v2"),
        ("", "found: no entry"),
    ],
    ids=["points-elsewhere", "missing"],
)
def test_pg703_a_registration_where_the_artifact_is_not_the_bundle_is_refused(
    reg: World, artifacts: str, found: str
) -> None:
    """`dvc artifacts get model --rev v1.0.0` reads dvc.yaml at the tagged commit: there it
    must name the bundle the tag releases."""
    run(reg.work, "git", "checkout", "-q", "-b", "elsewhere")
    dvc_yaml = reg.work / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace(ARTIFACT_V1, artifacts))
    commit_all(reg.work, "artifact moved")
    tag(reg, "model@v1.0.0")
    verdict = push_tags(reg, "model@v1.0.0")
    assert refused(verdict) == {"model@v1.0.0": {"PG703"}}
    assert found in verdict.err
    assert on_origin(reg) == {}


# --------------------------------------------------------------------------- PG704 to PG707


def test_pg704_an_assignment_with_no_registration_is_refused(reg: World) -> None:
    tag(reg, "model#prod#1")
    verdict = push_tags(reg, "model#prod#1")
    assert refused(verdict) == {"model#prod#1": {"PG704"}}
    assert "where no version of model is registered" in verdict.err
    assert on_origin(reg) == {}


def test_pg704_an_assignment_of_a_deregistered_version_is_refused(reg: World, gate: Gate) -> None:
    register_v1(gate, reg)
    tag(reg, "model@v1.0.0!", reg.sha())
    passed(push_tags(reg, "model@v1.0.0!"))
    tag(reg, "model#prod#2", reg.sha())
    verdict = push_tags(reg, "model#prod#2")
    assert refused(verdict) == {"model#prod#2": {"PG704"}}
    assert "assigns stage prod to v1.0.0, which is deregistered" in verdict.err
    assert set(on_origin(reg)) == {"model@v1.0.0", "model@v1.0.0!"}


def test_pg705_a_stage_the_policy_does_not_list_is_refused(reg: World, gate: Gate) -> None:
    released_at = reg.sha()
    set_policy(reg, STAGES)
    register_v1(gate, reg)
    tag(reg, "model#qa#3", released_at)
    verdict = push_tags(reg, "model#qa#3")
    assert refused(verdict) == {"model#qa#3": {"PG705"}}
    assert "expected: dev, staging, prod  found: qa" in verdict.err
    tag(reg, "model#staging#4", released_at)
    passed(push_tags(reg, "model#staging#4"))
    assert set(on_origin(reg)) == {"model@v1.0.0", "model#staging#4"}


def test_pg706_an_ordered_stage_cannot_be_skipped(reg: World, gate: Gate) -> None:
    """With registry.ordered, prod before staging is refused — by the push and by
    `promote-gate tag`, which then leaves no tag — and passes after dev and staging."""
    released_at = reg.sha()
    set_policy(reg, ORDERED)
    register_v1(gate, reg)
    tag(reg, "model#prod#1", released_at)
    verdict = push_tags(reg, "model#prod#1")
    assert refused(verdict) == {"model#prod#1": {"PG706"}}
    assert "without holding dev, staging first" in verdict.err
    untag(reg, "model#prod#1")
    code, _, err = promote_gate_tag(gate, reg, "v1", "--stage", "prod")
    assert code == 1, err
    assert failed_codes(err) == {"PG706"}
    assert "no tag was created" in err
    assert run(reg.work, "git", "tag", "--list", "model#*") == ""
    register_v1(gate, reg, "--stage", "dev")
    register_v1(gate, reg, "--stage", "staging")
    register_v1(gate, reg, "--stage", "prod")
    assert set(on_origin(reg)) == {"model@v1.0.0", "model#dev#1", "model#staging#2", "model#prod#3"}


STAGE_BRANCHES = "registry:\n  stage_branches:\n    prod: [main]\n"


def test_pg707_a_stage_on_a_commit_origin_holds_on_no_branch_is_refused(
    reg: World, gate: Gate
) -> None:
    """stage_branches: {prod: [main]}: prod on a commit that no branch of origin holds is
    refused (its registration, pushed with it, passes); the same on main passes."""
    set_policy(reg, STAGE_BRANCHES)
    run(reg.work, "git", "checkout", "-q", "-b", "unpushed")
    unpushed = commit_all(reg.work, "on no branch of origin")
    tag(reg, "model@v1.0.0", unpushed)
    tag(reg, "model#prod#1", unpushed)
    verdict = push_tags(reg, "model@v1.0.0", "model#prod#1")
    assert refused(verdict) == {"model@v1.0.0": set(), "model#prod#1": {"PG707"}}
    assert "expected: main  found: no such branch holds the commit" in verdict.text
    assert on_origin(reg) == {}
    untag(reg, "model@v1.0.0", "model#prod#1")
    run(reg.work, "git", "checkout", "-q", "main")
    register_v1(gate, reg, "--stage", "prod")
    assert set(on_origin(reg)) == {"model@v1.0.0", "model#prod#1"}


def test_pg707_a_stage_on_a_feature_branch_commit_is_refused(reg: World) -> None:
    """stage_branches: {prod: [main]}: prod on a commit only the feature branch `topic` on
    origin holds is refused."""
    set_policy(reg, STAGE_BRANCHES)
    topic = feature(reg, "topic")
    tag(reg, "model@v1.0.0", topic)
    tag(reg, "model#prod#1", topic)
    verdict = push_tags(reg, "model@v1.0.0", "model#prod#1")
    assert refused(verdict) == {"model@v1.0.0": set(), "model#prod#1": {"PG707"}}
    assert on_origin(reg) == {}


def test_the_policy_is_the_default_branch_tip_not_the_tagged_commit(reg: World) -> None:
    """A feature commit that drops `ordered` from its own policy does not let its prod
    assignment skip dev and staging: main's policy governs every tag."""
    set_policy(reg, ORDERED)
    relaxed = (reg.work / ".promote-gate.yaml").read_text().replace("  ordered: true\n", "")
    assert "ordered" not in relaxed
    topic = feature(reg, "relax", relaxed)
    tag(reg, "model@v1.0.0", topic)
    tag(reg, "model#prod#1", topic)
    verdict = push_tags(reg, "model@v1.0.0", "model#prod#1")
    assert refused(verdict) == {"model@v1.0.0": set(), "model#prod#1": {"PG706"}}
    assert on_origin(reg) == {}


# --------------------------------------------------------------------------- PG708, PG709


def _ssh_key(directory: Path, name: str) -> Path:
    """An ed25519 key pair made by ssh-keygen; the public key's path."""
    directory.mkdir(exist_ok=True)
    key = directory / name
    run(directory, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key))
    return key.with_suffix(".pub")


def _signed_tag(world: World, key: Path, name: str, rev: str) -> None:
    run(
        world.work,
        *("git", "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"),
        *("tag", "-s", "-m", "release", name, rev),
    )


def test_pg708_pg709_signed_tags_by_an_allowed_signer(
    reg: World, gate: Gate, tmp_path: Path
) -> None:
    """registry.signed_tags: an unsigned registration is refused (PG708), one signed with a
    key the default branch's allowed-signers file does not list too (PG709); signed with
    the listed key — by hand or by `promote-gate tag --sign` — it passes."""
    trusted = _ssh_key(tmp_path / "keys", "release")
    other = _ssh_key(tmp_path / "keys", "other")
    signers = reg.work / ".promote-gate" / "allowed_signers"
    signers.parent.mkdir()
    signers.write_text(f'a@x namespaces="git" {trusted.read_text().strip()}\n')
    released_at = reg.sha()
    set_policy(
        reg, "registry:\n  signed_tags: true\n  allowed_signers: .promote-gate/allowed_signers\n"
    )
    tag(reg, "model@v1.0.0", released_at)
    verdict = push_tags(reg, "model@v1.0.0")
    assert refused(verdict) == {"model@v1.0.0": {"PG708"}}
    assert "model@v1.0.0 is not signed, and registry.signed_tags requires it" in verdict.text
    untag(reg, "model@v1.0.0")
    _signed_tag(reg, other, "model@v1.0.0", released_at)
    verdict = push_tags(reg, "model@v1.0.0")
    assert refused(verdict) == {"model@v1.0.0": {"PG709"}}
    assert "signature is not by a key of the policy's allowed signers" in verdict.err
    assert on_origin(reg) == {}
    untag(reg, "model@v1.0.0")
    _signed_tag(reg, trusted, "model@v1.0.0", released_at)
    passed(push_tags(reg, "model@v1.0.0"))
    run(reg.work, "git", "config", "gpg.format", "ssh")
    run(reg.work, "git", "config", "user.signingkey", str(trusted))
    register_v1(gate, reg, "--stage", "dev", "--sign")
    assert set(on_origin(reg)) == {"model@v1.0.0", "model#dev#1"}


# --------------------------------------------------------------------------- PG710, PG711


def test_pg710_a_released_tag_is_never_moved_nor_deleted(reg: World, gate: Gate) -> None:
    register_v1(gate, reg)
    released = on_origin(reg)
    commit_all(reg.work, "later")
    run(reg.work, "git", "tag", "-f", "-a", "-m", "moved", "model@v1.0.0", "HEAD")
    moved = push_tags(reg, "model@v1.0.0", force=True)
    assert refused(moved) == {"model@v1.0.0": {"PG710"}}
    assert f"which the remote has at {released['model@v1.0.0'][:12]}" in moved.err
    deleted = reg.push("--delete", "origin", "model@v1.0.0")
    assert refused(deleted) == {"model@v1.0.0": {"PG710"}}
    assert "the push deletes model@v1.0.0 from the remote" in deleted.err
    assert on_origin(reg) == released


def test_pg711_tags_gto_cannot_read_as_the_release_they_look_like(reg: World, gate: Gate) -> None:
    """A lightweight registration, an annotated `@created`, a tag of a tag, and a second
    version on the commit v1.0.0 registers (whose bundle v3 is missing too)."""
    released_at = reg.sha()
    run(reg.work, "git", "tag", "model@v1.0.0", released_at)
    verdict = push_tags(reg, "model@v1.0.0")
    assert refused(verdict) == {"model@v1.0.0": {"PG711"}}
    assert "a lightweight tag (a commit)" in verdict.err
    untag(reg, "model@v1.0.0")
    tag(reg, "model@created", released_at)
    verdict = push_tags(reg, "model@created")
    assert refused(verdict) == {"model@created": {"PG711"}}
    assert "`@created` is no GTO action" in verdict.err
    tag(reg, "inner", released_at)
    tag(reg, "model@v1.0.0", "refs/tags/inner")
    verdict = push_tags(reg, "model@v1.0.0")
    assert refused(verdict) == {"model@v1.0.0": {"PG711"}}
    assert "a tag of a tag" in verdict.err
    untag(reg, "model@v1.0.0")
    register_v1(gate, reg)
    tag(reg, "model@v3.0.0", released_at)
    verdict = push_tags(reg, "model@v3.0.0")
    assert refused(verdict) == {"model@v3.0.0": {"PG701", "PG711"}}
    assert "model@v1.0.0 already registers a version at this commit" in verdict.err
    assert set(on_origin(reg)) == {"model@v1.0.0"}


def test_pg711_a_tag_object_put_under_another_name_vouches_for_nothing(
    reg: World, gate: Gate
) -> None:
    """``git update-ref refs/tags/model#prod#3 <the object of model#dev#1>``: the object
    still says ``tag model#dev#1`` (its message and any signature are of that name), so it
    is no prod assignment, and it registers nothing for later tags."""
    register_v1(gate, reg, "--stage", "dev")
    run(reg.work, "git", "update-ref", "refs/tags/model#prod#3", local_tag(reg, "model#dev#1"))
    verdict = push_tags(reg, "model#prod#3")
    assert refused(verdict) == {"model#prod#3": {"PG711"}}
    assert "its tag object names itself 'model#dev#1'" in verdict.err
    assert set(on_origin(reg)) == {"model@v1.0.0", "model#dev#1"}
    run(reg.work, "git", "update-ref", "refs/tags/model@v1.2.0", local_tag(reg, "model@v1.0.0"))
    assert refused(push_tags(reg, "model@v1.2.0")) == {"model@v1.2.0": {"PG711"}}


def test_pg706_a_stage_unassigned_since_is_not_held(reg: World, gate: Gate) -> None:
    """Ordered stages: after ``model#staging!#3`` withdraws staging, prod is refused as
    skipping it, as GTO's history reads the events."""
    set_policy(reg, ORDERED)
    register_v1(gate, reg, "--stage", "dev")
    register_v1(gate, reg, "--stage", "staging")
    staged = run(
        reg.work, "git", "for-each-ref", "--format=%(taggerdate:unix)", "refs/tags/model#staging#2"
    )
    later = {**os.environ, "GIT_COMMITTER_DATE": f"@{int(staged) + 1} +0000"}
    subprocess.run(
        ["git", "tag", "-a", "-m", "staging failed", "model#staging!#3", "model@v1.0.0^{commit}"],
        cwd=reg.work,
        env=later,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    passed(push_tags(reg, "model#staging!#3"))
    code, _, err = promote_gate_tag(gate, reg, "v1", "--stage", "prod")
    assert code == 1, err
    assert failed_codes(err) == {"PG706"}
    assert "without holding staging first" in err
    register_v1(gate, reg, "--stage", "staging")
    register_v1(gate, reg, "--stage", "prod")


def test_a_pre_push_line_whose_id_reads_as_an_option_is_refused(reg: World) -> None:
    """The hook's stdin is input: an object id field is an id, never passed on as an option."""
    url = run(reg.work, "git", "remote", "get-url", "origin").strip()
    line = f"refs/tags/model@v1.0.0 --batch-all-objects refs/tags/model@v1.0.0 {'0' * 40}\n"
    proc = subprocess.run(
        [sys.executable, "-m", "promote_gate", "hook", "pre-push", "origin", url],
        cwd=reg.work,
        input=line,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "'--batch-all-objects' is no object id" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_lightweight_tag_pushed_is_not_reported_as_deleted(reg: World) -> None:
    run(reg.work, "git", "tag", "model@v1.0.0")
    verdict = push_tags(reg, "model@v1.0.0")
    assert refused(verdict) == {"model@v1.0.0": {"PG711"}}
    assert "in the tag model@v1.0.0 (deleted)" not in verdict.text


# --------------------------------------------------------------------------- the framework


class Framework:
    """The pre-commit framework's pre-push stage installed in a clone (``pre-commit install
    --hook-type pre-push``; the hook is this environment's promote-gate, a system hook, so
    the code under test is the working tree's), and pushes through it."""

    def __init__(self, world: World, home: Path) -> None:
        self.world = world
        self.env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
        entry = Path(sys.executable).parent / "promote-gate"
        (world.work / ".pre-commit-config.yaml").write_text(
            "repos:\n- repo: local\n  hooks:\n  - id: promote-gate\n    name: promote-gate\n"
            f"    entry: {entry} hook pre-push\n    language: system\n    stages: [pre-push]\n"
            "    pass_filenames: false\n    always_run: true\n"
        )
        installed = self.run(
            sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-push"
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert "pre-commit" in (world.work / ".git/hooks/pre-push").read_text()

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.world.work, env=self.env, capture_output=True, text=True,
            check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def push(self, name: str) -> Verdict:
        """``git push origin refs/tags/NAME``; pre-commit prints the hook's output on stdout."""
        proc = self.run("git", "push", "origin", f"refs/tags/{name}")
        text = proc.stdout + proc.stderr
        code = 0 if proc.returncode == 0 else (1 if "push refused" in text else 2)
        return Verdict(code, proc.stdout, proc.stderr)


@pytest.fixture
def framework(registry_world: World, tmp_path: Path) -> Framework:
    return Framework(registry_world, tmp_path / "pre-commit-home")


@pytest.mark.slow
def test_through_the_framework_a_registration_without_its_bundle_is_refused(
    framework: Framework,
) -> None:
    """A registration on a commit origin lacks: pre-commit runs the hook, which refuses it
    as git's own hook does — PG701 alone."""
    world = framework.world
    commit_all(world.work, "not on origin yet")
    tag(world, "model@v2.0.0")
    verdict = framework.push("model@v2.0.0")
    assert refused(verdict) == {"model@v2.0.0": {"PG701"}}
    assert on_origin(world) == {}


@pytest.mark.slow
def test_through_the_framework_a_registration_promote_gate_tag_wrote_passes(
    framework: Framework, gate: Gate
) -> None:
    world = framework.world
    unpushed = commit_all(world.work, "not on origin yet")
    code, out, err = promote_gate_tag(gate, world, "v1", "--rev", unpushed)
    assert code == 0, out + err
    passed(framework.push("model@v1.0.0"))
    assert on_origin(world) == {"model@v1.0.0": local_tag(world, "model@v1.0.0")}


@pytest.mark.slow
def test_through_the_framework_a_registration_is_judged_at_all(framework: Framework) -> None:
    """What the framework does today with a tag on a commit origin lacks: it runs the hook,
    and the hook refuses the push (however it reads the tag: see the two tests above)."""
    world = framework.world
    commit_all(world.work, "not on origin yet")
    tag(world, "model@v2.0.0")
    verdict = framework.push("model@v2.0.0")
    judged(verdict)
    assert verdict.code == 1, verdict.text
    assert "- hook id: promote-gate\n- exit code: 1\n" in verdict.out
    assert "promote-gate: refs/tags/model@v2.0.0 (" in verdict.out
    assert on_origin(world) == {}


@pytest.mark.slow
def test_through_the_framework_a_tag_on_a_pushed_commit_runs_no_hook(
    framework: Framework,
) -> None:
    """The documented limit (README, Model registry: the framework "skips a ref whose commit
    a remote-tracking branch already has — so `git push origin model@v1.0.0` of a tag on a
    pushed commit does not run it"): a registration git's own hook refuses (PG701,
    test_pg701_…) reaches origin unjudged through the framework, and nothing says so."""
    world = framework.world
    tag(world, "model@v2.0.0")
    verdict = framework.push("model@v2.0.0")
    assert verdict.code == 0, verdict.text
    assert "promote-gate" not in verdict.text
    assert on_origin(world) == {"model@v2.0.0": local_tag(world, "model@v2.0.0")}


# --------------------------------------------------------------------------- hostile names


@pytest.mark.parametrize(
    "name",
    [
        "model@v1.0.0\x01",
        "model\x1b[31m@v1.0.0",
        "model@v1.0.0\x7f",
        "model @v1.0.0",
        "a/../b=model@v1.0.0",
        "a/.b=model@v1.0.0",
    ],
    ids=["soh", "escape", "del", "space", "dotdot", "dot-directory"],
)
def test_a_name_git_cannot_hold_never_reaches_the_gate(reg: World, name: str) -> None:
    """Control characters, spaces, `..` and a directory starting with `.` make no ref: git
    refuses the tag, and the push of such a ref fails in git before any hook runs."""
    made = subprocess.run(
        ["git", "tag", "-a", "-m", "x", name], cwd=reg.work, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert made.returncode != 0
    assert "is not a valid tag name" in made.stderr
    forced = subprocess.run(
        ["git", "update-ref", f"refs/tags/{name}", reg.sha()], cwd=reg.work,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert forced.returncode != 0
    assert run(reg.work, "git", "tag", "--list") == ""
    verdict = reg.push("origin", f"HEAD:refs/tags/{name}")
    assert verdict.code == 2, verdict.text
    assert "promote-gate" not in verdict.text
    assert on_origin(reg) == {}


def test_a_directory_that_reads_as_an_option_is_refused_and_never_run(
    reg: World, gate: Gate, tmp_path: Path
) -> None:
    """`--upload-pack=evil/x@v1.0.0` is a ref git holds (`git update-ref`; `git tag` refuses a
    leading `-`) and a GTO name whose directory is `--upload-pack`: refused, PG711 (and no
    DVC project there: PG701) by the push and by `check --rev`, and the program it names
    is never run — run by git as an option, it would leave the marker."""
    marker = tmp_path / "marker"
    program = reg.work / "evil" / "x@v1.0.0"
    program.parent.mkdir()
    program.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    program.chmod(0o755)
    name = "--upload-pack=evil/x@v1.0.0"
    obj = subprocess.run(
        ["git", "mktag"],
        cwd=reg.work,
        input=f"object {reg.sha()}\ntype commit\ntag {name}\n"
        "tagger Test Committer <committer@example.invalid> 1700000000 +0000\n\nrelease\n",
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    run(reg.work, "git", "update-ref", f"refs/tags/{name}", obj)
    verdict = push_tags(reg, name)
    assert refused(verdict) == {name: {"PG701", "PG711"}}
    assert "the artifact's directory '--upload-pack' is no path" in verdict.err
    assert on_origin(reg) == {}
    code, doc = gate.json("check", f"--rev={name}", "--repo", str(reg.work))
    assert (code, _failed(doc)) == (1, {"PG701", "PG711"})
    assert not marker.exists()
    # the marker is reachable: git given the name as an option runs the program
    subprocess.run(
        ["git", "ls-remote", name, "origin"],
        cwd=reg.work, capture_output=True, check=False,
    )  # fmt: skip
    assert marker.exists()


def test_a_200_character_artifact_name_is_judged(reg: World) -> None:
    name = "m" * 200 + "@v1.0.0"
    tag(reg, name)
    verdict = push_tags(reg, name)
    assert refused(verdict) == {name: {"PG703"}}
    assert f"declares no artifact {'m' * 200}:" in verdict.err
    assert on_origin(reg) == {}


def test_tags_that_are_not_gto_tags_are_not_gated(reg: World) -> None:
    tag(reg, "v1.2")
    run(reg.work, "git", "tag", "release")
    verdict = push_tags(reg, "v1.2", "release")
    judged(verdict)
    assert verdict.code == 0, verdict.text
    assert "refused" not in verdict.err
    assert "FAIL" not in verdict.err
    assert set(on_origin(reg)) == {"v1.2", "release"}
    for name in ("v1.2", "release"):
        said = f"promote-gate: refs/tags/{name} ({local_tag(reg, name)[:12]}): not a release"
        assert f"{said} branch (release_branches): not gated\n" in verdict.err


# --------------------------------------------------------------------------- check --rev


def test_check_rev_agrees_with_the_push(reg: World, gate: Gate) -> None:
    """`check --rev model@v2.0.0` says what the push of the tag will: refused with the same
    codes on a commit without publish/v2, passed on the commit that promotes v2."""
    tag(reg, "model@v2.0.0")
    code, doc = gate.json("check", "--rev", "model@v2.0.0", "--repo", str(reg.work))
    assert code == 1
    assert _failed(doc) == {"PG701"}
    assert refused(push_tags(reg, "model@v2.0.0")) == {"model@v2.0.0": {"PG701"}}
    untag(reg, "model@v2.0.0")
    retrain(reg.work, lr="0.1")
    promote(str(reg.work), "v2", [], artifact="model")
    commit_all(reg.work, "Promote v2, artifact model: publish/v2")
    tag(reg, "model@v2.0.0")
    code, doc = gate.json("check", "--rev", "model@v2.0.0", "--repo", str(reg.work))
    assert code == 0, doc
    assert _failed(doc) == set()
    passed(push_tags(reg, "model@v2.0.0"))
    assert set(on_origin(reg)) == {"model@v2.0.0"}


def _failed(doc: dict[str, object]) -> set[str]:
    bundles = doc.get("bundles", [])
    assert isinstance(bundles, list)
    return {r["code"] for b in bundles for r in b["results"] if r["status"] == "failed"}


# --------------------------------------------------------------------------- PG506


@pytest.mark.parametrize(
    ("path", "failed"),
    [("models/model.json", {"PG506"}), ("publish/v1", set())],
)
def test_pg506_an_artifact_outside_the_publish_root(
    repo: Path, gate: Gate, path: str, failed: set[str]
) -> None:
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + f"artifacts:\n  model:\n    path: {path}\n")
    commit_all(repo, "artifact")
    code, doc = gate.json("check", "--repo", str(repo))
    assert _failed(doc) == failed
    assert code == (1 if failed else 0)
