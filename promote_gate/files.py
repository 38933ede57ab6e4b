"""Files promote-gate writes: reports and hooks, never through a symlink it did not choose.

A checkout is content anyone can commit: a committed symlink named ``promote-gate-junit.xml``
(or a symlinked ``reports/`` directory) must not turn writing a report into overwriting a file
elsewhere. Writes go to a new temporary file beside the target (``O_EXCL``: never an existing
name, never a symlink) that is then renamed over the target, which replaces a symlink there
rather than following it. A path written as lying inside the working directory must also
resolve inside it; a path outside it (absolute, or ``../``) is written only because the user
named it.
"""

from __future__ import annotations

import os
import stat
import tempfile

from promote_gate.errors import UsageError


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def safe_target(path: str, base: str | None = None) -> str:
    """The absolute path to write ``path`` at, refusing one that is inside ``base`` (default:
    the working directory) as written but resolves outside it through a symlinked directory."""
    root = os.path.abspath(base or os.getcwd())
    target = os.path.abspath(os.path.join(root, path))
    directory = os.path.dirname(target)
    if _inside(target, root) and not _inside(os.path.realpath(directory), os.path.realpath(root)):
        raise UsageError(
            f"{path}: its directory resolves outside {root} through a symlink; "
            "refusing to write there"
        )
    return target


def write_atomic(target: str, text: str, mode: int = 0o666) -> None:
    """Write ``text`` to ``target`` through a temporary file renamed over it (a symlink at
    ``target`` is replaced, not followed). ``mode`` is masked by the umask, as open() does."""
    directory = os.path.dirname(target)
    if os.path.isdir(target) and not os.path.islink(target):
        raise UsageError(f"{target} is a directory")
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".promote-gate-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fobj:
            fobj.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, mode & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def write_report(path: str, text: str) -> None:
    """Write a report file (JUnit, Code Quality, --output) safely; see the module doc.

    A character device or FIFO named outside the working directory (``--output /dev/null``,
    ``/dev/stdout``, a pipe) is written to as it is: renaming a file over it would replace
    the device (as root, ``/dev/null`` itself). Inside the working directory, where a change
    could have put the name, nothing is ever written through a link to a device."""
    target = safe_target(path)
    if not _inside(target, os.path.abspath(os.getcwd())):
        try:
            mode = os.stat(target).st_mode
        except OSError:
            mode = 0
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            with open(target, "w", encoding="utf-8") as fobj:
                fobj.write(text)
            return
    write_atomic(target, text)
