"""Uptime and SLA accounting from component-status intervals (time, not check counts).

The rules (wave2-specs §2.2), each answering a complaint about other tools:

* a **weight table** says what fraction of a minute in each status is down
  (:data:`~incidentkit.status.config.DEFAULT_WEIGHTS`: incident.io's rule,
  partial outage 1.0 and degraded 0; Instatus counts partial as 0.3);
* **overlapping intervals are merged**: at each instant a component is in
  the worst status any of its incidents gives it, so two overlapping
  outages are never counted twice;
* **maintenance is excluded** from the denominator by default (``"up"``
  counts it as up);
* the window is **clipped to the component's start date**, and with no
  tracked time the uptime is ``None``, never 0 or 100;
* **day bars** begin at local midnight in a named zone, so a day with a
  daylight-saving change has 23 or 25 hours.

Every function is pure.

>>> from datetime import datetime, timezone
>>> at = lambda h, m: datetime(2024, 1, 1, h, m, tzinfo=timezone.utc)
>>> found = uptime(
...     [Interval(at(9, 10), at(9, 40), ComponentStatus.DEGRADED_PERFORMANCE),
...      Interval(at(9, 40), at(10, 0), ComponentStatus.MAJOR_OUTAGE)],
...     at(9, 0), at(10, 0))
>>> round(found.percent, 2), found.down
(66.67, datetime.timedelta(seconds=1200))
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
from incidentkit.status.config import SlaTarget, UptimeConfig
from incidentkit.status.model import ComponentMark, ComponentStatus

__all__ = [
    "WINDOWS",
    "DayBar",
    "Interval",
    "SlaResult",
    "UptimeResult",
    "day_bars",
    "intervals_from_marks",
    "merge",
    "month_bounds",
    "sla_result",
    "uptime",
    "window_bounds",
]

WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
"""The rolling windows by name."""

_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}
_BY_RANK = sorted(_RANK, key=_RANK.__getitem__)


def _utc(value: object, field: str = "start") -> datetime:
    return ensure_aware(value, field).astimezone(UTC)


def _utc_start(value: object) -> datetime:
    return _utc(value, "start")


def _utc_end(value: object) -> datetime:
    return _utc(value, "end")


def _ordered(interval: Interval, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    ensure_aware(value, attribute.name)
    if value < interval.start:
        raise ValidationError(
            "end", f"{value.isoformat()} is before start {interval.start.isoformat()}"
        )


@attrs.frozen
class Interval:
    """``component`` in ``status`` from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: datetime = attrs.field(converter=_utc_start)
    end: datetime = attrs.field(converter=_utc_end, validator=_ordered)
    status: ComponentStatus = attrs.field(converter=ComponentStatus)


@attrs.frozen
class UptimeResult:
    """Uptime over ``[start, end)``: ``percent`` is ``None`` when no time was tracked.

    ``tracked`` is the denominator (the window after clipping to the start
    date, less maintenance when it is excluded); ``down`` the weighted downtime.
    """

    start: datetime
    end: datetime
    percent: float | None
    down: timedelta
    tracked: timedelta
    maintenance: timedelta


@attrs.frozen
class DayBar:
    """One local day's uptime (a status page's 90 bars)."""

    day: date
    result: UptimeResult


@attrs.frozen
class SlaResult:
    """An SLA target checked against one period's uptime.

    ``met`` is ``None`` without data; ``budget`` is the downtime the target
    allows over the tracked time, ``remaining`` what is left of it (negative
    once breached).
    """

    target: float
    period_start: datetime
    period_end: datetime
    percent: float | None
    met: bool | None
    budget: timedelta
    remaining: timedelta


