"""The bundle format: file names, the manifest schema, the report and SHA256SUMS formats.

A bundle is ``<publish_root>/<version>/`` holding ``manifest.json`` (the contract), the
snapshots ``params.yaml``, ``metrics.json``, ``lock.yaml``, the human ``report.md``,
``SHA256SUMS`` and the promoted files. Both ``promote`` (writing) and the collect step
(reading) go through the functions here, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from promote_gate.dvc.params import flatten
from promote_gate.errors import GateError
from promote_gate.git import iter_parents
from promote_gate.yamlio import DocumentError, dump_yaml, load_yaml

if TYPE_CHECKING:
    from promote_gate.config import Config
    from promote_gate.repo import View

MANIFEST = "manifest.json"
# The bundle's signature (model signing v1.0): a reserved name, in no manifest or SHA256SUMS
# (it signs them), so every copy of the bundle carries it.
SIGNATURE = "bundle.sig"
MANIFEST_SCHEMA_ID = "promote-gate/manifest/1"
REPORT_FORMAT = "promote-gate/report/1"
DEFAULT_NAMES = {
    "params": "params.yaml",
    "metrics": "metrics.json",
    "lock": "lock.yaml",
    "report": "report.md",
    "checksums": "SHA256SUMS",
}
ROLES = tuple(DEFAULT_NAMES)


def manifest_schema() -> dict[str, Any]:
    text = resources.files("promote_gate").joinpath("schemas/manifest.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def doc_names(manifest: Any) -> dict[str, str]:
    """Role -> bundle-relative name, from the manifest where it says, else the defaults."""
    names = dict(DEFAULT_NAMES)
    if isinstance(manifest, dict):
        for role in ROLES:
            if isinstance(manifest.get(role), str):
                names[role] = manifest[role]
    return names


def render_manifest(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- SHA256SUMS


def render_sha256sums(entries: Mapping[str, str]) -> str:
    """``sha256sum`` text format: ``<hex>  <path>``, one line a file, sorted."""
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(entries.items()))


def sha256sums_lines(text: str) -> dict[str, int]:
    """Each path SHA256SUMS names -> the 1-based line naming it first (a malformed line names
    nothing)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), 1):
        match = re.fullmatch(r"[0-9a-fA-F]{64} [ *](.+)", line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def parse_sha256sums(text: str) -> dict[str, str]:
    """Parse ``sha256sum`` output (text or ``*`` binary mode). Raises DocumentError."""
    entries: dict[str, str] = {}
    lines = text.split("\n")  # sha256sum splits on newlines only (not \f, \v, \x1c…)
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if not line:
            raise DocumentError(f"SHA256SUMS line {number} is empty (sha256sum -c rejects it)")
        match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line)
        if not match:
            raise DocumentError(f"SHA256SUMS line {number} is not '<sha256>  <path>'")
        if match.group(2) in entries:
            # sha256sum -c checks every line: one wrong line fails it, whichever comes last
            raise DocumentError(f"SHA256SUMS line {number} lists {match.group(2)} a second time")
        entries[match.group(2)] = match.group(1).lower()
    return entries


