"""Safe on hostile input (issue 8, items 1-15): the repository is the boundary, parsers are
bounded, messages cannot command a CI runner, report-level forgeries fail, selection fails
closed.

Each test builds the situation for real: committed symlinks, FIFOs, bombs and forged bundles
in a real repository, run through ``promote-gate`` as a user, the shipped hook (a real
``git push``) or the shipped CI template (``promote-gate ci`` in a fresh clone) runs it.
Where a hang or a crash is the risk, the gate runs as a child process under a time limit
(and, for parser bombs, an address-space limit), as a CI job would.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    V2,
    World,
    edit_json,
    github_pr,
    release_v2,
    resum,
)

TIMEOUT = 60  # seconds: a gate run here takes about one; a hang never ends
MEMORY = 3 * 2**29  # 1.5 GiB of address space for a gate run fed a parser bomb


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_gate(
    *argv: str, cwd: Path | None = None, timeout: float = TIMEOUT, bounded: bool = False
) -> Outcome:
    """``promote-gate ARGV`` as a separate process; ``subprocess.TimeoutExpired`` (a hang)
    fails the test. ``bounded`` also caps its address space (MEMORY)."""
    proc = subprocess.run(
        [sys.executable, "-m", "promote_gate", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONSAFEPATH": "1"},
        # the limit must hold in the child only, before it starts parsing anything
        preexec_fn=_limit_memory if bounded else None,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def assert_no_crash(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.text, outcome.text
    assert "internal error" not in outcome.text, outcome.text


def report(gate: Gate, *argv: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = gate(*argv, "--format", "json")
    assert "Traceback" not in err, err
    return code, json.loads(out) if out.strip() else {}, err


def failed_by_bundle(doc: dict[str, Any]) -> dict[str, set[str]]:
    return {
        b["name"]: {r["code"] for r in b["results"] if r["status"] == "failed"}
        for b in doc.get("bundles", [])
    }


def findings(doc: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        f
        for b in doc.get("bundles", [])
        for r in b["results"]
        if r["code"] == code and r["status"] == "failed"
        for f in r["findings"]
    ]


def failed_codes(gate: Gate, *argv: str) -> tuple[set[str], dict[str, Any]]:
    """The codes that failed (any bundle); exit 1 exactly when one did, no rule crashed."""
    code, doc, err = report(gate, *argv)
    crashed = [r for b in doc.get("bundles", []) for r in b["results"] if r["status"] == "error"]
    assert not crashed, crashed
    failed = set().union(*failed_by_bundle(doc).values()) if doc.get("bundles") else set()
    assert code == (1 if failed else 0), (code, err, failed)
    return failed, doc


MODES = ("worktree", "rev", "verify")


def argv_for(repo: Path, mode: str, bundle: str = V1) -> list[str]:
    """How each mode runs; ``rev`` commits the hostile state first."""
    if mode == "worktree":
        return ["check", "--repo", str(repo)]
    if mode == "rev":
        commit_all(repo, "hostile state")
        return ["check", "--repo", str(repo), "--rev", "HEAD"]
    return ["verify", str(repo / bundle)]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_config(repo: Path, text: str) -> None:
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + text)


# Python's audit hooks cannot be removed: install one for the session, record on demand.
_RECORDING: list[list[str]] = []
_HOOKED: list[bool] = []
_EVENTS = {"open", "os.listdir", "os.scandir"}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in _EVENTS and _RECORDING and args and isinstance(args[0], (str, bytes)):
        _RECORDING[-1].append(os.path.abspath(os.fsdecode(args[0])))


@pytest.fixture
def touched() -> Iterator[list[str]]:
    """Every path this process opens, lists or scans while the test runs."""
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED.append(True)
    paths: list[str] = []
    _RECORDING.append(paths)
    try:
        yield paths
    finally:
        _RECORDING.remove(paths)


def under(paths: list[str], *tops: Path | str) -> list[str]:
    """The paths at or below any of ``tops`` (as written, and as they resolve)."""
    found = []
    for top in tops:
        for base in {str(top), os.path.realpath(top)}:
            found += [p for p in paths if p == base or p.startswith(base + os.sep)]
    return sorted(set(found))


# --------------------------------------------------------------------------- 1. report files


def _committed_report_links(work: Path) -> None:
    """Report names a CI job writes, committed as symlinks to files beside the checkout."""
    for name, target in (
        ("promote-gate-junit.xml", "../victim-junit"),
        ("gl-code-quality.json", "../victim-cq"),
        ("gate.txt", "../victim-output"),
        ("promote-gate.sarif", "../victim-sarif"),  # ci's default on GitHub
        ("promote-gate-comment.md", "../victim-comment"),  # the templates' comment file
    ):
        (work / name).symlink_to(target)


def test_ci_writes_reports_without_following_committed_symlinks(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    names = ("victim-junit", "victim-cq", "victim-output", "victim-sarif", "victim-comment")
    victims = {name: tmp_path / name for name in names}
    for victim in victims.values():
        victim.write_text("a file outside the checkout\n")
    head = world.branch("links", _committed_report_links, dvc_push=False)

    verdict = github_pr(
        world,
        gate,
        monkeypatch,
        tmp_path,
        "links",
        head,
        "--codequality",
        "gl-code-quality.json",
        "--comment",
        "promote-gate-comment.md",
    )
    assert verdict.code == 0, verdict.text
    ws = tmp_path / "ws"
    # --output is check's: the same checkout, the same working directory
    code, _, err = gate("check", "--repo", str(ws), "--rev", "HEAD", "--output", "gate.txt")
    assert code == 0, err

    for victim in victims.values():
        assert victim.read_text() == "a file outside the checkout\n", victim
    reports = ("promote-gate-junit.xml", "gl-code-quality.json", "gate.txt")
    for name in (*reports, "promote-gate.sarif", "promote-gate-comment.md"):
        assert not (ws / name).is_symlink(), name
        assert (ws / name).is_file(), name
    assert (ws / "promote-gate-junit.xml").read_text().startswith("<?xml")
    assert json.loads((ws / "gl-code-quality.json").read_text()) == []
    assert "promote-gate passed" in (ws / "gate.txt").read_text()
    assert json.loads((ws / "promote-gate.sarif").read_text())["version"] == "2.1.0"
    assert (ws / "promote-gate-comment.md").read_text().startswith("<!-- promote-gate -->")


def _reports_dir_out(work: Path) -> None:
    (work / "reports").symlink_to("../outside")


REFUSED_WRITES = {
    "ci --codequality": ("ci", "--codequality", "reports/cq.json"),
    "check --output": ("check", "--output", "reports/gate.txt"),
    "ci --junit-xml": ("ci", "--junit-xml", "reports/junit.xml"),
    "check --junit-xml": ("check", "--junit-xml", "reports/junit.xml"),
}


@pytest.mark.parametrize(
    "case",
    [
        "ci --codequality",
        "check --output",
        "ci --junit-xml",
        "check --junit-xml",
    ],
)
def test_a_report_path_through_a_committed_symlinked_directory_is_refused(
    case: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    head = world.branch("reports-out", _reports_dir_out, dvc_push=False)
    command, option, path = REFUSED_WRITES[case]
    if command == "ci":
        verdict = github_pr(world, gate, monkeypatch, tmp_path, "reports-out", head, option, path)
        code, err = verdict.code, verdict.err
    else:
        ws = world.clone(tmp_path / "ws", "reports-out")
        monkeypatch.chdir(ws)
        code, _, err = gate("check", "--repo", str(ws), option, path)
    assert code == 2, err
    assert "Traceback" not in err
    assert f"{path}: its directory resolves outside" in err
    assert list(outside.iterdir()) == []


# --------------------------------------------------------------------------- 2. install


@pytest.mark.parametrize("target", ["dangling", "existing"])
def test_install_refuses_a_hooks_path_that_is_a_committed_symlink_out(
    target: str, repo: Path, gate: Gate, tmp_path: Path
) -> None:
    outside = tmp_path / "outside-hooks"
    if target == "existing":
        outside.mkdir()
    (repo / ".githooks").symlink_to("../outside-hooks")
    commit_all(repo, "hooks for everyone")
    run(repo, "git", "config", "core.hooksPath", ".githooks")
    before = sorted(p.name for p in tmp_path.iterdir())

    code, out, err = gate("install", "--repo", str(repo))

    assert code == 2, out + err
    assert "outside the repository" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if target == "existing":
        assert list(outside.iterdir()) == []
    else:
        assert not os.path.lexists(outside)


FOREIGN_HOOK = """#!/bin/sh
echo "foreign pre-push hook ran: $1" >&2
cat > "{log}"
exit {status}
"""


def _foreign_hook(world: World, log: Path, status: int) -> Path:
    hook: Path = world.work / ".git" / "hooks" / "pre-push"
    hook.write_text(FOREIGN_HOOK.format(log=log, status=status))
    hook.chmod(0o755)
    return hook


def test_install_keeps_a_foreign_hook_and_chains_it_first(
    world: World, gate: Gate, tmp_path: Path
) -> None:
    log = tmp_path / "foreign-stdin"
    text = _foreign_hook(world, log, 0).read_text()
    world.install_hook(gate)
    hooks = world.work / ".git" / "hooks"
    assert (hooks / "pre-push.pre-promote-gate").read_text() == text
    assert "# promote-gate pre-push hook" in (hooks / "pre-push").read_text()

    release_v2(world.work, lr="0.1")
    verdict = world.push("origin", "main")

    assert verdict.code == 0, verdict.text
    assert world.sha("main") == run(world.bare, "git", "rev-parse", "main").strip()
    # the foreign hook saw the refs git sent, and ran before the gate
    assert f"refs/heads/main {world.sha('main')} refs/heads/main" in log.read_text()
    first = verdict.err.index("foreign pre-push hook ran: origin")
    assert first < verdict.err.index("promote-gate:"), verdict.err


def test_a_chained_foreign_hook_that_fails_refuses_the_push(
    world: World, gate: Gate, tmp_path: Path
) -> None:
    _foreign_hook(world, tmp_path / "foreign-stdin", 1)
    world.install_hook(gate)
    released = run(world.bare, "git", "rev-parse", "main").strip()

    release_v2(world.work, lr="0.1")  # the gate alone would let this through
    verdict = world.push("origin", "main")

    assert verdict.code != 0, verdict.text
    assert "foreign pre-push hook ran" in verdict.err
    assert run(world.bare, "git", "rev-parse", "main").strip() == released


# --------------------------------------------------------------------------- 3. bundles that are symlinks


@pytest.mark.parametrize("mode", ["worktree", "rev"])
def test_a_bundle_symlinked_to_a_good_bundle_outside_is_a_violation_never_read(
    mode: str, repo: Path, gate: Gate, tmp_path: Path, touched: list[str]
) -> None:
    release_v2(repo, lr="0.1")
    outside = tmp_path / "outside" / "v2"
    outside.parent.mkdir()
    shutil.move(str(repo / V2), str(outside))
    code, _, err = gate("verify", str(outside))
    assert code == 0, err  # a bundle that would pass, were it followed
    (repo / V2).symlink_to(outside)
    argv = argv_for(repo, mode)
    touched.clear()

    code, doc, err = report(gate, *argv)

    assert code == 1, err
    assert failed_by_bundle(doc)["v2"] == {"PG105"}
    (finding,) = findings(doc, "PG105")
    assert finding["path"] == V2
    assert "the bundle is a symlink" in finding["message"]
    assert under(touched, outside) == []


def test_a_bundle_symlinked_to_usr_is_a_violation_and_is_not_hashed(
    repo: Path, gate: Gate, touched: list[str]
) -> None:
    (repo / "publish" / "v3").symlink_to("/usr")
    touched.clear()

    code, doc, err = report(gate, "check", "--repo", str(repo))

    assert code == 1, err
    assert "PG105" in failed_by_bundle(doc)["v3"]
    assert any(f["path"] == "publish/v3" for f in findings(doc, "PG105"))
    assert under(touched, repo / "publish" / "v3") == []


def test_a_publish_root_below_a_symlinked_directory_cannot_be_evaluated(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(repo / "publish", outside / "publish")
    (repo / "out").symlink_to("../outside")
    config = repo / ".promote-gate.yaml"
    config.write_text(
        config.read_text().replace("publish_root: publish", "publish_root: out/publish")
    )
    code, out, err = gate("check", "--repo", str(repo))
    assert code == 2, out + err
    assert "out/publish" in err, err


# --------------------------------------------------------------------------- 4. verify stays in DIR


def test_verify_reads_nothing_outside_the_directory(
    repo: Path, gate: Gate, tmp_path: Path, touched: list[str]
) -> None:
    bundle = repo / V1
    secret = b"# a file outside the bundle\n"
    docs = tmp_path / "outside-docs"
    docs.mkdir()
    (docs / "report.md").write_bytes(secret)
    edit_json(bundle / "manifest.json", lambda d: d.update(report="docs/report.md"))
    resum(bundle)
    # SHA256SUMS vouches for the real report under its new name: a gate that read the file
    # outside would find it differs, and say what it found
    sums = bundle / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("  report.md\n", "  docs/report.md\n"))
    (bundle / "report.md").unlink()
    (bundle / "docs").symlink_to(docs)
    touched.clear()

    code, doc, err = report(gate, "verify", str(bundle))
    text_code, out, text_err = gate("verify", str(bundle))

    assert code == text_code == 1, (err, text_err)
    assert "PG105" in failed_by_bundle(doc)["v1"]
    assert sha256(secret) not in json.dumps(doc) + out + err + text_err
    assert under(touched, docs, bundle / "docs") == []


# --------------------------------------------------------------------------- 5. configured paths


@pytest.mark.parametrize("root", ["../outside", "publish/../../outside", "/tmp/outside-abs"])
def test_promote_refuses_a_publish_root_outside_the_repository(
    root: str, repo: Path, gate: Gate, tmp_path: Path
) -> None:
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text().replace("publish_root: publish", f"publish_root: {root}"))
    before = sorted(p.name for p in tmp_path.iterdir())

    code, out, err = gate("promote", "v2", "--repo", str(repo))

    assert code == 2, out + err
    assert "Traceback" not in err
    assert f"publish_root: {root!r}" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not os.path.lexists("/tmp/outside-abs")


@pytest.mark.parametrize(
    "key", ["outputs", "consumers", "internal_paths", "exploratory", "publish_root"]
)
def test_every_configured_path_stays_inside(key: str, repo: Path, gate: Gate) -> None:
    config = repo / ".promote-gate.yaml"
    lines = [line for line in config.read_text().splitlines() if not line.startswith(f"{key}:")]
    value = '"../elsewhere"' if key == "publish_root" else '["../elsewhere/**"]'
    config.write_text("\n".join([*lines, f"{key}: {value}"]) + "\n")
    code, out, err = gate("check", "--repo", str(repo))
    assert code == 2, out + err
    assert f"{key}: '../elsewhere" in err, err


def test_promote_does_not_write_through_a_symlinked_publish_root_parent(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to("../outside")
    config = repo / ".promote-gate.yaml"
    config.write_text(
        config.read_text().replace("publish_root: publish", "publish_root: out/publish")
    )
    commit_all(repo, "publish somewhere else")

    code, out, err = gate("promote", "v2", "--repo", str(repo))

    assert list(outside.iterdir()) == [], sorted(str(p) for p in outside.rglob("*"))
    assert code == 2, out + err


# --------------------------------------------------------------------------- 6. FIFOs and sizes


@pytest.mark.parametrize("mode", ["worktree", "verify"])
@pytest.mark.parametrize("name", ["manifest.json", "report.md"])
def test_a_fifo_where_a_document_belongs_never_hangs(repo: Path, mode: str, name: str) -> None:
    doc = repo / V1 / name
    doc.unlink()
    os.mkfifo(doc)
    outcome = run_gate(*argv_for(repo, mode))  # a reader of the FIFO would wait forever
    assert outcome.code in {1, 2}, outcome.text
    assert_no_crash(outcome)
    expected = {"manifest.json": "PG101", "report.md": "PG304"}[name]
    assert expected in outcome.out, outcome.text


@pytest.mark.parametrize("kind", ["fifo", "symlink to a device"])
def test_a_configuration_that_is_not_a_regular_file_is_not_ignored(repo: Path, kind: str) -> None:
    config = repo / ".promote-gate.yaml"
    config.unlink()
    if kind == "fifo":
        os.mkfifo(config)
    else:
        config.symlink_to("/dev/zero")
    outcome = run_gate("check", "--repo", str(repo))
    assert_no_crash(outcome)
    assert outcome.code == 2, outcome.text
    assert ".promote-gate.yaml" in outcome.err


@pytest.mark.parametrize("kind", ["fifo", "symlink to a device", "symlink outside"])
def test_a_dvc_config_that_is_not_a_regular_file_is_refused(
    repo: Path, tmp_path: Path, kind: str
) -> None:
    """``.dvc/config`` where a checkout put a FIFO or a link: never read, never waited on."""
    config = repo / ".dvc" / "config"
    config.unlink()
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "symlink to a device":
        config.symlink_to("/dev/zero")
    else:
        outside = tmp_path / "elsewhere"
        outside.write_text("[cache]\n    dir = /srv/other\n")
        config.symlink_to(outside)
    outcome = run_gate("check", "--repo", str(repo))
    assert_no_crash(outcome)
    assert outcome.code == 2, outcome.text
    assert ".dvc/config cannot be read" in outcome.err


@pytest.mark.parametrize(
    "mode",
    [
        "worktree",
        "rev",
    ],
)
def test_a_document_over_max_document_bytes_is_refused_by_size(
    repo: Path, gate: Gate, mode: str
) -> None:
    add_config(repo, "max_document_bytes: 65536\n")
    params = repo / V1 / "params.yaml"
    params.write_text(params.read_text() + "#" + "x" * 100_000 + "\n")  # valid YAML, too big
    resum(repo / V1)

    failed, doc = failed_codes(gate, *argv_for(repo, mode))

    assert failed == {"PG301"}
    (finding,) = findings(doc, "PG301")
    assert "larger than the 65536 bytes" in finding["message"], finding
    assert finding["message"].startswith(f"{V1}/params.yaml "), finding  # names the file


# --------------------------------------------------------------------------- 7. YAML bombs

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
# Forty levels of merge keys each merging the level below twice: 2**40 merges on PyYAML 6.0.1.
MERGE_BOMB = "\n".join(
    [
        "m0: &m0 {x: 1, y: 2}",
        *(f"m{n}: &m{n} {{<<: [*m{n - 1}, *m{n - 1}], k{n}: {n}}}" for n in range(1, 40)),
        "",
    ]
)


@pytest.mark.parametrize("bomb", ["alias", "merge"])
@pytest.mark.parametrize(
    "document", [f"{V1}/params.yaml", f"{V1}/lock.yaml", "dvc.lock", ".promote-gate.yaml"]
)
def test_yaml_bombs_are_bounded_in_time_and_memory(repo: Path, document: str, bomb: str) -> None:
    (repo / document).write_text(ALIAS_BOMB if bomb == "alias" else MERGE_BOMB)
    for mode in ("worktree", "rev"):
        outcome = run_gate(*argv_for(repo, mode), bounded=True)
        assert outcome.code in {1, 2}, (mode, outcome.text)
        assert_no_crash(outcome)


def test_the_package_requires_a_pyyaml_without_the_merge_key_hang() -> None:
    """Declared in pyproject.toml (the installed .egg-info may predate it) and installed."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    requirement = next(
        r for r in project["project"]["dependencies"] if r.lower().startswith("pyyaml")
    )
    assert re.match(r"pyyaml>=6\.0\.([4-9]|\d\d+)\b", requirement.lower()), requirement
    installed = tuple(int(n) for n in metadata.version("pyyaml").split(".")[:3])
    assert installed >= (6, 0, 4), installed


