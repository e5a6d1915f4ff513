"""Invariants of incidentkit.metrics.compute, checked with hypothesis."""

from __future__ import annotations

import itertools
import math

import attrs
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from incidentkit import metrics
from incidentkit.metrics import Basis, Metric
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary

from ._metrics_fixtures import at, summary

SERVICES = ("api", "db", "web")
minutes = st.one_of(st.none(), st.integers(min_value=0, max_value=600))


@st.composite
def incidents(draw: st.DrawFn) -> list[IncidentSummary]:
    count = draw(st.integers(min_value=0, max_value=25))
    out = []
    for i in range(count):
        start = draw(minutes)
        out.append(
            summary(
                f"INC-{i:03d}",
                severity=draw(st.sampled_from(list(Severity))),
                services=tuple(draw(st.sets(st.sampled_from(SERVICES), max_size=2))),
                started=start,
                detected=draw(minutes),
                declared=draw(minutes),
                acknowledged=draw(minutes),
                mitigated=draw(minutes),
                resolved=draw(minutes),
            )
        )
    return out


_PAIRS = {
    Metric.MTTD: ("started_at", "detected_at"),
    Metric.MTTA: ("detected_at", "acknowledged_at"),
    Metric.MTTM: ("detected_at", "mitigated_at"),
    Metric.MTTR: ("detected_at", "resolved_at"),
}


def durations(items: list[IncidentSummary], metric: Metric) -> list[float]:
    """Independent oracle: the included durations of ``metric`` in seconds."""
    start_field, end_field = _PAIRS[metric]
    out = []
    for item in items:
        start, end = getattr(item, start_field), getattr(item, end_field)
        if start is not None and end is not None and end >= start:
            out.append((end - start).total_seconds())
    return out


def mtbf_gaps(items: list[IncidentSummary]) -> list[float]:
    """Independent oracle: per service, walk the starts and resolutions in time order.

    A resolved incident is an interval [started, resolved]; intervals that overlap
    merge. An unresolved incident that started is a point: it ends the gap before
    it (if it started after the failure window so far had ended) and starts none,
    so the next incident after it opens a new failure window without a gap.
    """
    gaps = []
    for service in {s for item in items for s in (item.services or ("",))}:
        mine = [i for i in items if service in (i.services or ("",)) and i.started_at is not None]
        closed = sorted(
            (i.started_at, i.resolved_at)
            for i in mine
            if i.resolved_at is not None and i.resolved_at >= i.started_at  # type: ignore[operator]
        )
        points = sorted(i.started_at for i in mine if i.resolved_at is None)
        # merged failure windows, each [start, end]; an open incident is [start, None]
        merged: list[list[object]] = []
        timeline = sorted(
            [(s, 0, e) for s, e in closed] + [(s, 1, None) for s in points],
            key=lambda row: (row[0], row[1]),
        )
        for start, is_open, end in timeline:
            last_end = merged[-1][1] if merged else None
            if last_end is not None and start < last_end:  # type: ignore[operator]
                if not is_open:
                    merged[-1][1] = max(last_end, end)  # type: ignore[type-var]
                continue
            merged.append([start, end])
        gaps.extend(
            (b[0] - a[1]).total_seconds()  # type: ignore[operator]
            for a, b in itertools.pairwise(merged)
            if a[1] is not None
        )
    return gaps


@settings(max_examples=80, deadline=None)
@given(incidents())
def test_mean_is_sum_over_included_count(items: list[IncidentSummary]) -> None:
    overall = metrics.compute(items).overall
    for metric in _PAIRS:
        figure = overall[metric]
        expected = durations(items, metric)
        assert figure.count == len(expected)
        assert figure.total == math.fsum(expected)
        assert figure.count + figure.excluded == len(items)
        if expected:
            assert figure.mean == figure.total / figure.count
            assert figure.max == max(expected)
            assert min(expected) <= figure.p50 <= figure.p90 <= figure.max  # type: ignore[operator]
        else:
            assert figure.mean is None


@settings(max_examples=80, deadline=None)
@given(incidents())
def test_mtbf_matches_merged_intervals(items: list[IncidentSummary]) -> None:
    figure = metrics.compute(items).overall[Metric.MTBF]
    expected = sorted(mtbf_gaps(items))
    assert figure.count == len(expected)
    assert figure.total == math.fsum(expected)
    assert figure.max == (expected[-1] if expected else None)


def _pairs(items: list[IncidentSummary]) -> list[tuple[IncidentSummary, str]]:
    return [(i, s) for i in items for s in (i.services or ("",))]


@settings(max_examples=80, deadline=None)
@given(incidents())
def test_mtbf_loses_no_incident(items: list[IncidentSummary]) -> None:
    """Every (incident, service) pair is a failure window or counted as excluded."""
    for by in ((), ("service",)):
        report = metrics.compute(items, by=by)
        for group in (report.overall, *report.groups):
            service = dict(group.key).get("service")
            pairs = [(i, s) for i, s in _pairs(items) if service is None or s == service]
            windows = [
                i
                for i, _ in pairs
                if i.started_at is not None
                and i.resolved_at is not None
                and i.resolved_at >= i.started_at
            ]
            figure = group[Metric.MTBF]
            assert len(windows) + figure.excluded_missing + figure.excluded_invalid == len(pairs)
            open_pairs = [i for i, _ in pairs if i.started_at is not None and i.resolved_at is None]
            assert figure.excluded_missing >= len(open_pairs)


