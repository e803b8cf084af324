"""The provider registry: built-ins resolve lazily, plugins come from entry points or
``register``, broken ones are one clear error; the sim provider's config check and its
port-free cache keys."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.exceptions import UsageError
from pytest_llmguard.records import Case, Message
from pytest_llmguard.sim.provider import PROVIDER as SIM
from pytest_llmguard.sim.provider import SimClient, sim_identity
from pytest_llmguard.targets import registry
from pytest_llmguard.targets.registry import (
    ENTRY_POINT_GROUP,
    get_provider,
    provider_names,
    register,
    unregister,
)
from tests.providers import StubProvider

GOLDEN = """\
name: support
cases:
  - id: refund-window
    prompt: "How long do I have to ask for a refund?"
    expected: "You can ask for a refund within 30 days of purchase."
    checks: [{contains: "30 days"}]
  - id: reset-password
    prompt: "How do I reset my password?"
    expected: "Open Settings, choose Security, then Reset password."
    checks: [{contains: "Reset password"}]
"""


@pytest.fixture()
def stub() -> Iterator[StubProvider]:
    provider = StubProvider("echo", config_keys=("reply",))
    register(provider)
    yield provider
    unregister("echo")


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *entries: tuple[str, str]) -> None:
    """Installed entry points of the providers group, as a plugin package would declare."""
    eps = [metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in entries]
    real = metadata.entry_points

    def entry_points(**params: Any) -> Any:
        return eps if params == {"group": ENTRY_POINT_GROUP} else real(**params)

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    monkeypatch.setattr(registry, "_loaded", {})


# ---- the registry ----------------------------------------------------------------------


def test_importing_the_registry_loads_no_provider_and_the_sim_provider_no_server(
    pytester: pytest.Pytester,
) -> None:
    code = (
        "import sys\n"
        "from pytest_llmguard.targets import registry\n"
        "mods = ('pytest_llmguard.targets.openai', 'pytest_llmguard.sim.provider')\n"
        "print(sorted(m for m in mods if m in sys.modules))\n"
        "assert registry.get_provider('sim').name == 'sim'\n"
        "heavy = ('aiohttp', 'pytest_llmguard.sim.server', 'pytest_llmguard.sim.app')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.ret == 0, result.stderr.str()
    assert result.outlines[-2:] == ["[]", "[]"]


def test_built_ins_resolve_without_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch)  # no entry point installed at all
    assert provider_names() == ("openai", "anthropic", "http", "python", "sim")
    assert get_provider("openai").default_key_env == "OPENAI_API_KEY"
    assert get_provider("anthropic").default_key_env == "ANTHROPIC_API_KEY"
    assert get_provider("sim") is SIM
    with pytest.raises(KeyError):
        get_provider("opneai")


def test_a_registered_provider_is_available_until_unregistered() -> None:
    register(StubProvider("echo"))
    try:
        assert "echo" in provider_names()
        assert get_provider("echo").name == "echo"
    finally:
        unregister("echo")
    assert "echo" not in provider_names()
    with pytest.raises(UsageError, match=r"is not a provider: it has no .*open"):
        register(object())  # type: ignore[arg-type]


def test_an_entry_point_provider_is_loaded_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("plain", "tests.test_providers:PLAIN"), ("sim", "x:Y"))
    assert provider_names() == ("openai", "anthropic", "http", "python", "sim", "plain")
    assert get_provider("plain") is PLAIN
    assert get_provider("sim") is SIM  # a built-in is never taken from metadata


PLAIN = StubProvider("plain")
MISNAMED = StubProvider("other")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "no_such_module_xyz:PROVIDER",
            "provider plugin 'broken' (pytest_llmguard.providers: 'no_such_module_xyz:PROVIDER')"
            " could not be loaded: ModuleNotFoundError: No module named 'no_such_module_xyz'",
        ),
        (
            "tests.providers:NOPE",
            "provider plugin 'broken' (pytest_llmguard.providers: 'tests.providers:NOPE')"
            " could not be loaded: AttributeError: ",
        ),
        (
            "tests.test_providers:GOLDEN",
            "provider plugin 'broken' (pytest_llmguard.providers: 'tests.test_providers:GOLDEN')"
            " is not a provider: it has no name, config_keys",
        ),
        (
            "tests.test_providers:MISNAMED",
            "provider plugin 'broken' (pytest_llmguard.providers: 'tests.test_providers:MISNAMED')"
            " is named 'other'; the names must match",
        ),
    ],
    ids=["no-module", "no-attribute", "not-a-provider", "misnamed"],
)
def test_a_broken_entry_point_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    fake_entry_points(monkeypatch, ("broken", value))
    with pytest.raises(UsageError) as info:
        get_provider("broken")
    assert str(info.value).startswith(message)


def test_a_broken_entry_point_in_a_run_is_exit_4_naming_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_entry_points(monkeypatch, ("broken", "no_such_module_xyz:PROVIDER"))
    write_project(pytester, "  t: {provider: broken, model: m}\n")
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: provider plugin 'broken' (*) could not be loaded: ModuleNotFoundError: *"]
    )
    assert "Traceback" not in result.stderr.str()


# ---- a provider registered at run time, end to end --------------------------------------

CONFTEST = """\
from pytest_llmguard.targets.registry import register, unregister
from tests.providers import StubProvider

