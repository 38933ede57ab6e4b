"""``promote-gate install`` and ``uninstall`` beside a hook that was there and the pre-commit
framework, in every order, through real ``git commit``, ``git merge`` and ``git push`` (a
bare remote on disk) and the real ``pre-commit`` (``repo: local`` hooks: no network); and the
installed hooks when the Python they name is gone."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import venv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Gate, commit_all, run  # type: ignore[import-not-found, unused-ignore]

import promote_gate
from promote_gate.commands.install import launch, marker

PROJECT = Path(__file__).resolve().parents[2]
V1 = "publish/v1"
KINDS = ("pre-commit", "pre-merge-commit", "pre-push")
# Guards, never timings: a hook chain that runs itself forks until the system cannot (and as
# root `ulimit -u` does not stop it). A git command whose process group grows past
# MAX_PROCESSES, or that outlives HANG seconds, is killed with its whole group and fails.
MAX_PROCESSES = 100
HANG = 300


def _group_size(pgid: int) -> int:
    """How many processes are in the group (0 where /proc cannot tell: the timeout guards)."""
    count = 0
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fobj:
                fields = fobj.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        count += fields[2] == str(pgid)  # state, ppid, pgrp
    return count


def _kill_group(pgid: int) -> None:
    for _ in range(1000):  # until no member is left (a member may be forking as it dies)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def bounded(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in a process group of its own, guarded as above."""
    deadline = time.monotonic() + HANG
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        while True:
            try:
                out, err = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                size = _group_size(proc.pid)
                if size > MAX_PROCESSES or time.monotonic() > deadline:
                    _kill_group(proc.pid)
                    proc.communicate()
                    pytest.fail(
                        f"{' '.join(argv)}: {size} processes, killed: a hook chain that loops?"
                    )
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


FOREIGN = """#!/bin/sh
echo "foreign {kind}${{1:+ $1}}" >> {marks}
{stdin}
"""


@dataclass
class Clone:
    """A repository with its main pushed to a bare origin (its upstream) and a committed
    pre-commit config whose local hooks, one per kind, write a line to ``marks``."""

    repo: Path
    marks: Path
    env: dict[str, str]
    gate: Gate

    @property
    def hooks(self) -> Path:
        return self.repo / ".git" / "hooks"

    def lines(self) -> list[str]:
        return self.marks.read_text().splitlines() if self.marks.exists() else []

    def git(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return bounded(["git", *argv], self.repo, self.env)

    def pre_commit(self, *argv: str) -> None:
        types = [f"--hook-type={kind}" for kind in KINDS]
        done = bounded([sys.executable, "-m", "pre_commit", *argv, *types], self.repo, self.env)
        assert done.returncode == 0, done.stdout + done.stderr

    def step(self, name: str) -> None:
        """One of: promote-gate install / uninstall, pre-commit install / uninstall."""
        if name in {"pg", "pg-un"}:
            command = "install" if name == "pg" else "uninstall"
            code, out, err = self.gate(command, "--repo", str(self.repo))
            assert code == 0, out + err
        else:
            self.pre_commit("install" if name == "pc" else "uninstall")

    def ran(self, action: list[str]) -> tuple[subprocess.CompletedProcess[str], Counter[str]]:
        """Run a git command; what it printed, and what the hooks wrote to ``marks`` (a ref
        line a pre-push hook got as ``ref <remote ref>``)."""
        before = len(self.lines())
        done = self.git(*action)
        wrote = self.lines()[before:]
        return done, Counter(f"ref {w.split()[2]}" if w.startswith("refs/") else w for w in wrote)


@pytest.fixture
def clone(repo: Path, tmp_path: Path, gate: Gate) -> Clone:
    run(tmp_path, "git", "init", "-q", "--bare", "origin.git")
    run(repo, "git", "remote", "add", "origin", str(tmp_path / "origin.git"))
    marks = tmp_path / "marks"
    hooks = "\n".join(
        f"  - id: mark-{kind}\n    name: mark {kind}\n    language: system\n"
        f"    entry: sh -c 'echo framework {kind} >> {marks}'\n"
        f"    pass_filenames: false\n    always_run: true\n    stages: [{kind}]"
        for kind in KINDS
    )
    (repo / ".pre-commit-config.yaml").write_text(f"repos:\n- repo: local\n  hooks:\n{hooks}\n")
    commit_all(repo, "pre-commit for everyone")
    run(repo, "git", "push", "-q", "-u", "origin", "main")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    return Clone(repo, marks, env, gate)


def add_foreign_hooks(clone: Clone) -> dict[str, bytes]:
    """A hook of each kind that appends a line to ``marks`` (pre-push: and the refs it got)."""
    for kind in KINDS:
        stdin = f"cat >> {clone.marks}" if kind == "pre-push" else ""
        hook = clone.hooks / kind
        hook.write_text(FOREIGN.format(kind=kind, marks=clone.marks, stdin=stdin))
        hook.chmod(0o755)
    return {kind: (clone.hooks / kind).read_bytes() for kind in KINDS}


def listing(hooks: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mode)
        for p in hooks.iterdir()
        if not p.name.endswith(".sample")
    }


