"""A run store in a folder: one JSON file per run, named ``NNNNN-YYYYMMDDTHHMMSSZ-COMMIT.json``.

The number orders runs (and is the run id); the date and the commit make a listing
readable and let a base-vs-head workflow find the run of a commit without opening files.
A number is claimed first (a hidden ``.NNNNN.claim`` file created exclusively: if another
process took it, the next number is tried), then the run is written atomically, so
concurrent runs never share or overwrite a number. A partial (interrupted) run gets
``.partial.json`` and is never picked as ``latest``. A run's attachments (compact forms
of it, e.g. the drift check's digest) are ``NNNNN-...-COMMIT.NAME.json`` beside it, written
before the run itself and removed with it. Files not named so are ignored.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from pytest_llmguard.atomic import make_dirs, write_atomic
from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.store.base import RunMeta, RunRef
from pytest_llmguard.store.runs import SavedRun, load_run

_NAME = re.compile(
    r"^(?P<id>\d{5,})-(?P<when>\d{8}T\d{6}Z)-(?P<commit>[0-9a-f]{7,40}|nogit)"
    r"(?P<partial>\.partial)?\.json$"
)
_ATTACHMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_ATTACHMENT = re.compile(
    r"^(?P<id>\d{5,})-\d{8}T\d{6}Z-(?:[0-9a-f]{7,40}|nogit)\.(?!partial\.)[a-z][a-z0-9_]*\.json$"
)
_CLAIM = re.compile(r"^\.(?P<id>\d{5,})\.claim$")
_COMMIT_REF = re.compile(r"^[0-9a-f]{7,40}$")
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
_ATTEMPTS = 100


def _stamp(started_at: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))


def _parse_stamp(text: str) -> float:
    import calendar

    return float(calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ")))


def _newest(runs: list[RunRef]) -> int:
    """The number of the newest run (an attachment newer than it may be a save in progress)."""
    return int(runs[-1].run_id) if runs else 0


class FileRunStore:
    """Saved runs as files in ``directory`` (created on the first save)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.location = str(self.directory)

    def runs(self) -> list[RunRef]:
        try:
            names = os.listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        refs = []
        for name in names:
            match = _NAME.match(name)
            if match is None:
                continue
            commit = match["commit"]
            refs.append(
                RunRef(
                    run_id=match["id"],
                    location=str(self.directory / name),
                    started_at=_parse_stamp(match["when"]),
                    commit=None if commit == "nogit" else commit,
                    partial=match["partial"] is not None,
                )
            )
        return sorted(refs, key=lambda r: (int(r.run_id), r.location))

    def _next_number(self) -> int:
        highest = 0
        for name in os.listdir(self.directory):
            claim = _CLAIM.match(name)
            run = _NAME.match(name)
            if claim is not None:
                highest = max(highest, int(claim["id"]))
            elif run is not None:
                highest = max(highest, int(run["id"]))
        return highest + 1

    def _claim(self) -> str:
        """A run number no other process has, reserved by an exclusive claim file."""
        number = self._next_number()
        for _ in range(_ATTEMPTS):
            run_id = f"{number:05d}"
            try:
                os.close(os.open(self.directory / f".{run_id}.claim", _EXCLUSIVE, 0o644))
            except FileExistsError:
                number += 1
                continue
            return run_id
        raise SavedRunError(f"could not find a free run number in {self.location}")

    def save(
        self, document: str, meta: RunMeta, *, attachments: Mapping[str, str] | None = None
    ) -> RunRef:
        for name in attachments or {}:
            if not _ATTACHMENT_NAME.match(name) or name == "partial":
                raise ValueError(f"not an attachment name: {name!r}")
        make_dirs(self.directory)
        commit = (meta.commit or "nogit")[:12].lower()
        if commit != "nogit" and not _COMMIT_REF.match(commit):
            commit = "nogit"  # never put an odd string into a file name
        suffix = ".partial.json" if meta.partial else ".json"
        run_id = self._claim()
        stem = f"{run_id}-{_stamp(meta.started_at)}-{commit}"
        path = self.directory / f"{stem}{suffix}"
        # Attachments first: a run that exists always has them (a crash in between
        # leaves an attachment without a run, which readers ignore and prune removes).
        for name, text in (attachments or {}).items():
            write_atomic(self.directory / f"{stem}.{name}.json", text, durable=True)
        write_atomic(path, document, durable=True)
        return RunRef(
            run_id,
            str(path),
            float(meta.started_at),
            None if commit == "nogit" else commit,
            meta.partial,
        )

    def rewrite(self, ref: RunRef, document: str, attachments: Mapping[str, str]) -> None:
        """Replace a stored run's document and attachments in place (erasure on request).

        Each file is replaced by one rename: a reader sees the old file or the new one.
        The attachments go first, as in ``save``, so they never hold what the run no longer does.
        """
        stem = Path(ref.location).name.removesuffix(".json").removesuffix(".partial")
        for name, text in attachments.items():
            if not _ATTACHMENT_NAME.match(name):
                raise ValueError(f"not an attachment name: {name!r}")
            write_atomic(self.directory / f"{stem}.{name}.json", text, durable=True)
        write_atomic(ref.location, document, durable=True)

    def remove(self, ref: RunRef) -> None:
        """Remove one run and its attachments (its claim stays: no number is reused)."""
        stem = Path(ref.location).name.removesuffix(".json").removesuffix(".partial")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ref.location)
        for name in os.listdir(self.directory):
            if name.startswith(stem + ".") and _ATTACHMENT.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.directory / name)

    def resolve(self, ref: str) -> RunRef:
        runs = self.runs()
        wanted = ref.strip().lower()
        if wanted == "latest":
            complete = [r for r in runs if not r.partial]
            if not complete:
                raise SavedRunError(
                    f"no saved run in {self.location} to use as 'latest'",
                    hint="save one with --llmguard-save (e.g. on the main branch)",
                )
            return complete[-1]
        if wanted.isdigit():
            for r in runs:
                if int(r.run_id) == int(wanted):
                    return r
        if _COMMIT_REF.match(wanted):
            found = [
                r
                for r in runs
                if r.commit
                and not r.partial
                and (r.commit.startswith(wanted) or wanted.startswith(r.commit))
            ]
            if found:
                return found[-1]
        known = ", ".join(r.run_id for r in runs[-5:]) or "none"
        raise SavedRunError(
            f"no saved run {ref!r} in {self.location}",
            hint=f"use 'latest', a run id or a commit; newest runs: {known}",
        )

    def attachment(self, ref: RunRef, name: str) -> bytes | None:
        if not _ATTACHMENT_NAME.match(name):
            raise ValueError(f"not an attachment name: {name!r}")
        stem = Path(ref.location).name.removesuffix(".json").removesuffix(".partial")
        try:
            return (self.directory / f"{stem}.{name}.json").read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def load(self, ref: str, *, allow_partial: bool = False) -> SavedRun:
        found = self.resolve(ref)
        return load_run(found.location, allow_partial=allow_partial, label=found.label)

    def prune(self, *, keep: int | None, max_age_days: float | None, now: float) -> list[RunRef]:
        runs = self.runs()
        doomed: list[RunRef] = []
        if keep is not None and len(runs) > keep:
            doomed.extend(runs[: len(runs) - keep])
        if max_age_days is not None:
            cutoff = now - max_age_days * 86400.0
            doomed.extend(r for r in runs if r.started_at < cutoff and r not in doomed)
        for r in doomed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(r.location)
        # Claims and attachments of removed runs go too (and attachments whose run never
        # got written); the newest run's claim stays, so no number is reused.
        removed = {r.run_id for r in doomed}
        gone = removed - {runs[-1].run_id if runs else ""}
        kept = {r.run_id for r in runs} - removed
        for name in os.listdir(self.directory) if runs or removed else ():
            claim = _CLAIM.match(name)
            attached = _ATTACHMENT.match(name)
            stale = (claim is not None and claim["id"] in gone) or (
                attached is not None
                and attached["id"] not in kept
                and int(attached["id"]) < _newest(runs)
            )
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.directory / name)
        return doomed