register(StubProvider("echo", config_keys=("reply",)))


def pytest_unconfigure(config):
    unregister("echo")
"""


def write_project(pytester: pytest.Pytester, targets: str, extra: str = "") -> None:
    (pytester.path / "llmguard.yaml").write_text(
        f"golden_sets: [golden_sets/]\ntargets:\n{targets}report: {{json: report.json}}\n{extra}"
    )
    (pytester.path / "golden_sets").mkdir(exist_ok=True)
    (pytester.path / "golden_sets" / "support.yaml").write_text(GOLDEN)


def test_a_provider_registered_in_a_conftest_is_used_end_to_end(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    write_project(
        pytester,
        "  app: {provider: echo, model: app-v1}\n"
        '  fixed: {provider: echo, model: app-v2, reply: "Reset password here"}\n',
    )
    result = pytester.runpytest("--llmguard")
    result.assert_outcomes(passed=3, failed=1)  # the fixed reply has no "30 days"
    report = json.loads((pytester.path / "report.json").read_text())
    assert {t: v["provider"] for t, v in report["targets"].items()} == {
        "app": "echo",
        "fixed": "echo",
    }
    outputs = {(c["id"], c["target"]): c["output"] for c in report["cases"]}
    assert outputs[("refund-window", "app")].startswith("You can ask for a refund")
    assert outputs[("reset-password", "fixed")] == "Reset password here"
    assert "echo" not in provider_names()  # unregistered when that run ended


def test_a_plugin_providers_check_is_a_config_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    write_project(pytester, "  app: {provider: echo, model: bad}\n")
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: llmguard.yaml:3: targets.app.model: model 'bad' is not served here"]
    )


def test_a_plugin_key_on_another_providers_target_is_still_unknown(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    write_project(pytester, "  app: {provider: sim, model: sim-stable, reply: hi}\n")
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: llmguard.yaml:3: targets.app.reply: unknown key 'reply'"])


# ---- the sim provider --------------------------------------------------------------------


def test_a_misspelled_sim_model_is_a_config_error(pytester: pytest.Pytester) -> None:
    write_project(
        pytester,
        "  baseline: {provider: sim, model: sim-stable}\n"
        "  candidate: {provider: sim, model: sim-stabel}\n",
    )
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [
        "ERROR: llmguard.yaml:4: targets.candidate.model: unknown simulator model "
        "'sim-stabel'; did you mean 'sim-stable'?"
    ]
    assert "Traceback" not in result.stderr.str()


def test_a_sim_model_may_come_from_the_sim_section_or_a_remote_simulator() -> None:
    sections = {"sim": {"models": {"mine": {"base": "sim-slow"}}}}
    assert SIM.check(TargetConfig("a", "sim", "mine"), sections) is None
    assert SIM.check(TargetConfig("a", "sim", "mine"), {"sim": {}}) is not None
    # A simulator started elsewhere may have been given versions this config lacks.
    remote = TargetConfig("a", "sim", "theirs", base_url="http://127.0.0.1:8400/v1")
    assert SIM.check(remote, {"sim": {}}) is None


CASE = Case("s", "s.yaml", "c", (Message("user", "How do I reset my password?"),))


def test_the_sim_cache_identity_has_no_port() -> None:
    target = TargetConfig("a", "sim", "sim-stable", headers={"x-sim-latency-ms": "5", "k": "v"})
    answers = {"How do I reset my password?": "Open Settings."}

    def identity(base_url: str, sim: dict[str, Any]) -> dict[str, Any]:
        client = SimClient(
            target,
            identity=sim_identity(target, sim),
            answers=answers,
            base_url=base_url,
            api_key=None,
            timeout_s=1.0,
            max_connections=1,
        )
        return client.request_identity(CASE)

    first = identity("http://127.0.0.1:40001/v1", {"seed": 1})
    assert first == identity("http://127.0.0.1:40002/v1", {"seed": 1})
    assert "40001" not in json.dumps(first)
    assert first["answer"] == "Open Settings."
    assert first["headers"] == {"x-sim-latency-ms": "5"}
    assert first["version"]["latency_ms"] == 120.0
    # What changes the simulator's answer changes the key.
    assert first != identity("http://127.0.0.1:40001/v1", {"seed": 2})
    knobs = {"seed": 1, "models": {"sim-stable": {"accuracy": 0.5}}}
    assert first != identity("http://127.0.0.1:40001/v1", knobs)


def test_an_in_process_sim_run_replays_from_the_cache(pytester: pytest.Pytester) -> None:
    """Each run starts the simulator on a new port; the second run still hits every case."""
    write_project(
        pytester,
        "  baseline: {provider: sim, model: sim-stable}\n"
        "  candidate: {provider: sim, model: sim-candidate}\n",
        "sim: {latency_scale: 0.01, seed: 3}\n",
    )
    pytester.runpytest("--llmguard", "--llmguard-cache", "record").assert_outcomes(passed=4)
    recorded = json.loads((pytester.path / "report.json").read_text())
    assert not any(c["cached"] for c in recorded["cases"])

    result = pytester.runpytest("--llmguard", "--llmguard-cache", "replay")
    result.assert_outcomes(passed=4)  # a miss would fail its case: 0 requests needed
    result.stdout.fnmatch_lines(["*4 of 4 responses came from the cache*"])
    replayed = json.loads((pytester.path / "report.json").read_text())
    assert all(c["cached"] for c in replayed["cases"])
    outputs = {(c["id"], c["target"]): c["output"] for c in recorded["cases"]}
    assert {(c["id"], c["target"]): c["output"] for c in replayed["cases"]} == outputs

    # Another seed is another simulator: nothing recorded applies to it.
    config = pytester.path / "llmguard.yaml"
    config.write_text(config.read_text().replace("seed: 3", "seed: 4"))
    pytester.runpytest("--llmguard", "--llmguard-cache", "replay").assert_outcomes(failed=4)


def test_running_the_sim_provider_needs_no_simulator_for_remote_targets(sim_url: str) -> None:
    from pytest_llmguard.config import RunConfig
    from pytest_llmguard.targets.registry import ProviderContext

    remote = TargetConfig("r", "sim", "sim-stable", base_url=sim_url)
    context = ProviderContext(RunConfig(), (), {"sim": {}}, str(Path.cwd()))
    with SIM.open({"r": remote}, context) as served:
        client = served.client(remote)
        assert not isinstance(client, SimClient)
        assert client.request_identity(CASE)["url"] == sim_url + "/chat/completions"
