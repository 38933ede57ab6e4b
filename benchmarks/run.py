"""Run each promote-gate command beside its peer, alternating, in one sitting; report medians,
ratios and peak RSS. Nothing here asserts a time: the numbers are for RESULTS.md."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.generate import SIZES, Size, build, sh
from benchmarks.remote import RemoteCases

PG = [sys.executable, "-m", "promote_gate"]
# as a user runs them: bytecode written and used (a sandbox may switch it off)
ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith("GIT_") and k != "PYTHONDONTWRITEBYTECODE"
} | {"DVC_NO_ANALYTICS": "1"}
DVC = [sys.executable, "-m", "dvc"]


@dataclass(frozen=True)
class Timing:
    label: str
    median: float
    rss_mb: float
    codes: tuple[int, ...]


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(argv: list[str], cwd: Path, stdin: str | None = None) -> tuple[float, float, int]:
    """Wall time, peak RSS (MiB) and exit code of one run. The peak is the command's own as
    GNU time (``%M``) reports it: a child of this Python inherits its high-water mark through
    vfork and exec, so ``wait4`` here would show every command at least as large as this
    process has been; one of the small ``time`` process does not. Without GNU time, the
    ``wait4`` figure, an upper bound."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rss"
        wrapped = [GNU_TIME, "-f", "%M", "-o", str(out), "--", *argv] if GNU_TIME else argv
        start = time.perf_counter()
        proc = subprocess.Popen(
            wrapped,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        # GNU time's last line is the figure (a line before it may say the exit status)
        kib = int(out.read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return elapsed, kib / 1024, proc.returncode


def compare(
    runs: int, cases: dict[str, tuple[list[str], Path, str | None]], before: Callable[[], None]
) -> list[Timing]:
    """Run every case once per round, in turn (so drift hits all alike); medians."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    rss: dict[str, float] = dict.fromkeys(cases, 0.0)
    codes: dict[str, list[int]] = {k: [] for k in cases}
    for _ in range(runs):
        for label, (argv, cwd, stdin) in cases.items():
            before()
            elapsed, peak, code = measure(argv, cwd, stdin)
            times[label].append(elapsed)
            rss[label] = max(rss[label], peak)
            codes[label].append(code)
    return [
        Timing(k, statistics.median(times[k]), rss[k], tuple(sorted(set(codes[k])))) for k in cases
    ]


def _cold_cache() -> None:
    """The hash cache emptied (the page cache stays warm): a cold content verification."""
    from promote_gate.hashcache import default_path

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(default_path() + suffix):
            os.remove(default_path() + suffix)


def _nothing() -> None:
    return None


Case = tuple[list[str], Path, str | None]


@dataclass(frozen=True)
class Group:
    timings: list[Timing]
    pairs: dict[str, str]  # subject -> its peer


def bench(size: Size, work: Path, runs: int) -> dict[str, Group]:
    repo = build(size, work / size.name)
    model = repo / "models" / "model.bin"
    bundle = f"publish/v{size.releases}"
    base = sh(repo, "git", "rev-parse", "main").strip()
    nxt = sh(repo, "git", "rev-parse", "bench-v-next").strip()
    sh(repo, "git", "commit", "-q", "--allow-empty", "-m", "bench: a push touching no bundle")
    noop = sh(repo, "git", "rev-parse", "HEAD").strip()
    sh(repo, "git", "reset", "-q", "--hard", base)
    line = "refs/heads/main {} refs/heads/main " + base + "\n"
    # a GTO registration of the newest bundle on main (issue 23), and a tag GTO does not read
    gto_tag = f"model@v{size.releases}.0.0"
    sh(repo, "git", "tag", "-f", "-a", "-m", "bench", gto_tag, base)
    tag_object = sh(repo, "git", "rev-parse", f"refs/tags/{gto_tag}").strip()
    zero = "0" * 40
    gto_line = f"refs/tags/{gto_tag} {tag_object} refs/tags/{gto_tag} {zero}\n"
    plain_line = f"refs/tags/v9.9.9 {base} refs/tags/v9.9.9 {zero}\n"
    hook = [*PG, "hook", "pre-push", "origin", str(work / size.name / "origin.git")]
    # the hooks as `promote-gate install` writes them (python -S on the quick path), and a
    # commit staging a file the gate does not read
    sh(repo, *PG, "install")
    hooks = repo / ".git" / "hooks"
    installed_push = [str(hooks / "pre-push"), "origin", str(work / size.name / "origin.git")]
    (repo / "NOTES.md").write_text("a commit that stages no bundle\n")
    sh(repo, "git", "add", "NOTES.md")
    # warm the hash cache and DVC's own state once
    for argv in ([*PG, "check"], [*DVC, "status"], [*PG, "verify", bundle]):
        measure(argv, repo)
    verify = ([*PG, "verify", bundle], repo, None)
    sums = (["sha256sum", "-c", "--quiet", "SHA256SUMS"], repo / bundle, None)
    private, public = _release_key(work / size.name)
    version = bundle.rsplit("/", 1)[1]
    sign = ([*PG, "sign", version, "--key", str(private)], repo, None)
    # verify --key checks a signed copy of the bundle: a signature left in the repository
    # would be an edit of the released bundle (PG501: the policy trusts no key) for the
    # groups before the signing ones; `sign` itself runs in its own groups, after them
    measure(sign[0], repo)
    signed = work / size.name / "signed"
    shutil.rmtree(signed, ignore_errors=True)
    shutil.copytree(repo / bundle, signed / version, symlinks=True)
    (repo / bundle / "bundle.sig").unlink()
    verify_key = ([*PG, "verify", version, "--key", str(public)], signed, None)
    measure(verify_key[0], signed)  # the copy's files into the hash cache
    names = [
        line.split("  ", 1)[1] for line in (repo / bundle / "SHA256SUMS").read_text().splitlines()
    ]
    sha_files = (["sha256sum", "SHA256SUMS", *names], repo / bundle, None)
    signed_sums = (["sha256sum", "-c", "--quiet", "SHA256SUMS"], signed / version, None)
    digest = "import sys; from promote_gate.hashing import digest_file; digest_file(sys.argv[1])"
    groups: list[tuple[str, dict[str, Case], Callable[[], None], dict[str, str]]] = [
        (
            "check (working tree), hash cache warm",
            {
                "promote-gate check": ([*PG, "check"], repo, None),
                "dvc status": ([*DVC, "status"], repo, None),
                "dvc data status": ([*DVC, "data", "status"], repo, None),
            },
            _nothing,
            {"promote-gate check": "dvc status"},
        ),
        (
            "check --rev HEAD, hash cache warm",
            {
                "promote-gate check --rev HEAD": ([*PG, "check", "--rev", "HEAD"], repo, None),
                "dvc status": ([*DVC, "status"], repo, None),
                "dvc data status": ([*DVC, "data", "status"], repo, None),
            },
            _nothing,
            {"promote-gate check --rev HEAD": "dvc status"},
        ),
        (
            "hook pre-push",
            {
                "push touching no bundle": (hook, repo, line.format(noop)),
                "push adding a bundle": (hook, repo, line.format(nxt)),
                "dvc status": ([*DVC, "status"], repo, None),
            },
            _nothing,
            {"push touching no bundle": "dvc status", "push adding a bundle": "dvc status"},
        ),
        (
            "hook pre-push of a tag (issue 23)",
            {
                "push of a GTO registration (tag and bundle judged)": (hook, repo, gto_line),
                "push of a tag GTO does not read": (hook, repo, plain_line),
                "dvc status": ([*DVC, "status"], repo, None),
            },
            _nothing,
            {
                "push of a GTO registration (tag and bundle judged)": "dvc status",
                "push of a tag GTO does not read": "dvc status",
            },
        ),
        (
            "hooks as installed (`promote-gate install`), quick path",
            {
                "pre-commit: commit staging no bundle": ([str(hooks / "pre-commit")], repo, None),
                "pre-push: push touching no bundle": (installed_push, repo, line.format(noop)),
                "git diff-index --cached HEAD": (
                    ["git", "diff-index", "--cached", "--name-only", "HEAD"],
                    repo,
                    None,
                ),
                "dvc status": ([*DVC, "status"], repo, None),
            },
            _nothing,
            {
                "pre-commit: commit staging no bundle": "dvc status",
                "pre-push: push touching no bundle": "dvc status",
            },
        ),
        (
            "verify, hash cache warm",
            {f"promote-gate verify {bundle}": verify, "sha256sum -c SHA256SUMS": sums},
            _nothing,
            {f"promote-gate verify {bundle}": "sha256sum -c SHA256SUMS"},
        ),
        (
            "cold content verification (hash cache emptied before each run; page cache warm)",
            {
                f"promote-gate verify {bundle}": verify,
                "sha256sum -c SHA256SUMS": sums,
                "promote-gate hashing the model (md5 + sha256)": (
                    [sys.executable, "-c", digest, str(model)],
                    repo,
                    None,
                ),
                "sha256sum model": (["sha256sum", str(model)], repo, None),
                "md5sum model": (["md5sum", str(model)], repo, None),
            },
            _cold_cache,
            {
                f"promote-gate verify {bundle}": "sha256sum -c SHA256SUMS",
                "promote-gate hashing the model (md5 + sha256)": "sha256sum model",
            },
        ),
        (
            "sign and verify --key (issue 22), hash cache warm",
            {
                f"promote-gate sign {version}": sign,
                "sha256sum of its files": sha_files,
                f"promote-gate verify {bundle} --key": verify_key,
                "sha256sum -c SHA256SUMS": signed_sums,
            },
            _nothing,
            {
                f"promote-gate sign {version}": "sha256sum of its files",
                f"promote-gate verify {bundle} --key": "sha256sum -c SHA256SUMS",
            },
        ),
        (
            "sign and verify --key (issue 22), hash cache emptied before each run",
            {
                f"promote-gate sign {version}": sign,
                "sha256sum of its files": sha_files,
                f"promote-gate verify {bundle} --key": verify_key,
                "sha256sum -c SHA256SUMS": signed_sums,
            },
            _cold_cache,
            {
                f"promote-gate sign {version}": "sha256sum of its files",
                f"promote-gate verify {bundle} --key": "sha256sum -c SHA256SUMS",
            },
        ),
        (
            "start-up",
            {"promote-gate --version": ([*PG, "--version"], repo, None)},
            _nothing,
            {},
        ),
    ]
    remote = RemoteCases(repo, work / size.name)
    groups.append(
        (
            "check --rev HEAD in a clone without a DVC cache, by its DVC remote (issue 21)",
            remote.cases,
            _nothing,
            remote.pairs,
        )
    )
    try:
        return {
            title: Group(compare(runs, cases, before), pairs)
            for title, cases, before, pairs in groups
        }
    finally:
        remote.close()


def _release_key(work: Path) -> tuple[Path, Path]:
    """An EC P-256 key pair for the signing rows: (private PEM, public PEM)."""
    from promote_gate.signing import new_key_pair

    private, public = work / "release.key", work / "release.pub"
    for old in (private, public):  # a run in a kept --work made them before
        old.unlink(missing_ok=True)
    new_key_pair(str(private), str(public))
    return private, public


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        dvc_version = subprocess.run(
            [*DVC, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        dvc_version = "?"
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, DVC {dvc_version}"
    )


def render(all_results: dict[str, dict[str, Group]], runs: int) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}.",
        "",
        (
            f"Medians of {runs} runs per command, the commands of a group alternating in one sitting "
            "(`python -m benchmarks run`); each ratio is to the peer named beside it, measured in "
            "the same rounds. Peak RSS is the command's own "
            + (
                "(GNU `time`'s `%M`)."
                if GNU_TIME
                else "(`wait4`: an upper bound, at least this benchmark's own peak)."
            )
        ),
        "",
    ]
    for size, groups in all_results.items():
        spec = SIZES[size]
        lines += [
            (
                f"## {size}: {spec.files:,} files of {spec.file_bytes:,} B in data/raw, a "
                f"{spec.model_bytes:,} B model, {spec.releases} release(s), {spec.history:,} extra "
                "commits"
            ),
            "",
        ]
        for title, group in groups.items():
            by_label = {t.label: t for t in group.timings}
            lines += [f"### {title}", "", "| command | median | ratio | peak RSS | exit |"]
            lines += ["|---|---:|---|---:|---|"]
            for t in group.timings:
                peer = group.pairs.get(t.label)
                ratio = f"{t.median / by_label[peer].median:.2f}x {peer}" if peer else ""
                lines.append(
                    f"| {t.label} | {t.median:.3f} s | {ratio} | {t.rss_mb:.0f} MiB | "
                    f"{','.join(map(str, t.codes))} |"
                )
            lines.append("")
    return "\n".join(lines)
