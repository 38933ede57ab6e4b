"""DVC's own knowledge, split along DVC's seams (like ``dvc/parsing``, ``dvc/repo/status``).

``project`` finds DVC projects and their ``dvc.yaml`` files; ``parsing`` resolves a
``dvc.yaml`` (interpolation, ``vars``, ``foreach``/``matrix``) as DVC does; ``lock`` reads
``dvc.lock``; ``params`` reads params and metrics files; ``pointer`` reads ``.dvc`` files;
``cache`` knows DVC's config, cache and remote layout; ``ignore`` reads ``.dvcignore``;
``status`` mirrors ``dvc status``. Rules never read DVC formats themselves: they get facts.
"""

from __future__ import annotations

import posixpath

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DEFAULT_PARAMS = "params.yaml"


def norm(path: str, base: str = "") -> str:
    """A repository-relative POSIX path for ``path`` written relative to ``base``."""
    joined = posixpath.normpath(posixpath.join(base, path.replace("\\", "/")))
    return "" if joined == "." else joined
