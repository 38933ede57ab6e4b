"""DVC's own knowledge, split along DVC's seams (like ``dvc/parsing``, ``dvc/repo/status``).

``project`` finds DVC projects and their ``dvc.yaml`` files; ``parsing`` resolves a
``dvc.yaml`` (interpolation, ``vars``, ``foreach``/``matrix``) as DVC does; ``lock`` reads
``dvc.lock``; ``params`` reads params and metrics files; ``pointer`` reads ``.dvc`` files;
``cache`` knows DVC's config, cache and remote layout; ``ignore`` reads ``.dvcignore``;
``status`` mirrors ``dvc status``. Rules never read DVC formats themselves: they get facts.
"""

from __future__ import annotations

import posixpath
import shlex

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DEFAULT_PARAMS = "params.yaml"


def norm(path: str, base: str = "") -> str:
    """A repository-relative POSIX path for ``path`` written relative to ``base``."""
    joined = posixpath.normpath(posixpath.join(base, path.replace("\\", "/")))
    return "" if joined == "." else joined


def dvc_in(project: str, command: str) -> str:
    """A ``dvc …`` command as typed in the repository's top directory, for the DVC project
    in directory ``project`` ("" for the top): DVC finds its project from the working
    directory, so another one's command runs there with ``dvc --cd``. Its paths stay
    project-relative, as DVC reads them. Any other command is returned as it is."""
    if not project or not command.startswith("dvc "):
        return command
    return f"dvc --cd {shlex.quote(project)} {command[4:]}"
