"""Acceptance tests 5-10 of wave2-specs §2.3 and the uptime properties of issue 12."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.status import ComponentStatus, Interval, SlaTarget, UptimeConfig
from incidentkit.status.uptime import (
    day_bars,
    merge,
    month_bounds,
    sla_result,
    uptime,
    window_bounds,
)

S = ComponentStatus


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


def test_5_incident_io_rule() -> None:
    found = uptime(
        [
            Interval(at(9), at(9, 10), S.OPERATIONAL),
            Interval(at(9, 10), at(9, 40), S.DEGRADED_PERFORMANCE),
            Interval(at(9, 40), at(10), S.MAJOR_OUTAGE),
        ],
        at(9),
        at(10),
    )
    assert found.percent == pytest.approx(200 / 3)
    assert found.down == timedelta(minutes=20)


def test_6_instatus_rule() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=90)
    assert (end - start) / timedelta(minutes=1) == 129_600
    config = UptimeConfig(weights={S.PARTIAL_OUTAGE: 0.3})
    found = uptime(
        [
            Interval(
                start + timedelta(days=1), start + timedelta(days=1, minutes=60), S.MAJOR_OUTAGE
            ),
            Interval(
                start + timedelta(days=2), start + timedelta(days=2, minutes=100), S.PARTIAL_OUTAGE
            ),
        ],
        start,
        end,
        config=config,
    )
    assert found.percent == pytest.approx((129_600 - 60 - 30) / 129_600 * 100)
    assert round(found.percent or 0, 4) == 99.9306


def test_7_overlaps_are_merged() -> None:
    intervals = [
        Interval(at(10), at(11), S.MAJOR_OUTAGE),
        Interval(at(10, 30), at(11, 30), S.MAJOR_OUTAGE),
    ]
    found = uptime(intervals, at(0), at(0, day=2))
    assert found.down == timedelta(minutes=90)
    assert merge(intervals) == [Interval(at(10), at(11, 30), S.MAJOR_OUTAGE)]


def test_7_the_worst_status_wins_an_overlap() -> None:
    merged = merge(
        [
            Interval(at(10), at(12), S.DEGRADED_PERFORMANCE),
            Interval(at(11), at(11, 30), S.MAJOR_OUTAGE),
        ]
    )
    assert [(i.start, i.end, i.status) for i in merged] == [
        (at(10), at(11), S.DEGRADED_PERFORMANCE),
        (at(11), at(11, 30), S.MAJOR_OUTAGE),
        (at(11, 30), at(12), S.DEGRADED_PERFORMANCE),
    ]


def test_8_maintenance_is_excluded_by_default() -> None:
    window = (at(0), at(0, day=2))
    maintenance = [Interval(at(2), at(4), S.UNDER_MAINTENANCE)]
    found = uptime(maintenance, *window)
    assert found.percent == 100.0
    assert found.tracked == timedelta(hours=22)
    assert found.maintenance == timedelta(hours=2)
    outage = [*maintenance, Interval(at(5), at(5, 22), S.MAJOR_OUTAGE)]
    excluded = uptime(outage, *window)
    counted_up = uptime(outage, *window, config=UptimeConfig(maintenance="up"))
    assert excluded.percent == pytest.approx(100 * (1 - 22 / (22 * 60)))
    assert counted_up.percent == pytest.approx(100 * (1 - 22 / (24 * 60)))


def test_9_window_clipped_to_the_start_date_and_none_without_data() -> None:
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    start, end = window_bounds("90d", now)
    created_today = datetime(2024, 6, 1, 0, tzinfo=UTC)
    found = uptime([], start, end, tracked_from=created_today)
    assert found.percent == 100.0 and found.tracked == timedelta(hours=12)
    outage = [
        Interval(
            datetime(2024, 6, 1, 6, tzinfo=UTC), datetime(2024, 6, 1, 9, tzinfo=UTC), S.MAJOR_OUTAGE
        )
    ]
    assert uptime(outage, start, end, tracked_from=created_today).percent == pytest.approx(75.0)
    assert uptime([], start, end, tracked_from=now).percent is None
    assert uptime([], start, end, tracked_from=now + timedelta(days=1)).percent is None
    all_maintenance = [Interval(start, end, S.UNDER_MAINTENANCE)]
    assert uptime(all_maintenance, start, end).percent is None


def test_10_day_bars_in_a_zone_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    outage = [
        Interval(
            datetime(2024, 3, 10, 4, 30, tzinfo=UTC),
            datetime(2024, 3, 10, 5, 30, tzinfo=UTC),
            S.MAJOR_OUTAGE,
        )
    ]
    bars = day_bars(outage, date(2024, 3, 9), date(2024, 3, 10), ny)
    assert [b.day for b in bars] == [date(2024, 3, 9), date(2024, 3, 10)]
    assert [b.result.down for b in bars] == [timedelta(minutes=30)] * 2
    assert bars[0].result.tracked == timedelta(minutes=1440)
    assert bars[1].result.tracked == timedelta(minutes=1380)
    assert bars[1].result.percent == pytest.approx(100 * (1 - 30 / 1380))


def test_calendar_months_start_at_local_midnight() -> None:
    ny = ZoneInfo("America/New_York")
    first, after = month_bounds(2024, 3, ny)
    assert first == datetime(2024, 3, 1, 5, tzinfo=UTC)
    assert after == datetime(2024, 4, 1, 4, tzinfo=UTC)
    assert month_bounds(2024, 12, ny)[1] == datetime(2025, 1, 1, 5, tzinfo=UTC)
    with pytest.raises(ik.ValidationError):
        month_bounds(2024, 13, ny)


def test_sla_target_and_error_budget() -> None:
    first, after = month_bounds(2024, 4, ZoneInfo("UTC"))
    minutes = (after - first) / timedelta(minutes=1)  # 43 200
    outage = [
        Interval(first + timedelta(days=3), first + timedelta(days=3, minutes=30), S.MAJOR_OUTAGE)
    ]
    result = sla_result(uptime(outage, first, after), SlaTarget(99.95))
    assert result.met is False
    assert result.budget == timedelta(minutes=minutes * 0.0005)  # 21.6 minutes
    assert result.remaining == result.budget - timedelta(minutes=30)
    fine = sla_result(uptime([], first, after), 99.95)
    assert fine.met is True and fine.remaining == fine.budget
    assert sla_result(uptime([], first, first), 99.9).met is None


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ik.ValidationError) as err:
        uptime([], at(10), at(9))
    assert err.value.field == "end"
    with pytest.raises(ik.ValidationError) as err:
        uptime([], datetime(2024, 1, 1), at(9))
    assert err.value.field == "start"
    with pytest.raises(ik.ValidationError) as err:
        window_bounds("5y", at(9))
    assert err.value.field == "window"
    with pytest.raises(ik.ValidationError):
        Interval(at(10), at(9), S.MAJOR_OUTAGE)
    with pytest.raises(ValueError):
        Interval(at(9), at(10), "down")  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------

BASE = datetime(2024, 1, 1, tzinfo=UTC)
WINDOW = (BASE, BASE + timedelta(days=1))
statuses = st.sampled_from(list(ComponentStatus))


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    start = draw(st.integers(-120, 1500))
    length = draw(st.integers(0, 600))
    return Interval(
        BASE + timedelta(minutes=start), BASE + timedelta(minutes=start + length), draw(statuses)
    )


configs = st.builds(
    UptimeConfig,
    weights=st.fixed_dictionaries(
        {
            S.PARTIAL_OUTAGE: st.sampled_from([1.0, 0.3]),
            S.DEGRADED_PERFORMANCE: st.sampled_from([0.0, 0.5]),
        }
    ),
    maintenance=st.sampled_from(["excluded", "up"]),
)


@given(st.lists(intervals(), max_size=12), configs)
def test_uptime_is_a_percentage_or_none(items: list[Interval], config: UptimeConfig) -> None:
    found = uptime(items, *WINDOW, config=config)
    assert found.percent is None or 0.0 <= found.percent <= 100.0
    if found.percent is None:
        assert config.maintenance == "excluded"


@given(
    st.lists(intervals(), max_size=8),
    st.integers(0, 1440),
    st.integers(0, 600),
    st.integers(0, 600),
)
def test_uptime_is_monotone_in_outage_length(
    items: list[Interval], start: int, short: int, extra: int
) -> None:
    def with_outage(minutes: int) -> float | None:
        outage = Interval(
            BASE + timedelta(minutes=start),
            BASE + timedelta(minutes=start + minutes),
            S.MAJOR_OUTAGE,
        )
        return uptime([*items, outage], *WINDOW).percent

    shorter, longer = with_outage(short), with_outage(short + extra)
    if shorter is not None and longer is not None:
        assert longer <= shorter + 1e-9


@given(intervals(), st.floats(0, 1), st.lists(intervals(), max_size=6), configs)
def test_splitting_an_interval_changes_nothing(
    item: Interval, fraction: float, others: list[Interval], config: UptimeConfig
) -> None:
    cut = item.start + (item.end - item.start) * fraction
    whole = uptime([item, *others], *WINDOW, config=config)
    split = uptime(
        [Interval(item.start, cut, item.status), Interval(cut, item.end, item.status), *others],
        *WINDOW,
        config=config,
    )
    assert split.percent == pytest.approx(whole.percent)
    assert abs((split.down - whole.down).total_seconds()) < 1e-3


@given(st.lists(intervals(), max_size=12), configs)
def test_merging_never_increases_downtime(items: list[Interval], config: UptimeConfig) -> None:
    merged = uptime(items, *WINDOW, config=config)
    summed = sum((uptime([i], *WINDOW, config=config).down for i in items), start=timedelta(0))
    assert merged.down <= summed + timedelta(microseconds=10)
    merged_again = merge(merge(items))
    assert merged_again == merge(items)
    assert all(a.end <= b.start for a, b in itertools.pairwise(merged_again))
