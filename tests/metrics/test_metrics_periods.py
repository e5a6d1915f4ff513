"""Issue 17: one definition of "next business day", day and week breakdowns, MTBF
across all services."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit import metrics
from incidentkit.business_days import BusinessDays
from incidentkit.errors import ValidationError
from incidentkit.metrics import Metric, Targets
from incidentkit.policy import Policy
from incidentkit.severity import Severity

from ._metrics_fixtures import T0, summary

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_EVENING = 17 * 60  # 2024-11-01 18:00 in Berlin
MONDAY_MORNING = (3 * 24 + 8) * 60  # 2024-11-04 09:00 in Berlin
TUESDAY_NOON = (4 * 24 + 11) * 60  # 2024-11-05 12:00 in Berlin


def _sev4(acknowledged: float) -> list[object]:
    return [
        summary(
            "INC-4",
            severity=Severity.SEV4,
            started=FRIDAY_EVENING - 2,
            detected=FRIDAY_EVENING - 1,
            declared=FRIDAY_EVENING,
            acknowledged=acknowledged,
            mitigated=None,
            resolved=None,
        )
    ]


def test_a_sev4_from_friday_evening_acknowledged_on_monday_meets_its_target() -> None:
    report = metrics.compute(_sev4(MONDAY_MORNING), zone=BERLIN)  # type: ignore[arg-type]
    assert [b.incident_id for b in report.breaches] == []
    late = metrics.compute(_sev4(TUESDAY_NOON), zone=BERLIN)  # type: ignore[arg-type]
    assert [(b.incident_id, b.target) for b in late.breaches] == [("INC-4", Metric.MTTA)]


def test_the_holiday_calendar_moves_the_target() -> None:
    monday_off = BusinessDays(holidays=frozenset({datetime(2024, 11, 4).date()}))
    report = metrics.compute(
        _sev4(TUESDAY_NOON),  # type: ignore[arg-type]
        zone=BERLIN,
        business_days=monday_off,
    )
    assert [b.incident_id for b in report.breaches] == []


def test_a_duration_in_acknowledge_wins_over_next_business_day() -> None:
    targets = Targets.from_mapping({"acknowledge": {"SEV4": "1d"}})
    report = metrics.compute(_sev4(MONDAY_MORNING), zone=BERLIN, targets=targets)  # type: ignore[arg-type]
    assert [b.limit for b in report.breaches] == [timedelta(days=1).total_seconds()]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=FRIDAY_EVENING, max_value=FRIDAY_EVENING + 7 * 24 * 60))
def test_metrics_and_the_severity_policy_agree_on_the_sev4_deadline(ack: int) -> None:
    policy = Policy.from_toml('zone = "Europe/Berlin"')
    declared = T0 + timedelta(minutes=FRIDAY_EVENING)
    due = policy.response_deadline(Severity.SEV4, declared)
    assert due is not None
    report = metrics.compute(
        _sev4(ack),  # type: ignore[arg-type]
        zone=policy.zone,
        business_days=policy.business_days,
    )
    breached = T0 + timedelta(minutes=ack) > due
    assert bool(report.breaches) is breached


def test_day_and_week_breakdowns_use_the_zone() -> None:
    items = [
        summary("INC-1", declared=22 * 60 + 30),  # 2024-11-01 23:30 Berlin, Friday
        summary("INC-2", declared=23 * 60 + 30),  # 2024-11-02 00:30 Berlin, Saturday
        summary("INC-3", declared=3 * 24 * 60),  # 2024-11-04 01:00 Berlin, Monday
    ]
    by_day = metrics.compute(items, by="day", zone=BERLIN)
    assert [(g.key, g.incidents) for g in by_day.groups] == [
        ((("day", "2024-11-01"),), 1),
        ((("day", "2024-11-02"),), 1),
        ((("day", "2024-11-04"),), 1),
    ]
    by_week = metrics.compute(items, by=("severity", "week"), zone=BERLIN)
    assert [(g.key, g.incidents) for g in by_week.groups] == [
        ((("severity", "SEV2"), ("week", "2024-W44")), 2),
        ((("severity", "SEV2"), ("week", "2024-W45")), 1),
    ]
    with pytest.raises(ValidationError, match="one period"):
        metrics.compute(items, by="month,week")


def test_mtbf_across_all_services() -> None:
    items = [
        summary("INC-1", services=("api",), started=0, resolved=10),
        summary("INC-2", services=("db",), started=30, resolved=40),
        summary("INC-3", services=("api",), started=100, resolved=110),
    ]
    per_service = metrics.compute(items).overall[Metric.MTBF]
    assert (per_service.count, per_service.mean) == (1, 90 * 60)  # api: 10 → 100
    across = metrics.compute(items, mtbf="all").overall[Metric.MTBF]
    assert (across.count, across.mean) == (2, 40 * 60)  # 10 → 30, 40 → 100
    with pytest.raises(ValidationError, match="mtbf"):
        metrics.compute(items, mtbf="team")


def test_the_cli_breaks_down_by_week_and_measures_mtbf_across_services() -> None:
    import argparse
    import io
    import json

    from incidentkit.metrics import add_metrics_parser, run_metrics

    items = [
        summary("INC-1", services=("api",), started=0, resolved=10),
        summary("INC-2", services=("db",), started=30, resolved=40),
    ]

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="incidentkit")
        add_metrics_parser(parser.add_subparsers(dest="command"))
        out, err = io.StringIO(), io.StringIO()
        args = parser.parse_args(["metrics", *argv])
        policy = Policy.from_toml('zone = "Europe/Berlin"')
        return run_metrics(args, items, out, err, policy=policy), out.getvalue(), err.getvalue()

    code, out, _ = run("--by", "week", "--mtbf", "all", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [g["key"] for g in data["groups"]] == [{"week": "2024-W44"}]
    assert data["zone"] == "Europe/Berlin"
    assert data["overall"]["metrics"]["mtbf"]["count"] == 1
    code, _, err = run("--by", "month,day")
    assert code == 2 and "--by" in err and "one period" in err
    code, _, err = run("chart", "--out", "x.png", "--by", "service")
    assert code == 2 and "month or week or day" in err


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=20 * 24 * 60),  # declared, minutes after T0
            st.integers(min_value=0, max_value=5 * 24 * 60),  # acknowledged after declaring
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Pacific/Chatham"]),
)
def test_many_sev4_incidents_in_one_call_each_get_their_own_deadline(
    incidents: list[tuple[int, int]], zone_name: str
) -> None:
    """compute() remembers deadlines by local date: the breaches must be exactly the
    incidents acknowledged after the end of the next business day after their
    own declaration, in the zone, as business_day_end says one at a time."""
    from incidentkit.business_days import business_day_end

    zone = ZoneInfo(zone_name)
    rows = [
        summary(
            f"INC-{n}",
            severity=Severity.SEV4,
            started=declared,
            detected=declared,
            declared=declared,
            acknowledged=declared + ack,
            mitigated=None,
            resolved=None,
        )
        for n, (declared, ack) in enumerate(incidents)
    ]
    expected = sorted(
        s.incident_id
        for s in rows
        if s.acknowledged_at is not None
        and s.declared_at is not None
        and s.acknowledged_at > business_day_end(s.declared_at, zone)
    )
    report = metrics.compute(rows, zone=zone)
    assert sorted(b.incident_id for b in report.breaches) == expected
    for breach in report.breaches:
        row = next(s for s in rows if s.incident_id == breach.incident_id)
        assert row.declared_at is not None and row.detected_at is not None
        limit = business_day_end(row.declared_at, zone) - row.detected_at
        assert breach.limit == limit.total_seconds()


@pytest.mark.parametrize("as_generator", [False, True])
def test_drills_are_left_out_of_lists_and_generators_alike(as_generator: bool) -> None:
    rows = [
        summary("INC-1"),
        summary("DRILL-2"),
        summary("DRILL-"),
        summary("DRILL.3"),
        summary("DRILLS-4"),
        summary("drill-5"),
        summary("DRILL"),
        summary(""),
    ]
    source = (s for s in rows) if as_generator else rows
    report = metrics.compute(source)
    kept = [s for s in rows if not s.incident_id.startswith("DRILL-")]
    assert report.overall.incidents == len(kept) == 6
    assert metrics.compute(iter(rows), include_drills=True).overall.incidents == len(rows)
