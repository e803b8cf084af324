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
import collections
import contextlib
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterator, Mapping
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


def run_interruptible(main: Coroutine[Any, Any, object]) -> bool:
    """In a call child: run ``main``; a SIGINT cancels it. Returns True if it was cancelled.

    The child ignores SIGINT everywhere else, so Ctrl-C never lands in the middle of a
    write to the pipe (a half-written line); inside the event loop it becomes a clean
    cancellation of the calls, whose finished results were already sent.
    """

    async def cancellable() -> bool:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main)
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            return True
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return False

    return asyncio.run(cancellable())


class CallChild:
    """The parent's handle on a forked call child: its pid and the read end of its pipe."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._tail = b""
        self._lines: collections.deque[bytes] = collections.deque()  # read, not yet taken
        self._poll = select.poll()  # not select(): file descriptors may be >= 1024
        self._poll.register(fd, select.POLLIN)
        self.final: Mapping[str, Any] | None = None  # the child's summary, once received
        self.exit_status: int | None = None
        self.eof = False

    @classmethod
    def start(cls, work: Work) -> CallChild:
        read_fd, write_fd = os.pipe()
        # No Ctrl-C between the fork and the child's own handling of it: a KeyboardInterrupt
        # there would send the child back into pytest as a second session.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            raise
        if pid == 0:  # the child: never returns
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # see run_interruptible
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                os.close(read_fd)
                _run_child(work, write_fd)
            finally:
                os._exit(70)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        os.close(write_fd)
        return cls(pid, read_fd)

    @property
    def done(self) -> bool:
        return self.eof and not self._lines

    def messages(self, *, block: bool, timeout_s: float | None = None) -> Iterator[Message]:
        """Every complete message available now (waiting for the first one if ``block``).

        Lines are taken off a queue one at a time, so a Ctrl-C in the caller between two
        messages loses none of them. A broken line is an EngineError, like a failed child.
        """
        if not self._lines and not self.eof:
            wait = None if block and timeout_s is None else (timeout_s if block else 0.0)
            if self._poll.poll(None if wait is None else int(wait * 1000)):
                self._read()
        while self._lines:
            line = self._lines.popleft()
            try:
                message: Message = json.loads(line)
            except ValueError:
                raise EngineError("the call process sent a broken message") from None
            if "done" in message:
                self.final = message["done"]
            elif "failed" in message:
                raise EngineError(f"the call process failed: {message['failed']}")
            yield message

    def _read(self) -> None:
        chunk = os.read(self._fd, _READ)
        if not chunk:
            self._close()
            if self._tail:
                self._tail = b""
                raise EngineError("the call process ended in the middle of a message")
            return
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        self._lines.extend(lines)

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
        try:
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
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored, waitpid(-1)...)
            self.exit_status = -1
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
        except OSError:  # the parent is gone (broken pipe): nobody will read, stop now
            os._exit(3)
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
        poll = select.poll()
        poll.register(self._fd, select.POLLOUT)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                poll.poll()  # wait until the parent reads


def _run_child(work: Work, write_fd: int) -> None:
    """The child's whole life: do the work, stream it, exit without running parent cleanup."""
    code = 0
    pipe = _PipeWriter(write_fd)

    def emit(message: Message) -> None:
        # ASCII escapes: a lone surrogate in a model's output must not end the run here
        pipe.write((json.dumps(message, separators=(",", ":")) + "\n").encode())

    try:
        final = work(emit)
        emit({"done": dict(final)})
    except BrokenPipeError:
        code = 3  # the parent is gone: nobody to tell
    except KeyboardInterrupt:  # SIGINT is ignored outside run_interruptible; just in case
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
