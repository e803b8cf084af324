"""Build the typed ``Config`` from a schema-valid document, with every cross-reference
checked here (targets named by ``compare``, the judge and the embeddings endpoint), so
that no other module raises a config error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from pytest_llmguard.budgets import Budget
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.config.discovery import DOCS
from pytest_llmguard.config.drift import parse_alerts, parse_drift
from pytest_llmguard.config.logs import parse_logs
from pytest_llmguard.config.quality import validate_quality
from pytest_llmguard.config.records import (
    PRODUCTION,
    CacheConfig,
    CompareConfig,
    Config,
    GateConfig,
    HistoryConfig,
    LogsConfig,
    Price,
    QualitySettings,
    ReportConfig,
    RetryPolicy,
    RunConfig,
    TargetConfig,
)
from pytest_llmguard.config.redaction import parse_redact
from pytest_llmguard.documents import Document
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.suggest import did_you_mean_hint
from pytest_llmguard.targets.registry import PROVIDER_SECTIONS, get_provider, key_owner

# Keys any target may carry; the others are its provider's own (TargetConfig.extra).
_TARGET_KEYS = frozenset(
    ("provider", "model", "base_url", "api_key_env", "params", "headers", "stream")
    + ("timeout_s", "concurrency")
)


def build_config(doc: Document, rootdir: str, path: str) -> Config:
    """The typed configuration of a document already valid against the schema."""
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
    quality = _quality(doc, targets)
    logs = _logs(doc)
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
                cache_write=_float_or_none(p.get("cache_write")),
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
        cache=CacheConfig(
            **_present(data.get("cache") or {}, dir=str, mode=str, max_age_days=float)
        ),
        budgets=_budgets(doc),
        gate=_gate(doc, targets),
        report=ReportConfig(**_present(data.get("report") or {}, json=str, markdown=str, html=str)),
        quality=quality,
        history=_history(data.get("history") or {}),
        sections=sections,
        logs=logs,
        drift=_section(doc, parse_drift, "drift"),
        alerts=_section(doc, parse_alerts, "alerts"),
        redact=parse_redact(doc),
        **extra,
    )


def _present(raw: Mapping[str, Any], **convert: Callable[[Any], Any]) -> dict[str, Any]:
    """Converted values of the keys that are set (not missing, not null): dataclass kwargs."""
    return {key: fn(raw[key]) for key, fn in convert.items() if raw.get(key) is not None}


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


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
    _check_url_credentials(doc, where, base_url, api_key_env, raw)
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


def _check_url_credentials(
    doc: Document,
    where: tuple[str, str],
    base_url: str | None,
    api_key_env: str | None,
    raw: Mapping[str, Any],
) -> None:
    """A base_url with ``user:password@`` sends those as the Authorization header; a key
    from api_key_env (or an Authorization header) would need the same header. One of
    them has to go: said here, not as a failed call per case. The URL is not repeated."""
    if not base_url or "@" not in base_url.partition("://")[2].partition("/")[0]:
        return
    headers = {str(k).lower() for k in (raw.get("headers") or {})}
    azure = raw.get("auth_header") == "api-key"  # the key goes in its own header
    if (api_key_env and not azure) or "authorization" in headers:
        source = "api_key_env" if api_key_env and not azure else "headers.Authorization"
        raise doc.error(
            ConfigError,
            f"base_url carries credentials (user:password@host) and {source} is set: "
            "both would be sent as the Authorization header",
            (*where, "base_url"),
            hint="keep the key in api_key_env and remove the credentials from base_url, "
            f"or remove {source} to authenticate with the URL's credentials",
            docs=DOCS,
        )


def _build_compare(
    doc: Document,
    raw: Mapping[str, Any] | None,
    targets: Mapping[str, TargetConfig],
) -> CompareConfig | None:
    if raw is None:
        return None
    baseline, candidate = str(raw["baseline"]), str(raw["candidate"])
    defined = ", ".join(targets) or "none"
    for role, name in (("candidate", candidate), ("baseline", baseline)):
        if name in targets or (role == "baseline" and name.endswith(".json")):
            continue
        if role == "baseline" and name == PRODUCTION:
            continue  # the logs; options may add them, so apply_options checks they exist
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


def _gate(doc: Document, targets: Mapping[str, TargetConfig]) -> GateConfig:
    raw = doc.data.get("gate") or {}
    for i, name in enumerate(raw.get("targets") or ()):
        if name not in targets:
            raise doc.error(
                ConfigError,
                f"unknown target {name!r}" + did_you_mean_hint(str(name), targets),
                ("gate", "targets", i),
                hint=f"configured targets: {', '.join(targets) or '(none)'}",
                docs=DOCS,
            )
    return GateConfig(
        **_present(
            raw,
            confidence=float,
            min_cases=int,
            strict=bool,
            adaptive=bool,
            adaptive_rounds=int,
            targets=lambda names: tuple(str(n) for n in names),
        )
    )


def _logs(doc: Document) -> LogsConfig:
    try:
        return parse_logs(doc.data.get("logs") or {})
    except ConfigError as exc:
        raise _located(doc, exc) from None


def _history(raw: Mapping[str, Any]) -> HistoryConfig:
    # An explicit null means "no limit", unlike the other sections where null is unset.
    default = HistoryConfig()
    keep = raw.get("keep", default.keep)
    return HistoryConfig(
        dir=str(raw.get("dir", default.dir)),
        keep=None if keep is None else int(keep),
        max_age_days=_float_or_none(raw.get("max_age_days")),
    )


def _section(doc: Document, parse: Callable[[Mapping[str, Any]], Any], name: str) -> Any:
    try:
        return parse(doc.data.get(name) or {})
    except ConfigError as exc:
        raise _located(doc, exc) from None


def _budgets(doc: Document) -> tuple[Budget, ...]:
    try:
        return parse_budgets(doc.data.get("budgets") or {})
    except ConfigError as exc:
        raise _located(doc, exc) from None


def _quality(doc: Document, targets: Mapping[str, TargetConfig]) -> QualitySettings:
    try:
        quality = validate_quality(doc.data.get("quality") or {})
    except ConfigError as exc:
        raise _located(doc, exc) from None
    named = (
        ("quality.judge.target", quality.judge.target if quality.judge else None),
        ("quality.similarity.embeddings.target", quality.embeddings_target),
    )
    for key_path, name in named:
        if name is not None and name not in targets:
            raise doc.error(
                ConfigError,
                f"unknown target {name!r}" + did_you_mean_hint(name, targets),
                tuple(key_path.split(".")),
                hint=f"configured targets: {', '.join(targets) or '(none)'}",
                docs=DOCS,
            )
    return quality


def _located(doc: Document, exc: ConfigError) -> ConfigError:
    """``exc`` (raised with a dotted key path only) with the document's file and line."""
    json_path = _json_path(exc.key_path) if exc.key_path else ()
    return ConfigError(
        exc.message,
        file=doc.path,
        line=doc.line_of(json_path),
        key_path=exc.key_path,
        hint=exc.hint,
        docs=exc.docs,
    )


