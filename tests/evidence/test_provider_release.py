"""The release provider: a bundle against the base, released (and changed since?) or new."""

from __future__ import annotations

import shutil
from pathlib import Path

from evidence_scopes import Opened, commit_all, opened, run

from promote_gate.bundle import list_bundles
from promote_gate.evidence.release import release_facts, rewriting_attributes
from promote_gate.facts import ReleaseFacts


def _release(it: Opened, name: str) -> ReleaseFacts:
    """``name``'s release facts, with the bundle lists the gate passes."""
    base = it.project.base_view
    released = list_bundles(base, it.scope.config) if base is not None else []
    present = list_bundles(it.scope.view, it.scope.config)
    return release_facts(it.scope, base, name, f"publish/{name}", released, present)


def test_a_released_bundle_edited_in_place_names_the_changed_file(repo: Path) -> None:
    report = repo / "publish/v1/report.md"
    report.write_text(report.read_text() + "\nA note added after release.\n")
    commit_all(repo, "edit v1 report")
    with opened(repo, rev="HEAD", base="HEAD~1") as it:
        facts = _release(it, "v1")
    assert facts.released
    assert facts.changes == ("publish/v1/report.md",)
    assert facts.base is not None
    assert facts.base.startswith("commit ")


def test_an_untouched_release_has_no_changes_despite_its_dvc_checkout(repo: Path) -> None:
    """publish/v1/model.json is in the working tree but not in git: not a change."""
    with opened(repo, base="HEAD") as it:
        facts = _release(it, "v1")
    assert facts.released
    assert facts.changes == ()
    assert facts.attribute_changes == ()


def test_a_new_version_is_a_candidate_and_a_deleted_one_removed(repo: Path) -> None:
    run(repo, "git", "mv", "publish/v1", "publish/v2")
    commit_all(repo, "re-version v1 as v2")
    with opened(repo, rev="HEAD", base="HEAD~1") as it:
        v1, v2 = _release(it, "v1"), _release(it, "v2")
    assert (v1.released, v1.removed) == (True, True)
    assert (v2.released, v2.removed) == (False, False)
    assert v2.released_versions == (1,)
    assert v2.versions == (2,)


def test_a_checkout_attribute_added_to_a_release_is_an_attribute_change(repo: Path) -> None:
    (repo / ".gitattributes").write_text("publish/v1/params.yaml eol=crlf\n")
    commit_all(repo, "crlf for v1 params")
    with opened(repo, rev="HEAD", base="HEAD~1") as it:
        facts = _release(it, "v1")
    assert facts.changes == ()  # the blobs are the same
    assert facts.attribute_changes == ("publish/v1/params.yaml: eol unspecified -> crlf",)


def test_a_candidate_whose_checkout_git_would_rewrite_is_flagged(repo: Path) -> None:
    shutil.copytree(repo / "publish/v1", repo / "publish/v2")
    (repo / ".gitattributes").write_text("publish/v2/*.yaml filter=lfs\n")
    with opened(repo) as it:
        found = rewriting_attributes(it.scope, it.bundle("v2"))
    assert set(found) == {
        ("publish/v2/params.yaml", "filter", "lfs"),
        ("publish/v2/lock.yaml", "filter", "lfs"),
    }
