"""The consumers provider: lines of the policy's consumer files (``deploy/**`` in the demo)
that read an internal pipeline path instead of the release surface."""

from __future__ import annotations

from pathlib import Path

from evidence_scopes import edit, opened

from promote_gate.evidence.consumers import consumers
from promote_gate.facts import ConsumerRead

SERVE = """\
import json

MODEL = "models/model.json"
weights = json.load(open(MODEL))["weights"]
"""


def _consumer(repo: Path, text: str = SERVE) -> Path:
    path = repo / "deploy/serve.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_a_consumer_reading_a_pipeline_output_is_found_with_the_path_to_use(repo: Path) -> None:
    _consumer(repo)
    with opened(repo) as it:
        found = consumers(it.scope, it.bundle("v1"))
    assert found.consumers_error is None
    assert found.consumer_reads == (
        ConsumerRead("deploy/serve.py", 3, "models/model.json", "publish/v1/model.json"),
    )


def test_none_once_the_consumer_reads_the_bundle(repo: Path) -> None:
    serve = _consumer(repo)
    edit(serve, '"models/model.json"', '"publish/v1/model.json"')
    with opened(repo) as it:
        found = consumers(it.scope, it.bundle("v1"))
    assert found.consumer_reads == ()
    assert found.consumers_error is None


def test_relative_paths_and_the_dvc_cache_are_internal_too(repo: Path) -> None:
    _consumer(repo, 'MODEL = "../models/./model.json"\nCACHE = ".dvc/cache/files/md5"\n')
    with opened(repo) as it:
        found = consumers(it.scope, it.bundle("v1"))
    assert [(r.line, r.path, r.instead) for r in found.consumer_reads] == [
        (1, "../models/./model.json", "publish/v1/model.json"),
        (2, ".dvc/cache/files/md5", "publish/v1/…"),
    ]


def test_files_outside_the_consumer_globs_are_not_read(repo: Path) -> None:
    (repo / "notebooks").mkdir()
    (repo / "notebooks/explore.py").write_text(SERVE)
    with opened(repo) as it:
        assert consumers(it.scope, it.bundle("v1")).consumer_reads == ()


def test_a_broken_dvc_yaml_is_reported_not_taken_as_no_outputs(repo: Path) -> None:
    _consumer(repo)
    (repo / "dvc.yaml").write_text("stages: [unclosed\n")
    with opened(repo) as it:
        found = consumers(it.scope, it.bundle("v1"))
    assert found.consumer_reads == ()
    assert found.consumers_error is not None
    assert found.consumers_error.startswith("the pipeline's outputs cannot be told: ")
