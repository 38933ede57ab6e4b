"""The command line as a newcomer meets it: help with examples, rules found by name, output
as terse or as detailed as asked, and parse errors that name the file and the line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import Gate, run  # type: ignore[import-not-found, unused-ignore]

from promote_gate.cli import main
from promote_gate.rules import RULES

# --------------------------------------------------------------------------- --help


def _commands(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The subcommands, as argparse lists them to a user who mistypes one."""
    with pytest.raises(SystemExit):
        main(["no-such-command"])
    listed = re.search(r"choose from (.*)\)", capsys.readouterr().err)
    assert listed is not None
    return re.findall(r"'([a-z-]+)'", listed.group(1))


def test_every_subcommand_help_has_a_description_and_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = _commands(capsys)
    assert {"check", "verify", "promote", "ci", "diff", "hook", "explain"} <= set(commands)
    for command in commands:
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        # usage, a blank line, then the one-line description
        description = text.split("\n\n")[1]
        assert "\n" not in description.strip(), (command, description)
        assert description.strip().endswith("."), (command, description)
        examples = text.split("\nexamples:\n", 1)
        assert len(examples) == 2, f"{command} --help shows no examples"
        assert f"  promote-gate {command}" in examples[1], (command, examples[1])


# --------------------------------------------------------------------------- explain


def test_explain_takes_a_name_as_well_as_a_code(gate: Gate) -> None:
    by_code = gate("explain", "PG204")
    assert by_code[0] == 0
    for spelling in ("pipeline-stale", "Pipeline-Stale", "pg204"):
        assert gate("explain", spelling) == by_code, spelling
    assert by_code[1].startswith("# PG204 pipeline-stale\n")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("pipline-stale", "pipeline-stale (PG204)"), ("stale", "pipeline-stale (PG204)")],
)
def test_explain_an_unknown_rule_suggests_close_ones(gate: Gate, typed: str, meant: str) -> None:
    code, out, err = gate("explain", typed)
    assert code == 2
    assert out == ""
    assert f"no rule {typed!r}; did you mean {meant}" in err
    assert "`promote-gate rules`" in err


def test_explain_something_like_no_rule_says_what_it_takes(gate: Gate) -> None:
    code, _, err = gate("explain", "zzz")
    assert code == 2
    assert "explain takes a code (PG204) or a name (pipeline-stale)" in err
    assert "`promote-gate rules`" in err


def test_select_by_name_is_refused_naming_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--select", "PG1,pipeline-stale"])
    assert exc.value.code == 2
    assert "'pipeline-stale' is a rule name: select rules by code (PG204)" in (
        capsys.readouterr().err
    )


# --------------------------------------------------------------------------- -q and -v


def _unlisted(repo: Path) -> None:
    """One violation: a file in v1 its manifest does not list (PG103)."""
    (repo / "publish/v1/notes.txt").write_text("x\n")


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_check_that_passes_prints_nothing(repo: Path, gate: Gate, where: str) -> None:
    argv = ["-q", "check", "--repo", str(repo)]
    if where == "after":
        argv = ["check", "--repo", str(repo), "-q"]
    assert gate(*argv) == (0, "", "")


def test_quiet_says_nothing_of_the_reports_it_writes(repo: Path, gate: Gate) -> None:
    """-q: the JUnit file is written, and no line says so (findings and errors only)."""
    junit = repo.parent / "junit.xml"
    assert gate("check", "--repo", str(repo), "--junit-xml", str(junit), "-q") == (0, "", "")
    assert "<testsuites" in junit.read_text()
    assert (
        "JUnit report written" in gate("check", "--repo", str(repo), "--junit-xml", str(junit))[2]
    )


def test_quiet_check_prints_the_findings_and_nothing_else(repo: Path, gate: Gate) -> None:
    _unlisted(repo)
    code, default, _ = gate("check", "--repo", str(repo))
    quiet = gate("check", "--repo", str(repo), "-q")
    assert code == quiet[0] == 1
    assert quiet[1].splitlines() == [
        "FAIL publish/v1",
        "  PG103 file-unlisted  publish/v1/notes.txt",
        "      in the bundle but not listed in the manifest",
        "      fix: Remove the file from the bundle, or promote a new version that includes it.",
    ]
    assert default.startswith(quiet[1])  # the same findings; the default adds notes, summary
    assert default.splitlines()[-1].startswith("promote-gate failed: ")


def test_qq_says_nothing_but_errors(repo: Path, gate: Gate) -> None:
    _unlisted(repo)
    assert gate("-qq", "check", "--repo", str(repo)) == (1, "", "")
    code, out, err = gate("-qq", "check", "--repo", str(repo), "--bundle", "v9")
    assert (code, out) == (2, "")
    assert "promote-gate: error: no bundle v9" in err


def test_verbose_check_adds_what_each_verdict_rests_on(repo: Path, gate: Gate) -> None:
    _unlisted(repo)
    code, default, _ = gate("check", "--repo", str(repo))
    verbose = gate("check", "--repo", str(repo), "-v")
    assert verbose[0] == code == 1
    lines = verbose[1].splitlines()
    it = iter(lines)
    assert all(line in it for line in default.splitlines()), "-v dropped a default line"
    head = run(repo, "git", "rev-parse", "HEAD").strip()
    assert "    new: no base, so nothing counts as released" in lines
    assert f"    checked: the working tree, on commit {head[:12]}" in lines
    assert any(
        re.fullmatch(r"    evidence: eval/metrics\.json from git at \w{12}", x) for x in lines
    )
    listed = {m.group(1): m.group(2) for x in lines if (m := re.match(_RULE_LINE, x))}
    assert set(listed) == {r.code for r in RULES if r.subject == "bundle"}  # every bundle rule
    assert listed["PG103"] == "failed"
    assert listed["PG505"] == "skipped: require_pushed is off"
    assert re.search(r"promote-gate: check took \d+\.\d\d s", verbose[2])


