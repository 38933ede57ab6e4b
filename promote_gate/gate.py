"""The gate: a checkout's bundles collected and judged, project by project, into one report.

``check``, ``ci`` and the hooks call :func:`check_repo`; it opens the checkout
(``context/checkout.py``), collects each bundle's facts (``collect.py``) and judges them
(``report.judge``). Nothing here reads the disk or git itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from promote_gate.codes import selected_rules
from promote_gate.collect import Collector
from promote_gate.config import Config
from promote_gate.context.checkout import ProjectCheckout, open_checkout
from promote_gate.errors import UsageError
from promote_gate.evidence.bundle import list_bundles
from promote_gate.evidence.release import release_facts
from promote_gate.evidence.scope import Scope
from promote_gate.report import BundleReport, Report, judge, no_rule_ran
from promote_gate.rules import RULES


def check_repo(
    repo: str,
    *,
    rev: str | None = None,
    base: str | None = None,
    policy_from: str = "checked",
    policy_rev: str | None = None,
    config_path: str | None = None,
    bundles: list[str] | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    require_data: bool = False,
    traceback_on_error: bool = False,
    ci: bool = False,
    dvc_cache: str | None = None,
    project: str | None = None,
    every_project: bool = False,
    no_cache: bool = False,
    staged: bool = False,
) -> Report:
    """Collect and judge the bundles of a checkout (see ``open_checkout`` for what is
    checked, against what, under whose policy).

    With ``base``, bundles present there are released (PG501 guards them) and the others are
    candidates; without, every bundle is a candidate. Evidence a candidate is defined by
    (promoted bytes, .dir listings, recorded metrics) that cannot be read here fails its
    rule, unless the policy sets ``metadata_only``; ``require_data`` extends that to
    released bundles.
    """
    checkout = open_checkout(
        repo,
        rev=rev,
        staged=staged,
        base=base,
        policy_from=policy_from,
        policy_rev=policy_rev,
        config_path=config_path,
        ci=ci,
        dvc_cache=dvc_cache,
        project=project,
        every_project=every_project,
        no_cache=no_cache,
    )
    try:
        reports: list[BundleReport] = []
        notes: list[str] = []
        unverified = None
        wanted = set(bundles or ())
        seen: set[str] = set()
        for each in checkout.projects:
            found = judge_project(
                each,
                wanted=wanted,
                select=select,
                ignore=ignore,
                require_data=require_data,
                traceback_on_error=traceback_on_error,
                ci=checkout.ci,
            )
            directory = each.directory
            lead = directory + "/" if directory else ""
            seen |= {b.name for b in found} | {lead + b.path for b in found}
            reports += [_prefixed(b, directory) for b in found]
            notes += [n if not directory else f"{n} [{directory}]" for n in each.notes]
            if found and each.config.metadata_only:
                unverified = unverified or (
                    "metadata_only is set: the content of candidate bundles (promoted bytes, "
                    ".dir listings, DVC-stored metrics) was not required to be verified"
                )
        unknown = sorted(wanted - seen)
        if unknown:
            raise UsageError(f"no bundle {', '.join(unknown)} in the {checkout.view.label}")
        report = Report(
            tuple(reports),
            checkout.view.label,
            notes=tuple(dict.fromkeys(notes)),
            unverified=unverified,
        )
        return no_rule_ran(report)
    finally:
        checkout.close()


def judge_project(
    project: ProjectCheckout,
    *,
    wanted: set[str],
    select: list[str] | None,
    ignore: list[str] | None,
    require_data: bool,
    traceback_on_error: bool,
    ci: bool,
) -> list[BundleReport]:
    """One DVC project's bundles judged (paths project-relative)."""
    config = project.config
    present = list_bundles(project.view, config)
    released = list_bundles(project.base_view, config) if project.base_view else []
    names = sorted(set(present) | set(released), key=_order(config))
    chosen = selected_rules(select or config.select, [*config.ignore, *(ignore or ())])
    scope = Scope(
        project.view,
        config,
        project.git,
        project.store,
        project.policy_view,
        project.remote,
        frozenset(released),
        ci,
    )
    needed = frozenset().union(
        *(rule.evidence for rule in RULES if chosen.get(rule.code, "off") is None)
    )
    collector = Collector(scope, needed)
    numbered = [n for n in present if config.version_number(n) is not None]
    surface = max(numbered, key=lambda n: config.version_number(n) or 0) if numbered else None
    lead = project.git.prefix
    results = []
    for name in names:
        path = f"{config.publish_root}/{name}"
        if wanted and name not in wanted and lead + path not in wanted:
            continue
        release = release_facts(scope, project.base_view, name, path, released, present)
        facts = collector.bundle(
            name, path, candidate=not release.released, surface=name == surface
        )
        facts = dataclasses.replace(facts, release=release)
        strict = require_data or (facts.candidate and not config.metadata_only)
        results.append(
            judge(facts, chosen, require_data=strict, traceback_on_error=traceback_on_error)
        )
    return results


def _prefixed(bundle: BundleReport, project: str) -> BundleReport:
    """A project's bundle report with its paths made top-relative."""
    if not project:
        return bundle
    lead = project + "/"

    def fix(item: Any) -> Any:
        return dataclasses.replace(item, path=lead + item.path)

    results = tuple(
        dataclasses.replace(
            r,
            findings=tuple(fix(f) for f in r.findings),
            unverified=tuple(fix(u) for u in r.unverified),
        )
        for r in bundle.results
    )
    return dataclasses.replace(bundle, path=lead + bundle.path, results=results, project=project)


def _order(config: Config) -> Callable[[str], tuple[bool, int, str]]:
    def key(name: str) -> tuple[bool, int, str]:
        number = config.version_number(name)
        return (number is None, number or 0, name)

    return key