# --------------------------------------------------------------------------- 8. deep TOML

DEPTH = 100_000


def _deep_pyproject(repo: Path, body: str) -> None:
    (repo / ".promote-gate.yaml").unlink()  # pyproject.toml is the configuration then
    (repo / "pyproject.toml").write_text(
        '[tool.promote-gate]\npublish_root = "publish"\n\n[tool.other]\n' + body + "\n"
    )


DEEP_TOML = {
    "arrays": "a = " + "[" * DEPTH + "]" * DEPTH,
    "inline tables": "a = " + "{b = " * DEPTH + "1" + "}" * DEPTH,
    "table headers": "[" + "a." * DEPTH + "b]\nc = 1",
}


@pytest.mark.parametrize("mode", ["worktree", "rev"])
@pytest.mark.parametrize("shape", DEEP_TOML)
def test_deep_toml_in_pyproject_is_exit_2_naming_the_file(
    repo: Path, shape: str, mode: str
) -> None:
    _deep_pyproject(repo, DEEP_TOML[shape])
    outcome = run_gate(*argv_for(repo, mode))
    assert outcome.code == 2, outcome.text
    assert_no_crash(outcome)
    assert outcome.err.startswith("promote-gate: error: pyproject.toml"), outcome.err


def test_deep_dotted_keys_in_pyproject_are_bounded(repo: Path) -> None:
    _deep_pyproject(repo, "a." * DEPTH + "b = 1")
    outcome = run_gate("check", "--repo", str(repo))
    assert outcome.code == 2, outcome.text
    assert "pyproject.toml" in outcome.err


