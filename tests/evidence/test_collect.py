"""The collect loop: only the evidence a selected rule needs, for the bundles it is about."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from evidence_scopes import METRICS, add_policy, opened

from promote_gate.collect import PROVIDERS, Collector
from promote_gate.facts import RepoEvidence


def _deploy(repo: Path) -> None:
    """A consumer (the demo's policy: ``deploy/**``) reading the pipeline's model."""
    (repo / "deploy").mkdir()
    (repo / "deploy/serve.py").write_text('MODEL = "models/model.json"\n')


def test_only_providers_whose_evidence_is_needed_run(repo: Path) -> None:
    with opened(repo) as it:
        facts = Collector(it.scope, frozenset({"lineage"})).bundle(
            "v1", "publish/v1", candidate=True
        )
    evidence = facts.repo
    assert evidence is not None
    assert evidence.lineage is not None  # needed
    assert evidence.status is None  # not needed: no dvc status of the pipeline
    assert evidence.comparison_note is None
    assert evidence.content == {}
    assert evidence.source_known  # every rule family reads source.commit: always collected
    assert evidence.dir_listings  # and the .dir listings


def test_candidate_only_providers_do_not_run_for_a_released_bundle(repo: Path) -> None:
    with opened(repo) as it:
        collector = Collector(it.scope)  # every kind of evidence needed
        released = collector.bundle("v1", "publish/v1", candidate=False).repo
        candidate = collector.bundle("v1", "publish/v1", candidate=True).repo
    assert released is not None
    assert candidate is not None
    assert (released.status, released.lineage, released.comparison_note) == (None, None, None)
    assert set(released.content) == {METRICS}  # evidence about every bundle still is
    assert candidate.status is not None
    assert candidate.lineage is not None
    assert candidate.comparison_note == "no earlier promoted version to compare with"


def test_consumers_are_read_for_the_release_surface_only(repo: Path) -> None:
    _deploy(repo)
    with opened(repo) as it:
        collector = Collector(it.scope)
        older = collector.bundle("v1", "publish/v1", candidate=True, surface=False).repo
        surface = collector.bundle("v1", "publish/v1", candidate=True, surface=True).repo
    assert older is not None
    assert surface is not None
    assert older.consumer_reads == ()
    assert [(r.file, r.path) for r in surface.consumer_reads] == [
        ("deploy/serve.py", "models/model.json")
    ]


def test_each_providers_fields_land_in_repo_evidence(repo: Path) -> None:
    _deploy(repo)
    add_policy(repo, "require_pushed: true\n")
    repo_fields = {f.name for f in dataclasses.fields(RepoEvidence)}
    with opened(repo) as it:
        facts = Collector(it.scope).bundle("v1", "publish/v1", candidate=True, surface=True)
        evidence = facts.repo
        assert evidence is not None
        for provider in PROVIDERS:
            found = provider.collect(it.scope, dataclasses.replace(facts, repo=None))
            names = set(found._asdict())
            assert names <= repo_fields, provider
            for name in names:
                assert getattr(evidence, name) == getattr(found, name), (provider, name)
    assert evidence.remote is not None  # the policy asked: the remote provider ran
    assert evidence.consumer_reads != ()
    assert evidence.checked == "working tree"
