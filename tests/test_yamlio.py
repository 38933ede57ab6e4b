"""promote_gate.yamlio: reads YAML as DVC does (ruamel, YAML 1.2) and refuses hostile documents.

DVC reads params.yaml and dvc.lock with ``ruamel.yaml.YAML(typ="safe")``; when promote-gate
reads a value differently (``1_000`` as a string where DVC sees 1000), it reports a param
change DVC does not see, or misses one it does.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import pytest
from ruamel.yaml import YAML

from promote_gate.yamlio import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    dump_yaml,
    load_json,
    load_yaml,
)


def ruamel_load(text: str) -> Any:
    """What DVC's ``parse_yaml`` returns for a params file or dvc.lock."""
    return YAML(typ="safe").load(text)


def same(ours: Any, theirs: Any) -> bool:
    """Equal and of the same type (so True is not 1 and 1.0 is not 1); NaN equals NaN."""
    if isinstance(ours, float) and isinstance(theirs, float) and math.isnan(ours):
        return math.isnan(theirs)
    return type(ours) is type(theirs) and ours == theirs


SCALARS = [
    # floats, YAML 1.2 style (PyYAML's YAML 1.1 reads 1e-3 as a string)
    "1e-3",
    "1.0e-3",
    "1E3",
    "1.0E+3",
    ".5",
    "+.5",
    "1.",
    "-.inf",
    "+.inf",
    ".Inf",
    ".nan",
    ".NaN",
    # YAML 1.1 booleans are strings in 1.2; 1.2 booleans and nulls
    "yes",
    "no",
    "on",
    "off",
    "Yes",
    "OFF",
    "y",
    "n",
    "True",
    "true",
    "TRUE",
    "False",
    "false",
    "null",
    "Null",
    "NULL",
    "~",
    # ints, including the spellings ruamel accepts beyond the strict 1.2 core schema
    *["0x1F", "0o17", "012", "09", "+1", "-0", "1_000", "1_000.5", "+0x1F", "0b101"],
    # strings that merely look numeric
    *["1:20", "1,000", "0o8", "0xG", "1_0e1_0", "_1"],
]


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_load_as_dvc_loads_them(scalar: str) -> None:
    text = f"v: {scalar}\nl: [{scalar}]\n"
    ours = load_yaml(text.encode(), "params.yaml")
    theirs = ruamel_load(text)
    assert same(ours["v"], theirs["v"]), (ours["v"], theirs["v"])
    assert same(ours["l"][0], theirs["l"][0]), (ours["l"], theirs["l"])


def test_nan_is_a_float_nan() -> None:
    value = load_yaml(b"v: .nan\n")["v"]
    assert isinstance(value, float)
    assert math.isnan(value)


@pytest.mark.parametrize(
    ("scalar", "ruamel_value"),
    [
        ("2001-01-01", dt.date(2001, 1, 1)),
        ("2001-01-01 10:00:00", dt.datetime(2001, 1, 1, 10, 0)),  # noqa: DTZ001 - as ruamel builds it
    ],
)
def test_dates_stay_strings(scalar: str, ruamel_value: Any) -> None:
    """Documented difference: ruamel builds date objects, promote-gate keeps the text.

    Values must stay JSON-serialisable; a date compares equal to itself as a string on both
    sides of every comparison promote-gate makes (DVC itself cannot ``repro`` a stage whose
    params hold a date: it fails to serialise it into dvc.lock).
    """
    assert ruamel_load(f"v: {scalar}\n")["v"] == ruamel_value
    assert load_yaml(f"v: {scalar}\n".encode())["v"] == scalar
    assert str(ruamel_value) == scalar


def test_utf8_bom_is_accepted_like_ruamel() -> None:
    data = "\ufeffv: 1e-3\n".encode()
    assert load_yaml(data) == ruamel_load(data.decode("utf-8")) == {"v": 0.001}


def test_duplicate_keys_are_refused_like_dvc() -> None:
    """DVC refuses ``lr: 0.1`` / ``lr: 0.2`` in one mapping ("YAML file structure is corrupted").

    A gate that silently takes the last value judges a params file DVC cannot even read.
    """
    text = "train:\n  lr: 0.1\n  lr: 0.2\n"
    with pytest.raises(Exception, match="duplicate"):
        ruamel_load(text)
    with pytest.raises(DocumentError):
        load_yaml(text.encode(), "params.yaml")


# --------------------------------------------------------------------------- dump_yaml

