"""``promote-gate demo``: a real DVC project, promoted and checked, then broken six ways,
released again, signed, and forged.

The demo runs git and DVC for real (``dvc init``, ``dvc add``, ``dvc repro``), so what it
shows is what the gate does on a user's repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promote_gate.commands.demo_steps import run_tool
from promote_gate.commands.demo_steps import set_params as _set_params
from promote_gate.errors import GateError
from promote_gate.report import Report

PREPARE = """\
import csv, os, random, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
rows = list(csv.reader(open("data/raw.csv")))[1:]
random.Random(p["seed"]).shuffle(rows)
cut = int(len(rows) * (1 - p["split"]))
os.makedirs("data/prepared", exist_ok=True)
for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
    with open(f"data/prepared/{name}.csv", "w", newline="") as f:
        csv.writer(f).writerows(part)
"""
TRAIN = """\
import csv, json, math, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = [[float(x) for x in r] for r in csv.reader(open("data/prepared/train.csv"))]
w = [0.0] * (len(rows[0]))
history = []
for epoch in range(p["epochs"]):
    loss = 0.0
    for *x, y in rows:
        z = w[-1] + sum(wi * xi for wi, xi in zip(w, x))
        pr = 1 / (1 + math.exp(-z))
        loss -= y * math.log(pr + 1e-12) + (1 - y) * math.log(1 - pr + 1e-12)
        for i, xi in enumerate(x):
            w[i] -= p["lr"] * (pr - y) * xi
        w[-1] -= p["lr"] * (pr - y)
    history.append(round(loss / len(rows), 6))
os.makedirs("models", exist_ok=True)
json.dump({"weights": [round(v, 8) for v in w], "loss_history": history}, open("models/model.json", "w"), indent=1)
"""
EVALUATE = """\
import csv, json, math, os
m = json.load(open("models/model.json"))
w = m["weights"]
rows = [[float(x) for x in r] for r in csv.reader(open("data/prepared/test.csv"))]
hits, loss = 0, 0.0
for *x, y in rows:
    pr = 1 / (1 + math.exp(-(w[-1] + sum(a * b for a, b in zip(w, x)))))
    hits += (pr > 0.5) == (y == 1)
    loss -= y * math.log(pr + 1e-12) + (1 - y) * math.log(1 - pr + 1e-12)
os.makedirs("eval", exist_ok=True)
json.dump({"acc": round(hits / len(rows), 4), "loss": round(loss / len(rows), 4)}, open("eval/metrics.json", "w"), indent=2)
"""
DVC_YAML = """\
stages:
  prepare:
    cmd: python3 src/prepare.py
    deps: [src/prepare.py, data/raw.csv]
    params: [prepare.split, prepare.seed]
    outs: [data/prepared]
  train:
    cmd: python3 src/train.py
    deps: [src/train.py, data/prepared]
    params: [train.lr, train.epochs]
    outs: [models/model.json]
  evaluate:
    cmd: python3 src/evaluate.py
    deps: [src/evaluate.py, models/model.json, data/prepared]
    metrics:
      - eval/metrics.json:
          cache: false
"""
PARAMS = "prepare:\n  split: 0.25\n  seed: 7\ntrain:\n  lr: 0.05\n  epochs: 8\n"
CONFIG = """\
# promote-gate configuration (see `promote-gate schema config`)
publish_root: publish
outputs: [models/model.json]
dvc_threshold_bytes: 128   # files above this are DVC-tracked in the bundle
comparability:
  stages: [evaluate]       # its data and code must be identical between compared releases
metrics:
  acc: {direction: higher, max_regression: 0.01}
  loss: {direction: lower, max_regression: 0.02}
