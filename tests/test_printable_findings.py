"""Whatever a bundle's documents spell, a finding about it reaches every reporter."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Gate  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.demo import resum

V1 = "publish/v1"


def test_a_lone_surrogate_in_a_metric_name_is_a_finding_not_a_crash(repo: Path, gate: Gate) -> None:
    # JSON may spell a surrogate no UTF-8 text holds: "\ud800"
    metrics = repo / V1 / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"acc": 0.9,', '"acc": 0.9, "\\ud800": 1,'))
    resum(repo / V1)
    code, out, err = gate("check", "--repo", str(repo))
    assert code == 1, out + err
    assert "PG402 metrics-mismatch" in out
    assert "eval/metrics.json:\ufffd not expected (found 1)" in out
    code, out, _ = gate("check", "--repo", str(repo), "--format", "json")
    assert code == 1
    (finding,) = [
        f
        for b in json.loads(out)["bundles"]
        for r in b["results"]
        if r["code"] == "PG402"
        for f in r["findings"]
    ]
    assert finding["path"] == f"{V1}/metrics.json"
