"""The demo's model registry part: GTO tags written by ``promote-gate tag`` and pushed
through the installed pre-push hook, then three tags the gate refuses (see ``demo.py``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from promote_gate.commands.demo_steps import demo_env, run_tool
from promote_gate.commands.demo_steps import set_params as _set_params

POLICY = """
registry:              # GTO tags (model@v2.0.0, model#prod#3) are judged by this, from main
  artifact: model      # promote points dvc.yaml's artifacts.model at each new bundle
  stages: [dev, staging, prod]
  ordered: true        # prod only after staging, staging only after dev
"""


def _gate(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """promote-gate (or ``git …``) as a user runs it; its failure is the caller's to judge."""
    cmd = argv if argv[0] == "git" else (sys.executable, "-m", "promote_gate", *argv)
    return subprocess.run(
        cmd, cwd=repo, env=demo_env(), capture_output=True, text=True, check=False
    )


def _release(repo: Path, version: str, lr: str) -> None:
    """Retrain for real (dvc repro), commit, promote with the artifact, commit."""
    from promote_gate.commands.promote import promote

    _set_params(repo, lr=lr)
    run_tool(repo, "dvc", "repro", "-q")
    run_tool(repo, "git", "commit", "-q", "-am", f"Retrain: lr {lr}")
    promote(str(repo), version, [], artifact="model")
    run_tool(repo, "git", "add", "-A")
    run_tool(repo, "git", "commit", "-q", "-m", f"Promote {version}")
    run_tool(repo, "dvc", "push", "-q")


def _refused(repo: Path, tag: str, commit: str, what: str, code: str) -> bool:
    """Tag ``commit`` by hand and push it through the hook: it must be refused with ``code``."""
    run_tool(repo, "git", "tag", "-a", "-m", what, "--", tag, commit)
    proc = _gate(repo, "git", "push", "origin", f"refs/tags/{tag}")
    fired = sorted(set(re.findall(r"(?m)^\s+(PG\d{3}) ", proc.stderr)))
    caught = proc.returncode != 0 and code in fired and "tag push refused" in proc.stderr
    print(
        f"  {'caught' if caught else 'MISSED':7} {tag}: {what}\n"
        f"          push refused: {', '.join(fired) or 'no violation'}"
    )
    run_tool(repo, "git", "tag", "-d", "--", tag)  # refused: the registry never had it
    return caught


def registry_story(base: Path, clean: Path) -> bool:
    """v1 and v2 registered and assigned through prod with ``tag --push`` (each push judged
    by the installed hook too), then three tags refused; the registry as it stands."""
    repo = base / "registry"
    shutil.copytree(clean, repo, symlinks=True)
    with (repo / ".promote-gate.yaml").open("a", encoding="utf-8") as fobj:
        fobj.write(POLICY)
    from promote_gate.config import parse
    from promote_gate.dvc.artifacts import point_artifact

    policy = parse((repo / ".promote-gate.yaml").read_bytes(), ".promote-gate.yaml")
    point_artifact(str(repo), "model", policy, "v1")
    run_tool(repo, "git", "commit", "-q", "-am", "Registry policy; artifact model -> publish/v1")
    first = run_tool(repo, "git", "rev-list", "--max-parents=0", "HEAD").strip()
    v1 = run_tool(repo, "git", "rev-parse", "HEAD").strip()
    _release(repo, "v2", "0.5")
    origin = base / "registry-origin.git"
    run_tool(base, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    run_tool(repo, "git", "remote", "add", "origin", str(origin))
    run_tool(repo, "git", "push", "-q", "origin", "main")
    ok = _gate(repo, "install", "--hook-type", "pre-push").returncode == 0
    for version, stage in (("v1", "dev"), ("v2", "dev"), ("v2", "staging"), ("v2", "prod")):
        proc = _gate(repo, "tag", version, "--stage", stage, "--push", "origin")
        said = proc.stdout.strip().replace("\n", "\n          ")
        print(f"  {'passed' if proc.returncode == 0 else 'FAILED':7} {said or proc.stderr}")
        ok = ok and proc.returncode == 0
    print("\nTags the gate refuses, pushed through the installed pre-push hook:\n")
    ok = _refused(repo, "model#prod#9", first, "prod on a commit with no bundle", "PG704") and ok
    ok = _refused(repo, "model#prod#10", v1, "v1 to prod, never assigned staging", "PG706") and ok
    run_tool(repo, "git", "checkout", "-q", "-b", "v3")
    _release(repo, "v3", "0.6")
    _set_params(repo, lr="0.3")  # params changed, not reproduced: v3's dvc.lock is stale
    run_tool(repo, "git", "commit", "-q", "-am", "lr 0.3, not reproduced")
    head = run_tool(repo, "git", "rev-parse", "HEAD").strip()
    what = "v3 on a commit whose pipeline is stale"
    ok = _refused(repo, "model@v3.0.0", head, what, "PG204") and ok
    run_tool(repo, "git", "checkout", "-q", "main")
    shown = _gate(repo, "registry")
    print("\nThe registry as GTO shows it, with the gate's verdicts (promote-gate registry):\n")
    print("  " + shown.stdout.strip().replace("\n", "\n  "))
    return ok and shown.returncode == 0
