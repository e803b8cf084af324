"""The run store: saved runs, baselines and the nightly history are the same thing.

``open_store`` picks the implementation for a location (a folder today; a URI scheme is
the place for others). ``load_saved`` reads a baseline given as a file path, or as a
reference into the store (``latest``, a run id, a commit).
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_llmguard.store.base import RunMeta, RunRef, RunStore
from pytest_llmguard.store.file import FileRunStore
from pytest_llmguard.store.runs import SavedRun, load_run, outcome_of, parse_run, read_document

__all__ = [
    "FileRunStore",
    "RunMeta",
    "RunRef",
    "RunStore",
    "SavedRun",
    "is_store_ref",
    "load_run",
    "load_saved",
    "open_store",
    "outcome_of",
    "parse_run",
    "read_document",
]


def open_store(location: str, rootdir: str = ".") -> RunStore:
    """The run store at ``location`` (a folder, relative to ``rootdir``; ``file://`` too)."""
    if location.startswith("file://"):
        location = location[len("file://") :]
    return FileRunStore(Path(rootdir) / location)


def is_store_ref(ref: str) -> bool:
    """Whether ``ref`` names a run in the store (``latest``, an id, a commit), not a file."""
    text = ref.strip()
    if os.sep in text or "/" in text or text.endswith(".json") or os.path.exists(text):
        return False
    return text == "latest" or text.isdigit() or all(c in "0123456789abcdef" for c in text.lower())


def load_saved(ref: str, store: RunStore, rootdir: str = ".") -> SavedRun:
    """A baseline: a saved run file (relative to the current folder, then ``rootdir``),
    or a reference into ``store``."""
    if is_store_ref(ref):
        return store.load(ref)
    path = ref
    if not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(rootdir, ref)
    return load_run(path, label=ref)
