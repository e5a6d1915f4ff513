"""B5a: ``incidentkit.metrics.compute`` over 10k, 100k and 1M incident summaries.

Baselines, measured in the same run, interleaved (time ratios, lower is better):

* ``frozen``: the implementation as it was before issue 10 (main 185f5fc, kept
  in ``_frozen_metrics``), on the same summaries and the same job: both sides
  get :data:`SAME_TARGETS`, the targets the frozen copy knows (MTTD, MTTR and
  per-severity acknowledgement; it has no "next business day" rule), and must
  give the same overall figures and the same breaches first. Target at the
  largest size (1M): no slower (<= 1.05, the 5% is run-to-run noise).
* ``M0n`` (report): what the SEV4 "next business day" rule, new since the
  frozen copy and on by default, adds: ``compute`` with the default targets
  against ``compute`` with :data:`SAME_TARGETS`, at the largest size.
* ``loop``: a hand-written single pass over pre-fetched tuples of the same
  timestamps (durations, missing/backwards exclusions, per-service MTBF with
  overlap merging, a sort per metric for p50/p90/max). Target: compute ≤ 1.5×.
* ``sql``: ``AVG(...) GROUP BY service`` in an in-memory SQLite table holding
  the same data as epoch seconds, one row per (incident, service); SQL gives
  means only. Compared with ``compute(by="service")``.

At 1M only M0 runs (plus the memory note); the loop and SQL rows run at 10k
and 100k. ``--quick`` stops at 100k. The linearity rows use M0's live times.
Also reported: linearity (T(100k)/T(10k) and T(1M)/T(100k), ideal 10) and the
peak memory of ``compute``: tracemalloc at 100k (under tracemalloc a 1M run
takes ~110 s, past the bench's time budget) and, at 1M, the growth of the
process's peak RSS (``ru_maxrss``) across one call, the input already resident.
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import resource
import sqlite3
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import _frozen_metrics
from _harness import QUICK, Result, compare, report

from incidentkit import metrics
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary

SIZES = (10_000, 100_000) if QUICK else (10_000, 100_000, 1_000_000)
BIG = 1_000_000  # at and above: only M0 and the memory note
SERVICES = ("api", "db", "web", "auth", "search", "billing")
T0 = datetime(2020, 1, 1, tzinfo=UTC)
Row = tuple[
    datetime | None,
    datetime | None,
    datetime | None,
    datetime | None,
    datetime | None,
    tuple[str, ...],
]


def make(n: int, seed: int = 42) -> list[IncidentSummary]:
    """``n`` resolved-ish incidents, ~3% missing a timestamp, ~0.5% running backwards."""
    rnd = random.Random(seed)
    r = rnd.random
    seconds = [timedelta(seconds=k) for k in range(7201)]
    severities = list(Severity)
    singles = [(s,) for s in SERVICES]
    pairs = [(a, b) for a in SERVICES for b in SERVICES if a < b]
    out = []
    at = T0
    for i in range(n):
        at += seconds[60 + int(r() * 7140)]
        started = at
        detected = started + seconds[int(r() * 600)]
        declared = detected + seconds[int(r() * 300)]
        acked = detected + seconds[10 + int(r() * 1790)]
        mitigated = detected + seconds[60 + int(r() * 3540)]
        resolved = mitigated + seconds[60 + int(r() * 3540)]
        roll = r()
        if roll < 0.01:
            started = None
        elif roll < 0.02:
            mitigated = None
        elif roll < 0.03:
            resolved = None
        elif roll < 0.035:
            resolved = detected - seconds[30]
        services = pairs[int(r() * len(pairs))] if r() < 0.2 else singles[int(r() * 6)]
        out.append(
            IncidentSummary(
                incident_id=f"INC-{i:07d}",
                version=10,
                title="bench",
                status=Status.RESOLVED,
                severity=severities[i % 4],
                services=services,
                started_at=started,
                detected_at=detected,
                declared_at=declared,
                acknowledged_at=acked,
                mitigated_at=mitigated,
                resolved_at=resolved,
            )
        )
    return out


def tuples(items: list[IncidentSummary]) -> list[Row]:
    """The pre-fetched rows the loop baseline reads."""
    return [
        (s.started_at, s.detected_at, s.acknowledged_at, s.mitigated_at, s.resolved_at, s.services)
        for s in items
    ]


def loop_baseline(rows: list[Row]) -> dict[str, tuple[int, float, float, float, float]]:
    """What one would write by hand: one pass, lists, a sort per metric."""
    values: list[list[float]] = [[], [], [], []]
    streams: dict[str, list[tuple[datetime, bool, datetime]]] = {}
    for st, de, ac, mi, re, services in rows:
        if de is not None:
            if st is not None:
                d = (de - st).total_seconds()
                if d >= 0:
                    values[0].append(d)
            if ac is not None:
                d = (ac - de).total_seconds()
                if d >= 0:
                    values[1].append(d)
            if mi is not None:
                d = (mi - de).total_seconds()
                if d >= 0:
                    values[2].append(d)
            if re is not None:
                d = (re - de).total_seconds()
                if d >= 0:
                    values[3].append(d)
        if st is not None and (re is None or re >= st):
            # an unresolved incident ends the gap before it and starts none
            window = (st, re is None, st if re is None else re)
            for service in services:
                streams.setdefault(service, []).append(window)
    gaps: list[float] = []
    for windows in streams.values():
        windows.sort()
        end = None
        for start, is_open, resolved in windows:
            if end is None:
                end = None if is_open else resolved
            elif start < end:
                if not is_open:
                    end = max(end, resolved)
            else:
                gaps.append((start - end).total_seconds())
                end = None if is_open else resolved
    out = {}
    for name, vals in zip(("mttd", "mtta", "mttm", "mttr", "mtbf"), [*values, gaps], strict=True):
        vals.sort()
        n = len(vals)
        out[name] = (
            n,
            math.fsum(vals) / n,
            vals[math.ceil(0.5 * n) - 1],
            vals[math.ceil(0.9 * n) - 1],
            vals[-1],
        )
    return out


def load_sqlite(items: list[IncidentSummary]) -> sqlite3.Connection:
    """The same data as epoch seconds, one row per (incident, service)."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE incident (id TEXT, severity TEXT, service TEXT, started REAL,"
        " detected REAL, acknowledged REAL, mitigated REAL, resolved REAL)"
    )

    def ts(value: datetime | None) -> float | None:
        return None if value is None else value.timestamp()

    db.executemany(
        "INSERT INTO incident VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                s.incident_id,
                s.severity.value,
                service,
                ts(s.started_at),
                ts(s.detected_at),
                ts(s.acknowledged_at),
                ts(s.mitigated_at),
                ts(s.resolved_at),
            )
            for s in items
            for service in s.services
        ),
    )
    db.commit()
    return db


