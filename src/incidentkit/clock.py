"""Clocks: where incidentkit gets "now" from.

The core never reads the wall clock. :class:`SystemClock` serves production;
:class:`ManualClock` serves tests, drills and simulations.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from incidentkit._time import ensure_aware, utc_now
from incidentkit.errors import ValidationError

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the system time in UTC."""
        return utc_now()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to.

    >>> from datetime import datetime, timedelta, timezone
    >>> clock = ManualClock(datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc))
    >>> clock.advance(timedelta(minutes=5)).isoformat()
    '2024-11-20T22:35:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the clock's current instant."""
        with self._lock:
            return self._now

    def set(self, value: datetime) -> datetime:
        """Move the clock to ``value`` (forward or back) and return it."""
        aware = ensure_aware(value, "value")
        with self._lock:
            self._now = aware
        return aware

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new instant."""
        if not isinstance(delta, timedelta):
            raise ValidationError("delta", f"expected a timedelta, got {type(delta).__name__}")
        if delta < timedelta(0):
            raise ValidationError("delta", "cannot advance by a negative duration")
        with self._lock:
            self._now = self._now + delta
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