def _resolved(
    incident_id: str, started: int, resolved: int, services: tuple[str, ...]
) -> IncidentSummary:
    return summary(
        incident_id, services=services, started=started, detected=started, resolved=resolved
    )


@st.composite
def resolved_history(draw: st.DrawFn) -> list[IncidentSummary]:
    count = draw(st.integers(min_value=2, max_value=12))
    out = []
    for i in range(count):
        start = draw(st.integers(min_value=0, max_value=600))
        length = draw(st.integers(min_value=0, max_value=60))
        services = tuple(draw(st.sets(st.sampled_from(SERVICES), min_size=0, max_size=2)))
        out.append(_resolved(f"INC-{i:03d}", start, start + length, services))
    return out


@settings(max_examples=150, deadline=None)
@given(resolved_history(), st.sampled_from(("", *SERVICES)), st.data())
def test_an_unresolved_incident_never_lengthens_a_gap(
    items: list[IncidentSummary], service: str, data: st.DataObject
) -> None:
    """An unresolved incident that starts between two resolved ones on its service.

    The gaps keep their number and none grows; when it starts inside a gap, that
    gap ends at its start. It is counted as excluded, never lost.
    """
    services = (service,) if service else ()
    starts = sorted(
        int((i.started_at - at(0)).total_seconds() // 60)  # type: ignore[operator]
        for i in items
        if service in (i.services or ("",))
    )
    assume(len(starts) >= 2 and starts[0] < starts[-1])
    started = data.draw(st.integers(min_value=starts[0], max_value=starts[-1] - 1))
    unresolved = summary(
        "OPEN", services=services, started=started, detected=started, resolved=None
    )
    old_gaps = sorted(mtbf_gaps(items))
    new_gaps = sorted(mtbf_gaps([*items, unresolved]))
    assert len(new_gaps) == len(old_gaps)
    assert all(n <= o for n, o in zip(new_gaps, old_gaps, strict=True))
    for by in ((), ("service",)):
        before = metrics.compute(items, by=by)
        after = metrics.compute([*items, unresolved], by=by)
        pairs = [(before.overall, after.overall)]
        if by:
            pairs.append((before.group(service=service), after.group(service=service)))
        for old_group, new_group in pairs:
            old, new = old_group[Metric.MTBF], new_group[Metric.MTBF]
            assert new.count == old.count
            assert new.total <= old.total
            assert (new.max or 0) <= (old.max or 0)
            assert new.excluded_missing == old.excluded_missing + 1
            assert new.excluded_invalid == old.excluded_invalid
        # the other services' groups are untouched
        for group in before.groups:
            if dict(group.key)["service"] != service:
                assert after.group(service=dict(group.key)["service"]) == group
    assert metrics.compute([*items, unresolved]).overall[Metric.MTBF].total == math.fsum(new_gaps)


@settings(max_examples=60, deadline=None)
@given(incidents(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_input_order(items: list[IncidentSummary], rnd: object) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for by in ((), ("severity", "service"), ("month",)):
        assert metrics.compute(items, by=by) == metrics.compute(shuffled, by=by)


@settings(max_examples=60, deadline=None)
@given(
    incidents().filter(bool),
    st.data(),
    st.sampled_from(
        ["started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at"]
    ),
)
def test_removing_a_timestamp_moves_only_that_incident(
    items: list[IncidentSummary], data: st.DataObject, field: str
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(items) - 1))
    victim = items[index]
    changed = list(items)
    changed[index] = attrs.evolve(victim, **{field: None})
    before = metrics.compute(items, by="service")
    after = metrics.compute(changed, by="service")
    for metric, pair in _PAIRS.items():
        was_in = durations([victim], metric)
        old, new = before.overall[metric], after.overall[metric]
        if field in pair and was_in:
            assert new.count == old.count - 1
            assert new.excluded_missing == old.excluded_missing + 1
        elif field in pair:
            # already excluded (missing or backwards): now counted as missing
            assert new.count == old.count
        else:
            assert new == old
        # the other incidents' durations are untouched
        others = durations(items[:index] + items[index + 1 :], metric)
        assert sorted(durations(changed, metric)) == sorted(
            others + durations([changed[index]], metric)
        )
    # groups the victim is not in keep every figure
    victim_services = set(victim.services or ("",))
    for group in before.groups:
        if dict(group.key)["service"] not in victim_services:
            assert after.group(service=dict(group.key)["service"]) == group


@settings(max_examples=40, deadline=None)
@given(incidents(), st.sampled_from(list(Basis)))
def test_group_counts_add_up_without_service_fan_out(
    items: list[IncidentSummary], basis: Basis
) -> None:
    report = metrics.compute(items, by="severity,month", basis=basis)
    assert sum(g.incidents for g in report.groups) == report.overall.incidents
    for metric in (Metric.MTTD, Metric.MTTA, Metric.MTTM, Metric.MTTR):
        assert sum(g[metric].count for g in report.groups) == report.overall[metric].count
        assert math.isclose(
            sum(g[metric].total for g in report.groups), report.overall[metric].total
        )


def test_oracle_sanity() -> None:
    items = [summary("A", started=0, detected=5, resolved=10)]
    assert durations(items, Metric.MTTD) == [300.0]
    assert mtbf_gaps([*items, summary("B", started=15, resolved=16, detected=15)]) == [300.0]
    assert at(1) > at(0)
