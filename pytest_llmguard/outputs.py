"""Where a run's files go: checked before the first call, each written whatever the others do.

A run pays for its calls before it writes anything, so a report path that cannot be
written (a file where a folder should be, ``/proc``, an existing directory, a read-only
cache folder) is found up front, as one usage error (exit code 4) that costs nothing.
At the end every report and the save are attempted one by one: a write that still fails
(a full disk) is reported, and never keeps the others from being written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.config import Config
from pytest_llmguard.config.overrides import Options
from pytest_llmguard.exceptions import OutputError
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.privacy.artefacts import redact_outcome
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.privacy.retention import enforce_retention
from pytest_llmguard.report import Amend, render_json, write_reports
from pytest_llmguard.store import RunMeta, RunStore


def write_problem(path: str | os.PathLike[str], *, folder: bool = False) -> str | None:
    """Why ``path`` (a file, or with ``folder`` a folder) could not be written, or None.

    Nothing is left behind: a folder that does not exist yet is not created, the nearest
    existing one is probed with a temporary file instead (permissions alone do not tell:
    root may write anywhere by mode, but not into ``/proc``).
    """
    target = Path(path)
    if target.exists() and target.is_dir() != folder:
        return "is a folder" if not folder else "is a file, not a folder"
    if target.exists() and not folder and not os.access(target, os.W_OK):
        return "is not writable"
    probe = target if folder and target.is_dir() else target.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:
        fd, name = tempfile.mkstemp(prefix=".llmguard-probe-", dir=probe)
    except OSError as exc:
        return f"cannot create files in {probe}: {exc.strerror or exc}"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def check_outputs(files: Mapping[str, str], folders: Mapping[str, str]) -> None:
    """OutputError naming every path (``what -> path``) that could not be written."""
    problems = [
        f"{what} {path}: {problem}"
        for what, path in files.items()
        if (problem := write_problem(path)) is not None
    ]
    problems += [
        f"{what} {path}: {problem}"
        for what, path in folders.items()
        if (problem := write_problem(path, folder=True)) is not None
    ]
    if problems:
        raise OutputError(
            "cannot write " + "; ".join(problems),
            hint="fix the path (or its permissions) before any call is made",
        )


def attempt(
    what: str, write: Callable[[], str | None], written: list[str], failed: list[str]
) -> None:
    """Run one write; its path goes to ``written``, or why it failed to ``failed``."""
    try:
        path = write()
    except (OSError, UnicodeError, ValueError) as exc:
        failed.append(f"{what}: {type(exc).__name__}: {exc}")
        return
    if path is not None:
        written.append(path)


class RunOutputs:
    """The files one run writes (reports, the saved run) and the folders it needs."""

    def __init__(
        self,
        config: Config,
        options: Options,
        store: RunStore,
        cache: ResponseCache,
        started: float,
        git: Mapping[str, str | None],
    ) -> None:
        self.config = config
        self.options = options
        self.store = store
        self.cache = cache
        self.started = started
        self.git = git
        self.redactor = Redactor.of(config.redact)

    def redact(self, outcome: Outcome) -> Outcome:
        """The outcome every report, save and post reads (``redact:``, privacy.artefacts)."""
        return redact_outcome(outcome, self.redactor)

    def report_paths(self) -> dict[str, str]:
        cfg = self.config.report
        paths = {
            "json": self.options.report_json or cfg.json,
            "markdown": self.options.report_markdown or cfg.markdown,
            "html": self.options.report_html or cfg.html,
        }
        root = Path(self.config.rootdir)
        return {k: os.fspath(root / v) for k, v in paths.items() if v}

    def check(self, *, retention: bool = False) -> None:
        """OutputError before the first call if any of them could not be written; with
        ``retention``, then the age and count limits of the cache and the run store (one
        process enforces them: the controller, not each xdist worker)."""
        files = {f"report.{kind}": path for kind, path in self.report_paths().items()}
        folders: dict[str, str] = {}
        if self.options.save_path is not None:
            files["--llmguard-save"] = self.options.save_path
        if self.options.save_to_store:
            folders["history.dir"] = self.store.location
        mode = self.cache.mode
        if mode in ("record", "refresh") or (mode == "replay" and self.cache.directory.is_file()):
            folders["cache.dir"] = os.fspath(self.cache.directory)
        check_outputs(files, folders)
        if retention:
            enforce_retention(self.config, self.store, self.cache, now=self.started)

    def write(self, outcome: Outcome, amend: Amend | None) -> Outcome:
        """Every report and the save, each attempted whatever happens to the others."""
        return self.write_documented(outcome, amend)[0]

    def write_documented(
        self, outcome: Outcome, amend: Amend | None, *, render: bool = False
    ) -> tuple[Outcome, str | None]:
        """``write``, and the JSON document it rendered (rendered even without a JSON
        report or a save with ``render``; None if the amendment broke it)."""
        paths = self.report_paths()
        failed: list[str] = []
        document = None
        saving = self.options.save_path is not None or self.options.save_to_store
        if "json" in paths or saving or render:
            try:
                document = render_json(outcome, amend)
            except Exception as exc:  # a hook's amendment, say: the Markdown still goes out
                failed.append(f"JSON report: {type(exc).__name__}: {exc}")
                paths.pop("json", None)
        written = write_reports(outcome, paths, document=document, failed=failed)
        if saving and document is not None:
            text, partial = document, not outcome.complete
            attempt("saved run", lambda: self._save(text, partial=partial), written, failed)
        written_outcome = replace(outcome, reports_written=tuple(written), unwritten=tuple(failed))
        return written_outcome, document

    def _save(self, document: str, *, partial: bool) -> str:
        """Save the run: into the run store, or to the file ``--llmguard-save`` named."""
        from pytest_llmguard.atomic import write_atomic

        path = self.options.save_path
        if path is None:
            meta = RunMeta(self.started, self.git.get("commit"), self.git.get("branch"), partial)
            ref = self.store.save(document + "\n", meta)
            history = self.config.history
            self.store.prune(keep=history.keep, max_age_days=history.max_age_days, now=time.time())
            return ref.location
        target = path + ".partial" if partial else path  # a partial run is never a baseline
        write_atomic(target, document + "\n", durable=True)
        return target
