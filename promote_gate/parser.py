"""The command line's grammar: every subcommand, its options and their help. The words
(descriptions, examples) are in ``usage.py``; ``cli.py`` parses with it and dispatches."""

from __future__ import annotations

import argparse

from promote_gate import __version__


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
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="PUB.pem",
        help="require bundle.sig, signed by this public key (repeatable: any of them)",
    )
    p.add_argument(
        "--allowed-signers",
        action="append",
        default=[],
        metavar="FILE",
        help="as --key, for every PEM public key in FILE",
    )
    _output(p)

    for name in ("sign", "attest"):
        p = command(name)
        _common(p)
        p.add_argument("version", help="the bundle, e.g. v2 (publish/v2)")
        key = p.add_mutually_exclusive_group(required=True)
        key.add_argument(
            "--key",
            metavar="KEY.pem",
            help="EC P-256/P-384 private key, PEM; encrypted: $PROMOTE_GATE_KEY_PASSWORD",
        )
        if name == "attest":
            key.add_argument(
                "--unsigned", action="store_true", help="no signature (for a CI signer to add)"
            )
            p.add_argument("--output", metavar="FILE", help="write here instead of stdout")

    p = command("tag")
    _common(p)
    p.add_argument("version", help="the bundle to register, e.g. v3 (GTO version v3.0.0)")
    p.add_argument("--stage", help="also assign this stage (NAME#STAGE#K)")
    p.add_argument(
        "--artifact", metavar="NAME", help="the artifact (default: config registry.artifact)"
    )
    p.add_argument(
        "--rev",
        help="the commit to register (default: the oldest of HEAD's history holding the "
        "bundle with dvc.yaml's artifact pointing at it)",
    )
    p.add_argument("--sign", action="store_true", help="sign the tags (git tag -s: SSH or GPG)")
    p.add_argument(
        "--push",
        metavar="REMOTE",
        help="fetch REMOTE's tags first (GTO's counter), judge against its registry, push",
    )

    p = command("registry")
    p.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: .)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--remote",
        default="origin",
        help="whose default branch's policy judges the versions (default: origin)",
    )

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
    p.add_argument(
        "--artifact",
        metavar="NAME",
        help="also point the project's dvc.yaml artifact NAME at the bundle (artifacts: NAME: "
        "path: publish/VERSION), for GTO tags and `dvc artifacts get` (default: config "
        "registry.artifact; none without it)",
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
        "--attest",
        metavar="FILE",
        help="also write the verdict as an in-toto statement (Test Result predicate) whose "
        "subjects are the bundles' files, for actions/attest or another signer",
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
