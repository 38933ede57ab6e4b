"""promote_gate.hashing against dvc-data itself and against what a real ``dvc add`` records.

DVC addresses content by md5 (DVC 3), md5-dos2unix (DVC 2 entries) and ``.dir`` objects;
if promote-gate computes any of them differently, every check on a real repository
reports a modified file that DVC considers unchanged (or the reverse).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import pinned_env, run
from dvc_data.hashfile.hash import file_md5
from dvc_data.hashfile.hash_info import HashInfo
from dvc_data.hashfile.tree import Tree

from promote_gate.dvc.cache import cache_dir, cache_paths
from promote_gate.dvc.ignore import DvcIgnore
from promote_gate.dvc.lock import LockFile
from promote_gate.dvc.status import _Hasher
from promote_gate.hashing import (
    CHUNK,
    LEGACY,
    PROGRESS_MIN_BYTES,
    digest_bytes,
    digest_file,
    dir_listing,
    dir_md5,
)
from promote_gate.objects import DirectorySource, ObjectStore
from promote_gate.repo import WorktreeView

MiB = 2**20


# --------------------------------------------------------------------------- file contents

CRLF_TEXT = b"epoch,loss\r\n" + b"".join(b"%d,0.%03d\r\n" % (i, i) for i in range(200))
BINARY_WITH_CRLF = bytes(range(256)) * 4 + b"\r\n" * 64
UTF8_CRLF = "日本語のテキストの行です\r\n".encode() * 40  # >30% non-ASCII: DVC calls it binary
LARGE_CRLF_TEXT = b"0123456789abcdef,ghijklmnopqrstuv\r\n" * (5 * MiB // 35 // 2)  # ~2.5 MiB
CRLF_ON_CHUNK_BOUNDARY = b"a" * (CHUNK - 1) + b"\r\n" + b"tail line\r\n" * 100
BINARY_THEN_TEXT = b"\x00" * CHUNK + b"text after a binary chunk\r\n" * 1000
TEXT_THEN_BINARY = b"x" * (CHUNK - 2) + b"\r\n" + b"\x00\r\n" * 1000
TEXT_PROBE_THEN_NUL = b"header line\r\n" * 60 + b"\x00\r\n" * 100  # NUL after the 512-byte probe

# name -> (content, whether md5-dos2unix must differ from md5 for this content)
CONTENTS: dict[str, tuple[bytes, bool]] = {
    "crlf-text": (CRLF_TEXT, True),
    "lf-text": (CRLF_TEXT.replace(b"\r\n", b"\n"), False),
    "binary-with-crlf": (BINARY_WITH_CRLF, False),
    "utf8-crlf": (UTF8_CRLF, False),
    "large-crlf-text": (LARGE_CRLF_TEXT, True),
    "crlf-on-chunk-boundary": (CRLF_ON_CHUNK_BOUNDARY, True),
    "binary-then-text": (BINARY_THEN_TEXT, True),
    "text-then-binary": (TEXT_THEN_BINARY, True),
    "text-probe-then-nul": (TEXT_PROBE_THEN_NUL, True),
    "empty": (b"", False),
}


@pytest.mark.parametrize("name", list(CONTENTS))
def test_md5_and_md5_dos2unix_match_dvc_data(name: str, tmp_path: Path) -> None:
    data, folds = CONTENTS[name]
    path = tmp_path / name
    path.write_bytes(data)

    want_md5 = file_md5(str(path))
    want_legacy = file_md5(str(path), name="md5-dos2unix")
    for digest in (
        digest_file(str(path)),
        digest_bytes(data),
        WorktreeView(str(tmp_path)).digest(name),
    ):
        assert digest is not None
        assert digest.md5 == want_md5
        assert digest.md5_dos2unix == want_legacy
        assert digest.md5_for("md5") == want_md5
        assert digest.md5_for(LEGACY) == want_legacy
        assert digest.size == len(data)
        assert digest.sha256 == hashlib.sha256(data).hexdigest()
    # the case exercises what its name says: CRLF folded, or left alone
    assert (want_legacy != want_md5) is folds


def test_crlf_split_across_chunks_is_not_folded(tmp_path: Path) -> None:
    """dvc-data folds per 1 MiB chunk, so a CRLF straddling a chunk boundary stays as is."""
    path = tmp_path / "f"
    path.write_bytes(CRLF_ON_CHUNK_BOUNDARY)
    whole = hashlib.md5(CRLF_ON_CHUNK_BOUNDARY.replace(b"\r\n", b"\n")).hexdigest()
    per_chunk = hashlib.md5(
        CRLF_ON_CHUNK_BOUNDARY[:CHUNK] + CRLF_ON_CHUNK_BOUNDARY[CHUNK:].replace(b"\r\n", b"\n")
    ).hexdigest()
    assert file_md5(str(path), name="md5-dos2unix") == per_chunk != whole
    assert digest_file(str(path)).md5_dos2unix == per_chunk


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_large_file_on_a_terminal_hashes_the_same_and_shows_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PROGRESS_MIN_BYTES on a TTY, hashing goes through the progress bar path."""
    path = tmp_path / "huge.csv"
    line = b"0123456789abcdef,ghijklmnopqrstuv\r\n"
    path.write_bytes(line * (PROGRESS_MIN_BYTES // len(line) + 1))
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    digest = digest_file(str(path))

    assert digest.md5 == file_md5(str(path))
    assert digest.md5_dos2unix == file_md5(str(path), name="md5-dos2unix")
    assert "hashing huge.csv" in terminal.getvalue()


# --------------------------------------------------------------------------- .dir objects


@pytest.mark.parametrize(
    "relpaths",
    [
        ["a-b", "a/b", "a.b", "a b", "a0", "é.txt", "e.txt", "z/y/x/deep.bin"],
        ["b", "a/b/c/d", "a/b/c", "A", "_", "~tilde", "#hash"],
        [],
    ],
    ids=["punctuation-and-unicode", "nesting-and-case", "empty"],
)
def test_dir_md5_matches_dvc_data_tree(relpaths: list[str]) -> None:
    entries = [(rel, hashlib.md5(rel.encode()).hexdigest()) for rel in relpaths]
    tree = Tree()  # type: ignore[no-untyped-call]  # dvc-data's constructor is unannotated
    for rel, md5 in entries:
        tree.add(tuple(rel.split("/")), None, HashInfo("md5", md5))
    tree.digest()
    assert dir_listing(entries) == tree.as_bytes()
    assert dir_md5(reversed(entries)) == tree.hash_info.value


# What `dvc add data/d` sees. Names chosen so that sorting by string and by path parts
# differ ("a-b" < "a.b" < "a/b"), plus spaces, unicode and deep nesting.
DIR_FILES: dict[str, bytes] = {
    "data/d/a-b": b"dash\n",
    "data/d/a.b": b"dot\n",
    "data/d/a/b": b"slash\n",
    "data/d/a b.txt": b"space\n",
    "data/d/é.txt": b"caf\xc3\xa9\r\n",
    "data/d/#notes": b"hash sign\n",
    "data/d/nested/deeper/deepest/leaf.csv": b"x,y\r\n1,2\r\n",
    "data/d/nested/blob.bin": bytes(range(256)),
    "data/d/empty": b"",
    # excluded by .dvcignore files:
    "data/d/run.log": b"ignored by the root .dvcignore\n",
    "data/d/nested/also.log": b"ignored by the root .dvcignore\n",
    "data/d/scratch/tmp.txt": b"ignored directory\n",
    "data/d/partial.tmp": b"ignored by data/.dvcignore\n",
    # ...but re-included by a negation:
    "data/d/keep.log": b"re-included\n",
}
IGNORED = {
    "data/d/run.log",
    "data/d/nested/also.log",
    "data/d/scratch/tmp.txt",
    "data/d/partial.tmp",
}
ROOT_DVCIGNORE = "*.log\n!keep.log\nscratch/\n"
DATA_DVCIGNORE = "*.tmp\n"
SINGLE_FILES = {
    "plain.txt": b"hello\n",
    "crlf.txt": CRLF_TEXT,
    "binary.bin": BINARY_WITH_CRLF,
    "large.txt": LARGE_CRLF_TEXT,
    "empty.txt": b"",
}


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC project where `dvc add` tracked single files and a directory."""
    root = tmp_path_factory.mktemp("added") / "repo"
    root.mkdir()
    for rel, data in {**DIR_FILES, **SINGLE_FILES}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    with pinned_env(tmp_path_factory.mktemp("home")):
        run(root, "git", "init", "-q")
        run(root, "dvc", "init", "-q")
        (root / ".dvcignore").write_text(ROOT_DVCIGNORE)
        (root / "data" / ".dvcignore").write_text(DATA_DVCIGNORE)
        run(root, "dvc", "add", "-q", *SINGLE_FILES, "data/d")
    return root


def _recorded(root: Path, target: str) -> dict[str, object]:
    pointer = yaml.safe_load((root / f"{target}.dvc").read_text())
    (out,) = pointer["outs"]
    assert out["path"] == target.rsplit("/", 1)[-1]
    assert out["hash"] == "md5"
    return dict(out)


@pytest.mark.parametrize("name", list(SINGLE_FILES))
def test_file_md5_matches_dvc_add(added: Path, name: str) -> None:
    out = _recorded(added, name)
    digest = WorktreeView(str(added)).digest(name)
    assert digest is not None
    assert (digest.md5, digest.size) == (out["md5"], out["size"])


def _listed_as_the_package_does(root: Path, path: str) -> list[tuple[str, str]]:
    """The file listing of ``_Hasher.current``: the view's files minus .dvcignore'd ones."""
    view = WorktreeView(str(root))
    ignore = DvcIgnore(view)
    pairs = []
    for entry in view.files_under(path):
        if entry.kind == "file" and not ignore.ignored(entry.path):
            digest = view.digest(entry.path)
            assert digest is not None
            pairs.append((entry.path[len(path) + 1 :], digest.md5))
    return pairs


def test_dir_md5_matches_dvc_add(added: Path) -> None:
    out = _recorded(added, "data/d")
    pairs = _listed_as_the_package_does(added, "data/d")

    assert dir_md5(pairs) == out["md5"]
    assert len(pairs) == out["nfiles"]
    assert sum(len(DIR_FILES[f"data/d/{rel}"]) for rel, _ in pairs) == out["size"]
    # the .dir object DVC wrote to the cache is byte for byte the listing we build
    (cached,) = [
        p for p in cache_paths(cache_dir(str(added)), str(out["md5"])) if os.path.isfile(p)
    ]
    assert dir_listing(pairs) == Path(cached).read_bytes()


def test_dvcignore_excludes_what_dvc_excludes(added: Path) -> None:
    out = _recorded(added, "data/d")
    md5 = str(out["md5"])
    (cached,) = [p for p in cache_paths(cache_dir(str(added)), md5) if os.path.isfile(p)]
    dvc_relpaths = {entry["relpath"] for entry in json.loads(Path(cached).read_bytes())}

    ours = {rel for rel, _ in _listed_as_the_package_does(added, "data/d")}
    assert ours == dvc_relpaths
    # the ignore rules really were exercised: those files exist but neither side lists them
    assert all((added / rel).is_file() for rel in IGNORED)
    assert {f"data/d/{rel}" for rel in dvc_relpaths} == set(DIR_FILES) - IGNORED


def test_status_hasher_reports_the_recorded_dir_md5(added: Path) -> None:
    """The hash pipeline_status computes for a directory dep/out is the one DVC recorded."""
    out = _recorded(added, "data/d")
    store = ObjectStore([DirectorySource(cache_dir(str(added)), "the DVC cache")])
    hasher = _Hasher(WorktreeView(str(added)), LockFile({}, {}), store)
    assert hasher.current("data/d", "md5") == (out["md5"], None)
    for name in SINGLE_FILES:
        assert hasher.current(name, "md5") == (_recorded(added, name)["md5"], None)


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


@pytest.mark.parametrize(
    ("change", "dvc_sees_it"),
    [
        (lambda root: _write(root, "data/d/new.log", b"ignored\n"), False),
        (lambda root: _write(root, "data/d/scratch/more.txt", b"ignored\n"), False),
        (lambda root: _write(root, "data/d/new.txt", b"counted\n"), True),
        (lambda root: _write(root, "data/d/a.b", b"changed\n"), True),
    ],
    ids=["ignored-file", "ignored-dir", "new-file", "changed-file"],
)
def test_changes_under_dvcignore_are_seen_as_dvc_sees_them(
    added: Path, tmp_path: Path, change: Callable[[Path], None], dvc_sees_it: bool
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(added, root, symlinks=True)
    before = dir_md5(_listed_as_the_package_does(root, "data/d"))
    change(root)
    after = dir_md5(_listed_as_the_package_does(root, "data/d"))
    status = json.loads(run(root, "dvc", "status", "--json", "data/d.dvc"))
    assert bool(status) is dvc_sees_it, status
    assert (after != before) is dvc_sees_it


def _reference(chunks: list[bytes]) -> tuple[str, str, str]:
    """The three hashes one after the other, each over every chunk: what the single pass
    (md5 on a side thread, md5-dos2unix forked from md5 at the first CRLF text chunk) must
    equal."""
    import hashlib

    from promote_gate.hashing import TEXT_PROBE, _is_text_block

    md5, sha, legacy = hashlib.md5(), hashlib.sha256(), hashlib.md5()
    for chunk in chunks:
        md5.update(chunk)
        sha.update(chunk)
        text = _is_text_block(chunk[:TEXT_PROBE])
        legacy.update(chunk.replace(b"\r\n", b"\n") if text else chunk)
    return md5.hexdigest(), sha.hexdigest(), legacy.hexdigest()


_PIECES = [b"a,b\r\n", b"x\n", b"\x00\x01\xff", b"\r\n", b"\r", b"plain text "]


@pytest.mark.parametrize(
    "layout",
    [
        ["b", "b", "t"],  # binary, then a CRLF text chunk: the fork comes late
        ["t", "b", "t"],
        ["n", "t", "b"],  # text without CRLF first: still identical to md5
        ["b", "b", "b"],
        ["big-t", "big-b", "big-t"],  # chunks the side thread takes
    ],
)
def test_single_pass_equals_three_passes(layout: list[str]) -> None:
    import random

    from promote_gate.hashing import SIDE_MIN, digest_chunks

    rng = random.Random(len(layout))  # noqa: S311 - reproducible test data
    chunks = []
    for kind in layout:
        size = SIDE_MIN * 2 if kind.startswith("big") else 4096
        if kind.endswith("b"):
            chunks.append(bytes(rng.randrange(256) for _ in range(64)) + b"\0\r\n" * (size // 3))
        elif kind.endswith("t"):
            chunks.append(b"".join(rng.choice(_PIECES[:2] + _PIECES[3:]) for _ in range(size // 4)))
        else:
            chunks.append(b"no carriage returns\n" * (size // 20))
    got = digest_chunks(chunks)
    assert (got.md5, got.sha256, got.md5_dos2unix) == _reference(chunks)
    assert got.size == sum(map(len, chunks))
