"""``python -m benchmarks run [--size S|M|L|XL ...] [--runs N] [--work DIR] [--out FILE]``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.generate import SIZES
from benchmarks.run import bench, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="build the repositories (once) and measure")
    run.add_argument("--size", action="append", choices=list(SIZES), help="default: S and M")
    run.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    run.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "promote-gate-bench",
        help="where the repositories are built and kept between runs",
    )
    run.add_argument("--out", type=Path, help="write the Markdown table here (else stdout)")
    args = parser.parse_args(argv)
    sizes = args.size or ["S", "M"]
    results = {}
    for size in sizes:
        print(f"benchmarks: size {size} ...", file=sys.stderr)
        results[size] = bench(SIZES[size], args.work, args.runs)
    text = render(results, args.runs)
    if args.out:
        args.out.write_text(text + "\n")
        print(f"benchmarks: written to {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
