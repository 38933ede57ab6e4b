"""The repository view: the working tree, one commit's tree, or the index (git objects read
through ``git.py``, the only module that runs git)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from promote_gate.errors import MAX_DOCUMENT_BYTES, DocumentError, GateError
from promote_gate.git import FILE_MODES, Git, TreeEntry

if TYPE_CHECKING:  # hashing is imported where a file is hashed: the hooks' quick path never is
    from promote_gate.hashcache import HashCache
    from promote_gate.hashing import Digest

# git's and DVC's own directories at a repository's root: bookkeeping, not content. Only a
# view of a repository skips them, and only at its root: in a bundle they are content.
REPOSITORY_DIRS = frozenset({".git", ".dvc"})

# How many directories deep a walk goes before it refuses the tree. No project or bundle
# nests anywhere near this deep, while a hostile tree can nest thousands of levels (one-letter
# names reach Linux's PATH_MAX only after ~2,000): the tools that meet such a tree next (DVC,
# anything walking it with Python's recursive os.walk before 3.12) crash on it, so the gate
# names the directory (exit 2) rather than pass a tree its consumers cannot handle.
MAX_DEPTH = 256


class View:
    """What promote-gate reads: files by repository-relative POSIX path."""

    label: str
    root: str  # the repository's directory on disk (the DVC cache lives below it)
    limit: int = MAX_DOCUMENT_BYTES  # the most bytes read() returns: documents, not content

    def read(self, path: str) -> bytes | None:
        raise NotImplementedError

    def entry(self, path: str) -> TreeEntry | None:
        raise NotImplementedError

    def files_under(self, prefix: str) -> list[TreeEntry]:
        """Every file below directory ``prefix`` ("" for all), recursively, sorted."""
        raise NotImplementedError

    def digest(self, path: str) -> Digest | None:
        data = self.read(path)
        from promote_gate.hashing import digest_bytes

        return None if data is None else digest_bytes(data)

    def digest_many(self, paths: list[str]) -> dict[str, Digest | None]:
        """Several files' digests (in parallel where the view allows it)."""
        return {path: self.digest(path) for path in paths}

    def is_dir(self, path: str) -> bool:
        return bool(self.files_under(path))

    def children(self, directory: str) -> set[str]:
        """The names directly inside repository directory ``directory`` ("" for the root)."""
        raise NotImplementedError

    def present(self, path: str) -> bool:
        """Whether anything is at ``path`` (a file, symlink, FIFO, submodule)."""
        return self.entry(path) is not None


