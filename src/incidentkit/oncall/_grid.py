"""Handoff grids: the local wall-clock times at which a rotation hands off.

A grid numbers its handoffs ``0, 1, 2, …`` and answers two questions in
constant time (no iteration from the rotation's start):

* :meth:`naive_at` — the local wall-clock time of handoff ``k``;
* :meth:`estimate` — the largest ``k`` whose local time is at or before a
  given local time.

Local times are naive; :mod:`incidentkit.oncall._localtime` turns them into
instants. Two kinds exist: a fixed step (N hours, N days, N weeks, counted on
the local calendar) and an RFC 5545 recurrence rule, indexed through one
repeating cycle of its occurrences.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta
from typing import Protocol

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from incidentkit.errors import PolicyError

__all__ = ["FixedGrid", "Grid", "RRuleGrid", "rrule_problem"]

_MAX_CYCLE_OCCURRENCES = 20_000
_GREGORIAN_CYCLE_DAYS = 146_097  # 400 years; weekdays and leap days repeat exactly
_CALENDAR_PARTS = frozenset({"BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYEASTER"})
_WEEKDAY_PARTS = frozenset({"BYDAY", "BYWEEKDAY"})
_FORBIDDEN_PARTS = {
    "COUNT": "use the rotation's end instead of COUNT",
    "UNTIL": "use the rotation's end instead of UNTIL",
    "DTSTART": "the rotation's start is the rule's DTSTART",
}
_FREQ_UNIT = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1), "WEEKLY": timedelta(days=7)}


class Grid(Protocol):
    """What a rotation needs from its handoff grid."""

    def naive_at(self, k: int) -> datetime:
        """Local wall-clock time of handoff ``k``."""
        ...

    def estimate(self, local: datetime) -> int:
        """Largest ``k`` with ``naive_at(k) <= local``."""
        ...


class FixedGrid:
    """Handoffs every ``step`` of local calendar time from ``anchor``."""

    __slots__ = ("anchor", "step")

    def __init__(self, anchor: datetime, step: timedelta) -> None:
        self.anchor = anchor
        self.step = step

    def naive_at(self, k: int) -> datetime:
        return self.anchor + k * self.step

    def estimate(self, local: datetime) -> int:
        return (local - self.anchor) // self.step


def _parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    found: dict[str, str] = {}
    for chunk in body.split(";"):
        if not chunk.strip():
            continue
        key, sep, value = chunk.partition("=")
        if not sep:
            raise ValueError(f"not KEY=VALUE: {chunk!r}")
        found[key.strip().upper()] = value.strip().upper()
    return found


def rrule_problem(text: str) -> str | None:
    """Why ``text`` cannot drive a rotation, or ``None`` when it can (structure only)."""
    if "\n" in text.strip():
        return "give a single RRULE line; the rotation's start is its DTSTART"
    try:
        parts = _parts(text)
    except ValueError as err:
        return f"not an RRULE: {err}"
    for key, why in _FORBIDDEN_PARTS.items():
        if key in parts:
            return why
    freq = parts.get("FREQ")
    if freq is None:
        return "FREQ is required"
    if freq in ("SECONDLY", "MINUTELY"):
        return f"FREQ={freq} is too fine for a rotation; use HOURLY or coarser"
    if freq not in ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        return f"unknown FREQ {freq!r}"
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or int(interval) < 1:
        return f"INTERVAL must be a positive integer, got {interval!r}"
    try:
        rrulestr(text.strip(), dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as err:
        return f"not an RRULE: {err}"
    return None


class RRuleGrid:
    """Handoffs at the occurrences of a recurrence rule, indexed through one cycle.

    The occurrences of a rule without ``COUNT``/``UNTIL`` repeat with a period:
    ``INTERVAL`` × the ``FREQ`` unit for hourly/daily/weekly rules (widened to
    whole weeks when ``BYDAY`` filters them), and a whole number of 400-year
    Gregorian cycles when the rule depends on the calendar (monthly, yearly,
    ``BYMONTH``, ``BYMONTHDAY`` …). The occurrences of the first cycle are
    enumerated once; handoff ``k`` is then occurrence ``k mod n`` of cycle
    ``k // n``, and finding the handoff before a time is a division plus a
    binary search. When the rule's first occurrence is later than ``dtstart``,
    ``dtstart`` itself is handoff 0 (the first participant starts at once).
    """

    __slots__ = ("_cycle_years", "_lead", "_period", "dtstart", "occurrences")

    def __init__(self, text: str, dtstart: datetime) -> None:
        problem = rrule_problem(text)
        if problem is not None:
            raise PolicyError([("$.rrule", problem)])
        parts = _parts(text)
        freq = parts["FREQ"]
        interval = int(parts.get("INTERVAL", "1"))
        # dateutil's rrule drops microseconds from dtstart; index from the same instant.
        dtstart = dtstart.replace(microsecond=0)
        self.dtstart = dtstart
        self._period: timedelta | None = None
        self._cycle_years = 0
        calendar = freq in ("MONTHLY", "YEARLY") or bool(_CALENDAR_PARTS & parts.keys())
        if not calendar:
            hours = interval * int(_FREQ_UNIT[freq] / timedelta(hours=1))
            if freq != "WEEKLY" and _WEEKDAY_PARTS & parts.keys():
                hours = math.lcm(hours, 168)
            self._period = timedelta(hours=hours)
        elif freq == "MONTHLY":
            self._cycle_years = math.lcm(interval, 4800) // 12
        elif freq == "YEARLY":
            self._cycle_years = math.lcm(interval, 400)
        else:
            hours = interval * int(_FREQ_UNIT[freq] / timedelta(hours=1))
            cycle_hours = _GREGORIAN_CYCLE_DAYS * 24
            self._cycle_years = 400 * (math.lcm(hours, cycle_hours) // cycle_hours)
        if calendar and dtstart.year + 2 * self._cycle_years > 9999:
            raise PolicyError(
                [("$.rrule", f"the rule repeats only every {self._cycle_years} years")]
            )
        rule = rrulestr(text.strip(), dtstart=dtstart)
        limit = self._shift(dtstart, 2)
        both: list[datetime] = []
        for occurrence in rule:
            if occurrence >= limit:
                break
            both.append(occurrence)
            if len(both) > 2 * _MAX_CYCLE_OCCURRENCES:
                raise PolicyError(
                    [
                        (
                            "$.rrule",
                            f"more than {_MAX_CYCLE_OCCURRENCES} handoffs per repeating cycle",
                        )
                    ]
                )
        boundary = self._shift(dtstart, 1)
        first = [o for o in both if o < boundary]
        second = [o for o in both if o >= boundary]
        if not first:
            raise PolicyError([("$.rrule", "the rule yields no handoffs")])
        if [self._shift(o, 1) for o in first] != second:
            raise PolicyError([("$.rrule", "the rule does not repeat regularly; cannot index it")])
        self._lead = first[0] != dtstart
        self.occurrences: tuple[datetime, ...] = (dtstart, *first) if self._lead else tuple(first)

    def _shift(self, value: datetime, cycles: int) -> datetime:
        if self._period is not None:
            return value + cycles * self._period
        return value + relativedelta(years=cycles * self._cycle_years)

    def _cycles_before(self, local: datetime) -> int:
        if self._period is not None:
            return (local - self.dtstart) // self._period
        guess = (local.year - self.dtstart.year) // self._cycle_years
        while self._shift(self.dtstart, guess) > local:
            guess -= 1
        while self._shift(self.dtstart, guess + 1) <= local:
            guess += 1
        return guess

    def _per_cycle(self) -> int:
        return len(self.occurrences) - (1 if self._lead else 0)

    def naive_at(self, k: int) -> datetime:
        if self._lead:
            if k == 0:
                return self.dtstart
            k -= 1
        n = self._per_cycle()
        cycle, i = divmod(k, n)
        base = self.occurrences[1:] if self._lead else self.occurrences
        return self._shift(base[i], cycle)

    def estimate(self, local: datetime) -> int:
        if local < self.dtstart:
            return -1
        base = self.occurrences[1:] if self._lead else self.occurrences
        cycle = self._cycles_before(local)
        offset = bisect.bisect_right(base, self._shift(local, -cycle)) - 1
        k = cycle * len(base) + offset
        return max(k + (1 if self._lead else 0), 0)
