"""write_atomic: every artefact gets the mode the user's umask gives, not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.cache import ResponseCache, request_key
from pytest_llmguard.records import Observation


@pytest.fixture()
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("exclusive", [False, True])
def test_files_get_the_mode_of_the_umask(tmp_path: Path, umask_027: None, exclusive: bool) -> None:
    path = tmp_path / "report.md"
    write_atomic(path, "x", exclusive=exclusive)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    os.umask(0o022)
    write_atomic(path, "y", durable=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == "y"


def test_never_world_writable_even_with_umask_0(tmp_path: Path) -> None:
    """Artefacts hold prompts and outputs: a permissive umask still gives no one else write."""
    old = os.umask(0)
    try:
        path = tmp_path / "new" / "deeper" / "run.json"
        write_atomic(path, "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    for folder in (path.parent, path.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o775


def test_the_cache_packs_and_folder_are_never_world_writable(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        cache = ResponseCache(tmp_path / "cache" / "deeper", "record")
        cache.put(request_key({"x": 1}, 0), Observation("s::a", "t", 0, "m", "hi", 1.0))
        cache.close()
    finally:
        os.umask(old)
    (pack,) = (tmp_path / "cache" / "deeper").glob("*.pack")
    assert stat.S_IMODE(pack.stat().st_mode) == 0o664
    for folder in (pack.parent, pack.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o775
