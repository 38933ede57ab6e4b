"""The one place a change-controlled value becomes Markdown (a leaf: imports nothing of ours).

A params key, a path, a branch or a message may hold anything; written into the comment,
the job summary or ``diff --format markdown`` it must read as the text it is, and must not
end a table cell or row, start a heading, list, quote or code block, open an HTML comment
that hides what follows, form a link or an image, emphasise, or mention (notify) anyone.

Three contexts, three functions: :func:`escape` for text (a table cell, a line, the middle
of a sentence), :func:`code` for a code span, :func:`html_text` for text inside raw HTML
(``<summary>``). Each is correct wherever it is placed on one line; none needs to know what
surrounds it.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["code", "escape", "html_text", "neutral"]

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
# Bidirectional controls reorder what a reader sees ("Trojan Source"): shown as replaced.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Controls (newline, \r, tab, NUL, ESC, C1), U+2028/U+2029 (line and paragraph separators)
# and lone surrogates (names read with surrogateescape, which no output can encode).
_REPLACED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})

# Backslash-escaped everywhere: CommonMark renders any escaped ASCII punctuation as itself.
# ` code, * _ emphasis, ~ strikethrough and fences, [ ] links, images, footnotes, task
# lists and alerts, \ escapes, | table cells, # headings, $ GitHub's math. Not ( ) ! . :
# which form nothing once [ and ] are escaped (a leading "1)" or "1." is handled below).
_BACKSLASHED = frozenset("\\`*_~[]|#$")
# HTML-significant: as entities, so no tag, comment or entity ever starts in the output.
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# GitHub links @name to a user or team and notifies them; it reads the rendered text, so no
# escape stops it. A zero-width space after the @ (as Renovate writes release notes) keeps
# the text readable and makes it no mention.
_MENTION = "@&#8203;"
_ORDERED_START = re.compile(r"(\d{1,9})([.)])(?=\s|$)")


def neutral(text: str) -> str:
    """``text`` with every character that breaks a line or reorders it replaced (U+FFFD)."""
    return "".join(
        REPLACEMENT if unicodedata.category(ch) in _REPLACED_CATEGORIES or ch in _BIDI else ch
        for ch in text
    )


def escape(text: str) -> str:
    """``text`` as Markdown that renders as exactly this text, on one line, with no markup.

    Safe as a whole table cell, after ``> `` or ``- ``, or inside a sentence. Newlines and
    other controls are shown as U+FFFD.
    """
    out: list[str] = []
    for ch in neutral(text):
        if ch in _BACKSLASHED:
            out.append("\\" + ch)
        elif ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch == "@":
            out.append(_MENTION)
        else:
            out.append(ch)
    escaped = "".join(out)
    # A table cell and a line lose the whitespace they end with: kept as an entity.
    if escaped[-1:].isspace():
        escaped = f"{escaped[:-1]}&#{ord(escaped[-1])};"
    # What only counts at the start of a line: indentation (a code block), "- " "+ " "1. "
    # "1) " (lists), "---" "===" (a setext heading or a rule under the line above).
    if escaped[:1].isspace():
        return f"&#{ord(escaped[0])};{escaped[1:]}"
    if escaped[:1] in {"-", "+", "="} and not escaped[1:2].isalnum():
        return "\\" + escaped
    return _ORDERED_START.sub(r"\1\\\2", escaped, count=1)


def code(text: str) -> str:
    """``text`` as a code span (shown verbatim: no markup, no mention, no HTML inside).

    A fence longer than any run of backticks in it, padded where the text starts or ends
    with a backtick or a space (CommonMark strips one space each side). A ``|`` cannot be
    put in a code span that GitHub and markdown-it read alike inside a table cell (a ``\\``
    before it is taken as escaping it), and blank text makes no span: both are escaped text.
    """
    shown = neutral(text)
    if "|" in shown or not shown.strip(" "):
        return escape(text)
    longest = max((len(run) for run in re.findall("`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown[0] in "` " or shown[-1] in "` " else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def html_text(text: str) -> str:
    """``text`` inside raw HTML (``<summary>``): entities for markup, on one line, no mention."""
    return html.escape(neutral(text), quote=True).replace("@", _MENTION)