def check_budget_scopes(config: Config, sets: Collection[str], tags: Collection[str]) -> None:
    """A ``budgets.by_set``/``by_tag`` scope that names no golden set or tag is a typo: it
    would judge nothing, silently. Checked once the golden sets are loaded (the cases are
    known only then); ConfigError with a "did you mean"."""
    known = {"set": (sets, "by_set", "golden sets"), "tag": (tags, "by_tag", "tags")}
    for budget in config.budgets:
        kind, _, name = budget.scope.partition(":")
        if kind not in known:
            continue
        names, key, what = known[kind]
        if name in names:
            continue
        listed = ", ".join(sorted(names)[:20]) or "(none)"
        raise ConfigError(
            f"{key} names {name!r}, but no case has it" + did_you_mean_hint(name, names),
            file=config.path,
            key_path=f"budgets.{key}.{name}",
            hint=f"the {what} of the loaded cases: {listed}",
            docs=DOCS,
        )


def _json_path(key_path: str) -> tuple[str | int, ...]:
    """``logs.sources[0].fields`` → ``("logs", "sources", 0, "fields")``."""
    path: list[str | int] = []
    for part in key_path.split("."):
        name, _, rest = part.partition("[")
        if name:
            path.append(name)
        for index in rest.rstrip("]").split("]["):
            if index.isdigit():
                path.append(int(index))
    return tuple(path)
