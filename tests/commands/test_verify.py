"""``promote-gate verify DIR``: a consumer's check of a downloaded bundle, no repository."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# Run alone (`mypy tests/commands/x.py`), mypy does not see tests/ as a root: conftest
# resolves only in the suite-wide run, so the ignore must tolerate being unused there.
from conftest import Gate  # type: ignore[import-not-found, unused-ignore]


@pytest.fixture
def download(template: Path, tmp_path: Path) -> Path:
    """publish/v1 as a consumer has it: the files (model.json materialised), no git, no DVC."""
    dest = tmp_path / "downloads" / "v1"
    shutil.copytree(template / "publish" / "v1", dest)
    assert (dest / "model.json").is_file()
    outside = subprocess.run(
        ["git", "rev-parse", "--git-dir"], cwd=dest, capture_output=True, check=False
    )
    assert outside.returncode != 0, "the download must not be inside a git repository"
    return dest


def verify_codes(gate: Gate, directory: Path) -> set[str]:
    codes: set[str] = gate.failed_codes("verify", str(directory))
    return codes


def test_downloaded_bundle_verifies(download: Path, gate: Gate) -> None:
    code, out, err = gate("verify", str(download))
    assert code == 0, (out, err)
    assert "promote-gate passed" in out
    assert verify_codes(gate, download) == set()


def test_bundle_unpacked_under_another_name_verifies(download: Path, gate: Gate) -> None:
    renamed = download.rename(download.parent / "model-release")
    code, out, err = gate("verify", str(renamed))
    assert code == 0, (out, err)
    assert "model-release" in out
    assert "promote-gate passed" in out


def test_changed_byte_in_the_model_is_a_content_mismatch(download: Path, gate: Gate) -> None:
    model = download / "model.json"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    code, doc = gate.json("verify", str(download))
    assert code == 1
    findings = [
        f
        for b in doc["bundles"]
        for r in b["results"]
        if r["code"] == "PG104" and r["status"] == "failed"
        for f in r["findings"]
    ]
    assert {f["message"] for f in findings if f["path"] == "model.json"} >= {
        "md5 differs from the manifest",
        "sha256 differs from the manifest",
    }


def test_pointer_without_the_model_is_a_missing_file(download: Path, gate: Gate) -> None:
    (download / "model.json").unlink()
    assert (download / "model.json.dvc").is_file()
    assert "PG102" in verify_codes(gate, download)
    code, out, _ = gate("verify", str(download))
    assert code == 1
    assert "only its pointer is here" in out


def test_report_edited_by_hand_is_caught(download: Path, gate: Gate) -> None:
    report = download / "report.md"
    text = report.read_text()
    assert "| `train.lr` | 0.05 |" in text
    report.write_text(text.replace("| `train.lr` | 0.05 |", "| `train.lr` | 0.02 |"))
    assert "PG304" in verify_codes(gate, download)


@pytest.mark.parametrize("broken", [False, True], ids=["clean", "broken"])
def test_verify_writes_junit(download: Path, tmp_path: Path, gate: Gate, broken: bool) -> None:
    if broken:
        (download / "notes.txt").write_text("copied in after promotion\n")
    junit = tmp_path / "ci" / "verify.xml"
    code, _, err = gate("verify", str(download), "--junit-xml", str(junit))
    assert code == (1 if broken else 0), err
    assert junit.is_file(), err
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert any((c.get("name") or "").startswith("PG101") for c in cases)
    failures = {f.get("type") for f in root.iter("failure")}
    assert failures == ({"PG103"} if broken else set())
    assert not list(root.iter("error"))
