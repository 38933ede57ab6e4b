"""The release: one tag, one home, one build tested as installed.

pyproject.toml declares the version (the tag is v + it: PyPI's release, the action's `uses:`
and pre-commit's `rev:` all name that one tag) and, once, the project's home
(``[project.urls]``); every other mention -- the action, the CI templates, the pre-commit
manifest, the README, the SARIF report's links -- agrees with it. Every action any workflow
names is pinned by commit, the pins listed once (PINS).

.github/workflows/release.yml builds the sdist and the wheel once, runs the suite against that
wheel installed into a fresh virtual environment, and publishes a tag with trusted publishing.
Here its scripts run for real (the tag check, the build, the suite against the installed
wheel), each install spelling the templates document goes through the templates' own install
steps and a real pip (the git spelling from a tagged clone, the PyPI spelling from the built
wheel as the index), and the publish job's condition is evaluated as GitHub evaluates it. What
cannot run here is the upload itself: PyPI and GitHub's OIDC token are out of reach.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Run alone (`mypy tests/x.py`), mypy may not see tests/ as a root: the ignores must tolerate
# being unused in the suite-wide run.
from conftest import run  # type: ignore[import-not-found, unused-ignore]
from packaging.requirements import InvalidRequirement, Requirement
from test_templates import (  # type: ignore[import-not-found, unused-ignore]
    ACTION,
    GITLAB,
    HOME,
    HOOKS,
    PROJECT,
    ROOT,
    TAG,
    VERSION,
    WORKFLOW,
    check_jsonschema,
    github_steps,
    job_runs,
    load,
    no_outer_ci,
)
from test_templates_setup import (  # type: ignore[import-not-found, unused-ignore]
    INSTALL,
    default_spec,
    gitlab_install,
    named,
    run_scripts,
    shellcheck,
    zizmor,
)

import promote_gate
from promote_gate.report import Report
from promote_gate.reporters import sarif
from promote_gate.rules import RULES

__all__ = ["no_outer_ci"]  # the autouse fixture applies here too: no outer CI variable leaks

RELEASE = ROOT / ".github" / "workflows" / "release.yml"
CI_WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
README = ROOT / "README.md"
WORKFLOWS = (WORKFLOW, RELEASE, CI_WORKFLOW)
REPOSITORY = urlsplit(HOME).path.strip("/")  # owner/name on GitHub: promote-gate/promote-gate
NAME = PROJECT["name"]

# ----------------------------------------------------------------------------------------
# THE PINS: every action a workflow, the action or the README names, by full commit SHA, with
# the release each commit is (written beside every `uses:` as `# vX.Y.Z`). To update one,
# change it here and in the files: test_every_action_is_pinned_by_commit names each `uses:`
# that disagrees. Found in public workflows through a code search (github.com is out of reach
# from here); before a release, confirm each with
#   git ls-remote https://github.com/OWNER/REPO 'refs/tags/vX.Y.Z*'
# (an annotated tag's commit is the line ending in ^{}).
PINS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "mikepenz/action-junit-report": ("3585e9575db828022551b4231f165eb59a0e74e3", "v5.6.2"),
    "github/codeql-action/upload-sarif": ("ff0a06e83cb2de871e5a09832bc6a81e7276941f", "v3.28.18"),
    "pypa/gh-action-pypi-publish": ("76f52bc884231f62b9a034ebfe128415bbaabdfc", "v1.12.4"),
    "aws-actions/configure-aws-credentials": (
        "61815dcd50bd041e203e49132bacad1fd04d2708",
        "v5.1.1",
    ),
    "actions/attest": ("1e69f48acb82d1966a394da916b4c1698aa569d6", "v4.2.2"),
}
# ----------------------------------------------------------------------------------------

USES = re.compile(r"\buses:\s*([\w.-]+/[\w./-]+)@([^\s#]+)(?:\s+#\s*(\S+))?")


def job_step(path: Path, job: str, name: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = load(path)["jobs"][job]["steps"]
    return named(steps, name)


def run_step(
    script: str, cwd: Path, env: dict[str, str], *, gitlab_sh: bool = False
) -> subprocess.CompletedProcess[str]:
    """A step's script as the runner runs it (`bash -eo pipefail`, or GitLab's `sh -e`), in an
    environment without this pytest's own variables (a pytest inside must not take them)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    argv = ["sh", "-e"] if gitlab_sh else ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
    return subprocess.run(
        [*argv, "-c", script],
        cwd=cwd,
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )


