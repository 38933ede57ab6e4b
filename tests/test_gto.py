"""promote_gate.gto against GTO itself: every name, from a table of the grammar's corners and
from generated ones, parses as ``gto.tag.parse_name`` parses it. The one documented
difference: a name ending in a newline, which GTO's ``$`` accepts and no git ref can hold."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promote_gate.context.tags import describe, local_tags
from promote_gate.git import Git
from promote_gate.gto import TagName, parse_tag

gto_tag = pytest.importorskip("gto.tag", reason="GTO is installed with DVC ([dvc], [test])")


def theirs(name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = gto_tag.parse_name(name, raise_on_fail=False)
    if "action" in parsed:
        parsed["action"] = parsed["action"].value
    return parsed


def ours(name: str) -> dict[str, Any]:
    tag = parse_tag(name)
    if tag is None:
        return {}
    fields: dict[str, Any] = {"name": tag.artifact, "action": tag.action or None}
    fields |= {"version": tag.version, "stage": tag.stage, "counter": tag.counter}
    return {k: v for k, v in fields.items() if v is not None}


def agree(name: str) -> None:
    if name.endswith("\n") and theirs(name):
        assert ours(name) == {}, name  # GTO's `$` matches before a final newline; git cannot
        return
    assert ours(name) == theirs(name), name


CORNERS = [
    "model@v1.0.0",
    "model@v10.20.30",
    "model@1.0.0",
    "model@v1.0",
    "model@v01.0.0",
    "model@V1.0.0",
    "model@v1.0.0-rc.1+sha.abc",
    "model@v1.0.0-01",
    "model@v1.0.0-rc..1",
    "model@v1.0.0#3",
    "model@v1.0.0!",
    "model@v1.0.0!#2",
    "model#prod",
    "model#prod#12",
    "model#prod#01",
    "model#stage/x#3",
    "model#prod_#1",
    "model#prod!",
    "model#prod!#4",
    "model@deprecated",
    "model@deprecated#2",
    "model@deprecated!",
    "model@created",
    "model@latest",
    "dir=model@v1.0.0",
    "path/to=model#prod#2",
    "../x=model@v1.0.0",
    "dir:model@v1.0.0",
    "dir=sub=model@v1.0.0",
    "nested/model@v1.0.0",
    "m@v1.0.0",
    "-model@v1.0.0",
    "--upload-pack=x@v1.0.0",
    "model.x@v1.0.0",
    "model@v1.0.0 ",
    "model@v1.0.0\n",
    "model\n@v1.0.0",
    "model@v\u0661.0.0",  # an Arabic-Indic digit: \d in a str pattern takes it, as GTO does
    "v1.0.0",
    "model",
    "model#prod#",
    "",
]


@pytest.mark.parametrize("name", CORNERS)
def test_corners_parse_as_gto_parses_them(name: str) -> None:
    agree(name)


_PIECES = st.sampled_from(
    [
        *("model", "m", "Model_1", "a/b", "dir=", "./", "..", "=", ":", "@", "#", "!", "-"),
        *("_", "v", "1", "0", "01", ".", "+", "rc", "deprecated", "created", "prod", " "),
        *("\n", "\u0661"),
    ]
)
_TAILS = st.sampled_from(["", "!", "#1", "#07", "!#2", "#", "\n", "-rc.1", "+b.5", "."])


@settings(max_examples=3000, deadline=None)
@given(
    artifact=st.lists(_PIECES, min_size=1, max_size=4).map("".join),
    sep=st.sampled_from(["@", "#", "@v", "!", ""]),
    body=st.lists(_PIECES, max_size=5).map("".join),
    tail=_TAILS,
)
def test_generated_names_parse_as_gto_parses_them(
    artifact: str, sep: str, body: str, tail: str
) -> None:
    agree(artifact + sep + body + tail)


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=30))
def test_any_text_parses_as_gto_parses_it(name: str) -> None:
    agree(name)


def test_the_fields_of_a_monorepo_assignment() -> None:
    assert parse_tag("path/to=model#prod#2") == TagName("path/to:model", "assign", None, "prod", 2)


def test_a_tag_read_from_its_object_is_the_tag_for_each_ref_lists(tmp_path: Path) -> None:
    """``describe`` (a pushed id, read from its object) and ``local_tags`` (one
    ``for-each-ref``, which the pre-push hook uses for the tags the remote and the clone
    share) read every kind of tag alike: annotated, lightweight, renamed, nested, of a tree,
    with a tagger time from long ago."""
    git_ = ["git", "-C", str(tmp_path)]
    env = {**os.environ, "GIT_COMMITTER_DATE": "@86400 +0000"}

    def sh(*argv: str) -> str:
        done = subprocess.run(
            [*git_, *argv],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        return done.stdout.strip()

    sh("init", "-q")
    sh("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "--allow-empty", "-m", "c")
    sh("tag", "-a", "-m", "r", "model@v1.0.0")
    sh("tag", "model#dev#1")  # lightweight
    sh("update-ref", "refs/tags/model#prod#2", sh("rev-parse", "refs/tags/model@v1.0.0"))
    sh("tag", "-a", "-m", "n", "model#staging#3", "refs/tags/model@v1.0.0")  # a tag of a tag
    sh("tag", "-a", "-m", "t", "data@v2.0.0", "HEAD^{tree}")
    with Git.open(str(tmp_path)) as git:
        listed = local_tags(git)
        read = {name: describe(git, name, ref.object) for name, ref in listed.items()}
    assert set(listed) == {
        "model@v1.0.0",
        "model#dev#1",
        "model#prod#2",
        "model#staging#3",
        "data@v2.0.0",
    }
    assert read == listed
    assert listed["model#prod#2"].renamed
    assert listed["model@v1.0.0"].time == 86400