def test_a_huge_integer_in_pyproject_is_exit_2_naming_the_file(repo: Path) -> None:
    _deep_pyproject(repo, "a = " + "1" * 5000)
    outcome = run_gate("check", "--repo", str(repo))
    assert outcome.code == 2, outcome.text
    assert_no_crash(outcome)
    assert outcome.err.startswith("promote-gate: error: pyproject.toml"), outcome.err


# --------------------------------------------------------------------------- 9. CI log commands

# What GitHub's runner registers (src/Runner.Worker/*CommandExtension, ActionCommandManager).
RUNNER_COMMANDS = frozenset(
    {
        "add-mask",
        "add-matcher",
        "add-path",
        "debug",
        "echo",
        "endgroup",
        "error",
        "group",
        "notice",
        "remove-matcher",
        "save-state",
        "set-env",
        "set-output",
        "stop-commands",
        "warning",
    }
)


@dataclass(frozen=True)
class Command:
    name: str
    line: str
    data: str
    properties: dict[str, str] = field(default_factory=dict)


def _unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for token, replacement in mappings:
        text = text.replace(replacement, token)
    return text


_DATA = (("\r", "%0D"), ("\n", "%0A"), ("%", "%25"))
_PROPERTY = (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25"))
_LEGACY = ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"), ("%", "%25"))


def _properties(text: str, separator: str, mappings: tuple[tuple[str, str], ...]) -> dict[str, str]:
    found = {}
    for item in (i for i in text.split(separator) if i):
        pair = [p for p in item.split("=", 1) if p]
        if len(pair) == 2:
            found[pair[0]] = _unescape(pair[1], mappings)
    return found


def parse_command(line: str, registered: set[str]) -> Command | None:
    """ActionCommand.TryParseV2, then the legacy TryParse, as the runner tries them."""
    message = line.lstrip()
    if message.startswith("::"):
        end = message.find("::", 2)
        if end >= 0:
            info = message[2:end]
            name, space, props = info.partition(" ")
            if name.lower() in registered:
                properties = _properties(props.strip(), ",", _PROPERTY) if space else {}
                return Command(name.lower(), line, _unescape(message[end + 2 :], _DATA), properties)
    # the legacy form counts anywhere in the line, not only at its start
    start = line.find("##[")
    if start < 0:
        return None
    close = line.find("]", start)
    if close < 0:
        return None
    name, space, props = line[start + 3 : close].partition(" ")
    if name.lower() not in registered:
        return None
    properties = _properties(props, ";", _LEGACY) if space else {}
    return Command(name.lower(), line, _unescape(line[close + 1 :], _LEGACY), properties)


def runner(log: str) -> tuple[list[Command], list[str]]:
    """(commands the runner processes, command lines it ignores while stopped), following
    ActionCommandManager.TryProcessCommand: ``stop-commands`` ignores every command until
    one named by its token."""
    registered = set(RUNNER_COMMANDS)
    token: str | None = None
    processed: list[Command] = []
    ignored: list[str] = []
    for line in re.split(r"\r\n|\r|\n", log):  # .NET ReadLine's line ends
        command = parse_command(line, registered)
        if command is None:
            continue
        if token is not None:
            if command.name == token.lower():
                registered.discard(token.lower())
                token = None
            else:
                ignored.append(line)
            continue
        if command.name == "stop-commands":
            token = command.data
            registered.add(token.lower())
        processed.append(command)
    return processed, ignored


def test_the_runner_model_stops_on_stop_commands() -> None:
    """The model above is not vacuous: it does what the runner does with a raw token."""
    log = "::stop-commands::tok\n::error::hidden\n::tok::\n::error file=a%2Cb%3Ac::shown\n"
    processed, ignored = runner(log)
    assert [c.name for c in processed] == ["stop-commands", "error"]
    assert processed[1].properties == {"file": "a,b:c"}
    assert ignored == ["::error::hidden"]
    assert [c.name for c in runner("x ##[stop-commands]t\n::error::gone\n")[0]] == ["stop-commands"]


HOSTILE_NAMES = (
    "::stop-commands::pwned",
    "evil\n::stop-commands::pwned2",
    "  ::error title=forged::all good",
    "a,b:c%2C%0A.txt",
)


def _hostile_names(names: tuple[str, ...]) -> Callable[[Path], None]:
    def change(work: Path) -> None:
        release_v2(work, lr="0.1")
        for name in names:
            (work / V2 / name).write_text("not promoted\n")
        report_md = work / V2 / "report.md"  # a second family of findings, ranked after PG103
        report_md.write_text(report_md.read_text().replace("| 0.1 |", "| 0.5 |"))
        resum(work / V2)

    return change


def _github_log_checks(verdict: Any, names: tuple[str, ...]) -> None:
    meant = [line for line in verdict.out.splitlines() if line.startswith("::error ")]
    assert len(meant) >= 2, verdict.out
    for stream in (verdict.out, verdict.err):
        processed, ignored = runner(stream)
        assert ignored == [], ignored
        assert [c.line for c in processed] == (meant if stream is verdict.out else [])
    files = {c.properties.get("file") for c in runner(verdict.out)[0]}
    assert {f"{V2}/{n}" for n in names if "\n" not in n} <= files, files


def test_finding_text_cannot_stop_or_forge_github_annotations(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("names", _hostile_names(HOSTILE_NAMES))
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "names", head)
    assert verdict.code == 1, verdict.text
    assert {"PG103", "PG304"} <= verdict.failed
    _github_log_checks(verdict, HOSTILE_NAMES)


@pytest.mark.parametrize("name", ["##[stop-commands]pwned", "##[error]all checks passed"])
def test_legacy_runner_commands_inside_a_line_are_inert(
    name: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("legacy", _hostile_names((name,)))
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "legacy", head)
    assert verdict.code == 1, verdict.text
    _github_log_checks(verdict, (name,))


# --------------------------------------------------------------------------- 10. SHA256SUMS


def _sums_lines(bundle: Path) -> list[str]:
    return (bundle / "SHA256SUMS").read_text().splitlines()


def _sha256sum_check(bundle: Path) -> int:
    return subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"],
        cwd=bundle,
        capture_output=True,
        check=False,
    ).returncode


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_line_before_the_right_one_is_a_checksums_mismatch(
    repo: Path, gate: Gate, mode: str
) -> None:
    bundle = repo / V1
    lines = _sums_lines(bundle)
    right = next(line for line in lines if line.endswith("  model.json"))
    wrong = "0" * 64 + "  model.json"
    rest = [line for line in lines if line != right]
    (bundle / "SHA256SUMS").write_text("\n".join([wrong, right, *rest]) + "\n")
    assert _sha256sum_check(bundle) != 0  # what a consumer runs fails on it

    failed, doc = failed_codes(gate, *argv_for(repo, mode))

    assert failed == {"PG106"}
    assert any("lists model.json a second time" in f["message"] for f in findings(doc, "PG106"))


