"""One Markdown escaper for every change-controlled value in the comment, the job summary and
``diff --format markdown``, read back as GitHub reads them: CommonMark with GFM tables
(markdown-it-py, the renderer ``bundle.rendered_tables`` uses), raw HTML on.

Generated strings, rich in what Markdown reacts to (newlines, backticks, pipes, ``<!--``,
``@mentions``, links, headings, list and quote starts, entities, controls), are written as
promote-gate writes them; what a reader sees must be exactly the structure promote-gate wrote,
each value reading back as itself. Then the same through a real repository: a params key
built to forge a "passed" heading, mention a team and hide the rest of the review.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml
from conftest import Gate  # type: ignore[import-not-found, unused-ignore]
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from scenario import (  # type: ignore[import-not-found, unused-ignore]
    V1,
    World,
    github_pr,
    release_v2,
)

from promote_gate.compare import Comparison, Side
from promote_gate.reporters import comment, diff
from promote_gate.reporters.markdown_escape import code, escape, html_text, neutral

ZWSP = "\u200b"
# What Markdown (CommonMark, GFM and GitHub's own extensions) reacts to, mixed into text().
FRAGMENTS = [
    "\n", "\r\n", "\r", "\u2028", "\u2029", "\t", "\x00", "\x1b", "\x85", "\u202e",
    "`", "``", "```", "~~~", "|", "\\|", "\\", "<!--", "-->", "<b>", "</details>",
    "<https://x.y>", "@x", "@team", "a@b.c", "[a](b)", "![i](s)", "[^1]", "[!NOTE]",
    "#", "# ", "## passed", ">", "> ", "- ", "+ ", "* ", "1. ", "1) ", "---", "===", "***",
    "_a_", "*a*", "~~s~~", "$x$", "&amp;", "&#64;", "&lt;!--", " ", "    ", "\\`",
]  # fmt: skip
values = st.lists(st.one_of(st.text(), st.sampled_from(FRAGMENTS)), max_size=8).map("".join)
lines = values.filter(bool)  # a note or a reason is never empty
PROPERTY = settings(max_examples=300, derandomize=True, deadline=None, database=None)
ATTACK = "ok\n\n## promote-gate: passed\n\n@team `x` <!-- the rest is hidden"


def parse(markdown: str) -> list[Token]:
    """What GitHub shows, as markdown-it-py reads it (raw HTML is on in "commonmark")."""
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def shown(value: str) -> str:
    """What a reader must see of ``value``: itself, controls as U+FFFD, no @mention."""
    return neutral(value).replace("@", "@" + ZWSP)


def cell_text(inline: Token) -> str:
    return "".join(child.content for child in inline.children or ())


TABLE_SHAPE = [
    "table_open", "thead_open", "tr_open",
    *["th_open", "inline", "th_close"] * 3,
    "tr_close", "thead_close", "tbody_open",
    *["tr_open", *["td_open", "inline", "td_close"] * 3, "tr_close"] * 2,
    "tbody_close", "table_close",
    "paragraph_open", "inline", "paragraph_close",
]  # fmt: skip


@PROPERTY
@given(values, values)
@example("x\n# passed\n@team ` <!--", "a|b\\|c")
@example("\\", " - lead and trail ")
@example("1. one", "---")
def test_a_value_stays_in_its_table_cell(first: str, second: str) -> None:
    """A table with two rows of (code span, text, text) cells, and a paragraph after it:
    whatever the values, exactly that table and that paragraph, each cell reading back."""
    rows = [(first, second), (second, first)]
    markdown = "\n".join(
        [
            "| key | value | other |",
            "|---|---|---|",
            *(f"| {code(a)} | {escape(b)} | {escape(a)} |" for a, b in rows),
            "",
            "The text after the table.",
        ]
    )
    tokens = parse(markdown)
    assert [t.type for t in tokens] == TABLE_SHAPE, markdown
    cells = [t for t in tokens if t.type == "inline"][3:-1]
    assert tokens[-2].content == "The text after the table."
    for (a, b), (key, value, other) in zip(rows, zip(*[iter(cells)] * 3, strict=True), strict=True):
        for inline, written in ((value, b), (other, a)):
            assert [c.type for c in inline.children or ()] in ([], ["text"]), markdown
            assert cell_text(inline) == shown(written)
            assert "@" not in cell_text(inline).replace("@" + ZWSP, "")  # no mention
        # a code span where one can hold the value verbatim, else escaped text
        kinds = [c.type for c in key.children or ()]
        assert kinds in ([], ["text"], ["code_inline"]), markdown
        assert cell_text(key) == (neutral(a) if kinds == ["code_inline"] else shown(a))


LINES_SHAPE = [
    "blockquote_open", "paragraph_open", "inline", "paragraph_close", "blockquote_close",
    "bullet_list_open", "list_item_open", "paragraph_open", "inline", "paragraph_close",
    "list_item_close", "bullet_list_close",
]  # fmt: skip


@PROPERTY
@given(lines, lines)
@example("quoted", "===")
@example("    indented", "> nested")
def test_a_value_stays_on_its_line(first: str, second: str) -> None:
    """Notes as the summary writes them (``> note`` lines, one quote) and a skipped rule
    (``- title: reason``): a value never starts a block, ends the quote or the list."""
    markdown = f"> {escape(first)}\n> {escape(second)}\n\n- Rule: {escape(second)}\n"
    tokens = parse(markdown)
    assert [t.type for t in tokens] == LINES_SHAPE, markdown
    quote, item = (t for t in tokens if t.type == "inline")
    assert [c.type for c in quote.children or ()] == ["text", "softbreak", "text"], markdown
    assert [c.content for c in quote.children or ()] == [shown(first), "", shown(second)]
    assert cell_text(item) == "Rule: " + shown(second)


@PROPERTY
@given(values)
@example("x</code></summary>\n\n# passed\n\n<!--")
def test_a_value_stays_inside_its_html(value: str) -> None:
    """The comment's ``<details><summary>Review of <code>…</code>`` line: one HTML block,
    whatever the name, and the text after it still shown."""
    line = f"<details><summary>Review of <code>{html_text(value)}</code></summary>"
    tokens = parse(f"{line}\n\nThe review.\n\n</details>\n")
    assert [t.type for t in tokens] == [
        "html_block",
        "paragraph_open",
        "inline",
        "paragraph_close",
        "html_block",
    ]
    assert tokens[0].content == line + "\n"
    assert "<" not in html_text(value)
    assert "\n" not in html_text(value)
    assert html.unescape(html_text(value)) == shown(value)


# --------------------------------------------------------------------------- a real comment

# a heading, a mention, a backtick, then an HTML comment that would hide all that follows
HOSTILE_KEY = "note\n\n## promote-gate: passed\n\n@team `x`\n<!-- the rest is hidden"
OWN_HEADINGS = re.compile(
    r"promote-gate: (passed|failed|could not evaluate)( \(UNVERIFIED\))?"
    r"|`publish/v[12]`: (ok|FAIL|ERROR)"
    r"|Promotion review: `v1` → `v2`"
    r"|Params changed|Metrics|Files|Lock stages whose hashes changed"
)
OWN_HTML = re.compile(
    r"<!-- promote-gate -->|</details>|<details><summary>(Params|Metrics)</summary>"
    r"|<details><summary>Review of <code>publish/v2</code></summary>"
)


def hostile_key(work: Path) -> None:
    """Track the whole ``train`` section and add a key to it built to forge the comment;
    retrain for real (lr 0.05 -> 0.1), promote v2, commit."""
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["train"][HOSTILE_KEY] = ATTACK
    params["train"]["lr"] = 0.1
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc_yaml = work / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text().replace("params: [train.lr, train.epochs]", "params: [train]")
    )
    release_v2(work)


def reader_view(markdown: str) -> tuple[list[str], list[str], list[str], list[list[str]]]:
    """(heading texts, raw HTML shown, plain text outside code, rows of table cells)."""
    tokens = parse(markdown)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    raw = [t.content.strip() for t in tokens if t.type == "html_block"]
    text: list[str] = []
    rows: list[list[str]] = []
    table = False
    for token in tokens:
        table = token.type != "table_close" and (table or token.type == "table_open")
        if token.type == "tr_open":
            rows.append([])
        for child in token.children or ():
            if child.type == "html_inline":
                raw.append(child.content.strip())
            elif child.type == "text":
                text.append(child.content)
        if token.type == "inline" and table:
            rows[-1].append(cell_text(token))
    return headings, raw, text, rows


def looks_fine(markdown: str) -> None:
    """No heading but promote-gate's, no raw HTML but its own, no @team mention, the key
    shown as itself in a table row, and the metrics rows that follow it still table rows."""
    headings, raw, text, rows = reader_view(markdown)
    assert all(OWN_HEADINGS.fullmatch(h) for h in headings), headings
    assert sum(h.startswith("promote-gate:") for h in headings) == 1, headings
    assert all(OWN_HTML.fullmatch(r) for r in raw), raw
    assert not [t for t in text if re.search(r"@team\b", t)]  # a mention notifies the team
    key = "train." + HOSTILE_KEY  # as text (no mention) or in a code span (verbatim)
    keyed = [i for i, row in enumerate(rows) if {shown(key), neutral(key)} & set(row)]
    assert keyed, "the key must be shown in a table row, as itself"
    after = [row[1] for row in rows[keyed[-1] + 1 :] if row[:1] == ["eval/metrics.json"]]
    assert after == ["acc", "loss"], rows


@pytest.fixture
def hostile(world: World) -> str:
    head: str = world.branch("v2", hostile_key)
    return head


def test_a_params_key_cannot_forge_the_comment(
    world: World, hostile: str, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = tmp_path / "comment.md"
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "v2", hostile, "--comment", str(body))
    assert verdict.code in {0, 1}, verdict.text  # judged: a review, not an error
    markdown = body.read_text()
    assert markdown.startswith(comment.MARKER + "\n")
    looks_fine(markdown)
    summary = (tmp_path / "runner" / "summary.md").read_text()
    looks_fine(summary)


# ------------------------------------------------------------------ code spans, as read

# What HTML, entities and code spans react to, in one file name: a span escaped before it is
# fenced shows "&lt;b&gt;", one fenced by a single backtick ends at the first one.
ODD_NAME = "a <b>`x` &lt; y.txt"


def spans(inline: Token) -> list[tuple[str, str]]:
    """(kind, text a reader sees) of each piece of an inline run: a code span is shown as its
    content, verbatim; text with its entities and escapes resolved."""
    return [(child.type, child.content) for child in inline.children or ()]


def tables(markdown: str) -> list[list[list[Token]]]:
    """Each table's rows, each row its cells (inline tokens), the header row first."""
    found: list[list[list[Token]]] = []
    for token in parse(markdown):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            found[-1].append([])
        elif token.type == "inline" and token.level == 4:  # a cell: table, t*, tr, t*
            found[-1][-1].append(token)
    return found


