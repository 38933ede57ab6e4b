"""Which DVC project a command works on, and the policy (``.promote-gate.yaml`` or
``[tool.promote-gate]``) that governs it, read from a view or a commit the caller chose.
Light: the hooks' quick paths import it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from promote_gate import config as config_mod
from promote_gate.errors import MAX_DOCUMENT_BYTES, UsageError
from promote_gate.git import Git

if TYPE_CHECKING:
    from promote_gate.repo import View
    from promote_gate.signing import PublicKey


def policy_at(git: Git, commit: str) -> config_mod.Config:
    """The repository's policy at ``commit`` (git objects): the base's, so a change cannot
    switch off its own gate."""

    def present(path: str) -> bool:
        return git.ok("cat-file", "-e", f"{commit}:{path}")

    return config_mod.load(
        lambda path: git.read_at(commit, path, MAX_DOCUMENT_BYTES), present=present
    )


def load_policy(
    view: View, top: View, project: str, config_path: str | None, explicit_in_view: bool
) -> config_mod.Config:
    """A project's policy: its own configuration file, else the repository's (the top's),
    with paths such as ``publish_root`` relative to the project; ``--config`` for all."""
    if config_path is not None:
        return config_mod.load(top.read, config_path, explicit_in_view=explicit_in_view)
    if project:
        own = config_mod.load_own(view.read, view.present, project + "/")
        if own is not None:
            return own
    return config_mod.load(top.read, present=top.present)


def project_of(git: Git, directory: str, explicit: str | None) -> str | None:
    """The DVC project a command run in ``directory`` works on, as DVC finds it (the nearest
    directory up to the top with ``.dvc/config``): its top-relative path, or None for the
    top. ``explicit`` (``--project``) names it instead."""
    top = os.path.realpath(git.top)
    if explicit is not None:
        where = os.path.realpath(os.path.join(directory, explicit))
        if os.path.commonpath([where, top]) != top:
            raise UsageError(f"--project {explicit}: outside the repository {git.top}")
        rel = os.path.relpath(where, top).replace(os.sep, "/")
        return None if rel == "." else rel
    here = os.path.realpath(directory)
    while os.path.commonpath([here, top]) == top and here != top:
        config = os.path.join(here, ".dvc", "config")
        if os.path.isfile(config) and not os.path.islink(config):
            return os.path.relpath(here, top).replace(os.sep, "/")
        here = os.path.dirname(here)
    return None


def trusted_keys(top: View, config: config_mod.Config) -> tuple[PublicKey, ...]:
    """The public keys the policy trusts to sign (``signing.keys``), read from ``top``: the
    repository's top at the revision the policy comes from, so a change cannot bring the
    key that signs its own release. UsageError when one cannot be read there."""
    if not config.signing_keys:
        return ()
    from promote_gate.signing import public_keys

    keys: list[PublicKey] = []
    for path in config.signing_keys:
        entry = top.entry(path)
        data = top.read(path) if entry is not None and entry.kind == "file" else None
        if data is None:
            what = "not a regular file" if entry is not None else "not there"
            raise UsageError(
                f"signing.keys: {path} is {what} in the {top.label}, whose policy applies: "
                "a trusted key must be committed where the policy is"
            )
        keys.extend(public_keys(data, path))
    return tuple(keys)
