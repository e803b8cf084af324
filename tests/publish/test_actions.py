"""GitHub Actions output: workflow-command escaping, annotations, the step summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pytest_llmguard.outcome import Comparison
from pytest_llmguard.publish import PublishRequest, publish
from pytest_llmguard.publish.actions import (
    MAX_PER_LEVEL,
    Annotation,
    append_step_summary,
    config_line,
    escape_data,
    escape_property,
    workflow_annotations,
)
from pytest_llmguard.records import Case, Message
from pytest_llmguard.report.markdown import COMMENT_MARKER
from tests.report.outcomes import failing_outcome


def test_workflow_command_data_and_properties_are_escaped() -> None:
    assert escape_data("50% done\r\n::error::x") == "50%25 done%0D%0A::error::x"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    cmd = Annotation("error", "t: x, y", "line1\nline2", "dir/a,b.yaml", 12).command()
    assert cmd == "::error file=dir/a%2Cb.yaml,line=12,title=t%3A x%2C y::line1%0Aline2"
    assert "\n" not in cmd


def _with_cases(outcome, n: int):  # type: ignore[no-untyped-def]
    cases = {
        f"golden_sets/support.yaml::case-{i}": Case(
            "support", "golden_sets/support.yaml", f"case-{i}", (Message("user", "q"),), line=3 + i
        )
        for i in range(n)
    }
    return replace(outcome, cases=cases, config_path="/repo/llmguard.yaml")


def test_annotations_point_at_files_most_important_first_and_are_capped() -> None:
    outcome = _with_cases(failing_outcome(n=30), 30)
    found = workflow_annotations(outcome, rootdir="/repo", workspace="/repo")
    errors = [a for a in found if a.level == "error"]
    assert len(errors) == MAX_PER_LEVEL
    # failed budgets first, then newly failing cases, each at its file and line
    assert errors[0].title.startswith("llmguard budget failed: latency_p95_ms")
    assert errors[0].file == "llmguard.yaml"
    assert errors[1].title.startswith("llmguard budget failed: check_pass_rate")
    case = errors[2]
    assert case.file == "golden_sets/support.yaml" and case.line is not None
    assert "(passed on the baseline)" in case.title and "[candidate]" in case.title
    assert 'contains "30 days": not found' in case.message
    assert (
        errors[-1].file is None and "23 more" in errors[-1].title
    )  # 2 budgets + 30 cases - 9 shown
    assert not [a for a in found if a.level == "warning"]


def test_annotations_outside_the_workspace_keep_the_absolute_path() -> None:
    outcome = _with_cases(failing_outcome(n=6), 6)
    found = workflow_annotations(outcome, rootdir="/elsewhere", workspace="/repo")
    assert found[2].file == "/elsewhere/golden_sets/support.yaml"


def test_warned_budgets_are_warnings() -> None:
    outcome = failing_outcome(n=6)
    warned = tuple(replace(c, verdict="warn") for c in outcome.comparisons)
    found = workflow_annotations(replace(outcome, comparisons=warned * 8))
    warnings = [a for a in found if a.level == "warning"]
    assert len(warnings) == MAX_PER_LEVEL and "more warnings" in warnings[-1].title


def test_config_line_finds_the_budget(tmp_path: Path) -> None:
    config = tmp_path / "llmguard.yaml"
    config.write_text(
        "targets: {}\n"
        "budgets:\n"
        "  latency_p95_ms: {max_increase: '15%'}\n"
        "  by_tag:\n"
        "    billing:\n"
        "      error_rate: {max: 0.01}\n"
        "  error_rate: {max: 0.02}\n"
    )
    outcome = failing_outcome(n=6)
    by_metric: dict[str, Comparison] = {c.metric: c for c in outcome.comparisons}
    assert config_line(str(config), by_metric["latency_p95_ms"]) == 3
    assert config_line(str(config), by_metric["error_rate"]) == 6  # first mention wins
    billing = replace(
        by_metric["error_rate"],
        scope="tag:billing",
        budget=replace(by_metric["error_rate"].budget, scope="tag:billing"),
    )
    assert config_line(str(config), billing) == 6
    assert config_line(str(config), by_metric["check_pass_rate"]) == 2  # not written: budgets:
    assert config_line(str(tmp_path / "missing.yaml"), billing) is None


def test_the_step_summary_is_appended_and_bounded(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step output\n")
    assert append_step_summary(str(summary), failing_outcome(n=6)) is None
    text = summary.read_text()
    assert text.startswith("# earlier step output\n\n" + COMMENT_MARKER)
    summary.write_text("x" * (1_048_576 - 1_000))
    said = append_step_summary(str(summary), failing_outcome(n=6))
    assert said is not None and "full" in said
    assert summary.stat().st_size == 1_048_576 - 1_000


def test_publish_in_actions_writes_summary_and_annotations(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    done = publish(failing_outcome(n=6), PublishRequest(), env)
    assert summary.exists() and done.commands and not done.failed
    assert all(c.startswith(("::error ", "::warning ")) for c in done.commands)
    summary.unlink()
    quiet = publish(failing_outcome(n=6), PublishRequest(), {**env, "LLMGUARD_GITHUB": "0"})
    assert not summary.exists() and quiet.commands == () and quiet.lines == ()


def test_a_local_run_publishes_nothing_and_loads_no_renderer() -> None:
    """Outside GitHub, with no comment asked for, publishing imports nothing (issue #18)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from pytest_llmguard.publish import PublishRequest, publish\n"
        "from tests.report.outcomes import failing_outcome\n"
        "print(publish(failing_outcome(), PublishRequest(), {}))\n"
        "print(sorted(m for m in ('pytest_llmguard.publish.actions',"
        " 'pytest_llmguard.report.markdown') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    assert done.stdout.splitlines() == ["Published(lines=(), commands=(), failed=False)", "[]"]
