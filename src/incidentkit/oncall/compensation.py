"""On-call compensation: base pay for time on call, plus pay for incident response.

The guide's model: a base rate per week on call, a rate per hour of active
incident response, day-of-week multipliers and a holiday multiplier
(typically 2x). :func:`compute_pay` applies a :class:`RateCard` to shifts and
response intervals for a pay period and returns one :class:`PayStatement`
per person, with a line per (kind, local day).

How time is cut, precisely:

1. **Per person, per kind, overlaps count once.** All of a person's shifts
   (every layer, every schedule) are merged into a union before pay, so
   holding primary and secondary at once is paid once. Response intervals
   are merged the same way (two incidents at once are one hour of
   response). Response pay is *in addition to* on-call pay, and is paid
   whether or not the person was on call at the time.
2. **Clipped to the period** ``[period_start, period_end)``.
3. **Split at local midnight** in the rate card's zone. Each piece belongs
   to the local calendar day it falls on; a midnight that does not exist (a
   DST gap at 00:00) is moved to the first instant that exists.
4. **Hours are elapsed hours**: a whole spring-forward day in Europe/London
   is 23 hours, a fall-back day 25.
5. **Rates**: the on-call hourly rate is ``base_per_week / 168``; the
   response hourly rate is ``per_incident_hour``. A day's multiplier is the
   holiday multiplier when the local date is a holiday, otherwise that
   weekday's multiplier (they do not compound).
6. **Rounding**: each line's amount is ``hours × rate × multiplier`` computed
   exactly in :class:`~decimal.Decimal` and rounded once, half up, to the
   currency's minor units; the total is the sum of the rounded lines, so
   the statement adds up.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
from incidentkit.oncall._localtime import resolve_local
from incidentkit.oncall._optional import MissingExtra, import_optional
from incidentkit.oncall.rotation import Weekday
from incidentkit.oncall.schedule import Shift

__all__ = [
    "MissingExtra",
    "PayKind",
    "PayLine",
    "PayStatement",
    "RateCard",
    "ResponseInterval",
    "compute_pay",
]

_HOURS_PER_WEEK = Decimal(168)
_US_PER_HOUR = Decimal(3_600_000_000)


def _money(value: object, field: str) -> Decimal:
    if isinstance(value, bool):
        raise ValidationError(field, "expected an amount, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float | str):
        try:
            result = Decimal(str(value))
        except ArithmeticError as err:
            raise ValidationError(field, f"not an amount: {value!r}") from err
    else:
        raise ValidationError(field, f"expected an amount, got {type(value).__name__}")
    if not result.is_finite() or result < 0:
        raise ValidationError(field, f"must be a finite amount >= 0, got {value!r}")
    return result


def _day_multipliers(value: object) -> tuple[Decimal, ...]:
    if isinstance(value, Mapping):
        found = [Decimal(1)] * 7
        for key, factor in value.items():
            try:
                day = Weekday(str(key).lower())
            except ValueError:
                raise ValidationError(
                    "day_multipliers", f"unknown weekday {key!r} (use 'monday' … 'sunday')"
                ) from None
            found[day.number] = _money(factor, f"day_multipliers.{day.value}")
        return tuple(found)
    if isinstance(value, tuple | list) and len(value) == 7:
        return tuple(_money(v, f"day_multipliers[{i}]") for i, v in enumerate(value))
    raise ValidationError(
        "day_multipliers",
        "give a mapping weekday -> multiplier or seven multipliers (Monday first)",
    )


def _dates(value: Iterable[date]) -> frozenset[date]:
    return frozenset(value)


def _base(value: object) -> Decimal:
    return _money(value, "base_per_week")


def _per_hour(value: object) -> Decimal:
    return _money(value, "per_incident_hour")


def _holiday_factor(value: object) -> Decimal:
    return _money(value, "holiday_multiplier")


@attrs.frozen
class RateCard:
    """How on-call time and incident response are paid.

    :param currency: ISO 4217 code, e.g. ``"USD"`` (informational).
    :param base_per_week: pay for a whole week on call; prorated by the hour.
    :param per_incident_hour: pay per hour of active incident response.
    :param zone: the zone in which days, weekdays and holidays are evaluated.
    :param day_multipliers: per weekday (``{"saturday": 1.5}``), default 1.
    :param holiday_multiplier: replaces the weekday multiplier on holidays.
    :param holidays: explicit holiday dates.
    :param holiday_country: also take the public holidays of this country
        from the ``holidays`` package (``pip install 'incidentkit[holidays]'``).
    :param holiday_subdivision: the country's subdivision (``"ENG"``, ``"CA"``).
    :param minor_units: decimal places amounts are rounded to.
    """

    currency: str
    base_per_week: Decimal = attrs.field(converter=_base)
    per_incident_hour: Decimal = attrs.field(converter=_per_hour)
    zone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo("UTC"))
    day_multipliers: tuple[Decimal, ...] = attrs.field(
        default=(Decimal(1),) * 7, converter=_day_multipliers
    )
    holiday_multiplier: Decimal = attrs.field(default=Decimal("2.0"), converter=_holiday_factor)
    holidays: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    minor_units: int = 2

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.zone, ZoneInfo):
            raise ValidationError("zone", "expected a zoneinfo.ZoneInfo")
        if not isinstance(self.minor_units, int) or not 0 <= self.minor_units <= 6:
            raise ValidationError("minor_units", "must be a whole number from 0 to 6")
        for day in self.holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValidationError("holidays", f"expected dates, got {day!r}")

    def holiday_calendar(self, years: Iterable[int]) -> dict[date, str]:
        """Holidays (date → name) for ``years``: the explicit dates plus the country's.

        :raises MissingExtra: when a country is set and ``holidays`` is not installed.
        :raises ValidationError: when the country or subdivision is unknown.
        """
        found = {day: "holiday" for day in self.holidays}
        if self.holiday_country:
            package = import_optional("holidays", "holidays", "holiday_country")
            try:
                table = package.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision, years=list(years)
                )
            except NotImplementedError as err:
                raise ValidationError("holiday_country", str(err)) from err
            for day, name in table.items():
                found.setdefault(day, str(name))
        return found


@attrs.frozen
class ResponseInterval:
    """``person`` actively responded to an incident from ``start`` to ``end``."""

    person: str
    start: datetime
    end: datetime
    incident_id: str | None = None


class PayKind(enum.StrEnum):
    """What a pay line is for."""

    ON_CALL = "on_call"
    INCIDENT = "incident"


@attrs.frozen
class PayLine:
    """Pay for one kind of time on one local day."""

    kind: PayKind
    day: date
    hours: Decimal
    hourly_rate: Decimal
    multiplier: Decimal
    amount: Decimal
    holiday: str | None = None


@attrs.frozen
class PayStatement:
    """One person's pay for a period."""

    person: str
    currency: str
    period_start: datetime
    period_end: datetime
    lines: tuple[PayLine, ...]
    total: Decimal

    def hours(self, kind: PayKind) -> Decimal:
        """Total hours of ``kind`` in the statement."""
        return sum((line.hours for line in self.lines if line.kind is kind), Decimal(0))


