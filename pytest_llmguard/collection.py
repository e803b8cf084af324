"""Which paths a ``pytest --llmguard`` run collects, and whether xdist workers are worth it.

Without explicit paths the configured golden sets are collected too. With ``-n N`` and
nothing but golden-set items selectable, the workers are declined: the calls are
network-bound and already concurrent in one process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmguard.golden import GoldenSet

DECLINED_KEY = pytest.StashKey[str]()


def add_golden_set_args(config: pytest.Config, golden_sets: tuple[GoldenSet, ...]) -> None:
    """Without explicit paths, `pytest --llmguard` also collects the configured golden sets."""
    roots = [Path(a.split("::")[0]).resolve() for a in config.args]
    for golden in golden_sets:
        path = (config.rootpath / golden.path).resolve()
        if not any(path == r or r in path.parents for r in roots):
            config.args.append(str(path))


def golden_sets_in_play(
    config: pytest.Config, golden_sets: tuple[GoldenSet, ...]
) -> list[GoldenSet]:
    """The golden sets the command line's paths cover (what pytest would collect, before
    ``-k``/``--lf`` narrow it); all of them when no path covers one (e.g. only the config
    file, or a budget's node id, was given)."""
    here = config.invocation_params.dir
    roots = [(here / a.split("::")[0]).resolve() for a in config.args]
    covered = [
        g
        for g in golden_sets
        if any(
            (path := (config.rootpath / g.path).resolve()) == r or r in path.parents for r in roots
        )
    ]
    return covered or list(golden_sets)


def only_golden_sets(config: pytest.Config, golden_sets: tuple[GoldenSet, ...]) -> bool:
    """Whether this run can select nothing but golden-set items (and so needs no workers).

    True with ``--llmguard-only``, or when every path given is a golden-set file (or a
    node in one) or a directory without any Python file, which pytest could collect.
    """
    if config.getoption("llmguard_only"):
        return True
    files = {(config.rootpath / g.path).resolve() for g in golden_sets}
    here = config.invocation_params.dir
    for arg in config.args:
        path = (here / arg.split("::")[0]).resolve()
        if path in files:
            continue
        if not path.is_dir() or _holds_python(path):
            return False
    return True


def _holds_python(directory: Path) -> bool:
    for _root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        if any(name.endswith(".py") for name in names):
            return True
    return False


def decline_workers(config: pytest.Config) -> None:
    """Run in this process instead of xdist workers (before xdist's own configure runs).

    Golden-set calls are network-bound and already concurrent in one asyncio loop; workers
    would only add start-up and a round trip per item (on 2 cores, 2,000 trivial tests
    take 2.3 x as long under ``-n 2``). Workers still run when ordinary tests are selected.
    """
    workers = len(config.getoption("tx") or ())
    config.option.dist = "no"
    config.option.tx = []
    config.option.numprocesses = 0
    config.stash[DECLINED_KEY] = (
        f"llmguard: -n {workers} not used: only golden-set items are selected, and their "
        "calls run concurrently in this process"
    )