@pytest.mark.parametrize("mode", MODES)
def test_a_line_for_a_file_the_bundle_does_not_have_is_a_checksums_mismatch(
    repo: Path, gate: Gate, mode: str
) -> None:
    bundle = repo / V1
    with (bundle / "SHA256SUMS").open("a") as fobj:
        fobj.write(f"{'1' * 64}  ghost.bin\n")
    assert _sha256sum_check(bundle) != 0
    failed, doc = failed_codes(gate, *argv_for(repo, mode))
    assert failed == {"PG106"}
    assert any("ghost.bin" in f["message"] for f in findings(doc, "PG106"))


@pytest.mark.parametrize("mode", MODES)
def test_lines_sha256sum_would_reject_are_a_checksums_mismatch(
    repo: Path, gate: Gate, mode: str
) -> None:
    bundle = repo / V1
    lines = _sums_lines(bundle)
    (bundle / "SHA256SUMS").write_text(lines[0] + "\f" + "\n".join(lines[1:]) + "\n")
    assert _sha256sum_check(bundle) != 0
    failed, _ = failed_codes(gate, *argv_for(repo, mode))
    assert failed == {"PG106"}


# --------------------------------------------------------------------------- 11. hidden report tables

FORGED_PARAMS = "| Parameter | Value |\n|---|---|\n| train.lr | 0.5 |\n"
FORGED_METRICS = "| Metric | Value |\n|---|---|\n| acc | 0.99 |\n"
FORGED_MARKED_HEADERS = (
    "| file | param | value |\n|---|---|---|\n| `params.yaml` | `train.lr` | 0.5 |\n\n"
    "| file | metric | value |\n|---|---|---|\n| `eval/metrics.json` | `acc` | 0.99 |\n"
)


