"""Business days: which local dates are working days, and deadlines counted in them.

:func:`business_day_end` is the one place where business days are counted
(the SEV4 "next business day" response target uses it; so can a review due
"within 2 business days"). The rule, in the given zone:

* a business day is a local date from Monday to Friday that is not a holiday
  of the :class:`BusinessDays` calendar (its explicit ``holidays`` plus, when
  ``country`` is set, that country's public holidays from the ``holidays``
  package, ``pip install 'incidentkit[holidays]'``);
* counting starts on the local date after the start's local date (the day the
  incident was declared never counts, whatever the hour);
* the deadline is ``day_ends`` (17:00 by default) local time on the
  ``days``-th business day, returned as an aware UTC datetime. A ``day_ends``
  that does not exist that day (a daylight-saving gap) falls after the gap.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> berlin = ZoneInfo("Europe/Berlin")
>>> friday_evening = datetime(2025, 1, 10, 17, 0, tzinfo=berlin)
>>> business_day_end(friday_evening, berlin).astimezone(berlin).isoformat()
'2025-01-13T17:00:00+01:00'
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError

__all__ = ["BusinessDays", "business_day_end"]

_HORIZON_DAYS = 3660
"""How far :func:`business_day_end` looks (ten years) before giving up."""


def _dates(value: Iterable[date]) -> frozenset[date]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("holidays", f"expected a list of dates, got {value!r}")
    return frozenset(value)


@functools.lru_cache(maxsize=64)
def _country_calendar(country: str, subdivision: str | None) -> Any:
    try:
        import holidays
    except ImportError:
        raise ValidationError(
            "country",
            "public holidays need the 'holidays' package: pip install 'incidentkit[holidays]'",
        ) from None
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as err:
        field = "subdivision" if subdivision and "subdivision" in str(err) else "country"
        raise ValidationError(field, str(err)) from None


@attrs.frozen
class BusinessDays:
    """A calendar of working days: Monday to Friday, except holidays.

    :param holidays: explicit dates that are not business days (a company
        shutdown, or every public holiday when the ``holidays`` package is not
        installed).
    :param country: also skip this country's public holidays (ISO 3166 code,
        ``"DE"``), from the ``holidays`` package.
    :param subdivision: the country's subdivision (``"BE"`` for Berlin).
    :param day_ends: the local time at which a business day ends.
    """

    holidays: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)
    country: str | None = None
    subdivision: str | None = None
    day_ends: time = time(17, 0)

    def __attrs_post_init__(self) -> None:
        for day in sorted(self.holidays, key=repr):
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValidationError("holidays", f"expected dates, got {day!r}")
        if self.country is not None and (
            not isinstance(self.country, str) or not self.country.strip()
        ):
            raise ValidationError("country", "must be a country code such as 'DE'")
        if self.subdivision is not None and self.country is None:
            raise ValidationError("subdivision", "needs a country")
        if not isinstance(self.day_ends, time) or self.day_ends.tzinfo is not None:
            raise ValidationError("day_ends", "must be a local time of day such as 17:00")
        if self.country is not None:
            _country_calendar(self.country, self.subdivision)

    def is_business_day(self, day: date) -> bool:
        """True when ``day`` (a local date) is a weekday and not a holiday."""
        if day.weekday() >= 5 or day in self.holidays:
            return False
        return not (self.country and day in _country_calendar(self.country, self.subdivision))


def business_day_end(
    start: datetime,
    zone: tzinfo,
    calendar: BusinessDays | None = None,
    *,
    days: int = 1,
) -> datetime:
    """The end of the ``days``-th business day after ``start``'s local date, in UTC.

    See the module docstring for the rule. Pure: the result depends only on
    the arguments (and, with a country, the ``holidays`` package's tables).

    :raises ValidationError: for a naive ``start``, ``days`` < 1, or a calendar
        with no business day in the next ten years.
    """
    start = ensure_aware(start, "start")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError("days", f"must be a whole number >= 1, got {days!r}")
    rules = calendar if calendar is not None else BusinessDays()
    day = start.astimezone(zone).date()
    found = 0
    for _ in range(_HORIZON_DAYS + days):
        day += timedelta(days=1)
        if rules.is_business_day(day):
            found += 1
            if found == days:
                local = datetime.combine(day, rules.day_ends, tzinfo=zone)
                return local.astimezone(UTC)
    raise ValidationError("holidays", "no business day within ten years")
