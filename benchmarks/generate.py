"""Benchmark repositories, built for real: ``git init``, ``dvc init``, ``dvc add``, ``dvc repro``,
``promote-gate promote``, a bare origin and a local-directory DVC remote beside them.

A size sets the data (``data/raw``: N files of M bytes, added with ``dvc add``), the model the
``train`` stage writes (promoted in every release), the number of released versions and the
length of the git history. Each repository also has ``bench-v-next``: one more release
committed on top and not pushed, the push the hook judges when "a bundle is added".
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Size:
    name: str
    files: int
    file_bytes: int
    model_bytes: int
    releases: int = 1
    history: int = 0  # extra commits (not touching the pipeline) before the last release


SIZES = {
    "S": Size("S", files=10, file_bytes=1_000_000, model_bytes=1_000_000),
    "M": Size("M", files=1_000, file_bytes=300_000, model_bytes=300_000_000),
    "L": Size(
        "L", files=20_000, file_bytes=10_000, model_bytes=50_000_000, releases=20, history=1_000
    ),
    "XL": Size("XL", files=10, file_bytes=100_000, model_bytes=2_000_000_000),
}

PREPARE = """\
import os
os.makedirs("data", exist_ok=True)
names = sorted(os.listdir("data/raw"))
total = sum(os.path.getsize(os.path.join("data/raw", n)) for n in names)
open("data/summary.txt", "w").write(f"{len(names)} {total}\\n")
"""
# the model: deterministic bytes of the configured size, seeded by the params
TRAIN = """\
import os, random, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rng = random.Random(p["seed"])
os.makedirs("models", exist_ok=True)
left = p["bytes"]
with open("models/model.bin", "wb") as f:
    block = rng.randbytes(1 << 20)
    while left > 0:
        f.write(block[: min(left, len(block))])
        left -= len(block)
        block = block[1:] + block[:1]
"""
EVALUATE = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
size = os.path.getsize("models/model.bin")
os.makedirs("eval", exist_ok=True)
json.dump({"acc": round(0.8 + p["seed"] / 1000, 4), "bytes": size}, open("eval/metrics.json", "w"))
"""
DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, data/raw]
    outs: [data/summary.txt]
  train:
    cmd: python train.py
    deps: [train.py, data/summary.txt]
    params: [train.seed, train.bytes]
    outs: [models/model.bin]
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, models/model.bin]
    params: [train.seed]
    metrics:
      - eval/metrics.json:
          cache: false
"""
# registry.artifact: each promote points dvc.yaml's artifact at its bundle (issue 23), so a
# GTO registration of the newest bundle passes
CONFIG = "outputs: [models/model.bin]\ndvc_threshold_bytes: 1024\nregistry: {artifact: model}\n"
BUILT = "built by the generator of issue 23\n"  # a repository built by an older one is rebuilt


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env | {
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }


def sh(cwd: Path, *argv: str) -> str:
    cmd = [sys.executable, "-m", "dvc", *argv[1:]] if argv[0] == "dvc" else list(argv)
    if argv[0] == "promote-gate":
        cmd = [sys.executable, "-m", "promote_gate", *argv[1:]]
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def _params(seed: int, size: Size) -> str:
    return f"train:\n  seed: {seed}\n  bytes: {size.model_bytes}\n"


def _release(repo: Path, size: Size, number: int) -> None:
    (repo / "params.yaml").write_text(_params(number, size))
    sh(repo, "dvc", "repro", "-q")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", f"train seed {number}")
    sh(repo, "promote-gate", "promote", f"v{number}")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", f"Promote v{number}")


def build(size: Size, top: Path) -> Path:
    """The repository for ``size`` under ``top`` (``top/repo``), reused when already built."""
    repo = top / "repo"
    marker = top / "built"
    if marker.exists() and marker.read_text() == BUILT:
        return repo
    shutil.rmtree(top, ignore_errors=True)
    repo.mkdir(parents=True)
    rng = random.Random(7)  # noqa: S311 - reproducible benchmark data
    raw = repo / "data" / "raw"
    raw.mkdir(parents=True)
    for i in range(size.files):
        (raw / f"part-{i:05d}.bin").write_bytes(rng.randbytes(size.file_bytes))
    for name, text in {
        "prepare.py": PREPARE,
        "train.py": TRAIN,
        "evaluate.py": EVALUATE,
        "dvc.yaml": DVC_YAML,
        ".promote-gate.yaml": CONFIG,
    }.items():
        (repo / name).write_text(text)
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.autostage", "false")
    sh(repo, "dvc", "remote", "add", "-q", "-d", "storage", str(top / "dvc-remote"))
    sh(repo, "dvc", "add", "-q", "data/raw")
    for number in range(1, size.releases + 1):
        if number == size.releases and size.history:
            # history that does not touch the pipeline, before the newest release
            for i in range(size.history):
                (repo / "NOTES.md").write_text(f"note {i}\n")
                sh(repo, "git", "add", "NOTES.md")
                sh(repo, "git", "commit", "-q", "-m", f"note {i}")
        _release(repo, size, number)
    sh(repo, "dvc", "push", "-q")
    sh(top, "git", "init", "-q", "--bare", "origin.git")
    sh(repo, "git", "remote", "add", "origin", str(top / "origin.git"))
    sh(repo, "git", "push", "-q", "origin", "main")
    sh(repo, "git", "fetch", "-q", "origin")
    # one more release, committed and not pushed: what the hook judges when a bundle is added
    sh(repo, "git", "checkout", "-q", "-b", "bench-v-next")
    _release(repo, size, size.releases + 1)
    sh(repo, "git", "checkout", "-q", "main")
    # git leaves the new bundle's DVC-tracked (ignored) file behind: not part of main
    shutil.rmtree(repo / "publish" / f"v{size.releases + 1}", ignore_errors=True)
    sh(repo, "dvc", "checkout", "-q")
    marker.write_text(BUILT)
    return repo