consumers: ["deploy/**"]   # these must read the release surface, not pipeline outputs
"""


REMOTE = "dvc-remote"  # the DVC remote: a directory beside the repository


def build_project(root: Path, subdir: bool = False) -> None:
    """A three-stage DVC pipeline (prepare -> train -> evaluate), reproduced, pushed to a
    local-directory DVC remote beside the repository (``../dvc-remote``), and committed.
    ``subdir``: a DVC project in a directory of an existing git repository (``dvc init
    --subdir``, a monorepo), its remote still beside the repository."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)  # noqa: S311 - reproducible demo data, not secrets
    lines = ["x1,x2,x3,y"]
    for _ in range(400):
        x = [rng.gauss(0, 1) for _ in range(3)]
        y = int(1.5 * x[0] - x[1] + 0.5 * x[2] + rng.gauss(0, 0.7) > 0)
        lines.append(",".join(f"{v:.4f}" for v in x) + f",{y}")
    files = {
        "data/raw.csv": "\n".join(lines) + "\n",
        "src/prepare.py": PREPARE,
        "src/train.py": TRAIN,
        "src/evaluate.py": EVALUATE,
        "dvc.yaml": DVC_YAML,
        "params.yaml": PARAMS,
        ".promote-gate.yaml": CONFIG,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if subdir:
        top = Path(run_tool(root, "git", "rev-parse", "--show-toplevel").strip())
        run_tool(root, "dvc", "init", "-q", "--subdir")
    else:
        top = root
        run_tool(root, "git", "init", "-q", "-b", "main")
        run_tool(root, "dvc", "init", "-q")
    run_tool(root, "dvc", "config", "core.autostage", "false")
    # relative, so that copies of the repository beside each other share it
    remote = os.path.relpath(top.parent / REMOTE, root)
    run_tool(root, "dvc", "remote", "add", "-q", "-d", "storage", remote)
    run_tool(root, "dvc", "add", "-q", "data/raw.csv")
    run_tool(root, "dvc", "repro", "-q")
    run_tool(root, "dvc", "push", "-q")
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "Pipeline: prepare, train, evaluate")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise GateError(f"demo: {old!r} not found in {path}")
    path.write_text(text.replace(old, new, 1))


def _stale(root: Path) -> None:
    _edit(root / "params.yaml", "lr: 0.05", "lr: 0.2")


def _report(root: Path) -> None:
    _edit(root / "publish/v1/report.md", "| `train.lr` | 0.05 |", "| `train.lr` | 0.02 |")


def _params(root: Path) -> None:
    _edit(root / "publish/v1/params.yaml", "lr: 0.05", "lr: 0.02")


def _metrics(root: Path) -> None:
    path = root / "publish/v1/metrics.json"
    text = path.read_text()
    start = text.index('"acc": ') + len('"acc": ')
    end = text.index(",", start)
    path.write_text(text[:start] + "0.99" + text[end:])


def _unlisted(root: Path) -> None:
    (root / "publish/v1/notes.txt").write_text("copied in after promotion\n")


def _swapped(root: Path) -> None:
    pointer = root / "publish/v1/model.json.dvc"
    text = pointer.read_text()
    start = text.index("md5: ") + len("md5: ")
    pointer.write_text(text[:start] + "0" * 32 + text[start + 32 :])


MUTATIONS: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("stale", "params.yaml changed and committed without dvc repro", _stale, "PG204"),
    ("report", "report.md edited by hand (lr 0.05 -> 0.02)", _report, "PG304"),
    ("params", "params snapshot edited", _params, "PG302"),
    ("metrics", "metrics snapshot inflated (acc -> 0.99)", _metrics, "PG402"),
    ("unlisted", "a file copied into the released bundle", _unlisted, "PG103"),
    ("swapped", "the released model's pointer replaced in place", _swapped, "PG104"),
    (
        "released",
        "released v1 edited in place, pushed as a push is checked (--base)",
        _params,
        "PG501",
    ),
]


def release_v2(root: Path, **params: str) -> None:
    """Retrain with new params for real (dvc repro), commit, promote v2, commit."""
    from promote_gate.commands.promote import promote

    _set_params(root, **params)
    run_tool(root, "dvc", "repro", "-q")
    run_tool(root, "git", "commit", "-q", "-am", f"Retrain: {params}")
    promote(str(root), "v2", [])
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "Promote v2")


def _consumer(root: Path) -> None:
    (root / "deploy").mkdir()
    (root / "deploy/serve.yaml").write_text(
        "model: models/model.json   # the pipeline's, not the release's\n"
    )
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "deploy config")


def _unpushed(root: Path) -> None:
    """require_pushed on; v2's model is then never `dvc push`ed to the remote."""
    config = root / ".promote-gate.yaml"
    config.write_text(config.read_text() + "require_pushed: true\n")
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "require pushed data")


