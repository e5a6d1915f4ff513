"""Business days are counted in the policy's zone with its holiday calendar.

The rule (:func:`incidentkit.business_days.business_day_end`): the first
business day is the first local date after the start's local date that is a
weekday (Monday to Friday) and not a holiday; the deadline is ``day_ends``
(17:00 by default) local time on the ``days``-th such date.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.business_days import BusinessDays, _country_calendar, business_day_end
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.severity import Severity
from incidentkit.timers import due_events

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_friday_evening_in_berlin_is_due_at_the_end_of_monday_in_berlin() -> None:
    # Friday 10 January 2025, 17:00 CET is 16:00 UTC: counted in UTC it was
    # due Tuesday 01:00 local; counted in Berlin it is due Monday 17:00 local.
    due = business_day_end(berlin(2025, 1, 10, 17), BERLIN)
    assert due == berlin(2025, 1, 13, 17)
    assert due.tzinfo is UTC and due == datetime(2025, 1, 13, 16, tzinfo=UTC)


def test_the_deadline_keeps_local_time_across_a_dst_change() -> None:
    # Clocks go forward on Sunday 30 March 2025: Monday 17:00 is CEST (UTC+2).
    due = business_day_end(berlin(2025, 3, 28, 17), BERLIN)
    assert due == datetime(2025, 3, 31, 15, tzinfo=UTC)
    # ... and back on Sunday 26 October 2025: Monday 17:00 is CET (UTC+1).
    assert business_day_end(berlin(2025, 10, 24, 17), BERLIN) == datetime(
        2025, 10, 27, 16, tzinfo=UTC
    )


def test_holidays_are_skipped() -> None:
    easter = BusinessDays(holidays=frozenset({date(2025, 4, 18), date(2025, 4, 21)}))
    # Thursday before Easter: Good Friday and Easter Monday are not business days.
    assert business_day_end(berlin(2025, 4, 17, 17), BERLIN, easter) == berlin(2025, 4, 22, 17)


def test_country_holidays_from_the_holidays_package() -> None:
    calendar = BusinessDays(country="DE", subdivision="BE")
    assert not calendar.is_business_day(date(2025, 3, 8))  # Women's Day, Berlin only
    assert BusinessDays(country="DE").is_business_day(date(2025, 3, 10))
    assert business_day_end(berlin(2025, 12, 24, 9), BERLIN, calendar) == berlin(2025, 12, 29, 17)


def test_several_business_days_and_a_custom_end_of_day() -> None:
    calendar = BusinessDays(day_ends=time(18, 30))
    assert business_day_end(berlin(2025, 1, 9, 8), BERLIN, calendar, days=2) == berlin(
        2025, 1, 13, 18, 30
    )


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(BERLIN)
    ),
    days=st.integers(min_value=1, max_value=10),
)
def test_deadline_is_the_nth_later_business_day_at_day_end(start: datetime, days: int) -> None:
    due = business_day_end(start, BERLIN, days=days)
    local = due.astimezone(BERLIN)
    assert local.time() == time(17) and local.weekday() < 5
    count = sum(
        1
        for n in range(1, (local.date() - start.date()).days + 1)
        if (start.date() + timedelta(days=n)).weekday() < 5
    )
    assert count == days


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"holidays": frozenset({datetime(2025, 1, 1, tzinfo=UTC)})}, "holidays"),
        ({"holidays": frozenset({"2025-01-01"})}, "holidays"),
        ({"country": "XX"}, "country"),
        ({"country": "DE", "subdivision": "ZZ"}, "subdivision"),
        ({"subdivision": "BE"}, "subdivision"),
        ({"country": ""}, "country"),
    ],
)
def test_bad_calendars_are_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        BusinessDays(**kwargs)
    assert err.value.field == field


def test_business_day_end_refuses_bad_input() -> None:
    with pytest.raises(ValidationError) as err:
        business_day_end(datetime(2025, 1, 10, 17), BERLIN)
    assert err.value.field == "start"
    with pytest.raises(ValidationError) as err:
        business_day_end(berlin(2025, 1, 10, 17), BERLIN, days=0)
    assert err.value.field == "days"
    everything = BusinessDays(
        holidays=frozenset(date(2025, 1, 1) + timedelta(days=n) for n in range(4000))
    )
    with pytest.raises(ValidationError) as err:
        business_day_end(berlin(2025, 1, 1, 9), BERLIN, everything)
    assert err.value.field == "holidays"


def test_a_country_without_the_holidays_package_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)  # import holidays → ImportError
    _country_calendar.cache_clear()
    with pytest.raises(ValidationError) as err:
        BusinessDays(country="DE")
    assert err.value.field == "country" and "incidentkit[holidays]" in err.value.reason
    _country_calendar.cache_clear()


# --- from the policy file ------------------------------------------------------------

TOML = """
zone = "Europe/Berlin"

[business_days]
holidays = [2025-01-13, "2025-01-14"]
day_ends = "16:00"
"""


def test_a_holiday_list_from_toml_moves_the_sev4_deadline() -> None:
    policy = ik.Policy.from_toml(TOML)
    assert policy.business_days.holidays == frozenset({date(2025, 1, 13), date(2025, 1, 14)})
    level = policy.severity.level(Severity.SEV4)
    declared = berlin(2025, 1, 10, 17)
    assert policy.response_deadline(Severity.SEV4, declared) == berlin(2025, 1, 15, 16)
    # the SEV1 target is elapsed time and ignores the calendar
    assert policy.response_deadline(Severity.SEV1, declared) == declared + timedelta(minutes=5)
    assert level.response_deadline(declared, BERLIN, policy.business_days) == berlin(
        2025, 1, 15, 16
    )


def test_the_kit_fires_the_sev4_response_target_in_the_policy_zone() -> None:
    policy = ik.Policy.from_toml('zone = "Europe/Berlin"')
    clock = ik.ManualClock(berlin(2025, 1, 10, 17))
    kit = ik.IncidentKit(policy=policy, clock=clock, autoload_plugins=False)
    iid = kit.declare("Typo on the pricing page", severity="SEV4", by="ana").id
    state = kit.get(iid)

    # Tuesday 01:00 local was the UTC count; Monday 17:00 local is the policy's.
    def response(at: datetime) -> list[Any]:
        return [e for e in due_events(state, policy, at) if e.key == "target:response"]

    assert response(berlin(2025, 1, 13, 16, 59)) == []
    (missed,) = response(berlin(2025, 1, 13, 17))
    assert missed.key == "target:response" and missed.due_at == berlin(2025, 1, 13, 17)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[business_days]\nholidays = [2025-01-13T00:00:00Z]", "$.business_days.holidays[0]"),
        ("[business_days]\nholidays = ['13 January']", "$.business_days.holidays[0]"),
        ("[business_days]\nholidays = 'x'", "$.business_days.holidays"),
        ("[business_days]\ncountry = 'XX'", "$.business_days.country"),
        ("[business_days]\ncountry = 'DE'\nsubdivision = 'ZZ'", "$.business_days.subdivision"),
        ("[business_days]\nday_ends = '25:00'", "$.business_days.day_ends"),
        ("[business_days]\nweekend = ['saturday']", "$.business_days.weekend"),
    ],
)
def test_bad_business_days_in_toml_name_the_key(text: str, path: str) -> None:
    with pytest.raises(PolicyError) as err:
        ik.Policy.from_toml(text)
    assert [p for p, _ in err.value.problems] == [path]