class WorktreeView(View):
    """The files on disk, below ``root`` and nowhere else.

    A symlink is an entry of its own (``kind="symlink"``), never followed — except a link
    into DVC's cache directory (``cache.type symlink``), which is the file it links to, as DVC
    sees it, read only if the cache object is a regular file. A path below a symlinked
    directory is not in the view at all, and only regular files are read (a FIFO or device is
    no entry), so nothing outside ``root`` is ever read or hashed.
    """

    def __init__(
        self,
        root: str,
        cache: str | None = None,
        hashes: HashCache | None = None,
        *,
        skip_at_root: frozenset[str] = REPOSITORY_DIRS,
    ) -> None:
        self.root = root
        # directories at the root that are not content: a repository's own .git and .dvc;
        # none in a plain directory (``directory``)
        self.skip_at_root = skip_at_root
        self.hashes = hashes  # digests of unchanged files, from earlier runs
        self.label = "working tree"
        self._real_root = os.path.realpath(root)
        self._cache = os.path.realpath(cache) if cache else None
        self._dirs: dict[str, bool] = {}

    @classmethod
    def directory(cls, root: str, hashes: HashCache | None = None) -> WorktreeView:
        """A plain directory, not a repository (a bundle ``verify`` reads): every entry in it
        is content, ``.git`` and ``.dvc`` included."""
        return cls(root, hashes=hashes, skip_at_root=frozenset())

    def _abs(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/"))

    def _direct(self, directory: str) -> bool:
        """Whether repository directory ``directory`` is reached without a symlink."""
        if directory not in self._dirs:
            real = os.path.realpath(self._abs(directory) if directory else self.root)
            expected = (
                os.path.join(self._real_root, *directory.split("/"))
                if directory
                else self._real_root
            )
            self._dirs[directory] = real == expected
        return self._dirs[directory]

    def _in_cache(self, path: str) -> str | None:
        """The cache object a DVC link at ``path`` points to, or None."""
        if self._cache is None:
            return None
        real = os.path.realpath(self._abs(path))
        return real if os.path.commonpath([real, self._cache]) == self._cache else None

    def _lstat(self, path: str) -> os.stat_result | None:
        """``lstat`` of ``path``, reached without a symlinked directory; None otherwise."""
        if not _inside(path):
            return None  # paths come from untrusted files: never read outside the view
        if not self._direct(path.rsplit("/", 1)[0] if "/" in path else ""):
            return None
        try:
            return os.lstat(self._abs(path))
        except (OSError, ValueError):
            return None

    def entry(self, path: str) -> TreeEntry | None:
        st = self._lstat(path)
        if st is None:
            return None
        if stat.S_ISLNK(st.st_mode):
            if self._in_cache(path) is not None:
                return TreeEntry(path, "file")
            return TreeEntry(path, "symlink", os.readlink(self._abs(path)))
        return TreeEntry(path, "file") if stat.S_ISREG(st.st_mode) else None

    def present(self, path: str) -> bool:
        if not _inside(path):
            return False
        try:
            os.lstat(self._abs(path))
        except (OSError, ValueError):
            return False
        return True

    def _open(self, path: str) -> IO[bytes] | None:
        entry = self.entry(path)
        if entry is None or entry.kind != "file":
            return None
        from promote_gate.objects import UntrustedObjectError, open_regular

        cached = self._in_cache(path) if os.path.islink(self._abs(path)) else None
        try:
            if cached is not None and self._cache is not None:
                return open_regular(cached, self._cache)
            return open_regular(self._abs(path), self.root)
        except UntrustedObjectError:
            return None

    def read(self, path: str) -> bytes | None:
        fobj = self._open(path)
        if fobj is None:
            return None
        with fobj:
            data = fobj.read(self.limit + 1)
        if len(data) > self.limit:
            raise DocumentError(f"{path} is larger than the {self.limit} bytes read as a document")
        return data

    def digest(self, path: str) -> Digest | None:
        fobj = self._open(path)
        if fobj is None:
            return None
        from promote_gate.hashcache import digest_open

        with fobj:
            return digest_open(fobj, path, self.hashes)

    def digest_many(self, paths: list[str]) -> dict[str, Digest | None]:
        """Many files' digests: those whose identity the hash cache knows from one batch of
        ``lstat`` calls and queries (nothing opened), the others hashed on several threads
        (``hashlib`` and reads release the GIL), each thread taking a share of the files."""
        from promote_gate.hashcache import key_of

        found: dict[str, Digest | None] = {}
        todo = list(paths)
        if self.hashes is not None and len(paths) > 1:
            stats = {
                p: st
                for p in paths
                for st in [self._lstat(p)]
                if st is not None and stat.S_ISREG(st.st_mode)
            }
            known = self.hashes.get_many(list(stats.values()))
            for path, st in stats.items():
                hit = known.get(key_of(st))
                if hit is not None:
                    found[path] = hit
            todo = [p for p in paths if p not in found]
        workers = min(4, os.cpu_count() or 1, len(todo))
        if workers < 2:
            return found | {path: self.digest(path) for path in todo}
        from concurrent.futures import ThreadPoolExecutor

        shares = [todo[i::workers] for i in range(workers)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for share in pool.map(lambda ps: {p: self.digest(p) for p in ps}, shares):
                found |= share
        return found

    def children(self, directory: str) -> set[str]:
        if directory and (self.entry(directory) is not None or not self._direct(directory)):
            return set()
        try:
            names = os.listdir(self._abs(directory) if directory else self.root)
        except OSError:
            return set()
        return {n for n in names if not (directory == "" and n in self.skip_at_root)}

    def files_under(self, prefix: str) -> list[TreeEntry]:
        if prefix:
            itself = self.entry(prefix)
            if itself is not None:  # a symlink (or file) where a directory is asked for
                return [itself] if itself.kind == "symlink" else []
            if not self._direct(prefix):
                return []
        found: list[TreeEntry] = []
        for directory, dirnames, others in walk(self.root, prefix):
            if directory == "":
                dirnames[:] = [d for d in dirnames if d not in self.skip_at_root]
            lead = f"{directory}/" if directory else ""
            for name in others:  # files, symlinks (to directories too), FIFOs, ...
                entry = self.entry(lead + name)
                if entry is not None:
                    found.append(entry)
        return sorted(found, key=lambda e: e.path)


def walk(root: str, top: str = "") -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` below directory ``top`` (relative to ``root``, "" for ``root`` itself),
    without recursion and never into a symlink: for each directory, top-down in sorted order,
    its relative path, the directories in it (a caller may prune them, as with ``os.walk``)
    and every other name in it (files, symlinks, FIFOs, ...), sorted.

    A directory more than ``MAX_DEPTH`` levels below ``root``, a path too long to open or a
    directory that cannot be listed is a GateError naming it: never a part of the tree left
    out. A directory gone since its parent was listed is skipped.
    """
    path_max = _path_max(root)
    stack = [top]
    while stack:
        directory = stack.pop()
        path = os.path.join(root, *directory.split("/")) if directory else root
        dirnames: list[str] = []
        others: list[str] = []
        try:
            with os.scandir(path) as entries:
                for item in entries:
                    if len(os.fsencode(item.path)) >= path_max:
                        raise GateError(
                            f"{_shown(_join(directory, item.name))}: its path is longer than "
                            f"the {path_max} bytes the system can open: refused, not judged"
                        )
                    is_dir = item.is_dir(follow_symlinks=False)
                    (dirnames if is_dir else others).append(item.name)
        except (FileNotFoundError, NotADirectoryError):
            if directory == top:
                return
            continue  # removed or replaced since its parent was listed
        except OSError as exc:
            raise GateError(f"cannot list {_shown(directory or '.')}/: {exc.strerror}") from exc
        dirnames.sort()
        others.sort()
        yield directory, dirnames, others
        depth = directory.count("/") + 2 if directory else 1  # of the directories in it
        if dirnames and depth > MAX_DEPTH:
            raise GateError(
                f"{_shown(_join(directory, dirnames[0]))}/ is more than {MAX_DEPTH} directories "
                "deep: a tree this deep is refused, not judged"
            )
        stack.extend(_join(directory, d) for d in reversed(dirnames))


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _shown(path: str) -> str:
    """A path for a message: a hostile one can be tens of kilobytes long."""
    return path if len(path) <= 240 else f"{path[:160]}…{path[-60:]}"


def _path_max(root: str) -> int:
    """The longest path (in bytes, with its terminating NUL) the system opens below ``root``."""
    try:
        return os.pathconf(root, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 4096  # Linux's PATH_MAX


def _inside(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "\0" not in path


class CommitView(View):
    """A commit's tree, read from git objects: never the working tree."""

    staged = False  # True for the index: what ``git commit`` would record

    def __init__(self, git: Git, commit: str) -> None:
        self.git = git
        self.root = git.root
        self.commit: str | None = commit
        self.label = f"commit {commit[:12]}"
        self._tree = self._own(git, git.ls_tree(commit))

    @staticmethod
    def _own(git: Git, tree: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """A project's view: its own files, as paths relative to it."""
        if not git.prefix:
            return tree
        n = len(git.prefix)
        return {p[n:]: v for p, v in tree.items() if p.startswith(git.prefix)}

    def entry(self, path: str) -> TreeEntry | None:
        item = self._tree.get(path)
        if item is None:
            return None
        mode, oid = item
        if mode == "120000":
            return TreeEntry(path, "symlink", self.git.cat(oid).decode("utf-8", "surrogateescape"))
        if mode == "160000":
            return TreeEntry(path, "submodule")
        return TreeEntry(path, "file")

    def read(self, path: str) -> bytes | None:
        item = self._tree.get(path)
        if item is None or item[0] not in FILE_MODES:
            return None
        try:
            data = self.git.cat_if_exists(item[1], self.limit)
        except DocumentError as exc:
            raise DocumentError(
                f"{path} is larger than the {self.limit} bytes read as a document"
            ) from exc
        if data is None:
            raise GateError(f"git cannot read object {item[1]} ({path})")
        return data

    def digest(self, path: str) -> Digest | None:
        item = self._tree.get(path)
        if item is None or item[0] not in FILE_MODES:
            return None
        return self.git.digest_object(item[1])

    def children(self, directory: str) -> set[str]:
        lead = directory.rstrip("/") + "/" if directory else ""
        return {p[len(lead) :].split("/", 1)[0] for p in self._tree if p.startswith(lead)}

    def paths(self) -> list[str]:
        """Every path in the tree (files, symlinks, submodules), unsorted."""
        return list(self._tree)

    def files_under(self, prefix: str) -> list[TreeEntry]:
        lead = prefix.rstrip("/") + "/" if prefix else ""
        return [
            entry
            for path in sorted(self._tree)
            if path.startswith(lead)
            for entry in [self.entry(path)]
            if entry is not None
        ]


class IndexView(CommitView):
    """The index: the tree the next ``git commit`` would record, read from the index and
    the object database, never the working tree, and without writing anything (no
    ``git write-tree``). ``commit`` is HEAD (None before the first commit): what the staged
    tree would be the child of."""

    staged = True

    def __init__(self, git: Git) -> None:
        self.git = git
        self.root = git.root
        self.commit = git.head()
        self.label = "index (staged for commit)"
        self._tree = self._own(git, git.ls_index())
