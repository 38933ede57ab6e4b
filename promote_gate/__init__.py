"""promote-gate: a release gate for DVC repositories."""

from __future__ import annotations

__version__ = "0.1.0"
