"""The pull-request / merge-request comment: the verdict, then the review of each bundle being
released (what ``diff --format markdown`` shows, against its baseline).

The first line is a marker the CI templates look for, so each run updates one comment
instead of adding another. GitHub refuses a comment over 65,536 characters: a longer body is
cut at a line with a note saying where the whole report is.
"""

from __future__ import annotations

from promote_gate.report import Report
from promote_gate.reporters import diff, markdown
from promote_gate.reporters.markdown_escape import code, escape, html_text

MARKER = "<!-- promote-gate -->"
MAX_CHARS = 60_000  # below GitHub's 65,536, with room for the note


def render(report: Report) -> str:
    lines = [MARKER, markdown.render(report)]
    for bundle in report.bundles:
        facts = bundle.facts
        evidence = facts.repo if facts is not None and facts.candidate else None
        if evidence is None:
            continue
        name = bundle.path or bundle.name
        if evidence.comparison is not None:
            lines += [
                f"<details><summary>Review of <code>{html_text(name)}</code></summary>",
                "",
                diff.markdown(evidence.comparison),
                "</details>",
                "",
            ]
        elif evidence.comparison_note:
            lines += [f"_Review of {code(name)}: {escape(evidence.comparison_note)}_", ""]
    body = "\n".join(lines)
    if len(body) > MAX_CHARS:
        cut = body.rfind("\n", 0, MAX_CHARS)
        body = body[:cut]
        # only promote-gate's own lines open or close one: a value never starts a line
        kept = body.split("\n")
        unclosed = sum(ln.startswith("<details>") for ln in kept) - kept.count("</details>")
        body += "\n</details>" * unclosed
        body += "\n\n_The review is cut here: the job log and the JUnit report hold all of it._\n"
    return body
