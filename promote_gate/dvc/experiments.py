"""Which refs are DVC experiments: ``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``, as
``dvc exp list`` iterates them (``dvc.repo.experiments.utils.exp_refs``). DVC's own
bookkeeping under ``refs/exps/`` — the executor's ``exec/EXEC_HEAD``, ``apply/``,
``celery/``, ``temp/`` and the stashes of queued runs — records no experiment's result."""

from __future__ import annotations

NAMESPACE = "refs/exps/"
# dvc.repo.experiments.refs: ITER_SKIP_NAMESPACES and STASHES (matched as DVC matches them)
_SKIPPED = ("refs/exps/apply", "refs/exps/celery", "refs/exps/exec", "refs/exps/temp")
_STASHES = frozenset({"refs/exps/stash", "refs/exps/celery/stash"})


def is_experiment(ref: str) -> bool:
    """Whether ``ref`` is an experiment ``dvc exp list`` would show."""
    if not ref.startswith(NAMESPACE) or ref in _STASHES or ref.startswith(_SKIPPED):
        return False
    return 4 <= len(ref.split("/")) <= 5
