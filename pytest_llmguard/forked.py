"""Calls in a forked child process, streamed back while pytest runs the items.

pytest runs items one after another on one core, and at loopback speeds the calls
themselves (HTTP, JSON, cache reads) are CPU work too. So, where it is safe, the engine
runs in a forked child that writes each observation to a pipe as it completes, one JSON
line each; the parent scores what has arrived and runs each item as soon as its result is
there. The two halves run on two cores: the items no longer wait for the last call.

Safe means: Linux (``fork`` without surprises), no other thread in this process (a fork
copies no threads, so locks they hold would stay held), and nothing that needs the whole
batch at once (the LLM judge, embeddings, adaptive rounds). ``LLMGUARD_FORK=0`` turns it
off. The child stops at its next write if the parent is gone (a broken pipe), and on
Ctrl-C (SIGINT reaches the whole process group) it sends what it has and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pytest_llmguard.exceptions import EngineError

Message = dict[str, Any]
Emit = Callable[[Message], None]
# The child's work: emits one message per observation, returns the final summary.
Work = Callable[[Emit], Mapping[str, Any]]

_READ = 1 << 20
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, which Python defines only from 3.10 on Linux


def fork_allowed() -> bool:
    """Whether forking a call child is safe here (see the module doc)."""
    return (
        sys.platform == "linux"
        and hasattr(os, "fork")
        and threading.active_count() == 1
        and os.environ.get("LLMGUARD_FORK", "1") != "0"
    )


class CallChild:
    """The parent's handle on a forked call child: its pid and the read end of its pipe."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._tail = b""
        self.final: Mapping[str, Any] | None = None  # the child's summary, once received
        self.exit_status: int | None = None
        self.eof = False

    @classmethod
    def start(cls, work: Work) -> CallChild:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _run_child(work, write_fd)
        os.close(write_fd)
        return cls(pid, read_fd)

    @property
    def done(self) -> bool:
        return self.eof

    def messages(self, *, block: bool, timeout_s: float | None = None) -> Iterator[Message]:
        """Every complete message available now (waiting for the first one if ``block``)."""
        if self.eof:
            return
        wait = None if block and timeout_s is None else (timeout_s if block else 0.0)
        readable, _, _ = select.select([self._fd], [], [], wait)
        if not readable:
            return
        chunk = os.read(self._fd, _READ)
        if not chunk:
            self._close()
            if self._tail:
                raise EngineError("the call process ended in the middle of a message")
            return
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            message: Message = json.loads(line)
            if "done" in message:
                self.final = message["done"]
            elif "failed" in message:
                raise EngineError(f"the call process failed: {message['failed']}")
            yield message

    def interrupt(self) -> None:
        """Ask a still-running child to stop (it sends what it has, then its summary)."""
        if not self.eof:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)

    def reap(self, timeout_s: float = 10.0) -> None:
        """Wait for the child to exit (killing it after ``timeout_s``); closes the pipe."""
        if self.exit_status is not None:
            return
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                _, status = os.waitpid(self.pid, 0)
                self.exit_status = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.005)  # the child is flushing its last lines and exiting
        self._close()

    def _close(self) -> None:
        if not self.eof:
            self.eof = True
            os.close(self._fd)


class _PipeWriter:
    """The child's end of the pipe, never blocking the event loop.

    If the parent is busy with slow items and the pipe is full, a blocking write would
    stall the child's event loop, and replies arriving meanwhile would be stamped late
    (reported as model latency). So inside a running loop the pipe is written without
    blocking and the rest is kept until the loop reports the pipe writable again.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = bytearray()
        self._watching: asyncio.AbstractEventLoop | None = None
        import fcntl  # POSIX only, like the fork itself

        with contextlib.suppress(OSError):  # a roomier pipe where Linux allows (1 MB)
            fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self.flush()
            self._write_blocking(data)
            return
        self._pending += data
        self._drain(loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while self._pending:
                written = os.write(self._fd, self._pending)
                del self._pending[:written]
        except BlockingIOError:
            pass
        if self._pending and self._watching is None:
            self._watching = loop
            loop.add_writer(self._fd, self._drain, loop)
        elif not self._pending and self._watching is not None:
            self._watching.remove_writer(self._fd)
            self._watching = None

    def flush(self) -> None:
        """Write whatever is still pending, blocking (outside the event loop)."""
        if self._watching is not None:
            with contextlib.suppress(Exception):  # the loop may be closed already
                self._watching.remove_writer(self._fd)
            self._watching = None
        data, self._pending = bytes(self._pending), bytearray()
        self._write_blocking(data)

    def _write_blocking(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                select.select([], [self._fd], [])  # wait until the parent reads


def _run_child(work: Work, write_fd: int) -> None:
    """The child's whole life: do the work, stream it, exit without running parent cleanup."""
    code = 0
    pipe = _PipeWriter(write_fd)

    def emit(message: Message) -> None:
        pipe.write((json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode())

    try:
        final = work(emit)
        emit({"done": dict(final)})
    except BrokenPipeError:
        code = 3  # the parent is gone: nobody to tell
    except KeyboardInterrupt:  # Ctrl-C before the work could catch it: stopped, nothing lost
        with contextlib.suppress(BaseException):
            pipe.flush()
            emit({"done": {"interrupted": True}})
    except BaseException as exc:  # anything else is reported to the parent, never lost
        code = 1
        with contextlib.suppress(BaseException):  # the pipe may be gone too
            pipe.flush()
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            emit({"failed": detail})
    finally:
        os._exit(code)