# v2 releases that must be refused: (name, what, params of the retrain, setup before, code)
def _from_experiment(root: Path) -> None:
    """v2 promoted on a branch made from a `dvc exp run`, then copied onto main."""
    from promote_gate.commands.promote import promote

    run_tool(root, "dvc", "exp", "run", "-q", "-n", "hot-lr", "-S", "train.lr=0.3")
    run_tool(root, "dvc", "exp", "branch", "hot-lr", "exp-hot-lr")
    run_tool(root, "git", "reset", "-q", "--hard")
    run_tool(root, "git", "checkout", "-q", "exp-hot-lr")
    run_tool(root, "dvc", "checkout", "-q")
    promote(str(root), "v2", [])
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "Promote v2 (experiment)")
    run_tool(root, "git", "checkout", "-q", "main")
    run_tool(root, "git", "checkout", "exp-hot-lr", "--", "publish/v2")
    run_tool(root, "git", "commit", "-q", "-m", "Copy v2 onto main")


def _retrained(
    setup: Callable[[Path], None] | None = None, **params: str
) -> Callable[[Path], None]:
    def action(root: Path) -> None:
        if setup is not None:
            setup(root)
        release_v2(root, **params)

    return action


# v2 releases that must be refused: (name, what, how v2 is made, the rule that must fire)
V2_MUTATIONS: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("regression", "v2 trained 1 epoch: loss 0.24 -> 0.32", _retrained(epochs="1"), "PG405"),
    (
        "comparability",
        "v2 evaluated on another split (0.25 -> 0.4)",
        _retrained(lr="0.5", split="0.4"),
        "PG404",
    ),
    ("experiment", "v2 promoted from a dvc exp run, copied onto main", _from_experiment, "PG503"),
    (
        "consumer",
        "deploy/serve.yaml reads models/model.json",
        _retrained(_consumer, lr="0.5"),
        "PG504",
    ),
    (
        "unpushed",
        "require_pushed, but nothing was dvc pushed",
        _retrained(_unpushed, lr="0.5"),
        "PG505",
    ),
]


# --------------------------------------------------------------------------- forgeries
# What an attacker with commit access to a branch does to make a bad release look good.
# The tests in tests/security use the same helpers.


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def resum(bundle: Path) -> None:
    """Rewrite SHA256SUMS from the bytes now in the bundle, as a forger would."""
    sums = bundle / "SHA256SUMS"
    lines = []
    for line in sums.read_text().splitlines():
        name = line.split("  ", 1)[1]
        lines.append(f"{hashlib.sha256((bundle / name).read_bytes()).hexdigest()}  {name}")
    sums.write_text("\n".join(lines) + "\n")


def relist(bundle: Path, rel: str, data: bytes) -> None:
    """Make the manifest vouch for ``data`` as file ``rel`` (md5, sha256, size)."""

    def change(doc: dict[str, Any]) -> None:
        entry = next(f for f in doc["files"] if f["path"] == rel)
        entry.update(
            md5=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )

    edit_json(bundle / "manifest.json", change)


def rewrite_report(bundle: Path) -> None:
    """Re-render report.md from the (edited) snapshots, as a forger with the tool would."""
    from promote_gate.bundle import render_report
    from promote_gate.dvc.params import flatten
    from promote_gate.yamlio import load_yaml

    manifest = json.loads((bundle / "manifest.json").read_text())
    metrics = json.loads((bundle / "metrics.json").read_text())
    text = render_report(
        version=manifest["version"],
        source_commit=manifest["source"]["commit"],
        lock_sha256=manifest["source"]["dvc_lock_sha256"],
        created=manifest["created"],
        params=load_yaml((bundle / "params.yaml").read_bytes()),
        metrics={f: flatten(e["values"]) for f, e in metrics.items()},
        files=manifest["files"],
        previous=None,
    )
    (bundle / "report.md").write_text(text)


def _claim_v1_metrics(root: Path) -> None:
    v1 = json.loads((root / "publish/v1/metrics.json").read_text())
    values = v1["eval/metrics.json"]["values"]
    edit_json(
        root / "publish/v2/metrics.json", lambda d: d["eval/metrics.json"].update(values=values)
    )
    rewrite_report(root / "publish/v2")
    resum(root / "publish/v2")


def forge_metrics(root: Path) -> None:
    """v2 trained 1 epoch; snapshot and report claim v1's metrics; the git-tracked metrics
    file (cache: false) is dropped from the head, so nothing in the checkout contradicts them."""
    release_v2(root, epochs="1")
    _claim_v1_metrics(root)
    (root / "eval/metrics.json").unlink()
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "v2: better numbers")
    run_tool(root, "dvc", "push", "-q")


