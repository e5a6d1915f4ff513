"""Bounded calls and retry backoff, shared by notifier delivery and mitigation actions.

The outbox relay calls each notifier (and each mitigation action) on its own,
through :func:`call_with_timeout` / :func:`run_with_timeout`, so that a hung
plugin is abandoned instead of blocking the caller, and it spaces retries with
:func:`retry_delay`. A notifier tells the relay how it failed by what it raises:

* :class:`~incidentkit.errors.PermanentFailure`: retrying cannot help (a 4xx,
  a refused recipient); the row is given up at once;
* :class:`~incidentkit.errors.TransientFailure`: retry later; ``retry_after``
  carries the server's ``Retry-After`` when it sent one;
* :class:`TimeoutError` (raised by :func:`call_with_timeout`) or any other
  exception: retry with backoff.

Public names are re-exported from :mod:`incidentkit.notify`.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from incidentkit.errors import ValidationError

__all__ = ["call_with_timeout", "retry_delay", "run_batch_with_timeouts", "run_with_timeout"]

T = TypeVar("T")


# -- bounded calls ------------------------------------------------------------------------------


class _Job:
    __slots__ = ("abandoned", "done", "error", "fn", "result")

    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.abandoned = False
        self.result: object = None
        self.error: BaseException | None = None


class _DaemonPool:
    """A small pool of daemon threads that grows when every worker is busy.

    ``concurrent.futures.ThreadPoolExecutor`` joins its (non-daemon) workers at
    interpreter exit, so one hung notifier would hang the host's shutdown. These
    workers are daemons: an abandoned call never keeps the process alive. Idle
    workers above ``keep`` exit after ``idle`` seconds; at most ``limit`` exist,
    after which jobs wait in the queue (and their callers time out).
    """

    def __init__(self, *, keep: int = 2, limit: int = 64, idle: float = 30.0) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = 0
        self._idle_workers = 0
        self._keep = keep
        self._limit = limit
        self._idle = idle

    def submit(self, job: _Job) -> None:
        with self._lock:
            spawn = self._idle_workers == 0 and self._workers < self._limit
            if spawn:
                self._workers += 1
            else:
                self._idle_workers -= 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name="incidentkit-delivery", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._idle)
            except queue.Empty:
                with self._lock:
                    if self._workers > self._keep and self._idle_workers > 0:
                        self._workers -= 1
                        self._idle_workers -= 1
                        return
                continue
            if not job.abandoned:
                try:
                    job.result = job.fn()
                except BaseException as err:  # handed back to the caller
                    job.error = err
            job.done.set()
            with self._lock:
                self._idle_workers += 1


_POOL = _DaemonPool()


def _seconds(timeout: timedelta, field: str = "timeout") -> float:
    if not isinstance(timeout, timedelta):
        raise ValidationError(field, f"expected a timedelta, got {type(timeout).__name__}")
    seconds = timeout.total_seconds()
    if seconds <= 0:
        raise ValidationError(field, "must be positive")
    return seconds


def run_with_timeout(fn: Callable[[], T], timeout: timedelta) -> T:
    """Run ``fn()`` on a pooled daemon thread and return its result within ``timeout``.

    Any exception ``fn`` raises is re-raised here unchanged.

    :raises TimeoutError: when ``fn`` has not returned in time; the call is
        abandoned (it may still finish in the background, its result dropped).
    :raises ValidationError: when ``timeout`` is not a positive timedelta.
    """
    seconds = _seconds(timeout)
    job = _Job(fn)
    _POOL.submit(job)
    if not job.done.wait(seconds):
        job.abandoned = True
        raise TimeoutError(f"call did not return within {seconds:g}s; abandoned")
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[return-value]


class _Batch:
    """Calls run one after another on one pooled thread; the caller reads each outcome."""

    def __init__(self, fns: Sequence[Callable[[], object]]) -> None:
        self.fns = fns
        self.outcomes: list[tuple[bool, object]] = []
        self.finished = threading.Condition()
        self.abandoned = False

    def run(self) -> None:
        for fn in self.fns:
            if self.abandoned:
                return
            try:
                outcome: tuple[bool, object] = (True, fn())
            except BaseException as err:  # handed back to the caller
                outcome = (False, err)
            with self.finished:
                if self.abandoned:
                    return  # the caller gave up on this call: its outcome is dropped
                self.outcomes.append(outcome)
                self.finished.notify()


def run_batch_with_timeouts(
    calls: Sequence[tuple[Callable[[], object], timedelta]],
) -> list[tuple[bool, object]]:
    """Run each ``fn`` within its own ``timeout``, in order, with one thread hop per batch.

    Returns, per call, ``(True, result)`` or ``(False, exception)``; a call
    still running after its timeout gets ``(False, TimeoutError(...))`` and is
    abandoned (as by :func:`run_with_timeout`), and the calls after it go on
    on another pooled thread. A call's time counts from the end of the one
    before it.

    :raises ValidationError: when a timeout is not a positive timedelta.
    """
    seconds = [_seconds(timeout) for _, timeout in calls]
    fns = [fn for fn, _ in calls]
    outcomes: list[tuple[bool, object]] = []
    while len(outcomes) < len(fns):
        start = len(outcomes)
        batch = _Batch(fns[start:])
        _POOL.submit(_Job(batch.run))
        for index in range(len(batch.fns)):
            limit = seconds[start + index]
            deadline = time.monotonic() + limit
            with batch.finished:
                while len(batch.outcomes) <= index:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    batch.finished.wait(remaining)
                if len(batch.outcomes) <= index:
                    batch.abandoned = True
                    timed_out = TimeoutError(f"call did not return within {limit:g}s; abandoned")
                    outcomes.append((False, timed_out))
                    break
                outcomes.append(batch.outcomes[index])
    return outcomes


def call_with_timeout(fn: Callable[[T], object], arg: T, timeout: timedelta) -> None:
    """Call ``fn(arg)`` (a notifier's ``deliver``) bounded by ``timeout``.

    The call runs on a small shared pool of daemon threads, so a notifier that
    never returns is abandoned and never blocks the caller or the interpreter's
    exit.

    >>> from datetime import timedelta
    >>> seen = []
    >>> call_with_timeout(seen.append, "page", timedelta(seconds=5))
    >>> seen
    ['page']

    Any exception the notifier raises is re-raised here unchanged.

    :raises TimeoutError: when the call has not returned within ``timeout``.
    """
    run_with_timeout(lambda: fn(arg), timeout)


# -- backoff ------------------------------------------------------------------------------------


def retry_delay(
    attempt: int,
    *,
    base: timedelta = timedelta(seconds=5),
    cap: timedelta = timedelta(minutes=10),
    rng: random.Random,
) -> timedelta:
    """How long to wait after failed ``attempt`` (1 for the first) before the next one.

    Exponential backoff with **full jitter**: a delay drawn uniformly from
    ``[0, min(cap, base * 2 ** (attempt - 1))]``. Full jitter spreads the
    retries of many replicas that failed together (the "thundering herd"
    after a receiver's outage) better than equal or no jitter, and needs no
    state between attempts. When the receiver sent ``Retry-After``
    (:attr:`~incidentkit.errors.TransientFailure.retry_after`), wait the larger of the two.

    ``rng`` is explicit so tests and simulations are reproducible.

    >>> import random
    >>> from datetime import timedelta
    >>> rng = random.Random(7)
    >>> all(retry_delay(n, rng=rng) <= timedelta(seconds=5 * 2 ** (n - 1)) for n in (1, 2, 3))
    True
    >>> retry_delay(50, rng=rng) <= timedelta(minutes=10)
    True

    :raises ValidationError: when ``attempt`` < 1 or ``base``/``cap`` are not positive.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValidationError("attempt", f"must be an integer >= 1, got {attempt!r}")
    base_s = _seconds(base, "base")
    cap_s = _seconds(cap, "cap")
    # 2 ** 64 is far beyond any cap; clamp the exponent so huge attempts cannot overflow.
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 64))
    return timedelta(seconds=rng.uniform(0.0, ceiling))