def touch_dvc_yaml(clone: Clone, note: str) -> None:
    """A change the gate judges in full (and passes): a comment in dvc.yaml, staged."""
    dvc_yaml = clone.repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + f"# {note}\n")
    run(clone.repo, "git", "add", "dvc.yaml")


def assert_chain(clone: Clone, *, gate: bool, framework: bool, foreign: bool) -> None:
    """A commit and a push succeed; each hook there runs exactly once: the foreign one, the
    framework's, promote-gate (its verdict printed once); promote-gate refuses a bad commit
    once. Nothing loops (every git command is bounded)."""
    each = {"foreign": foreign, "framework": framework}

    def once(kind: str) -> Counter[str]:
        return Counter({f"{who} {kind}": 1 for who, there in each.items() if there})

    touch_dvc_yaml(clone, "judged in full")
    done, marks = clone.ran(["commit", "-q", "-m", "a change the gate reads"])
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert marks == once("pre-commit"), said
    assert said.count("promote-gate passed") == (1 if gate else 0), said

    done, marks = clone.ran(["push", "origin", "main"])
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    want = Counter({"framework pre-push": 1} if framework else {})
    if foreign:  # once, with the arguments and the refs git gives a pre-push hook
        want += Counter({"foreign pre-push origin": 1, "ref refs/heads/main": 1})
        (ref,) = (line for line in clone.lines() if line.startswith("refs/heads/main "))
        assert ref.split()[1] == run(clone.repo, "git", "rev-parse", "HEAD").strip()
    assert marks == want, said
    assert said.count("promote-gate passed") == (1 if gate else 0), said

    if gate:
        head = run(clone.repo, "git", "rev-parse", "HEAD")
        released = clone.repo / V1 / "report.md"
        released.write_text(released.read_text() + "\nedited after release\n")
        run(clone.repo, "git", "add", str(released))
        done, marks = clone.ran(["commit", "-q", "-m", "edit a released bundle"])
        said = done.stdout + done.stderr
        assert done.returncode != 0, said
        assert said.count("commit refused") == 1, said
        assert "PG501 released-version-mutated" in said
        assert marks == once("pre-commit"), said
        assert run(clone.repo, "git", "rev-parse", "HEAD") == head


SEQUENCES = [
    ("pg", "pc"),
    ("pc", "pg"),
    ("pg", "pc", "pg", "pc"),
    ("pc", "pg", "pc", "pg"),
    ("pg", "pc", "pc-un"),
    ("pg", "pc", "pg-un"),
    ("pc", "pg", "pc-un"),
    ("pc", "pg", "pg-un"),
    ("pg", "pc", "pg", "pc", "pc-un"),
    ("pg", "pc", "pg", "pc", "pg-un"),
    ("pg", "pc", "pc-un", "pg-un"),
    ("pg", "pc", "pg-un", "pc-un"),
    ("pc", "pg", "pc-un", "pg-un"),
    ("pc", "pg", "pg-un", "pc-un"),
]


def _last(sequence: tuple[str, ...], tool: str) -> bool:
    steps = [s for s in sequence if s.startswith(tool)]
    return bool(steps) and steps[-1] == tool


