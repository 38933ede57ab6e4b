"""Configuration: ``.promote-gate.yaml`` or ``[tool.promote-gate]`` in pyproject.toml."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

from promote_gate.codes import unknown_selectors
from promote_gate.errors import MAX_DOCUMENT_BYTES, DocumentError, UsageError

CONFIG_FILE = ".promote-gate.yaml"
PYPROJECT = "pyproject.toml"


DEFAULT_RELEASE_BRANCHES = ("main", "master", "release/*")
# Not "exp*/": it would take export/ and expected/ for experiments.
DEFAULT_EXPLORATORY = ("exp/", "exps/", "exp-*/", "exp_*/", "experiments/", "scratch/", "tmp/")
# What an upstream stage runs rather than reads, when git tracks it (gitignore patterns)
DEFAULT_CODE = ("*.py", "*.R", "*.sh", "*.ipynb", "src/**")


def anchored(pattern: str) -> str:
    """An exploratory pattern as matched: at the project root (gitignore's leading ``/``)
    unless written ``**/…`` or ``/…`` already, so ``experiments/`` is the top directory
    and never ``src/experiments/`` (a data layout); ``**/experiments/`` is any depth."""
    return pattern if pattern.startswith(("/", "**/")) else "/" + pattern


@dataclass(frozen=True)
class MetricPolicy:
    name: str  # dotted, as `dvc metrics show` flattens it; "file:key" names the file too
    direction: str  # "higher" or "lower" is better
    max_regression: float = 0.0
    relative: bool = False

    @property
    def file(self) -> str | None:
        """The metrics file the policy names (``eval/metrics.json:acc``), or None: any file."""
        return self.name.rpartition(":")[0] or None

    @property
    def key(self) -> str:
        return self.name.rpartition(":")[2]

    def applies(self, file: str, key: str) -> bool:
        return key == self.key and self.file in {None, file}


@dataclass(frozen=True)
class Registry:
    """``registry:``, the GTO model registry: the artifact ``promote`` writes to dvc.yaml,
    and what a pushed GTO tag must satisfy (PG7xx)."""

    artifact: str | None = None
    type: str = "model"
    desc: str | None = None
    labels: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()  # empty: any stage
    ordered: bool = False
    stage_branches: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (stage, branch patterns)
    signed_tags: bool = False
    allowed_signers: str | None = None  # a path from the top, read at the policy's revision

    def branch_allowed(self, stage: str, branch: str) -> bool | None:
        """Whether ``branch`` may hold a commit assigned ``stage``; None: any branch may."""
        patterns = dict(self.stage_branches).get(stage)
        if patterns is None:
            return None
        return any(fnmatch.fnmatchcase(branch, p) for p in patterns)


@dataclass(frozen=True)
class Config:
    publish_root: str = "publish"
    version_pattern: str = "v{n}"
    outputs: tuple[str, ...] = ()
    dvc_threshold_bytes: int = 1024 * 1024
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    release_branches: tuple[str, ...] = DEFAULT_RELEASE_BRANCHES
    baseline: str = "previous"
    comparability_stages: tuple[str, ...] | None = None  # None: the stages producing metrics
    comparability_code: tuple[str, ...] = DEFAULT_CODE  # code, not data, when git-tracked
    metrics: tuple[MetricPolicy, ...] = ()
    require_pushed: bool = False
    require_metrics: bool = False  # a bundle must record metrics (off: a dataset release may not)
    metadata_only: bool = False  # candidates' content may go unverified (CI without DVC remote)
    internal_paths: tuple[str, ...] | None = None  # None: "auto", every output in dvc.yaml
    consumers: tuple[str, ...] = ()
    exploratory: tuple[str, ...] = DEFAULT_EXPLORATORY
    signing_required: bool = False  # a new bundle must carry a trusted signature (PG601)
    signing_keys: tuple[str, ...] = ()  # public keys trusted to sign: paths from the top
    registry: Registry = Registry()
    origin: str = field(default="defaults", compare=False)

    @property
    def _version_re(self) -> re.Pattern[str]:
        before, _, after = self.version_pattern.partition("{n}")
        return re.compile(re.escape(before) + r"([1-9][0-9]*)" + re.escape(after))

    def version_number(self, name: str) -> int | None:
        """The number of a bundle directory name, or None if it does not fit the pattern."""
        match = self._version_re.fullmatch(name)
        return int(match.group(1)) if match else None

    def is_release_branch(self, branch: str) -> bool:
        """Whether pushes and merge requests to ``branch`` (a name or refs/heads/…) are gated."""
        name = branch.removeprefix("refs/heads/")
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.release_branches)

    def version_name(self, number: int) -> str:
        return self.version_pattern.replace("{n}", str(number))


def _schema_bytes() -> bytes:
    """The configuration schema's bytes: read beside this module (importlib.resources costs
    a hook a tenth of its start-up), through importlib.resources where the package is not
    on disk (a zip)."""
    import os

    try:
        with open(os.path.join(os.path.dirname(__file__), "schemas", "config.json"), "rb") as f:
            return f.read()
    except OSError:
        from importlib import resources

        return resources.files("promote_gate").joinpath("schemas/config.json").read_bytes()


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_schema_bytes())
    return loaded


# Keys naming paths in the repository: each must stay inside it.
_PATH_KEYS = ("publish_root", "outputs", "consumers", "internal_paths", "exploratory")


def _outside(path: str) -> str | None:
    """Why a configured path (or glob) does not name something inside the repository."""
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return "is absolute"
    parts = path.replace("\\", "/").strip("/").split("/")
    if ".." in parts:
        return "leaves the repository ('..')"
    if "\0" in path:
        return "contains a NUL byte"
    return None


def _check_paths(raw: dict[str, Any], origin: str) -> None:
    signing = raw.get("signing", {})
    for item in signing.get("keys", ()):
        why = _outside(str(item))
        if why:
            raise UsageError(f"{origin} is invalid:\n  signing.keys: {item!r} {why}")
    if signing.get("required") and not signing.get("keys"):
        raise UsageError(
            f"{origin} is invalid:\n  signing.required: true needs at least one key in "
            "signing.keys (the public keys trusted to sign)"
        )
    registry = raw.get("registry", {})
    signers = registry.get("allowed_signers")
    if signers is not None and _outside(str(signers)):
        raise UsageError(
            f"{origin} is invalid:\n  registry.allowed_signers: {signers!r} {_outside(str(signers))}"
        )
    if registry.get("signed_tags") and not signers:
        raise UsageError(
            f"{origin} is invalid:\n  registry.signed_tags: true needs registry.allowed_signers "
            "(the SSH allowed-signers file trusted to sign tags)"
        )
    if registry.get("ordered") and not registry.get("stages"):
        raise UsageError(
            f"{origin} is invalid:\n  registry.ordered: true needs registry.stages (lowest first)"
        )
    for key in _PATH_KEYS:
        value = raw.get(key)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for item in values:
            if key == "internal_paths" and item == "auto":
                continue
            why = _outside(str(item))
            if why:
                raise UsageError(f"{origin} is invalid:\n  {key}: {item!r} {why}")
    root = str(raw.get("publish_root", "publish")).strip("/")
    if root in {"", "."} or root.startswith(".git/") or root in {".git", ".dvc"}:
        raise UsageError(
            f"{origin} is invalid:\n  publish_root: {root!r} is not a directory of its own"
        )


# Validation results are remembered (outside the repository, like the hash cache) so the
# push hook need neither PyYAML nor jsonschema for a policy it has already validated: a file
# named by the sha256 of (promote-gate's version, the schema, the file's name and bytes)
# holding the validated configuration as JSON. CI mode and --no-cache switch it off: there
# every policy is parsed and validated.
TRUST_VALIDATION_CACHE = True
_NO_SECTION = "no [tool.promote-gate]"


def _marker(data: bytes, name: str) -> str:
    import hashlib
    import os

    from promote_gate import __version__

    schema_text = _schema_bytes()
    key = hashlib.sha256(
        b"\0".join([__version__.encode(), schema_text, name.encode(), data])
    ).hexdigest()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "promote-gate", "valid-config", key)


def _remembered(marker: str) -> tuple[bool, Any]:
    """(whether this exact file was validated before, its configuration or _NO_SECTION)."""
    try:
        with open(marker, "rb") as fobj:
            doc = json.loads(fobj.read(MAX_DOCUMENT_BYTES + 1))
    except (OSError, ValueError):
        return False, None
    if not isinstance(doc, dict) or "config" not in doc:
        return False, None  # not ours: validate again
    return True, doc["config"]


def _remember(marker: str, config: Any) -> None:
    import os

    try:
        text = json.dumps({"config": config})
    except (TypeError, ValueError):
        return  # not JSON (a TOML date): validated again next time
    try:
        os.makedirs(os.path.dirname(marker), mode=0o700, exist_ok=True)
        tmp = f"{marker}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fobj:
            fobj.write(text)
        os.replace(tmp, marker)
    except OSError:
        pass  # no cache directory: validated again next time


def _validate(raw: Any, origin: str) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UsageError(f"{origin}: the configuration must be a mapping of keys to values")
    return _check(raw, origin)


def _check(raw: dict[str, Any], origin: str) -> Config:
    """Validate against the schema and the rule registry; the Config, or UsageError."""
    import jsonschema

    errors = sorted(
        jsonschema.Draft202012Validator(schema()).iter_errors(raw), key=lambda e: list(e.path)
    )
    if errors:
        lines = []
        for err in errors:
            key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
            if err.validator == "additionalProperties":
                unknown = sorted(set(raw) - set(schema()["properties"]))
                lines.append(
                    f"unknown key(s) {', '.join(map(repr, unknown))}; "
                    f"known keys: {', '.join(schema()['properties'])}"
                )
            elif err.validator == "type":
                lines.append(
                    f"{key}: expected {err.validator_value}, got {type(err.instance).__name__}"
                )
            else:
                lines.append(f"{key}: {err.message}")
        raise UsageError(f"{origin} is invalid:\n  " + "\n  ".join(lines))
    _check_paths(raw, origin)
    for key in ("select", "ignore"):
        if not raw.get(key):
            continue
        unknown = unknown_selectors([str(code).upper() for code in raw[key]])
        if unknown:
            raise UsageError(
                f"{origin} is invalid:\n  {key}: unknown rule code or prefix "
                f"{', '.join(unknown)} (promote-gate rules lists them)"
            )
    return _build(raw, origin)


def _build(raw: dict[str, Any], origin: str) -> Config:
    """The Config of a validated configuration."""
    return Config(
        publish_root=raw.get("publish_root", "publish").strip("/"),
        version_pattern=raw.get("version_pattern", "v{n}"),
        outputs=tuple(raw.get("outputs", ())),
        dvc_threshold_bytes=raw.get("dvc_threshold_bytes", 1024 * 1024),
        max_document_bytes=raw.get("max_document_bytes", MAX_DOCUMENT_BYTES),
        select=tuple(code.upper() for code in raw.get("select", ())),
        ignore=tuple(code.upper() for code in raw.get("ignore", ())),
        release_branches=tuple(raw.get("release_branches", DEFAULT_RELEASE_BRANCHES)),
        baseline=raw.get("baseline", "previous"),
        comparability_stages=(
            tuple(raw["comparability"]["stages"])
            if "stages" in raw.get("comparability", {})
            else None
        ),
        comparability_code=tuple(raw.get("comparability", {}).get("code", DEFAULT_CODE)),
        metrics=tuple(
            MetricPolicy(
                name,
                spec["direction"],
                float(spec.get("max_regression", 0.0)),
                bool(spec.get("relative", False)),
            )
            for name, spec in raw.get("metrics", {}).items()
        ),
        require_pushed=bool(raw.get("require_pushed", False)),
        require_metrics=bool(raw.get("require_metrics", False)),
        metadata_only=bool(raw.get("metadata_only", False)),
        internal_paths=(
            None if raw.get("internal_paths", "auto") == "auto" else tuple(raw["internal_paths"])
        ),
        consumers=tuple(raw.get("consumers", ())),
        exploratory=tuple(raw.get("exploratory", DEFAULT_EXPLORATORY)),
        signing_required=bool(raw.get("signing", {}).get("required", False)),
        signing_keys=tuple(raw.get("signing", {}).get("keys", ())),
        registry=_registry(raw.get("registry", {})),
        origin=origin,
    )


def _registry(raw: dict[str, Any]) -> Registry:
    return Registry(
        artifact=raw.get("artifact"),
        type=raw.get("type", "model"),
        desc=raw.get("desc"),
        labels=tuple(raw.get("labels", ())),
        stages=tuple(raw.get("stages", ())),
        ordered=bool(raw.get("ordered", False)),
        stage_branches=tuple((k, tuple(v)) for k, v in raw.get("stage_branches", {}).items()),
        signed_tags=bool(raw.get("signed_tags", False)),
        allowed_signers=raw.get("allowed_signers"),
    )


def parse(data: bytes, name: str) -> Config:
    """Parse configuration file content; ``name`` decides YAML or pyproject.toml."""
    return _parse(data, name) or Config()


def _parse(data: bytes, name: str) -> Config | None:
    """As :func:`parse`; None for a pyproject.toml without ``[tool.promote-gate]``."""
    toml = name.endswith(".toml")
    origin = f"{name} [tool.promote-gate]" if toml else name
    marker = _marker(data, name) if TRUST_VALIDATION_CACHE else None
    if marker is not None:
        known, remembered = _remembered(marker)
        if known and remembered == _NO_SECTION:
            return None
        if known and isinstance(remembered, dict):
            return _build(remembered, origin)
    from promote_gate.yamlio import load_toml, load_yaml

    try:
        if toml:
            raw = load_toml(data, name).get("tool", {}).get("promote-gate")
            if raw is None:
                if marker is not None:
                    _remember(marker, _NO_SECTION)
                return None
        else:
            raw = load_yaml(data, name)
    except DocumentError as exc:
        raise UsageError(str(exc)) from exc
    config = _validate(raw, origin)
    if marker is not None:
        _remember(marker, raw if raw is not None else {})
    return config


def load(
    read: Any,
    explicit: str | None = None,
    explicit_in_view: bool = False,
    present: Any = None,
) -> Config:
    """Load the configuration through ``read(path) -> bytes | None`` (a view's reader).

    ``explicit`` (``--config FILE``) is read from disk and must exist — or, with
    ``explicit_in_view``, it is a repository path read through ``read`` (the policy's
    revision: in CI a change must not bring its own configuration file either).
    """
    if explicit is not None and explicit_in_view:
        data = read(explicit)
        if data is None:
            raise UsageError(f"--config {explicit}: not in the revision the policy comes from")
        return parse(data, explicit)
    if explicit is not None:
        try:
            with open(explicit, "rb") as fobj:
                return parse(fobj.read(MAX_DOCUMENT_BYTES + 1), explicit)
        except OSError as exc:
            raise UsageError(f"--config {explicit}: {exc.strerror}") from exc
    return load_own(read, present) or Config()


def load_own(read: Any, present: Any = None, where: str = "") -> Config | None:
    """The configuration in one directory (``.promote-gate.yaml``, else a pyproject.toml
    with ``[tool.promote-gate]``), or None when it has none. ``where`` names the directory
    in messages."""
    for name in (CONFIG_FILE, PYPROJECT):
        data = read(name)
        if data is not None:
            config = _parse(data, where + name)
            if config is not None:
                return config
            continue
        if present is not None and present(name):  # a symlink, FIFO or device: never silence
            raise UsageError(f"{where}{name} is not a regular file: the policy cannot be read")
    return None