def _checked_blocks(text: str) -> tuple[int, int]:
    start = text.index("<!-- promote-gate:params -->")
    end = text.index("<!-- /promote-gate:metrics -->") + len("<!-- /promote-gate:metrics -->")
    return start, end


def _hide(how: str, real: str) -> str:
    forged = FORGED_PARAMS + "\n" + FORGED_METRICS
    if how == "html comment":
        return "<!--\n" + real + "\n-->\n\n" + FORGED_MARKED_HEADERS
    if how == "backtick fence":
        return "```text\n" + real + "\n```\n\n" + forged
    if how == "tilde fence":
        return "~~~\n" + real + "\n~~~\n\n" + forged
    if how == "a comment per line":
        lines = [line if line.startswith("<!--") else f"<!--{line}-->" for line in real.split("\n")]
        return "\n".join(lines) + "\n\n" + forged
    if how == "indented code block":
        return "\n".join(f"    {line}" for line in real.split("\n")) + "\n\n" + forged
    assert how == "script block"
    return "<script>\n" + real + "\n</script>\n\n" + forged


def forge_report(bundle: Path, how: str) -> str:
    path = bundle / "report.md"
    text = path.read_text()
    start, end = _checked_blocks(text)
    text = text[:start] + _hide(how, text[start:end]) + text[end:]
    path.write_text(text)
    resum(bundle)
    return text


