"""The gate: a checkout's bundles collected and judged, project by project, into one report.

``check``, ``ci`` and the hooks open a checkout (``context/checkout.py``) and hand it to
:func:`judge_checkout`, which collects each bundle's facts (``collect.py``) and judges
them (``report.judge``). Nothing here reads the disk or git itself.
"""

# No `from __future__ import annotations` here: it would make the NamedTuples below compile
# their annotations as ForwardRefs at every import (see evidence/records.py).

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from promote_gate.bundle import list_bundles
from promote_gate.codes import selected_rules
from promote_gate.collect import Collector
from promote_gate.config import Config
from promote_gate.context.checkout import Checkout, ProjectCheckout, open_checkout
from promote_gate.context.tags import TagEvent, TagPlan
from promote_gate.dvc import dvc_in
from promote_gate.errors import GateError, UsageError
from promote_gate.evidence.release import release_facts
from promote_gate.evidence.scope import Scope
from promote_gate.report import BundleReport, Report, error_file, judge, no_rule_ran
from promote_gate.rules import RULES, Unverified


class Selection(NamedTuple):
    """Which bundles and rules a run judges, and how strictly (the command's options)."""

    bundles: Sequence[str] = ()  # names or paths; empty: every bundle
    select: Sequence[str] = ()  # rule selectors; empty: the policy's
    ignore: Sequence[str] = ()
    require_data: bool = False  # released bundles' content must be readable too
    traceback_on_error: bool = False


EVERY_RULE = Selection()  # every bundle, the policy's rules


def judge_checkout(checkout: Checkout, selection: Selection = EVERY_RULE) -> Report:
    """Collect and judge the bundles of a checkout, every project of it, into one report.

    Bundles present at the base are released (PG501 guards them), the others candidates;
    without a base every bundle is a candidate. Evidence a candidate is defined by
    (promoted bytes, .dir listings, recorded metrics) that cannot be read fails its rule,
    unless the policy sets ``metadata_only``; ``require_data`` extends that to released
    bundles. DVC-tracked data a candidate's pipeline names and the working tree lacks (a
    clone without ``dvc pull``) is no evidence of staleness: its stages are judged as
    dvc.lock and the .dvc files record it, and a note says what is not pulled; with
    ``require_data`` that is an error, the run could not evaluate the data it asked for.
    """
    reports: list[BundleReport] = []
    notes: list[str] = []
    unverified = None
    wanted = set(selection.bundles)
    seen: set[str] = set()
    absent: dict[tuple[str, str], dict[str, list[str]]] = {}  # (command, project) -> paths
    for each in checkout.projects:
        found = judge_project(each, selection, wanted=wanted, ci=checkout.ci)
        directory = each.directory
        lead = directory + "/" if directory else ""
        seen |= {b.name for b in found} | {lead + b.path for b in found}
        for bundle in found:
            for command, paths in _not_in_workspace(bundle).items():
                for path in paths:
                    named = absent.setdefault((command, directory), {})
                    named.setdefault(lead + path, []).append(lead + bundle.path)
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
    said = [
        _absent_message(command, paths, selection.require_data, project)
        for (command, project), paths in sorted(
            absent.items(), key=lambda i: (i[0][0] != "pull", i)
        )
        if paths
    ]
    if checkout.projects:  # the stores of a run share one account of what was read
        notes += checkout.projects[0].store.reads.lines()
    errors: tuple[str, ...] = ()
    if selection.require_data:  # fails closed: the data itself was asked for
        errors = tuple(said)
    else:
        notes = [*said, *notes]
    report = Report(
        tuple(reports),
        checkout.view.label,
        errors=errors,
        notes=tuple(dict.fromkeys(notes)),
        unverified=unverified,
    )
    return no_rule_ran(report)


