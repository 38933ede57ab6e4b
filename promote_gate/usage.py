"""The command line's words: each subcommand's description and examples (``--help``), and
what ``-q``/``-v`` do. Strings only, apart from the parser (``cli.py``) that shows them."""

from __future__ import annotations

# subcommand -> (its one-line description, its examples): `promote-gate COMMAND --help`.
# tests/test_cli_usability.py holds every subcommand to both.
HELP: dict[str, tuple[str, str]] = {
    "check": (
        "Check bundles against dvc.lock, params, metrics and git history.",
        """\
  promote-gate check                          # the working tree; what origin's default branch has is released
  promote-gate check --rev HEAD --base origin/main
  promote-gate check --staged -q              # what `git commit` would record; findings only
  promote-gate check --select PG2 --format json --output report.json""",
    ),
    "verify": (
        "Verify a bundle directory with nothing but the bundle (a consumer's check).",
        """\
  promote-gate verify publish/v1
  promote-gate verify publish/v2 --key keys/release.pub    # and require its signature
  dvc get https://example.com/models.git publish/v3 -o v3 && promote-gate verify v3""",
    ),
    "sign": (
        "Sign a bundle that passes verify: bundle.sig, in the OpenSSF model signing format.",
        """  promote-gate sign v2 --key release.key      # writes publish/v2/bundle.sig
  PROMOTE_GATE_KEY_PASSWORD=… promote-gate sign v2 --key release.key  # an encrypted key""",
    ),
    "attest": (
        "Write an in-toto attestation of a bundle: its files, source commit, params, metrics.",
        """  promote-gate attest v2 --key release.key --output v2.intoto.jsonl
  promote-gate attest v2 --unsigned           # a DSSE envelope for another signer""",
    ),
    "tag": (
        "Register a bundle as a GTO version (and assign a stage) with GTO's tags, if the gate passes.",
        """\
  promote-gate tag v3                         # model@v3.0.0 on the commit holding publish/v3
  promote-gate tag v3 --stage prod --push origin   # and model#prod#K, pushed
  promote-gate tag v3 --stage staging --sign  # signed: git tag -s, as git is configured""",
    ),
    "registry": (
        "Show the GTO model registry with each version's bundle and whether the gate passes it.",
        """\
  promote-gate registry                       # artifacts, versions, stages, verdicts
  promote-gate registry --format json         # the same, for a deploy job or a dashboard""",
    ),
    "promote": (
        "Create a bundle from the reproduced, committed pipeline, or refuse and write nothing.",
        """\
  promote-gate promote                        # the next version (v1 when there is none)
  promote-gate promote v4                     # refused unless v4 is the next version
  promote-gate promote --out models/model.json --out data/prepared""",
    ),
    "ci": (
        "The CI check: works out head and base in GitHub Actions or GitLab CI, writes reports.",
        """\
  promote-gate ci                             # in a GitHub Actions or GitLab CI job
  promote-gate ci --codequality gl-code-quality-report.json --comment comment.md
  promote-gate ci --rev HEAD --base origin/main --target-branch main""",
    ),
    "diff": (
        "Review a promotion: params, metrics, files, comparability and dvc.lock changes.",
        """\
  promote-gate diff                           # the newest version against its baseline
  promote-gate diff v1 v2 --format markdown
  promote-gate diff v2 HEAD                   # a version against a git revision""",
    ),
    "hook": (
        "Run as a git hook: pre-commit/pre-merge-commit judge the index, pre-push each pushed ref.",
        """\
  promote-gate hook pre-commit -v             # judge the index as the hook does, saying more
  promote-gate hook pre-push origin URL < refs  # as git runs it: a line per pushed ref
                                              # (<local ref> <sha> <remote ref> <sha>)""",
    ),
    "install": (
        "Install promote-gate's git hooks into this repository, chained with any hook there.",
        """\
  promote-gate install                        # pre-commit, pre-merge-commit and pre-push
  promote-gate install --hook-type pre-push""",
    ),
    "uninstall": (
        "Remove promote-gate's git hooks, restoring the hooks they replaced.",
        """\
  promote-gate uninstall
  promote-gate uninstall --hook-type pre-commit""",
    ),
    "rules": (
        "List the rules: code, name and what violates each.",
        """\
  promote-gate rules
  promote-gate rules --format markdown        # the README's rule table""",
    ),
    "explain": (
        "Explain one rule, named by its code or its name (case-insensitive).",
        """\
  promote-gate explain PG204
  promote-gate explain pipeline-stale""",
    ),
    "schema": (
        "Print the JSON Schema of the bundle manifest or of the configuration.",
        """\
  promote-gate schema manifest
  promote-gate schema config > promote-gate.schema.json""",
    ),
    "demo": (
        "Build an example DVC project, promote v1, and show the gate pass and fail.",
        """\
  promote-gate demo                           # in a new temporary directory
  promote-gate demo /tmp/promote-gate-demo""",
    ),
}

# `promote-gate --help`, below the commands
EPILOG = """\
examples:
  promote-gate promote                        # the next version, from the reproduced pipeline
  promote-gate check -q                       # findings only
  promote-gate explain pipeline-stale

`promote-gate COMMAND --help` describes each command and shows examples. Exit status: 0 passed,
1 violations (or promote refused), 2 could not evaluate."""

# The commands whose output -q/-v shape (text output only: machine formats never change).
VERBOSITY_COMMANDS = ("check", "verify", "ci", "promote", "hook")
VERBOSITY_HELP = (
    "-q: only findings and errors (no passing bundles, notes or summary); -qq: nothing "
    "but errors, the exit status says the rest. -v: also what each verdict rests on "
    "(base, checked commit, evidence sources), every rule with its reason and time, and "
    "the run's time. Text output only; json, junit, sarif, gitlab, github and markdown "
    "never change"
)
