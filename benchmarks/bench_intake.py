"""Alert intake: 10,000 alerts with 90 % duplicates, and grouping cost against open incidents.

I1. ``kit.alerts.ingest`` of 10,000 generic-JSON alerts (1,000 distinct
    alerts, each delivered 10 times: 9 redeliveries that must record nothing)
    on a SQLite file (WAL, synchronous NORMAL), as alerts per second against
    the same 10,000 rows written raw: one ``INSERT OR IGNORE`` per alert, each
    in its own transaction, into a table with a unique delivery key (what a
    hand-written deduplicating receiver does). Higher is better; issue 11
    asks for >= 0.3.

I2. Grouping cost flat in the number of open incidents: the seconds per
    ingested alert (half join an open group, half open a new one) with 2,000
    open incidents ÷ the same with 100. Lower is better; flat means ~1.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import attrs
from _harness import Result, compare, report, scaled

from incidentkit import IncidentKit, ManualClock
from incidentkit.store.sqlite import SqliteStore

T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
DISTINCT = scaled(1_000, 200)
COPIES = 10
SMALL, LARGE = scaled(100, 50), scaled(2_000, 400)
PROBES = scaled(200, 60)


def _bodies(distinct: int, copies: int) -> list[bytes]:
    one = [
        json.dumps(
            {
                "key": f"alert-{i}",
                "summary": f"alert {i} firing",
                "severity": "warning",
                "starts_at": "2024-11-20T22:00:00Z",
                "labels": {"alertname": f"A{i}", "service": f"svc-{i % 50}"},
            }
        ).encode()
        for i in range(distinct)
    ]
    return [body for body in one for _ in range(copies)]  # each redelivered in a row


def _kit(path: Path, *, group_by: str = "") -> IncidentKit:
    store = SqliteStore(path, synchronous="NORMAL")
    store.migrate()
    kit = IncidentKit(store=store, clock=ManualClock(T0), autoload_plugins=False)
    alerts = attrs.evolve(kit.policy.alerts, group_by=group_by)
    return IncidentKit(
        store=store,
        clock=kit.clock,
        policy=attrs.evolve(kit.policy, alerts=alerts),
        autoload_plugins=False,
    )


def bench_dedup(root: Path) -> Result:
    bodies = _bodies(DISTINCT, COPIES)
    counter = {"run": 0}

    def fresh(name: str) -> Path:
        counter["run"] += 1
        return root / f"{name}-{counter['run']}.db"

    def intake() -> None:
        kit = _kit(fresh("intake"))
        for body in bodies:
            kit.alerts.ingest(body, "generic")
        assert len(kit.store.summaries()) == DISTINCT
        kit.store.close()

    def raw() -> None:
        conn = sqlite3.connect(fresh("raw"), isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE alerts (delivery TEXT PRIMARY KEY, payload TEXT NOT NULL)")
        for body in bodies:
            data = json.loads(body)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR IGNORE INTO alerts VALUES (?, ?)",
                (f"{data['key']}:{data['starts_at']}", body.decode()),
            )
            conn.execute("COMMIT")
        assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == DISTINCT
        conn.close()

    subject, baseline = compare(intake, raw, repeats=3, warmup=0)
    total = len(bodies)
    return Result(
        f"I1 ingest {total} alerts, 90% duplicates, SQLite NORMAL: alerts/s vs raw",
        subject,
        baseline,
        kind="throughput",
        limit=0.3,
        issue="issue 11",
        measures=f"kit.alerts.ingest of {total} generic alerts ({DISTINCT} distinct, "
        f"each delivered {COPIES}x) into a fresh SQLite file, WAL, synchronous NORMAL",
        against=f"{total} INSERT OR IGNORE rows (unique delivery key), one transaction "
        "each, into a fresh SQLite file, WAL, synchronous NORMAL",
        notes={
            "intake_alerts_per_s": round(total / subject),
            "raw_rows_per_s": round(total / baseline),
            "incidents": DISTINCT,
        },
    )


def _grouping_kit(root: Path, open_incidents: int) -> tuple[IncidentKit, list[bytes]]:
    kit = _kit(root / f"group-{open_incidents}.db", group_by="{alertname}")
    for i in range(open_incidents):
        kit.alerts.ingest(
            json.dumps({"key": f"open-{i}", "labels": {"alertname": f"G{i}"}}).encode(),
            "generic",
        )
    probes = []
    for n in range(PROBES):
        # even probes join an open group; odd ones open a group of their own
        name = f"G{n % open_incidents}" if n % 2 == 0 else f"new-{open_incidents}-{n}"
        probes.append(json.dumps({"key": f"p-{n}", "labels": {"alertname": name}}).encode())
    return kit, probes


def bench_grouping(root: Path) -> Result:
    small, small_probes = _grouping_kit(root, SMALL)
    large, large_probes = _grouping_kit(root, LARGE)
    rounds = {"small": 0, "large": 0}

    def run(kit: IncidentKit, probes: list[bytes], name: str) -> None:
        rounds[name] += 1
        for body in probes:  # a new key each round, so every probe does the full work
            data = json.loads(body)
            data["key"] = f"{data['key']}-{rounds[name]}"
            kit.alerts.ingest(json.dumps(data).encode(), "generic")

    subject, baseline = compare(
        lambda: run(large, large_probes, "large"),
        lambda: run(small, small_probes, "small"),
        repeats=3,
        warmup=0,
    )
    return Result(
        f"I2 grouping per alert, {LARGE} vs {SMALL} open incidents",
        subject / PROBES,
        baseline / PROBES,
        limit=1.5,
        issue="issue 11",
        measures=f"kit.alerts.ingest of {PROBES} alerts (half join an open group) with "
        f"{LARGE} open incidents, SQLite NORMAL, per alert",
        against=f"the same with {SMALL} open incidents",
    )


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="incidentkit-bench-intake-"))
    try:
        report("intake", [bench_dedup(root), bench_grouping(root)])
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