def judge_tag_event(
    repo: str, plan: TagPlan, event: TagEvent, *, ci: bool = False, ignore: Sequence[str] = ()
) -> Report:
    """One pushed GTO tag judged: the tag by the tag rules (PG7xx), and the bundle it
    releases, at the tagged commit, by every bundle rule, as a push of that commit to a
    branch that is not the default one would be: against what it shares with the default
    branch, under the policy of that branch's tip (the tagged commit's own only when the
    remote has no branch yet)."""
    from promote_gate.context.bases import project_policies
    from promote_gate.context.policy import policy_at
    from promote_gate.context.tags import message
    from promote_gate.evidence.tag import allowed_signers, tag_facts
    from promote_gate.git import Git
    from promote_gate.report import judge_tag

    git = Git.open(repo)
    try:
        commit = event.new.commit if event.new is not None else None
        trusted = plan.policy_rev or commit
        top = policy_at(git, trusted) if trusted else Config()
        trees = [commit] if commit else []
        policies = project_policies(git, trees, trusted, top=top) if trusted else {"": top}

        def policy_for(directory: str) -> Config:
            return policies.get(directory, top)

        def signers() -> bytes | None:
            path = top.registry.allowed_signers
            return allowed_signers(git, trusted, path) if trusted and path else None

        facts = tag_facts(
            git,
            event.name,
            event.new,
            event.old,
            plan.registry,
            plan.branches,
            policy_for,
            signers,
            lambda ref: message(git, ref),
        )
        config = policy_for(facts.artifact.rpartition(":")[0])
        chosen = selected_rules(config.select, [*config.ignore, *ignore])
        reports = [judge_tag(facts, chosen)]
        base = git.merge_base(commit, plan.policy_rev) if commit and plan.policy_rev else None
        if commit and plan.policy_rev and base is None:
            raise GateError(
                f"{event.name} tags {commit[:12]}, which shares no history with the default "
                "branch: the policy that governs it cannot be told"
            )
    finally:
        git.close()
    checked = f"tag {event.name}" + (
        f" (commit {commit[:12]})" if commit else " (deleted)" if event.new is None else ""
    )
    notes = (plan.note,) if plan.note else ()
    if not (facts.releases and facts.bundle and commit) or facts.bundle_problem:
        return no_rule_ran(Report(tuple(reports), checked, notes=notes))
    with open_checkout(
        repo,
        rev=commit,
        base=base,
        policy_from="base",
        policy_rev=trusted,
        every_project=True,
        ci=ci,
    ) as checkout:
        judged = judge_checkout(checkout, Selection(bundles=[facts.bundle], ignore=ignore))
    return dataclasses.replace(
        judged,
        bundles=(*reports, *judged.bundles),
        checked=checked,
        notes=(*notes, *judged.notes),
    )


def _not_in_workspace(bundle: BundleReport) -> dict[str, tuple[str, ...]]:
    """The DVC-managed paths of a candidate's pipeline that the working tree lacks, by the
    command that brings them: ``dvc pull`` (not in the DVC cache either: a clone without
    ``dvc pull``) or ``dvc checkout`` (in the cache)."""
    status = bundle.facts.repo.status if bundle.facts and bundle.facts.repo else None
    stages = list(status.values()) if status else []
    return {
        "pull": tuple(p for s in stages for p in s.not_pulled),
        "checkout": tuple(p for s in stages for p in s.not_checked_out),
    }


def _absent_message(command: str, paths: dict[str, list[str]], required: bool, project: str) -> str:
    """Data not in the working tree is no evidence against a release: it is not pulled (or
    not checked out), which ``dvc pull`` mends and ``--rev`` avoids, never ``dvc repro``."""
    shown = sorted(paths)
    listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    bundles = sorted({b for names in paths.values() for b in names})
    named = ", ".join(bundles[:3]) + (f" and {len(bundles) - 3} more" if len(bundles) > 3 else "")
    where = (
        "in neither the workspace nor the DVC cache"
        if command == "pull"
        else "in the DVC cache, not in the workspace"
    )
    head = "not pulled" if command == "pull" else "not checked out"
    if required:
        head += ", and --require-data asks for the data itself"
    return (
        f"{head}: {listed} (DVC-tracked: {where}; the pipeline of {named} names "
        f"{'them' if len(shown) > 1 else 'it'}): run `{dvc_in(project, 'dvc ' + command)}` "
        "(or `promote-gate check --rev HEAD` to judge the committed state from git objects)"
    )


