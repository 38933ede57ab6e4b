"""``promote-gate registry``: the model registry as GTO shows it (artifacts, versions, which
version each stage holds), with each version's bundle and the gate's verdict on it — the
registration judged as its push would be. Read only: this clone's tags, no fetch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from promote_gate.context.tags import local_tags, plan_local
from promote_gate.errors import EXIT_ERROR, EXIT_OK, EXIT_VIOLATIONS, GateError
from promote_gate.git import Git
from promote_gate.gto import TagRef


def stages_held(tags: list[TagRef], artifact: str, dropped: set[str]) -> dict[str, str]:
    """Which version each stage of ``artifact`` holds, as ``gto show`` reads it: the latest
    assignment by tagger time (ties by name), less unassignments; deregistered versions
    (``dropped``) hold nothing. ``tags`` map commits to versions through registrations."""
    version_at = {
        t.commit: p.version
        for t in tags
        if (p := t.parsed) and p.artifact == artifact and p.action == "register" and t.commit
    }
    held: dict[str, str] = {}
    for tag in sorted(tags, key=lambda t: (t.time or 0, t.name)):
        parsed = tag.parsed
        if parsed is None or parsed.artifact != artifact or not parsed.stage:
            continue
        version = version_at.get(tag.commit or "")
        if version is None or version in dropped:
            continue
        if parsed.action == "assign":
            held[parsed.stage] = version
        elif parsed.action == "unassign" and held.get(parsed.stage) == version:
            del held[parsed.stage]
    return held


def registry(repo: str, remote: str) -> dict[str, Any]:
    """Every artifact's versions (newest registration first) and stages, with verdicts."""
    from promote_gate.gate import judge_tag_event

    with Git.open(repo) as git:
        tags = list(local_tags(git).values())
        registrations = {
            t.name: t
            for t in tags
            if (p := t.parsed) is not None and p.action == "register" and t.commit is not None
        }
        if not registrations:
            return {}
        # one plan for them all: the clone's tags and the default branch, read once
        plan = plan_local(git, list(registrations), remote)
    found: dict[str, Any] = {}
    for event in plan.events:
        tag = registrations[event.name]
        parsed = tag.parsed
        assert parsed is not None
        entry = found.setdefault(parsed.artifact, {"versions": [], "stages": {}})
        try:
            report = judge_tag_event(repo, plan, event)
        except GateError as exc:
            verdict, codes, bundle = "error", [str(exc)], None
        else:
            verdict = {0: "passed", 1: "failed"}.get(report.exit_code, "error")
            codes = sorted({r.rule.code for b in report.bundles for r in b.failed})
            bundle = next((b.path for b in report.bundles[1:]), None)
        entry["versions"].append(
            {
                "version": parsed.version,
                "tag": tag.name,
                "commit": tag.commit,
                "bundle": bundle,
                "verdict": verdict,
                "codes": codes,
                "time": tag.time,
            }
        )
    for artifact, entry in found.items():
        dropped = {
            p.version
            for t in tags
            if (p := t.parsed) and p.artifact == artifact and p.action == "deregister"
        }
        for version in entry["versions"]:
            version["deregistered"] = version["version"] in dropped
        entry["stages"] = stages_held(tags, artifact, {str(v) for v in dropped})
        entry["versions"].sort(key=lambda v: (v["time"] or 0, v["tag"]), reverse=True)
    return found


def run(args: argparse.Namespace) -> int:
    found = registry(args.repo, args.remote)
    if args.format == "json":
        json.dump({"format": "promote-gate/registry/1", "artifacts": found}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from promote_gate.reporters.text import safe

        if not found:
            print("no GTO registrations in this clone (git fetch --tags?)")
        for artifact, entry in sorted(found.items()):
            print(safe(artifact))
            holds: dict[str, list[str]] = {}
            for stage, version in entry["stages"].items():
                holds.setdefault(version, []).append(stage)
            for v in entry["versions"]:
                said = {"passed": "releasable", "failed": "refused", "error": "not judged"}
                verdict = said[v["verdict"]] + (f" ({', '.join(v['codes'])})" if v["codes"] else "")
                stages = ", ".join(holds.get(v["version"], [])) or "-"
                gone = "  deregistered" if v["deregistered"] else ""
                where = f"{v['bundle'] or '-':<16} {v['commit'][:12]}"
                print(safe(f"  {v['version']:<12} {where}  {verdict}  stages: {stages}{gone}"))
    # as check: 1 when a live version is refused, 2 when one could not be judged
    codes = {"passed": EXIT_OK, "failed": EXIT_VIOLATIONS, "error": EXIT_ERROR}
    live = [v for e in found.values() for v in e["versions"] if not v["deregistered"]]
    return max((codes[v["verdict"]] for v in live), default=EXIT_OK)
