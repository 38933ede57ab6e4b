"""``promote-gate diff [A] [B]``: a review of a promotion, from snapshots and git history only."""

from __future__ import annotations

import argparse
import sys

from promote_gate.bundle import list_bundles
from promote_gate.compare import Comparison, Side, compare
from promote_gate.context.checkout import open_view
from promote_gate.dvc.project import choose_one
from promote_gate.errors import UsageError
from promote_gate.evidence.bundle import read_bundle
from promote_gate.evidence.comparison import side_of_bundle, side_of_revision
from promote_gate.evidence.scope import Scope
from promote_gate.files import write_report
from promote_gate.repo import CommitView


def run(args: argparse.Namespace) -> int:
    from promote_gate.reporters import diff

    comparison = diff_repo(
        args.repo, args.a, args.b, rev=args.rev, config_path=args.config, project=args.project
    )
    render = {"text": diff.text, "markdown": diff.markdown, "json": diff.as_json}[args.format]
    out = render(comparison)
    if args.output:
        write_report(args.output, out)
    else:
        sys.stdout.write(out)
    return 0


def diff_repo(
    repo: str,
    a: str | None,
    b: str | None,
    *,
    rev: str | None = None,
    config_path: str | None = None,
    project: str | None = None,
) -> Comparison:
    git, view, config = open_view(repo, rev, project, config_path)
    try:
        hint = "" if git.prefix else choose_one(view)
        if hint:  # the top of a monorepo: diff reviews one project's releases
            raise UsageError(f"there is no DVC project at the top to review; {hint}")
        names = list_bundles(view, config)
        numbered = [n for n in names if config.version_number(n) is not None]
        scope = Scope.local(view, config, git)

        def side(which: str) -> Side:
            if which in names:
                path = f"{config.publish_root}/{which}"
                return side_of_bundle(read_bundle(scope, which, path), scope)
            commit = git.resolve(which)
            if commit is None:
                raise UsageError(
                    f"{which!r} is neither a bundle under {config.publish_root}/ nor a git revision"
                )
            return side_of_revision(CommitView(git, commit), scope.store, config)

        if b is None:
            if not numbered:
                raise UsageError(f"no bundles under {config.publish_root}/ to review")
            b = max(numbered, key=lambda n: config.version_number(n) or 0)
        if a is None:
            a = config.baseline
            if a == "previous":
                number = config.version_number(b)
                older = [n for n in numbered if (config.version_number(n) or 0) < (number or 0)]
                if not older:
                    raise UsageError(
                        f"{b} has no earlier version to compare with: name one (diff A B)"
                    )
                a = max(older, key=lambda n: config.version_number(n) or 0)
        return compare(side(a), side(b), config)
    finally:
        git.close()
