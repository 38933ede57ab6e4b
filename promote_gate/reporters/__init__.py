"""Reporters only format a finished report; the exit code belongs to the report.

Each format is a module with ``render(report) -> str``, imported when a run asks for it: a
text report does not load the XML writer, the SARIF rule catalogue or the Markdown escaper.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promote_gate.report import Report

Reporter = Callable[["Report"], str]

# format name -> module under promote_gate/reporters/
FORMATS = {
    "text": "text",
    "json": "json_",
    "junit": "junit",
    "markdown": "markdown",
    "github": "github",
    "gitlab": "gitlab",
    "sarif": "sarif",
    "comment": "comment",
}


def reporter(kind: str) -> Reporter:
    """The renderer of format ``kind``."""
    module = importlib.import_module(f"promote_gate.reporters.{FORMATS[kind]}")
    render: Reporter = module.render
    return render
