"""Every rule fires on a minimal mutation of a real promoted bundle; a clean one passes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, commit_all, run

from promote_gate.commands.demo import REMOTE, relist, resum
from promote_gate.rules import BY_CODE, RULES

V1 = "publish/v1"


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / V1 / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def _manifest(repo: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = repo / V1 / "manifest.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def _set_file(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["files"][0][key] = value

    return change


def _side_commit(repo: Path) -> None:
    """source.commit names a commit on another branch: not in the checked history."""
    run(repo, "git", "checkout", "-q", "-b", "side")
    side = commit_all(repo, "experiment on a side branch")
    run(repo, "git", "checkout", "-q", "main")
    _manifest(repo, lambda d: d["source"].__setitem__("commit", side))


def _symlink_in_place(repo: Path) -> None:
    """A symlink where the promoted file should be (sha256sum -c follows it and fails)."""
    (repo / V1 / "model.json").unlink()
    (repo / V1 / "model.json").symlink_to("report.md")


def _swapped_consistently(repo: Path) -> None:
    """Other bytes for the promoted model, with the manifest, pointer and SHA256SUMS made to
    agree: only provenance (lock.yaml) can tell."""
    data = b'{"weights": [0, 0, 0, 0], "loss_history": []}\n'
    model = repo / V1 / "model.json"
    model.chmod(0o644)
    model.write_bytes(data)
    relist(repo / V1, "model.json", data)
    md5 = hashlib.md5(data).hexdigest()
    pointer = repo / V1 / "model.json.dvc"
    text = re.sub(r"md5: \w+", f"md5: {md5}", pointer.read_text())
    pointer.write_text(re.sub(r"size: \d+", f"size: {len(data)}", text))
    resum(repo / V1)


def _symlink_out(repo: Path) -> None:
    (repo / V1 / "escape.yaml").symlink_to("../../params.yaml")


def _drop_stage(repo: Path) -> None:
    text = (repo / V1 / "lock.yaml").read_text()
    start, end = text.index("  prepare:\n"), text.index("  train:\n")
    (repo / V1 / "lock.yaml").write_text(text[:start] + text[end:])


def _metrics_value(repo: Path) -> None:
    path = repo / V1 / "metrics.json"
    doc = json.loads(path.read_text())
    doc["eval/metrics.json"]["values"]["acc"] = 0.99
    path.write_text(json.dumps(doc, indent=2))


def _report_metric(repo: Path) -> None:
    path = repo / V1 / "report.md"
    text = path.read_text()
    path.write_text(re.sub(r"(\| `acc` \| )[0-9.]+", r"\g<1>0.99", text, count=1))


Mutation = Callable[[Path], object]


def resummed(mutate: Mutation) -> Mutation:
    """The mutation, then SHA256SUMS recomputed as a careful forger would: so the mutation
    tests its own rule, not PG106 (whose cases below leave SHA256SUMS alone)."""

    def both(repo: Path) -> None:
        mutate(repo)
        if (repo / V1 / "SHA256SUMS").is_file():
            resum(repo / V1)

    return both


CASES: list[tuple[set[str], str, Mutation]] = [
    (
        {"PG101"},
        "manifest is a list",
        resummed(lambda r: (r / V1 / "manifest.json").write_text("[]")),
    ),
    (
        {"PG502"},
        "manifest version is not the directory",
        resummed(lambda r: _manifest(r, lambda d: d.__setitem__("version", "v2"))),
    ),
    ({"PG502"}, "directory is no version", lambda r: (r / V1).rename(r / "publish" / "latest")),
    # one defect, one code: the report's params (PG304) say it is gone, not its metrics too
    ({"PG304"}, "report removed", lambda r: (r / V1 / "report.md").unlink()),
    (
        {"PG101"},
        "manifest misses a key",
        resummed(lambda r: _manifest(r, lambda d: d.pop("source"))),
    ),
    ({"PG102"}, "pointer removed", lambda r: (r / V1 / "model.json.dvc").unlink()),
    (
        {"PG102"},
        "listed file gone",
        resummed(
            lambda r: _manifest(
                r, lambda d: d["files"].append({**d["files"][0], "path": "other.json"})
            )
        ),
    ),
    ({"PG103"}, "unlisted file", lambda r: (r / V1 / "notes.txt").write_text("hi\n")),
    ({"PG104"}, "content changed", lambda r: (r / V1 / "model.json").write_text("{}")),
    ({"PG104"}, "pointer md5 changed", lambda r: _edit(r, "model.json.dvc", "md5: ", "md5: 0")),
    (
        {"PG106"},
        "SHA256SUMS line wrong",
        lambda r: _edit(
            r, "SHA256SUMS", "  params.yaml", "  params.yaml\n" + "0" * 64 + "  extra.bin"
        ),
    ),
    (
        {"PG106"},
        "snapshot edited after checksums",
        lambda r: _edit(r, "params.yaml", "epochs: 8", "epochs: 8\n"),
    ),
    (
        {"PG105"},
        "path escapes",
        resummed(lambda r: _manifest(r, _set_file("path", "../model.json"))),
    ),
    ({"PG105"}, "symlink leaves the bundle", _symlink_out),
    (
        {"PG201"},
        "wrong stage",
        resummed(
            lambda r: _manifest(
                r, _set_file("source", {"stage": "evaluate", "path": "models/model.json"})
            )
        ),
    ),
    (
        {"PG104"},
        "manifest md5 not the file's",
        resummed(lambda r: _manifest(r, _set_file("md5", "0" * 32))),
    ),
    ({"PG202"}, "lock excerpt missing", lambda r: (r / V1 / "lock.yaml").unlink()),
    ({"PG202"}, "upstream stage left out", resummed(_drop_stage)),
    (
        {"PG203"},
        "lock excerpt edited",
        resummed(
            lambda r: _edit(
                r, "lock.yaml", "cmd: python3 src/train.py", "cmd: python3 src/train.py --fast"
            )
        ),
    ),
    (
        {"PG203"},
        "dvc.lock checksum wrong",
        resummed(
            lambda r: _manifest(r, lambda d: d["source"].__setitem__("dvc_lock_sha256", "0" * 64))
        ),
    ),
    (
        {"PG204"},
        "params changed without repro",
        lambda r: (r / "params.yaml").write_text(
            (r / "params.yaml").read_text().replace("lr: 0.05", "lr: 0.5")
        ),
    ),
    (
        {"PG204"},
        "code changed without repro",
        lambda r: (r / "src/train.py").write_text((r / "src/train.py").read_text() + "\n# tweak\n"),
    ),
    ({"PG205"}, "source commit on another branch", resummed(_side_commit)),
    ({"PG301"}, "params snapshot removed", lambda r: (r / V1 / "params.yaml").unlink()),
    (
        {"PG301"},
        "params snapshot not YAML",
        resummed(lambda r: (r / V1 / "params.yaml").write_text("a: [1,\n")),
    ),
    (
        {"PG302"},
        "params snapshot edited",
        resummed(lambda r: _edit(r, "params.yaml", "lr: 0.05", "lr: 0.02")),
    ),
    (
        {"PG304"},
        "report params table edited",
        resummed(lambda r: _edit(r, "report.md", "| `train.lr` | 0.05 |", "| `train.lr` | 0.02 |")),
    ),
    (
        {"PG304"},
        "report front matter edited",
        resummed(lambda r: _edit(r, "report.md", "    train.lr: 0.05", "    train.lr: 0.02")),
    ),
    (
        {"PG304"},
        "report states no params",
        resummed(lambda r: _edit(r, "report.md", "<!-- promote-gate:params -->", "")),
    ),
    (
        {"PG401"},
        "metrics snapshot not JSON",
        resummed(lambda r: (r / V1 / "metrics.json").write_text("acc: 1")),
    ),
    ({"PG401"}, "metrics snapshot removed", lambda r: (r / V1 / "metrics.json").unlink()),
    ({"PG402"}, "metrics value inflated", resummed(_metrics_value)),
    (
        {"PG402"},
        "metrics md5 not the recorded one",
        resummed(lambda r: _edit(r, "metrics.json", '"md5": "', '"md5": "0')),
    ),
    ({"PG403"}, "report metrics table edited", resummed(_report_metric)),
    ({"PG104"}, "promoted file replaced by a symlink", _symlink_in_place),
    (
        {"PG106"},
        "SHA256SUMS leaves out a document",
        lambda r: _edit(r, "SHA256SUMS", "  report.md\n", "  report.md.bak\n"),
    ),
    (
        {"PG304"},
        "report states a param twice",
        resummed(
            lambda r: _edit(
                r,
                "report.md",
                "| `params.yaml` | `train.lr` | 0.05 |",
                "| `params.yaml` | `train.lr` | 0.05 |\n| `params.yaml` | `train.lr` | 0.5 |",
            )
        ),
    ),
    ({"PG201"}, "promoted bytes swapped, manifest and pointer to match", _swapped_consistently),
    (
        {"PG106"},
        "SHA256SUMS lists a file twice",
        lambda r: _edit(
            r, "SHA256SUMS", "  params.yaml\n", "  params.yaml\n" + "0" * 64 + "  params.yaml\n"
        ),
    ),
]


def test_every_rule_has_a_failing_case() -> None:
    # elsewhere: PG501 (a base revision) in test_release.py, PG404/PG405 (a real v2) in
    # test_comparability.py, PG503-PG505 (experiments, consumers, a remote) in test_boundary.py,
    # PG206 (outputs recorded with dvc commit -f) in tests/security/test_pipeline_forgery.py,
    # PG601-PG603 (keys at a base, a real push and CI run) in test_signing.py, PG506 and the
    # tag rules PG701-PG711 (real tag pushes) in tests/test_registry_tags.py
    elsewhere = {"PG501", "PG404", "PG405", "PG503", "PG504", "PG505", "PG506", "PG206"}
    elsewhere |= {"PG601", "PG602", "PG603"}
    elsewhere |= {r.code for r in RULES if r.subject == "tag"}
    assert {code for codes, _, _ in CASES for code in codes} | elsewhere == set(BY_CODE)


@pytest.mark.parametrize(
    ("codes", "what", "mutate"), CASES, ids=[f"{min(c)}-{w}" for c, w, _ in CASES]
)
def test_rule_fires_in_working_tree(
    repo: Path, gate: Gate, codes: set[str], what: str, mutate: Mutation
) -> None:
    """One defect, one code: each mutation fails exactly the rules it names."""
    mutate(repo)
    assert gate.failed_codes("check", "--repo", str(repo)) == codes


# The committed tree is what the pre-push hook checks: one case per family, read from git objects.
COMMITTED = [
    c
    for c in CASES
    if c[1]
    in {
        "pointer md5 changed",
        "unlisted file",
        "wrong stage",
        "params changed without repro",
        "params snapshot edited",
        "report params table edited",
        "metrics value inflated",
        "source commit on another branch",
    }
]


@pytest.mark.parametrize(
    ("codes", "what", "mutate"), COMMITTED, ids=[f"{min(c)}-{w}" for c, w, _ in COMMITTED]
)
def test_rule_fires_in_committed_tree(
    repo: Path, gate: Gate, codes: set[str], what: str, mutate: Mutation
) -> None:
    mutate(repo)
    commit_all(repo, what)
    run(repo, "git", "reset", "-q", "--hard", "HEAD~1")  # the working tree no longer shows it
    sha = run(repo, "git", "rev-parse", "HEAD@{1}").strip()
    assert gate.failed_codes("check", "--repo", str(repo), "--rev", sha) == codes


def test_clean_bundle_passes_every_rule(repo: Path, gate: Gate) -> None:
    for argv in (("check", "--repo", str(repo)), ("check", "--repo", str(repo), "--rev", "HEAD")):
        code, doc = gate.json(*argv)
        assert code == 0
        statuses = {r["code"]: r["status"] for r in doc["bundles"][0]["results"]}
        # a first version has no baseline, require_pushed is off, and the bundle is unsigned
        # (signing is not required): nothing to judge there
        not_applicable = {"PG404", "PG405", "PG206", "PG505", "PG602", "PG603"}
        bundle_rules = [r.code for r in RULES if r.subject == "bundle"]  # a tag's are not here
        expected = {c: "skipped" if c in not_applicable else "passed" for c in bundle_rules}
        assert statuses == expected, statuses


def test_rules_are_well_formed() -> None:
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert re.fullmatch(r"PG[1-9][0-9]{2}", rule.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+", rule.name)
        assert all([rule.summary, rule.rationale, rule.fix, rule.example])


def test_missing_data_fails_a_candidate_and_is_skipped_for_a_released_bundle(
    repo: Path, gate: Gate
) -> None:
    """Without the DVC cache or remote, a bundle being released cannot be verified: that is
    never a pass. A released one was verified when it was released: skipped, named."""
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo.parent / REMOTE)
    (repo / V1 / "model.json").unlink()
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD")
    assert code == 1
    results = {r["code"]: r for r in doc["bundles"][0]["results"]}
    (finding,) = results["PG104"]["findings"]
    assert "could not be verified here" in finding["message"]
    # the remote's directory is gone: named as such, and no `dvc pull` (it would ask it too)
    assert "dvc-remote) unreachable: " in finding["message"]
    assert "dvc pull" not in finding["message"]
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD")
    assert code == 0
    results = {r["code"]: r for r in doc["bundles"][0]["results"]}
    assert results["PG104"]["status"] == "skipped"
    assert "unreachable" in results["PG104"]["reason"]
    assert "dvc pull" not in results["PG104"]["reason"]
    assert "PG104" in gate.failed_codes(
        "check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD", "--require-data"
    )


def test_metadata_only_skips_unverifiable_content_and_says_so_first(repo: Path, gate: Gate) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo.parent / REMOTE)
    (repo / V1 / "model.json").unlink()
    config = repo / ".promote-gate.yaml"
    config.write_text(config.read_text() + "metadata_only: true\n")
    code, out, _ = gate("check", "--repo", str(repo))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("UNVERIFIED: metadata_only is set")
    assert lines[-1].startswith("promote-gate passed (UNVERIFIED)")
    assert "PG104 content-mismatch  skipped:" in out


def test_malformed_new_bundle_is_a_violation_not_a_crash(repo: Path, gate: Gate) -> None:
    shutil.copytree(repo / V1, repo / "publish/v2")
    manifest = repo / "publish/v2/manifest.json"
    doc = json.loads(manifest.read_text())
    doc["version"], doc["files"][0]["size"] = "v2", "abc"
    manifest.write_text(json.dumps(doc))
    assert "PG101" in gate.failed_codes("check", "--repo", str(repo))


def test_dvc_symlink_checkouts_are_the_files_they_link(repo: Path, gate: Gate) -> None:
    """cache.type symlink: the workspace holds links into the DVC cache, as DVC intends."""
    run(repo, "dvc", "config", "cache.type", "symlink")
    run(repo, "dvc", "checkout", "-q", "--relink")
    assert (repo / V1 / "model.json").is_symlink()
    code, out, _ = gate("check", "--repo", str(repo))
    assert code == 0, out


def test_renamed_stage_leaves_a_stale_lock_entry_that_is_ignored(repo: Path, gate: Gate) -> None:
    """DVC keeps the old entry in dvc.lock after a rename, and dvc status ignores it; a
    released bundle stays valid, one being released no longer describes the pipeline."""
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("  evaluate:", "  score:"))
    run(repo, "dvc", "repro", "-q")
    commit_all(repo, "rename evaluate to score")
    assert "evaluate:" in (repo / "dvc.lock").read_text()
    assert gate("check", "--repo", str(repo), "--rev", "HEAD", "--base", "HEAD")[0] == 0
    code, doc = gate.json("check", "--repo", str(repo), "--rev", "HEAD")
    assert code == 1
    pg204 = next(r for r in doc["bundles"][0]["results"] if r["code"] == "PG204")
    assert "stage evaluate: stage is not in dvc.yaml" in pg204["findings"][0]["message"]
    code, _, err = gate("promote", "--repo", str(repo), "v2")
    assert code == 0, err


def test_stale_pipeline_applies_to_the_newest_bundle_only(repo: Path, gate: Gate) -> None:
    (repo / "params.yaml").write_text(
        (repo / "params.yaml").read_text().replace("lr: 0.05", "lr: 0.5")
    )
    code, doc = gate.json("check", "--repo", str(repo), "--ignore", "PG204")
    assert code == 0
    pg204 = next(r for r in doc["bundles"][0]["results"] if r["code"] == "PG204")
    assert pg204["status"] == "skipped"
    assert "--ignore PG204" in pg204["reason"]
