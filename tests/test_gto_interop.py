"""Issue 23, the GTO bridge, held to GTO and DVC themselves: what ``promote --artifact`` and
``promote-gate tag`` write is read by the real ``gto`` CLI and fetched by the real ``dvc
artifacts get``; the stage counter is the one ``gto.tag.name_tag`` computes; and a pushed GTO
tag is judged in CI (GitHub and GitLab tag runs, a fresh clone of a bare origin) under the
default branch's policy, from the annotated tag on the remote.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SHARED_SCHEMAS, Gate, commit_all, run
from scenario import V2, Verdict, World, ci, github_env, gitlab_env, retrain
from scmrepo.git import Git as ScmGit

from promote_gate.gto import next_counter

gto_tag = pytest.importorskip("gto.tag", reason="GTO is installed with DVC ([dvc], [test])")
gto_constants = pytest.importorskip("gto.constants")

GTO = Path(sys.executable).parent / "gto"
ZERO = "0" * 40
ORDERED = "registry:\n  stages: [dev, prod]\n  ordered: true\n"


# --------------------------------------------------------------------------- helpers


def tool(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A real CLI (gto, dvc, git), its output kept whatever its exit code."""
    cmd = [sys.executable, "-m", "dvc", *argv[1:]] if argv[0] == "dvc" else list(argv)
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )


def gto_json(repo: Path, *argv: str) -> dict[str, Any]:
    """What the real ``gto`` CLI prints with ``--json``, parsed."""
    proc = tool(repo, str(GTO), *argv, "--json")
    assert proc.returncode == 0, f"gto {' '.join(argv)}:\n{proc.stdout}\n{proc.stderr}"
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def tags(repo: Path) -> list[str]:
    return run(repo, "git", "tag", "-l").split()


def tagger_times(repo: Path, *names: str) -> list[int]:
    return [
        int(run(repo, "git", "for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{n}"))
        for n in names
    ]


def git_show(repo: Path, rev: str, path: str) -> bytes:
    proc = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, check=True
    )
    return proc.stdout


