"""The demo's two steps every part of it takes: run git or DVC, and set params."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from promote_gate.errors import GateError
from promote_gate.git import git_env


def demo_env() -> dict[str, str]:
    """What the demo's git, DVC and promote-gate run with: its own identity, this Python."""
    env = git_env() | {
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "promote-gate demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "promote-gate demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    }
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def run_tool(cwd: Path, *argv: str) -> str:
    """Run git or dvc for the demo; a failure is the demo's error, with the tool's output."""
    cmd = [sys.executable, "-m", "dvc", *argv[1:]] if argv[0] == "dvc" else list(argv)
    proc = subprocess.run(cmd, cwd=cwd, env=demo_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GateError(f"demo step `{' '.join(argv)}` failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def set_params(root: Path, **values: str) -> None:
    text = (root / "params.yaml").read_text()
    for key, value in values.items():
        text = re.sub(rf"(?m)^(  {key}: ).*$", rf"\g<1>{value}", text)
    (root / "params.yaml").write_text(text)