def _union(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _split_days(start: datetime, end: datetime, zone: ZoneInfo) -> Iterable[tuple[date, timedelta]]:
    t = start
    while t < end:
        day = t.astimezone(zone).date()
        midnight = resolve_local(datetime.combine(day + timedelta(days=1), time(0)), zone)
        stop = min(end, midnight)
        yield day, stop - t
        t = stop


def compute_pay(
    shifts: Iterable[Shift],
    responses: Iterable[ResponseInterval],
    card: RateCard,
    period_start: datetime,
    period_end: datetime,
) -> tuple[PayStatement, ...]:
    """Each person's pay for ``[period_start, period_end)``, sorted by person.

    See the module docstring for how overlapping intervals and day
    boundaries are treated.

    :raises ValidationError: naming the field for naive datetimes, an
        interval that ends before it starts, or an empty period.
    :raises MissingExtra: when the card names a holiday country and the
        ``holidays`` package is missing.
    """
    p_start = ensure_aware(period_start, "period_start")
    p_end = ensure_aware(period_end, "period_end")
    if p_end <= p_start:
        raise ValidationError("period_end", "must be after period_start")
    times: dict[tuple[str, PayKind], list[tuple[datetime, datetime]]] = defaultdict(list)
    for i, shift in enumerate(shifts):
        s = ensure_aware(shift.start, f"shifts[{i}].start")
        e = ensure_aware(shift.end, f"shifts[{i}].end")
        if e < s:
            raise ValidationError(f"shifts[{i}].end", "ends before it starts")
        times[(shift.person, PayKind.ON_CALL)].append((max(s, p_start), min(e, p_end)))
    for i, response in enumerate(responses):
        s = ensure_aware(response.start, f"responses[{i}].start")
        e = ensure_aware(response.end, f"responses[{i}].end")
        if e < s:
            raise ValidationError(f"responses[{i}].end", "ends before it starts")
        times[(response.person, PayKind.INCIDENT)].append((max(s, p_start), min(e, p_end)))
    first_year = p_start.astimezone(card.zone).year
    last_year = (p_end - timedelta(microseconds=1)).astimezone(card.zone).year
    holidays = card.holiday_calendar(range(first_year, last_year + 1))
    quantum = Decimal(1).scaleb(-card.minor_units)
    rates = {
        PayKind.ON_CALL: card.base_per_week / _HOURS_PER_WEEK,
        PayKind.INCIDENT: card.per_incident_hour,
    }
    per_person: dict[str, list[PayLine]] = defaultdict(list)
    for (person, kind), spans in sorted(times.items()):
        per_day: dict[date, timedelta] = defaultdict(timedelta)
        for start, end in _union(spans):
            for day, length in _split_days(start, end, card.zone):
                per_day[day] += length
        for day in sorted(per_day):
            hours = Decimal(per_day[day] // timedelta(microseconds=1)) / _US_PER_HOUR
            holiday = holidays.get(day)
            multiplier = (
                card.holiday_multiplier
                if holiday is not None
                else card.day_multipliers[day.weekday()]
            )
            amount = (hours * rates[kind] * multiplier).quantize(quantum, rounding=ROUND_HALF_UP)
            per_person[person].append(
                PayLine(kind, day, hours, rates[kind], multiplier, amount, holiday)
            )
    statements = []
    for person in sorted(per_person):
        lines = tuple(sorted(per_person[person], key=lambda ln: (ln.day, ln.kind.value)))
        total = sum((line.amount for line in lines), Decimal(0)).quantize(quantum)
        statements.append(PayStatement(person, card.currency, p_start, p_end, lines, total))
    return tuple(statements)