# --------------------------------------------------------------------------- report.md

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def cell(value: Any) -> str:
    """How a value reads in a report table: JSON, so it reads back exactly."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _piped(text: str) -> str:
    """A table cell as written: a ``|`` in it escaped (GFM), which a reader does not see."""
    return text.replace("|", "\\|")


def table_rows(values: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """``{file: {key: value}}`` -> ``{(file, dotted key): cell}`` as a reader of the report
    tables sees them (what :func:`parse_report` reads back)."""
    return {
        (fname, key): cell(value)
        for fname, inner in values.items()
        for key, value in flatten(inner).items()
    }


@functools.lru_cache(maxsize=4)  # each rule reading the report asks again: parse once
def parse_report(
    text: str,
) -> tuple[
    dict[str, Any] | None,
    dict[str, dict[tuple[str, str], str] | None],
    dict[str, dict[tuple[str, str], int]],
]:
    """(front matter, {"params"|"metrics": table rows or None when there is not exactly one},
    {block: {row key: its 1-based line; ("", ""): the table's line, else the front matter's
    block key}}).

    The tables are the ones a reader sees: the report rendered as GitHub does (CommonMark and
    tables, markdown-it-py), so a table inside a comment, a code block or raw HTML is no table,
    and a second visible params or metrics table makes the report state nothing definite.
    """
    front: dict[str, Any] | None = None
    normalised = text.replace("\r\n", "\n")
    match = _FRONT.match(normalised)
    if match:
        loaded = load_yaml(match.group(1).encode(), "report front matter")
        front = loaded if isinstance(loaded, dict) else None
    body = normalised[match.end() :] if match else normalised
    offset = normalised[: match.end()].count("\n") if match else 0
    found: dict[str, list[dict[tuple[str, str], str]]] = {"params": [], "metrics": []}
    where: dict[str, dict[tuple[str, str], int]] = {"params": {}, "metrics": {}}
    for block, at in where.items():  # the front matter's own key, until a table says more
        key_line = re.search(rf"(?m)^{block}:", normalised[: match.end()] if match else "")
        if key_line:
            at[("", "")] = normalised[: key_line.start()].count("\n") + 1
    for header, rows, lines in rendered_tables(body):
        names = [h.strip("`").strip().lower() for h in header[:2]]
        if len(names) < 2 or names[0] != "file" or names[1] not in {"param", "metric"}:
            continue
        block = "params" if names[1] == "param" else "metrics"
        table: dict[tuple[str, str], str] = {}
        at = {("", ""): lines[0] + offset}
        for cells, line in zip(rows, lines[1:], strict=True):
            if len(cells) < 3:
                continue
            key = (cells[0].strip("`"), cells[1].strip("`"))
            # a key stated twice can show a reader either value: it states neither
            table[key] = cells[2] if key not in table else "(stated twice)"
            at.setdefault(key, line + offset)
        found[block].append(table)
        where[block] = at
    tables: dict[str, dict[tuple[str, str], str] | None] = {
        block: rows[0] if len(rows) == 1 else None for block, rows in found.items()
    }
    return front, tables, where


Table = tuple[list[str], list[list[str]], list[int]]


def rendered_tables(text: str) -> list[Table]:
    """Every table a Markdown reader sees: (header cells, rows of cells, 1-based lines in
    ``text``: the table's first, then each row's), as written."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    tables: list[Table] = []
    header: list[str] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    row: list[str] = []
    section = ""
    for token in tokens:
        if token.type == "table_open":
            header, rows, lines = [], [], [token.map[0] + 1 if token.map else 0]
        elif token.type in {"thead_open", "tbody_open"}:
            section = token.type
        elif token.type == "tr_open":
            row = []
            if section != "thead_open":
                lines.append(token.map[0] + 1 if token.map else 0)
        elif token.type == "inline" and section:
            row.append(token.content.strip())
        elif token.type == "tr_close":
            if section == "thead_open":
                header = row
            else:
                rows.append(row)
        elif token.type == "table_close":
            tables.append((header, rows, lines))
            section = ""
    return tables


_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_UNMARKED_TABLE = re.compile(r"^\s*\|\s*`?file`?\s*\|\s*`?(param|metric)`?\s*\|", re.IGNORECASE)


def hidden_tables(text: str) -> dict[str, list[str]]:
    """What would make a reader see other values than the checked ones, by block.

    A marked table inside a fenced code block or an HTML comment is not shown as a table,
    and a params/metrics table outside the markers is shown but not checked: either way
    what is checked is not what a reader sees.
    """
    problems: dict[str, list[str]] = {"params": [], "metrics": []}
    fence: str | None = None
    comment = False
    inside: str | None = None
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        markers = re.findall(r"<!-- (/?)promote-gate:(params|metrics) -->", line)
        for closing, block in markers:
            if fence is not None or comment:
                where = "a fenced code block" if fence is not None else "an HTML comment"
                problems[block].append(f"line {number}: the marked {block} table is inside {where}")
            inside = None if closing else block
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        opened = _FENCE.match(line)
        if opened and not comment:
            fence = opened.group(1)
            continue
        pos = 0
        while True:  # an HTML comment runs from <!-- to the first --> (CommonMark's rule)
            if comment:
                end = line.find("-->", pos)
                if end < 0:
                    break
                comment, pos = False, end + 3
            else:
                start = line.find("<!--", pos)
                if start < 0:
                    break
                end = line.find("-->", start + 4)
                if end < 0:
                    comment = True
                    break
                pos = end + 3
        table = _UNMARKED_TABLE.match(line)
        if table and inside is None and not comment:
            block = "params" if table.group(1).lower() == "param" else "metrics"
            problems[block].append(
                f"line {number}: a {block} table outside the marked block: shown, never checked"
            )
    return problems


