"""``promote-gate install``: write git's pre-commit, pre-merge-commit and pre-push hooks that
run promote-gate."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

from promote_gate.errors import EXIT_OK, UsageError
from promote_gate.git import Git

if TYPE_CHECKING:
    import argparse


# pre-merge-commit: `git merge` records a merge commit without running pre-commit; the same
# judgement of the index runs there (git passes it nothing, as to pre-commit)
HOOK_TYPES = ("pre-commit", "pre-merge-commit", "pre-push")


def marker(kind: str) -> str:
    return f"# promote-gate {kind} hook"


def launch(kind: str, paths: list[str]) -> str:
    """The Python an installed hook runs, under ``python -S``: no site initialisation (the
    interpreter starts in a fifth of the time), ``paths`` (where promote-gate and its
    dependencies were installed) added instead. git runs hooks in the work tree, which
    ``-c`` puts first on sys.path: it is dropped, so a yaml.py committed to the checked
    repository never runs. A full check calls ``site.main()`` first (see ``full_site``);
    an installation that moved since falls back to it at once."""
    return "\n".join(
        [
            "import sys",
            'sys.path[:] = [p for p in sys.path if p not in ("", ".")] + ' + json.dumps(paths),
            "try:",
            "    from promote_gate.cli import hook_main",
            "except ImportError:",
            "    import site",
            "    site.main()",
            "    from promote_gate.cli import hook_main",
            f"sys.exit(hook_main({json.dumps(kind)}, sys.argv[1:]))",
        ]
    )


def install_paths() -> list[str]:
    """Where this promote-gate and its dependencies are installed, for ``launch``."""
    import site

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [os.path.dirname(package), *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        found.append(site.getusersitepackages())
    return list(dict.fromkeys(found))


# A hook that was there before is kept as <kind>.legacy and runs first, with the same
# arguments (and for pre-push the same refs on stdin), as pre-commit chains one.
_CHAIN = {
    "pre-push": """    refs="$(cat)"
    printf '%s\\n' "$refs" | "$here/pre-push.legacy" "$@" || exit $?
    printf '%s\\n' "$refs" | {python} -S -c {launch} "$@"
    exit $?""",
    "pre-commit": """    "$here/pre-commit.legacy" "$@" || exit $?""",
    "pre-merge-commit": """    "$here/pre-merge-commit.legacy" "$@" || exit $?""",
}
HOOK = """#!/bin/sh
{marker} (written by `promote-gate install`)
# A {kind} hook that was here before is kept as {kind}.legacy and runs first.
here="$(dirname "$0")"
if [ -x "$here/{kind}.legacy" ]; then
{chain}
fi
exec {python} -S -c {launch} "$@"
"""


def hook_script(kind: str, python: str, paths: list[str]) -> str:
    import shlex

    fields = {
        "kind": kind,
        "python": shlex.quote(python),
        "launch": shlex.quote(launch(kind, paths)),
        "marker": marker(kind),
    }
    return HOOK.format(chain=_CHAIN[kind].format(**fields), **fields)


def _hooks_dir(git: Git) -> str:
    """Where git runs hooks from, refusing a directory that resolves, through a symlink,
    outside the repository and its git dir (a committed symlink named by core.hooksPath)."""
    hooks = git.run("rev-parse", "--git-path", "hooks").strip()  # honours core.hooksPath
    hooks = os.path.normpath(hooks if os.path.isabs(hooks) else os.path.join(git.root, hooks))
    common = git.run("rev-parse", "--git-common-dir").strip()
    common = os.path.realpath(common if os.path.isabs(common) else os.path.join(git.root, common))
    resolved = os.path.realpath(hooks)
    allowed = [common, os.path.realpath(git.root)]
    inside = any(os.path.commonpath([resolved, a]) == a for a in allowed)
    if resolved != hooks and not inside:
        raise UsageError(
            f"the hooks directory {hooks} resolves through a symlink to {resolved}, outside "
            f"the repository and its git dir: refusing to write a hook there"
        )
    return hooks


def _is_ours(path: str, kind: str) -> bool:
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as fobj:
        return marker(kind) in fobj.read(4096)


def install(args: argparse.Namespace) -> int:
    """Write git hooks (``--hook-type``, repeatable; default all of :data:`HOOK_TYPES`)."""
    from promote_gate.files import write_atomic

    git = Git.open(args.repo)
    try:
        hooks = _hooks_dir(git)
    finally:
        git.close()
    kinds = list(dict.fromkeys(args.hook_type or HOOK_TYPES))
    paths = install_paths()
    for kind in kinds:  # refuse before writing anything
        path = os.path.join(hooks, kind)
        foreign = os.path.lexists(path) and not _is_ours(path, kind)
        if foreign and os.path.lexists(path + ".legacy") and not args.force:
            raise UsageError(
                f"{path} is not promote-gate's, and {path}.legacy exists already: merge "
                "them into one hook, or use --force to replace the .legacy one"
            )
    for kind in kinds:
        path = os.path.join(hooks, kind)
        legacy = path + ".legacy"
        kept = None
        if os.path.lexists(path) and not _is_ours(path, kind):
            os.replace(path, legacy)  # a symlink is moved as the link, never followed
            kept = legacy
        # executable for everyone who can read it, like git's own sample hooks
        write_atomic(path, hook_script(kind, sys.executable, paths), mode=0o777)
        print(f"promote-gate: installed {path}")
        if kept:
            print(f"promote-gate: the hook that was there is kept as {kept} and runs first")
    return EXIT_OK


def uninstall(args: argparse.Namespace) -> int:
    """Remove promote-gate's hooks (``--hook-type``, repeatable; default all)."""
    raise UsageError("uninstall is not implemented yet")