def annotated(work: Path, name: str, commit: str, message: str, when: int | None = None) -> None:
    """``git tag -a`` as a person writes it, not through promote-gate (``when``: the
    tagger's time, as a Unix second)."""
    env = dict(os.environ) | ({} if when is None else {"GIT_COMMITTER_DATE": f"@{when} +0000"})
    proc = subprocess.run(
        ["git", "tag", "-a", "-F", "-", "--", name, commit],
        cwd=work,
        input=message,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr


def add_policy(work: Path, text: str) -> None:
    policy = work / ".promote-gate.yaml"
    policy.write_text(policy.read_text() + text)


def promote_v2(world: World, gate: Gate, policy: str = "") -> str:
    """On main, pushed with its data: ``policy`` added, a retrained v2 promoted with
    ``--artifact model``; the commit that adds publish/v2."""
    work = world.work
    if policy:
        add_policy(work, policy)
    retrain(work, lr="0.1")
    code, out, err = gate("promote", "--repo", str(work), "v2", "--artifact", "model")
    assert code == 0, out + err
    head = commit_all(work, "Promote v2")
    run(work, "git", "push", "-q", "origin", "main")
    run(work, "dvc", "push", "-q")
    return head


def tag_cmd(gate: Gate, work: Path, *argv: str) -> tuple[int, str, str]:
    code, out, err = gate("tag", "--repo", str(work), *argv)
    assert "Traceback" not in err
    return code, out, err


def clone(world: World, dest: Path) -> Path:
    run(world.top, "git", "clone", "-q", world.bare.as_uri(), str(dest))
    return dest


def trailer_message(subject: str, bundle: str, manifest: bytes) -> str:
    digest = hashlib.sha256(manifest).hexdigest()
    return f"{subject}\n\nPromote-Gate-Bundle: {bundle}\nPromote-Gate-Manifest-SHA256: {digest}\n"


# --------------------------------------------------------------------------- 1. gto reads it


def test_gto_reads_the_registration_and_the_stage_that_tag_pushed(
    world: World, gate: Gate, tmp_path: Path
) -> None:
    head = promote_v2(world, gate)
    dvc_yaml = yaml.safe_load((world.work / "dvc.yaml").read_text())
    assert dvc_yaml["artifacts"] == {
        "model": {"path": V2, "type": "model", "meta": {"promote_gate": {"bundle": "v2"}}}
    }
    assert "stages" in dvc_yaml  # the pipeline is kept as it was

    code, out, err = tag_cmd(
        gate, world.work, "v2", "--artifact", "model", "--stage", "prod", "--push", "origin"
    )
    assert code == 0, out + err
    assert sorted(tags(world.bare)) == ["model#prod#1", "model@v2.0.0"]

    reader = clone(world, tmp_path / "reader")
    shown = gto_json(reader, "show")
    assert shown["model"]["version"] == "v2.0.0"
    assert shown["model"]["stage"] == {"prod": "v2.0.0"}
    assert shown["model"]["registered"] is True

    registration = gto_json(reader, "check-ref", "refs/tags/model@v2.0.0")
    assert registration["event"] == "registration"
    assert registration["version"] == "v2.0.0"
    assert registration["commit_hexsha"] == head  # the commit that brought publish/v2
    assert git_show(reader, f"{head}^", "publish/v1/manifest.json")  # v1 was there before
    assert tool(reader, "git", "cat-file", "-e", f"{head}^:{V2}/manifest.json").returncode != 0
    manifest = git_show(reader, head, f"{V2}/manifest.json")
    assert f"Promote-Gate-Bundle: {V2}" in registration["message"]
    sha = hashlib.sha256(manifest).hexdigest()
    assert f"Promote-Gate-Manifest-SHA256: {sha}" in registration["message"]

    assignment = gto_json(reader, "check-ref", "refs/tags/model#prod#1")
    assert assignment["event"] == "assignment"
    assert assignment["stage"] == "prod"
    assert assignment["version"] == "v2.0.0"
    assert assignment["commit_hexsha"] == head
    # GTO orders events by the tagger's second: the registration first
    reg_time, assign_time = tagger_times(reader, "model@v2.0.0", "model#prod#1")
    assert assign_time == reg_time + 1


# --------------------------------------------------------------------------- 2. dvc fetches it


def _bundle_as_dvc_hands_it_out(repo: Path, commit: str, bundle: str) -> dict[str, bytes]:
    """The bundle at ``commit`` as a consumer should receive it: git-tracked files as
    committed, each DVC pointer replaced by the data the manifest describes (from the DVC
    cache of the work tree that made it)."""
    listed = run(repo, "git", "ls-tree", "-r", "--name-only", commit, "--", bundle).split()
    expected: dict[str, bytes] = {}
    for path in listed:
        rel = path[len(bundle) + 1 :]
        if rel.endswith(".dvc"):
            out = rel.removesuffix(".dvc")
            expected[out] = (repo / bundle / out).read_bytes()
        else:
            expected[rel] = git_show(repo, commit, path)
    return expected


def _received(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("select", [["--rev", "v2.0.0"], ["--stage", "prod"]], ids=["rev", "stage"])
def test_dvc_artifacts_get_hands_out_exactly_the_bundle(
    select: list[str], world: World, gate: Gate, tmp_path: Path
) -> None:
    head = promote_v2(world, gate)
    code, out, err = tag_cmd(
        gate, world.work, "v2", "--artifact", "model", "--stage", "prod", "--push", "origin"
    )
    assert code == 0, out + err
    # dvc resolves the default branch through the bare repository's HEAD
    run(world.bare, "git", "symbolic-ref", "HEAD", "refs/heads/main")
    outside = tmp_path / "consumer"
    outside.mkdir()
    dest = tmp_path / "fetched"
    # the project's remote is relative (../../dvc-remote): a temporary clone would resolve
    # it elsewhere, so the consumer names it
    proc = tool(
        outside,
        "dvc",
        "artifacts",
        "get",
        world.bare.as_uri(),
        "model",
        *select,
        "-o",
        str(dest),
        "--remote-config",
        f"url={world.remote}",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    got = _received(dest)
    expected = _bundle_as_dvc_hands_it_out(world.work, head, V2)
    assert got == expected
    assert "model.json" in got
    assert "model.json.dvc" not in got
    manifest = json.loads(got["manifest.json"])
    for entry in manifest["files"]:
        assert hashlib.sha256(got[entry["path"]]).hexdigest() == entry["sha256"], entry
    assert manifest["version"] == "v2"


# --------------------------------------------------------------------------- 3. the counter


def _repo_with_tags(path: Path, spec: list[tuple[str, bool]]) -> Path:
    """A real repository with one commit and the tags of ``spec`` (name, annotated)."""
    path.mkdir()
    run(path, "git", "init", "-q", "-b", "main")
    (path / "README").write_text("x\n")
    commit_all(path, "one")
    for name, is_annotated in spec:
        if is_annotated:
            run(path, "git", "tag", "-a", "-m", name, "--", name)
        else:
            run(path, "git", "tag", "--", name)
    return path


TAG_SETS: dict[str, list[tuple[str, bool]]] = {
    "none": [],
    "one-assignment": [("model#dev#1", True)],
    "lightweight": [("model@v1.0.0", True), ("model#junk#41", False)],
    "leading-zeros": [("model#prod#0100", True), ("model#dev#3", True)],
    "other-artifact": [("other#prod#7", True), ("model#dev#2", True)],
    "only-other-artifact": [("other#prod#7", True)],
    "unassignment": [("model#dev#1", True), ("model#dev!#5", True)],
    "no-counter": [("model#prod", True), ("model@v1.0.0", True)],
    "deregistration": [("model@v1.0.0!#9", True)],
    "monorepo": [("sub=model#prod#12", True), ("model#prod#2", True)],
}


def _gto_names(repo: Path, artifact: str) -> str:
    """The assignment GTO itself would name, from the repository's tags (scmrepo's view)."""
    with ScmGit(str(repo)) as scm:
        assign = gto_constants.Action.ASSIGN
        return str(gto_tag.name_tag(assign, artifact, stage="x", scm=scm))


@pytest.mark.parametrize("spec", TAG_SETS.values(), ids=TAG_SETS.keys())
def test_next_counter_is_gtos(spec: list[tuple[str, bool]], tmp_path: Path) -> None:
    repo = _repo_with_tags(tmp_path / "repo", spec)
    names = tags(repo)
    for artifact in ("model", "other", "sub:model"):
        theirs = _gto_names(repo, artifact)
        ours = next_counter(names, artifact)
        assert theirs.rsplit("#", 1)[1] == str(ours), (artifact, names, theirs)


WORLD_TAG_SETS = {k: TAG_SETS[k] for k in ("none", "lightweight", "leading-zeros", "unassignment")}


def _point_v1(world: World) -> str:
    """dvc.yaml's artifact ``model`` pointed at publish/v1 on main, pushed: v1 taggable."""
    work = world.work
    with (work / "dvc.yaml").open("a") as fobj:
        fobj.write("artifacts:\n  model:\n    path: publish/v1\n    type: model\n")
    head = commit_all(work, "model: publish/v1")
    run(work, "git", "push", "-q", "origin", "main")
    return head


@pytest.mark.parametrize("spec", WORLD_TAG_SETS.values(), ids=WORLD_TAG_SETS.keys())
def test_tag_writes_the_assignment_gto_would_name(
    spec: list[tuple[str, bool]], world: World, gate: Gate
) -> None:
    work = world.work
    head = _point_v1(world)
    for name, is_annotated in spec:
        if name == "model@v1.0.0":
            continue  # the registration is what `tag v1` makes
        if is_annotated:
            run(work, "git", "tag", "-a", "-m", name, "--", name, "HEAD~1")
        else:
            run(work, "git", "tag", "--", name, "HEAD~1")
    before = set(tags(work))
    expected = _gto_names(work, "model").replace("#x#", "#dev#")

    code, out, err = tag_cmd(gate, work, "v1", "--artifact", "model", "--stage", "dev")
    assert code == 0, out + err
    assert set(tags(work)) - before == {"model@v1.0.0", expected}
    reg = gto_json(work, "check-ref", "refs/tags/model@v1.0.0")
    assert reg["commit_hexsha"] == head
    assert gto_json(work, "check-ref", f"refs/tags/{expected}")["stage"] == "dev"
    assert gto_json(work, "show")["model"]["stage"]["dev"] == "v1.0.0"


def test_tag_writes_its_tags_after_the_artifacts_newest(world: World, gate: Gate) -> None:
    """An existing tag of the artifact dated after now: GTO orders events by the tagger's
    second, so the new ones must still come after it, to be the registry's newest."""
    work = world.work
    _point_v1(world)
    late = 4_000_000_000
    annotated(work, "model#dev#1", "HEAD~1", "an old dev assignment\n", when=late)
    code, out, err = tag_cmd(gate, work, "v1", "--artifact", "model", "--stage", "dev")
    assert code == 0, out + err
    reg, dev = tagger_times(work, "model@v1.0.0", "model#dev#2")
    assert (reg, dev) == (late + 1, late + 2)
    assert gto_json(work, "show")["model"]["stage"]["dev"] == "v1.0.0"


def test_tag_registers_each_version_where_its_bundle_arrived(
    world: World, gate: Gate, tmp_path: Path
) -> None:
    """v3 promoted after v2 moves the artifact on; v2 is still registered at its own commit,
    and what dvc.yaml said besides (a comment, another artifact) survives both promotes."""
    work = world.work
    text = (work / "dvc.yaml").read_text()
    extra = "artifacts:\n  baseline:  # the first release, for comparison\n    path: publish/v1\n"
    (work / "dvc.yaml").write_text("# the pipeline, and what it publishes\n" + text + extra)
    commit_all(work, "declare the baseline")
    v2 = promote_v2(world, gate)
    retrain(work, lr="0.2")
    code, out, err = gate("promote", "--repo", str(work), "v3", "--artifact", "model")
    assert code == 0, out + err
    v3 = commit_all(work, "Promote v3")
    run(work, "git", "push", "-q", "origin", "main")
    run(work, "dvc", "push", "-q")
    written = (work / "dvc.yaml").read_text()
    assert written.startswith("# the pipeline, and what it publishes\n")
    assert "baseline:  # the first release, for comparison" in written
    assert yaml.safe_load(written)["artifacts"]["model"]["path"] == "publish/v3"

    for argv in (["v2"], ["v3", "--stage", "prod"]):
        code, out, err = tag_cmd(gate, work, *argv, "--artifact", "model", "--push", "origin")
        assert code == 0, out + err
    reader = clone(world, tmp_path / "reader")
    assert gto_json(reader, "check-ref", "refs/tags/model@v2.0.0")["commit_hexsha"] == v2
    assert gto_json(reader, "check-ref", "refs/tags/model@v3.0.0")["commit_hexsha"] == v3
    shown = gto_json(reader, "show")["model"]
    assert (shown["version"], shown["stage"]) == ("v3.0.0", {"prod": "v3.0.0"})
    assert "model@v2.0.0" in {e["ref"] for e in _history(reader)}


def _history(repo: Path) -> list[dict[str, Any]]:
    proc = tool(repo, str(GTO), "history", "model", "--json")
    assert proc.returncode == 0, proc.stderr
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    return found


# --------------------------------------------------------------------------- 4. refusals


def test_tag_refuses_a_version_with_no_bundle(world: World, gate: Gate) -> None:
    promote_v2(world, gate)
    before = tags(world.work)
    code, out, err = tag_cmd(gate, world.work, "v3", "--artifact", "model", "--stage", "dev")
    assert code in {1, 2}, out + err
    assert "publish/v3" in err
    assert tags(world.work) == before
    assert tags(world.bare) == []


def test_tag_refuses_a_skipped_stage_and_leaves_no_tag(world: World, gate: Gate) -> None:
    promote_v2(world, gate, policy=ORDERED)
    code, out, err = tag_cmd(
        gate, world.work, "v2", "--artifact", "model", "--stage", "prod", "--push", "origin"
    )
    assert code == 1, out + err
    assert "PG706" in err
    assert "stage-skipped" in err
    assert tags(world.work) == []
    assert tags(world.bare) == []
    # the path the policy allows still works: dev first, then prod
    code, out, err = tag_cmd(
        gate, world.work, "v2", "--artifact", "model", "--stage", "dev", "--push", "origin"
    )
    assert code == 0, out + err
    code, out, err = tag_cmd(
        gate, world.work, "v2", "--artifact", "model", "--stage", "prod", "--push", "origin"
    )
    assert code == 0, out + err
    assert sorted(tags(world.bare)) == ["model#dev#1", "model#prod#2", "model@v2.0.0"]


# --------------------------------------------------------------------------- 5. CI tag runs

VENDORS = ["github", "gitlab"]


def tag_run(
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp: Path,
    vendor: str,
    name: str,
    *,
    clobber: bool = False,
) -> tuple[Verdict, Path]:
    """``promote-gate ci`` on the push of the tag ``name`` to origin: a fresh clone (no DVC
    cache) checked out at the tagged commit (``clobber``: the tag made lightweight, as actions/checkout's
    fetch of the tag leaves it), the vendor's variables; the verdict and the JUnit file."""
    ws = world.clone(tmp / "ws", "main")  # beside a copy of the DVC remote
    commit = run(ws, "git", "rev-parse", f"refs/tags/{name}^{{commit}}").strip()
    tag_object = run(ws, "git", "rev-parse", f"refs/tags/{name}").strip()
    run(ws, "git", "checkout", "-q", "--detach", commit)
    if clobber:
        run(ws, "git", "update-ref", f"refs/tags/{name}", commit)
        assert run(ws, "git", "cat-file", "-t", f"refs/tags/{name}").strip() == "commit"
    if vendor == "github":
        payload = {
            "ref": f"refs/tags/{name}",
            "before": ZERO,
            "after": tag_object,
            "created": True,
            "deleted": False,
            "base_ref": None,
            "repository": {"default_branch": "main"},
        }
        env = {
            "GITHUB_SHA": commit,
            "GITHUB_REF": f"refs/tags/{name}",
            "GITHUB_REF_NAME": name,
            "GITHUB_REF_TYPE": "tag",
            "GITHUB_BASE_REF": "",
        }
        github_env(monkeypatch, tmp / "runner", "push", env, payload)
    else:
        gitlab_env(
            monkeypatch,
            {
                "CI_PIPELINE_SOURCE": "push",
                "CI_COMMIT_SHA": commit,
                "CI_COMMIT_TAG": name,
                "CI_COMMIT_REF_NAME": name,
                "CI_COMMIT_BEFORE_SHA": ZERO,
            },
        )
    junit = tmp / "junit.xml"
    verdict = ci(gate, monkeypatch, ws, "--junit-xml", str(junit))
    assert "Traceback" not in verdict.err
    return verdict, junit


def _validate(path: Path) -> None:
    xsd = SHARED_SCHEMAS / "junit-10-with-file.xsd"
    if not xsd.exists():
        pytest.skip(f"{xsd} is absent (../shared is not beside this checkout)")
    import xmlschema

    xmlschema.XMLSchema(str(xsd)).validate(str(path))


def _cases(path: Path) -> Iterator[ET.Element]:
    return ET.parse(path).getroot().iter("testcase")


def _failing(path: Path) -> list[tuple[str, str]]:
    """(testcase name, failure type) of every failing testcase."""
    return [
        (c.get("name", ""), failure.get("type", ""))
        for c in _cases(path)
        if (failure := c.find("failure")) is not None
    ]


def _released_v2(world: World, gate: Gate, *extra: str) -> str:
    """v2 on main with its artifact, and ``tag v2 …`` pushed: the commit it tags."""
    head = promote_v2(world, gate)
    code, out, err = tag_cmd(gate, world.work, "v2", "--artifact", "model", *extra)
    assert code == 0, out + err
    return head


@pytest.mark.parametrize("clobber", [False, True], ids=["annotated", "clobbered"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_ci_passes_a_good_registration(
    vendor: str,
    clobber: bool,
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _released_v2(world, gate, "--push", "origin")
    verdict, junit = tag_run(
        world, gate, monkeypatch, tmp_path, vendor, "model@v2.0.0", clobber=clobber
    )
    assert verdict.code == 0, verdict.text
    assert verdict.failed == set(), verdict.text
    _validate(junit)
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0"
    assert root.get("errors") == "0"
    names = [c.get("name", "") for c in _cases(junit)]
    # the tag rules and the bundle rules both ran
    assert any(n.startswith("PG701 tag-bundle-missing") for n in names), names
    assert any(n.startswith("PG711 tag-malformed") for n in names), names
    assert any(n.startswith("PG101") for n in names), names
    assert _failing(junit) == []


@pytest.mark.parametrize("clobber", [False, True], ids=["annotated", "clobbered"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_ci_refuses_a_registration_with_no_bundle(
    vendor: str,
    clobber: bool,
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    work = world.work
    annotated(work, "model@v9.0.0", "HEAD", "Register model v9.0.0\n")
    run(work, "git", "push", "-q", "--no-verify", "origin", "refs/tags/model@v9.0.0")
    verdict, junit = tag_run(
        world, gate, monkeypatch, tmp_path, vendor, "model@v9.0.0", clobber=clobber
    )
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG701"}, verdict.text
    _validate(junit)
    failing = _failing(junit)
    assert len(failing) == 1, failing
    name, kind = failing[0]
    assert name.startswith("PG701 tag-bundle-missing"), name
    assert kind == "PG701"
    assert ET.parse(junit).getroot().get("failures") == "1"
    if vendor == "github":  # the annotation on the run, and the step summary
        assert "title=PG701 tag-bundle-missing::" in verdict.out
        assert "PG701" in (tmp_path / "runner" / "summary.md").read_text()


@pytest.mark.parametrize("vendor", VENDORS)
def test_ci_reads_the_annotated_tag_from_origin_when_the_clone_has_a_lightweight_one(
    vendor: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The trailers are only in the annotated tag on origin: a verdict on the lightweight
    ref actions/checkout leaves would see none (PG702 not applicable) and call it malformed
    (PG711)."""
    head = promote_v2(world, gate)
    work = world.work
    forged = trailer_message("Register model v2.0.0", V2, b"other content\n")
    annotated(work, "model@v2.0.0", head, forged)
    run(work, "git", "push", "-q", "--no-verify", "origin", "refs/tags/model@v2.0.0")
    verdict, junit = tag_run(
        world, gate, monkeypatch, tmp_path, vendor, "model@v2.0.0", clobber=True
    )
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG702"}, verdict.text
    assert [kind for _, kind in _failing(junit)] == ["PG702"]
    _validate(junit)


# --------------------------------------------------------------------------- 6. whose policy


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("main_ordered", [True, False], ids=["main-ordered", "main-unordered"])
def test_ci_takes_the_registry_policy_from_the_default_branch(
    main_ordered: bool,
    vendor: str,
    world: World,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A tag on a branch whose own policy drops ``ordered`` is judged under main's."""
    policy = ORDERED if main_ordered else "registry:\n  stages: [dev, prod]\n"
    promote_v2(world, gate, policy=policy)
    work = world.work
    run(work, "git", "checkout", "-q", "-b", "relaxed", "main")
    config = work / ".promote-gate.yaml"
    config.write_text(config.read_text().replace("  ordered: true\n", ""))
    commit = commit_all(work, "relax the registry's order")
    assert "ordered" not in git_show(work, commit, ".promote-gate.yaml").decode()
    run(work, "git", "push", "-q", "--no-verify", "origin", "relaxed")
    manifest = git_show(work, commit, f"{V2}/manifest.json")
    annotated(
        work, "model@v2.0.0", commit, trailer_message("Register", V2, manifest), when=2_000_000_000
    )
    annotated(
        work, "model#prod#1", commit, trailer_message("Assign", V2, manifest), when=2_000_000_001
    )
    for name in ("model@v2.0.0", "model#prod#1"):
        run(work, "git", "push", "-q", "--no-verify", "origin", f"refs/tags/{name}")

    verdict, junit = tag_run(world, gate, monkeypatch, tmp_path, vendor, "model#prod#1")
    _validate(junit)
    if main_ordered:
        assert verdict.code == 1, verdict.text
        assert verdict.failed == {"PG706"}, verdict.text
        assert [kind for _, kind in _failing(junit)] == ["PG706"]
    else:
        assert verdict.code == 0, verdict.text
        assert _failing(junit) == []


# --------------------------------------------------------------------------- found defects (fixed)


def test_tag_push_publishes_a_registration_made_locally_before(world: World, gate: Gate) -> None:
    promote_v2(world, gate)
    code, out, err = tag_cmd(gate, world.work, "v2", "--artifact", "model")  # not pushed yet
    assert code == 0, out + err
    assert tags(world.bare) == []
    code, out, err = tag_cmd(gate, world.work, "v2", "--artifact", "model", "--push", "origin")
    # exit 0 after --push must mean the remote's registry has the version
    assert code != 0 or tags(world.bare) == ["model@v2.0.0"], out + err


def test_ci_judges_a_deleted_tag_under_the_default_branchs_policy(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = promote_v2(world, gate, policy="ignore: [PG710]\n")  # deletions allowed on main
    code, out, err = tag_cmd(gate, world.work, "v2", "--artifact", "model", "--push", "origin")
    assert code == 0, out + err
    old = run(world.bare, "git", "rev-parse", "refs/tags/model@v2.0.0").strip()
    run(world.work, "git", "push", "-q", "--no-verify", "origin", ":refs/tags/model@v2.0.0")
    ws = world.clone(tmp_path / "ws", "main")
    payload = {
        "ref": "refs/tags/model@v2.0.0",
        "before": old,
        "after": ZERO,
        "created": False,
        "deleted": True,
        "repository": {"default_branch": "main"},
    }
    # GitHub: "when you delete a branch, the SHA in the workflow run reverts to the default
    # branch of the repository"
    env = {"GITHUB_SHA": head, "GITHUB_REF": "refs/tags/model@v2.0.0", "GITHUB_BASE_REF": ""}
    github_env(monkeypatch, tmp_path / "runner", "push", env, payload)
    verdict = ci(gate, monkeypatch, ws, "--junit-xml", str(tmp_path / "junit.xml"))
    assert "nothing on origin yet" not in verdict.text, verdict.text
    assert verdict.code == 0, verdict.text
