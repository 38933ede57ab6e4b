"""Evidence on demand: the collector computes the costly evidence only for selected rules."""

from __future__ import annotations

from pathlib import Path

from promote_gate.gate import check_repo


def test_only_the_evidence_selected_rules_need_is_collected(repo: Path) -> None:
    report = check_repo(str(repo), select=["PG101"])
    (bundle,) = report.bundles
    assert bundle.facts is not None
    evidence = bundle.facts.repo
    assert evidence is not None
    # no dvc status of the pipeline, no dvc.lock history, no baseline, no consumers
    assert evidence.status is None
    assert evidence.lineage is None
    assert evidence.comparison_note is None
    assert evidence.consumer_reads == ()
    assert [r.rule.code for r in bundle.results if r.status != "skipped"] == ["PG101"]

    full = check_repo(str(repo))
    evidence = full.bundles[0].facts.repo  # type: ignore[union-attr]
    assert evidence is not None
    assert evidence.status is not None
    assert evidence.lineage is not None
    assert evidence.comparison_note is not None  # v1 is the first: "no baseline"
    assert full.exit_code == report.exit_code == 0