FORGED_CSV = b"".join(b"%d.0,0.5,-0.5,1\n" % i for i in range(60))


def swap_in_directory(root: Path) -> None:
    """v2 also promotes data/prepared; prepared/test.csv is swapped for other bytes (dvc add,
    pushed) and the manifest and SHA256SUMS are made to vouch for them."""
    from promote_gate.commands.promote import promote

    _set_params(root, lr="0.5")
    run_tool(root, "dvc", "repro", "-q")
    run_tool(root, "git", "commit", "-q", "-am", "Retrain")
    promote(str(root), "v2", ["models/model.json", "data/prepared"])
    target = root / "publish/v2/prepared/test.csv"
    target.chmod(0o644)
    target.write_bytes(FORGED_CSV)
    run_tool(root, "dvc", "add", "-q", "publish/v2/prepared/test.csv")
    (root / "publish/v2/prepared/.gitignore").unlink(missing_ok=True)
    relist(root / "publish/v2", "prepared/test.csv", FORGED_CSV)
    resum(root / "publish/v2")
    run_tool(root, "git", "add", "-A")
    run_tool(root, "git", "commit", "-q", "-m", "Promote v2")
    run_tool(root, "dvc", "push", "-q")


def _pushed_v2(root: Path) -> None:
    release_v2(root, lr="0.5")
    run_tool(root, "dvc", "push", "-q")


# releases checked as CI checks them: (name, what, how v2 is made, the rule that must fire)
CI_RELEASES: list[tuple[str, str, Callable[[Path], None], str | None]] = [
    ("good", "v2 retrained for real and dvc pushed", _pushed_v2, None),
    (
        "forged-metrics",
        "v2 regressed; snapshot and report claim v1's metrics; eval/metrics.json dropped",
        forge_metrics,
        "PG402",
    ),
    (
        "swapped",
        "a file inside the promoted data/prepared swapped, manifest and sums redone",
        swap_in_directory,
        "PG201",
    ),
]


def _signed(base: Path, released: Path) -> bool:
    """v2 signed with a new release key; a consumer's copy (no DVC pointers, as `dvc get`
    delivers it) verifies with the public key alone; a forged copy does not."""
    from promote_gate.codes import selected_rules
    from promote_gate.commands.sign import sign
    from promote_gate.commands.verify import verify_directory
    from promote_gate.signing import new_key_pair, public_keys

    keys = base / "keys"
    keys.mkdir()
    private = keys / "release.key"
    new_key_pair(str(private), str(keys / "release.pub"))
    sign(
        argparse.Namespace(
            command="sign",
            version="v2",
            repo=str(released),
            project=None,
            config=None,
            key=str(private),
        )
    )
    trusted = public_keys((keys / "release.pub").read_bytes(), str(keys / "release.pub"))
    copy = base / "consumer-v2"
    shutil.copytree(
        released / "publish/v2", copy, ignore=shutil.ignore_patterns("*.dvc", ".gitignore")
    )
    report = verify_directory(str(copy), trusted, selected_rules([], []))
    passed = report.exit_code == 0
    print(
        f"  {'passed' if passed else 'FAILED':7} a consumer's copy of v2, verified with "
        f"release.pub\n          exit {report.exit_code}: promote-gate verify {copy} --key "
        f"{keys}/release.pub\n          (or: model_signing verify key {copy} "
        f"--signature {copy}/bundle.sig --public_key {keys}/release.pub)"
    )
    forged = base / "forged-v2"
    shutil.copytree(copy, forged)
    model = forged / "model.json"
    model.write_bytes(FORGED_CSV)
    relist(forged, "model.json", FORGED_CSV)
    resum(forged)
    what = "a forged copy: model replaced, manifest and SHA256SUMS redone, bundle.sig kept"
    caught = _caught(verify_directory(str(forged), trusted, selected_rules([], [])), what, "PG602")
    return passed and caught


