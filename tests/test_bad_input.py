"""Hostile input: broken, huge, malicious bundles and unusable repositories.

Whatever the input, the gate answers with a violation (exit 1) or with exit 2 and one clear
line on stderr; it never passes, never prints a traceback, and never reads outside a bundle.
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all

MODES = ("worktree", "rev", "verify")
BUNDLE = Path("publish", "v1")
HUNDRED_MB = 100 * 1024 * 1024

# Nine levels of nine aliases: 9**9 (~387 million) nodes once expanded.
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]"
            for prev, cur in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "",
    ]
)


# --------------------------------------------------------------------------- helpers


def gate_args(repo: Path, mode: str) -> list[str]:
    """The command line for one mode; ``rev`` commits the hostile state first."""
    if mode == "worktree":
        return ["check", "--repo", str(repo)]
    if mode == "rev":
        commit_all(repo, "hostile bundle")
        return ["check", "--repo", str(repo), "--rev", "HEAD"]
    return ["verify", str(repo / BUNDLE)]


def bundle_json(gate: Gate, argv: list[str]) -> tuple[int, dict[str, Any], str]:
    code, out, err = gate(*argv, "--format", "json")
    assert "Traceback" not in err, err
    return code, json.loads(out) if out.strip() else {}, err


def results(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for b in doc.get("bundles", []) for r in b["results"]]


def failed(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """code -> findings of each failed rule."""
    return {r["code"]: r["findings"] for r in results(doc) if r["status"] == "failed"}


def assert_violations(gate: Gate, argv: list[str], codes: set[str]) -> dict[str, Any]:
    """Exit 1 with at least ``codes`` failing, no rule crashing, in JSON and in text."""
    code, doc, err = bundle_json(gate, argv)
    crashed = {r["code"]: r["reason"] for r in results(doc) if r["status"] == "error"}
    assert not crashed, crashed
    assert code == 1, (code, err, failed(doc))
    assert codes <= set(failed(doc)), (codes, failed(doc))
    # the default text output, what a person at a terminal sees, says the same
    code, out, err = gate(*argv)
    assert "Traceback" not in err, err
    assert code == 1, (code, err)
    for rule in codes:
        assert rule in out, out
    return doc


def assert_clean_error(err: str, *needles: str) -> str:
    """Exit-2 diagnostics: one line, prefixed, naming what is wrong; no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("promote-gate: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


def lock_codes(mode: str) -> set[str]:
    """A broken lock.yaml is PG202's, in the repository and for verify alike."""
    return {"PG202"}


@pytest.fixture
def bundle(repo: Path) -> Path:
    return repo / BUNDLE


def edit_manifest(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


# Python's audit hooks cannot be removed: install one for the session, record on demand.
_RECORDING: list[list[str]] = []
_HOOKED: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _RECORDING and isinstance(args[0], (str, bytes)):
        _RECORDING[-1].append(os.path.abspath(os.fsdecode(args[0])))


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path this process opens while the test runs."""
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED.append(True)
    paths: list[str] = []
    _RECORDING.append(paths)
    try:
        yield paths
    finally:
        _RECORDING.remove(paths)


# --------------------------------------------------------------------------- broken documents


@pytest.mark.parametrize("mode", MODES)
def test_manifest_that_is_a_json_list(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    (bundle / "manifest.json").write_text('[{"path": "model.json"}]\n')
    doc = assert_violations(gate, gate_args(repo, mode), {"PG101"})
    assert any("manifest.json" in f["path"] for f in failed(doc)["PG101"])


@pytest.mark.parametrize("mode", MODES)
def test_manifest_of_binary_junk(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    (bundle / "manifest.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" + bytes(range(256)))
    doc = assert_violations(gate, gate_args(repo, mode), {"PG101"})
    assert any("UTF-8" in f["message"] for f in failed(doc)["PG101"]), failed(doc)["PG101"]


@pytest.mark.parametrize("mode", MODES)
def test_lock_excerpt_of_binary_junk(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    junk = bytes((i * 7919 + 13) % 256 for i in range(64 * 1024))
    assert b"\0" in junk
    (bundle / "lock.yaml").write_bytes(junk)
    assert_violations(gate, gate_args(repo, mode), lock_codes(mode))


@pytest.mark.parametrize("mode", MODES)
def test_hundred_megabyte_params_snapshot(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    path = bundle / "params.yaml"
    with path.open("wb") as fobj:
        fobj.write(b"a: ")
        fobj.truncate(HUNDRED_MB)  # sparse: cheap to write, and git compresses zeros well
    argv = gate_args(repo, mode)
    doc = assert_violations(gate, argv, {"PG301"})
    # refused by its size, unparsed (the message names the byte limit)
    assert any("bytes" in f["message"] for f in failed(doc)["PG301"]), failed(doc)["PG301"]


@pytest.mark.parametrize("mode", MODES)
def test_alias_bomb_in_params_snapshot(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    (bundle / "params.yaml").write_text(ALIAS_BOMB)
    doc = assert_violations(gate, gate_args(repo, mode), {"PG301"})
    assert any("alias" in f["message"] for f in failed(doc)["PG301"]), failed(doc)["PG301"]


@pytest.mark.parametrize("mode", MODES)
def test_alias_bomb_in_lock_excerpt(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    (bundle / "lock.yaml").write_text(ALIAS_BOMB)
    doc = assert_violations(gate, gate_args(repo, mode), lock_codes(mode))
    if mode != "verify":
        assert any("alias" in f["message"] for f in failed(doc)["PG202"]), failed(doc)["PG202"]


@pytest.mark.parametrize("mode", MODES)
def test_dvc_pointer_of_garbage_yaml(repo: Path, bundle: Path, gate: Gate, mode: str) -> None:
    (bundle / "model.json.dvc").write_text("outs: [{md5: {{{ : : ]\n\t- nope\n")
    doc = assert_violations(gate, gate_args(repo, mode), {"PG104"})
    assert any("model.json.dvc" in f["path"] for f in failed(doc)["PG104"]), failed(doc)


# --------------------------------------------------------------------------- hostile paths


@pytest.mark.parametrize("mode", MODES)
def test_file_name_that_is_not_utf8(repo: Path, tmp_path: Path, gate: Gate, mode: str) -> None:
    name = os.path.join(os.fsencode(repo), b"publish", b"v1", b"caf\xe9.bin")
    with open(name, "wb") as fobj:
        fobj.write(b"smuggled\n")
    argv = gate_args(repo, mode)
    code, doc, err = bundle_json(gate, argv)
    assert code == 1, (code, err)
    assert {"PG103", "PG105"} <= set(failed(doc)), failed(doc)
    assert any("UTF-8" in f["message"] for f in failed(doc)["PG105"]), failed(doc)["PG105"]
    # the text report in a file (CI artefact) does not depend on the terminal's encoding
    report = tmp_path / "gate.txt"
    code, _, err = gate(*argv, "--output", str(report))
    assert "Traceback" not in err, err
    assert code == 1, err
    assert "PG105" in report.read_text(encoding="utf-8", errors="replace")
    # and neither does the text on stdout (a UTF-8 terminal, as pytest's capture is)
    assert_violations(gate, argv, {"PG103", "PG105"})


@pytest.mark.parametrize("mode", MODES)
def test_symlink_leaving_the_bundle(
    repo: Path, bundle: Path, gate: Gate, opened: list[str], mode: str
) -> None:
    link = bundle / "defaults.yaml"
    link.symlink_to(Path("..", "..", "params.yaml"))
    doc = assert_violations(gate, gate_args(repo, mode), {"PG105"})
    assert any(
        f["path"].endswith("defaults.yaml") and "leaves the bundle" in f["message"]
        for f in failed(doc)["PG105"]
    ), failed(doc)["PG105"]
    assert str(link) not in opened  # the link is judged, never followed


@pytest.mark.parametrize("mode", MODES)
def test_manifest_path_escaping_the_bundle(
    repo: Path, bundle: Path, gate: Gate, opened: list[str], mode: str
) -> None:
    # Bait where the path leads (repo/etc/passwd), with the hashes the manifest claims: a
    # gate that followed the path would find the file "present and intact".
    bait = repo / "etc" / "passwd"
    bait.parent.mkdir()
    bait.write_text("root:x:0:0:root:/root:/bin/sh\n")
    from promote_gate.hashing import digest_file

    digest = digest_file(str(bait))

    def escape(manifest: dict[str, Any]) -> None:
        manifest["files"].append(
            {
                "path": "../../etc/passwd",
                "md5": digest.md5,
                "sha256": digest.sha256,
                "size": digest.size,
                "storage": "git",
                "source": {"stage": "train", "path": "models/model.json"},
            }
        )

    edit_manifest(bundle, escape)
    argv = gate_args(repo, mode)
    opened.clear()  # the test itself read the bait above; only the gate's opens count
    doc = assert_violations(gate, argv, {"PG105"})
    assert any("../../etc/passwd" in f["message"] for f in failed(doc)["PG105"]), failed(doc)
    outside = {str(bait), "/etc/passwd", str((bundle / "../../etc/passwd").resolve())}
    assert not outside & set(opened), sorted(outside & set(opened))


@pytest.mark.parametrize("mode", MODES)
def test_manifest_paths_differing_only_by_case(
    repo: Path, bundle: Path, gate: Gate, mode: str
) -> None:
    def duplicate(manifest: dict[str, Any]) -> None:
        manifest["files"].append({**manifest["files"][0], "path": "MODEL.json"})

    edit_manifest(bundle, duplicate)
    doc = assert_violations(gate, gate_args(repo, mode), {"PG105"})
    assert any("MODEL.json" in f["message"] for f in failed(doc)["PG105"]), failed(doc)["PG105"]


# --------------------------------------------------------------------------- unusable repository


def test_repo_that_is_not_a_git_repository(tmp_path: Path, gate: Gate) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dvc.yaml").write_text("stages: {}\n")
    code, out, err = gate("check", "--repo", str(plain))
    assert code == 2, (code, out)
    assert_clean_error(err, str(plain), "not inside a git repository")


@pytest.mark.parametrize("rev", [None, "HEAD"])
def test_repo_that_does_not_exist(tmp_path: Path, gate: Gate, rev: str | None) -> None:
    missing = tmp_path / "no" / "such" / "repo"
    code, out, err = gate("check", "--repo", str(missing), *(["--rev", rev] if rev else []))
    assert code == 2, (code, out)
    assert_clean_error(err, str(missing))


def test_verify_of_a_directory_that_does_not_exist(tmp_path: Path, gate: Gate) -> None:
    missing = tmp_path / "publish" / "v9"
    code, out, err = gate("verify", str(missing))
    assert code == 2, (code, out)
    assert_clean_error(err, str(missing))


def test_rev_that_names_no_commit(repo: Path, gate: Gate) -> None:
    code, out, err = gate("check", "--repo", str(repo), "--rev", "nosuchrev")
    assert code == 2, (code, out)
    assert_clean_error(err, "nosuchrev")


@pytest.mark.parametrize("mode", ["worktree", "rev"])
def test_config_with_an_unknown_key(repo: Path, gate: Gate, mode: str) -> None:
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + "publish_rot: releases\n")
    code, out, err = gate(*gate_args(repo, mode))
    assert code == 2, (code, out)
    assert "Traceback" not in err
    assert err.startswith("promote-gate: error: .promote-gate.yaml"), err
    assert "'publish_rot'" in err, err


@pytest.mark.parametrize("mode", ["worktree", "rev"])
def test_config_with_a_wrong_type(repo: Path, gate: Gate, mode: str) -> None:
    config = repo / ".promote-gate.yaml"
    text = config.read_text().replace("dvc_threshold_bytes: 128", 'dvc_threshold_bytes: "big"')
    assert '"big"' in text
    config.write_text(text)
    code, out, err = gate(*gate_args(repo, mode))
    assert code == 2, (code, out)
    assert "Traceback" not in err
    assert err.startswith("promote-gate: error: .promote-gate.yaml"), err
    assert "dvc_threshold_bytes: expected integer" in err, err


@pytest.mark.parametrize("cause", ["missing repo", "bad config"])
def test_junit_report_records_an_error_the_gate_could_not_get_past(
    repo: Path, tmp_path: Path, gate: Gate, cause: str
) -> None:
    target = repo
    if cause == "missing repo":
        target = tmp_path / "gone"
    else:
        (repo / ".promote-gate.yaml").write_text("version_pattern: 7\n")
    junit = tmp_path / "reports" / "gate.xml"
    code, _, err = gate("check", "--repo", str(target), "--junit-xml", str(junit))
    assert code == 2
    assert "Traceback" not in err
    assert junit.is_file(), err
    errors = ET.parse(junit).getroot().findall(".//testcase/error")
    assert errors, junit.read_text()
    assert any((e.get("message") or "").strip() for e in errors), junit.read_text()
