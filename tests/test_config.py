from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_llmguard.config import (
    AlertsConfig,
    CacheConfig,
    CompareConfig,
    Config,
    DriftConfig,
    GateConfig,
    LogsConfig,
    LogSourceConfig,
    Price,
    RedactConfig,
    RedactPattern,
    ReportConfig,
    RetryPolicy,
    RunConfig,
    SampleConfig,
    TargetConfig,
    config_line_of,
    find_config,
    load_config,
)
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.exceptions import ConfigError, UsageError
from pytest_llmguard.targets.openai import DEFAULT_BASE_URL as DEFAULT_OPENAI_BASE_URL

REPO = Path(__file__).parent.parent
BAD_CONFIGS = Path(__file__).parent / "data" / "bad_inputs" / "config"

# The configuration example of DESIGN.md (its long `logs:` line wrapped).
DESIGN_EXAMPLE = """\
golden_sets: [golden_sets/]          # files or folders of *.yaml / *.yml / *.jsonl
targets:
  baseline:
    provider: openai                 # any OpenAI-compatible Chat Completions endpoint
    base_url: https://api.openai.com/v1
    model: gpt-4o-mini-2024-07-18
    api_key_env: OPENAI_API_KEY      # keys only ever come from the environment
    params: {temperature: 0, max_tokens: 400}
  candidate:
    provider: openai
    model: gpt-4.1-mini-2025-04-14
compare: {baseline: baseline, candidate: candidate}   # or baseline: path/to/saved-run.json
pricing:                              # USD per million tokens; overrides the built-in table
  gpt-4.1-mini-2025-04-14: {input: 0.40, output: 1.60, cached_input: 0.10}
run: {concurrency: 16, timeout_s: 60, repeat: 1, rpm: null, tpm: null,
      retries: {max: 3, on: [timeout, rate_limit, server_error], respect_retry_after: true}}
cache: {dir: .llmguard/cache, mode: record}   # off | replay | record | refresh
budgets:
  latency_p95_ms:        {max: 4000, max_increase: "15%"}
  cost_per_response_usd: {max_increase: "10%"}
  error_rate:            {max: 0.02, max_increase: 0.01}
  similarity_mean:       {min: 0.80, max_decrease: 0.03}
  check_pass_rate:       {min: 0.95}
gate: {confidence: 0.95, min_cases: 20}
report: {json: llmguard-report.json, markdown: llmguard-report.md, html: llmguard-report.html}
logs: {sources: [{path: "logs/*.jsonl", format: auto}],
       sample: {n: 200, by: [model], since: 7d, seed: 1}}
drift: {history: .llmguard/history, reference_runs: 7}
alerts: {webhook_url_env: LLMGUARD_WEBHOOK_URL, github_issue: false}
redact: [email, phone, credit_card, ssn, ip, api_key]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(rootdir: Path, explicit: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(str(rootdir), explicit)
    return info.value


# --------------------------------------------------------------------------- the example


def test_design_example_builds_the_exact_config(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", DESIGN_EXAMPLE)

    cfg = load_config(str(tmp_path))

    assert cfg == Config(
        rootdir=str(tmp_path),
        path=str(tmp_path / "llmguard.yaml"),
        golden_sets=("golden_sets/",),
        targets={
            "baseline": TargetConfig(
                name="baseline",
                provider="openai",
                model="gpt-4o-mini-2024-07-18",
                base_url="https://api.openai.com/v1",
                api_key_env="OPENAI_API_KEY",
                params={"temperature": 0, "max_tokens": 400},
            ),
            "candidate": TargetConfig(
                name="candidate",
                provider="openai",
                model="gpt-4.1-mini-2025-04-14",
                base_url=DEFAULT_OPENAI_BASE_URL,
                api_key_env="OPENAI_API_KEY",
            ),
        },
        compare=CompareConfig(baseline="baseline", candidate="candidate"),
        pricing={"gpt-4.1-mini-2025-04-14": Price(input=0.40, output=1.60, cached_input=0.10)},
        run=RunConfig(
            concurrency=16,
            timeout_s=60.0,
            repeat=1,
            rpm=None,
            tpm=None,
            retries=RetryPolicy(
                max=3, on=("timeout", "rate_limit", "server_error"), respect_retry_after=True
            ),
        ),
        cache=CacheConfig(dir=".llmguard/cache", mode="record"),
        budgets=parse_budgets(
            {
                "latency_p95_ms": {"max": 4000, "max_increase": "15%"},
                "cost_per_response_usd": {"max_increase": "10%"},
                "error_rate": {"max": 0.02, "max_increase": 0.01},
                "similarity_mean": {"min": 0.80, "max_decrease": 0.03},
                "check_pass_rate": {"min": 0.95},
            }
        ),
        gate=GateConfig(confidence=0.95, min_cases=20),
        report=ReportConfig(
            json="llmguard-report.json",
            markdown="llmguard-report.md",
            html="llmguard-report.html",
        ),
        logs=LogsConfig(
            sources=(LogSourceConfig(path="logs/*.jsonl", format="auto"),),
            sample=SampleConfig(n=200, by=("model",), since="7d", seed=1),
        ),
        drift=DriftConfig(history=".llmguard/history", reference_runs=7),
        alerts=AlertsConfig(webhook_url_env="LLMGUARD_WEBHOOK_URL", github_issue=None),
        redact=RedactConfig(("email", "phone", "credit_card", "ssn", "ip", "api_key")),
        sections={"sim": {}},
    )


def test_repository_quick_start_config() -> None:
    cfg = load_config(str(REPO))

    assert cfg.path == str(REPO / "llmguard.yaml")
    assert cfg.golden_sets == ("golden_sets/",)
    assert {n: (t.provider, t.model) for n, t in cfg.targets.items()} == {
        "baseline": ("sim", "sim-stable"),
        "candidate": ("sim", "sim-candidate"),
    }
    assert cfg.targets["baseline"].base_url is None  # started in-process
    assert cfg.targets["baseline"].api_key_env is None
    assert cfg.compare == CompareConfig("baseline", "candidate")
    assert (cfg.run.concurrency, cfg.run.timeout_s) == (16, 10.0)
    assert cfg.budgets == parse_budgets(
        {
            "latency_p95_ms": {"max_increase": "15%"},
            "cost_per_response_usd": {"max_increase": "10%"},
            "error_rate": {"max": 0.02},
            "similarity_mean": {"max_decrease": 0.03},
            "check_pass_rate": {"min": 0.95},
        }
    )
    assert cfg.gate == GateConfig(confidence=0.95, min_cases=20)
    assert cfg.report == ReportConfig(json="llmguard-report.json")


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path) -> None:
    # `on:` is True and `no` is False under yaml.safe_load; both would break this config.
    write(
        tmp_path / "llmguard.yaml",
        """\
        targets:
          a: {provider: openai, model: "no"}
          b: {provider: openai, model: on}
        run:
          retries:
            on: [timeout]
        """,
    )

    cfg = load_config(str(tmp_path))

    assert cfg.run.retries.on == ("timeout",)
    assert cfg.targets["b"].model == "on"


def test_defaults_without_optional_sections(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", "targets: {a: {provider: sim, model: sim-stable}}\n")

    cfg = load_config(str(tmp_path))

    assert cfg.golden_sets == ("golden_sets/",)
    assert cfg.run == RunConfig()
    assert cfg.cache == CacheConfig()
    assert cfg.gate == GateConfig()
    assert cfg.compare is None
    assert cfg.budgets == ()


def test_golden_sets_may_be_one_string(tmp_path: Path) -> None:
    write(
        tmp_path / "llmguard.yaml",
        "golden_sets: evals/\ntargets: {a: {provider: sim, model: sim-stable}}\n",
    )

    assert load_config(str(tmp_path)).golden_sets == ("evals/",)


def test_a_planned_provider_is_said_to_be_not_available_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_llmguard.config.providers as config_providers

    monkeypatch.setattr(config_providers, "PLANNED", {"bedrock": ("region",)})
    write(tmp_path / "llmguard.yaml", "targets: {t: {provider: bedrock, model: m}}\n")

    err = error_of(tmp_path)

    assert "targets.t.provider: 'bedrock' is not available yet; expected one of: openai, " in str(
        err
    )
    assert err.hint is not None and err.hint.startswith("bedrock are planned")


def test_provider_defaults_and_extra_keys(tmp_path: Path) -> None:
    write(
        tmp_path / "llmguard.yaml",
        """\
        targets:
          public: {provider: openai, model: gpt-4o-mini}
          local: {provider: openai, model: llama3, base_url: "http://127.0.0.1:11434/v1"}
          azure:
            provider: openai
            model: gpt-4o
            base_url: https://acme.openai.azure.com/openai/deployments/gpt-4o
            api_key_env: AZURE_OPENAI_KEY
            api_version: "2024-06-01"
            auth_header: api-key
          claude: {provider: anthropic, model: claude-3-5-haiku-latest}
          app:
            provider: python
            model: app-v2
            function: myapp.bot:answer
          endpoint:
            provider: http
            model: internal-v7
            base_url: https://llm.internal.example/generate
            body: {input: "{{prompt}}"}
            output_path: data.text
            usage_paths: {input: usage.in, output: usage.out}
            headers: {x-team: search}
            timeout_s: 5
            concurrency: 2
            stream: false
        """,
    )

    targets = load_config(str(tmp_path)).targets

    assert (targets["public"].base_url, targets["public"].api_key_env) == (
        DEFAULT_OPENAI_BASE_URL,
        "OPENAI_API_KEY",
    )
    # A local server may not need a key, so none is assumed.
    assert (targets["local"].base_url, targets["local"].api_key_env) == (
        "http://127.0.0.1:11434/v1",
        None,
    )
    assert targets["azure"].extra == {"api_version": "2024-06-01", "auth_header": "api-key"}
    assert targets["azure"].api_key_env == "AZURE_OPENAI_KEY"
    assert (targets["claude"].base_url, targets["claude"].api_key_env) == (
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    )
    assert targets["app"].extra == {"function": "myapp.bot:answer"}
    assert targets["endpoint"] == TargetConfig(
        name="endpoint",
        provider="http",
        model="internal-v7",
        base_url="https://llm.internal.example/generate",
        headers={"x-team": "search"},
        stream=False,
        timeout_s=5.0,
        concurrency=2,
        extra={
            "body": {"input": "{{prompt}}"},
            "output_path": "data.text",
            "usage_paths": {"input": "usage.in", "output": "usage.out"},
        },
    )


def test_compare_baseline_may_be_a_saved_run(tmp_path: Path) -> None:
    write(
        tmp_path / "llmguard.yaml",
        """\
        targets: {candidate: {provider: sim, model: sim-candidate}}
        compare: {baseline: runs/main.json, candidate: candidate}
        """,
    )

    assert load_config(str(tmp_path)).compare == CompareConfig("runs/main.json", "candidate")


def test_gate_targets_name_configured_targets(tmp_path: Path) -> None:
    config = """\
        targets:
          base: {provider: sim, model: sim-stable}
          cand: {provider: sim, model: sim-candidate}
          explore: {provider: sim, model: sim-wordy}
        compare: {baseline: base, candidate: cand}
        gate: {targets: [explore]}
        """
    write(tmp_path / "llmguard.yaml", config)
    assert load_config(str(tmp_path)).gate.targets == ("explore",)
    write(tmp_path / "llmguard.yaml", config.replace("[explore]", "[cand, explor]"))
    err = error_of(tmp_path)
    assert err.key_path == "gate.targets[1]" and err.line == 6
    assert "unknown target 'explor'" in str(err) and "did you mean 'explore'" in str(err)


def test_sim_models_are_kept_raw(tmp_path: Path) -> None:
    write(
        tmp_path / "llmguard.yaml",
        """\
        targets: {a: {provider: sim, model: my-model}}
        sim:
          seed: 3
          models:
            my-model: {base: sim-stable, latency_ms: 300}
        """,
    )

    assert load_config(str(tmp_path)).sim == {
        "seed": 3,
        "models": {"my-model": {"base": "sim-stable", "latency_ms": 300}},
    }


# --------------------------------------------------------------------------- discovery


def test_no_config_at_all_gives_no_targets(tmp_path: Path) -> None:
    cfg = load_config(str(tmp_path))

    assert cfg == Config(rootdir=str(tmp_path))
    assert cfg.path is None and not cfg.targets


def test_llmguard_yaml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", "targets: {a: {provider: openai, model: from-yaml}}\n")
    write(
        tmp_path / "pyproject.toml",
        '[tool.llmguard.targets.a]\nprovider = "openai"\nmodel = "from-toml"\n',
    )

    assert find_config(str(tmp_path), None) == str(tmp_path / "llmguard.yaml")
    assert load_config(str(tmp_path)).targets["a"].model == "from-yaml"


def test_llmguard_yml_is_found(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yml", "targets: {a: {provider: openai, model: m}}\n")

    assert find_config(str(tmp_path), None) == str(tmp_path / "llmguard.yml")


def test_both_yaml_and_yml_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", "{}\n")
    write(tmp_path / "llmguard.yml", "{}\n")

    with pytest.raises(ConfigError) as info:
        find_config(str(tmp_path), None)

    assert str(info.value).startswith(
        f"both llmguard.yaml and llmguard.yml exist in {tmp_path}; keep only one"
    )


def test_explicit_path_wins_over_discovery(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", "targets: {a: {provider: openai, model: default}}\n")
    write(tmp_path / "ci" / "nightly.yaml", "targets: {a: {provider: openai, model: nightly}}\n")

    cfg = load_config(str(tmp_path), "ci/nightly.yaml")

    assert cfg.path == str(tmp_path / "ci" / "nightly.yaml")
    assert cfg.targets["a"].model == "nightly"


def test_explicit_path_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "elsewhere" / "cfg.yaml", "targets: {a: {provider: openai, model: cwd}}\n")
    (tmp_path / "root").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    assert load_config(str(tmp_path / "root"), "cfg.yaml").targets["a"].model == "cwd"


def test_explicit_path_that_does_not_exist(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", "targets: {a: {provider: openai, model: m}}\n")

    err = error_of(tmp_path, "ci/missing.yaml")

    assert str(err).splitlines()[0] == (
        "--llmguard-config ci/missing.yaml: the config file does not exist"
    )
    assert f"relative to the current directory or the rootdir ({tmp_path})" in str(err)


def test_pyproject_table(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """\
        [project]
        name = "acme-bot"

        [tool.llmguard]
        golden_sets = ["evals/"]
        compare = {baseline = "base", candidate = "cand"}

        [tool.llmguard.targets.base]
        provider = "sim"
        model = "sim-stable"

        [tool.llmguard.targets.cand]
        provider = "sim"
        model = "sim-candidate"

        [tool.llmguard.budgets]
        error_rate = {max = 0.02}
        """,
    )

    cfg = load_config(str(tmp_path))

    assert cfg.path == str(tmp_path / "pyproject.toml")
    assert cfg.golden_sets == ("evals/",)
    assert cfg.compare == CompareConfig("base", "cand")
    assert cfg.targets["cand"].model == "sim-candidate"
    assert cfg.budgets == parse_budgets({"error_rate": {"max": 0.02}})
    assert config_line_of(cfg, ("targets", "cand", "model")) == 14


def test_pyproject_without_table_is_not_a_config(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')

    assert find_config(str(tmp_path), None) is None


def test_pyproject_errors_name_the_line(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """\
        [project]
        name = "acme-bot"

        [tool.llmguard.targets.cand]
        provider = "sim"
        modle = "sim-candidate"
        """,
    )

    err = error_of(tmp_path)

    assert str(err).splitlines()[0] == (
        "pyproject.toml:6: targets.cand.modle: unknown key 'modle'; did you mean 'model'?"
    )


def test_explicit_pyproject_without_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')

    err = error_of(tmp_path, str(tmp_path / "pyproject.toml"))

    assert str(err).splitlines()[0] == "pyproject.toml: has no [tool.llmguard] table"


def test_invalid_toml(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.llmguard]\ntargets = {\n")

    err = error_of(tmp_path, str(tmp_path / "pyproject.toml"))

    assert str(err).startswith("pyproject.toml:2: invalid TOML: ")


def test_config_errors_are_usage_errors(tmp_path: Path) -> None:
    write(tmp_path / "llmguard.yaml", "targets: 3\n")

    err = error_of(tmp_path)

    assert isinstance(err, UsageError)
    assert (err.file, err.line, err.key_path) == ("llmguard.yaml", 1, "targets")
    assert err.message == "expected a mapping, found a number (3)"


def test_config_outside_rootdir_is_shown_absolute(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "shared" / "cfg.yaml", "targets: {a: {provider: nope}}\n")
    (tmp_path / "root").mkdir()

    err = error_of(tmp_path / "root", str(cfg_file))

    assert err.file == str(cfg_file)


# --------------------------------------------------------------------------- bad inputs


def expectations(path: Path) -> tuple[str, str, str | None]:
    """(mode, first line, hint) from a corpus file's `# expect:` / `# hint:` header."""
    lines = path.read_text(encoding="utf-8").splitlines()
    mode, _, first = lines[0].removeprefix("# ").partition(": ")
    hint = next((h.removeprefix("# hint: ") for h in lines[1:2] if h.startswith("# hint: ")), None)
    return mode, first.replace("{file}", path.name), hint