# --------------------------------------------------------------------------- one home


def test_the_home_and_the_version_are_declared_once_in_pyproject() -> None:
    urls = PROJECT["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", HOME), HOME
    assert urls["Homepage"] == HOME
    assert urls["Documentation"] == f"{HOME}#readme"  # the README, rendered on the home page
    assert urls["Changelog"] == f"{HOME}/blob/main/CHANGELOG.md"
    assert urls["Issues"] == f"{HOME}/issues"
    # static, so that a shallow clone (pre-commit's, pip's from git) builds this very version
    assert "version" not in PROJECT.get("dynamic", [])
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION  # a tag v*.*.* the release takes
    assert promote_gate.__version__ == VERSION


def disagreements(text: str) -> list[str]:
    """Each line of ``text`` naming the project's repository, a release tag of it, a version
    of the package or a pre-commit `rev:` of it otherwise than pyproject.toml says."""
    found: list[str] = []
    repo_line = ""  # the last `repo:` seen: a pre-commit `rev:` is its revision
    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}: {line.strip()}"
        if re.search(r"<owner>|\bOWNER/", line):
            found.append(f"{where}  [a placeholder for the owner]")
        pattern = r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[/@#\s\"'`)\]>,]|$)"
        for match in re.finditer(pattern, line):
            repo = match.group(1)
            if repo.split("/")[1] == NAME and repo != REPOSITORY:
                found.append(f"{where}  [{repo} is not {REPOSITORY}]")
        # a sentence's full stop or comma after a ref or a version is not part of it
        tags = re.finditer(rf"([\w.-]+/{re.escape(NAME)})@([^\s\"'`)\]>,]*[\w/-])", line)
        found.extend(
            f"{where}  [{m.group(0)} is not {REPOSITORY}@{TAG}]"
            for m in tags
            if (m.group(1), m.group(2)) != (REPOSITORY, TAG)
        )
        pins = re.finditer(rf"\b{re.escape(NAME)}(?:\[[\w,-]+\])?==([\w.+!-]*\w)", line)
        found.extend(
            f"{where}  [=={m.group(1)} is not =={VERSION}]" for m in pins if m.group(1) != VERSION
        )
        if match_repo := re.search(r"\brepo:\s*(\S+)", line):
            repo_line = match_repo.group(1)
        rev = re.search(r"\brev:\s*(\S+)", line)
        if rev and NAME in repo_line and (repo_line, rev.group(1)) != (HOME, TAG):
            found.append(f"{where}  [repo: {repo_line} rev: {rev.group(1)}]")
    return found


# what each file must say, besides saying nothing else: the spellings a user copies
REQUIRED: dict[Path, list[str]] = {
    ACTION: [f"uses: {REPOSITORY}@{TAG}"],
    WORKFLOW: [f"promote-gate@git+{HOME}@{TAG}", f"promote-gate=={VERSION}"],
    GITLAB: [f"promote-gate@git+{HOME}@{TAG}", f"promote-gate=={VERSION}"],
    HOOKS: [],
    README: [
        f"uses: {REPOSITORY}@{TAG}",
        f"repo: {HOME}",
        f"rev: {TAG}",
        f"promote-gate=={VERSION}",
        f"promote-gate@git+{HOME}@{TAG}",
        f"promote-gate[dvc]@git+{HOME}@{TAG}",
    ],
}


@pytest.mark.parametrize("path", list(REQUIRED), ids=lambda p: p.name)
def test_every_mention_of_the_home_and_the_tag_agrees_with_pyproject(path: Path) -> None:
    text = path.read_text()
    assert disagreements(text) == []
    assert [want for want in REQUIRED[path] if want not in text] == []


def test_the_check_of_mentions_is_not_vacuous() -> None:
    """The same check refuses what the files said before the home was declared, and a
    release that moved on without them."""
    stale = """\
# `uses: <owner>/promote-gate@v1` in a workflow step
  - repo: https://github.com/<owner>/promote-gate
    rev: v0.0.9
- uses: acme/promote-gate@v1
PROMOTE_GATE_SPEC: promote-gate==0.0.9. Or
pip install promote-gate[dvc]@git+https://github.com/acme/promote-gate@v0.1.0
"""
    assert len(disagreements(stale)) == 7
    agreeing = f"uses: {REPOSITORY}@{TAG}.\nrepo: {HOME}\nrev: {TAG}\n{NAME}=={VERSION}, then"
    assert disagreements(agreeing) == []


def test_templates_install_the_release_tag_until_it_is_on_pypi() -> None:
    """The default spec is the tag from git (nothing is on PyPI yet, and the name there is
    not ours until the first upload); both documented spellings parse as pip parses them, and
    spaces around the `@` would split the requirement into words pip refuses."""
    for template in (WORKFLOW, GITLAB):
        (word,) = default_spec(template).split()
        requirement = Requirement(word)
        assert (requirement.name, requirement.url) == (NAME, f"git+{HOME}@{TAG}")
        assert not requirement.extras
    pinned = Requirement(f"promote-gate[dvc]=={VERSION}")
    assert (pinned.name, str(pinned.specifier), pinned.extras) == (NAME, f"=={VERSION}", {"dvc"})
    from_git = Requirement(f"promote-gate[dvc]@git+{HOME}@{TAG}")
    assert (from_git.url, from_git.extras) == (f"git+{HOME}@{TAG}", {"dvc"})
    spaced = f"promote-gate[dvc] @ git+{HOME}@{TAG}".split()
    assert spaced[1] == "@"
    with pytest.raises(InvalidRequirement):
        Requirement(spaced[1])


def test_sarif_links_to_the_home_the_installed_distribution_declares() -> None:
    """informationUri is the Homepage and each rule's helpUri its row in the README, both
    read from the installed metadata (pyproject.toml's [project.urls])."""
    from importlib import metadata

    installed = dict(
        entry.split(", ", 1) for entry in metadata.metadata(NAME).get_all("Project-URL") or []
    )
    if installed != PROJECT["urls"]:
        pytest.fail(f"the installed metadata is stale ({installed}): pip install -e .")
    sarif.project_urls.cache_clear()
    log = json.loads(sarif.render(Report(bundles=(), checked="working tree")))
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == PROJECT["urls"]["Homepage"]
    readme = README.read_text()
    links = {rule["id"]: rule["helpUri"] for rule in driver["rules"]}
    assert links == {rule.code: f"{HOME}#{rule.code.lower()}-{rule.name}" for rule in RULES}
    for link in links.values():  # each lands on its rule's row of the README's table
        assert f'<a id="{urlsplit(link).fragment}"></a>' in readme, link


# --------------------------------------------------------------------------- pins and hygiene


def pinned_uses(path: Path) -> list[tuple[int, str, str, str | None]]:
    """Every `uses:` of a file (comments too: a header shows what to copy): (line, action,
    ref, the comment after it)."""
    return [
        (number, match.group(1), match.group(2), match.group(3))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in USES.finditer(line)
    ]


def test_every_action_is_pinned_by_commit() -> None:
    unpinned = []
    used = set()
    for path in (*WORKFLOWS, ACTION, README):
        for number, action, ref, comment in pinned_uses(path):
            if action == REPOSITORY:  # this project's own action, by its release tag
                continue
            used.add(action)
            if PINS.get(action) != (ref, comment):
                unpinned.append(f"{path.name}:{number}: {action}@{ref} # {comment}")
    assert unpinned == [], "\n".join(unpinned)
    assert used == set(PINS)  # no pin left behind


def test_every_job_has_a_timeout() -> None:
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int), (path.name, name)
            assert 0 < minutes <= 90, (path.name, name)
    assert load(GITLAB)["promote-gate"]["timeout"] == "30 minutes"


