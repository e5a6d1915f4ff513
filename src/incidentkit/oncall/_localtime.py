"""Local wall-clock times to UTC instants, with incidentkit's DST rules.

Two rules, used by every rotation:

* a local time inside a spring-forward **gap** (it never happens on the wall
  clock) moves to the first instant that exists after the gap, i.e. the
  transition instant itself (02:30 on a New York spring-forward night becomes
  03:00 EDT; 02:15 on a Lord Howe spring-forward night becomes 02:30);
* an **ambiguous** local time (it happens twice when clocks fall back) takes
  its first occurrence (``fold=0``).

Both rules make the mapping from local time to instant monotone
(non-decreasing), which is what lets a rotation search its handoffs by local
time and correct by a step.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["exists", "resolve_local", "to_local_naive"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_local_naive(instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock reading of ``instant`` in ``zone``, without tzinfo."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def exists(naive: datetime, zone: ZoneInfo) -> bool:
    """True when the wall-clock time ``naive`` happens in ``zone`` (not in a gap)."""
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return to_local_naive(instant, zone) == naive


@functools.lru_cache(maxsize=4096)
def resolve_local(naive: datetime, zone: ZoneInfo) -> datetime:
    """Map a local wall-clock time to an aware UTC instant (gap → forward, fold → first).

    >>> from zoneinfo import ZoneInfo
    >>> ny = ZoneInfo("America/New_York")
    >>> resolve_local(datetime(2025, 3, 9, 2, 30), ny).isoformat()
    '2025-03-09T07:00:00+00:00'
    >>> resolve_local(datetime(2025, 11, 2, 1, 30), ny).isoformat()
    '2025-11-02T05:30:00+00:00'
    """
    naive = naive.replace(tzinfo=None, fold=0)
    before = zone.utcoffset(naive)
    after = zone.utcoffset(naive.replace(fold=1))
    if before is None or after is None:  # pragma: no cover - ZoneInfo always answers
        raise ValueError(f"{zone} gives no offset for {naive}")
    if after <= before:
        # Not in a gap: one offset, or an ambiguous time (fold=0 is the first occurrence).
        return (naive - before).replace(tzinfo=UTC)
    first = (naive - before).replace(tzinfo=UTC)
    # Inside a gap. fold=0 reads the time with the offset in force before the
    # transition, fold=1 with the offset after it; the transition lies between.
    # Find the first whole second whose wall-clock reading is at or after `naive`.
    other = (naive - after).replace(tzinfo=UTC)
    lo_dt, hi_dt = min(first, other), max(first, other)
    lo = math.floor((lo_dt - _EPOCH).total_seconds())
    hi = math.ceil((hi_dt - _EPOCH).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if to_local_naive(_EPOCH + timedelta(seconds=mid), zone) >= naive:
            hi = mid
        else:
            lo = mid + 1
    return _EPOCH + timedelta(seconds=lo)
