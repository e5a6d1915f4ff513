"""Table-driven DST cases at fixed instants (no clock reads).

Zones: America/New_York (1 h, gap 02:00-03:00), Europe/London (1 h, gap
01:00-02:00) and Australia/Lord_Howe (30 min, gap 02:00-02:30, repeat
01:30-02:00). Rules under test: a handoff in a gap moves to the first instant
that exists; an ambiguous handoff takes the first occurrence (fold=0).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidentkit.oncall import Every, Rotation, Weekday, resolve_local

NY = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"

# Transition days (all Sundays in 2025).
SPRING = {NY: date(2025, 3, 9), LONDON: date(2025, 3, 30), LORD_HOWE: date(2025, 10, 5)}
FALL = {NY: date(2025, 11, 2), LONDON: date(2025, 10, 26), LORD_HOWE: date(2025, 4, 6)}


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


H = timedelta(hours=1)

# (zone, transition day, handoff time, handoff instant on that day,
#  length of the daily shift ending there, length of the one starting there)
DAILY_CASES = [
    # New York spring-forward: 02:00-03:00 does not exist.
    (NY, SPRING[NY], time(1, 30), utc(2025, 3, 9, 6, 30), 24 * H, 23 * H),
    (NY, SPRING[NY], time(2, 0), utc(2025, 3, 9, 7), 24 * H, 23 * H),
    (NY, SPRING[NY], time(2, 15), utc(2025, 3, 9, 7), 23.75 * H, 23.25 * H),
    (NY, SPRING[NY], time(2, 30), utc(2025, 3, 9, 7), 23.5 * H, 23.5 * H),
    # New York fall-back: 01:00-02:00 happens twice; fold=0 is EDT.
    (NY, FALL[NY], time(1, 30), utc(2025, 11, 2, 5, 30), 24 * H, 25 * H),
    (NY, FALL[NY], time(2, 0), utc(2025, 11, 2, 7), 25 * H, 24 * H),
    (NY, FALL[NY], time(2, 15), utc(2025, 11, 2, 7, 15), 25 * H, 24 * H),
    (NY, FALL[NY], time(2, 30), utc(2025, 11, 2, 7, 30), 25 * H, 24 * H),
    # London spring-forward: 01:00-02:00 does not exist.
    (LONDON, SPRING[LONDON], time(1, 30), utc(2025, 3, 30, 1), 23.5 * H, 23.5 * H),
    (LONDON, SPRING[LONDON], time(2, 0), utc(2025, 3, 30, 1), 23 * H, 24 * H),
    (LONDON, SPRING[LONDON], time(2, 15), utc(2025, 3, 30, 1, 15), 23 * H, 24 * H),
    (LONDON, SPRING[LONDON], time(2, 30), utc(2025, 3, 30, 1, 30), 23 * H, 24 * H),
    # London fall-back: 01:00-02:00 happens twice; fold=0 is BST.
    (LONDON, FALL[LONDON], time(1, 30), utc(2025, 10, 26, 0, 30), 24 * H, 25 * H),
    (LONDON, FALL[LONDON], time(2, 0), utc(2025, 10, 26, 2), 25 * H, 24 * H),
    (LONDON, FALL[LONDON], time(2, 15), utc(2025, 10, 26, 2, 15), 25 * H, 24 * H),
    (LONDON, FALL[LONDON], time(2, 30), utc(2025, 10, 26, 2, 30), 25 * H, 24 * H),
    # Lord Howe spring-forward: 02:00-02:30 does not exist (+10:30 -> +11).
    (LORD_HOWE, SPRING[LORD_HOWE], time(1, 30), utc(2025, 10, 4, 15), 24 * H, 23.5 * H),
    (LORD_HOWE, SPRING[LORD_HOWE], time(2, 0), utc(2025, 10, 4, 15, 30), 24 * H, 23.5 * H),
    (
        LORD_HOWE,
        SPRING[LORD_HOWE],
        time(2, 15),
        utc(2025, 10, 4, 15, 30),
        23.75 * H,
        23.75 * H,
    ),
    (LORD_HOWE, SPRING[LORD_HOWE], time(2, 30), utc(2025, 10, 4, 15, 30), 23.5 * H, 24 * H),
    # Lord Howe fall-back: 01:30-02:00 happens twice (+11 -> +10:30).
    (LORD_HOWE, FALL[LORD_HOWE], time(1, 30), utc(2025, 4, 5, 14, 30), 24 * H, 24.5 * H),
    (LORD_HOWE, FALL[LORD_HOWE], time(2, 0), utc(2025, 4, 5, 15, 30), 24.5 * H, 24 * H),
    (LORD_HOWE, FALL[LORD_HOWE], time(2, 15), utc(2025, 4, 5, 15, 45), 24.5 * H, 24 * H),
    (LORD_HOWE, FALL[LORD_HOWE], time(2, 30), utc(2025, 4, 5, 16), 24.5 * H, 24 * H),
]


def _ids(case: tuple[object, ...]) -> str:
    zone, day, at = case[0], case[1], case[2]
    return f"{zone}-{day}-{at}"


@pytest.mark.parametrize("case", DAILY_CASES, ids=_ids)
def test_daily_handoff_on_transition_day(case: tuple) -> None:
    zone_key, day, handoff, expected, before_len, after_len = case
    zone = ZoneInfo(zone_key)
    start = (
        datetime(2025, 1, 1, tzinfo=zone) if day.month > 2 else datetime(2024, 12, 1, tzinfo=zone)
    )
    rotation = Rotation(("a", "b", "c"), start, zone, every=Every.DAY, handoff_time=handoff)
    shift = rotation.holder(expected)
    assert shift is not None
    assert shift.start == expected
    assert shift.end - shift.start == after_len
    previous = rotation.holder(expected - timedelta(microseconds=1))
    assert previous is not None
    assert previous.end == expected
    assert previous.end - previous.start == before_len
    assert previous.person != shift.person


@pytest.mark.parametrize("case", DAILY_CASES, ids=_ids)
def test_weekly_handoff_on_transition_day(case: tuple) -> None:
    zone_key, _day, handoff, expected, before_len, after_len = case
    zone = ZoneInfo(zone_key)
    start = datetime(2024, 11, 3, 12, tzinfo=zone)
    rotation = Rotation(
        ("a", "b"), start, zone, handoff_weekday=Weekday.SUNDAY, handoff_time=handoff
    )
    week = timedelta(days=6)
    shift = rotation.holder(expected)
    assert shift is not None
    assert (shift.start, shift.end - shift.start) == (expected, after_len + week)
    previous = rotation.holder(expected - timedelta(seconds=1))
    assert previous is not None
    assert (previous.end, previous.end - previous.start) == (expected, before_len + week)


@pytest.mark.parametrize(
    ("zone_key", "day", "handoff", "expected"),
    [(c[0], c[1], c[2], c[3]) for c in DAILY_CASES],
)
def test_resolve_local_rules(zone_key: str, day: date, handoff: time, expected: datetime) -> None:
    assert resolve_local(datetime.combine(day, handoff), ZoneInfo(zone_key)) == expected


# Hourly rotations: (zone, minute of the handoff, window start, expected shifts (UTC start, end)).
HOURLY_CASES = [
    # New York spring: the 02:00 handoff falls in the gap and coincides with 03:00,
    # so that shift is skipped; every shift around it lasts one hour.
    (
        NY,
        0,
        utc(2025, 3, 9, 5),
        [
            (utc(2025, 3, 9, 5), utc(2025, 3, 9, 6)),
            (utc(2025, 3, 9, 6), utc(2025, 3, 9, 7)),
            (utc(2025, 3, 9, 7), utc(2025, 3, 9, 8)),
        ],
    ),
    # New York fall: the 01:00 EDT shift runs to 02:00 EST, two hours.
    (
        NY,
        0,
        utc(2025, 11, 2, 4),
        [
            (utc(2025, 11, 2, 4), utc(2025, 11, 2, 5)),
            (utc(2025, 11, 2, 5), utc(2025, 11, 2, 7)),
            (utc(2025, 11, 2, 7), utc(2025, 11, 2, 8)),
        ],
    ),
    # Lord Howe spring, handoffs at :00: 02:00 does not exist and moves to 02:30,
    # leaving a 30-minute shift up to 03:00.
    (
        LORD_HOWE,
        0,
        utc(2025, 10, 4, 14, 30),
        [
            (utc(2025, 10, 4, 14, 30), utc(2025, 10, 4, 15, 30)),
            (utc(2025, 10, 4, 15, 30), utc(2025, 10, 4, 16)),
            (utc(2025, 10, 4, 16), utc(2025, 10, 4, 17)),
        ],
    ),
    # Lord Howe spring, handoffs at :30: 02:30 exists; the 01:30 shift is 30 minutes.
    (
        LORD_HOWE,
        30,
        utc(2025, 10, 4, 14),
        [
            (utc(2025, 10, 4, 14), utc(2025, 10, 4, 15)),
            (utc(2025, 10, 4, 15), utc(2025, 10, 4, 15, 30)),
            (utc(2025, 10, 4, 15, 30), utc(2025, 10, 4, 16, 30)),
        ],
    ),
    # Lord Howe fall, handoffs at :00: the 01:00 shift gets the extra 30 minutes
    # (01:00 +11 to 02:00 +10:30).
    (
        LORD_HOWE,
        0,
        utc(2025, 4, 5, 13),
        [
            (utc(2025, 4, 5, 13), utc(2025, 4, 5, 14)),
            (utc(2025, 4, 5, 14), utc(2025, 4, 5, 15, 30)),
            (utc(2025, 4, 5, 15, 30), utc(2025, 4, 5, 16, 30)),
        ],
    ),
    # Lord Howe fall, handoffs at :15: 01:15 (+11) to 02:15 (+10:30) is 90 minutes.
    (
        LORD_HOWE,
        15,
        utc(2025, 4, 5, 13, 15),
        [
            (utc(2025, 4, 5, 13, 15), utc(2025, 4, 5, 14, 15)),
            (utc(2025, 4, 5, 14, 15), utc(2025, 4, 5, 15, 45)),
            (utc(2025, 4, 5, 15, 45), utc(2025, 4, 5, 16, 45)),
        ],
    ),
    # London spring, handoffs at :30: 01:30 falls in the gap and moves to 02:00 BST;
    # 00:30-02:00 local is 30 elapsed minutes.
    (
        LONDON,
        30,
        utc(2025, 3, 30, 0, 30),
        [
            (utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1)),
            (utc(2025, 3, 30, 1), utc(2025, 3, 30, 1, 30)),
            (utc(2025, 3, 30, 1, 30), utc(2025, 3, 30, 2, 30)),
        ],
    ),
    # London fall, handoffs at :30: 01:30 BST (fold=0) to 02:30 GMT is two hours.
    (
        LONDON,
        30,
        utc(2025, 10, 25, 23, 30),
        [
            (utc(2025, 10, 25, 23, 30), utc(2025, 10, 26, 0, 30)),
            (utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 2, 30)),
            (utc(2025, 10, 26, 2, 30), utc(2025, 10, 26, 3, 30)),
        ],
    ),
]


@pytest.mark.parametrize(("zone_key", "minute", "window", "expected"), HOURLY_CASES)
def test_hourly_rotation_across_transition(
    zone_key: str, minute: int, window: datetime, expected: list[tuple[datetime, datetime]]
) -> None:
    zone = ZoneInfo(zone_key)
    rotation = Rotation(
        ("a", "b", "c"),
        datetime(2025, 1, 1, tzinfo=zone),
        zone,
        every=Every.HOUR,
        handoff_time=time(0, minute),
    )
    shifts = rotation.shifts(window, expected[-1][1] - timedelta(minutes=1))
    assert [(s.start, s.end) for s in shifts] == expected


def test_hourly_skips_the_participant_whose_handoff_is_in_the_gap() -> None:
    zone = ZoneInfo(NY)
    rotation = Rotation(
        ("a", "b", "c"), datetime(2025, 3, 9, 0, tzinfo=zone), zone, every=Every.HOUR
    )
    people = [s.person for s in rotation.shifts(utc(2025, 3, 9, 5), utc(2025, 3, 9, 9))]
    # 00:00 a, 01:00 b, (02:00 c skipped: empty), 03:00 a, 04:00 b
    assert people == ["a", "b", "a", "b"]


def test_hourly_24h_rotation_equals_daily_rotation() -> None:
    zone = ZoneInfo(LORD_HOWE)
    start = datetime(2025, 9, 1, tzinfo=zone)
    hourly = Rotation(
        ("a", "b"), start, zone, every=Every.HOUR, interval=24, handoff_time=time(2, 15)
    )
    daily = Rotation(("a", "b"), start, zone, every=Every.DAY, handoff_time=time(2, 15))
    window = (utc(2025, 9, 25), utc(2025, 10, 15))
    assert hourly.shifts(*window) == daily.shifts(*window)


@pytest.mark.parametrize("zone_key", [NY, LONDON, LORD_HOWE])
@pytest.mark.parametrize("handoff", [time(1, 30), time(2, 0), time(2, 15), time(2, 30)])
def test_weekly_shifts_tile_time_across_a_year(zone_key: str, handoff: time) -> None:
    zone = ZoneInfo(zone_key)
    rotation = Rotation(
        ("a", "b", "c"),
        datetime(2024, 12, 30, 9, tzinfo=zone),
        zone,
        handoff_weekday=Weekday.SUNDAY,
        handoff_time=handoff,
    )
    shifts = rotation.shifts(utc(2025, 1, 1), utc(2026, 1, 1))
    for earlier, later in itertools.pairwise(shifts):
        assert earlier.end == later.start  # no gap, no overlap
        assert later.start.astimezone(zone).weekday() == 6
    odd = [s.end - s.start for s in shifts[1:] if s.end - s.start != 168 * H]
    # Only the weeks touching a transition differ from 168 h, by at most the DST shift.
    assert 1 <= len(odd) <= 4
    assert all(abs(length - 168 * H) <= H for length in odd)


@pytest.mark.parametrize("zone_key", [NY, LONDON, LORD_HOWE])
def test_schedule_written_in_summer_hands_off_at_same_local_time_in_winter(zone_key: str) -> None:
    zone = ZoneInfo(zone_key)
    summer = (
        datetime(2025, 7, 7, 8, 30, tzinfo=zone)
        if zone_key != LORD_HOWE
        else datetime(2025, 1, 6, 8, 30, tzinfo=zone)
    )
    rotation = Rotation(("a", "b"), summer, zone, every=Every.DAY, handoff_time=time(8, 30))
    for months in (0, 3, 6, 9, 12):
        day = summer + timedelta(days=30 * months)
        shift = rotation.holder(day + timedelta(hours=1))
        assert shift is not None
        local = shift.start.astimezone(zone)
        assert (local.hour, local.minute) == (8, 30)


def test_rotation_started_before_handoff_gives_first_person_a_short_shift() -> None:
    zone = ZoneInfo(LONDON)
    rotation = Rotation(("a", "b"), datetime(2025, 1, 8, 12, tzinfo=zone), zone)  # Wednesday
    first = rotation.holder(datetime(2025, 1, 8, 12, tzinfo=zone))
    assert first is not None
    assert (first.person, first.start, first.end) == ("a", utc(2025, 1, 8, 12), utc(2025, 1, 13, 9))
    assert rotation.holder(datetime(2025, 1, 8, 11, tzinfo=zone)) is None


def test_lookup_far_from_start_agrees_with_stepping() -> None:
    zone = ZoneInfo(NY)
    rotation = Rotation(("a", "b", "c", "d", "e"), datetime(2001, 1, 1, tzinfo=zone), zone)
    shift = rotation.holder(utc(2031, 6, 1))
    assert shift is not None
    weeks = (shift.start.astimezone(zone).date() - date(2000, 12, 25)).days // 7
    assert shift.index == weeks
    assert shift.person == "abcde"[weeks % 5]
