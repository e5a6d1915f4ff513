"""Rotations: who holds a shift, handing off at a local wall-clock time.

A :class:`Rotation` hands a shift from one participant to the next at fixed
local times in an IANA zone: every N weeks on a weekday at a time (the
guide's "weekly rotation, Monday to Monday" is the default), every N days at
a time, every N hours, or at the occurrences of an RFC 5545 ``RRULE``.

Handoffs are counted on the local calendar, so they stay at the same wall
clock time across daylight saving changes; a weekly shift that spans a
change is 167 or 169 hours long. A local time inside a spring-forward gap
moves to the first instant after the gap; an ambiguous local time (clocks
falling back) takes its first occurrence.

The rotation's *start* is when it takes effect. Its handoff grid is anchored
at the last handoff at or before the start; the first participant holds the
shift that contains the start (so a rotation started on a Wednesday with a
Monday handoff gives the first participant a short first shift).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import PolicyError
from incidentkit.oncall._grid import FixedGrid, Grid, RRuleGrid, rrule_problem
from incidentkit.oncall._localtime import resolve_local, to_local_naive

__all__ = ["Every", "Rotation", "RotationShift", "Weekday"]


class Weekday(enum.StrEnum):
    """Day of the week a weekly rotation hands off on."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 for Monday … 6 for Sunday (as :meth:`datetime.date.weekday`)."""
        return list(Weekday).index(self)


class Every(enum.StrEnum):
    """The unit of a rotation's shift length (times :attr:`Rotation.interval`)."""

    WEEK = "week"
    DAY = "day"
    HOUR = "hour"


def _refuse(field: str, reason: str) -> PolicyError:
    return PolicyError([(f"$.{field}", reason)])


def _aware(field: str) -> Any:
    def check(_: object, __: attrs.Attribute[Any], value: datetime | None) -> None:
        if value is None:
            return
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise _refuse(field, "naive datetime; pass a timezone-aware value")

    return check


def _to_utc(value: datetime) -> datetime:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC)
    return value


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _to_utc_opt(value: datetime | None) -> datetime | None:
    return None if value is None else _to_utc(value)


@attrs.frozen
class RotationShift:
    """One shift of one rotation: handoff ``index`` to the next, clipped to the rotation."""

    index: int
    person: str
    start: datetime
    end: datetime


