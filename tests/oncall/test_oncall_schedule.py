"""Schedules: layers, overrides, precedence, and refusal of bad input."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.oncall import Every, Layer, Override, Rotation, Schedule

LONDON = ZoneInfo("Europe/London")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def weekly(*people: str, start: datetime | None = None, end: datetime | None = None) -> Rotation:
    return Rotation(people, start or datetime(2025, 1, 6, 9, tzinfo=LONDON), LONDON, end=end)


def make_schedule(*overrides: Override, allow: bool = False) -> Schedule:
    daily = Rotation(("x", "y"), datetime(2025, 1, 6, 9, tzinfo=LONDON), LONDON, every=Every.DAY)
    return Schedule(
        "platform",
        (Layer("primary", (weekly("ana", "bo", "cy"),)), Layer("secondary", (daily,))),
        overrides,
        allow_overlapping_overrides=allow,
    )


def test_on_call_names_each_layer_holder() -> None:
    answer = make_schedule().on_call(utc(2025, 1, 15, 12))
    assert answer.person("primary") == "bo"
    assert answer.person("secondary") == "y"  # Jan 15 is day 9 since Jan 6
    holder = answer.holder("primary")
    assert holder is not None
    assert (holder.shift_start, holder.shift_end) == (utc(2025, 1, 13, 9), utc(2025, 1, 20, 9))
    assert answer.holder("tertiary") is None


def test_override_takes_over_and_cuts_the_rotation_shift() -> None:
    schedule = make_schedule(Override("primary", "zed", utc(2025, 1, 15, 8), utc(2025, 1, 16, 8)))
    during = schedule.on_call(utc(2025, 1, 15, 12)).holder("primary")
    assert during is not None
    assert (during.person, during.via_override) == ("zed", True)
    before = schedule.on_call(utc(2025, 1, 14)).holder("primary")
    after = schedule.on_call(utc(2025, 1, 17)).holder("primary")
    assert before is not None and after is not None
    assert (before.person, before.shift_start, before.shift_end) == (
        "bo",
        utc(2025, 1, 13, 9),
        utc(2025, 1, 15, 8),
    )
    assert (after.person, after.shift_start, after.shift_end) == (
        "bo",
        utc(2025, 1, 16, 8),
        utc(2025, 1, 20, 9),
    )
    people = [
        (s.person, s.via_override)
        for s in schedule.shifts(utc(2025, 1, 14), utc(2025, 1, 18), layer="primary")
    ]
    assert people == [("bo", False), ("zed", True), ("bo", False)]


def test_overlapping_overrides_are_refused_naming_the_key() -> None:
    first = Override("primary", "zed", utc(2025, 1, 15), utc(2025, 1, 16))
    second = Override("primary", "quinn", utc(2025, 1, 15, 12), utc(2025, 1, 17))
    with pytest.raises(PolicyError) as info:
        make_schedule(first, second)
    assert info.value.problems[0][0] == "$.overrides[1]"
    assert "overlaps overrides[0]" in info.value.problems[0][1]
    schedule = make_schedule(first)
    with pytest.raises(PolicyError):
        schedule.add_override(second)
    assert schedule.overrides == (first,)  # unchanged


def test_overlapping_overrides_on_other_layers_are_fine() -> None:
    make_schedule(
        Override("primary", "zed", utc(2025, 1, 15), utc(2025, 1, 16)),
        Override("secondary", "zed", utc(2025, 1, 15), utc(2025, 1, 16)),
    )


def test_latest_created_override_wins_when_overlaps_are_allowed() -> None:
    schedule = make_schedule(
        Override("primary", "zed", utc(2025, 1, 15), utc(2025, 1, 17)), allow=True
    ).add_override(Override("primary", "quinn", utc(2025, 1, 16), utc(2025, 1, 18)))
    assert schedule.on_call(utc(2025, 1, 15, 12)).person("primary") == "zed"
    assert schedule.on_call(utc(2025, 1, 16, 12)).person("primary") == "quinn"
    assert schedule.on_call(utc(2025, 1, 17, 12)).person("primary") == "quinn"
    zed = schedule.on_call(utc(2025, 1, 15, 12)).holder("primary")
    assert zed is not None and zed.shift_end == utc(2025, 1, 16)


def test_later_rotation_in_a_layer_takes_over_from_its_start() -> None:
    old = weekly("ana", "bo")
    new = Rotation(("cy", "di"), datetime(2025, 2, 3, 9, tzinfo=LONDON), LONDON)
    schedule = Schedule("s", (Layer("primary", (old, new)),))
    assert schedule.on_call(utc(2025, 2, 2)).person("primary") in {"ana", "bo"}
    assert schedule.on_call(utc(2025, 2, 4)).person("primary") == "cy"
    assert schedule.on_call(utc(2025, 2, 11)).person("primary") == "di"


def test_old_rotation_resumes_after_a_bounded_newer_one() -> None:
    base = weekly("ana", "bo")
    cover = Rotation(
        ("cy",),
        datetime(2025, 1, 15, 12, tzinfo=LONDON),
        LONDON,
        end=datetime(2025, 1, 17, 12, tzinfo=LONDON),
    )
    schedule = Schedule("s", (Layer("primary", (base, cover)),))
    shifts = schedule.shifts(utc(2025, 1, 14), utc(2025, 1, 19))
    assert [(s.person, s.start, s.end) for s in shifts] == [
        ("bo", utc(2025, 1, 13, 9), utc(2025, 1, 15, 12)),
        ("cy", utc(2025, 1, 15, 12), utc(2025, 1, 17, 12)),
        ("bo", utc(2025, 1, 17, 12), utc(2025, 1, 20, 9)),
    ]


def test_nobody_before_the_rotation_starts() -> None:
    schedule = make_schedule()
    assert schedule.on_call(utc(2024, 12, 1)).holders == ()
    shifts = schedule.shifts(utc(2025, 1, 1), utc(2025, 1, 7), layer="primary")
    assert shifts[0].start == utc(2025, 1, 6, 9)


def test_person_filter() -> None:
    shifts = make_schedule().shifts(utc(2025, 1, 6), utc(2025, 2, 11), person="cy")
    assert {(s.person, s.layer) for s in shifts} == {("cy", "primary")}
    assert len(shifts) == 2


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: Rotation((), utc(2025, 1, 1), LONDON), "$.participants"),
        (lambda: Rotation(("a", " "), utc(2025, 1, 1), LONDON), "$.participants[1]"),
        (lambda: Rotation(("a",), datetime(2025, 1, 1), LONDON), "$.start"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), "Europe/London"), "$.zone"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), LONDON, interval=0), "$.interval"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), LONDON, handoff_time="9am"), "$.handoff_time"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), LONDON, end=utc(2024, 1, 1)), "$.end"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), LONDON, rrule="FREQ=MINUTELY"), "$.rrule"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), LONDON, rrule="FREQ=DAILY;COUNT=3"), "$.rrule"),
        (lambda: Rotation(("a",), utc(2025, 1, 1), LONDON, rrule="nonsense"), "$.rrule"),
        (lambda: Override("primary", "z", utc(2025, 1, 2), utc(2025, 1, 1)), "$.end"),
        (lambda: Override("primary", "z", datetime(2025, 1, 1), utc(2025, 1, 2)), "$.start"),
        (lambda: Layer("primary", ()), "$.rotations"),
        (lambda: Schedule("s", ()), "$.layers"),
        (
            lambda: Schedule("s", (Layer("p", (weekly("a"),)), Layer("p", (weekly("b"),)))),
            "$.layers[1].name",
        ),
        (
            lambda: Schedule(
                "s",
                (Layer("p", (weekly("a"),)),),
                (Override("q", "z", utc(2025, 1, 1), utc(2025, 1, 2)),),
            ),
            "$.overrides[0].layer",
        ),
    ],
)
def test_bad_definitions_name_the_key(build: object, path: str) -> None:
    with pytest.raises(PolicyError) as info:
        build()  # type: ignore[operator]
    assert info.value.problems[0][0] == path


def test_naive_lookups_are_refused() -> None:
    schedule = make_schedule()
    with pytest.raises(ValidationError) as info:
        schedule.on_call(datetime(2025, 1, 1))
    assert info.value.field == "at"
    with pytest.raises(ValidationError) as info:
        schedule.shifts(utc(2025, 1, 1), datetime(2025, 1, 2))
    assert info.value.field == "end"
    with pytest.raises(ValidationError):
        schedule.shifts(utc(2025, 1, 2), utc(2025, 1, 1))
    with pytest.raises(NotFound):
        schedule.shifts(utc(2025, 1, 1), utc(2025, 1, 2), layer="tertiary")


def test_rrule_rotation_with_two_handoffs_a_week() -> None:
    rotation = Rotation(
        ("ana", "bo"),
        datetime(2025, 3, 3, 9, tzinfo=LONDON),
        LONDON,
        rrule="FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
    )
    shifts = rotation.shifts(utc(2025, 3, 3, 9), utc(2025, 4, 4))
    local = [(s.person, s.start.astimezone(LONDON).strftime("%a %H:%M")) for s in shifts]
    assert local[:4] == [
        ("ana", "Mon 09:00"),
        ("bo", "Thu 09:00"),
        ("ana", "Mon 09:00"),
        ("bo", "Thu 09:00"),
    ]
    assert all(t.endswith("09:00") for _, t in local)  # across the 30 March change too
    # Five years on, the answer is the same as counting: 2 handoffs a week.
    far = rotation.holder(utc(2030, 3, 5, 12))  # a Tuesday
    assert far is not None
    weeks = (datetime(2030, 3, 4).date() - datetime(2025, 3, 3).date()).days // 7
    assert far.index == 2 * weeks
    assert far.person == "ana"


def test_rrule_starting_between_occurrences_gives_the_first_person_a_lead_shift() -> None:
    rotation = Rotation(
        ("ana", "bo"),
        datetime(2025, 3, 5, 12, tzinfo=LONDON),  # Wednesday
        LONDON,
        rrule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
    )
    first, second = rotation.shifts(utc(2025, 3, 5, 12), utc(2025, 3, 11))
    assert (first.person, first.start, first.end) == (
        "ana",
        utc(2025, 3, 5, 12),
        utc(2025, 3, 10, 9),
    )
    assert second.person == "bo"


def test_rrule_in_a_gap_moves_forward() -> None:
    ny = ZoneInfo("America/New_York")
    rotation = Rotation(
        ("a", "b"),
        datetime(2025, 3, 1, tzinfo=ny),
        ny,
        rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
    )
    shift = rotation.holder(utc(2025, 3, 9, 7))
    assert shift is not None
    assert shift.start == utc(2025, 3, 9, 7)  # 02:30 does not exist; 03:00 EDT


def test_monthly_rrule_indexes_through_the_400_year_cycle() -> None:
    rotation = Rotation(
        ("a", "b", "c"),
        datetime(2025, 1, 31, 9, tzinfo=LONDON),
        LONDON,
        rrule="FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
    )
    shift = rotation.holder(utc(2025, 4, 15))
    assert shift is not None
    assert shift.start.astimezone(LONDON).date().isoformat() == "2025-03-31"
    assert shift.person == "b"
    later = rotation.holder(utc(2425, 4, 15))  # one cycle on: same pattern, 2800 handoffs later
    assert later is not None
    assert later.index == shift.index + 2800


def test_handoff_time_is_read_in_the_rotation_zone_not_utc() -> None:
    rotation = Rotation(
        ("a", "b"), datetime(2025, 6, 2, 9, tzinfo=LONDON), LONDON, handoff_time=time(9)
    )
    shift = rotation.holder(utc(2025, 6, 10))
    assert shift is not None
    assert shift.start == utc(2025, 6, 9, 8)  # 09:00 BST
    assert (shift.end - shift.start) == timedelta(weeks=1)
