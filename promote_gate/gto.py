"""GTO's git tag grammar, ported from ``gto.tag.parse_name`` (GTO 1.10).

GTO (DVC's model registry) records a model's lifecycle as git tags:

- registration ``NAME@vX.Y.Z`` (semver, prerelease and build allowed) and its
  deregistration ``NAME@vX.Y.Z!``;
- stage assignment ``NAME#STAGE`` or ``NAME#STAGE#N`` (N a counter) and its unassignment
  ``NAME#STAGE!#N``;
- deprecation ``NAME@deprecated``.

An artifact in a subdirectory is written ``DIR=NAME`` in a tag and ``DIR:NAME`` in GTO's
names. GTO itself is not imported: a hook must start fast.

One deliberate difference from GTO: GTO searches with ``^…$``, which also matches before a
final newline (``"model@v1.0.0\\n"``). No git ref can hold a newline, so here the whole name
must match. ``tests/test_gto.py`` holds this module to ``gto.tag.parse_name`` over generated
names.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# gto/constants.py, verbatim: names, directories (monorepo prefixes), semver.org's regex
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_DIRNAME = r"[a-zA-Z0-9-_./]+"
_SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_TAG = re.compile(
    rf"(?P<artifact>(?P<dirname>{_DIRNAME}=)?(?P<name>{_NAME}))"
    rf"(((#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?))"
    r"|@((?P<deprecated>deprecated)|(?P<created>created)))"
    r"(#(?P<counter>[0-9]+))?"
)


class TagName(NamedTuple):
    """What a GTO tag name says. ``action`` is "" for ``NAME@created``: GTO's grammar reads
    it, but no action stands behind it."""

    artifact: str  # GTO's name: "model", or "dir:model" for an artifact in dir/
    action: str  # register, deregister, assign, unassign, deprecate, or ""
    version: str | None = None  # "v1.2.3" for (de)registration
    stage: str | None = None  # for (un)assignment
    counter: int | None = None


def parse_tag(name: str) -> TagName | None:
    """The GTO tag ``name`` (a tag's name, without ``refs/tags/``), or None when it is not
    one. Never raises for a str."""
    match = _TAG.fullmatch(name)
    if match is None:
        return None
    artifact = match["artifact"].replace("=", ":", 1)
    cancel = match["cancel"] == "!"
    counter = int(match["counter"]) if match["counter"] else None
    if match["version"]:
        action = "deregister" if cancel else "register"
        return TagName(artifact, action, version=match["version"], counter=counter)
    if match["stage"]:
        action = "unassign" if cancel else "assign"
        return TagName(artifact, action, stage=match["stage"], counter=counter)
    return TagName(artifact, "deprecate" if match["deprecated"] else "", counter=counter)
