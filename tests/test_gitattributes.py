"""promote_gate.gitattributes against real ``git check-attr`` on a checkout of the commit.

Each case commits its ``.gitattributes`` files, clones the commit (a fresh checkout) and asks git
about several paths, with named attributes and with ``-a``. ``Attributes`` reads the same
commit through ``git cat-file`` and must answer the same for every path. A case that differs
means the gate would misjudge which files git rewrites on checkout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from promote_gate.gitattributes import (
    BYTE_CHANGING,
    MAX_FILE_BYTES,
    MAX_LINES,
    MAX_STAR_RUNS,
    Attributes,
    Reader,
)

GA = ".gitattributes"
NO_FILES: dict[str, bytes] = {}


@dataclass(frozen=True)
class Case:
    id: str
    files: Mapping[str, bytes]
    paths: tuple[str, ...]
    names: tuple[str, ...] = ()  # attributes to ask about beyond BYTE_CHANGING
    expect: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # facts to spell out
    symlinks: Mapping[str, str] = field(default_factory=dict)


CASES = [
    Case(
        "eol-crlf-everywhere",
        {GA: b"* eol=crlf\n"},
        ("a.txt", "dir/b.bin", "deep/er/x", ".hidden"),
        expect={"deep/er/x": {"eol": "crlf", "text": "unspecified"}},
    ),
    Case(
        "md-text",
        {GA: b"*.md text\n"},
        ("README.md", "docs/guide.md", "notes.MD", "md", "a.md/b", "x.md.bak"),
        expect={"docs/guide.md": {"text": "set"}, "a.md/b": {"text": "unspecified"}},
    ),
    Case(
        "text-auto", {GA: b"* text=auto\n"}, ("a", "b/c.png"), expect={"b/c.png": {"text": "auto"}}
    ),
    Case(
        "publish-starstar-lfs",
        {GA: b"publish/** filter=lfs diff=lfs merge=lfs -text\n"},
        ("publish/v1/model.pkl", "publish/a", "publish", "publish/", "sub/publish/x", "publishx/a"),
        names=("diff", "merge"),
        expect={
            "publish/v1/model.pkl": {"filter": "lfs", "text": "unset"},
            "sub/publish/x": {"filter": "unspecified"},
        },
    ),
    Case(
        "directory-pattern-not-inside",
        {GA: b"publish filter=x\n"},
        ("publish", "publish/", "publish/v1/x", "publish/x", "a/publish", "a/publish/b"),
        expect={"publish/v1/x": {"filter": "unspecified"}, "a/publish": {"filter": "x"}},
    ),
    Case(
        "anchored-one-level",
        {GA: b"/publish/v1/* ident\n"},
        ("publish/v1/a", "publish/v1/a/b", "x/publish/v1/a", "publish/v1"),
        expect={"publish/v1/a": {"ident": "set"}, "publish/v1/a/b": {"ident": "unspecified"}},
    ),
    Case(
        "nested-files-override-root",
        {
            GA: b"*.csv eol=lf text\n* filter=root\n",
            "data/" + GA: b"*.csv eol=crlf -text\n",
            "data/raw/" + GA: b"*.csv !eol\nsub/* filter=raw\n",
        },
        ("a.csv", "data/b.csv", "data/raw/c.csv", "data/raw/d/e.csv", "data/raw/sub/f", "data/x"),
        expect={
            "data/b.csv": {"eol": "crlf", "text": "unset"},
            "data/raw/c.csv": {"eol": "unspecified", "text": "unset"},
        },
    ),
    Case(
        "bang-resets",
        {GA: b"* eol=crlf text\n*.bin !eol !text\n"},
        ("a.txt", "b.bin", "c/d.bin"),
        expect={"b.bin": {"eol": "unspecified", "text": "unspecified"}},
    ),
    Case(
        "unset-text",
        {GA: b"* text\n*.dat -text\n"},
        ("a.dat", "b/c.dat", "d.txt"),
        expect={"a.dat": {"text": "unset"}},
    ),
    Case(
        "binary-macro",
        {
            GA: b"* diff=default\n*.png binary\n*.ico -binary\n*.gif binary=1\n"
            b"*.a text binary\n*.b binary text\n"
        },
        ("x.png", "y.ico", "z.gif", "w.a", "v.b", "img/u.png"),
        names=("binary", "diff", "merge"),
        expect={
            "x.png": {"binary": "set", "text": "unset", "diff": "unset"},
            "y.ico": {"binary": "unset", "text": "unspecified", "diff": "default"},
            "v.b": {"text": "set"},
        },
    ),
    Case(
        "custom-macro-in-root",
        {GA: b"[attr]release text eol=lf\n*.cfg release\n*.off -release\n"},
        ("a.cfg", "b/c.cfg", "d.off"),
        names=("release",),
        expect={"b/c.cfg": {"release": "set", "text": "set", "eol": "lf"}},
    ),
    Case(
        "macro-line-in-subdirectory-ignored",
        {
            GA: b"[attr]release text eol=lf\n",
            "sub/" + GA: b"[attr]release ident\n[attr]local -text\n*.ini release\n*.x local\n",
        },
        ("sub/a.ini", "sub/b.x", "a.ini"),
        names=("release", "local"),
        expect={
            "sub/a.ini": {"release": "set", "text": "set", "ident": "unspecified"},
            "sub/b.x": {"local": "set", "text": "unspecified"},
        },
    ),
    Case(
        "binary-macro-redefined-in-root",
        {GA: b"[attr]binary -text ident\n*.bin binary\n"},
        ("a.bin",),
        names=("binary", "diff"),
        expect={"a.bin": {"ident": "set", "diff": "unspecified"}},
    ),
    Case(
        "working-tree-encoding",
        {
            GA: b"*.txt working-tree-encoding=UTF-16\n*.ps1 working-tree-encoding=UTF-16LE eol=crlf\n"
        },
        ("a.txt", "s/b.ps1", "c.md"),
        expect={"a.txt": {"working-tree-encoding": "UTF-16"}},
    ),
    Case(
        "legacy-crlf",
        {GA: b"*.txt crlf\n*.bin -crlf\n*.in crlf=input\n"},
        ("a.txt", "b.bin", "c.in", "d"),
        expect={"b.bin": {"crlf": "unset"}, "c.in": {"crlf": "input"}},
    ),
    Case(
        "quoted-patterns",
        {
            GA: b'"with space.txt" text\n"dir with space/**" eol=lf\n"tab\\there" ident\n'
            b'"\\303\\251t\\303\\251.md" filter=oct\n"bad\\q" text\n"a\\"b" crlf\n'
        },
        ("with space.txt", "dir with space/x", "tab\there", "\u00e9t\u00e9.md", 'a"b', "with"),
        expect={"with space.txt": {"text": "set"}, "\u00e9t\u00e9.md": {"filter": "oct"}},
    ),
    Case(
        "leading-starstar",
        {GA: b"**/x eol=lf\n"},
        ("x", "a/x", "a/b/x", "a/x/y", "ax", "a/bx"),
        expect={"a/b/x": {"eol": "lf"}, "a/x/y": {"eol": "unspecified"}},
    ),
    Case(
        "inner-starstar",
        {GA: b"a/**/b ident\nx/a**/b text\n"},
        ("a/b", "a/x/b", "a/x/y/b", "a/b/c", "xa/b", "x/aQ/R/b", "x/a/b"),
        expect={"a/x/y/b": {"ident": "set"}, "a/b": {"ident": "set"}},
    ),
    Case(
        "character-classes",
        {
            GA: b"[abc].txt text\nfile[0-9].md ident\n[!x]y eol=lf\n[[:upper:]]*.c filter=up\n"
            b"[]]z crlf\n[a-]w working-tree-encoding=X\n[[:digit:][:space:]]v text=cls\n"
        },
        (
            "a.txt",
            "d.txt",
            "file7.md",
            "filex.md",
            "zy",
            "xy",
            "Main.c",
            "main.c",
            "]z",
            "-w",
            "1v",
            " v",
        ),
        expect={"a.txt": {"text": "set"}, "xy": {"eol": "unspecified"}},
    ),
    Case(
        "question-mark",
        {GA: b"?.txt text\nd?r/x ident\n"},
        ("a.txt", "ab.txt", "dar/x", "d/r/x", "sub/b.txt"),
        expect={"d/r/x": {"ident": "unspecified"}, "dar/x": {"ident": "set"}},
    ),
    Case(
        "escaped-hash-and-bang",
        {GA: b"\\#notes text\n#comment text\n \t# indented comment eol=lf\n\\!important ident\n"},
        ("#notes", "#comment", "!important", "important"),
        expect={"#notes": {"text": "set"}, "#comment": {"text": "unspecified"}},
    ),
    Case(
        "trailing-slash",
        {GA: b"build/ -text\nout/ eol=lf\n"},
        ("build", "build/", "build/x", "a/out/", "a/out"),
        expect={"build": {"text": "unspecified"}, "build/": {"text": "unset"}},
    ),
    Case(
        "negative-pattern-ignored",
        {GA: b"*.txt text\n!keep.txt -text\n"},
        ("keep.txt", "other.txt"),
        expect={"keep.txt": {"text": "set"}},
    ),
    Case(
        "case-sensitive",
        {GA: b"*.JPG -text\nREADME text\n"},
        ("a.jpg", "a.JPG", "readme", "README", "docs/README"),
        expect={"a.jpg": {"text": "unspecified"}, "a.JPG": {"text": "unset"}},
    ),
    Case(
        "non-ascii",
        {
            GA: "caf\u00e9/** eol=crlf\n*.\u00e9 text\ncaf? ident\ncaf?? filter=two\n"
            "\u65e5\u672c/*.md text\nna\u00efve.txt -text\n".encode()
        },
        (
            "caf\u00e9/x",
            "caf\u00e9",
            "cafe",
            "a.\u00e9",
            "\u65e5\u672c/\u8a9e.md",
            "na\u00efve.txt",
        ),
        expect={"caf\u00e9": {"ident": "unspecified", "filter": "two"}},
    ),
    Case(
        "later-lines-win",
        {GA: b"*.txt eol=lf\n*.txt eol=crlf\n*.txt text -text\n*.md -text text\n"},
        ("a.txt", "b.md"),
        expect={"a.txt": {"eol": "crlf", "text": "unset"}, "b.md": {"text": "set"}},
    ),
    Case(
        "subdirectory-relative-patterns",
        {GA: b"x filter=root\n", "sub/" + GA: b"/x ident\ny/z eol=lf\n*.c text\n"},
        ("sub/x", "x", "sub/a/x", "sub/y/z", "y/z", "sub/a/b.c"),
        expect={
            "sub/a/x": {"ident": "unspecified", "filter": "root"},
            "y/z": {"eol": "unspecified"},
        },
    ),
    Case(
        "file-syntax",
        {
            GA: b"\xef\xbb\xbf*.a text\r\n*.b\ttext\t eol=lf\r\n*.c a=b=c -d=1 eol=\n"
            b"*.d ident bad*name\n*.e text\x00 eol=lf\n*.f " + b"x" * 2048 + b" text\n"
            b"*.g -\n*.h crlf"
        },
        ("x.a", "x.b", "x.c", "x.d", "x.e", "x.f", "x.g", "x.h"),
        names=("a", "d", "x"),
        expect={
            "x.a": {"text": "set"},
            "x.d": {"ident": "unspecified"},
            "x.f": {"text": "unspecified"},
        },
    ),
    Case(
        "long-names-no-blowup",
        {GA: b"*a*a*a*a*a*a*a*a*a*a*b text\ndeep/**/*a*a*a*a*c ident\n"},
        ("a" * 200, "deep/" + "/".join(["aaaa"] * 30), "x/" + "a" * 100 + "b"),
        expect={"x/" + "a" * 100 + "b": {"text": "set"}},
    ),
    Case(
        "symlinked-gitattributes",
        {},
        ("d/a.x", "d/a.y", "a.x"),
        symlinks={"d/" + GA: "*.x ident"},
        # git will not follow it in the work tree and reads the blob: the link text
        expect={"d/a.x": {"ident": "set"}},
    ),
]


@dataclass
class Checkout:
    source: Path
    clone: Path
    env: dict[str, str]


def _git(cwd: Path, env: Mapping[str, str], *args: str) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, env=dict(env), capture_output=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}"
    return proc.stdout


def _oracle_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIT_") or k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))
    }
    env.update(GIT_CONFIG_NOSYSTEM="1", HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return env


def _commit_and_clone(tmp_path: Path, case: Case) -> Checkout:
    env = _oracle_env(tmp_path)
    source = tmp_path / "source"
    _git(tmp_path, env, "init", "-q", str(source))
    (source / "README").write_bytes(b"cases\n")
    for rel, data in case.files.items():
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for rel, link in case.symlinks.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).symlink_to(link)
    _git(source, env, "add", "-A")
    _git(source, env, "commit", "-q", "-m", case.id)
    clone = tmp_path / "checkout"
    _git(tmp_path, env, "clone", "-q", str(source), str(clone))
    # only the committed files may count: no global or repository attribute files
    unset = subprocess.run(
        ["git", "config", "--get", "core.attributesFile"],
        cwd=clone,
        env=env,
        check=False,
        capture_output=True,
    )
    assert unset.returncode == 1, unset.stdout
    assert not (clone / ".git" / "info" / "attributes").exists()
    return Checkout(source, clone, env)


def _check_attr(
    checkout: Checkout, args: list[str], paths: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    raw = [p.encode("utf-8", "surrogateescape") for p in paths]
    proc = subprocess.run(
        [b"git", b"check-attr", b"-z", *(a.encode() for a in args), b"--", *raw],
        cwd=checkout.clone,
        env=checkout.env,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    fields = proc.stdout.split(b"\0")[:-1]
    result: dict[str, dict[str, str]] = {p: {} for p in paths}
    for i in range(0, len(fields), 3):
        path, name, value = (f.decode("utf-8", "surrogateescape") for f in fields[i : i + 3])
        result[path][name] = value
    return result


def _commit_reader(checkout: Checkout, calls: list[str]) -> Reader:
    """Read the commit's blobs, as the gate's commit view does (a symlink's blob is its target)."""
    listing = _git(checkout.source, checkout.env, "ls-tree", "-r", "-z", "HEAD")
    blobs = {}
    for entry in listing.split(b"\0")[:-1]:
        meta, path = entry.split(b"\t", 1)
        _mode, kind, oid = meta.split()
        if kind == b"blob":
            blobs[path.decode("utf-8", "surrogateescape")] = oid.decode()

    def read(path: str) -> bytes | None:
        calls.append(path)
        oid = blobs.get(path)
        return None if oid is None else _git(checkout.source, checkout.env, "cat-file", "blob", oid)

    return read


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_attributes_as_git_check_attr(tmp_path: Path, case: Case) -> None:
    checkout = _commit_and_clone(tmp_path, case)
    everything = _check_attr(checkout, ["-a"], case.paths)
    names = list(
        dict.fromkeys([*BYTE_CHANGING, *case.names, *(n for d in everything.values() for n in d)])
    )
    named = _check_attr(checkout, names, case.paths)
    calls: list[str] = []
    attributes = Attributes(_commit_reader(checkout, calls))

    ours = {path: attributes.lookup(path, names) for path in case.paths}

    assert ours == named
    assert {
        p: {n: v for n, v in d.items() if v != "unspecified"} for p, d in ours.items()
    } == everything
    assert any(everything.values()), "a case where nothing applies tests nothing"
    for path, facts in case.expect.items():
        assert {n: ours[path][n] for n in facts} == facts, path
    assert len(calls) == len(set(calls)), "each directory's .gitattributes is read once"


def test_reads_each_directory_once_and_only_on_the_path() -> None:
    calls: list[str] = []
    files = {GA: b"* text\n", "a/b/" + GA: b"*.c -text\n"}

    def read(path: str) -> bytes | None:
        calls.append(path)
        return files.get(path)

    attributes = Attributes(read)
    assert attributes.lookup("a/b/x.c", ["text"]) == {"text": "unset"}
    assert attributes.lookup("a/b/y.c", ["text"]) == {"text": "unset"}
    assert attributes.lookup("a/z", ["text"]) == {"text": "set"}
    assert sorted(calls) == [GA, "a/" + GA, "a/b/" + GA]


def test_default_names_are_the_byte_changing_attributes() -> None:
    attributes = Attributes({GA: b"* eol=crlf filter=lfs diff=lfs\n"}.get)
    assert attributes.lookup("x") == {
        "text": "unspecified",
        "eol": "crlf",
        "crlf": "unspecified",
        "filter": "lfs",
        "ident": "unspecified",
        "working-tree-encoding": "unspecified",
    }


def test_oversized_file_is_refused_naming_it() -> None:
    big = b"# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    attributes = Attributes({"data/" + GA: big}.get)
    assert attributes.lookup("x") == dict.fromkeys(BYTE_CHANGING, "unspecified")
    with pytest.raises(ValueError, match=r"data/\.gitattributes is \d+ bytes"):
        attributes.lookup("data/x")


def test_too_many_lines_are_refused_naming_the_file() -> None:
    attributes = Attributes({GA: b"\n" * (MAX_LINES + 1)}.get)
    with pytest.raises(ValueError, match=r"\.gitattributes has \d+ lines"):
        attributes.lookup("x")


def test_too_many_wildcards_in_a_pattern_are_refused() -> None:
    attributes = Attributes({GA: b"# ok\n" + b"*a" * (MAX_STAR_RUNS + 1) + b" text\n"}.get)
    with pytest.raises(ValueError, match=r"\.gitattributes:2: a pattern with 65 '\*'"):
        attributes.lookup("x")


def test_pattern_too_expensive_to_match_is_refused() -> None:
    # git itself takes seconds on this pair (its matcher is polynomial in the number of stars)
    attributes = Attributes({"d/" + GA: b"x text\n*a*b*c*d*e*z ident\n"}.get)
    with pytest.raises(ValueError, match=r"d/\.gitattributes:2: matching 'd/abcde"):
        attributes.lookup("d/" + "abcde" * 800 + "x")


@pytest.mark.parametrize(
    "path", ["", "/abs", "a//b", "./a", "a/../b", "a/.", "nul\0byte", "x" * 5000]
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match=r"path|repository-relative"):
        Attributes(NO_FILES.get).lookup(path)


def test_attribute_names_are_checked() -> None:
    attributes = Attributes(NO_FILES.get)
    with pytest.raises(ValueError, match="not a valid attribute name"):
        attributes.lookup("x", ["-text"])
    with pytest.raises(TypeError):
        attributes.lookup("x", "text")
