"""Reporters only format a finished report; the exit code belongs to the report."""

from __future__ import annotations

from collections.abc import Callable

from promote_gate.report import Report
from promote_gate.reporters import comment, github, gitlab, json_, junit, markdown, sarif, text

Reporter = Callable[[Report], str]

REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "github": github.render,
    "gitlab": gitlab.render,
    "sarif": sarif.render,
    "comment": comment.render,
}