_RULE_LINE = r"      (PG\d{3}) [a-z-]+ +\d+\.\d ms  (.*)$"


def test_quiet_and_verbose_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-q", "check", "-v"])
    assert exc.value.code == 2
    assert "cannot be combined" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "gitlab", "sarif", "github", "markdown"])
def test_machine_formats_do_not_change_with_q_or_v(
    repo: Path, gate: Gate, tmp_path: Path, fmt: str
) -> None:
    _unlisted(repo)
    outputs = set()
    for level in ([], ["-q"], ["-qq"], ["-v"]):
        junit = tmp_path / f"junit{''.join(level)}.xml"
        code, out, _ = gate(
            *level, "check", "--repo", str(repo), "--format", fmt, "--junit-xml", str(junit)
        )
        assert code == 1
        outputs.add((out, junit.read_text()))
    assert len(outputs) == 1
    assert "PG103" in next(iter(outputs))[0]


def test_verify_quiet_and_verbose(repo: Path, gate: Gate) -> None:
    bundle = str(repo / "publish/v1")
    assert gate("verify", bundle, "-q") == (0, "", "")
    code, out, _ = gate("verify", bundle, "-v")
    assert code == 0
    assert "    judged alone: no repository, nothing released (verify)" in out.splitlines()
    assert re.search(r"PG104 content-mismatch +\d+\.\d ms  passed", out)


def test_commit_hook_quiet_shows_the_findings_without_the_summary(repo: Path, gate: Gate) -> None:
    _unlisted(repo)
    run(repo, "git", "add", "publish/v1/notes.txt")
    code, _, default = gate("hook", "pre-commit", "--repo", str(repo))
    quiet = gate("hook", "pre-commit", "--repo", str(repo), "-q")
    assert code == quiet[0] == 1
    assert "  PG103 file-unlisted  publish/v1/notes.txt" in quiet[2]
    assert "promote-gate failed: " in default
    assert "promote-gate failed: " not in quiet[2]


# --------------------------------------------------------------------------- parse errors


def _break(path: Path, tail: str) -> int:
    """Append ``tail`` (one broken line) to ``path``; the line it is on."""
    text = path.read_text()
    assert text.endswith("\n")
    path.write_text(text + tail)
    return len(text.splitlines()) + 1


@pytest.mark.parametrize(
    ("name", "exit_code"),
    [("params.yaml", 2), ("dvc.yaml", 2), ("dvc.lock", 2), (".promote-gate.yaml", 2)],
)
def test_a_broken_yaml_file_is_named_with_its_line(
    repo: Path, gate: Gate, name: str, exit_code: int
) -> None:
    line = _break(repo / name, "broken: a: b\n")
    code, out, err = gate("check", "--repo", str(repo))
    assert code == exit_code, out + err
    said = out + err
    assert f"{name} is not valid YAML: line {line}, column 10: mapping values" in said
    assert "<unicode string>" not in said
    assert "Traceback" not in said


@pytest.mark.parametrize("name", ["manifest.json", "metrics.json"])
def test_a_broken_bundle_json_file_is_named_with_its_line(
    repo: Path, gate: Gate, name: str
) -> None:
    line = _break(repo / "publish/v1" / name, "x\n")
    code, out, err = gate("check", "--repo", str(repo))
    assert code == 1, out + err
    lines = out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.endswith(f"  publish/v1/{name}:{line}"))
    assert lines[at + 1] == f"      {name} is not valid JSON: line {line}, column 1: extra data"
    assert "Traceback" not in err


def test_a_broken_bundle_yaml_file_is_named_with_its_line(repo: Path, gate: Gate) -> None:
    line = _break(repo / "publish/v1/params.yaml", "broken: a: b\n")
    code, out, _ = gate("check", "--repo", str(repo))
    assert code == 1
    assert "  PG301 params-snapshot-missing  publish/v1/params.yaml" in out
    assert f"params.yaml is not valid YAML: line {line}, column 10: mapping values" in out
    assert "<unicode string>" not in out


def test_promote_names_a_broken_params_file(repo: Path, gate: Gate) -> None:
    line = _break(repo / "params.yaml", "train: {lr: 1\n")
    code, out, err = gate("promote", "--repo", str(repo))
    assert code == 2, out + err
    assert f"params.yaml is not valid YAML: line {line + 1}, column 1:" in err
    assert "<unicode string>" not in err
    assert "Traceback" not in err
    assert not (repo / "publish/v2").exists()


def test_a_broken_manifest_copied_elsewhere_is_named_by_verify(
    repo: Path, gate: Gate, tmp_path: Path
) -> None:
    bundle = tmp_path / "v1"
    shutil.copytree(repo / "publish/v1", bundle)
    manifest = bundle / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()), indent=2)[:-1])
    code, out, _ = gate("verify", str(bundle))
    assert code == 1
    assert "manifest.json is not valid JSON: line " in out