def rendered_cells(markdown: str) -> set[str]:
    """The text of every table cell a CommonMark + GFM-tables reader shows."""
    from markdown_it import MarkdownIt  # markdown-it-py, which DVC's rich brings

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    cells: set[str] = set()
    inside = False
    for token in tokens:
        if token.type in {"th_open", "td_open"}:
            inside = True
        elif token.type in {"th_close", "td_close"}:
            inside = False
        elif inside and token.type == "inline":
            cells.add(token.content.strip("`"))
    return cells


HIDDEN = ("backtick fence", "tilde fence")
HIDDEN_UNCAUGHT = ("a comment per line", "indented code block", "script block")


@pytest.mark.parametrize("how", [*HIDDEN, *HIDDEN_UNCAUGHT])
def test_the_forged_reports_show_the_reader_the_forgery(repo: Path, how: str) -> None:
    """The premise of the tests below: a reader sees the forged values, not the checked ones."""
    cells = rendered_cells(forge_report(repo / V1, how))
    assert {"0.5", "0.99"} <= cells, cells
    assert not {"0.05", "0.9", "0.2421"} & cells, cells


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["html comment", *HIDDEN])
def test_checked_tables_hidden_from_the_reader_fail_the_report_rules(
    repo: Path, gate: Gate, how: str, mode: str
) -> None:
    forge_report(repo / V1, how)
    failed, doc = failed_codes(gate, *argv_for(repo, mode))
    assert failed == {"PG304", "PG403"}
    messages = [f["message"] for code in failed for f in findings(doc, code)]
    assert any(m.startswith("what a reader sees is not what is checked") for m in messages)