def render_report(
    *,
    version: str,
    source_commit: str,
    lock_sha256: str,
    created: str,
    params: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Mapping[str, Any]],
    files: list[dict[str, Any]],
    previous: tuple[str, Mapping[str, Mapping[str, Any]]] | None,
) -> str:
    """The human report, with YAML front matter and marked tables the gate re-reads."""
    front = {
        "format": REPORT_FORMAT,
        "version": version,
        "source_commit": source_commit,
        "params": {f: dict(v) for f, v in params.items()},
        "metrics": {f: dict(v) for f, v in metrics.items()},
    }
    prev_rows = table_rows(previous[1]) if previous else {}
    lines = [
        "---",
        dump_yaml(front).rstrip("\n"),
        "---",
        f"# Release {version}",
        "",
        f"Promoted from commit `{source_commit}` (dvc.lock sha256 `{lock_sha256[:16]}…`) on {created}.",
        (
            "The tables below are checked by promote-gate against the bundle's snapshots;"
            " an edit by hand is reported as PG304/PG403."
        ),
        "",
        "## Params",
        "",
        "<!-- promote-gate:params -->",
        "| file | param | value |",
        "|---|---|---|",
        *(
            f"| `{_piped(f)}` | `{_piped(k)}` | {_piped(v)} |"
            for (f, k), v in table_rows(params).items()
        ),
        "<!-- /promote-gate:params -->",
        "",
        "## Metrics",
        "",
        *([] if metrics else ["This release records no metrics: its pipeline declares none.", ""]),
        "<!-- promote-gate:metrics -->",
        f"| file | metric | value | {'vs ' + previous[0] if previous else 'baseline'} |",
        "|---|---|---|---|",
        *(
            f"| `{_piped(f)}` | `{_piped(k)}` | {_piped(v)} | {_delta(prev_rows.get((f, k)), v)} |"
            for (f, k), v in table_rows(metrics).items()
        ),
        "<!-- /promote-gate:metrics -->",
        "",
        "## Files",
        "",
        "| path | size | md5 | storage | promoted from |",
        "|---|---:|---|---|---|",
        *(
            f"| `{f['path']}` | {f['size']} | `{f['md5']}` | {f['storage']} "
            f"| `{f['source']['path']}` (stage `{f['source']['stage']}`) |"
            for f in files
        ),
        "",
        "Verify this bundle with `sha256sum -c SHA256SUMS` or `promote-gate verify <dir>`.",
        "",
    ]
    return "\n".join(lines)


def _delta(before: str | None, after: str) -> str:
    if before is None:
        return "new"
    try:
        old, new = json.loads(before), json.loads(after)
    except json.JSONDecodeError:
        return "—"
    if (
        isinstance(old, (int, float))
        and isinstance(new, (int, float))
        and not isinstance(old, bool)
    ):
        return f"{new - old:+.6g} (was {before})"
    return "unchanged" if old == new else f"was {before}"


# -- where bundles live: directories under the policy's publish root ---------------------


def fold(name: str) -> str:
    """A name as case-insensitive, normalising filesystems (macOS, Windows) compare it."""
    return unicodedata.normalize("NFC", name).casefold()


def list_bundles(view: View, config: Config) -> list[str]:
    """Bundle directory names under the publish root, by version number then name."""
    root = config.publish_root
    parent, _, last = root.rpartition("/")
    twins = sorted(n for n in view.children(parent) if n != last and fold(n) == fold(last))
    if twins:  # on macOS and Windows checkouts their files land inside the publish root
        raise GateError(
            f"{', '.join(f'{parent}/{t}' if parent else t for t in twins)}/ and {root}/ are one "
            "directory on case-insensitive filesystems: files there would enter the bundles"
        )
    for ancestor in [*reversed(list(iter_parents(root))), root]:
        above = view.entry(ancestor) if ancestor != root else None
        if above is not None:  # a symlinked directory on the way: never followed
            what = f"a symlink to {above.target}" if above.kind == "symlink" else f"a {above.kind}"
            raise GateError(
                f"{ancestor}/ (on the way to the publish root {root}/) is {what} in the "
                f"{view.label}, not a directory: bundles must be directories in the repository"
            )
    itself = view.entry(root)
    if itself is not None:  # never followed: a symlinked root could be any directory at all
        what = f"a symlink to {itself.target}" if itself.kind == "symlink" else f"a {itself.kind}"
        raise GateError(
            f"the publish root {root}/ is {what} in the {view.label}, not a directory: "
            "bundles must be directories in the repository"
        )
    names = {
        e.path[len(root) + 1 :].split("/", 1)[0]
        for e in view.files_under(root)
        # a symlink or submodule directly under the root stands where a bundle would: judge it
        if "/" in e.path[len(root) + 1 :] or e.kind != "file"
    }
    return sorted(
        names, key=lambda n: (config.version_number(n) is None, config.version_number(n) or 0, n)
    )