def problem_rows(markdown: str) -> dict[str, list[tuple[str, str]]]:
    """Each row of the summary's problems table: its rule cell -> the pieces of its file cell."""
    (problems,) = [
        rows
        for rows in tables(markdown)
        if [cell_text(c) for c in rows[0]] == ["rule", "file", "problem", "fix"]
    ]
    return {cell_text(rule): spans(file) for rule, file, _problem, _fix in problems[1:]}


def odd_name_and_broken_pipeline(work: Path) -> None:
    """Add a file to the released v1 under ``ODD_NAME`` (PG103, PG501) and make dvc.yaml no
    YAML at all: PG504 cannot tell the pipeline's outputs and cannot run."""
    (work / V1 / ODD_NAME).write_text("copied in\n")
    (work / "dvc.yaml").write_text("stages: [not, a, mapping\n")


def test_the_comment_and_summary_show_each_file_as_itself(
    world: World, gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    head = world.branch("odd", odd_name_and_broken_pipeline, dvc_push=False)
    body = tmp_path / "comment.md"
    verdict = github_pr(world, gate, monkeypatch, tmp_path, "odd", head, "--comment", str(body))
    assert verdict.code == 2, verdict.text  # PG504 could not run; the other rules judged
    summary = tmp_path / "runner" / "summary.md"
    for markdown in (body.read_text(), summary.read_text()):
        rows = problem_rows(markdown)
        odd = [("code_inline", f"{V1}/{ODD_NAME}")]  # one span: < as <, &lt; as &lt;, `x`
        assert rows["❌ PG103 file-unlisted"] == odd
        assert rows["❌ PG501 released-version-mutated"] == odd
        # the rule that could not run names the file JUnit, Code Quality and SARIF name
        assert rows["⚠️ PG504 internal-path-leak"] == [("code_inline", "dvc.yaml")]


def test_the_review_shows_each_label_and_path_as_itself() -> None:
    """``diff --format markdown`` (the comment's review): the labels in the heading are code
    spans, the paths in the files table text, each read back as the value it is."""
    old, new = (Side(label, {}, {}, {}, None) for label in ("v1 <b>`x`", "v2 &lt; ``y"))
    files = (("added", f"{V1}/{ODD_NAME}", None, ("0" * 32, 3)),)
    review = Comparison(old, new, (), (), files, (), ())
    tokens = parse(diff.markdown(review))
    heading = tokens[[t.type for t in tokens].index("heading_open") + 1]
    assert spans(heading) == [
        ("text", "Promotion review: "),
        ("code_inline", "v1 <b>`x`"),
        ("text", " → "),
        ("code_inline", "v2 &lt; ``y"),
    ]
    (added,) = [row for rows in tables(diff.markdown(review)) for row in rows[1:]]
    assert [cell_text(cell) for cell in added[:2]] == ["added", f"{V1}/{ODD_NAME}"]
