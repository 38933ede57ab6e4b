"""Real scopes for the evidence providers' tests, opened as ``gate.judge_project`` opens them.

The repositories are the suite's (``tests/conftest.py``, ``tests/scenario.py``): the demo
project with v1 promoted, committed and pushed to ``../dvc-remote``. Git and DVC run for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run alone (`mypy tests/evidence`), mypy does not see tests/ as a root: conftest and
# scenario resolve only in the suite-wide run, so the ignore must tolerate being unused there.
import conftest  # type: ignore[import-not-found, unused-ignore]
import scenario  # type: ignore[import-not-found, unused-ignore]

from promote_gate.context.checkout import ProjectCheckout, open_checkout
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.scope import Scope
from promote_gate.facts import BundleFacts
from promote_gate.gate import scope_of

MODEL = "publish/v1/model.json"
METRICS = "eval/metrics.json"  # the pipeline's metrics file (cache: false: git holds it)


def run(cwd: Path, *argv: str) -> str:
    """git or dvc, for real (the suite's ``run``: a failure fails the test)."""
    out: str = conftest.run(cwd, *argv)
    return out


def commit_all(repo: Path, message: str = "change") -> str:
    """Stage everything, commit, and return the new commit id."""
    sha: str = conftest.commit_all(repo, message)
    return sha


def copy_repo(src: Path, dest: Path) -> Path:
    """A private copy of a repository and of its DVC remote beside it."""
    copied: Path = conftest.copy_repo(src, dest)
    return copied


@dataclass(frozen=True)
class Opened:
    """One project of an opened checkout and the scope the providers read it through."""

    scope: Scope
    project: ProjectCheckout

    def bundle(self, name: str) -> BundleFacts:
        """The bundle under the publish root, read as the collector reads it."""
        return read_bundle(self.scope, name, f"{self.scope.config.publish_root}/{name}")


@contextmanager
def opened(repo: Path, *, rev: str | None = None, base: str | None = None) -> Iterator[Opened]:
    """The checkout of ``repo`` (working tree, or ``rev``) against ``base``, as a Scope built
    with ``gate.scope_of``, as ``gate.judge_project`` does; the checkout is closed afterwards."""
    checkout = open_checkout(str(repo), rev=rev, base=base)
    try:
        project = checkout.projects[0]
        scope = scope_of(project, checkout.ci)
        yield Opened(scope, project)
    finally:
        checkout.close()


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in a text file."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def edit_manifest(repo: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite ``publish/<name>/manifest.json`` after ``change`` edits its parsed value."""
    path = repo / "publish" / name / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def set_source_commit(repo: Path, name: str, commit: str) -> None:
    def change(manifest: dict[str, Any]) -> None:
        manifest["source"]["commit"] = commit

    edit_manifest(repo, name, change)


def add_policy(repo: Path, text: str) -> None:
    """Append settings to the policy file (the working tree's policy applies to it)."""
    path = repo / ".promote-gate.yaml"
    path.write_text(path.read_text() + text)


def md5_of_model(repo: Path, name: str = "v1") -> str:
    """The promoted model's md5, as the bundle's manifest records it."""
    manifest = json.loads((repo / "publish" / name / "manifest.json").read_text())
    md5: str = manifest["files"][0]["md5"]
    return md5


def build_v2(template: Path, dest: Path, home: Path, **params: str) -> Path:
    """A copy of ``template`` with a real retrain (``dvc repro``) promoted as v2, committed."""
    root = copy_repo(template, dest)
    with conftest.pinned_env(home):
        scenario.release_v2(root, **(params or {"lr": "0.1"}))
    return root
