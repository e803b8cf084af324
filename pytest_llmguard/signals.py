"""SIGTERM is handled like Ctrl-C: partial reports, a ``.partial`` save, nothing left behind.

``timeout``, Docker (``docker stop``) and Kubernetes end a job with SIGTERM, and only to
the main process; Python's default then ends it on the spot, with no report at all.
While a run is on, SIGTERM raises KeyboardInterrupt instead, so pytest ends the session
as interrupted (exit code 2) and the plugin writes what it has. A second SIGTERM ends
the process at once, as the default would.

Under xdist only the controller gets the signal: ``forward`` passes it on to the workers
as SIGINT (what Ctrl-C sends to a whole terminal group), so each publishes what it has.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

Previous = Any  # what signal.signal returned: a handler, SIG_DFL, SIG_IGN or None


def treat_sigterm_as_interrupt(forward: Callable[[], None] | None = None) -> Previous:
    """Install the handler (main thread only); returns the previous one, for ``restore``."""

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process
        if forward is not None:
            with contextlib.suppress(Exception):  # best effort: the interrupt must happen
                forward()
        raise KeyboardInterrupt("SIGTERM")

    try:
        return signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (an embedding application): leave it alone
        return None


def restore(previous: Previous) -> None:
    if previous is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)


def interrupt_workers(run_dir: str) -> None:
    """SIGINT to every xdist worker that claimed a partition in ``run_dir`` (its pid is in
    its claim file), as a terminal's Ctrl-C would."""
    for path in Path(run_dir).glob("alive-gw*.lock"):
        try:
            pid = int(path.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            continue
        if pid > 0 and pid != os.getpid():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGINT)