@attrs.frozen
class Rotation:
    """An ordered list of participants taking turns on a local-time handoff grid.

    :param participants: who takes turns, in order; the first holds the shift
        containing ``start``.
    :param start: when the rotation takes effect (aware).
    :param zone: the IANA zone handoff times are read in.
    :param every: the unit of the shift length (week, day, hour).
    :param interval: how many units one shift lasts (``every="day", interval=3``: 3 days).
    :param handoff_weekday: the handoff day for weekly shifts.
    :param handoff_time: the local handoff time (for hourly shifts, its minutes
        and seconds set the offset within the hour and its hour the phase).
    :param rrule: an RFC 5545 ``RRULE`` (``FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9``);
        when set, its occurrences are the handoffs and ``every``, ``interval``,
        ``handoff_weekday`` and ``handoff_time`` are ignored. ``start`` is its
        ``DTSTART`` (read in ``zone``); ``COUNT`` and ``UNTIL`` are refused (use ``end``).
    :param end: when the rotation stops (exclusive), or ``None``.
    :param name: an optional label.

    >>> from zoneinfo import ZoneInfo
    >>> r = Rotation(("ana", "bo"), datetime(2025, 3, 3, 9, tzinfo=ZoneInfo("Europe/London")),
    ...              ZoneInfo("Europe/London"))
    >>> r.holder(datetime(2025, 3, 31, 7, 59, tzinfo=UTC)).person   # 08:59 BST
    'bo'
    >>> shift = r.holder(datetime(2025, 3, 31, 8, tzinfo=UTC))   # 09:00 BST
    >>> shift.person, shift.start.isoformat()
    ('ana', '2025-03-31T08:00:00+00:00')
    """

    participants: tuple[str, ...] = attrs.field(converter=_names)
    start: datetime = attrs.field(converter=_to_utc, validator=_aware("start"))
    zone: ZoneInfo = attrs.field()
    every: Every = attrs.field(default=Every.WEEK, converter=Every)
    interval: int = 1
    handoff_weekday: Weekday = attrs.field(default=Weekday.MONDAY, converter=Weekday)
    handoff_time: time = time(9, 0)
    rrule: str | None = None
    end: datetime | None = attrs.field(default=None, converter=_to_utc_opt, validator=_aware("end"))
    name: str = ""
    _grid: Grid = attrs.field(init=False, repr=False, eq=False, hash=False)
    _last: tuple[int, datetime, datetime] | None = attrs.field(
        init=False, default=None, repr=False, eq=False, hash=False
    )

    @participants.validator
    def _check_participants(self, _: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        if not value:
            raise _refuse("participants", "a rotation needs at least one participant")
        for i, person in enumerate(value):
            if not isinstance(person, str) or not person.strip():
                raise _refuse(f"participants[{i}]", "a participant is a non-empty name")

    @zone.validator
    def _check_zone(self, _: attrs.Attribute[Any], value: ZoneInfo) -> None:
        if not isinstance(value, ZoneInfo):
            raise _refuse("zone", f"expected a zoneinfo.ZoneInfo, got {type(value).__name__}")

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.interval, int) or isinstance(self.interval, bool):
            raise _refuse("interval", "must be a whole number")
        if self.interval < 1:
            raise _refuse("interval", f"must be at least 1, got {self.interval}")
        if not isinstance(self.handoff_time, time) or self.handoff_time.tzinfo is not None:
            raise _refuse("handoff_time", "must be a local time of day without a zone ('09:00')")
        if self.end is not None and self.end <= self.start:
            raise _refuse("end", "must be after start")
        grid: Grid
        if self.rrule is not None:
            problem = rrule_problem(self.rrule)
            if problem is not None:
                raise _refuse("rrule", problem)
            grid = RRuleGrid(self.rrule, to_local_naive(self.start, self.zone))
        else:
            grid = self._fixed_grid()
        object.__setattr__(self, "_grid", grid)

    def _fixed_grid(self) -> FixedGrid:
        local = to_local_naive(self.start, self.zone)
        day = local.date()
        if self.every is Every.WEEK:
            step = timedelta(weeks=self.interval)
            day -= timedelta(days=(day.weekday() - self.handoff_weekday.number) % 7)
        elif self.every is Every.DAY:
            step = timedelta(days=self.interval)
        else:
            step = timedelta(hours=self.interval)
        base = datetime.combine(day, self.handoff_time.replace(tzinfo=None))
        anchor = base + ((local - base) // step) * step
        while resolve_local(anchor, self.zone) > self.start:
            anchor -= step
        return FixedGrid(anchor, step)

    @property
    def shift_length(self) -> str:
        """A short human description of the shift length."""
        if self.rrule is not None:
            return f"RRULE {self.rrule}"
        unit = self.every.value
        return f"every {unit}" if self.interval == 1 else f"every {self.interval} {unit}s"

    def handoff(self, k: int) -> datetime:
        """The UTC instant of handoff ``k`` (handoff 0 is at or before :attr:`start`)."""
        return resolve_local(self._grid.naive_at(k), self.zone)

    def index_at(self, at: datetime) -> int | None:
        """The index of the shift holding ``at``, or ``None`` outside ``[start, end)``.

        Constant time: an arithmetic estimate on the local calendar, corrected
        by at most a step or two at DST changes.
        """
        found = self.locate(ensure_aware(at, "at"))
        return None if found is None else found[0]

    def locate(self, at: datetime) -> tuple[int, datetime, datetime] | None:
        """``(k, start, end)`` of the shift holding the aware UTC instant ``at`` (clipped).

        The lookup behind :meth:`index_at` for callers that already hold a UTC
        instant. The last shift found is remembered, so repeated lookups inside
        one shift (the common case for a ticking service) cost a comparison.
        """
        last = self._last
        if last is not None and last[1] <= at < last[2]:
            return last
        if at < self.start or (self.end is not None and at >= self.end):
            return None
        k = max(0, self._grid.estimate(to_local_naive(at, self.zone)))
        here = self.handoff(k)
        while k > 0 and here > at:
            k -= 1
            here = self.handoff(k)
        after = self.handoff(k + 1)
        while after <= at:
            k += 1
            here, after = after, self.handoff(k + 1)
        if self.end is not None:
            after = min(after, self.end)
        found = (k, max(here, self.start), after)
        object.__setattr__(self, "_last", found)
        return found

    def shift(self, k: int) -> RotationShift:
        """Shift ``k``: ``participants[k % n]`` from handoff ``k`` to ``k + 1``, clipped."""
        start = max(self.handoff(k), self.start)
        end = self.handoff(k + 1)
        if self.end is not None:
            end = min(end, self.end)
        person = self.participants[k % len(self.participants)]
        return RotationShift(index=k, person=person, start=start, end=end)

    def holder(self, at: datetime) -> RotationShift | None:
        """The shift (and so the person) holding ``at``, or ``None`` outside the rotation."""
        found = self.locate(ensure_aware(at, "at"))
        if found is None:
            return None
        k, start, end = found
        return RotationShift(k, self.participants[k % len(self.participants)], start, end)

    def shifts(self, start: datetime, end: datetime) -> tuple[RotationShift, ...]:
        """Every non-empty shift overlapping ``[start, end)``, in order (not clipped)."""
        start = ensure_aware(start, "start")
        end = ensure_aware(end, "end")
        found: list[RotationShift] = []
        first = self.index_at(max(start, self.start))
        if first is None:
            return ()
        k = first
        while True:
            shift = self.shift(k)
            if shift.start >= end or (self.end is not None and shift.start >= self.end):
                break
            if shift.end > shift.start:
                found.append(shift)
            k += 1
        return tuple(found)
