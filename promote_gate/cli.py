"""Command line: argument parsing and the one error handler that maps failures to exit codes.

Exit codes: 0 clean, 1 violations, 2 the gate could not evaluate (usage, unreadable
repository, internal error). Heavy modules are imported by the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from promote_gate import __version__
from promote_gate.errors import (
    EXIT_ERROR,
    EXIT_VIOLATIONS,
    DocumentError,
    GateError,
    RefusedError,
)

if TYPE_CHECKING:  # argparse is imported where a command line is parsed: not by the hooks
    import argparse


def _codes(value: str) -> list[str]:
    """``--select``/``--ignore``: rule codes or prefixes, as in ruff and in the policy's
    ``select``/``ignore``. A rule's name is refused, naming its code: names are for reading
    (``explain pipeline-stale``); selection by code keeps one spelling on the command line
    and in the configuration, and a prefix (``PG2``) selects a family no name could."""
    import argparse
    import re

    given = [c.strip() for c in value.split(",") if c.strip()]
    for item in given:
        if not re.fullmatch(r"PG[0-9]{0,3}", item.upper()):
            from promote_gate.rules import RULES

            named = [r for r in RULES if r.name == item.lower()]
            if named:
                raise argparse.ArgumentTypeError(
                    f"{item!r} is a rule name: select rules by code ({named[0].code}) or prefix"
                )
            raise argparse.ArgumentTypeError(f"{item!r} is not a rule code or prefix (PG104, PG1)")
    codes = [c.upper() for c in given]
    from promote_gate.codes import unknown_selectors

    unknown = unknown_selectors(codes)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown rule code or prefix {', '.join(unknown)} (promote-gate rules lists them)"
        )
    return codes


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: .)")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: .promote-gate.yaml or pyproject.toml)",
    )
    p.add_argument(
        "--project",
        metavar="DIR",
        help="the DVC project (a directory with .dvc/; default: the one the current "
        "directory is in, as DVC finds it; at the top of the repository, every project)",
    )


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=["text", "json", "markdown", "github", "gitlab", "sarif"],
        default="text",
        help="stdout format (github: workflow-command annotations; gitlab: Code Quality JSON; "
        "sarif: SARIF 2.1.0 for code scanning)",
    )
    p.add_argument(
        "--output", metavar="FILE", help="write the --format output here instead of stdout"
    )
    p.add_argument("--junit-xml", metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 report")
    p.add_argument(
        "--select",
        type=_codes,
        default=[],
        metavar="CODES",
        help="only these rules: codes or prefixes, comma-separated (PG204,PG5), not names; "
        "`promote-gate rules` lists code and name",
    )
    p.add_argument(
        "--ignore",
        type=_codes,
        default=[],
        metavar="CODES",
        help="skip these rules (codes or prefixes, as --select)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="hash every file, even one whose identity (inode, size, mtime, ctime) is unchanged "
        "since an earlier run (CI mode always does)",
    )
    p.add_argument(
        "--require-data",
        action="store_true",
        help="fail where evidence (DVC-tracked content) is not available instead of skipping",
    )


def _verbosity(p: argparse.ArgumentParser, dest: str = "") -> None:
    """-q/--quiet and -v/--verbose (counted). On the subcommands under their own names,
    added to the top level's: argparse would let a subcommand's default overwrite a value
    given before it (``promote-gate -q check``)."""
    from promote_gate import usage

    p.add_argument(
        "-q", "--quiet", action="count", default=0, dest=f"{dest}quiet", help=usage.VERBOSITY_HELP
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        dest=f"{dest}verbose",
        help="say more (see -q)",
    )


def _hook_types(p: argparse.ArgumentParser) -> None:
    """install's and uninstall's options: the repository, and which hooks."""
    p.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: .)")
    p.add_argument(
        "--hook-type",
        action="append",
        choices=["pre-commit", "pre-merge-commit", "pre-push"],
        metavar="TYPE",
        help="pre-commit, pre-merge-commit or pre-push (repeatable; default: all three)",
    )


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from promote_gate import usage

    parser = argparse.ArgumentParser(
        prog="promote-gate",
        description="Create, check and verify versioned release bundles of a DVC pipeline.",
        epilog=usage.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"promote-gate {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show tracebacks of internal errors"
    )
    _verbosity(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str) -> argparse.ArgumentParser:
        description, examples = usage.HELP[name]
        return sub.add_parser(
            name,
            help=description[0].lower() + description[1:].rstrip("."),
            description=description,
            epilog=f"examples:\n{examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command("check")
    _common(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--rev", help="check this commit's tree (from git objects) instead of the working tree"
    )
    what.add_argument(
        "--staged",
        action="store_true",
        help="check the index: what `git commit` would record (base: the upstream, else HEAD; "
        "policy from the base)",
    )
    p.add_argument(
        "--base",
        metavar="REV",
        help="bundles present at REV are released (they must not change); the rest are new "
        "(default in the working tree: what HEAD shares with the remote's default branch)",
    )
    p.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="NAME",
        help="only this bundle (repeatable)",
    )
    _output(p)

    p = command("verify")
    p.add_argument(
        "directory", help="the bundle directory (e.g. publish/v1, or what dvc get wrote)"
    )
    _output(p)

    p = command("promote")
    _common(p)
    p.add_argument(
        "version",
        nargs="?",
        help="the version to create, e.g. v4; it must be the next one (the newest plus one), "
        "as PG502 version-order requires (default: the next one, following version_pattern)",
    )
    p.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="PATH",
        help="a pipeline output to promote (repeatable; default: config 'outputs')",
    )

    p = command("ci")
    _common(p)
    p.add_argument("--rev", help="the head to check (default: from the CI, else HEAD)")
    p.add_argument("--base", metavar="REV", help="the base (default: from the CI, else none)")
    p.add_argument(
        "--target-branch", metavar="NAME", help="the branch merged into (default: from the CI)"
    )
    p.add_argument(
        "--remote", default="origin", help="where to fetch missing history (default: origin)"
    )
    p.add_argument(
        "--junit-xml",
        default="promote-gate-junit.xml",
        metavar="FILE",
        help="JUnit report (default: %(default)s)",
    )
    p.add_argument("--codequality", metavar="FILE", help="also write a GitLab Code Quality report")
    p.add_argument(
        "--sarif",
        metavar="FILE",
        help="also write a SARIF 2.1.0 report (on GitHub Actions: promote-gate.sarif by default)",
    )
    p.add_argument(
        "--comment",
        metavar="FILE",
        help="also write the pull/merge request comment: the verdict and the review (Markdown)",
    )
    p.add_argument(
        "--dvc-cache",
        metavar="DIR",
        help="a DVC cache to read objects from (every object is hashed before it counts); "
        "by default CI ignores the checkout's own .dvc/cache and reads the base's DVC remote",
    )
    p.add_argument(
        "--policy-from",
        choices=["base", "head"],
        default="base",
        help="read .promote-gate.yaml from the base (default) or, to bootstrap, from the head",
    )
    p.add_argument(
        "--require-data",
        action="store_true",
        help="fail where evidence is not available instead of skipping",
    )

    p = command("diff")
    _common(p)
    p.add_argument(
        "a",
        nargs="?",
        help="the baseline: a version or a git revision (default: the configured baseline of B)",
    )
    p.add_argument(
        "b",
        nargs="?",
        help="the candidate: a version or a git revision (default: the newest version)",
    )
    p.add_argument("--rev", help="read bundles from this commit's tree instead of the working tree")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument("--output", metavar="FILE", help="write here instead of stdout")

    p = command("hook")
    p.add_argument("kind", choices=["pre-commit", "pre-merge-commit", "pre-push"])
    p.add_argument("remote", nargs="?", help="the remote's name, as git passes it")
    p.add_argument("url", nargs="?", help="the remote's URL, as git passes it")
    p.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: .)")

    p = command("install")
    _hook_types(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing <hook>.pre-promote-gate (a foreign hook is always kept and chained)",
    )

    p = command("uninstall")
    _hook_types(p)

    p = command("rules")
    p.add_argument("--format", choices=["text", "markdown"], default="text")

    p = command("explain")
    p.add_argument("rule", metavar="RULE", help="a rule code or name, e.g. PG204 or pipeline-stale")

    p = command("schema")
    p.add_argument("which", choices=["manifest", "config"])

    p = command("demo")
    p.add_argument(
        "directory", nargs="?", help="where to build it (default: a new temporary directory)"
    )
    for name, each in sub.choices.items():  # `promote-gate check --traceback` works too
        each.add_argument(
            "--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        if name in usage.VERBOSITY_COMMANDS:  # `promote-gate check -q` as `promote-gate -q check`
            _verbosity(each, dest="sub_")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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

        return install.install(args) if args.command == "install" else install.uninstall(args)
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
