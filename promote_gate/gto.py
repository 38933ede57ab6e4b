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
from collections.abc import Callable
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


# ---------------------------------------------------------------- promote-gate and GTO
SEMVER = re.compile(rf"v{_SEMVER}")
NAME = re.compile(_NAME)  # an artifact's or a stage's name, as GTO allows it

BUNDLE_TRAILER = "Promote-Gate-Bundle"
MANIFEST_TRAILER = "Promote-Gate-Manifest-SHA256"


def gto_version(version_name: str, number: int) -> str:
    """The GTO version of bundle ``number`` whose directory is ``version_name``: the name
    itself where it is a GTO version (``version_pattern: "v{n}.0.0"``), else ``vN.0.0``."""
    return version_name if SEMVER.fullmatch(version_name) else f"v{number}.0.0"


def bundle_number(version: str, number_of: Callable[[str], int | None]) -> int | None:
    """The bundle a GTO ``version`` stands for, or None: a bundle's directory name
    (``number_of``: the policy's ``Config.version_number``), or ``vN.0.0``, bundle N."""
    number = number_of(version)
    if number is not None:
        return number
    match = re.fullmatch(r"v([1-9][0-9]*)\.0\.0", version)
    return int(match.group(1)) if match else None


def artifact_tag_name(artifact: str) -> str:
    """How GTO writes an artifact in a tag: ``dir:model`` as ``dir=model``."""
    return artifact.replace(":", "=", 1)


def next_counter(names: list[str], artifact: str) -> int:
    """GTO's counter for a new assignment of ``artifact`` (``gto.tag.name_tag``): one more
    than the greatest counter any tag of that artifact carries, whatever its stage or
    action (1 when none does)."""
    counters = [
        parsed.counter
        for name in names
        if (parsed := parse_tag(name)) is not None
        and parsed.artifact == artifact
        and parsed.counter is not None
    ]
    return max([0, *counters]) + 1


def trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` trailers of a tag message's last paragraph (a signature block
    after it is not part of the message), first value of each key."""
    text = message.split("-----BEGIN ", 1)[0].strip("\n")
    last = text.rsplit("\n\n", 1)[-1]
    found: dict[str, str] = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z0-9-]+", key):
            found.setdefault(key, value.strip())
    return found


class TagRef(NamedTuple):
    """One tag as git stores it."""

    name: str  # without refs/tags/
    object: str  # what the ref points at: a tag object (annotated) or a commit (lightweight)
    kind: str  # that object's type
    target: str | None = None  # an annotated tag's object (one level: a nested tag's is a tag)
    target_kind: str | None = None
    time: int | None = None  # the tagger's time (annotated tags): GTO orders events by it
    header: str | None = None  # the name the tag object gives itself (its ``tag`` line)

    @property
    def parsed(self) -> TagName | None:
        return parse_tag(self.name)

    @property
    def renamed(self) -> bool:
        """An annotated tag under another name than its object's: what it says, and any
        signature, is of that other name (a tag object can be put under any ref)."""
        return self.kind == "tag" and self.header != self.name

    @property
    def commit(self) -> str | None:
        """The commit GTO reads the tag as pointing at: an annotated tag's target, when it
        is a commit (GTO does not peel further), else None — and None for a renamed tag,
        which vouches for nothing (no registration, no stage assigned before)."""
        if self.kind == "tag" and self.target_kind == "commit" and not self.renamed:
            return self.target
        return None
