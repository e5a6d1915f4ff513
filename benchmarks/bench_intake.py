"""Alert intake: 10,000 alerts with 90 % duplicates, and grouping cost against open incidents.

I1. ``kit.alerts.ingest`` of 10,000 generic-JSON alerts (1,000 distinct
    alerts, each delivered 10 times: 9 redeliveries that must record nothing)
    on a SQLite file (WAL, synchronous NORMAL), as alerts per second against
    raw inserts of the same rows: the very rows the kit wrote (captured once
    from a run of the kit: for each declaration its command, key, events with
    their payloads and hashes, summary and service rows), written by hand
    with prepared values into the kit's own schema, one transaction per
    append the kit made (one per declaration, as its command rows show: a
    redelivery appends nothing) with the optimistic version check, plus for
    every delivery the body's key read with ``json.loads`` and the one
    indexed read of the open key that a hand-written receiver needs to see
    whether the key is held (a redelivery's is). Higher is better; issue 11
    asks for >= 0.3.

I1b. The same ingest against a minimal deduplicating receiver: one
    ``INSERT OR IGNORE`` per alert into a table of two columns with a unique
    delivery key, each in its own transaction. It writes far less than the
    kit (no events, hash chain, summary or command), so it is the floor of
    any receiver, reported beside I1.

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


_TABLES = (
    "incidentkit_commands",
    "incidentkit_keys",
    "incidentkit_events",
    "incidentkit_summaries",
    "incidentkit_summary_services",
    "incidentkit_outbox",
)


def _captured(path: Path) -> list[tuple[str, list[tuple[str, list[tuple[object, ...]]]]]]:
    """Per declaration, in the kit's order: each table's insert statement and rows."""
    conn = sqlite3.connect(path)
    order = [
        str(r[0])
        for r in conn.execute("SELECT incident_id FROM incidentkit_commands ORDER BY rowid")
    ]
    found = []
    for incident_id in order:
        writes = []
        for table in _TABLES:
            cursor = conn.execute(f"SELECT * FROM {table} WHERE incident_id = ?", (incident_id,))
            columns = [d[0] for d in cursor.description]
            keep = [i for i, c in enumerate(columns) if c != "id"]  # let SQLite number them
            rows = [tuple(row[i] for i in keep) for row in cursor.fetchall()]
            if rows:
                names = ", ".join(columns[i] for i in keep)
                marks = ", ".join("?" for _ in keep)
                writes.append((f"INSERT INTO {table} ({names}) VALUES ({marks})", rows))
        found.append((incident_id, writes))
    conn.close()
    return found


def bench_dedup(root: Path) -> list[Result]:
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

    capture = fresh("capture")
    kit = _kit(capture)
    for body in bodies:
        kit.alerts.ingest(body, "generic")
    kit.store.close()
    declarations = _captured(capture)
    # One command row per append: one append per declaration, none for a redelivery.
    assert len(declarations) == len({iid for iid, _ in declarations}) == DISTINCT

    def same_rows() -> None:
        path = fresh("same")
        SqliteStore(path, synchronous="NORMAL").migrate()  # the kit's own schema and indexes
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        pending = iter(declarations)
        seen: set[str] = set()
        for body in bodies:
            key = json.loads(body)["key"]
            holder = conn.execute(
                "SELECT incident_id FROM incidentkit_keys WHERE namespace = 'alert' "
                "AND key = ? AND open = 1 ORDER BY id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if key in seen:
                assert holder is not None
                continue
            seen.add(key)
            incident_id, writes = next(pending)
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute(
                "SELECT MAX(version) FROM incidentkit_events WHERE incident_id = ?",
                (incident_id,),
            ).fetchone()[0]
            assert version is None
            for statement, rows in writes:
                conn.executemany(statement, rows)
            conn.execute("COMMIT")
        assert conn.execute("SELECT count(*) FROM incidentkit_summaries").fetchone()[0] == DISTINCT
        conn.close()

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

    subject, same = compare(intake, same_rows, repeats=3, warmup=0)
    again, baseline = compare(intake, raw, repeats=3, warmup=0)
    total = len(bodies)
    rows = sum(len(r) for _, writes in declarations for _, r in writes)
    first = Result(
        f"I1 ingest {total} alerts, 90% duplicates, SQLite NORMAL: alerts/s vs same rows",
        subject,
        same,
        kind="throughput",
        limit=0.3,
        issue="issue 11",
        measures=f"kit.alerts.ingest of {total} generic alerts ({DISTINCT} distinct, "
        f"each delivered {COPIES}x) into a fresh SQLite file, WAL, synchronous NORMAL",
        against=f"the {rows} rows the kit wrote, inserted by hand with prepared values into "
        f"its schema, one transaction per declaration ({DISTINCT}), plus one key read per "
        "delivery",
        notes={
            "intake_alerts_per_s": round(total / subject),
            "same_rows_alerts_per_s": round(total / same),
            "rows_written": rows,
        },
    )
    floor = Result(
        f"I1b ingest {total} alerts, 90% duplicates, SQLite NORMAL: alerts/s vs minimal",
        again,
        baseline,
        kind="throughput",
        issue="issue 11",
        measures=f"kit.alerts.ingest of {total} generic alerts ({DISTINCT} distinct, "
        f"each delivered {COPIES}x) into a fresh SQLite file, WAL, synchronous NORMAL",
        against=f"{total} INSERT OR IGNORE rows (unique delivery key), one transaction "
        "each, into a fresh SQLite file, WAL, synchronous NORMAL",
        notes={
            "intake_alerts_per_s": round(total / again),
            "raw_rows_per_s": round(total / baseline),
            "incidents": DISTINCT,
        },
    )
    return [first, floor]


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
        report("intake", [*bench_dedup(root), bench_grouping(root)])
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
