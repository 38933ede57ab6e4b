"""``.dvcignore``: gitignore syntax, one file per directory, as DVC reads it."""

from __future__ import annotations

from typing import Any

from promote_gate.git import iter_parents
from promote_gate.repo import View


class DvcIgnore:
    """``.dvcignore`` files (gitignore syntax, one per directory), via pathspec like DVC.

    Only the ``.dvcignore`` files on a path's way down are read, lazily: hashing one
    directory must not walk the whole repository.
    """

    def __init__(self, view: View) -> None:
        self.view = view
        self._specs: dict[str, Any] = {}

    def _spec(self, base: str) -> Any:
        if base not in self._specs:
            import pathspec

            data = self.view.read(f"{base}/.dvcignore" if base else ".dvcignore")
            lines = data.decode("utf-8", "replace").splitlines() if data else []
            self._specs[base] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[base]

    def ignored(self, path: str) -> bool:
        if path.startswith((".dvc/", ".git/")) or path.rsplit("/", 1)[-1] == ".dvcignore":
            return True
        for base in ["", *reversed(list(iter_parents(path)))]:
            spec = self._spec(base)
            if spec is not None and spec.match_file(path[len(base) + 1 :] if base else path):
                return True
        return False
