"""Property-based: whatever a bundle or repository holds, the gate answers 0, 1 or 2.

Generated manifests, SHA256SUMS text, report front matter and YAML/JSON/TOML documents (deep
nesting, huge numbers, NaN/Infinity, duplicate keys, aliases and merge keys, tags, non-UTF-8
bytes) are written into a copy of a real promoted bundle — the demo project, built once per
session — and judged by ``verify`` and ``check`` in-process (``promote_gate.cli.main``).
Every answer must be an exit code of 0, 1 or 2 with no traceback, no "internal error" and no
rule crashing on a programming error, within a time and memory bound.

The budget is fixed (``max_examples`` per test, derandomised): about half a minute on two
cores. ``HYPOTHESIS_PROFILE=explore`` runs a random, larger search.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import commit_all  # type: ignore[import-not-found, unused-ignore]
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from promote_gate.cli import main
from promote_gate.commands.demo import resum

# Hypothesis keeps caches in ./.hypothesis: not in the checkout, which tests only read.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "promote-gate-hypothesis")
# the autouse `isolate` fixture pins the environment once per test; that holds for every example
_COMMON: dict[str, Any] = {
    # a bound that catches a hang, not a timing: the suite may share two cores with much else
    "deadline": timedelta(seconds=180),
    "database": None,  # nothing written into the checkout
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}
settings.register_profile("budget", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("explore", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "budget"))

BUNDLE = Path("publish", "v1")
MEMORY_BOUND_KB = 2 * 2**20  # the peak resident size of this process, in KiB (ru_maxrss)
# a rule that crashes on a programming error is an internal error in disguise
_RULE_CRASH = re.compile(
    r"could not run: (TypeError|KeyError|AttributeError|IndexError|ValueError|AssertionError|"
    r"RecursionError|UnicodeError|UnicodeDecodeError|UnicodeEncodeError|OverflowError|"
    r"ZeroDivisionError|NameError|UnboundLocalError)\b"
)


# --------------------------------------------------------------------------- the bundle


@pytest.fixture(scope="module")
def pristine(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repository, promoted v1 committed, copied once for this module."""
    root = tmp_path_factory.mktemp("properties")
    shutil.copytree(template, root / "repo", symlinks=True)
    return root / "repo"


@contextlib.contextmanager
def workspace(pristine: Path) -> Iterator[Path]:
    """A private copy of the repository for one example, removed afterwards."""
    top = Path(tempfile.mkdtemp(dir=pristine.parent))
    try:
        yield Path(shutil.copytree(pristine, top / "repo", symlinks=True))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def gate(*argv: str) -> tuple[int, str]:
    """``promote-gate ARGV`` in-process: (exit code, stdout + stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue() + err.getvalue()


def assert_answers(code: int, text: str) -> None:
    assert code in {0, 1, 2}, (code, text)
    assert "Traceback" not in text, text
    assert "internal error" not in text, text
    assert not _RULE_CRASH.search(text), text
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak < MEMORY_BOUND_KB, f"peak resident size {peak} KiB"


def judge_bundle(repo: Path, *, rev: bool = False) -> None:
    """verify the bundle, check the working tree and, with ``rev``, the committed tree."""
    assert_answers(*gate("verify", str(repo / BUNDLE)))
    assert_answers(*gate("check", "--repo", str(repo)))
    if rev:
        commit_all(repo, "generated")
        assert_answers(*gate("check", "--repo", str(repo), "--rev", "HEAD"))


# --------------------------------------------------------------------------- documents

DEEP = (10, 199, 201, 1_000, 100_000)
HUGE_DIGITS = (20, 400, 4_300, 4_301, 10_000)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**n for n in (19, 20, 308, 309, 4_299)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)


def _nest(text_open: str, text_close: str, middle: str, depth: int) -> str:
    return text_open * depth + middle + text_close * depth


def _toml_value(value: Any) -> str:
    """TOML for a value (NaN and infinities too); a None or odd key may make it invalid TOML,
    which is another input like any other."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    return json.dumps(value)


def _toml(value: Any) -> str:
    table = value if isinstance(value, dict) else {"value": value}
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in table.items())


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


