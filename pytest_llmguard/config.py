"""Configuration: discovery, JSON-Schema validation and the frozen Config records.

Discovery order: ``--llmguard-config PATH``, ``llmguard.yaml`` in the rootdir,
``[tool.llmguard]`` in ``pyproject.toml``. Every problem is one ``ConfigError`` naming
the file, the key path and (for YAML) the line.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pytest_llmguard.documents import Document, load_document, load_schema, validate
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.suggest import did_you_mean_hint
from pytest_llmguard.targets.registry import (
    PLANNED,
    PROVIDER_SECTIONS,
    Provider,
    get_provider,
    key_owner,
    provider_names,
)

tomllib: ModuleType | None
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

CACHE_MODES = ("off", "replay", "record", "refresh")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often a failed call is retried."""

    max: int = 3
    on: tuple[str, ...] = ("timeout", "rate_limit", "server_error", "connection")
    respect_retry_after: bool = True
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0


@dataclass(frozen=True, slots=True)
class RunConfig:
    concurrency: int = 16
    timeout_s: float = 60.0
    repeat: int = 1
    rpm: float | None = None
    tpm: float | None = None
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    max_cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """One model version to replay cases against."""

    name: str
    provider: str  # a provider's name (targets.registry)
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    timeout_s: float | None = None  # overrides run.timeout_s
    concurrency: int | None = None  # overrides run.concurrency for this target
    extra: Mapping[str, Any] = field(default_factory=dict)  # provider-specific keys


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


@dataclass(frozen=True, slots=True)
class CacheConfig:
    dir: str = ".llmguard/cache"
    mode: str = "off"  # one of CACHE_MODES


@dataclass(frozen=True, slots=True)
class CompareConfig:
    baseline: str  # a target name, or a path to a saved run (.json)
    candidate: str  # a target name


@dataclass(frozen=True, slots=True)
class GateConfig:
    confidence: float = 0.95
    min_cases: int = 20
    strict: bool = False
    adaptive: bool = False
    adaptive_rounds: int = 3  # at most this many extra repeats of borderline budgets' cases


@dataclass(frozen=True, slots=True)
class ReportConfig:
    json: str | None = None
    markdown: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration. Paths are as written (relative to rootdir)."""

    rootdir: str
    path: str | None = None  # the file it was read from, None for built-in defaults
    golden_sets: tuple[str, ...] = ("golden_sets/",)
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    compare: CompareConfig | None = None
    pricing: Mapping[str, Price] = field(default_factory=dict)
    run: RunConfig = field(default_factory=RunConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    budgets: Mapping[str, Any] = field(default_factory=dict)  # raw, parsed by gate.py
    gate: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    quality: Mapping[str, Any] = field(default_factory=dict)  # similarity scorer etc.
    sim: Mapping[str, Any] = field(default_factory=dict)  # simulator model definitions
    logs: Mapping[str, Any] = field(default_factory=dict)
    drift: Mapping[str, Any] = field(default_factory=dict)
    alerts: Mapping[str, Any] = field(default_factory=dict)
    redact: tuple[str, ...] = ()


# --------------------------------------------------------------------------- loading

CONFIG_FILES = ("llmguard.yaml", "llmguard.yml")
CONFIG_SCHEMA = "config.schema.json"
DOCS = "configuration"  # the README section every config error points to
# Keys any target may carry; the others are its provider's own (TargetConfig.extra).
_TARGET_KEYS = frozenset(
    ("provider", "model", "base_url", "api_key_env", "params", "headers", "stream")
    + ("timeout_s", "concurrency")
)


def find_config(rootdir: str, explicit: str | None = None) -> str | None:
    """Path of the configuration file to use, or None when there is none.

    Order: ``explicit`` (relative to the current directory, then to ``rootdir``; it must
    exist), ``llmguard.yaml`` / ``llmguard.yml`` in ``rootdir``, then ``pyproject.toml``
    in ``rootdir`` when it has a ``[tool.llmguard]`` table.
    """
    if explicit:
        candidates = [explicit]
        if not os.path.isabs(explicit):
            candidates.append(os.path.join(rootdir, explicit))
        for candidate in candidates:
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        raise ConfigError(
            f"config file {explicit!r} does not exist",
            hint=f"the path is relative to the current directory or the rootdir ({rootdir})",
            docs=DOCS,
        )
    found = [
        os.path.join(rootdir, n) for n in CONFIG_FILES if os.path.isfile(os.path.join(rootdir, n))
    ]
    if len(found) > 1:
        raise ConfigError(
            f"both {CONFIG_FILES[0]} and {CONFIG_FILES[1]} exist in {rootdir}; keep only one",
            docs=DOCS,
        )
    if found:
        return os.path.abspath(found[0])
    pyproject = os.path.join(rootdir, "pyproject.toml")
    if os.path.isfile(pyproject) and _pyproject_table(pyproject, _display(pyproject, rootdir)):
        return os.path.abspath(pyproject)
    return None


def load_config(rootdir: str, explicit: str | None = None) -> Config:
    """Find, validate and build the configuration; one ``ConfigError`` on any problem.

    Without any configuration file the result has no targets (the plugin says so).
    API keys are not read here: ``api_key_env`` only names the variable.
    """
    root = os.path.abspath(rootdir)
    path = find_config(root, explicit)
    if path is None:
        return Config(rootdir=root)
    display = _display(path, root)
    if path.endswith(".toml"):
        table = _pyproject_table(path, display)
        if table is None:
            raise ConfigError("has no [tool.llmguard] table", file=display, docs=DOCS)
        doc = table
    else:
        doc = load_document(path, display=display, error=ConfigError)
    validate(_schema_view(doc), CONFIG_SCHEMA, ConfigError, docs=DOCS)
    return _build_config(doc, root, path)


def _display(path: str, rootdir: str) -> str:
    """A path as shown in messages: relative to the rootdir when inside it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, rootdir)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if relative.startswith("..") else relative.replace(os.sep, "/")


