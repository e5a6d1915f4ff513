"""Hypothesis invariants: one person per layer, and on_call agrees with shifts()."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.oncall import Every, Layer, Override, Rotation, Schedule, Weekday, resolve_local

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Santiago",
    "America/Havana",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Casablanca",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Pacific/Apia",
]

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2039, 12, 31), timezones=st.just(UTC)
)


@st.composite
def rotations(draw: st.DrawFn, start: datetime | None = None) -> Rotation:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    every = draw(st.sampled_from(list(Every)))
    interval = draw(st.integers(1, 3))
    handoff = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    people = draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=5, unique=True))
    begin = start if start is not None else draw(instants)
    return Rotation(
        tuple(people),
        begin,
        zone,
        every=every,
        interval=interval,
        handoff_weekday=draw(st.sampled_from(list(Weekday))),
        handoff_time=handoff,
    )


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Schedule, datetime]:
    begin = draw(instants)
    primary = draw(rotations(start=begin))
    secondary = draw(rotations(start=begin))
    at = draw(
        st.datetimes(
            min_value=begin.replace(tzinfo=None),
            max_value=datetime(2040, 1, 1),
            timezones=st.just(UTC),
        )
    )
    overrides: list[Override] = []
    for layer in ("primary", "secondary"):
        if draw(st.booleans()):
            offset = timedelta(minutes=draw(st.integers(-3000, 3000)))
            length = timedelta(minutes=draw(st.integers(1, 3000)))
            overrides.append(Override(layer, "zed", at + offset, at + offset + length))
    schedule = Schedule(
        "s", (Layer("primary", (primary,)), Layer("secondary", (secondary,))), tuple(overrides)
    )
    return schedule, at


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_exactly_one_person_per_layer_and_on_call_agrees_with_shifts(
    case: tuple[Schedule, datetime],
) -> None:
    schedule, at = case
    answer = schedule.on_call(at)
    assert [h.layer for h in answer.holders] == ["primary", "secondary"]
    listed = schedule.shifts(at - timedelta(minutes=1), at + timedelta(minutes=1))
    for holder in answer.holders:
        assert holder.shift_start <= at < holder.shift_end
        containing = [s for s in listed if s.layer == holder.layer and s.start <= at < s.end]
        assert len(containing) == 1
        shift = containing[0]
        assert (shift.person, shift.start, shift.end, shift.via_override) == (
            holder.person,
            holder.shift_start,
            holder.shift_end,
            holder.via_override,
        )


@settings(max_examples=60, deadline=None)
@given(schedules(), st.integers(1, 21))
def test_shifts_of_a_layer_tile_the_window(case: tuple[Schedule, datetime], days: int) -> None:
    schedule, at = case
    end = at + timedelta(days=days)
    for layer in schedule.layer_names:
        shifts = schedule.shifts(at, end, layer=layer)
        assert shifts[0].start <= at
        assert shifts[-1].end >= end
        for earlier, later in itertools.pairwise(shifts):
            assert earlier.end == later.start
            assert earlier.end > earlier.start


def _stepped_index(rotation: Rotation, at: datetime) -> int:
    """Reference: walk handoffs one by one from the start (slow, obviously right)."""
    k = 0
    while rotation.handoff(k + 1) <= at:
        k += 1
    return k


@settings(max_examples=80, deadline=None)
@given(rotations(), st.integers(0, 24 * 120))
def test_closed_form_index_matches_stepping(rotation: Rotation, hours_later: int) -> None:
    at = rotation.start + timedelta(hours=hours_later, minutes=7)
    assert rotation.index_at(at) == _stepped_index(rotation, at)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(ZONES),
    instants,
    st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1),
    st.integers(0, 23),
    st.sampled_from([0, 30]),
    st.integers(1, 2),
    st.integers(0, 24 * 200),
)
def test_rrule_rotation_matches_dateutil_enumeration(
    zone_key: str,
    start: datetime,
    days: set[str],
    hour: int,
    minute: int,
    interval: int,
    hours_later: int,
) -> None:
    zone = ZoneInfo(zone_key)
    text = (
        f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={','.join(sorted(days))};"
        f"BYHOUR={hour};BYMINUTE={minute};BYSECOND=0"
    )
    rotation = Rotation(("a", "b", "c"), start, zone, rrule=text)
    at = start + timedelta(hours=hours_later)
    # dateutil's rrule drops microseconds from dtstart, and so does the rotation's grid.
    local_start = start.astimezone(zone).replace(tzinfo=None, microsecond=0)
    handoffs = [start]
    for occurrence in rrulestr(text, dtstart=local_start):
        instant = resolve_local(occurrence, zone)
        if instant > at:
            break
        if occurrence != local_start:
            handoffs.append(instant)
        elif handoffs[0] != instant:
            handoffs[0] = instant
    expected = "abc"[(len(handoffs) - 1) % 3]
    shift = rotation.holder(at)
    assert shift is not None
    assert shift.person == expected
