"""Trust boundary, the release surface (issue 7, items 12-15): what consumers check out under
the publish root is exactly what was promoted, and history is judged as it was pushed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    World,
    github_pr,
    release_v2,
)


def _git(work: Path, *argv: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        ["git", *argv], cwd=work, input=stdin, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


# --------------------------------------------------------------------------- 12. a submodule as a bundle


def _submodule_bundle(work: Path) -> None:
    """publish/v2 committed as a gitlink: a consumer's checkout gets whatever repository it
    names, never promoted content."""
    nested = work / "publish/v2"
    nested.mkdir(parents=True)
    run(nested, "git", "init", "-q")
    (nested / "model.json").write_text("{}\n")
    run(nested, "git", "add", "-A")
    run(nested, "git", "commit", "-q", "-m", "not a bundle")


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_a_submodule_where_a_bundle_belongs_is_a_violation(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("gitlink", _submodule_bundle, dvc_push=False)
    assert _git(world.work, "ls-tree", head, "publish/v2").startswith("160000 commit")
    verdict = world.gate(through, gate, monkeypatch, tmp_path, "gitlink", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG105"}
    assert "the bundle is a submodule, not a directory of files" in verdict.text


# --------------------------------------------------------------------------- 13. git attributes


def _crlf_on_release(work: Path) -> None:
    """A root .gitattributes that makes every checkout of the publish root CRLF: the bytes a
    consumer's `sha256sum -c` reads are no longer the released ones."""
    (work / ".gitattributes").write_text("publish/** eol=crlf\n")


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_attributes_rewriting_a_released_bundle_on_checkout_are_a_mutation(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("crlf", _crlf_on_release, dvc_push=False)
    verdict = world.gate(through, gate, monkeypatch, tmp_path, "crlf", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG501"}
    assert "git attributes changed since the released v1 (eol unspecified -> crlf)" in verdict.text
    # what the finding says is true: a fresh checkout no longer passes sha256sum -c
    ws = world.clone(tmp_path / "checkout", "crlf")
    check = subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=ws / V1, capture_output=True, check=False
    )
    assert check.returncode != 0


def test_attributes_rewriting_a_new_bundle_are_a_content_mismatch(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def change(work: Path) -> None:
        release_v2(work, lr="0.1")
        (work / ".gitattributes").write_text("publish/v2/*.md ident\n")

    head = world.branch("ident", change)
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "ident", head)
    assert verdict.code == 1, verdict.text
    assert verdict.failed == {"PG104"}
    assert "publish/v2/report.md" in verdict.text
    assert "git attribute ident applies" in verdict.text


# --------------------------------------------------------------------------- 14. the hook's quick path


def test_moving_a_released_bundle_away_is_not_hidden_by_rename_detection(
    world: World, gate: Gate
) -> None:
    run(world.work, "git", "mv", V1, "attic-v1")
    commit_all(world.work, "move v1 out of the publish root")
    world.install_hook(gate)
    verdict = world.push("origin", "main")
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed
    assert "released bundle v1 was removed" in verdict.text


def test_force_push_of_the_same_tree_with_rewritten_history_is_judged_again(
    world: World, gate: Gate
) -> None:
    tree = _git(world.work, "rev-parse", "HEAD^{tree}")
    orphan = _git(world.work, "commit-tree", tree, "-m", "history rewritten, same files")
    world.install_hook(gate)
    verdict = world.push("origin", f"+{orphan}:refs/heads/main")
    assert verdict.code == 1, verdict.text
    assert "PG205" in verdict.failed


def test_local_replace_refs_do_not_change_what_is_judged(world: World, gate: Gate) -> None:
    good_tree = _git(world.work, "rev-parse", "HEAD^{tree}")
    report = world.work / V1 / "report.md"
    report.write_text(report.read_text() + "\nEdited after release.\n")
    pushed = commit_all(world.work, "edit the released report")
    decoy = _git(world.work, "commit-tree", good_tree, "-p", "HEAD~1", "-m", "decoy")
    run(world.work, "git", "replace", pushed, decoy)  # locally, `pushed` now reads as `decoy`
    world.install_hook(gate)
    verdict = world.push("origin", "main")
    assert verdict.code == 1, verdict.text
    assert "PG501" in verdict.failed


# --------------------------------------------------------------------------- 15. malformed trees


def _duplicate_entry(work: Path) -> str:
    """A commit whose publish/v1 tree lists report.md twice (git fsck: duplicateEntries);
    git archive serves one, a checkout another."""
    forged = _git(work, "hash-object", "-w", "--stdin", stdin="# a different report\n")
    listing = _git(work, "ls-tree", f"HEAD:{V1}")
    v1 = _git(work, "mktree", stdin=f"{listing}\n100644 blob {forged}\treport.md\n")
    publish = _git(
        work,
        "mktree",
        stdin="\n".join(
            f"040000 tree {v1}\tv1" if line.endswith("\tv1") else line
            for line in _git(work, "ls-tree", "HEAD:publish").splitlines()
        )
        + "\n",
    )
    root = _git(
        work,
        "mktree",
        stdin="\n".join(
            f"040000 tree {publish}\tpublish" if line.endswith("\tpublish") else line
            for line in _git(work, "ls-tree", "HEAD").splitlines()
        )
        + "\n",
    )
    return _git(work, "commit-tree", root, "-p", "HEAD", "-m", "a tree fsck refuses")


@pytest.mark.parametrize("through", ["ci", "hook"])
def test_a_tree_with_a_duplicate_entry_cannot_be_evaluated(
    through: str, world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    commit = _duplicate_entry(world.work)
    run(world.work, "git", "push", "-q", "origin", f"{commit}:refs/heads/dup")  # no hook yet
    verdict = world.gate(through, gate, monkeypatch, tmp_path, "dup", commit)
    assert verdict.code == 2, verdict.text
    assert "'publish/v1/report.md' appears twice" in verdict.text


def test_a_good_v2_still_passes_the_hook(world: World, gate: Gate) -> None:
    """The checks above do not refuse an honest release."""
    release_v2(world.work, lr="0.1")
    world.install_hook(gate)
    verdict = world.push("origin", "main")
    assert verdict.code == 0, verdict.text


def test_a_case_twin_of_the_publish_root_cannot_be_evaluated(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PUBLISH/v1/model.json lands inside the released publish/v1/ on macOS and Windows."""

    def twin(work: Path) -> None:
        (work / "PUBLISH/v1").mkdir(parents=True)
        (work / "PUBLISH/v1/model.json").write_text('{"weights": [9, 9, 9]}\n')

    head = world.branch("twin", twin, dvc_push=False)
    for through in ("ci", "hook"):
        verdict = world.gate(through, gate, monkeypatch, tmp_path / through, "twin", head)
        assert verdict.code == 2, verdict.text
        assert "one directory on case-insensitive filesystems" in verdict.text
