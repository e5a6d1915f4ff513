"""Test doubles: a capturing notifier and a recording mitigation action.

Both are ordinary plugin objects; hand them to the kit like any built-in.
They are thread-safe, because the kit's relay calls notifiers from worker
threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import attrs

from incidentkit.errors import PermanentFailure, TransientFailure
from incidentkit.mitigation import (
    ActionPlugin,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
)
from incidentkit.notify import Notification, NotificationKind, NotifierPlugin

__all__ = ["CapturingNotifier", "RecordedCall", "RecordingAction", "RecordingParams"]


class CapturingNotifier(NotifierPlugin):
    """A notifier that records what it delivered, and can misbehave on request.

    * ``fail_times=N``: the first N attempts raise :class:`TransientFailure`
      (``retry_after`` set when given), later ones succeed;
    * ``permanent=True``: every attempt raises :class:`PermanentFailure`;
    * ``hang=timedelta(...)``: each attempt blocks that long before
      delivering (release early with :meth:`release`), to exercise timeouts.

    :attr:`attempts` counts every call; :attr:`delivered` lists the
    notifications that succeeded, duplicates included, in order.

    >>> from datetime import datetime, timezone
    >>> from incidentkit.testing import sample_notification
    >>> capture = CapturingNotifier(fail_times=1)
    >>> note = sample_notification()
    >>> try:
    ...     capture.deliver(note)
    ... except Exception as err:
    ...     type(err).__name__
    'TransientFailure'
    >>> capture.deliver(note)
    >>> capture.attempts, capture.keys()
    (2, ['INC-1:1:page'])
    """

    def __init__(
        self,
        name: str = "capture",
        *,
        fail_times: int = 0,
        permanent: bool = False,
        hang: timedelta | None = None,
        retry_after: timedelta | None = None,
        kinds: Iterable[NotificationKind | str] = (),
        timeout: timedelta = timedelta(seconds=10),
        max_attempts: int = 8,
        audiences: Iterable[str] = (),
    ) -> None:
        super().__init__(
            name=name, kinds=kinds, timeout=timeout, max_attempts=max_attempts, audiences=audiences
        )
        self.fail_times = fail_times
        self.permanent = permanent
        self.hang = hang
        self.retry_after = retry_after
        self._lock = threading.Condition()
        self._released = threading.Event()
        self._attempts = 0
        self._delivered: list[Notification] = []

    def deliver(self, notification: Notification) -> None:
        """Record ``notification`` (or fail or hang as configured)."""
        with self._lock:
            self._attempts += 1
            attempt = self._attempts
        if self.permanent:
            raise PermanentFailure(f"{self.name}: permanent failure (attempt {attempt})")
        if attempt <= self.fail_times:
            raise TransientFailure(
                f"{self.name}: failure {attempt} of {self.fail_times}",
                retry_after=self.retry_after,
            )
        if self.hang is not None:
            self._released.wait(self.hang.total_seconds())
        with self._lock:
            self._delivered.append(notification)
            self._lock.notify_all()

    def release(self) -> None:
        """End every current and future hang at once (for test teardown)."""
        self._released.set()

    @property
    def attempts(self) -> int:
        """Every call so far, failed or not."""
        with self._lock:
            return self._attempts

    @property
    def delivered(self) -> list[Notification]:
        """The notifications delivered so far (a copy), duplicates included."""
        with self._lock:
            return list(self._delivered)

    def keys(self) -> list[str]:
        """The idempotency keys delivered, in order, duplicates included."""
        return [n.key for n in self.delivered]

    def unique_keys(self) -> set[str]:
        """The distinct keys delivered (what a deduplicating receiver would keep)."""
        return set(self.keys())

    def wait_for(self, count: int, timeout: timedelta = timedelta(seconds=5)) -> bool:
        """Block until at least ``count`` deliveries happened; False when ``timeout`` passed."""
        with self._lock:
            return self._lock.wait_for(
                lambda: len(self._delivered) >= count, timeout.total_seconds()
            )

    def clear(self) -> None:
        """Forget attempts and deliveries."""
        with self._lock:
            self._attempts = 0
            self._delivered.clear()


@attrs.frozen
class RecordingParams:
    """Parameters of :class:`RecordingAction`: a free-text ``note`` and a ``count``."""

    note: str = ""
    count: int = 1


@attrs.frozen
class RecordedCall:
    """One call :class:`RecordingAction` received."""

    context: MitigationContext
    params: Any


class RecordingAction(ActionPlugin):
    """A mitigation action that records its calls and returns ``outcome``.

    ``error`` makes every call raise it instead (to test failure handling);
    ``params_type`` may be replaced by any attrs class.
    """

    description = "Record the call (a test double)."

    def __init__(
        self,
        name: str = "record",
        *,
        outcome: MitigationOutcome = MitigationOutcome.APPLIED,
        error: Exception | None = None,
        params_type: type[Any] = RecordingParams,
        hang: timedelta | None = None,
        timeout: timedelta = timedelta(seconds=10),
        verify: Any = None,
    ) -> None:
        super().__init__(name=name, timeout=timeout, verify=verify)
        self.params_type = params_type
        self.outcome = outcome
        self.error = error
        self.hang = hang
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []

    def execute(self, context: MitigationContext, params: Any) -> MitigationResult:
        """Record the call; raise ``error`` or return a result with ``outcome``."""
        with self._lock:
            self._calls.append(RecordedCall(context, params))
        if self.hang is not None:
            threading.Event().wait(self.hang.total_seconds())
        if self.error is not None:
            raise self.error
        return MitigationResult(self.outcome, f"{self.name} recorded {params!r}")

    @property
    def calls(self) -> list[RecordedCall]:
        """The calls received so far (a copy)."""
        with self._lock:
            return list(self._calls)
