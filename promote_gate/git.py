"""The git runner: the only module that runs git (views of trees are in ``repo.py``).

Like pre-commit's git.py, git runs with inherited ``GIT_*`` variables stripped (hooks run
with ``GIT_INDEX_FILE`` and ``GIT_DIR`` set) and with repository-configured programs
switched off (``core.fsmonitor``), so reading a repository never runs its code. The one
exception is deliberate: the index a commit records is read through the ``GIT_INDEX_FILE``
git gives its pre-commit hook (``git commit -a`` stages into a temporary one).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Literal, final

from promote_gate.errors import DocumentError, GateError

if TYPE_CHECKING:  # hashing is imported where a file is hashed: the hooks' quick path never is
    from promote_gate.hashing import Digest

# pre-commit keeps these: they configure how git reaches remotes, not which repository.
_KEEP_GIT_ENV = frozenset(
    {
        "GIT_EXEC_PATH",
        *("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"),
        *("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"),  # the user's (tag)
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_COUNT",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
    }
)
# Replace refs (`git replace`) and grafts are local rewrites of history: a gate that honoured
# them would judge objects other than the ones pushed.
_SAFE_CONFIG = ("--no-replace-objects", "-c", "core.fsmonitor=false", "-c", "core.quotePath=false")
ZERO_SHA = "0" * 40
# What every tree comparison passes, whatever the repository's or the user's configuration
# says (git 2.39): `submodule.<name>.ignore` -- in .git/config, or in a committed .gitmodules,
# which git reads from the work tree -- hides a gitlink's change even from diff-tree and
# diff-index, and `diff.ignoreSubmodules` from `git diff`: --ignore-submodules=none overrides
# both. --no-renames: a rename is a deletion and an addition, and both sides must be seen
# (`diff.renames` moves the old path out of `git diff`'s name list). No external diff
# (`diff.external`, diff drivers) and no textconv: nothing configured ever runs.
UNBLINDED = ("--ignore-submodules=none", "--no-renames", "--no-ext-diff", "--no-textconv")

Kind = Literal["file", "symlink", "submodule"]
FILE_MODES = frozenset({"100644", "100755", "100664"})  # 100664: very old git's, still read
_MODES = FILE_MODES | {"120000", "160000"}


def _keep(name: str) -> bool:
    if not name.startswith("GIT_") or name in _KEEP_GIT_ENV:
        return True
    return name.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))


def git_env() -> dict[str, str]:
    """The environment for git: inherited ``GIT_*`` variables that pick a repository removed."""
    # GIT_NO_LAZY_FETCH: in a partial clone, a missing object is missing, never fetched
    # (which would write to .git/objects); the gate then says it cannot read it
    keep = {k: v for k, v in os.environ.items() if _keep(k)}
    # GIT_TERMINAL_PROMPT=0: a fetch that needs credentials fails, never waits at a prompt
    return keep | {"LC_ALL": "C", "GIT_NO_LAZY_FETCH": "1", "GIT_TERMINAL_PROMPT": "0"}


def _git(
    cwd: str, *args: str, input_: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *_SAFE_CONFIG, *args],
            cwd=cwd,
            env=git_env() | (env or {}),
            input=input_,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GateError("git is not installed or not on PATH") from exc


# the empty blob's id (SHA-1 and SHA-256 repositories)
_EMPTY_BLOBS = frozenset(
    {
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
        "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813",
    }
)


def _entries(records: list[tuple[str, str, str]], what: str) -> dict[str, tuple[str, str]]:
    """``(mode, oid, path)`` records as a path map, refusing what git fsck refuses."""
    entries: dict[str, tuple[str, str]] = {}
    for mode, oid, path in records:
        # git fsck refuses such trees; tools disagree on which entry they serve
        if path in entries:
            raise GateError(
                f"{what} is malformed: {path!r} appears twice (git fsck reports it); "
                "refusing to judge it"
            )
        if (
            mode not in _MODES
            or not path
            or any(part in {"", ".", "..", ".git"} for part in path.split("/"))
        ):
            raise GateError(
                f"{what} is malformed: entry {path!r} with mode {mode} (git fsck reports it); "
                "refusing to judge it"
            )
        entries[path] = (mode, oid)
    return entries


@dataclass(frozen=True)
class TreeEntry:
    """One file in a view: a regular file, a symlink (``target`` set) or a submodule."""

    path: str
    kind: Kind
    target: str | None = None


@dataclass
class Memo:
    """What one run learnt of a repository that cannot change under it."""

    resolved: dict[str, str | None] = field(default_factory=dict)  # full commit ids
    ancestors: dict[str, frozenset[str]] = field(default_factory=dict)
    index_env: dict[str, str] | None = None  # GIT_INDEX_FILE, checked once


@final
class Git:
    """A git repository on disk, seen from one DVC project in it.

    ``top`` is the working tree's top level, where git runs; ``prefix`` the project's
    directory in it ("" for the top, else ending in "/"), and ``root`` that directory on disk.
    Paths given to and returned by :meth:`read_at`, :meth:`diff_names` and
    :meth:`changed_paths` are project-relative; :meth:`run` and :meth:`ls_tree` are not.
    """

    def __init__(self, root: str, prefix: str = "", owner: Git | None = None) -> None:
        self.top = root
        self.prefix = prefix
        self.root = os.path.join(root, *prefix.rstrip("/").split("/")) if prefix else root
        self._owner = owner
        self._batch: subprocess.Popen[bytes] | None = None
        self.memo: Memo = owner.memo if owner is not None else Memo()  # shared by projects

    def project(self, directory: str) -> Git:
        """The same repository seen from the DVC project in ``directory`` (top-relative)."""
        directory = directory.strip("/")
        owner = self._owner or self
        return Git(self.top, directory + "/" if directory else "", owner) if directory else owner

    def path(self, path: str) -> str:
        """A project-relative path as a top-level-relative one."""
        return self.prefix + path

    @classmethod
    def open(cls, path: str) -> Git:
        if not os.path.isdir(path):
            raise GateError(f"{path}: no such directory")
        proc = _git(path, "rev-parse", "--show-toplevel")
        if proc.returncode != 0:
            raise GateError(
                f"{path} is not inside a git repository "
                f"({proc.stderr.decode(errors='replace').strip()})"
            )
        return cls(proc.stdout.decode(errors="surrogateescape").strip())

    def run(
        self, *args: str, input_: bytes | None = None, env: dict[str, str] | None = None
    ) -> str:
        proc = _git(self.top, *args, input_=input_, env=env)
        if proc.returncode != 0:
            raise GateError(
                f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}"
            )
        return proc.stdout.decode(errors="surrogateescape")

    def ok(self, *args: str) -> bool:
        return _git(self.top, *args).returncode == 0

    def resolve(self, rev: str) -> str | None:
        """The commit sha ``rev`` names, or None when it names no commit here. A full commit
        id is looked up once per run (what it names cannot change)."""
        cache = self.memo.resolved
        if rev in cache:
            return cache[rev]
        proc = _git(
            self.top, "rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"
        )
        found = proc.stdout.decode().strip() if proc.returncode == 0 else None
        if len(rev) >= 40 and all(c in "0123456789abcdef" for c in rev):
            cache[rev] = found
        return found

    def ancestors(self, commit: str) -> frozenset[str]:
        """Every commit reachable from ``commit`` (itself included), listed once per run."""
        cache = self.memo.ancestors
        if commit not in cache:
            cache[commit] = frozenset(self.run("rev-list", commit, "--").split())
        return cache[commit]

    def head(self) -> str | None:
        return self.resolve("HEAD")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", ancestor, descendant)

    def merge_base(self, a: str, b: str) -> str | None:
        proc = _git(self.top, "merge-base", a, b)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def symbolic(self, ref: str) -> str | None:
        """What symbolic ref ``ref`` points to (``refs/remotes/origin/HEAD`` -> ``…/main``)."""
        proc = _git(self.top, "symbolic-ref", "--quiet", ref)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def ls_remote(self, remote: str) -> str | None:
        """``git ls-remote --symref`` of the remote's HEAD and branches; None if unreachable."""
        proc = _git(self.top, "ls-remote", "--symref", "--", remote, "HEAD", "refs/heads/*")
        return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None

    def merge_heads(self) -> list[str]:
        """The further parents the index's commit gets while ``git merge`` is in progress
        (``MERGE_HEAD``: one a line, several for an octopus), else none."""
        path = self.run("rev-parse", "--git-path", "MERGE_HEAD").strip()
        try:
            with open(os.path.join(self.top, path), encoding="ascii") as fobj:
                names = fobj.read(1 << 16).split()
        except (OSError, UnicodeDecodeError):
            return []
        return [sha for name in names if (sha := self.resolve(name)) is not None]

    def has_commit(self, sha: str) -> bool:
        return self.ok("cat-file", "-e", f"{sha}^{{commit}}")

    def refs(self, prefix: str) -> list[str]:
        return self.run("for-each-ref", "--format=%(refname)", prefix).split()

    def diff_names(self, a: str, b: str, *paths: str) -> list[str]:
        """Paths that differ between two commits (limited to ``paths``), from the trees alone:
        plumbing with :data:`UNBLINDED` (no configuration can hide a change from it)."""
        scope = [self.path(p) for p in paths] or [self.prefix or "."]
        out = self.run("--literal-pathspecs", "diff-tree", "-r", *UNBLINDED, "--name-only", "-z", a, b, "--", *scope)  # fmt: skip
        return [p[len(self.prefix) :] for p in out.split("\0") if p.startswith(self.prefix) and p]

    def has_file(self, commit: str, path: str) -> bool:
        """Whether ``commit`` has a (top-relative) ``path``, asked in the ``cat-file`` process."""
        try:
            return self.cat_if_exists(f"{commit}:{path}", 1 << 16) is not None
        except DocumentError:  # larger than that: it is there
            return True

    def staged_names(self, base: str) -> list[str]:
        """Paths in which the tree the index would commit differs from ``base``. Read-only
        (``diff-index --cached`` neither refreshes nor writes the index); intent-to-add
        entries, which ``git commit`` does not record, are not staged."""
        env = self._index_env()
        args = ["--literal-pathspecs", "diff-index", "--cached", "--ita-invisible-in-index"]
        args += [*UNBLINDED, "--name-only", "-z", base, "--"]
        out = _git(self.top, *args, env=env)
        if out.returncode != 0:
            raise GateError(f"cannot read the index: {out.stderr.decode().strip()}")
        names = out.stdout.decode("utf-8", "surrogateescape").split("\0")
        return [p[len(self.prefix) :] for p in names if p.startswith(self.prefix) and p]

    def changed_paths(self, paths: list[str]) -> list[str]:
        """Paths among ``paths`` that differ between HEAD, the index and the working tree."""
        spec = [self.path(p) for p in paths] or [self.prefix or "."]
        out = self.run(
            "--literal-pathspecs",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignore-submodules=none",
            "--",
            *spec,
        )
        return [
            item[3 + len(self.prefix) :]
            for item in out.split("\0")
            if len(item) > 3 and item[3:].startswith(self.prefix)
        ]

    def ls_tree(self, commit: str) -> dict[str, tuple[str, str]]:
        """Every path in ``commit``'s tree mapped to ``(mode, oid)``."""
        out = _git(self.top, "ls-tree", "-r", "-z", "--full-tree", commit)
        if out.returncode != 0:
            raise GateError(f"cannot list the tree of {commit}: {out.stderr.decode().strip()}")
        records = []
        for record in out.stdout.split(b"\0"):
            if record:
                meta, _, raw = record.partition(b"\t")
                mode, _type, oid = meta.decode().split(" ")
                records.append((mode, oid, raw.decode("utf-8", "surrogateescape")))
        return _entries(records, f"the tree of {commit[:12]}")

    def ls_index(self) -> dict[str, tuple[str, str]]:
        """Every path in the index (what ``git commit`` would record) mapped to
        ``(mode, oid)``, read with ``git ls-files --stage``: nothing is written (no
        ``write-tree``, no index refresh). An index with unresolved conflicts is refused."""
        out = _git(self.top, "ls-files", "--stage", "-z", "--full-name", env=self._index_env())
        if out.returncode != 0:
            raise GateError(f"cannot read the index: {out.stderr.decode().strip()}")
        records = []
        conflicts = []
        for record in out.stdout.split(b"\0"):
            if record:
                meta, _, raw = record.partition(b"\t")
                mode, oid, stage = meta.decode().split(" ")
                path = raw.decode("utf-8", "surrogateescape")
                if stage != "0":
                    conflicts.append(path)
                else:
                    records.append((mode, oid, path))
        if conflicts:
            raise GateError(
                f"the index has unresolved conflicts ({', '.join(sorted(set(conflicts))[:5])}): "
                "resolve them and stage the result first"
            )
        empty = [path for _mode, oid, path in records if oid in _EMPTY_BLOBS]
        if empty:  # `git add -N` entries look like empty files; git commit records none
            intent = self._intent_to_add(empty)
            records = [r for r in records if r[2] not in intent]
        return _entries(records, "the index")

    def _intent_to_add(self, paths: list[str]) -> set[str]:
        """Which of ``paths`` (empty-blob index entries) are intent-to-add: new in
        ``diff-index --cached`` unless ``--ita-invisible-in-index`` hides them."""
        tree = self.head() or self.run("hash-object", "-t", "tree", os.devnull).strip()
        env = self._index_env()

        def added(*flags: str) -> set[str]:
            argv = ["--literal-pathspecs", "diff-index", "--cached", *flags, *UNBLINDED]
            argv += ["--name-only", "-z"]
            out = _git(self.top, *argv, "--diff-filter=A", tree, "--", *paths, env=env)
            if out.returncode != 0:
                raise GateError(f"cannot read the index: {out.stderr.decode().strip()}")
            return set(out.stdout.decode("utf-8", "surrogateescape").split("\0")) - {""}

        return added() - added("--ita-invisible-in-index")

    def _index_env(self) -> dict[str, str]:
        """``GIT_INDEX_FILE`` as git sets it for a pre-commit hook (``git commit -a`` or
        ``git commit PATH`` stage into a temporary index): honoured while it lies in the
        repository's git directory, refused elsewhere."""
        if self.memo.index_env is not None:
            return self.memo.index_env
        index = os.environ.get("GIT_INDEX_FILE")
        if not index:
            self.memo.index_env = {}
            return {}
        where = os.path.realpath(index)  # relative to the current directory, as git reads it
        gitdirs = {
            os.path.realpath(os.path.join(self.top, line))
            for line in self.run("rev-parse", "--git-dir", "--git-common-dir").splitlines()
        }
        if not any(os.path.commonpath([where, d]) == d for d in gitdirs):
            raise GateError(f"GIT_INDEX_FILE={index} is outside the repository's git directory")
        self.memo.index_env = {"GIT_INDEX_FILE": where}
        return self.memo.index_env

    def cat(self, oid: str) -> bytes:
        """Read one object through a long-lived ``git cat-file --batch``."""
        data = self.cat_if_exists(oid)
        if data is None:
            raise GateError(f"git cannot read object {oid}")
        return data

    def verify_tag(self, oid: str, allowed_signers: bytes) -> tuple[bool, str]:
        """``git verify-tag`` of the tag object ``oid`` against an SSH allowed-signers file's
        bytes (a private temporary file: git reads it by name), ssh-keygen pinned as the
        verifier: (trusted, git's verdict). git matches no principal against the tagger."""
        import tempfile  # not on the hooks' quick path

        with tempfile.TemporaryDirectory(prefix="promote-gate-signers.") as scratch:
            path = os.path.join(scratch, "allowed_signers")
            with open(path, "wb") as fobj:
                fobj.write(allowed_signers)
            pinned = (
                "-c",
                f"gpg.ssh.allowedSignersFile={path}",
                "-c",
                "gpg.ssh.program=ssh-keygen",
            )
            proc = _git(self.top, *pinned, "verify-tag", "--raw", oid)
        said = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if line]
        return proc.returncode == 0, "; ".join(said)[:300] or "no verdict"

    def read_at(self, commit: str, path: str, limit: int | None = None) -> bytes | None:
        """A (project-relative) file's bytes at ``commit``, or None when it has no such file."""
        return self.cat_if_exists(f"{commit}:{self.prefix}{path}", limit)

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        """The long-lived ``git cat-file --batch``'s stdin and stdout."""
        if self._owner is not None:
            return self._owner._pipes()  # noqa: SLF001 - the same class: one batch per repository
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", *_SAFE_CONFIG, "cat-file", "--batch"],
                cwd=self.top,
                env=git_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        stdin: IO[bytes] | None = self._batch.stdin
        stdout: IO[bytes] | None = self._batch.stdout
        assert stdin is not None
        assert stdout is not None
        return stdin, stdout

    def cat_if_exists(self, name: str, limit: int | None = None) -> bytes | None:
        """Read one object (an oid or ``rev:path``), or None when git has no such object.

        With ``limit``, an object larger than that is refused (DocumentError) unread."""
        if "\n" in name:  # the batch protocol is line-based: ask for this one on its own
            proc = _git(self.top, "cat-file", "blob", name)
            if limit is not None and len(proc.stdout) > limit:
                raise DocumentError(f"{name} is larger than the {limit} bytes read as a document")
            return proc.stdout if proc.returncode == 0 else None
        stdin, stdout = self._pipes()
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        line = stdout.readline()
        if not line or line.endswith((b" missing\n", b" ambiguous\n")):
            return None
        header = line.split()  # "<oid> <type> <size>": the oid, not the name asked for
        size = int(header[2])
        if limit is not None and size > limit:
            while size > 0:  # drain it: the batch stream must stay in step
                size -= len(stdout.read(min(size, 1 << 20)))
            stdout.read(1)
            raise DocumentError(f"{name} is larger than the {limit} bytes read as a document")
        data = stdout.read(size)
        stdout.read(1)
        return data

    def digest_object(self, oid: str) -> Digest | None:
        """Hash one blob as it streams out of ``git cat-file --batch`` (no size bound: content)."""
        stdin, stdout = self._pipes()
        stdin.write(oid.encode() + b"\n")
        stdin.flush()
        line = stdout.readline()
        if not line or line.endswith((b" missing\n", b" ambiguous\n")):
            return None
        size = int(line.split()[2])

        def chunks() -> Iterator[bytes]:
            left = size
            while left > 0:
                chunk = stdout.read(min(left, 1 << 20))
                if not chunk:
                    raise GateError(f"git cat-file stopped in the middle of object {oid}")
                left -= len(chunk)
                yield chunk

        from promote_gate.hashing import digest_chunks

        digest = digest_chunks(chunks())
        stdout.read(1)
        return digest

    def __enter__(self) -> Git:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._batch is not None:
            if self._batch.stdin is not None:
                self._batch.stdin.close()
            self._batch.wait()
            if self._batch.stdout is not None:
                self._batch.stdout.close()
            self._batch = None


def iter_parents(path: str) -> Iterator[str]:
    """``a/b/c`` -> ``a/b``, ``a``."""
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


def is_zero(sha: str) -> bool:
    return set(sha) == {"0"}
