"""Hand-computed fixtures for incidentkit.metrics.compute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from incidentkit import metrics
from incidentkit.errors import ValidationError
from incidentkit.metrics import Basis, Metric
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary, MemoryStore

from ._metrics_fixtures import LOGIN, T0, at, summary

PST = ZoneInfo("America/Los_Angeles")


def test_login_fixture_is_the_guides_wall_clock() -> None:
    assert LOGIN.started_at is not None
    assert LOGIN.resolved_at is not None
    assert LOGIN.started_at.astimezone(PST) == datetime(2024, 11, 20, 14, 29, tzinfo=PST)
    assert LOGIN.resolved_at.astimezone(PST).strftime("%H:%M") == "14:51"


def test_login_incident_figures() -> None:
    report = metrics.compute([LOGIN])
    overall = report.overall
    assert overall.incidents == 1
    assert overall[Metric.MTTD].mean == 60  # 14:30 − 14:29
    assert overall[Metric.MTTA].mean == 60  # 14:31 − 14:30
    assert overall[Metric.MTTM].mean == 12 * 60  # 14:42 − 14:30
    assert overall[Metric.MTTR].mean == 21 * 60  # 14:51 − 14:30
    assert overall[Metric.MTTR].definition == "resolved_at − detected_at"
    assert overall[Metric.MTBF].count == 0
    assert overall[Metric.MTBF].mean is None
    # SEV1: acknowledged after 1 min (< 5), detected after 1 (< 5), resolved after 21 (< 30)
    assert report.breaches == ()
    assert report.data_errors == ()


@pytest.mark.parametrize(
    ("basis", "minutes", "text"),
    [
        (Basis.STARTED, 22, "resolved_at − started_at"),  # 14:51 − 14:29
        (Basis.DETECTED, 21, "resolved_at − detected_at"),  # 14:51 − 14:30
        (Basis.DECLARED, 19, "resolved_at − declared_at"),  # 14:51 − 14:32
        ("declared", 19, "resolved_at − declared_at"),
    ],
)
def test_mttr_basis(basis: Basis | str, minutes: int, text: str) -> None:
    report = metrics.compute([LOGIN], basis=basis)
    assert report.basis == Basis(basis)
    assert report.overall[Metric.MTTR].mean == minutes * 60
    assert report.overall[Metric.MTTR].definition == text
    assert report.definition(Metric.MTTR) == text


def test_mean_and_nearest_rank_percentiles() -> None:
    # MTTR (from detection at minute 0) of 1..10 minutes
    items = [summary(f"I{i}", detected=0, resolved=i) for i in range(1, 11)]
    figure = metrics.compute(items).overall[Metric.MTTR]
    assert figure.count == 10
    assert figure.total == 55 * 60
    assert figure.mean == 5.5 * 60
    assert figure.p50 == 5 * 60  # x[ceil(0.5·10) − 1] = x[4]
    assert figure.p90 == 9 * 60  # x[ceil(0.9·10) − 1] = x[8]
    assert figure.max == 10 * 60


def test_percentiles_of_small_samples() -> None:
    items = [summary("A", detected=0, resolved=4), summary("B", detected=0, resolved=1)]
    figure = metrics.compute(items).overall[Metric.MTTR]
    assert (figure.p50, figure.p90, figure.max) == (60, 240, 240)


def test_missing_timestamps_are_excluded_and_counted_per_metric() -> None:
    items = [
        summary("A"),
        summary("B", started=None),  # no MTTD, no MTBF
        summary("C", acknowledged=None, mitigated=None),  # no MTTA, no MTTM
        summary("D", resolved=None),  # still open: no MTTR, no MTBF
        summary("E", detected=None),  # no MTTD, MTTA, MTTM, MTTR (basis detected)
    ]
    overall = metrics.compute(items).overall
    counts = {m: (overall[m].count, overall[m].excluded_missing) for m in Metric}
    assert counts[Metric.MTTD] == (3, 2)
    assert counts[Metric.MTTA] == (3, 2)
    assert counts[Metric.MTTM] == (3, 2)
    assert counts[Metric.MTTR] == (3, 2)
    # MTBF: A, C and E form windows [0, 20) on "api" → they overlap; B and D excluded
    assert overall[Metric.MTBF].excluded_missing == 2
    assert overall[Metric.MTBF].overlapping == 2
    assert overall[Metric.MTBF].count == 0
    # never treated as zero: the means are those of the included incidents only
    assert overall[Metric.MTTD].mean == 60
    assert overall[Metric.MTTR].mean == 19 * 60


def test_with_started_basis_a_missing_detection_does_not_exclude_mttr() -> None:
    overall = metrics.compute([summary("E", detected=None)], basis="started").overall
    assert overall[Metric.MTTR].count == 1
    assert overall[Metric.MTTR].mean == 20 * 60


def test_timestamps_running_backwards_are_data_errors() -> None:
    items = [
        summary("OK"),
        summary("BAD-R", resolved=0.5),  # resolved before detected (and after started)
        summary("BAD-D", started=5),  # detected before started
    ]
    report = metrics.compute(items)
    overall = report.overall
    assert overall[Metric.MTTR].count == 2
    assert overall[Metric.MTTR].excluded_invalid == 1
    assert overall[Metric.MTTD].excluded_invalid == 1
    assert overall[Metric.MTTD].count == 2
    found = {(e.incident_id, e.metric) for e in report.data_errors}
    # BAD-D: resolved 20 is after started 5, so its MTBF window is fine
    assert found == {("BAD-R", Metric.MTTR), ("BAD-D", Metric.MTTD)}
    error = next(e for e in report.data_errors if e.incident_id == "BAD-R")
    assert (error.start_field, error.end_field) == ("detected_at", "resolved_at")
    assert error.start == at(1) and error.end == at(0.5)
    assert "BAD-R" in str(error) and "resolved_at" in str(error)
    # the bad incident still counts for the metrics whose timestamps are in order
    assert overall[Metric.MTTA].count == 3


def test_resolved_before_started_is_an_mtbf_data_error() -> None:
    report = metrics.compute(
        [summary("X", started=30, detected=31, acknowledged=32, mitigated=33, resolved=25)]
    )
    assert [e.metric for e in report.data_errors] == [Metric.MTTR, Metric.MTBF]
    assert report.overall[Metric.MTBF].excluded_invalid == 1


def test_mtbf_per_service_with_overlaps() -> None:
    items = [
        # api: [0,60) [180,210) [190,240) [360,370)  → gaps 120 and 120, one overlap
        summary("A", services=("api",), started=0, detected=1, resolved=60),
        summary("B", services=("api",), started=180, detected=181, resolved=210),
        summary("C", services=("api", "db"), started=190, detected=191, resolved=240),
        summary("D", services=("api",), started=360, detected=361, resolved=370),
        # db: [100,130) [190,240)  → gap 60
        summary("E", services=("db",), started=100, detected=101, resolved=130),
    ]
    report = metrics.compute(items, by="service")
    api = report.group(service="api")[Metric.MTBF]
    assert (api.count, api.mean, api.overlapping) == (2, 120 * 60, 1)
    db = report.group(service="db")[Metric.MTBF]
    assert (db.count, db.mean, db.overlapping) == (1, 60 * 60, 0)
    # overall pools the per-service gaps; C counts once for each of its services
    overall = report.overall[Metric.MTBF]
    assert overall.count == 3
    assert overall.total == (120 + 120 + 60) * 60
    assert overall.overlapping == 1
    assert (overall.p50, overall.max) == (120 * 60, 120 * 60)


def test_mtbf_nested_incident_keeps_the_longer_window() -> None:
    items = [
        summary("OUTER", started=0, detected=0, resolved=100),
        summary("INNER", started=10, detected=10, resolved=20),
        summary("NEXT", started=130, detected=130, resolved=140),
    ]
    figure = metrics.compute(items).overall[Metric.MTBF]
    assert (figure.count, figure.mean, figure.overlapping) == (1, 30 * 60, 1)


def test_mtbf_touching_windows_give_a_zero_gap() -> None:
    items = [
        summary("A", started=0, detected=0, resolved=10),
        summary("B", started=10, detected=10, resolved=20),
    ]
    figure = metrics.compute(items).overall[Metric.MTBF]
    assert (figure.count, figure.mean, figure.overlapping) == (1, 0, 0)


def _open(
    incident_id: str, started: float | None, services: tuple[str, ...] = ("api",)
) -> IncidentSummary:
    """An incident that started (or not) and was never resolved."""
    return summary(
        incident_id,
        services=services,
        started=started,
        detected=started,
        declared=started,
        acknowledged=None,
        mitigated=None,
        resolved=None,
    )


def _done(incident_id: str, started: float, resolved: float) -> IncidentSummary:
    return summary(incident_id, started=started, detected=started, resolved=resolved)


# (incidents, expected gaps in minutes, excluded_missing, overlapping)
MTBF_CASES = {
    # the gap A→B is cut at the start of the unresolved U; U starts no gap to B
    "open between two resolved": (
        [_done("A", 0, 10), _open("U", 30), _done("B", 100, 110)],
        [20],
        1,
        0,
    ),
    "open after the last resolved": ([_done("A", 0, 10), _open("U", 25)], [15], 1, 0),
    "open first in the stream": ([_open("U", 0), _done("A", 30, 40)], [], 1, 0),
    "two open in a row": (
        [_done("A", 0, 10), _open("U", 20), _open("V", 50), _done("B", 90, 95)],
        [10],
        2,
        0,
    ),
    "open inside a failure window changes nothing": (
        [_done("A", 0, 60), _open("U", 30), _done("B", 100, 110)],
        [40],
        1,
        0,
    ),
    "open at the instant of a resolution ends a zero gap": (
        [_done("A", 0, 10), _open("U", 10), _done("B", 50, 60)],
        [0],
        1,
        0,
    ),
    "resolved and open at one start: the resolved window comes first": (
        [_done("A", 0, 10), _done("B", 20, 20), _open("U", 20), _done("C", 40, 45)],
        [10, 0],
        1,
        0,
    ),
    "gaps resume after the next resolution": (
        [_done("A", 0, 10), _open("U", 20), _done("B", 50, 60), _done("C", 90, 95)],
        [10, 30],
        1,
        0,
    ),
    "an open incident without started_at ends nothing": (
        [_done("A", 0, 10), _open("U", None), _done("B", 100, 110)],
        [90],
        1,
        0,
    ),
    "overlaps still merge around an open incident": (
        [_done("A", 0, 10), _done("B", 5, 20), _open("U", 40), _done("C", 60, 70)],
        [20],
        1,
        1,
    ),
}


@pytest.mark.parametrize(
    ("items", "gaps", "missing", "overlapping"), MTBF_CASES.values(), ids=list(MTBF_CASES)
)
def test_mtbf_an_unresolved_incident_ends_the_gap_before_it(
    items: list[IncidentSummary], gaps: list[float], missing: int, overlapping: int
) -> None:
    report = metrics.compute(items)
    figure = report.overall[Metric.MTBF]
    assert figure.count == len(gaps)
    assert figure.total == sum(gaps) * 60
    assert figure.max == (max(gaps) * 60 if gaps else None)
    assert (figure.excluded_missing, figure.overlapping) == (missing, overlapping)
    # a breakdown by service computes the same gaps within its group
    grouped = metrics.compute(items, by="service").group(service="api")[Metric.MTBF]
    assert grouped == figure


def test_mtbf_open_incident_ends_the_gap_only_on_its_own_services() -> None:
    items = [
        summary("A", services=("api", "db"), started=0, detected=0, resolved=10),
        _open("U", 30, services=("api",)),
        summary("B", services=("api", "db"), started=100, detected=100, resolved=110),
    ]
    report = metrics.compute(items, by="service")
    assert report.group(service="api")[Metric.MTBF].total == 20 * 60
    assert report.group(service="db")[Metric.MTBF].total == 90 * 60
    overall = report.overall[Metric.MTBF]
    assert (overall.count, overall.total, overall.excluded_missing) == (2, 110 * 60, 1)


def test_incidents_without_services_form_their_own_stream() -> None:
    items = [
        summary("A", services=(), started=0, detected=0, resolved=10),
        summary("B", services=(), started=40, detected=40, resolved=50),
    ]
    report = metrics.compute(items, by=["service"])
    assert report.overall[Metric.MTBF].mean == 30 * 60
    assert [g.key for g in report.groups] == [(("service", ""),)]
    assert report.groups[0].label == "service=(none)"


def test_breakdown_by_severity_and_service() -> None:
    items = [
        summary("A", severity=Severity.SEV1, services=("api", "db"), resolved=11),
        summary("B", severity=Severity.SEV1, services=("api",), resolved=21),
        summary("C", severity=Severity.SEV2, services=("db",), resolved=31),
    ]
    report = metrics.compute(items, by=("severity", "service"))
    keys = [dict(g.key) for g in report.groups]
    assert keys == [
        {"severity": "SEV1", "service": "api"},
        {"severity": "SEV1", "service": "db"},
        {"severity": "SEV2", "service": "db"},
    ]
    assert report.group(severity="SEV1", service="api")[Metric.MTTR].mean == 15 * 60
    assert report.group(severity="SEV1", service="db")[Metric.MTTR].mean == 10 * 60
    assert report.group(severity="SEV2", service="db").incidents == 1
    assert report.overall.incidents == 3
    assert report.overall[Metric.MTTR].count == 3  # A counted once overall
    with pytest.raises(KeyError):
        report.group(severity="SEV3", service="api")


def test_breakdown_keys_follow_the_callers_order() -> None:
    items = [summary("A", severity=Severity.SEV3, services=("web",))]
    report = metrics.compute(items, by="service,severity")
    assert report.by == ("service", "severity")
    assert report.groups[0].key == (("service", "web"), ("severity", "SEV3"))


def test_month_breakdown_uses_the_calendar_of_the_zone() -> None:
    # declared 2024-11-01 03:30 UTC is still October 31 in Los Angeles (UTC−7 that day)
    early = summary("EARLY", declared=210, started=200, detected=205, resolved=230)
    later = summary("LATER", declared=60 * 24 * 3)
    utc = metrics.compute([early, later], by="month")
    assert [dict(g.key)["month"] for g in utc.groups] == ["2024-11"]
    la = metrics.compute([early, later], by="month", zone="America/Los_Angeles")
    assert [dict(g.key)["month"] for g in la.groups] == ["2024-10", "2024-11"]
    assert la.group(month="2024-10").incidents == 1
    assert isinstance(la.zone, ZoneInfo)


def test_month_of_an_undeclared_incident_is_empty() -> None:
    report = metrics.compute([summary("U", declared=None)], by="month")
    assert report.groups[0].key == (("month", ""),)


def test_since_until_filter_declared_at_half_open() -> None:
    items = [summary(f"I{m}", declared=m, started=m, detected=m, resolved=m + 5) for m in range(5)]
    items.append(summary("UNDECLARED", declared=None))
    report = metrics.compute(items, since=at(1), until=at(3))
    assert report.incidents == 2  # declared at minutes 1 and 2; 3 is outside
    assert report.since == at(1) and report.until == at(3)
    assert metrics.compute(items).incidents == 6


def test_store_source_reads_summaries_with_the_same_filter() -> None:
    store = MemoryStore()
    items = [summary(f"I{m}", declared=m, started=m, detected=m, resolved=m + 5) for m in range(5)]
    for item in items:
        store.append(item.incident_id, [], 0, summary=item)
    from_store = metrics.compute(store, since=at(1), until=at(3), by="severity")
    from_list = metrics.compute(items, since=at(1), until=at(3), by="severity")
    assert from_store == from_list
    assert from_store.incidents == 2


def test_since_and_until_may_be_in_any_zone() -> None:
    report = metrics.compute([LOGIN], since=datetime(2024, 11, 20, 14, 0, tzinfo=PST))
    assert report.incidents == 1
    assert report.since == datetime(2024, 11, 20, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"since": datetime(2024, 1, 1)}, "since"),
        ({"until": datetime(2024, 1, 1)}, "until"),
        ({"since": T0 + timedelta(days=1), "until": T0}, "since"),
        ({"basis": "closed"}, "basis"),
        ({"by": ("severity", "team")}, "by"),
        ({"by": "sev"}, "by"),
        ({"zone": "Mars/Olympus"}, "zone"),
        ({"targets": {"mttr": 5}}, "targets"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    store = MemoryStore()
    store.append("A", [], 0, summary=summary("A"))
    before = store.summaries()
    with pytest.raises(ValidationError) as info:
        metrics.compute(store, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert store.summaries() == before


def test_naive_timestamp_in_a_summary_is_refused_naming_incident_and_field() -> None:
    naive = attrs.evolve(summary("NAIVE"), acknowledged_at=datetime(2024, 11, 1, 0, 3))
    with pytest.raises(ValidationError) as info:
        metrics.compute([summary("A"), naive])
    assert info.value.field == "NAIVE.acknowledged_at"


def test_since_equal_to_until_is_an_empty_report() -> None:
    report = metrics.compute([summary("A")], since=at(2), until=at(2))
    assert report.incidents == 0
    assert all(f.count == 0 and f.mean is None for f in report.overall.figures)


def test_empty_source() -> None:
    report = metrics.compute([], by="severity")
    assert report.incidents == 0
    assert report.groups == ()


def test_a_one_shot_iterator_is_read_once() -> None:
    items = [summary("A"), summary("B", resolved=40)]
    report = metrics.compute(iter(items), since=at(0), by="severity")
    assert report.incidents == 2
    assert report.overall[Metric.MTTR].mean == 29 * 60


def test_breaches_behave_as_an_immutable_sequence() -> None:
    items = [summary(f"S{i}", detected=0, resolved=40 + i) for i in range(5)]
    breaches = metrics.compute(items).breaches
    assert len(breaches) == 5
    assert [b.incident_id for b in breaches] == ["S0", "S1", "S2", "S3", "S4"]
    assert breaches[-1] == metrics.Breach("S4", Severity.SEV2, Metric.MTTR, 2640.0, 1800.0)
    assert list(breaches[1:3]) == list(breaches)[1:3]
    assert breaches == tuple(breaches)
    assert breaches == list(breaches)
    assert breaches == metrics.Breaches.of(breaches)
    assert breaches != breaches[:4]
    assert "2 more" in repr(breaches)
    with pytest.raises(ValidationError):
        metrics.Breaches(["A"], [], [], [], [])