json_docs = values.map(lambda v: json.dumps(v, allow_nan=True))  # NaN, Infinity: not JSON
yaml_docs = values.map(_yaml)
toml_docs = values.map(_toml)
duplicate_keys = st.tuples(st.text(max_size=6), values, values).flatmap(
    lambda t: st.sampled_from(
        [
            f"{{{json.dumps(t[0])}: {json.dumps(t[1])}, {json.dumps(t[0])}: {json.dumps(t[2])}}}",
            f"{json.dumps(t[0])}: {json.dumps(t[1])}\n{json.dumps(t[0])}: {json.dumps(t[2])}\n",
            f"{json.dumps(t[0])} = 1\n{json.dumps(t[0])} = 2\n",
        ]
    )
)
deep_docs = st.tuples(
    st.sampled_from(DEEP), st.sampled_from(["[]", "{}", "yaml-block", "toml"])
).map(
    lambda t: {
        "[]": _nest("[", "]", "1", t[0]),
        "{}": _nest('{"a": ', "}", "1", t[0]),
        "yaml-block": "".join(" " * i + "k:\n" for i in range(min(t[0], 5_000))) + "  v\n",
        "toml": "a = " + _nest("{b = ", "}", "1", t[0]),
    }[t[1]]
)
huge_numbers = st.tuples(
    st.sampled_from(HUGE_DIGITS), st.sampled_from(["json", "yaml", "toml"])
).map(
    lambda t: {
        "json": '{"a": ' + "9" * t[0] + ", " + '"b": 1e' + "9" * min(t[0], 400) + "}",
        "yaml": "a: " + "9" * t[0] + "\nb: 0x" + "f" * t[0] + "\nc: 1e" + "9" * min(t[0], 400),
        "toml": "a = " + "9" * t[0] + "\nb = 1e" + "9" * min(t[0], 400),
    }[t[1]]
)
yaml_specials = st.sampled_from(
    [
        "a: &x [1, 2]\nb: *x\nc: {<<: {d: 1}, e: 2}\n",
        "a: &a {x: 1}\nb: {<<: [*a, *a, *a]}\n",
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x, y}\n",
        "a: 2026-11-27T14:21:52Z\nb: !!timestamp 2001-12-14\n",
        "a: !!omap [x: 1]\n",
        "---\na: 1\n---\nb: 2\n",
        "? [1, 2]\n: x\n",
        "a: .nan\nb: -.inf\nc: 0o777\nd: 1_000\ne: yes\n",
        "%YAML 1.1\n---\na: 1\n",
        "a: *undefined\n",
        "!!map {a: 1}",
        "a: 'unterminated\n",
        "\t- tab\n",
    ]
)
raw_bytes = st.one_of(
    st.binary(max_size=256),
    st.sampled_from(
        [b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}", b"\xef\xbb\xbf\xef\xbb\xbf{}", b"{}\x00", b""]
    ),
)

texts = st.one_of(
    json_docs,
    yaml_docs,
    toml_docs,
    duplicate_keys,
    deep_docs,
    huge_numbers,
    yaml_specials,
)
documents = st.one_of(
    texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    raw_bytes,
    st.tuples(texts, st.binary(min_size=1, max_size=4)).map(  # a valid document, one bad byte
        lambda t: t[0].encode("utf-8", "surrogatepass") + b"\xc3" + t[1]
    ),
)

BUNDLE_DOCUMENTS = (
    "manifest.json",
    "params.yaml",
    "metrics.json",
    "lock.yaml",
    "report.md",
    "SHA256SUMS",
    "model.json.dvc",
)
REPOSITORY_DOCUMENTS = (
    ".promote-gate.yaml",
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    "eval/metrics.json",
    ".dvc/config",
)


# --------------------------------------------------------------------------- properties


@given(name=st.sampled_from(BUNDLE_DOCUMENTS), data=documents, checksums=st.booleans())
def test_any_bundle_document(pristine: Path, name: str, data: bytes, checksums: bool) -> None:
    with workspace(pristine) as repo:
        (repo / BUNDLE / name).write_bytes(data)
        if checksums and name != "SHA256SUMS":
            resum(repo / BUNDLE)  # as a forger would: past PG106, into the rules behind it
        judge_bundle(repo)


@given(name=st.sampled_from(REPOSITORY_DOCUMENTS), data=documents)
def test_any_repository_document(pristine: Path, name: str, data: bytes) -> None:
    with workspace(pristine) as repo:
        (repo / name).write_bytes(data)
        judge_bundle(repo, rev=True)


@example(data=("a = " + "9" * 4_301).encode())
@given(data=st.one_of(toml_docs, deep_docs, huge_numbers, duplicate_keys).map(str.encode))
def test_any_pyproject(pristine: Path, data: bytes) -> None:
    """pyproject.toml is the configuration when .promote-gate.yaml is absent."""
    with workspace(pristine) as repo:
        (repo / ".promote-gate.yaml").unlink()
        (repo / "pyproject.toml").write_bytes(
            b'[tool.promote-gate]\npublish_root = "publish"\n\n[tool.other]\n' + data
        )
        judge_bundle(repo, rev=True)


# ---- manifests: the real one, mutated field by field