def _pyproject_table(path: str, display: str) -> Document | None:
    """The ``[tool.llmguard]`` table of a pyproject.toml as a Document, or None."""
    if tomllib is None:
        raise ConfigError(
            "reading [tool.llmguard] needs Python 3.11+ or the 'tomli' package",
            file=display,
            hint="pip install tomli, or use llmguard.yaml",
        )
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"file is not valid UTF-8: byte offset {exc.start}", file=display
        ) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+)", str(exc))
        raise ConfigError(
            f"invalid TOML: {exc}", file=display, line=int(match.group(1)) if match else None
        ) from None
    tool = data.get("tool")
    table = tool.get("llmguard") if isinstance(tool, dict) else None
    if table is None:
        return None
    return Document(display, table, _toml_lines(text))


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_TOML_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


def _toml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Best-effort line of each ``[tool.llmguard...]`` table and key (TOML gives none)."""

    def parts(dotted: str) -> tuple[str, ...]:
        return tuple(a or b or c for a, b, c in _TOML_PART.findall(dotted))

    lines: dict[tuple[Any, ...], int] = {}
    table: tuple[str, ...] | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        header = _TOML_HEADER.match(line)
        if header:
            name = parts(header.group(1))
            table = name[2:] if name[:2] == ("tool", "llmguard") else None
            if table is not None:
                lines.setdefault(table, lineno)
            continue
        key = _TOML_KEY.match(line)
        if table is not None and key:
            lines.setdefault((*table, *parts(key.group(1))), lineno)
    return lines


def _build_config(doc: Document, rootdir: str, path: str) -> Config:
    data: Mapping[str, Any] = doc.data
    run = data.get("run") or {}
    extra: dict[str, Any] = {}
    golden = data.get("golden_sets")
    if golden is not None:
        extra["golden_sets"] = (golden,) if isinstance(golden, str) else tuple(golden)
    sections = {name: dict(data.get(name) or {}) for name in PROVIDER_SECTIONS}
    targets = {
        str(name): _build_target(doc, str(name), raw, sections)
        for name, raw in (data.get("targets") or {}).items()
    }
    return Config(
        rootdir=rootdir,
        path=path,
        targets=targets,
        compare=_build_compare(doc, data.get("compare"), targets),
        pricing={
            str(model): Price(
                input=float(p["input"]),
                output=float(p["output"]),
                cached_input=_float_or_none(p.get("cached_input")),
            )
            for model, p in (data.get("pricing") or {}).items()
        },
        run=RunConfig(
            **_present(
                run,
                concurrency=int,
                timeout_s=float,
                repeat=int,
                rpm=float,
                tpm=float,
                max_cost_usd=float,
            ),
            retries=RetryPolicy(
                **_present(
                    run.get("retries") or {},
                    max=int,
                    on=tuple,
                    respect_retry_after=bool,
                    backoff_base_s=float,
                    backoff_max_s=float,
                )
            ),
        ),
        cache=CacheConfig(**_present(data.get("cache") or {}, dir=str, mode=str)),
        budgets=dict(data.get("budgets") or {}),
        gate=GateConfig(
            **_present(
                data.get("gate") or {},
                confidence=float,
                min_cases=int,
                strict=bool,
                adaptive=bool,
                adaptive_rounds=int,
            )
        ),
        report=ReportConfig(**_present(data.get("report") or {}, json=str, markdown=str, html=str)),
        quality=dict(data.get("quality") or {}),
        sim=dict(data.get("sim") or {}),
        logs=dict(data.get("logs") or {}),
        drift=dict(data.get("drift") or {}),
        alerts=dict(data.get("alerts") or {}),
        redact=tuple(data.get("redact") or ()),
        **extra,
    )


def _present(raw: Mapping[str, Any], **convert: Callable[[Any], Any]) -> dict[str, Any]:
    """Converted values of the keys that are set (not missing, not null): dataclass kwargs."""
    return {key: fn(raw[key]) for key, fn in convert.items() if raw.get(key) is not None}


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _schema_view(doc: Document) -> Document:
    """Check each target's provider by name; return ``doc`` as the shipped schema sees it.

    The schema lists the built-in providers' keys; a plugin provider's own keys are
    checked by that provider (``Provider.check``), so they are left out of the view.
    """
    data = doc.data
    targets = data.get("targets") if isinstance(data, Mapping) else None
    if not isinstance(targets, Mapping):
        return doc  # the schema says what is wrong
    known = load_schema(CONFIG_SCHEMA)["$defs"]["target"]["properties"]
    view: dict[Any, Any] = {}
    for name, raw in targets.items():
        view[name] = raw
        if isinstance(raw, Mapping) and isinstance(raw.get("provider"), str):
            provider = _provider(doc, str(name), raw["provider"])
            own = set(provider.config_keys).difference(known)
            if own.intersection(raw):
                view[name] = {k: v for k, v in raw.items() if k not in own}
    if all(view[name] is raw for name, raw in targets.items()):
        return doc
    return Document(doc.path, {**data, "targets": view}, doc.lines)


def _provider(doc: Document, target: str, name: str) -> Provider:
    """The provider called ``name``, or the ConfigError that lists the available ones."""
    try:
        return get_provider(name)
    except KeyError:
        pass
    available = provider_names()
    where = ("targets", target, "provider")
    expected = "expected one of: " + ", ".join(available)
    if name in PLANNED:
        raise doc.error(
            ConfigError,
            f"{name!r} is not available yet; {expected}",
            where,
            hint=f"{', '.join(PLANNED)} are planned; until then provider: openai covers any "
            "OpenAI-compatible endpoint, and a provider plugin can add others",
            docs=DOCS,
        )
    raise doc.error(
        ConfigError,
        f"{name!r} is not allowed; {expected}" + did_you_mean_hint(name, available),
        where,
        docs=DOCS,
    )


def _build_target(
    doc: Document, name: str, raw: Mapping[str, Any], sections: Mapping[str, Any]
) -> TargetConfig:
    where = ("targets", name)
    provider = get_provider(str(raw["provider"]))  # known: checked by _schema_view
    for key in raw:
        if key not in _TARGET_KEYS and key not in provider.config_keys:
            raise doc.error(
                ConfigError,
                f"{key!r} only applies to provider {key_owner(key)!r}; this target's provider "
                f"is {provider.name!r}",
                (*where, key),
                docs=DOCS,
            )
    base_url = raw.get("base_url")
    if base_url is None:
        base_url = provider.default_base_url
    api_key_env = raw.get("api_key_env")
    if api_key_env is None and "base_url" not in raw:
        # Only the public endpoints are known to need a key; a local server may not.
        api_key_env = provider.default_key_env
    timeout = raw.get("timeout_s")
    concurrency = raw.get("concurrency")
    target = TargetConfig(
        name=name,
        provider=provider.name,
        model=str(raw["model"]),
        base_url=base_url,
        api_key_env=api_key_env,
        params=dict(raw.get("params") or {}),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        stream=bool(raw.get("stream", False)),
        timeout_s=None if timeout is None else float(timeout),
        concurrency=None if concurrency is None else int(concurrency),
        extra={k: raw[k] for k in provider.config_keys if k in raw},
    )
    try:
        problem = provider.check(target, sections)
    except ConfigError as exc:  # in the provider's own section, e.g. sim.models
        path = tuple(exc.key_path.split(".")) if exc.key_path else ()
        raise doc.error(ConfigError, exc.message, path, hint=exc.hint, docs=exc.docs) from None
    if problem is not None:
        at = (*where, problem.key) if problem.key else where
        raise doc.error(ConfigError, problem.message, at, hint=problem.hint, docs=DOCS)
    return target


def _build_compare(
    doc: Document, raw: Mapping[str, Any] | None, targets: Mapping[str, TargetConfig]
) -> CompareConfig | None:
    if raw is None:
        return None
    baseline, candidate = str(raw["baseline"]), str(raw["candidate"])
    defined = ", ".join(targets) or "none"
    for role, name in (("candidate", candidate), ("baseline", baseline)):
        if name in targets or (role == "baseline" and name.endswith(".json")):
            continue
        saved = " or a saved run (a path ending in .json)" if role == "baseline" else ""
        raise doc.error(
            ConfigError,
            f"unknown target {name!r}" + did_you_mean_hint(name, targets),
            ("compare", role),
            hint=f"use a target defined under targets ({defined}){saved}",
            docs=DOCS,
        )
    if baseline == candidate:
        raise doc.error(
            ConfigError,
            f"baseline and candidate are both {baseline!r}; compare two different targets",
            ("compare",),
            docs=DOCS,
        )
    return CompareConfig(baseline=baseline, candidate=candidate)


def config_line_of(config: Config, json_path: tuple[Any, ...]) -> int | None:
    """Line of ``json_path`` (or its nearest ancestor) in the file ``config`` came from.

    The file is read again: only error messages about a loaded config need lines.
    """
    if config.path is None:
        return None
    display = _display(config.path, config.rootdir)
    try:
        if config.path.endswith(".toml"):
            doc = _pyproject_table(config.path, display)
        else:
            doc = load_document(config.path, display=display, error=ConfigError)
    except ConfigError:
        return None
    return None if doc is None else doc.line_of(json_path)