def intervals_from_marks(
    marks: Iterable[ComponentMark], until: datetime
) -> dict[str, list[Interval]]:
    """Per component, the intervals the marks of every source (incident, maintenance) imply.

    Each source holds its own status for a component from one of its marks
    to its next (or ``until``); operational stretches are left out (they are
    up). Sources overlap freely: :func:`merge` takes the worst at each instant.
    """
    by_source: dict[tuple[str, str], list[ComponentMark]] = {}
    for mark in marks:
        by_source.setdefault((mark.component, mark.source), []).append(mark)
    found: dict[str, list[Interval]] = {}
    for (component, _), own in by_source.items():
        own.sort(key=lambda m: (m.at, m.version))
        out = found.setdefault(component, [])
        for mark, after in zip(own, [*own[1:], None], strict=True):
            end = min(after.at if after is not None else until, until)
            if mark.status is not ComponentStatus.OPERATIONAL and end > mark.at:
                out.append(Interval(mark.at, end, mark.status))
    for out in found.values():
        out.sort(key=lambda i: i.start)
    return found


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Non-overlapping intervals in time order, each instant in the worst status given.

    Operational time is left out. Adjacent pieces in the same status join.
    """
    items = sorted(intervals, key=lambda i: i.start)
    if _disjoint(items):
        return _joined([i for i in items if i.status is not ComponentStatus.OPERATIONAL])
    edges: list[tuple[datetime, int, int]] = []
    for item in items:
        rank = _RANK[item.status]
        if rank and item.end > item.start:
            edges.append((item.start, 1, rank))
            edges.append((item.end, -1, rank))
    edges.sort()
    counts = [0] * len(_RANK)
    merged: list[Interval] = []
    previous: datetime | None = None
    for at, step, rank in edges:
        if previous is not None and at > previous:
            worst = max((r for r in range(1, len(counts)) if counts[r]), default=0)
            if worst:
                merged.append(Interval(previous, at, _BY_RANK[worst]))
        counts[rank] += step
        previous = at
    return _joined(merged)


def _disjoint(items: Sequence[Interval]) -> bool:
    return all(a.end <= b.start for a, b in itertools.pairwise(items))


def _joined(items: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for item in items:
        if out and out[-1].end == item.start and out[-1].status is item.status:
            out[-1] = Interval(out[-1].start, item.end, item.status)
        else:
            out.append(item)
    return out


def uptime(
    intervals: Iterable[Interval],
    start: datetime,
    end: datetime,
    *,
    config: UptimeConfig | None = None,
    tracked_from: datetime | None = None,
) -> UptimeResult:
    """Uptime of the merged ``intervals`` over ``[start, end)`` (see the module docstring).

    ``tracked_from`` (the component's start date) clips the window; no time
    left, or only maintenance under the ``"excluded"`` rule, gives ``None``.

    :raises ValidationError: naive datetimes or ``end`` before ``start``.
    """
    config = config if config is not None else UptimeConfig()
    start, end = _utc(start, "start"), _utc(end, "end")
    if end < start:
        raise ValidationError("end", f"{end.isoformat()} is before start {start.isoformat()}")
    lower = (
        start if tracked_from is None else max(start, ensure_aware(tracked_from, "tracked_from"))
    )
    if lower >= end:
        return UptimeResult(start, end, None, timedelta(0), timedelta(0), timedelta(0))
    weights = {status: config.weight(status) for status in ComponentStatus}
    excluded = config.maintenance == "excluded"
    items = intervals if isinstance(intervals, list) else list(intervals)
    found = _accumulate(items, lower, end, weights, excluded, check_order=True)
    if found is None:  # overlapping or out of order: merge first (worst status wins)
        found = _accumulate(merge(items), lower, end, weights, excluded, check_order=False)
        assert found is not None
    down, maintenance = found
    tracked = (end - lower) - (maintenance if excluded else timedelta(0))
    seconds = tracked.total_seconds()
    if seconds <= 0:
        return UptimeResult(start, end, None, timedelta(0), timedelta(0), maintenance)
    percent = min(100.0, max(0.0, 100.0 * (1.0 - down / seconds)))
    return UptimeResult(start, end, percent, timedelta(seconds=down), tracked, maintenance)


def _accumulate(
    items: Sequence[Interval],
    lower: datetime,
    upper: datetime,
    weights: dict[ComponentStatus, float],
    excluded: bool,
    *,
    check_order: bool,
) -> tuple[float, timedelta] | None:
    """Weighted down seconds and maintenance time in ``[lower, upper)``, in one pass.

    With ``check_order``, ``None`` as soon as an interval starts before the
    previous one ends (the caller merges and tries again), so disjoint input
    in time order (a component's own history) costs a single pass.
    """
    down = 0.0
    maintenance = timedelta(0)
    previous: datetime | None = None
    under = ComponentStatus.UNDER_MAINTENANCE
    for item in items:
        start, end = item.start, item.end
        if check_order:
            if previous is not None and start < previous:
                return None
            previous = end
        a = start if start > lower else lower
        b = end if end < upper else upper
        if b <= a:
            continue
        status = item.status
        if status is under:
            maintenance += b - a
            if excluded:
                continue
        weight = weights[status]
        if weight:
            down += (b - a).total_seconds() * weight
    return down, maintenance


def window_bounds(window: str, now: datetime) -> tuple[datetime, datetime]:
    """``[now - window, now)`` for ``"24h"``, ``"7d"``, ``"30d"`` or ``"90d"``."""
    span = WINDOWS.get(window)
    if span is None:
        raise ValidationError(
            "window", f"unknown window {window!r} (known: {', '.join(WINDOWS)}, or a month YYYY-MM)"
        )
    ensure_aware(now, "now")
    return now - span, now


def month_bounds(year: int, month: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The calendar month from local midnight of its first day to the next month's."""
    if not 1 <= month <= 12:
        raise ValidationError("month", f"must be 1 to 12, got {month!r}")
    first = datetime(year, month, 1, tzinfo=zone)
    after = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return first.astimezone(UTC), after.astimezone(UTC)


def day_bars(
    intervals: Iterable[Interval],
    first: date,
    last: date,
    zone: ZoneInfo,
    *,
    config: UptimeConfig | None = None,
    tracked_from: datetime | None = None,
) -> tuple[DayBar, ...]:
    """One bar per local day from ``first`` to ``last`` inclusive (days begin at local midnight)."""
    if last < first:
        raise ValidationError("last", f"{last} is before {first}")
    merged = merge(intervals)
    bars = []
    day = first
    while day <= last:
        start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        end = end.astimezone(UTC)
        inside = [i for i in merged if i.end > start and i.start < end]
        result = uptime(inside, start, end, config=config, tracked_from=tracked_from)
        bars.append(DayBar(day, result))
        day = following
    return tuple(bars)


def sla_result(result: UptimeResult, target: SlaTarget | float) -> SlaResult:
    """``result`` against ``target`` percent: met or breached, and the error budget left."""
    goal = target.target if isinstance(target, SlaTarget) else float(target)
    budget = timedelta(seconds=result.tracked.total_seconds() * (1 - goal / 100))
    met = None if result.percent is None else result.percent >= goal
    return SlaResult(
        goal, result.start, result.end, result.percent, met, budget, budget - result.down
    )