@pytest.mark.parametrize("path", sorted(BAD_CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_config_corpus(path: Path) -> None:
    mode, expected, hint = expectations(path)

    err = error_of(BAD_CONFIGS, path.name)

    first, *rest = str(err).splitlines()
    if mode == "expect-prefix":
        assert first.startswith(expected)
    else:
        assert mode == "expect"
        assert first == expected
    if hint is not None:
        assert rest[0] == f"  hint: {hint}"


def test_every_unknown_key_error_lists_the_allowed_keys() -> None:
    err = error_of(BAD_CONFIGS, "target_key_typo.yaml")

    assert err.hint is not None
    assert err.hint.startswith("allowed keys here: provider, model, base_url, api_key_env")


# --------------------------------------------------------------------------- redact, retention


def test_redact_takes_kinds_and_labelled_patterns(tmp_path: Path) -> None:
    write(
        tmp_path / "llmguard.yaml",
        """\
        redact: [email, {label: customer_id, pattern: 'CUST-\\d{6}'}]
        cache: {max_age_days: 30}
        """,
    )
    cfg = load_config(str(tmp_path))
    assert cfg.redact == RedactConfig(("email",), (RedactPattern("customer_id", r"CUST-\d{6}"),))
    assert cfg.cache.max_age_days == 30.0
    assert cfg.unimplemented_notes() == []


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ("{label: x, pattern: 'CUST-('}", "redact pattern does not compile"),
        ("{label: x, pattern: 'a*'}", "redact pattern matches the empty text"),
        ("{label: Bad-Label, pattern: 'a'}", "redact"),
        ("emails", "redact"),
    ],
)
def test_bad_redact_items_are_config_errors_at_their_line(
    tmp_path: Path, item: str, said: str
) -> None:
    write(tmp_path / "llmguard.yaml", f"run: {{repeat: 1}}\nredact: [{item}]\n")
    error = error_of(tmp_path)
    assert said in str(error) and "llmguard.yaml:2" in str(error)
