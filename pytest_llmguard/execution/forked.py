"""Calls in a forked child, streamed to the items as they complete (see ``child``).

The child makes the calls and writes each observation to a pipe; the parent scores what
has arrived and runs each item as soon as its result is there, so the items no longer
wait for the last call. In a pure replay there is no network timing to disturb, so the
child scores too (in batches, off the items' core). Used only where ``allowed``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_llmguard.exceptions import EngineError
from pytest_llmguard.execution.base import ItemKey, KeptResults, unscored
from pytest_llmguard.execution.calls import CallWork, spend_notes
from pytest_llmguard.execution.child import CallChild, Emit, fork_allowed, run_interruptible
from pytest_llmguard.records import Case, Observation, ScoredObservation
from pytest_llmguard.runner import CallUnit
from pytest_llmguard.scoring import score_batch

SCORE_BATCH = 128  # observations a replaying call child scores at a time
STOP_WAIT_S = 15.0  # how long an interrupted run waits for the child's last results


def allowed(work: CallWork) -> bool:
    """Calls may stream from a forked child: safe here, and nothing needs the whole batch."""
    return not work.needs_whole_batch and fork_allowed()


class ForkedCalls(KeptResults):
    """The parent's side: receive, score and hand out what the child streams."""

    description = "in a forked child, while the items run"
    streams = True

    def __init__(self, work: CallWork) -> None:
        super().__init__()
        self.work = work
        self.notes = work.notes
        self.cases: dict[str, Case] = {c.key: c for c in work.cases}
        self._child: CallChild | None = None
        self._expected: Counter[ItemKey] = Counter()
        self._arrived: list[tuple[Case, Observation]] = []  # from the child, not scored yet
        self._own: list[ScoredObservation] = []

    @property
    def streaming(self) -> bool:
        return self._child is not None and not self._child.done

    def start(self, units: Sequence[CallUnit]) -> None:
        self._expected = Counter((u.case.key, u.target) for u in units)  # repeats per item
        self._child = CallChild.start(lambda emit: _child_calls(self.work, units, emit))

    def run_more(self, units: Sequence[CallUnit], round_index: int) -> None:
        raise EngineError("a forked call child cannot make adaptive rounds")

    def _take(self, message: Mapping[str, Any]) -> None:
        try:
            data = message.get("o")
            if data is not None:
                obs = Observation.from_dict(data)
                self._arrived.append((self.cases[obs.case_key], obs))
            scored = message.get("s")
            if scored is not None:
                self._keep([ScoredObservation.from_dict(scored)])
        except (KeyError, TypeError, ValueError) as exc:  # ends the stream like a failed child
            raise EngineError(f"the call process sent an unusable result: {exc}") from None

    def _keep(self, scored: Sequence[ScoredObservation]) -> None:
        self._own.extend(scored)
        self._index(scored)

    def _receive(self, *, until: ItemKey | None = None, stop: bool = False) -> None:
        """Take the child's results: until ``until`` has all of them, or every one; then
        score. ``stop`` (an interrupted run) asks the child to stop first, bounding the wait.
        """
        child = self._child
        if child is None:
            return
        if stop:
            child.interrupt()
        deadline = time.monotonic() + STOP_WAIT_S
        failed = False
        try:
            while not child.done:
                if until is not None and self._has_all(until):
                    break
                block_s = max(0.0, deadline - time.monotonic()) if stop else None
                got = False
                for message in child.messages(block=True, timeout_s=block_s):
                    self._take(message)
                    got = True
                if stop and not got and time.monotonic() > deadline:
                    break
        except EngineError as exc:  # the child failed or broke its output: keep what came
            self.failures.append(str(exc))
            self.notes.append(f"{exc}; cases without a result are reported as not called")
            failed = True
        finally:
            if self._arrived:
                arrived, self._arrived = self._arrived, []
                self._keep(self._scored([c for c, _ in arrived], [o for _, o in arrived]))
        if child.done or stop or failed:
            self._end_child(child)

    def _scored(
        self, cases: list[Case], observations: list[Observation]
    ) -> list[ScoredObservation]:
        try:
            return score_batch(cases, observations, self.work.config.quality)
        except Exception as exc:  # scoring broke as a whole: keep the calls, unscored
            why = f"scoring failed: {type(exc).__name__}: {exc}"
            if why not in self.failures:
                self.failures.append(why)
            return unscored(observations, why)

    def _has_all(self, key: ItemKey) -> bool:
        """Whether every planned repeat of ``key`` has arrived (kept or still to score)."""
        have = len(self._by_item.get(key, ()))
        if have < self._expected.get(key, 1):
            have += sum(1 for _, o in self._arrived if (o.case_key, o.target) == key)
        return have >= self._expected.get(key, 1)

    def _end_child(self, child: CallChild) -> None:
        child.reap()
        final = child.final
        if final is None:  # a crash (not an interrupt): the run is incomplete, and says why
            if not self.failures:
                why = f"the call process ended without finishing (exit status {child.exit_status})"
                self.failures.append(why)
                self.notes.append(f"{why}; cases without a result are reported as not called")
        else:
            self._seconds = float(final.get("seconds", 0.0))
            self.notes.extend(n for n in final.get("notes", ()) if n not in self.notes)
            self._interrupted = self._interrupted or bool(final.get("interrupted"))
        self._child = None

    def results_for(self, key: ItemKey) -> list[ScoredObservation]:
        if self._child is not None and not self._has_all(key):
            self._receive(until=key)
        return self._kept(key)

    def own_results(self) -> list[ScoredObservation]:
        self._receive()
        return list(self._own)

    def everything(self) -> list[ScoredObservation]:
        return self.own_results()

    def settle(self, *, stop: bool = False) -> None:
        self._receive(stop=stop)

    def close(self) -> None:
        """Never leave a call child behind (a session that ended without settling)."""
        child, self._child = self._child, None
        if child is not None:
            child.interrupt()
            child.reap(timeout_s=5.0)


def _child_calls(work: CallWork, units: Sequence[CallUnit], emit: Emit) -> dict[str, Any]:
    """In the forked child: make the calls, emit each observation as it completes."""
    t0 = time.perf_counter()
    replay = work.config.cache.mode == "replay"
    batch: list[tuple[Case, Observation]] = []

    def send_scored() -> None:
        if batch:
            scored = score_batch([c for c, _ in batch], [o for _, o in batch], work.config.quality)
            batch.clear()
            for one in scored:
                emit({"s": one.to_dict()})

    def on_observation(unit: CallUnit, obs: Observation) -> None:
        if not replay:
            emit({"o": obs.to_dict()})
            return
        batch.append((unit.case, obs))
        if len(batch) >= SCORE_BATCH:
            send_scored()

    with work.opened():
        engine = work.engine()
        # Ctrl-C cancels the calls; what completed was sent (or is in ``batch``)
        interrupted = run_interruptible(engine.run(units, on_observation))
    notes = spend_notes(engine, work.config)
    if interrupted:
        for _, obs in batch:  # the parent scores these
            emit({"o": obs.to_dict()})
    else:
        send_scored()
    return {"seconds": time.perf_counter() - t0, "notes": notes, "interrupted": interrupted}
