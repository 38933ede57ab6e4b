from __future__ import annotations

from pathlib import Path

from conftest import Gate


def test_promoted_template_passes(repo: Path, gate: Gate) -> None:
    code, out, _ = gate("check", "--repo", str(repo))
    assert code == 0, out
    assert "promote-gate passed" in out