LOOKALIKES = [
    *["1e-3", "1.0e-3", ".5", "+1", "-.inf", ".nan", "0x1F", "0o17", "012", "1_000"],
    *["yes", "no", "on", "off", "True", "true", "FALSE", "null", "~", "1:20", "2001-01-01"],
    "",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_dump_yaml_round_trips_strings_that_look_like_scalars(text: str) -> None:
    doc = {"v": text, "nested": {"list": [text]}}
    assert load_yaml(dump_yaml(doc).encode()) == doc


@pytest.mark.parametrize("text", [t for t in LOOKALIKES if t != "2001-01-01"])
def test_dumped_lookalikes_stay_strings_for_dvc(text: str) -> None:
    """A params snapshot written by dump_yaml is read by DVC (ruamel): strings must stay strings.

    (Dates are left out: promote-gate keeps a date as its text, and DVC reads it back as the
    same date it read from the original params file.)
    """
    assert ruamel_load(dump_yaml({"v": text})) == {"v": text}


@pytest.mark.parametrize(
    "value", [0.001, 1e-30, 0.5, float("inf"), -float("inf"), 31, -7, True, False, None, 10**20]
)
def test_dump_yaml_round_trips_numbers_for_both_readers(value: Any) -> None:
    dumped = dump_yaml({"v": value})
    assert same(load_yaml(dumped.encode())["v"], value)
    assert same(ruamel_load(dumped)["v"], value)


# --------------------------------------------------------------------------- hostile documents


def billion_laughs(levels: int = 9) -> bytes:
    names = [f"l{i}" for i in range(levels)]
    lines = [
        f'{names[0]}: &{names[0]} ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
    ]
    for prev, cur in itertools.pairwise(names):
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


def test_alias_bomb_is_refused_before_it_expands() -> None:
    # 9**40 nodes once expanded: a loader that expanded before counting would never return
    # (no stopwatch here: a loaded CI machine is not one)
    with pytest.raises(DocumentError, match="alias bomb"):
        load_yaml(billion_laughs(), "params.yaml")
    with pytest.raises(DocumentError, match="alias bomb"):
        load_yaml(billion_laughs(levels=40), "params.yaml")


def test_small_alias_use_is_fine() -> None:
    doc = load_yaml(b"base: &b {lr: 0.1}\ntrain: *b\nmerged: {<<: *b, epochs: 3}\n")
    assert doc == {"base": {"lr": 0.1}, "train": {"lr": 0.1}, "merged": {"lr": 0.1, "epochs": 3}}
    assert doc == ruamel_load(
        b"base: &b {lr: 0.1}\ntrain: *b\nmerged: {<<: *b, epochs: 3}\n".decode()
    )


def test_document_over_16_mib_is_refused() -> None:
    data = b"v: " + b"x" * MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentError, match=r"metrics\.yaml is \d+ bytes"):
        load_yaml(data, "metrics.yaml")
    with pytest.raises(DocumentError, match="bytes"):
        load_json(b'"' + b"x" * MAX_DOCUMENT_BYTES + b'"', "metrics.json")


def test_document_of_exactly_16_mib_is_read() -> None:
    head = b"v: 1e-3\n#"
    data = head + b"x" * (MAX_DOCUMENT_BYTES - len(head) - 1) + b"\n"
    assert len(data) == MAX_DOCUMENT_BYTES
    assert load_yaml(data) == {"v": 0.001}


@pytest.mark.parametrize("data", [b"v: caf\xe9\n", b"\xff\xfe v: 1\n", b"v: \xed\xa0\x80\n"])
def test_invalid_utf8_is_refused_with_the_file_name(data: bytes) -> None:
    with pytest.raises(DocumentError, match=r"params\.yaml is not UTF-8"):
        load_yaml(data, "params.yaml")


def alias_chain(links: int) -> bytes:
    """``a{i}: {k: *a{i-1}}``: nesting ``links`` deep, built from aliases, not from indentation.

    The expanded size grows with links**2, so 990 links stay under MAX_EXPANDED_NODES.
    """
    body = b"".join(b"  a%d: &a%d {k: *a%d}\n" % (i, i, i - 1) for i in range(1, links))
    return b"defs:\n  a0: &a0 {k: 1}\n" + body + b"train:\n  lr: 0.05\n"


DEEP = {
    "flow-seq-100k": b"[" * 100_000 + b"]" * 100_000,
    "flow-map-50k": b"{a: " * 50_000 + b"1" + b"}" * 50_000,
    "flow-seq-300": b"[" * 300 + b"]" * 300,  # below the parser's own limit: our depth check
    "block-3000": "".join("  " * i + "k:\n" for i in range(3000)).encode() + b"  " * 3000 + b"1\n",
    # 990 levels from aliases: deep enough that flatten() and json.dumps() hit RecursionError
    "aliases-990": alias_chain(990),
}


@pytest.mark.parametrize("name", list(DEEP))
def test_deep_nesting_is_a_document_error_not_a_crash(name: str) -> None:
    with pytest.raises(DocumentError, match=r"nested too deeply|not valid YAML"):
        load_yaml(DEEP[name], "params.yaml")


def test_alias_chains_within_the_depth_limit_are_read() -> None:
    doc = load_yaml(alias_chain(150), "params.yaml")
    value = doc["defs"]["a149"]
    for _ in range(149):
        value = value["k"]
    assert value == {"k": 1}


@pytest.mark.parametrize(
    "data", [billion_laughs(), DEEP["flow-seq-300"]], ids=["alias-bomb", "nested-300"]
)
def test_refusals_name_the_file(data: bytes) -> None:
    """Every other DocumentError names the document (``params.yaml is not UTF-8 text``)."""
    with pytest.raises(DocumentError, match=r"params\.yaml"):
        load_yaml(data, "params.yaml")


@pytest.mark.parametrize("depth", [300, 100_000])
def test_deep_json_is_a_document_error(depth: int) -> None:
    with pytest.raises(DocumentError, match="nested too deeply"):
        load_json(b"[" * depth + b"]" * depth, "metrics.json")


def test_moderate_nesting_is_read() -> None:
    data = b"[" * 150 + b"1" + b"]" * 150
    value = load_yaml(data)
    for _ in range(150):
        value = value[0]
    assert value == 1