@pytest.mark.parametrize("how", HIDDEN_UNCAUGHT)
def test_checked_tables_hidden_in_other_ways_fail_the_report_rules(
    repo: Path, gate: Gate, how: str
) -> None:
    forge_report(repo / V1, how)
    failed, _ = failed_codes(gate, "check", "--repo", str(repo))
    assert failed == {"PG304", "PG403"}


# --------------------------------------------------------------------------- 12. empty bundle


@pytest.mark.parametrize("mode", MODES)
def test_an_empty_bundle_is_an_invalid_manifest(repo: Path, gate: Gate, mode: str) -> None:
    edit_json(repo / V1 / "manifest.json", lambda d: d.update(files=[]))
    resum(repo / V1)
    failed, doc = failed_codes(gate, *argv_for(repo, mode))
    assert failed == {"PG101"}
    assert [f["message"] for f in findings(doc, "PG101")] == ["files: [] should be non-empty"]


# --------------------------------------------------------------------------- 13. consumer paths


@pytest.mark.parametrize(
    "spelling", ["models/./model.json", "models//model.json", "./models/model.json"]
)
def test_a_consumer_reading_an_unnormalised_internal_path_is_caught(
    repo: Path, gate: Gate, spelling: str
) -> None:
    config = repo / ".promote-gate.yaml"
    config.write_text(
        "\n".join(
            line for line in config.read_text().splitlines() if not line.startswith("consumers:")
        )
        + '\nconsumers: ["deploy/**"]\n'
    )
    (repo / "deploy").mkdir()
    (repo / "deploy" / "serve.yaml").write_text(f"name: api\nmodel: {spelling}\n")

    failed, doc = failed_codes(gate, "check", "--repo", str(repo))

    assert failed == {"PG504"}
    (finding,) = findings(doc, "PG504")
    assert finding["path"] == "deploy/serve.yaml"
    assert finding["found"] == spelling
    assert finding["expected"] == f"{V1}/model.json"


# --------------------------------------------------------------------------- 14. colliding names


def _list_copy_of_model(bundle: Path, name: str, *, on_disk: bool = True) -> None:
    """List ``name`` in the manifest and SHA256SUMS: a git-stored copy of model.json's bytes,
    whose provenance (train's models/model.json) is true."""
    data = (bundle / "model.json").read_bytes()
    if on_disk:
        (bundle / name).write_bytes(data)

    def add(manifest: dict[str, Any]) -> None:
        entry = dict(manifest["files"][0])
        entry.update(path=name, storage="git")
        manifest["files"].append(entry)

    edit_json(bundle / "manifest.json", add)
    resum(bundle)
    with (bundle / "SHA256SUMS").open("a", encoding="utf-8") as fobj:
        fobj.write(f"{sha256(data)}  {name}\n")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("twins", ["case", "unicode normalisation"])
