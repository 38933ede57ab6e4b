"""How much text for a person says (``-q``/``-v``): set by the command line for one run
(``cli.main``), read where such text is written. A leaf: the hooks' quick path pays nothing.

``-2`` (``-qq``): nothing but errors, the exit status says the rest; ``-1`` (``-q``):
findings and errors only; ``0``: the default; ``1`` (``-v``): also what each verdict rests
on and timings. Machine formats (JSON, JUnit, SARIF, Code Quality, annotations, Markdown)
never depend on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

SILENT, QUIET, DEFAULT, VERBOSE = -2, -1, 0, 1

_current = [DEFAULT]  # a list, not a global statement: one value, changed only by `using`


def level() -> int:
    """The current level, from SILENT to VERBOSE."""
    return _current[0]


@contextmanager
def using(value: int) -> Iterator[None]:
    """Run a block at ``value`` (clamped to SILENT..VERBOSE); the previous level after it,
    so one run's -q never outlives it (tests, the demo call ``main`` in one process)."""
    before = _current[0]
    _current[0] = max(SILENT, min(VERBOSE, value))
    try:
        yield
    finally:
        _current[0] = before
