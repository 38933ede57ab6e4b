"""The bundle provider: a bundle's files, documents and manifest, read and hashed once."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from evidence_scopes import MODEL, edit, edit_manifest, md5_of_model, opened

from promote_gate.bundle import list_bundles
from promote_gate.errors import GateError


def test_reads_the_digests_of_the_promoted_files_and_documents(repo: Path) -> None:
    model = (repo / MODEL).read_bytes()
    with opened(repo) as it:
        facts = it.bundle("v1")
    item = facts.files["model.json"]
    assert item.digest is not None
    assert item.digest.md5 == hashlib.md5(model).hexdigest() == md5_of_model(repo)
    assert item.digest.sha256 == hashlib.sha256(model).hexdigest()
    assert item.storage == "dvc"
    assert item.pointer is not None
    assert item.pointer.md5 == item.digest.md5
    # the bundle's own documents are bookkeeping, not promoted files
    assert set(facts.files) == {"model.json"}
    assert facts.docs["metrics"].ok
    assert facts.manifest_errors == ()


def test_a_committed_bundle_reads_dvc_stored_bytes_from_the_cache(repo: Path) -> None:
    """In a commit's tree the model is only its pointer: its digest comes from a DVC object."""
    with opened(repo, rev="HEAD") as it:
        item = it.bundle("v1").files["model.json"]
    assert item.in_tree is False
    assert item.digest is not None
    assert item.digest.md5 == md5_of_model(repo)
    assert item.missing is None


def test_a_pointer_tracking_another_file_is_a_pointer_error(repo: Path) -> None:
    edit(repo / "publish/v1/model.json.dvc", "path: model.json", "path: other.json")
    with opened(repo) as it:
        item = it.bundle("v1").files["model.json"]
    assert item.pointer_error == "model.json.dvc tracks 'other.json', not 'model.json'"
    assert item.storage == "dvc"


def test_a_manifest_breaking_its_schema_is_reported_where(repo: Path) -> None:
    def drop_files(manifest: dict[str, Any]) -> None:
        del manifest["files"]

    edit_manifest(repo, "v1", drop_files)
    with opened(repo) as it:
        facts = it.bundle("v1")
    assert facts.manifest.ok  # valid JSON
    assert len(facts.manifest_errors) == 1
    assert facts.manifest_errors[0].startswith("(top level): 'files' is a required property")


def test_bundles_are_listed_by_version_number_and_case_twins_refused(repo: Path) -> None:
    for name in ("v10", "v2"):
        shutil.copytree(repo / "publish/v1", repo / "publish" / name)
    with opened(repo) as it:
        assert list_bundles(it.scope.view, it.scope.config) == ["v1", "v2", "v10"]
    (repo / "Publish").mkdir()
    (repo / "Publish/notes.txt").write_text("a twin of publish/ on macOS\n")
    with opened(repo) as it, pytest.raises(GateError, match="case-insensitive"):
        list_bundles(it.scope.view, it.scope.config)