def _caught(report: Report, what: str, code: str) -> bool:
    """Print whether the gate refused a broken repository with the expected rule."""
    fired = sorted({r.rule.code for b in report.bundles for r in b.failed})
    caught = report.exit_code == 1 and code in fired
    print(
        f"  {'caught' if caught else 'MISSED':7} {what}\n"
        f"          exit {report.exit_code}: {', '.join(fired) or 'no violation'}"
    )
    return caught


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from promote_gate.commands.promote import promote
    from promote_gate.files import write_report
    from promote_gate.gate import check_repo
    from promote_gate.reporters import junit, text

    if importlib.util.find_spec("dvc") is None:
        raise GateError("the demo runs DVC itself: pip install 'promote-gate[dvc]'")
    base = Path(args.directory or tempfile.mkdtemp(prefix="promote-gate-demo-")).resolve()
    if base.exists() and any(base.iterdir()):
        raise GateError(f"{base} is not empty: give the demo a new directory")
    clean = base / "repo"
    print(
        f"Building a DVC project in {clean} (git init, dvc init, dvc add, dvc repro) ...",
        flush=True,
    )
    build_project(clean)
    bundle = promote(str(clean), "v1", []).path
    run_tool(clean, "git", "add", "-A")
    run_tool(clean, "git", "commit", "-q", "-m", "Promote v1")
    print(f"Promoted {bundle} and committed it. Checking the committed tree:\n")

    def gate(repo: Path, name: str, against: str | None = None) -> Report:
        report = check_repo(str(repo), rev="HEAD", base=against)
        write_report(str(base / f"junit-{name}.xml"), junit.render(report))
        return report

    report = gate(clean, "clean")
    print(text.render(report, colour=text.use_colour()))
    ok = report.exit_code == 0
    print("Now the same repository, broken in copies; each is committed and checked:\n")
    for name, what, mutate, code in MUTATIONS:
        copy = base / f"broken-{name}"
        shutil.copytree(clean, copy, symlinks=True)
        mutate(copy)
        run_tool(copy, "git", "add", "-A")
        run_tool(copy, "git", "commit", "-q", "-m", f"demo: {what}")
        against = "HEAD~1" if code.startswith("PG5") else None
        ok = _caught(gate(copy, name, against=against), what, code) and ok
    print(
        "\nA second release: lr 0.05 -> 0.5, dvc repro, promote v2, checked against v1 as a push is:\n"
    )
    v1_commit = run_tool(clean, "git", "rev-parse", "HEAD").strip()
    released = base / "release-v2"
    shutil.copytree(clean, released, symlinks=True)
    release_v2(released, lr="0.5")
    report = gate(released, "v2", against=v1_commit)
    print(text.render(report, colour=text.use_colour()))
    ok = ok and report.exit_code == 0
    from promote_gate.commands.diff import diff_repo
    from promote_gate.reporters import diff

    print(diff.markdown(diff_repo(str(released), "v1", "v2")))
    print("v2 releases that must not pass (each retrained for real and promoted):\n")
    for name, what, make_v2, code in V2_MUTATIONS:
        copy = base / f"v2-{name}"
        shutil.copytree(clean, copy, symlinks=True)
        make_v2(copy)
        ok = _caught(gate(copy, f"v2-{name}", against=v1_commit), what, code) and ok
    print(
        "\nIn CI: a fresh clone, no DVC cache. The gate reads what it must verify from the DVC "
        "remote the base\nconfigures (streamed and hashed; nothing is pulled), as the CI "
        "templates run it:\n"
    )
    for name, what, make_v2, expected in CI_RELEASES:
        copy = base / f"ci-{name}"
        shutil.copytree(clean, copy, symlinks=True)
        make_v2(copy)
        clone = base / f"ci-{name}-clone"
        run_tool(base, "git", "clone", "-q", str(copy), str(clone))
        report = check_repo(str(clone), rev="HEAD", base=v1_commit, policy_from="base", ci=True)
        write_report(str(base / f"junit-ci-{name}.xml"), junit.render(report))
        if expected is None:
            passed = report.exit_code == 0
            print(
                f"  {'passed' if passed else 'FAILED':7} {what}\n          exit {report.exit_code}"
            )
            ok = ok and passed
        else:
            ok = _caught(report, what, expected) and ok
    print(
        "\nSigned releases: v2 signed with a release key (OpenSSF model signing format, "
        "bundle.sig);\na consumer verifies what it received with nothing but the public key:\n"
    )
    ok = _signed(base, released) and ok
    from promote_gate.commands.demo_registry import registry_story

    print(
        "\nThe model registry (GTO): promote-gate tag registers v1 and v2 and assigns stages "
        "through prod;\nevery tag push is judged by the installed pre-push hook:\n"
    )
    ok = registry_story(base, clean) and ok
    print(f"\nJUnit reports: {base}/junit-*.xml")
    print(f"Try it yourself: cd {clean} && promote-gate check")
    return 0 if ok else 1