_DELETE = object()
hexes = st.text("0123456789abcdef", min_size=1, max_size=70)
paths = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "model.json",
            "MODEL.json",
            "./model.json",
            "model.json/",
            "../../etc/passwd",
            "/etc/passwd",
            "a\\b",
            "C:x",
            "é" * 130,
            "x\nPG999",
            "::stop-commands::x",
            "",
        ]
    ),
)
file_entries = st.fixed_dictionaries(
    {},
    optional={
        "path": paths | values,
        "md5": hexes | values,
        "sha256": hexes | values,
        "size": st.integers() | st.floats(allow_nan=True, allow_infinity=True) | values,
        "storage": st.sampled_from(["git", "dvc", "s3"]) | values,
        "source": st.fixed_dictionaries({"stage": st.text(max_size=8), "path": paths}) | values,
    },
)
manifest_changes = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "schema",
                "version",
                "created",
                "source",
                "files",
                "params",
                "metrics",
                "lock",
                "report",
                "checksums",
                "extra",
            ]
        ),
        st.one_of(
            st.just(_DELETE),
            values,
            paths,
            st.lists(file_entries, max_size=3),
            st.fixed_dictionaries({"commit": hexes, "dvc_lock_sha256": hexes}),
        ),
    ),
    min_size=1,
    max_size=3,
)


def _mutated(manifest: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(manifest))
    for key, value in changes:
        if value is _DELETE:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


@given(changes=manifest_changes, extend=st.lists(file_entries, max_size=2))
def test_any_manifest(pristine: Path, changes: list[tuple[str, Any]], extend: list[Any]) -> None:
    with workspace(pristine) as repo:
        path = repo / BUNDLE / "manifest.json"
        doc = _mutated(json.loads(path.read_text()), changes)
        if isinstance(doc.get("files"), list):
            doc["files"] = [*doc["files"], *extend]
        path.write_text(json.dumps(doc, allow_nan=True, indent=2) + "\n")
        resum(repo / BUNDLE)
        judge_bundle(repo, rev=True)


# ---- SHA256SUMS: its real lines, rearranged and mutated


def _sums_line(real: list[str]) -> st.SearchStrategy[str]:
    good = st.sampled_from(real)
    return st.one_of(
        good,
        st.tuples(hexes, paths).map(lambda t: f"{t[0]}  {t[1]}"),
        st.tuples(good, st.sampled_from([" *", " ", "\t", "  ./", "   "])).map(
            lambda t: t[0][:64] + t[1] + t[0][66:]
        ),
        good.map(lambda line: "\\" + line),
        good.map(lambda line: line.upper()),
        good.map(lambda line: f"SHA256 ({line[66:]}) = {line[:64]}"),
        st.sampled_from(["", " ", "#", "\r", "\f", "\x00", "-" * 10_000]),
    )


@given(data=st.data())
def test_any_sha256sums(pristine: Path, data: st.DataObject) -> None:
    real = (pristine / BUNDLE / "SHA256SUMS").read_text().splitlines()
    lines = data.draw(st.lists(_sums_line(real), max_size=10))
    end = data.draw(st.sampled_from(["\n", "\r\n", "", "\f", "\u2028", "\x85"]))
    with workspace(pristine) as repo:
        (repo / BUNDLE / "SHA256SUMS").write_text(end.join(lines) + end, encoding="utf-8")
        judge_bundle(repo, rev=True)


# ---- report front matter


def _front_and_body(text: str) -> tuple[str, str]:
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    assert match is not None
    return match.group(1), match.group(2)


front_matters = st.one_of(
    yaml_docs,
    yaml_specials,
    deep_docs,
    huge_numbers,
    duplicate_keys,
    st.text(max_size=64),
    values.map(lambda v: _yaml({"format": "promote-gate/report/1", "params": v, "metrics": v})),
)


@given(
    front=front_matters,
    fence=st.sampled_from(["---", "...", "--- ", "----"]),
    checksums=st.booleans(),
)
def test_any_report_front_matter(pristine: Path, front: str, fence: str, checksums: bool) -> None:
    with workspace(pristine) as repo:
        report = repo / BUNDLE / "report.md"
        _, body = _front_and_body(report.read_text())
        report.write_text(
            f"---\n{front}\n{fence}\n{body}", encoding="utf-8", errors="surrogatepass"
        )
        if checksums:
            resum(repo / BUNDLE)
        judge_bundle(repo, rev=True)


# ---- the property is not vacuous


def test_the_property_sees_a_crash() -> None:
    """What the gate must never answer fails the property."""
    for code, text in (
        (1, "  PG102 file-missing  the rule could not run: KeyError: 'files'"),
        (2, "promote-gate: error: internal error: ValueError: x"),
        (2, "Traceback (most recent call last):"),
        (3, "promote-gate failed"),
    ):
        with pytest.raises(AssertionError):
            assert_answers(code, text)
    assert_answers(2, "  PG204 pipeline-stale  the rule could not run: RuntimeError: no dvc.lock")
