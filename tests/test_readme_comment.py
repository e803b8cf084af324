"""The README's failing-gate PR comment is the tool's own rendering of a real run of the
example sets (scripts/readme_comment.py writes both), not text written by hand."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

from pytest_llmguard.config import load_config
from pytest_llmguard.config.overrides import Options, apply_options
from pytest_llmguard.golden import load_golden_sets
from pytest_llmguard.shards import inputs_digest

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    path = ROOT / "scripts" / "readme_comment.py"
    spec = importlib.util.spec_from_file_location("readme_comment", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_readme_shows_the_comment_the_tool_renders() -> None:
    script = _script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(script.START) + "\n(.*?)\n" + re.escape(script.END), readme, re.S)
    assert found, "the README lost its readme-comment markers"
    assert found.group(1) == script.readme_block(), "rerun: python scripts/readme_comment.py"
    assert "## ❌ llmguard: FAIL" in found.group(1) and "<del>" in found.group(1)


def test_the_saved_run_is_a_run_of_the_example_sets_as_they_are() -> None:
    script = _script()
    run = json.loads((ROOT / script.RUN).read_text(encoding="utf-8"))
    config, _ = apply_options(load_config(str(ROOT)), Options(targets=(script.OVERRIDE,)))
    expected = inputs_digest(config, load_golden_sets(config))
    assert run["run"]["inputs_digest"] == expected, (
        "the example sets or llmguard.yaml changed: rerun python scripts/readme_comment.py"
    )
    assert run["verdict"] == "fail"
    assert {t["model"] for t in run["targets"].values()} == {"sim-stable", "sim-regressed"}
