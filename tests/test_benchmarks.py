"""The benchmark suite's smoke run (size S, one round): it builds its repository for real and
every command it measures exits as it should. It never judges a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.generate import SIZES
from benchmarks.run import bench, render


@pytest.mark.slow
def test_size_s_runs_every_command_successfully(tmp_path: Path) -> None:
    results = bench(SIZES["S"], tmp_path / "bench", runs=1)
    codes = {t.label: t.codes for group in results.values() for t in group.timings}
    assert codes == dict.fromkeys(codes, (0,)), codes
    assert {
        "promote-gate check",
        "dvc status",
        "push adding a bundle",
        "sha256sum model",
        "pre-commit: commit staging no bundle",
        "pre-push: push touching no bundle",
    } <= set(codes)
    table = render({"S": results}, runs=1)
    assert "| promote-gate check --rev HEAD |" in table
    assert "x dvc status" in table
