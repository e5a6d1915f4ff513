"""Uptime over five years of status changes for 50 components vs one pass over merged intervals.

Each component's history is a chain of status intervals over five years
whose boundaries fall on whole minutes (a change every 2 hours on average,
so 21,900 intervals per component and 1.1 million in all; ``--quick``: a
change every 20 hours). The subject is
:func:`incidentkit.status.uptime.uptime` for each of the 50 components over
the five-year window (its order check, clipping to the window, the
maintenance rule and the weight table); the baseline, in the same run, is a
hand-written single pass summing weighted minutes over the same already
merged intervals. Both must agree. Lower is better; the issue's target is
<= 1.5x.

A second row reads the page: ``kit.status.json("summary")`` (warm, after a
first read) on a SQLite file holding 2,000 resolved incidents, one in ten
posted to the page with a component change, against the same read with 100
such incidents. The section reloads only incidents whose version moved, so
the cost grows with the store's summary scan (noted beside it), not with
loading every timeline. Lower is better; no target.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta

from _harness import Result, compare, report, scaled

import incidentkit as ik
from incidentkit.status import ComponentStatus, Interval, UptimeConfig
from incidentkit.status.uptime import uptime

COMPONENTS = 50
START = datetime(2020, 1, 1, tzinfo=UTC)
END = START + timedelta(days=5 * 365)
MEAN_MINUTES = scaled(120, 1200)
STATUSES = [
    (ComponentStatus.OPERATIONAL, 0.90),
    (ComponentStatus.DEGRADED_PERFORMANCE, 0.04),
    (ComponentStatus.PARTIAL_OUTAGE, 0.03),
    (ComponentStatus.MAJOR_OUTAGE, 0.02),
    (ComponentStatus.UNDER_MAINTENANCE, 0.01),
]
CONFIG = UptimeConfig(weights={ComponentStatus.PARTIAL_OUTAGE: 0.3})


def history(rng: random.Random) -> list[Interval]:
    """One component's intervals: back to back, boundaries on whole minutes."""
    kinds = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    out: list[Interval] = []
    at = START
    while at < END:
        step = timedelta(minutes=rng.randint(1, 2 * MEAN_MINUTES))
        nxt = min(at + step, END)
        out.append(Interval(at, nxt, rng.choices(kinds, weights)[0]))
        at = nxt
    return out


def single_pass(merged: list[Interval]) -> tuple[float, float]:
    """The baseline: weighted down seconds and maintenance seconds, one loop, no checks."""
    weights = {status: CONFIG.weight(status) for status in ComponentStatus}
    down = 0.0
    maintenance = 0.0
    for item in merged:
        length = (item.end - item.start).total_seconds()
        if item.status is ComponentStatus.UNDER_MAINTENANCE:
            maintenance += length
        else:
            down += length * weights[item.status]
    return down, maintenance


PAGE_POLICY = """
[[status.components]]
id = "login"
name = "Login"

[[status.components]]
id = "api"
name = "API"
"""
SMALL, LARGE = scaled(100, 50), scaled(2_000, 400)


def _page_kit(folder: str, incidents: int) -> ik.IncidentKit:
    kit = ik.IncidentKit.open(
        f"sqlite:///{folder}/page-{incidents}.db",
        policy=ik.Policy.from_toml(PAGE_POLICY),
        clock=ik.ManualClock(START),
        autoload_plugins=False,
    )
    for n in range(incidents):
        iid = kit.declare(f"Incident {n}", severity="SEV3", by="alice").id
        if n % 10 == 0:
            kit.status.post(
                iid, "identified", "Slow logins", by="carol", components={"login": "partial_outage"}
            )
        kit.assign_role(iid, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
        kit.resolve(iid, by="alice", force=True, reason="bench")
    kit.declare("Open one", severity="SEV2", by="alice")
    kit.status.json("summary")  # the first read folds every incident once
    return kit


def page_row() -> Result:
    with tempfile.TemporaryDirectory(prefix="incidentkit-bench-page-") as folder:
        small, large = _page_kit(folder, SMALL), _page_kit(folder, LARGE)
        assert small.status.json("summary") == small.status.json("summary")
        subject_s, baseline_s = compare(
            lambda: large.status.json("summary"), lambda: small.status.json("summary"), repeats=7
        )
        scan_s, _ = compare(large.store.summaries, small.store.summaries, repeats=7)
        for kit in (small, large):
            kit.shutdown()
    return Result(
        f"page summary.json with {LARGE:,} incidents vs {SMALL} (warm)",
        subject_s,
        baseline_s,
        measures=f"kit.status.json('summary') on SQLite with {LARGE} resolved incidents "
        "(one in ten posted to the page) and one open",
        against=f"the same with {SMALL} resolved incidents",
        issue="12",
        notes={
            "large_ms": round(subject_s * 1e3, 2),
            "small_ms": round(baseline_s * 1e3, 2),
            "large_summary_scan_ms": round(scan_s * 1e3, 2),
        },
    )


def main() -> None:
    rng = random.Random(12)
    components = [history(rng) for _ in range(COMPONENTS)]
    total = sum(len(c) for c in components)
    for intervals in components:  # the two sides agree
        found = uptime(intervals, START, END, config=CONFIG)
        down, maintenance = single_pass(intervals)
        assert abs(found.down.total_seconds() - down) < 1e-3 * max(1.0, down)
        assert found.maintenance.total_seconds() == maintenance
        expected = 100 * (1 - down / ((END - START).total_seconds() - maintenance))
        assert found.percent is not None and abs(found.percent - expected) < 1e-9

    def subject() -> None:
        for intervals in components:
            uptime(intervals, START, END, config=CONFIG)

    def baseline() -> None:
        for intervals in components:
            single_pass(intervals)

    subject_s, baseline_s = compare(subject, baseline, repeats=5)
    report(
        "uptime",
        [
            Result(
                f"uptime of {COMPONENTS} components over 5 years ({total:,} intervals)",
                subject_s,
                baseline_s,
                measures="status.uptime.uptime() per component over the 5-year window",
                against="a hand-written single pass over the same merged intervals",
                limit=1.5,
                issue="12",
                notes={"intervals": total, "subject_ms": round(subject_s * 1e3, 1)},
            ),
            page_row(),
        ],
    )


if __name__ == "__main__":
    main()
