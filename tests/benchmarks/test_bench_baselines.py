"""The benchmarks' hand-written baselines give the library's answers, else a ratio is moot."""

from __future__ import annotations

import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_incident
import bench_metrics
import bench_oncall


@pytest.mark.parametrize(
    ("every", "period"),
    [
        (bench_oncall.Every.HOUR, timedelta(hours=1)),
        (bench_oncall.Every.DAY, timedelta(days=1)),
        (bench_oncall.Every.WEEK, timedelta(weeks=1)),
    ],
)
def test_oncall_baseline_agrees_across_dst(every: bench_oncall.Every, period: timedelta) -> None:
    schedule = bench_oncall._schedule(every)
    baseline = bench_oncall.HandWritten(schedule, period)
    start = bench_oncall.START.astimezone(UTC)
    instants = bench_oncall.dst_sweep() + bench_oncall._across_shifts(start, period)
    assert bench_oncall.check_same(schedule, baseline, instants) == len(instants)


def test_oncall_check_refuses_utc_arithmetic() -> None:
    """The check has teeth: plain UTC arithmetic drifts an hour at each DST change."""

    class UtcArithmetic(bench_oncall.HandWritten):
        def handoff(self, k: int):  # type: ignore[no-untyped-def]
            return self.anchor.replace(tzinfo=bench_oncall.LONDON).astimezone(UTC) + k * self.step

    schedule = bench_oncall._schedule(bench_oncall.Every.DAY)
    with pytest.raises(AssertionError, match="disagrees"):
        bench_oncall.check_same(
            schedule, UtcArithmetic(schedule, timedelta(days=1)), bench_oncall.dst_sweep()
        )


def test_metrics_loop_baseline_and_frozen_copy_agree_with_compute() -> None:
    items = bench_metrics.make(3_000, seed=7)
    bench_metrics._check_same(items, bench_metrics.tuples(items))
    bench_metrics._same_as_frozen(items)


def test_incident_scenario_is_thirty_appending_commands() -> None:
    captured = bench_incident.capture()
    assert len(captured) == bench_incident.COMMANDS == 30
    assert all(c.events and c.command is not None and c.summary for c in captured)


def test_runbooks_scan_baseline_agrees_with_the_index() -> None:
    import random

    import bench_runbooks

    from incidentkit.runbooks import RunbookIndex, scan

    rng = random.Random(3)
    runbooks = bench_runbooks._runbooks(rng)[:500]
    index = RunbookIndex(runbooks)
    alerts = bench_runbooks._alerts(rng)
    found = [index.match(a) for a in alerts]
    assert found == [scan(runbooks, a) for a in alerts]
    assert any(found)


def test_uptime_baseline_agrees_with_the_library() -> None:
    import random

    import bench_uptime

    from incidentkit.status.uptime import uptime

    intervals = bench_uptime.history(random.Random(3))[:2000]
    end = intervals[-1].end
    found = uptime(intervals, bench_uptime.START, end, config=bench_uptime.CONFIG)
    down, maintenance = bench_uptime.single_pass(intervals)
    assert found.down.total_seconds() == pytest.approx(down)
    assert found.maintenance.total_seconds() == maintenance


def test_dryrun_benchmark_policy_has_the_issue_15_shape() -> None:
    import bench_dryrun

    policy = bench_dryrun.build()
    schedule = policy.oncall.schedules[0]
    escalation = policy.oncall.escalation.policies[0]
    assert (len(escalation.steps), len(schedule.layers), len(schedule.overrides)) == (10, 5, 200)
    start = bench_dryrun.START.astimezone(UTC)
    for base in (start + timedelta(weeks=1), start + timedelta(days=5 * 365)):
        for at in bench_dryrun.instants(base)[:5]:
            pages = bench_dryrun.who_would_be_paged(policy, "SEV1", at)
            assert len(pages) == 45 and {p.channel for p in pages} == {"push", "sms", "phone"}
