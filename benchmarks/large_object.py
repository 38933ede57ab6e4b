"""A large promoted model read from an S3 remote (issue 21): peak memory of the check.

The demo project (``promote-gate demo``'s), v1 promoted; its DVC remote an S3 bucket on
moto's server on the loopback (tests/remote_servers.py, authentication on). For each size, a
copy of it releases v2 whose promoted outputs also hold a file of that many random bytes
(a stage writes it; size 0: the demo's own v2), ``dvc push``es everything to S3, and a fresh
``git clone`` (no DVC cache, ``require_pushed``, as CI runs it) runs
``promote-gate check --rev HEAD --base <v1>``: its wall time, CPU time, peak RSS
(``os.wait4``: the check's own process) and exit code, and the gate's own note of what it
read from the remote. Its peer: the same object read by s3fs (DVC's S3 client, the same
50 MiB read-ahead blocks) in 1 MiB reads, nothing hashed — the remote's own share of the
time. Nothing is asserted: the numbers are for RESULTS.md.

    python -m benchmarks.large_object [--size 0 --size 2G ...] [--runs N] [--work DIR]

Everything it makes (the repositories, moto's objects: TMPDIR points there) is in one
temporary directory, removed at the end with moto's process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from remote_servers import moto_s3  # type: ignore[import-not-found, unused-ignore]

from promote_gate.commands.demo import build_project, release_v2
from promote_gate.commands.demo_steps import run_tool
from promote_gate.commands.promote import promote

EXPORT = """\
import os, sys
size, chunk = int(sys.argv[1]), 64 * 2**20
with open("models/weights.bin", "wb") as f:
    for start in range(0, size, chunk):
        f.write(os.urandom(min(chunk, size - start)))
"""
# the peer: argv endpoint, bucket/key
RAW_READ = """\
import sys, s3fs
with s3fs.S3FileSystem(endpoint_url=sys.argv[1]).open(sys.argv[2], "rb") as f:
    while f.read(2**20):
        pass
"""
UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}


def parse_size(text: str) -> int:
    unit = UNITS.get(text[-1:].upper(), 1)
    return int(float(text.rstrip("kKmMgG")) * unit)


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
    raise AssertionError


def release(repo: Path, size: int) -> None:
    """v2 on top of v1: the demo's retrain, plus (``size`` > 0) a promoted ``size``-byte file."""
    if size:
        (repo / "src/export.py").write_text(EXPORT)
        with (repo / "dvc.yaml").open("a") as f:
            f.write(
                f"  export:\n    cmd: python3 src/export.py {size}\n"
                "    deps: [src/export.py, models/model.json]\n    outs: [models/weights.bin]\n"
            )
        config = repo / ".promote-gate.yaml"
        config.write_text(
            config.read_text().replace(
                "outputs: [models/model.json]", "outputs: [models/model.json, models/weights.bin]"
            )
        )
        run_tool(repo, "git", "add", "-A")
    release_v2(repo, lr="0.1")
    run_tool(repo, "dvc", "push", "-q")


def measure(argv: list[str], cwd: Path, out: Path) -> tuple[float, float, float, int]:
    """Wall time (s), CPU time (s), peak RSS (MiB) and exit code of one run of ``argv``."""
    start = time.perf_counter()
    with out.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_object")
    parser.add_argument("--size", action="append", help="e.g. 0, 256M, 2G (default: 0 and 2G)")
    parser.add_argument("--runs", type=int, default=3, help="checks per size (median wall)")
    parser.add_argument("--work", type=Path, help="where the temporary directory is made")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.size or ["0", "2G"]]
    top = Path(tempfile.mkdtemp(prefix="pg-large-", dir=args.work)).resolve()
    empty = top / "aws-empty"
    empty.write_text("")
    (top / "tmp").mkdir()
    (top / "home").mkdir()
    for key in ("AWS_PROFILE", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        os.environ.pop(key, None)
    os.environ.update(
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(top / "dvc-site"),
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        HOME=str(top / "home"),  # the gate's hash cache, git's and DVC's user config
        TMPDIR=str(top / "tmp"),  # moto keeps each object in a temporary file
    )
    rows = []
    try:
        with moto_s3(top) as s3:
            os.environ.update(s3.env())
            s3.client().create_bucket(Bucket="models")  # type: ignore[attr-defined, unused-ignore]
            repo = top / "repo"
            build_project(repo)
            run_tool(repo, "dvc", "remote", "modify", "storage", "url", "s3://models/store")
            run_tool(repo, "dvc", "remote", "modify", "storage", "endpointurl", s3.endpoint)
            promote(str(repo), "v1", [])
            with (repo / ".promote-gate.yaml").open("a") as f:
                f.write("require_pushed: true\n")
            run_tool(repo, "git", "add", "-A")
            run_tool(repo, "git", "commit", "-q", "-m", "Promote v1; S3 remote; require_pushed")
            run_tool(repo, "dvc", "push", "-q")
            base = run_tool(repo, "git", "rev-parse", "HEAD").strip()
            for size in sizes:
                copy = top / f"v2-{size}"
                shutil.copytree(repo, copy, symlinks=True)
                started = time.perf_counter()
                release(copy, size)
                made = time.perf_counter() - started
                clone = top / f"clone-{size}"
                run_tool(top, "git", "clone", "-q", str(copy), str(clone))
                check = [sys.executable, "-m", "promote_gate", "check", "--rev", "HEAD"]
                check += ["--base", base]
                lock = yaml.safe_load((copy / "dvc.lock").read_text())
                md5 = lock["stages"]["train"]["outs"][0]["md5"]
                if size:
                    md5 = lock["stages"]["export"]["outs"][0]["md5"]
                key = f"models/store/files/md5/{md5[:2]}/{md5[2:]}"
                raw = [sys.executable, "-c", RAW_READ, s3.endpoint, key]
                cases = {"check": check, "raw": raw}
                runs: dict[str, list[tuple[float, float, float, int]]] = {"check": [], "raw": []}
                for _ in range(args.runs):  # alternating, so that drift hits both alike
                    for name, command in cases.items():
                        runs[name].append(measure(command, clone, top / f"{name}-{size}.log"))
                log = (top / f"check-{size}.log").read_text()
                note = next((ln.strip() for ln in log.splitlines() if "read " in ln), "")
                print(f"size {human(size)}: v2 made and pushed in {made:.0f} s; {note}",
                      file=sys.stderr)  # fmt: skip
                for name, label in (("check", "promote-gate check"), ("raw", "s3fs read")):
                    timings = runs[name]
                    rows.append((
                        label,
                        size,
                        max(r[2] for r in timings),
                        statistics.median(r[0] for r in timings),
                        statistics.median(r[1] for r in timings),
                        sorted({r[3] for r in timings}),
                    ))  # fmt: skip
                shutil.rmtree(copy)
                shutil.rmtree(clone)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f"{args.runs} run(s) per size; wall and CPU: medians; peak RSS: the largest\n")
    print("| command | promoted file | peak RSS | wall time | CPU time | throughput | exit |")
    print("|---|---|---:|---:|---:|---:|---|")
    for label, size, rss, wall, cpu, codes in rows:
        rate = f"{human(size / wall)}/s" if size else ""
        what = human(size) if size else "none (the demo's v2)"
        codes_text = ", ".join(map(str, codes))
        print(
            f"| {label} | {what} | {rss:.0f} MiB | {wall:.1f} s | {cpu:.1f} s | {rate} | {codes_text} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