@pytest.mark.slow
@pytest.mark.parametrize("sequence", SEQUENCES, ids="-".join)
def test_every_order_leaves_one_working_chain(clone: Clone, sequence: tuple[str, ...]) -> None:
    """promote-gate install (pg), pre-commit install (pc) and their uninstalls (-un), in
    this order, over a hook of each kind that was there first: every hook that is installed
    at the end runs once per commit and push; what is uninstalled no longer runs."""
    original = add_foreign_hooks(clone)
    for name in sequence:
        clone.step(name)
    assert_chain(clone, gate=_last(sequence, "pg"), framework=_last(sequence, "pc"), foreign=True)
    if not _last(sequence, "pg") and not _last(sequence, "pc"):
        # both uninstalled: exactly what was there before, nothing left beside it
        assert {k: v[0] for k, v in listing(clone.hooks).items()} == original


@pytest.mark.slow
@pytest.mark.parametrize(
    "sequence", [("pg", "pc"), ("pc", "pg"), ("pc", "pg", "pg-un")], ids="-".join
)
def test_every_order_without_a_hook_there_first(clone: Clone, sequence: tuple[str, ...]) -> None:
    for name in sequence:
        clone.step(name)
    assert_chain(clone, gate=_last(sequence, "pg"), framework=_last(sequence, "pc"), foreign=False)
    assert not any(p.name.endswith(".pre-promote-gate") for p in clone.hooks.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("sequence", [("pg", "pc"), ("pc", "pg")], ids="-".join)
def test_a_merge_commit_runs_each_hook_once(clone: Clone, sequence: tuple[str, ...]) -> None:
    add_foreign_hooks(clone)
    for name in sequence:
        clone.step(name)
    run(clone.repo, "git", "checkout", "-q", "-b", "topic")
    touch_dvc_yaml(clone, "from a topic branch")
    run(clone.repo, "git", "commit", "-q", "--no-verify", "-m", "topic")
    run(clone.repo, "git", "checkout", "-q", "main")
    (clone.repo / "NOTES.md").write_text("on main meanwhile\n")
    run(clone.repo, "git", "add", "NOTES.md")
    run(clone.repo, "git", "commit", "-q", "--no-verify", "-m", "main moves on")
    done, marks = clone.ran(["merge", "-q", "--no-ff", "-m", "merge topic", "topic"])
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert marks == Counter({"foreign pre-merge-commit": 1, "framework pre-merge-commit": 1})
    assert said.count("promote-gate: a merge commit") == 1, said


# --------------------------------------------------------------------------- the previous layout

# What the previous release's `promote-gate install` wrote: the hook that was there moved
# to <kind>.legacy and chained from it -- a loop once pre-commit moved this one there. (Its
# pre-push hook also passed the refs on: the layout, not that, is what install recognises.)
OLD_HOOK = """#!/bin/sh
{marker} (written by `promote-gate install`)
# A {kind} hook that was here before is kept as {kind}.legacy and runs first.
here="$(dirname "$0")"
if [ -x "$here/{kind}.legacy" ]; then
    "$here/{kind}.legacy" "$@" || exit $?
fi
exec {python} -S -c {launch} "$@"
"""


def old_hook(hooks: Path, kind: str) -> None:
    path = hooks / kind
    path.write_text(
        OLD_HOOK.format(
            marker=marker(kind),
            kind=kind,
            python=shlex.quote(sys.executable),
            launch=shlex.quote(launch(kind, [str(PROJECT)])),
        )
    )
    path.chmod(0o755)


@pytest.mark.slow
def test_install_mends_the_loop_the_previous_release_made_with_pre_commit(clone: Clone) -> None:
    """The report: the previous hook installed, then `pre-commit install` (which moved it to
    .legacy, replacing the foreign hook kept there): the next commit forked until it could
    not. Installing this release mends it: pre-commit's hooks and promote-gate, once each."""
    add_foreign_hooks(clone)
    for kind in ("pre-commit", "pre-push"):
        os.replace(clone.hooks / kind, clone.hooks / f"{kind}.legacy")
        old_hook(clone.hooks, kind)
    os.unlink(clone.hooks / "pre-merge-commit")
    clone.pre_commit("install")
    assert "hook-impl" in (clone.hooks / "pre-commit").read_text()
    assert "here/pre-commit.legacy" in (clone.hooks / "pre-commit.legacy").read_text()
    clone.step("pg")
    # the foreign hooks were lost to pre-commit's move before this release: nothing to chain
    assert_chain(clone, gate=True, framework=True, foreign=False)


@pytest.mark.slow
def test_install_mends_the_previous_release_installed_after_pre_commit(clone: Clone) -> None:
    """The reverse order: pre-commit first, then the previous release, which moved
    pre-commit's script to .legacy (pre-commit then died: "installed in migration mode").
    Installing this release puts pre-commit's script back, and itself beside it."""
    clone.pre_commit("install")
    for kind in KINDS:
        os.replace(clone.hooks / kind, clone.hooks / f"{kind}.legacy")
        old_hook(clone.hooks, kind)
    code, out, _ = clone.gate("install", "--repo", str(clone.repo))
    assert code == 0
    assert out.count("moved pre-commit's script back") == 3, out
    assert "hook-impl" in (clone.hooks / "pre-commit").read_text()
    assert marker("pre-commit") in (clone.hooks / "pre-commit.legacy").read_text()
    assert_chain(clone, gate=True, framework=True, foreign=False)


def test_install_moves_the_previous_releases_kept_hook_to_its_own_name(
    clone: Clone, tmp_path: Path
) -> None:
    """The previous release kept a foreign hook as .legacy: it is kept as .pre-promote-gate
    now, and still runs first, once."""
    original = add_foreign_hooks(clone)
    for kind in KINDS:
        os.replace(clone.hooks / kind, clone.hooks / f"{kind}.legacy")
        old_hook(clone.hooks, kind)
    code, out, _ = clone.gate("install", "--repo", str(clone.repo))
    assert code == 0
    assert out.count("kept as") == 3, out
    for kind in KINDS:
        assert (clone.hooks / f"{kind}.pre-promote-gate").read_bytes() == original[kind]
        assert not (clone.hooks / f"{kind}.legacy").exists()
    assert_chain(clone, gate=True, framework=False, foreign=True)


# --------------------------------------------------------------------------- uninstall


def test_uninstall_restores_exactly_what_was_there(clone: Clone) -> None:
    add_foreign_hooks(clone)
    (clone.hooks / "pre-merge-commit").unlink()  # none of this kind: none comes back
    before = listing(clone.hooks)
    code, out, _ = clone.gate("install", "--repo", str(clone.repo))
    assert code == 0
    assert listing(clone.hooks) != before

    code, out, _ = clone.gate("uninstall", "--repo", str(clone.repo))
    assert code == 0
    assert out.count("removed") == 3, out
    assert out.count("restored") == 2, out
    assert listing(clone.hooks) == before  # same names, bytes and modes

    code, out, _ = clone.gate("uninstall", "--repo", str(clone.repo))
    assert code == 0
    assert "no promote-gate pre-commit, pre-merge-commit, pre-push hook" in out
    assert "nothing to remove" in out
    assert listing(clone.hooks) == before


def test_uninstall_one_type_leaves_the_others(clone: Clone) -> None:
    clone.gate("install", "--repo", str(clone.repo))
    code, out, _ = clone.gate("uninstall", "--repo", str(clone.repo), "--hook-type", "pre-push")
    assert code == 0
    assert f"removed {clone.hooks / 'pre-push'}" in out
    assert not (clone.hooks / "pre-push").exists()
    assert marker("pre-commit") in (clone.hooks / "pre-commit").read_text()


def test_uninstall_leaves_a_hook_that_is_not_promote_gates(clone: Clone) -> None:
    original = add_foreign_hooks(clone)
    code, out, _ = clone.gate("uninstall", "--repo", str(clone.repo))
    assert code == 0
    assert "nothing to remove" in out
    assert {k: v[0] for k, v in listing(clone.hooks).items()} == original


# --------------------------------------------------------------------------- loops and refusals


def test_a_chain_that_leads_back_is_refused_not_forked(clone: Clone) -> None:
    """A kept hook that runs the hook git runs (made by hand, or by another tool): the second
    entry says so and refuses, instead of forking until the system cannot."""
    clone.gate("install", "--repo", str(clone.repo), "--hook-type", "pre-commit")
    kept = clone.hooks / "pre-commit.pre-promote-gate"
    kept.write_text('#!/bin/sh\nexec "$(dirname "$0")/pre-commit" "$@"\n')
    kept.chmod(0o755)
    head = run(clone.repo, "git", "rev-parse", "HEAD")
    touch_dvc_yaml(clone, "loop")
    done = clone.git("commit", "-q", "-m", "loop")
    assert done.returncode != 0
    assert "this pre-commit hook was started again" in done.stderr
    assert "refusing to loop" in done.stderr
    assert run(clone.repo, "git", "rev-parse", "HEAD") == head


def test_a_copy_of_promote_gates_hook_is_never_chained(clone: Clone) -> None:
    """A copy of promote-gate's own hook kept as its predecessor would run the gate twice
    (or loop): install drops it."""
    clone.gate("install", "--repo", str(clone.repo))
    shutil.copy(clone.hooks / "pre-push", clone.hooks / "pre-push.pre-promote-gate")
    code, out, _ = clone.gate("install", "--repo", str(clone.repo))
    assert code == 0
    assert "a copy of promote-gate's own hook" in out
    assert not (clone.hooks / "pre-push.pre-promote-gate").exists()


def test_a_hook_identical_to_the_one_kept_is_not_kept_twice(clone: Clone) -> None:
    """The same foreign hook written again over promote-gate's (a set-up script run twice):
    no refusal, no second copy, and it still runs once."""
    original = add_foreign_hooks(clone)
    clone.gate("install", "--repo", str(clone.repo))
    (clone.hooks / "pre-commit").write_bytes(original["pre-commit"])
    code, out, _ = clone.gate("install", "--repo", str(clone.repo))
    assert code == 0
    assert "the same as" in out
    assert (clone.hooks / "pre-commit.pre-promote-gate").read_bytes() == original["pre-commit"]
    assert marker("pre-commit") in (clone.hooks / "pre-commit").read_text()
    (clone.repo / "NOTES.md").write_text("unrelated\n")
    run(clone.repo, "git", "add", "NOTES.md")
    done, marks = clone.ran(["commit", "-q", "-m", "x"])
    assert done.returncode == 0, done.stderr
    assert marks == Counter({"foreign pre-commit": 1})


def test_the_hook_kept_is_never_a_symlink_followed(clone: Clone, tmp_path: Path) -> None:
    """A symlinked hook is moved as the link: its target is neither read nor written."""
    target = tmp_path / "elsewhere"
    target.write_text("#!/bin/sh\nexit 0\n")
    target.chmod(0o755)
    (clone.hooks / "pre-commit").symlink_to(target)
    assert clone.gate("install", "--repo", str(clone.repo))[0] == 0
    kept = clone.hooks / "pre-commit.pre-promote-gate"
    assert kept.is_symlink()
    assert os.readlink(kept) == str(target)
    assert target.read_text() == "#!/bin/sh\nexit 0\n"
    assert clone.gate("uninstall", "--repo", str(clone.repo))[0] == 0
    assert os.readlink(clone.hooks / "pre-commit") == str(target)


# --------------------------------------------------------------------------- a Python that is gone


def throwaway_python(where: Path, reach: list[str]) -> Path:
    """A virtual environment (no pip: quick) that reaches promote-gate and its dependencies
    through a .pth file only."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(where)
    python = where / "bin" / "python"
    purelib = run(
        where, str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
    )
    Path(purelib.strip(), "reach.pth").write_text("\n".join(reach) + "\n")
    return python


def site_packages() -> list[str]:
    import site

    return site.getsitepackages()


@pytest.mark.parametrize(
    ("kind", "action"),
    [("pre-commit", ["commit", "-q", "-m", "x"]), ("pre-push", ["push", "origin", "main"])],
)
def test_a_hook_whose_python_is_gone_refuses_and_says_how_to_fix(
    clone: Clone, tmp_path: Path, kind: str, action: list[str]
) -> None:
    python = throwaway_python(tmp_path / "venv", [str(PROJECT), *site_packages()])
    run(clone.repo, str(python), "-m", "promote_gate", "install", "--hook-type", kind)
    assert str(python) in (clone.hooks / kind).read_text()
    shutil.rmtree(tmp_path / "venv")  # the virtual environment deleted (or moved)

    argv = [str(clone.hooks / kind), *(["origin", "x"] if kind == "pre-push" else [])]
    hook = bounded(argv, clone.repo, clone.env)
    assert hook.returncode == 2  # could not evaluate: refused, not passed
    assert f"its Python, {python}, is gone" in hook.stderr
    assert "Traceback" not in hook.stderr
    for way_out in ("`promote-gate install` again", "`promote-gate uninstall`", "--no-verify`"):
        assert way_out in hook.stderr

    (clone.repo / "NOTES.md").write_text("unrelated\n")
    run(clone.repo, "git", "add", "NOTES.md")
    head = run(clone.repo, "git", "rev-parse", "HEAD")
    if kind == "pre-push":
        run(clone.repo, "git", "commit", "-q", "-m", "x")
    remote = run(clone.repo, "git", "rev-parse", "origin/main")
    done = clone.git(*action)
    assert done.returncode != 0
    assert "is gone" in done.stderr
    assert f"git {action[0]} --no-verify" in done.stderr
    if kind == "pre-commit":
        assert run(clone.repo, "git", "rev-parse", "HEAD") == head
    assert run(clone.repo, "git", "rev-parse", "origin/main") == remote

    # the fix it names: install again from where promote-gate is
    assert clone.gate("install", "--repo", str(clone.repo), "--hook-type", kind)[0] == 0
    done = clone.git(*action)
    assert done.returncode == 0, done.stderr


def test_a_hook_whose_python_cannot_import_promote_gate_says_so(
    clone: Clone, tmp_path: Path
) -> None:
    """The Python is there, promote-gate no longer is (uninstalled from that environment)."""
    lib = tmp_path / "lib"
    shutil.copytree(
        Path(promote_gate.__file__).parent,  # the installed one: the wheel too
        lib / "promote_gate",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    python = throwaway_python(tmp_path / "venv", [str(lib), *site_packages()])
    run(tmp_path, str(python), "-m", "promote_gate", "install", "--repo", str(clone.repo))
    assert str(lib) in (clone.hooks / "pre-commit").read_text()
    shutil.rmtree(lib / "promote_gate")

    hook = bounded([str(clone.hooks / "pre-commit")], clone.repo, clone.env)
    assert hook.returncode == 2
    assert f"its Python, {python}, cannot import it" in hook.stderr
    assert "No module named 'promote_gate'" in hook.stderr
    assert "Traceback" not in hook.stderr
    assert "`git commit --no-verify`" in hook.stderr


# --------------------------------------------------------------------------- hooks/ by hand


@pytest.mark.parametrize("kind", KINDS)
def test_a_hand_copied_hook_says_when_promote_gate_cannot_be_found(
    clone: Clone, tmp_path: Path, kind: str
) -> None:
    """hooks/<kind> copied by hand, run where promote-gate is not on PATH: with no python3,
    and with a python3 that cannot import it. Refused, with the way out, never a traceback."""
    shutil.copy(PROJECT / "hooks" / kind, clone.hooks / kind)
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**clone.env, "PATH": str(bare)}
    hook = bounded([str(clone.hooks / kind), "origin", "x"], clone.repo, env)
    assert hook.returncode == 2
    assert "finds neither promote-gate nor python3 on PATH" in hook.stderr
    assert "pip install promote-gate" in hook.stderr

    # a python3 that cannot import promote-gate: the base interpreter, without site-packages
    base = getattr(sys, "_base_executable", sys.executable)
    (bare / "python3").write_text(f'#!/bin/sh\nexec {shlex.quote(base)} -S "$@"\n')
    (bare / "python3").chmod(0o755)
    hook = bounded([str(clone.hooks / kind), "origin", "x"], clone.repo, env)
    assert hook.returncode == 2
    assert "cannot import promote_gate" in hook.stderr
    assert "Traceback" not in hook.stderr
    assert "--no-verify" in hook.stderr