SQL = """
SELECT service,
       AVG(CASE WHEN detected >= started THEN detected - started END),
       AVG(CASE WHEN acknowledged >= detected THEN acknowledged - detected END),
       AVG(CASE WHEN mitigated >= detected THEN mitigated - detected END),
       AVG(CASE WHEN resolved >= detected THEN resolved - detected END),
       COUNT(*)
FROM incident GROUP BY service
"""


def sql_baseline(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    """Means per service, pushed down to SQLite."""
    return db.execute(SQL).fetchall()


def _check_same(items: list[IncidentSummary], rows: list[Row]) -> None:
    """The baseline and the library must agree, or the ratio means nothing."""
    ours = metrics.compute(items).overall
    theirs = loop_baseline(rows)
    for name, (n, mean, p50, p90, top) in theirs.items():
        figure = ours[name]
        assert figure.count == n, name
        assert figure.mean is not None and math.isclose(figure.mean, mean), name
        assert (figure.p50, figure.p90, figure.max) == (p50, p90, top), name


SAME_TARGETS = metrics.Targets(next_business_day=frozenset())
"""The default targets without the SEV4 "next business day" rule: what the frozen
copy computes, so that M0 times the same job on both sides."""


def _same_as_frozen(items: list[IncidentSummary]) -> None:
    """The live and the frozen implementation must agree, or the ratio means nothing."""

    def figures(report: Any) -> dict[str, tuple[object, ...]]:
        return {
            str(getattr(f.metric, "value", f.metric)): (f.count, f.mean, f.p50, f.p90, f.max)
            for f in report.overall.figures
        }

    def breaches(report: Any) -> list[tuple[object, ...]]:
        return [
            (
                b.incident_id,
                b.severity.value,
                str(getattr(b.target, "value", b.target)),
                b.actual,
                b.limit,
            )
            for b in report.breaches
        ]

    live = metrics.compute(items, targets=SAME_TARGETS)
    frozen = _frozen_metrics.compute(items)
    assert figures(live) == figures(frozen), (figures(live), figures(frozen))
    assert breaches(live) == breaches(frozen), "the breaches differ"


def main() -> None:
    """Run B5a and write ``benchmarks/results/metrics.json``."""
    results: list[Result] = []
    compute_times: dict[int, float] = {}
    for n in SIZES:
        items = make(n)
        big = n >= BIG
        rows = [] if big else tuples(items)
        rss_notes: dict[str, object] = {}
        if big:
            gc.collect()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            metrics.compute(items)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            # ru_maxrss is in KiB on Linux; the input data is already resident
            rss_notes["peak_rss_growth_mib"] = round((after - before) / 1024, 1)
            rss_notes["peak_rss_growth_bytes_per_incident"] = round((after - before) * 1024 / n, 1)
        if not big:
            _check_same(items, rows)
            _same_as_frozen(items)
        largest = n == SIZES[-1]
        live_s, frozen_s = compare(
            lambda items=items: metrics.compute(items, targets=SAME_TARGETS),
            lambda items=items: _frozen_metrics.compute(items),
            repeats=3 if big else 5,
            warmup=0 if big else 1,
            setup=gc.collect,  # each side starts from the same heap, not the other's garbage
        )
        results.append(
            Result(
                f"M0 compute vs the pre-issue-10 implementation n={n}",
                live_s,
                frozen_s,
                limit=1.05 if largest else None,
                issue="issue 10" if largest else "",
                target="" if largest else "report",
                measures=f"incidentkit.metrics.compute over {n:,} summaries "
                "(default targets less the SEV4 next-business-day rule)",
                against="the frozen copy (main 185f5fc), same summaries, same targets "
                "(figures and breaches checked equal)",
            )
        )
        m0_row = results[-1]
        compute_times[n] = live_s
        if largest:
            default_s, same_s = compare(
                lambda items=items: metrics.compute(items),
                lambda items=items: metrics.compute(items, targets=SAME_TARGETS),
                repeats=3 if big else 5,
                warmup=0 if big else 1,
                setup=gc.collect,
            )
            results.append(
                Result(
                    f"M0n the next-business-day rule's cost n={n}",
                    default_s,
                    same_s,
                    target="report",
                    measures=f"compute over {n:,} summaries, default targets "
                    "(SEV4 acknowledged by the end of the next business day)",
                    against="the same call without that rule (M0's live side)",
                )
            )
        if big:
            # At 1M only M0 (the issue's target) and the memory note: the loop and SQL
            # rows at 100k say the same, and each 1M pass costs seconds.
            m0_row.notes.update(rss_notes)
            del items, rows
            continue
        repeats = 5
        warmup = 1
        subject_s, loop_s = compare(
            lambda items=items: metrics.compute(items),
            lambda rows=rows: loop_baseline(rows),
            repeats=repeats,
            warmup=warmup,
        )
        results.append(
            Result(
                f"compute vs loop n={n}",
                subject_s,
                loop_s,
                limit=1.5,
                measures=f"incidentkit.metrics.compute over {n:,} summaries (default targets)",
                against="hand-written one-pass loop over pre-fetched tuples (same figures checked)",
                notes={
                    "per_incident_us": round(subject_s / n * 1e6, 2),
                    "breaches": len(metrics.compute(items).breaches),
                },
            )
        )
        loop_row = results[-1]
        db = load_sqlite(items)
        by_service_s, sql_s = compare(
            lambda items=items: metrics.compute(items, by="service"),
            lambda db=db: sql_baseline(db),
            repeats=repeats,
            warmup=warmup,
        )
        db.close()
        results.append(
            Result(
                f"compute(by=service) vs SQL AVG GROUP BY n={n}",
                by_service_s,
                sql_s,
                target="report (SQL: means only)",
                measures=f"incidentkit.metrics.compute(by='service') over {n:,} summaries",
                against="SQLite in-memory AVG(...) GROUP BY service over the same data",
            )
        )
        if n == 100_000:
            full_s, none_s = compare(
                lambda items=items: metrics.compute(items, by="severity,service,month"),
                lambda items=items: metrics.compute(items),
                repeats=3,
            )
            results.append(
                Result(
                    f"compute(by=severity,service,month) vs compute() n={n}",
                    full_s,
                    none_s,
                    target="report",
                    measures="compute with three breakdowns in one pass",
                    against="compute without breakdowns",
                )
            )
            no_targets_s, loop_s = compare(
                lambda items=items: metrics.compute(items, targets=metrics.Targets.none()),
                lambda rows=rows: loop_baseline(rows),
                repeats=5,
            )
            results.append(
                Result(
                    f"compute(targets=none) vs loop n={n}",
                    no_targets_s,
                    loop_s,
                    limit=1.5,
                    measures="compute with Targets.none() (same work as the loop: no breach list)",
                    against="hand-written one-pass loop over pre-fetched tuples",
                )
            )
        if n == 100_000:
            tracemalloc.start()
            metrics.compute(items)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            loop_row.notes["tracemalloc_peak_mib"] = round(peak / 2**20, 1)
            loop_row.notes["tracemalloc_peak_bytes_per_incident"] = round(peak / n, 1)
        del items, rows
    for small, large in itertools.pairwise(SIZES):
        results.append(
            Result(
                f"linearity T({large:,})/T({small:,})",
                compute_times[large],
                compute_times[small],
                target=f"~{large // small} (linear)",
                measures=f"compute over {large:,} summaries (M0's live time)",
                against=f"compute over {small:,} summaries (M0's live time)",
            )
        )
    report("metrics", results)
    for r in results:
        if r.notes:
            print(f"  {r.bench}: {r.notes}")


if __name__ == "__main__":
    main()
