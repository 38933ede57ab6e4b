"""Whether the default DVC remote — as the policy's revision configures it: a change cannot
point it at storage it brings — holds a verified copy of each DVC-stored file (PG505).

Three answers per file: present (a copy that hashes to its address), absent (the remote
answered that it has none), or unknown (the remote could not be asked: ``present`` is None
and ``reason`` says why, naming the remote). Unknown is never reported as either."""

from __future__ import annotations

from promote_gate.evidence.records import Remote
from promote_gate.evidence.scope import Scope, listed
from promote_gate.facts import BundleFacts, RemoteFacts


def remote(scope: Scope, facts: BundleFacts) -> Remote:
    """The remote's copies of the bundle's DVC-stored files, when the policy requires them."""
    if not scope.config.require_pushed:
        return Remote()
    return Remote(_presence(scope, facts))


def _presence(scope: Scope, facts: BundleFacts) -> RemoteFacts:
    """Whether the default DVC remote (as the policy's revision configures it: a change
    cannot point it at storage it brings) holds a verified copy of each DVC-stored file."""
    remote = scope.remote or RemoteFacts(None, None, None, "no default DVC remote is configured")
    if remote.name is None or remote.url is None:
        return RemoteFacts(
            remote.name,
            remote.url,
            None,
            "no default DVC remote is configured (dvc remote add -d)",
        )
    present: dict[str, bool] = {}
    for entry in listed(facts):
        md5 = entry.get("md5")
        item = facts.files.get(str(entry.get("path")))
        stored = entry.get("storage") == "dvc" or (item is not None and item.storage == "dvc")
        if stored and isinstance(md5, str):
            # where DVC looks for it: files/md5/ for a DVC 3 pointer (promote writes those)
            hash_name = item.pointer.hash_name if item and item.pointer else "md5"
            held = scope.store.in_remote(md5, hash_name)
            if held is None:  # not asked: why (unreachable, refused, unreadable here)
                why = scope.store.remote_down or remote.reason
                return RemoteFacts(remote.name, remote.url, None, why)
            present[md5] = held
    return RemoteFacts(remote.name, remote.url, present)
