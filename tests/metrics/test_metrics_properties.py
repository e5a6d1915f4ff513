"""Invariants of incidentkit.metrics.compute, checked with hypothesis."""

from __future__ import annotations

import itertools
import math

import attrs
from hypothesis import given, settings
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
    """Independent oracle: merge each service's intervals, then measure the holes."""
    gaps = []
    for service in {s for item in items for s in (item.services or ("",))}:
        intervals = sorted(
            (i.started_at, i.resolved_at)
            for i in items
            if service in (i.services or ("",))
            and i.started_at is not None
            and i.resolved_at is not None
            and i.resolved_at >= i.started_at
        )
        merged: list[list[object]] = []
        for start, end in intervals:
            if merged and start < merged[-1][1]:  # type: ignore[operator]
                merged[-1][1] = max(merged[-1][1], end)  # type: ignore[type-var]
            else:
                merged.append([start, end])
        gaps.extend(
            (b[0] - a[1]).total_seconds()  # type: ignore[operator]
            for a, b in itertools.pairwise(merged)
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
