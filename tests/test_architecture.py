"""The package's structure as ARCHITECTURE.md draws it: imports form no circle (deferred
imports inside functions included), and no module grows past 500 lines unless
ARCHITECTURE.md says why."""

from __future__ import annotations

import ast
from pathlib import Path

import promote_gate
from promote_gate.codes import CODES
from promote_gate.rules import RULES

PACKAGE = Path(promote_gate.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its body (deferred ones too).
    ``from pkg import mod`` counts as an import of ``pkg.mod`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
                elif target in known:
                    found.add(target)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports. Importing ``a.b.c`` runs ``a/__init__``
    and ``a/b/__init__`` first: those are arrows too, except to the importer's own
    packages (a module's package is always imported before it, whatever it imports)."""
    found = modules()
    known = set(found)
    edges = {}
    for name, path in found.items():
        targets = imports_of(name, path, known)
        parents = {t.rsplit(".", i)[0] for t in targets for i in range(1, t.count(".") + 1)}
        own = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
        edges[name] = (targets | (parents - own)) & known - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_circle() -> None:
    # the finder itself can fail: a -> b -> c -> a is one circle, d hangs off it
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_the_graph_sees_deferred_and_package_imports() -> None:
    edges = graph()
    # cli imports its commands inside functions: those arrows must be in the graph
    assert "promote_gate.commands.check" in edges["promote_gate.cli"]
    assert "promote_gate.rules.integrity" in edges["promote_gate.rules"]


def test_no_import_circles() -> None:
    found = cycles(graph())
    assert found == [], "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_modules_stay_small_unless_architecture_says_why() -> None:
    # beside the tests, not the package: against an installed wheel the package is elsewhere
    allowed = (Path(__file__).resolve().parents[1] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    large = {
        f"promote_gate/{p.relative_to(PACKAGE).as_posix()}": n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    unexplained = {p: n for p, n in large.items() if f"`{p}`" not in allowed}
    assert unexplained == {}, (
        f"modules over {MAX_LINES} lines that ARCHITECTURE.md does not explain"
    )


def test_rule_codes_leaf_matches_the_registry() -> None:
    # config.py validates selectors against this static tuple without importing the rules
    assert tuple(r.code for r in RULES) == CODES


# Nothing climbs back up: what each part of the package may never import (prefixes).
# Commands are reached only from the CLI; the gate only from commands; the context and
# the providers never see how they are used; rules are pure functions of facts; reporters
# only format a finished report.
UPWARD = {
    "promote_gate.evidence": ("collect", "gate", "commands", "context", "cli", "reporters"),
    "promote_gate.context": ("collect", "evidence", "gate", "commands", "cli", "reporters"),
    "promote_gate.rules": ("collect", "evidence", "context", "gate", "commands", "git", "repo"),
    # where a finding's evidence lives in its file: pure, as rules are (the judge asks it)
    "promote_gate.locate": ("collect", "evidence", "context", "gate", "commands", "git", "repo"),
    "promote_gate.reporters": ("collect", "evidence", "context", "gate", "commands", "git"),
    "promote_gate.dvc": ("collect", "evidence", "context", "gate", "commands", "rules"),
    "promote_gate.collect": ("gate", "commands", "context", "cli", "reporters"),
    "promote_gate.gate": ("commands", "cli", "reporters"),
    "promote_gate.git": ("repo", "dvc", "collect", "evidence", "context", "gate", "commands"),
}


def test_nothing_climbs_back_up() -> None:
    edges = graph()
    climbing = sorted(
        (source, target)
        for source, targets in edges.items()
        for part, forbidden in UPWARD.items()
        if source == part or source.startswith(part + ".")
        for target in targets
        if any(
            target == f"promote_gate.{f}" or target.startswith(f"promote_gate.{f}.")
            for f in forbidden
        )
    )
    assert climbing == []


def test_commands_are_reached_only_from_the_cli() -> None:
    edges = graph()
    callers = {
        source
        for source, targets in edges.items()
        if any(t.startswith("promote_gate.commands.") for t in targets)
        and source != "promote_gate.cli"
        and not source.startswith("promote_gate.commands")
    }
    assert callers == set()
