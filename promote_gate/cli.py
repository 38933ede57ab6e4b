"""Command line: argument parsing and the one error handler that maps failures to exit codes.

Exit codes: 0 clean, 1 violations, 2 the gate could not evaluate (usage, unreadable
repository, internal error). Heavy modules are imported by the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from promote_gate.errors import (
    EXIT_ERROR,
    EXIT_VIOLATIONS,
    DocumentError,
    GateError,
    RefusedError,
)

if TYPE_CHECKING:  # argparse is imported where a command line is parsed: not by the hooks
    import argparse


def main(argv: Sequence[str] | None = None) -> int:
    from promote_gate.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = args.quiet + getattr(args, "sub_quiet", 0)
    verbose = args.verbose + getattr(args, "sub_verbose", 0)
    if quiet and verbose:
        parser.error("-q/--quiet and -v/--verbose cannot be combined")
    args.verbosity = verbose - quiet
    from promote_gate import verbosity

    with verbosity.using(args.verbosity):
        if args.verbosity < 1:
            return _guarded(args, lambda: _dispatch(args))
        import time

        start = time.perf_counter()
        try:
            return _guarded(args, lambda: _dispatch(args))
        finally:
            took = time.perf_counter() - start
            print(f"promote-gate: {args.command} took {took:.2f} s", file=sys.stderr)


def hook_main(kind: str, argv: Sequence[str]) -> int:
    """The installed hooks' entry: ``hook KIND [REMOTE URL]`` without building the command
    line parser (argparse and its help machinery are a fifth of a quick hook's start-up),
    under the same exit codes and error handling as :func:`main`."""
    if len(argv) > 2 or any(a.startswith("-") for a in argv):
        return main(["hook", kind, *argv])  # not what git passes: let argparse say why
    from types import SimpleNamespace

    args = SimpleNamespace(
        command="hook",
        kind=kind,
        remote=argv[0] if argv else None,
        url=argv[1] if len(argv) > 1 else None,
        repo=".",
        traceback=False,
    )
    lines = None  # git's pre-push refs, read once: a second attempt must judge the same refs
    if kind == "pre-push" and os.environ.get("PRE_COMMIT") != "1":
        lines = sys.stdin.read().splitlines()

    def call() -> int:
        from promote_gate.commands import hook

        return hook.run(kind, args.repo, args.remote, lines)

    if sys.flags.no_site and "site" not in sys.modules:
        # started with `python -S`: a dependency reachable only through a .pth file is
        # missing until site runs; then it runs, and the (read-only) judgement again
        try:
            return _guarded(args, call, imports_escape=True)
        except ImportError:
            import site

            site.main()
    return _guarded(args, call)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check":
        from promote_gate.commands import check

        return check.run(args)
    if args.command == "verify":
        from promote_gate.commands import verify

        return verify.run(args)
    if args.command == "promote":
        from promote_gate.commands import promote

        return promote.run(args)
    if args.command == "registry":
        from promote_gate.commands import registry

        return registry.run(args)
    if args.command == "tag":
        from promote_gate.commands import tag

        return tag.run(args)
    if args.command in {"sign", "attest"}:
        from promote_gate.commands import sign

        return sign.run(args)
    if args.command == "diff":
        from promote_gate.commands import diff

        return diff.run(args)
    if args.command == "ci":
        from promote_gate.commands import ci

        if args.sarif is None and os.environ.get("GITHUB_ACTIONS") == "true":
            args.sarif = "promote-gate.sarif"  # code scanning reads it, if uploaded

        return ci.run(args)
    if args.command == "hook":
        from promote_gate.commands import hook

        return hook.run(args.kind, args.repo, args.remote)
    if args.command in {"install", "uninstall"}:
        from promote_gate.commands import install

        return install.run(args)
    if args.command in {"rules", "explain", "schema"}:
        from promote_gate.commands import catalogue

        return catalogue.run(args)
    if args.command == "demo":
        from promote_gate.commands import demo

        return demo.run(args)
    raise AssertionError(f"unknown command {args.command}")  # argparse refuses first


def _guarded(args: Any, call: Callable[[], int], imports_escape: bool = False) -> int:
    """Run a command; map what it raises to exit codes (fail closed: a crash is never a pass).
    With ``imports_escape`` an ImportError is the caller's (``hook_main`` retries)."""
    try:
        return call()
    except RefusedError as exc:
        print(f"promote-gate: refused: {exc}", file=sys.stderr)
        return EXIT_VIOLATIONS
    except GateError as exc:
        return _fail(args, str(exc))
    except DocumentError as exc:
        return _fail(args, str(exc))  # it names the document: too large, too deep, unreadable
    except KeyboardInterrupt:
        print("promote-gate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if imports_escape and isinstance(exc, ImportError):
            raise
        if args.traceback:
            import traceback

            traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {exc} (run with --traceback for details)"
        return _fail(args, message)


def _fail(args: Any, message: str) -> int:
    """Exit 2 with a clear message. The error is shown where findings are: a requested JUnit
    file records it as an <error>, a Code Quality file as a blocker, SARIF as a failed
    execution, the comment says so, and on GitHub (``ci``, or ``--format github``) it is an
    ``::error`` annotation."""
    print(f"promote-gate: error: {message}", file=sys.stderr)
    try:
        return _error_reports(args, message)
    except ImportError:  # the reporters cannot be loaded: the message above is all there is
        return EXIT_ERROR


def _error_reports(args: Any, message: str) -> int:
    from promote_gate.report import Report

    report = Report((), "repository", errors=(message,))
    outputs = []
    if getattr(args, "junit_xml", None):
        outputs.append((args.junit_xml, "junit"))
    if getattr(args, "codequality", None):
        outputs.append((args.codequality, "gitlab"))
    if getattr(args, "sarif", None):
        outputs.append((args.sarif, "sarif"))
    if getattr(args, "comment", None):
        outputs.append((args.comment, "comment"))
    fmt = getattr(args, "format", None)
    if getattr(args, "output", None) and fmt in {"gitlab", "github", "json", "sarif"}:
        outputs.append((args.output, fmt))
    for path, kind in outputs:
        _write_error_report(path, kind, report)
    github = getattr(args, "command", None) == "ci" and os.environ.get("GITHUB_ACTIONS") == "true"
    if (github or fmt == "github") and not getattr(args, "output", None):
        from promote_gate.reporters import github as github_reporter

        sys.stdout.write(github_reporter.render(report))
    return EXIT_ERROR


def _write_error_report(path: str, kind: str, report: Any) -> None:
    from promote_gate.files import write_report
    from promote_gate.reporters import reporter

    render = reporter(kind)
    try:
        write_report(path, render(report))
    except OSError as exc:
        print(f"promote-gate: error: cannot write {path}: {exc.strerror}", file=sys.stderr)
    except GateError as exc:  # a refused report path: said, and still exit 2
        print(f"promote-gate: error: {exc}", file=sys.stderr)