def test_names_one_checkout_cannot_keep_apart_are_unsafe(
    repo: Path, gate: Gate, twins: str, mode: str
) -> None:
    bundle = repo / V1
    if twins == "case":
        names = ["METRICS.json"]  # beside the bundle's own metrics.json
    else:
        names = [unicodedata.normalize(form, "modèle.json") for form in ("NFC", "NFD")]
        assert names[0] != names[1]
    for name in names:
        _list_copy_of_model(bundle, name)

    failed, doc = failed_codes(gate, *argv_for(repo, mode))

    assert failed == {"PG105"}
    (finding,) = findings(doc, "PG105")
    assert "are one name on case-insensitive or normalising filesystems" in finding["message"]


def test_a_name_over_255_bytes_is_unsafe(repo: Path, gate: Gate) -> None:
    """145 characters, 285 bytes: no filesystem holds it, git does (a commit made with
    plumbing, as an attacker would push it)."""
    bundle = repo / V1
    name = "é" * 140 + ".json"
    assert len(name) < 255 < len(name.encode())
    _list_copy_of_model(bundle, name, on_disk=False)
    run(repo, "git", "add", "-A")
    blob = run(repo, "git", "hash-object", "-w", str(bundle / "model.json")).strip()
    run(repo, "git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{V1}/{name}")
    run(repo, "git", "commit", "-q", "-m", "a name no checkout can hold")
    assert name in run(repo, "git", "-c", "core.quotePath=false", "ls-tree", f"HEAD:{V1}")

    failed, doc = failed_codes(gate, "check", "--repo", str(repo), "--rev", "HEAD")

    assert failed == {"PG105"}
    (finding,) = findings(doc, "PG105")
    assert "has a name over 255 bytes" in finding["message"]


# --------------------------------------------------------------------------- 15. selection


def usage_error(gate: Gate, *argv: str) -> str:
    """Exit 2 from argument parsing (argparse exits); returns stderr."""
    with pytest.raises(SystemExit) as exc:
        gate(*argv)
    assert exc.value.code == 2
    err: str = gate.capsys.readouterr().err
    return err


@pytest.mark.parametrize("option", ["--select", "--ignore"])
@pytest.mark.parametrize("selector", ["PG140", "PG9", "PG1000"])
def test_an_unknown_selector_on_the_command_line_is_exit_2_naming_it(
    repo: Path, gate: Gate, option: str, selector: str
) -> None:
    for argv in (["check", "--repo", str(repo)], ["verify", str(repo / V1)]):
        err = usage_error(gate, *argv, option, selector)
        assert selector in err, err


@pytest.mark.parametrize("key", ["select", "ignore"])
@pytest.mark.parametrize("mode", ["worktree", "rev"])
def test_an_unknown_selector_in_the_configuration_is_exit_2_naming_it(
    repo: Path, gate: Gate, key: str, mode: str
) -> None:
    add_config(repo, f"{key}: [PG9]\n")
    code, out, err = gate(*argv_for(repo, mode))
    assert code == 2, out + err
    assert err.startswith("promote-gate: error: .promote-gate.yaml is invalid"), err
    assert f"{key}: unknown rule code or prefix PG9" in err


def _ran(doc: dict[str, Any]) -> set[str]:
    return {r["code"] for b in doc["bundles"] for r in b["results"] if r["status"] != "skipped"}


def test_the_more_specific_selector_wins(repo: Path, gate: Gate) -> None:
    code, doc, _ = report(
        gate, "check", "--repo", str(repo), "--ignore", "PG1", "--select", "PG104"
    )
    assert code == 0
    assert _ran(doc) == {"PG104"}
    code, doc, _ = report(
        gate, "check", "--repo", str(repo), "--select", "PG1", "--ignore", "PG104"
    )
    assert code == 0
    assert _ran(doc) == {"PG101", "PG102", "PG103", "PG105", "PG106"}
    add_config(repo, "select: [PG1]\nignore: [PG104]\n")  # the configuration: the same rule
    code, doc, _ = report(gate, "check", "--repo", str(repo))
    assert _ran(doc) == {"PG101", "PG102", "PG103", "PG105", "PG106"}


@pytest.mark.parametrize(
    "argv",
    [
        ("check", "--select", "PG101", "--ignore", "PG101"),
        ("check", "--select", "PG505"),  # require_pushed is off: it has nothing to judge
        ("verify", "--select", "PG5"),  # verify has no repository: release rules cannot run
    ],
    ids=["select=ignore", "not applicable", "verify without evidence"],
)
def test_a_run_in_which_no_rule_ran_is_not_a_pass(
    repo: Path, gate: Gate, argv: tuple[str, ...]
) -> None:
    target = ["--repo", str(repo)] if argv[0] == "check" else [str(repo / V1)]
    junit = repo.parent / "junit.xml"
    code, out, err = gate(argv[0], *target, *argv[1:], "--junit-xml", str(junit))
    assert code == 2, out + err
    assert "error: no rule ran" in out
    assert "promote-gate passed" not in out
    assert "no rule ran" in junit.read_text()


def test_configuration_and_command_line_accept_the_same_selectors(repo: Path, gate: Gate) -> None:
    cli_code, cli_doc, _ = report(gate, "check", "--repo", str(repo), "--select", "pg104")
    add_config(repo, "select: [pg104]\n")
    config_code, config_doc, err = report(gate, "check", "--repo", str(repo))
    assert (config_code, err) == (cli_code, "")
    assert _ran(config_doc) == _ran(cli_doc)