def test_no_checkout_keeps_its_credentials() -> None:
    """`persist-credentials: false` on every checkout: no later step (pip, the gate, a test)
    finds the job's token in .git/config. The README's example says so too."""
    for path in WORKFLOWS:
        doc = load(path)
        for name in doc["jobs"]:
            for step in github_steps(doc, name):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (path.name, name)
    blocks = re.findall(r"```ya?ml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    checkouts = [block for block in blocks if "actions/checkout@" in block]
    assert checkouts, "the README shows no checkout"
    assert [b for b in checkouts if "persist-credentials: false" not in b] == []


@pytest.mark.parametrize("path", [RELEASE, CI_WORKFLOW], ids=lambda p: p.name)
def test_workflow_is_valid_for_github(path: Path, tmp_path: Path) -> None:
    proc = check_jsonschema("github-workflows", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = load(path)
    for job in broken["jobs"].values():
        del job["runs-on"]
    copy = tmp_path / f"broken-{path.stem}.json"
    copy.write_text(json.dumps(broken))
    assert check_jsonschema("github-workflows", copy).returncode != 0


def test_zizmor_finds_nothing_in_the_repositorys_workflows(tmp_path: Path) -> None:
    proc = zizmor(RELEASE, CI_WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the policy is hash-pin: the same zizmor refuses an action named by its tag
    checkout, _ = PINS["actions/checkout"]
    broken = tmp_path / "release.yml"
    broken.write_text(
        RELEASE.read_text().replace(f"actions/checkout@{checkout}", "actions/checkout@v4")
    )
    refused = zizmor(broken)
    assert refused.returncode != 0
    assert "unpinned-uses" in refused.stdout + refused.stderr


def test_shellcheck_passes_every_workflow_script(tmp_path: Path) -> None:
    failures = []
    for path in (RELEASE, CI_WORKFLOW):
        for where, script in run_scripts(path):
            proc = shellcheck("bash", script, tmp_path)
            if proc.returncode != 0:
                failures.append(f"{path.name} {where}:\n{proc.stdout}")
    assert failures == [], "\n".join(failures)


# --------------------------------------------------------------------------- the release workflow


def test_release_runs_for_main_requests_and_version_tags() -> None:
    on = load(RELEASE)["on"]
    assert on["push"] == {"branches": ["main"], "tags": ["v*.*.*"]}
    assert "pull_request" in on
    assert "pull_request_target" not in on  # never a fork's code with this repository's rights
    # GitHub's `*` matches anything but a slash: the release tag is taken, others are not
    glob = re.compile("v[^/]*\\.[^/]*\\.[^/]*")
    assert glob.fullmatch(TAG)
    assert not glob.fullmatch("v1")
    assert not glob.fullmatch("release-1.0.0")


def test_release_builds_once_and_publishes_what_the_tests_installed() -> None:
    doc = load(RELEASE)
    jobs = doc["jobs"]
    assert set(jobs) == {"build", "test", "publish"}
    builds = [
        (name, step.get("name"))
        for name in jobs
        for step in github_steps(doc, name)
        if re.search(r"-m build\b|pip wheel|setup\.py", str(step.get("run", "")))
    ]
    assert builds == [("build", "Build the sdist and the wheel")]
    upload = [s for s in github_steps(doc, "build") if "upload-artifact" in s.get("uses", "")]
    assert [s["with"] for s in upload] == [
        {"name": "dist", "path": "dist/", "if-no-files-found": "error", "retention-days": 7}
    ]
    assert jobs["test"]["needs"] == "build"
    assert jobs["publish"]["needs"] == ["build", "test"]  # nothing unpublished is untested
    for name in ("test", "publish"):
        (download,) = [
            s for s in github_steps(doc, name) if "download-artifact" in s.get("uses", "")
        ]
        assert download["with"]["name"] == "dist"
    # the suite runs against the installed wheel, the source tree's package removed first
    install = job_step(RELEASE, "test", "Install the wheel into a fresh virtual environment")
    assert '-m pip install "${wheels[0]}[test]"' in install["run"]
    suite = job_step(RELEASE, "test", "Run the test suite against the installed wheel")["run"]
    assert suite.index("rm -rf promote_gate") < suite.index('"$venv/bin/python" -m pytest')


def test_only_the_publish_job_holds_an_id_token() -> None:
    doc = load(RELEASE)
    assert doc["permissions"] == {"contents": "read"}
    tokens = {name for name, job in doc["jobs"].items() if "id-token" in job["permissions"]}
    assert tokens == {"publish"}
    publish = doc["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"  # a deployment rule can hold it to tags
    (step,) = [s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert step["with"]["attestations"] is True
    assert not {"password", "user", "repository-url"} & set(step["with"])  # trusted publishing
    assert "secrets." not in RELEASE.read_text()


# (event, ref type, a needed job failed, cancelled) -> the publish job runs
PUBLISH: list[tuple[str, str, bool, bool, bool]] = [
    ("push", "tag", False, False, True),
    ("push", "branch", False, False, False),  # main: built and tested, not published
    ("pull_request", "branch", False, False, False),
    ("push", "tag", True, False, False),  # a failed build or test publishes nothing
    ("push", "tag", False, True, False),
]


@pytest.mark.parametrize(("event", "ref_type", "failed", "cancelled", "runs"), PUBLISH)
def test_publish_runs_only_for_a_pushed_tag(
    event: str, ref_type: str, failed: bool, cancelled: bool, runs: bool
) -> None:
    job = load(RELEASE)["jobs"]["publish"]
    contexts = {"github": {"event_name": event, "ref_type": ref_type}}
    assert job_runs(job, contexts, gate_failed=failed, cancelled=cancelled) == runs


@pytest.mark.parametrize(
    ("ref_type", "ref_name", "passes"),
    [
        ("tag", TAG, True),
        ("tag", "v9.9.9", False),  # a tag that is not pyproject.toml's version
        ("tag", VERSION, False),  # the version without its v
        ("branch", "main", True),  # no tag: nothing is published, nothing to compare
    ],
)
def test_the_tag_must_name_pyprojects_version(ref_type: str, ref_name: str, passes: bool) -> None:
    """The build job's check, run on this repository's pyproject.toml."""
    step = job_step(RELEASE, "build", "The tag names this version")
    env = {"GITHUB_REF_TYPE": ref_type, "GITHUB_REF_NAME": ref_name}
    proc = run_step(step["run"], ROOT, env)
    assert (proc.returncode == 0) == passes, (proc.stdout, proc.stderr)
    if not passes:
        assert f"::error title=release::the tag {ref_name} does not name" in proc.stdout
        assert f"(v{VERSION})" in proc.stdout


# --------------------------------------------------------------------------- build and install


def release_tree(dest: Path) -> Path:
    """The files a tag would hold: tracked, or new and not ignored (no .venv, no .git, no
    caches, no earlier build)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def this_python() -> dict[str, str]:
    """PATH with this interpreter's bin first: the `python` of a step is this one."""
    return {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release tree after the build job's own build step: dist/ holds what it made."""
    tree = release_tree(tmp_path_factory.mktemp("release") / "tree")
    step = job_step(RELEASE, "build", "Build the sdist and the wheel")
    proc = run_step(step["run"], tree, this_python())
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return tree


def fresh_venv(where: Path) -> tuple[Path, Path]:
    """A new virtual environment: (its bin directory, its site-packages)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return where / "bin", where / "lib" / version / "site-packages"


def pip(bin_dir: Path, *argv: str, cwd: Path) -> None:
    proc = subprocess.run(
        [str(bin_dir / "python"), "-I", "-m", "pip", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def version_of(bin_dir: Path) -> str:
    proc = subprocess.run(
        [str(bin_dir / "promote-gate"), "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.slow
def test_the_build_makes_one_sdist_and_one_wheel_of_this_version(built: Path) -> None:
    dist = built / "dist"
    wheel_name = f"promote_gate-{VERSION}-py3-none-any.whl"
    sdist_name = f"promote_gate-{VERSION}.tar.gz"
    assert sorted(p.name for p in dist.iterdir()) == [wheel_name, sdist_name]
    with zipfile.ZipFile(dist / wheel_name) as wheel:
        files = set(wheel.namelist())
        info = f"promote_gate-{VERSION}.dist-info"
        meta = email.parser.Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert (meta["Name"], meta["Version"]) == (NAME, VERSION)
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
    assert urls == PROJECT["urls"]  # what PyPI shows, and what SARIF links to
    assert "promote-gate = promote_gate.cli:main" in entry_points
    shipped = {"promote_gate/py.typed", "promote_gate/schemas/manifest.json"}
    assert shipped | {"promote_gate/schemas/config.json"} <= files
    assert not [f for f in files if f.startswith(("tests/", "benchmarks/"))]
    with tarfile.open(dist / sdist_name) as sdist:
        names = set(sdist.getnames())
    top = f"promote_gate-{VERSION}"
    assert {f"{top}/pyproject.toml", f"{top}/README.md", f"{top}/promote_gate/py.typed"} <= names


@pytest.mark.slow
def test_the_suite_passes_against_the_installed_wheel(built: Path, tmp_path: Path) -> None:
    """The test job's own step, on the built wheel installed into a fresh virtual
    environment, the checkout's promote_gate/ removed: a part of the suite passes, every
    import is the wheel's, and its SARIF links come from the wheel's metadata.

    The test extra (DVC and some 150 packages) is not installed again here: the environment
    reads this one's site-packages after its own, so promote_gate can only be the wheel's."""
    runner_temp = tmp_path / "runner-temp"
    bin_dir, site = fresh_venv(runner_temp / "wheel-venv")
    pip(
        bin_dir,
        "install",
        str(built / "dist" / f"promote_gate-{VERSION}-py3-none-any.whl"),
        cwd=tmp_path,
    )
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    checkout = tmp_path / "checkout"
    shutil.copytree(built, checkout, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    step = job_step(RELEASE, "test", "Run the test suite against the installed wheel")
    subset = "tests/rules/test_rules.py tests/reporters/test_sarif.py tests/test_yamlio.py"
    proc = run_step(
        step["run"], checkout, {"RUNNER_TEMP": str(runner_temp), "PYTEST_ADDOPTS": subset}
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert not (checkout / "promote_gate").exists()
    assert f"promote_gate from {site / 'promote_gate' / '__init__.py'}" in proc.stdout
    assert f"promote-gate {VERSION}" in proc.stdout
    assert re.search(r"^=+ \d+ passed", proc.stdout, flags=re.MULTILINE), proc.stdout[-2000:]
    # the wheel's own metadata names the home in its SARIF report
    repo = tmp_path / "empty"
    repo.mkdir()
    run(repo, "git", "init", "-q")
    run(repo, "git", "commit", "-q", "--allow-empty", "-m", "nothing to release")
    gate = subprocess.run(
        [str(bin_dir / "promote-gate"), "check", "--repo", str(repo), "--sarif", "out.sarif"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert gate.returncode == 0, gate.stderr
    driver = json.loads((repo / "out.sarif").read_text())["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == PROJECT["urls"]["Homepage"]
    assert {urlsplit(r["helpUri"])._replace(fragment="").geturl() for r in driver["rules"]} == {
        HOME
    }


@pytest.fixture
def tagged(tmp_path: Path) -> tuple[str, str]:
    """The release tree committed and tagged as the lead will tag it (in a clone of its own,
    never in this repository): (its git URL as pip reads it, the tag's commit)."""
    tree = release_tree(tmp_path / "tagged")
    run(tree, "git", "init", "-q", "-b", "main")
    run(tree, "git", "add", "-A")
    run(tree, "git", "commit", "-q", "-m", f"Release {TAG}")
    run(tree, "git", "tag", TAG)
    commit = run(tree, "git", "rev-parse", f"{TAG}^{{commit}}").strip()
    # file://localhost/...: pip wants a host in a VCS URL, as github.com is in the real one
    return f"file://localhost{tree}", commit


@pytest.mark.slow
def test_each_documented_spelling_installs_through_the_templates(
    built: Path, tagged: tuple[str, str], tmp_path: Path
) -> None:
    """Through the templates' own install steps and a real pip: the tag from git (the
    default, with the real URL's host swapped for a tagged clone), with extras, and the PyPI
    spelling (with the built wheel standing in for PyPI); and spaces around the `@`, which
    pip refuses before installing anything."""
    url, commit = tagged
    bin_dir, site = fresh_venv(tmp_path / "venv")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RUNNER_TEMP": str(runner_temp)}
    github = named(github_steps(load(WORKFLOW)), INSTALL)["run"]
    gitlab = gitlab_install(load(GITLAB)["promote-gate"])

    spaced = run_step(
        github, tmp_path, env | {"PROMOTE_GATE_SPEC": f"promote-gate @ git+{url}@{TAG}"}
    )
    assert spaced.returncode != 0
    assert "Invalid requirement: '@'" in spaced.stderr
    assert not (bin_dir / "promote-gate").exists()

    proc = run_step(github, tmp_path, env | {"PROMOTE_GATE_SPEC": f"promote-gate@git+{url}@{TAG}"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert version_of(bin_dir) == f"promote-gate {VERSION}"
    (record,) = site.glob("promote_gate-*.dist-info/direct_url.json")
    assert json.loads(record.read_text()) == {
        "url": url,
        "vcs_info": {"vcs": "git", "requested_revision": TAG, "commit_id": commit},
    }

    # with extras, through GitLab's line (sh); DVC itself left out (PIP_NO_DEPS): pip's
    # report says what was asked for and installed
    pip(bin_dir, "uninstall", "-y", NAME, cwd=tmp_path)
    report = tmp_path / "report.json"
    no_deps = {"PIP_NO_DEPS": "1", "PIP_REPORT": str(report)}
    spec = f"promote-gate[dvc]@git+{url}@{TAG}"
    proc = run_step(gitlab, tmp_path, env | no_deps | {"PROMOTE_GATE_SPEC": spec}, gitlab_sh=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (item,) = json.loads(report.read_text())["install"]
    assert (item["metadata"]["name"], item["metadata"]["version"]) == (NAME, VERSION)
    assert item["requested_extras"] == ["dvc"]
    assert item["download_info"]["vcs_info"]["requested_revision"] == TAG
    assert version_of(bin_dir) == f"promote-gate {VERSION}"

    # the PyPI spelling, the built wheel the only index (its dependencies are installed)
    pip(bin_dir, "uninstall", "-y", NAME, cwd=tmp_path)
    assert not (bin_dir / "promote-gate").exists()
    index = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(built / "dist")}
    spec = f"promote-gate=={VERSION}"
    proc = run_step(gitlab, tmp_path, env | index | {"PROMOTE_GATE_SPEC": spec}, gitlab_sh=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert version_of(bin_dir) == f"promote-gate {VERSION}"
    assert not list(site.glob("promote_gate-*.dist-info/direct_url.json"))  # from an index