def check_repo(
    repo: str,
    *,
    rev: str | None = None,
    base: str | None = None,
    policy_from: str = "checked",
    ci: bool = False,
    select: Sequence[str] = (),
) -> Report:
    """The working tree or ``rev`` judged against ``base``, in one call (the demo, tests)."""
    with open_checkout(repo, rev=rev, base=base, policy_from=policy_from, ci=ci) as checkout:
        return judge_checkout(checkout, Selection(select=select))


def judge_project(
    project: ProjectCheckout, selection: Selection, *, wanted: set[str], ci: bool
) -> list[BundleReport]:
    """One DVC project's bundles judged (paths project-relative)."""
    config = project.config
    scope = scope_of(project, ci)
    present = list_bundles(project.view, config)
    released = sorted(scope.released)
    names = sorted(set(present) | set(released), key=_order(config))
    chosen = selected_rules(selection.select or config.select, [*config.ignore, *selection.ignore])
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
        strict = selection.require_data or (facts.candidate and not config.metadata_only)
        results.append(
            judge(
                facts,
                chosen,
                require_data=strict,
                traceback_on_error=selection.traceback_on_error,
            )
        )
    return results


def scope_of(project: ProjectCheckout, ci: bool) -> Scope:
    """What the evidence providers read of one project: the checkout's decisions, and the
    bundles released at its base."""
    base = project.base_view
    released = list_bundles(base, project.config) if base is not None else []
    return Scope(
        project.view,
        project.config,
        project.git,
        project.store,
        project.policy_view,
        project.remote,
        frozenset(released),
        ci,
        project.keys,
        project.config.signing_required,
    )


def _prefixed(bundle: BundleReport, project: str) -> BundleReport:
    """A project's bundle report read from the repository's top: its paths, the bundle and
    file an error names in its text, and the DVC commands it says to run (``dvc --cd``)."""
    if not project:
        return bundle
    lead = project + "/"
    inside = re.compile(r"(?<![\w./@+-])" + re.escape(bundle.path + "/"))

    def shown(text: str) -> str:
        # a command keeps its project-relative paths: DVC reads them in the project
        return "".join(
            f"run: {dvc_in(project, part[5:])}"
            if _RUN_DVC.fullmatch(part)
            else inside.sub(lambda m: lead + m.group(0), part)
            for part in _RUN_DVC.split(text)
        )

    def fix(item: Any) -> Any:
        if isinstance(item, Unverified):
            command = item.command and dvc_in(project, item.command)
            return dataclasses.replace(
                item, path=lead + item.path, reason=shown(item.reason), command=command
            )
        return dataclasses.replace(item, path=lead + item.path, message=shown(item.message))

    def reason(text: str | None) -> str | None:
        named = error_file(text or "", "")
        if text is None or not named or named.startswith(lead):
            return text
        return shown(re.sub(rf"(?<![\w./@+-]){re.escape(named)}", lead + named, text, count=1))

    results = tuple(
        dataclasses.replace(
            r,
            findings=tuple(fix(f) for f in r.findings),
            unverified=tuple(fix(u) for u in r.unverified),
            reason=reason(r.reason),
        )
        for r in bundle.results
    )
    return dataclasses.replace(bundle, path=lead + bundle.path, results=results, project=project)


# a DVC command a message says to run ("run: dvc pull …"): typed at the top, it needs --cd
_RUN_DVC = re.compile(r"(run: dvc [^)`;]*)")


def _order(config: Config) -> Callable[[str], tuple[bool, int, str]]:
    def key(name: str) -> tuple[bool, int, str]:
        number = config.version_number(name)
        return (number is None, number or 0, name)

    return key
