"""The README keeps its promises: every config key documented, its examples what a user
sees, its recipes working as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _keys(node: dict[str, Any], defs: dict[str, Any], path: str, out: set[str]) -> None:
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    for name, child in node.get("properties", {}).items():
        out.add(f"{path}{name}")
        _keys(child, defs, f"{path}{name}.", out)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and ("$ref" in extra or "properties" in extra):
        _keys(extra, defs, f"{path}NAME.", out)


def test_every_config_key_is_documented() -> None:
    schema = json.loads((ROOT / "pytest_llmguard" / "schemas" / "config.schema.json").read_text())
    keys: set[str] = set()
    _keys(schema, schema.get("$defs", {}), "", keys)
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") : readme.index("## Golden sets")]
    missing = []
    for key in sorted(keys):
        leaf = key.rsplit(".", 1)[-1]
        # documented: in backticks whole, as the start of a longer key, or as its last part
        forms = (f"`{key}`", f"`{key}.", f".{leaf}`", f"`{leaf}`")
        if not any(form in section for form in forms):
            missing.append(key)
    assert not missing, f"config keys missing from README#configuration: {missing}"
    assert len(keys) > 40


def _block_after(heading: str, lead: str) -> list[str]:
    """The lines of the first code block after ``lead`` in the section ``heading``."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading) :]
    start = section.index("```", section.index(lead))
    body = section[section.index("\n", start) + 1 : section.index("```", start + 3)]
    return body.rstrip("\n").splitlines()


def test_the_config_error_example_is_what_a_user_sees(pytester: pytest.Pytester) -> None:
    """README#configuration shows the error for `mode` misspelt in `llmguard init`'s config."""
    from pytest_llmguard.cli import main

    assert main(["init", str(pytester.path)]) == 0
    config = pytester.path / "llmguard.yaml"
    config.write_text(config.read_text().replace("mode: record", "mdoe: record"))
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    shown = [line for line in result.stderr.lines if line.strip()]
    assert shown == _block_after("## Configuration", "exit code 4:")


def test_the_at_your_desk_recipe_works_as_written(pytester: pytest.Pytester) -> None:
    """`provider: sim` without base_url (what init writes): the second run is all cache."""
    from pytest_llmguard.cli import main

    readme = (ROOT / "README.md").read_text()
    assert "`pytest --llmguard -k refund` while changing a prompt;" in readme
    assert "`--llmguard-cache=record` makes the second run instant" in readme
    assert main(["init", str(pytester.path)]) == 0
    first = pytester.runpytest("--llmguard", "-k", "refund", "--llmguard-cache=record")
    first.assert_outcomes(passed=2, deselected=14)
    second = pytester.runpytest("--llmguard", "-k", "refund", "--llmguard-cache=record")
    second.assert_outcomes(passed=2, deselected=14)
    second.stdout.fnmatch_lines(["0 calls made; 2 of 2 responses came from the cache*"])


def test_pytest_llmguard_in_this_repository_without_the_dev_extras(tmp_path: Path) -> None:
    """After the quick start's `pip install -e .`, `pytest --llmguard` in the repository's
    root runs the golden sets instead of failing on the test suite's dev-only imports."""
    fake = tmp_path / "site" / "hypothesis"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed (simulated)')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--llmguard",
            "-p",
            "no:hypothesispytest",  # installed here; absent after the quick start's install
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--llmguard-report-json",
            str(tmp_path / "report.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "tests/ not collected: the project's own tests need the dev extras" in result.stdout
    assert "llmguard verdict: PASS" in result.stdout
