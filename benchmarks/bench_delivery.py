"""Delivery benchmarks: ``IncidentKit.deliver()`` against a raw claim loop over the same rows.

D1  SQLite (WAL, synchronous NORMAL and FULL): ``deliver()`` draining N outbox rows to a
    no-op notifier, batches of 100, against a hand-written relay on a raw ``sqlite3``
    connection with the same guarantees: ``BEGIN IMMEDIATE`` + ``UPDATE … RETURNING``
    leases a batch, each row's JSON is parsed and handed to the no-op, and each row is
    marked done in its own transaction (so a crash re-sends at most the row in flight).
D1b The same raw loop marking a whole batch done in one transaction (weaker: a crash
    re-sends up to a batch); reported for scale, no target.
D2  PostgreSQL (needs INCIDENTKIT_BENCH_POSTGRES_DSN or INCIDENTKIT_TEST_POSTGRES_DSN):
    ``deliver()`` against ``FOR UPDATE SKIP LOCKED`` + ``UPDATE … RETURNING`` with per-row
    done, in a schema of its own.

The rows are real notification rows written by ``kit.declare`` (one page per SEV1); before
every measured block they are reset to pending. Figures are throughput (raw time ÷ library
time), higher is better; targets (issue 10): D1 NORMAL >= 0.5, D2 >= 0.85.
The library side pays for what a relay needs beyond the raw loop:
structuring the notification, a bounded call on a worker thread, retry bookkeeping.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Result, compare, postgres_dsn, report, scaled

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.notify import Notification, NotifierSpec
from incidentkit.plugins import hookimpl
from incidentkit.store import Store

T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
ROWS = 2000
BATCH = 100
LEASE = timedelta(minutes=5)


class NoopNotifier:
    """Counts what it is handed and does nothing else."""

    name = "noop"

    def __init__(self) -> None:
        self.count = 0

    def deliver(self, notification: Notification) -> None:
        self.count += 1

    @hookimpl
    def incidentkit_notifiers(self) -> list[NotifierSpec]:
        return [NotifierSpec("noop", self.deliver)]


def fill(store: Store, rows: int) -> tuple[IncidentKit, NoopNotifier]:
    """Write ``rows`` notification rows through the kit (one SEV1 page each)."""
    notifier = NoopNotifier()
    clock = ManualClock(T0)
    kit = IncidentKit(store=store, clock=clock, plugins=[notifier], autoload_plugins=False)
    for n in range(rows):
        kit.declare(f"outage {n}", severity="SEV1", by="alice", incident_id=f"INC-{n:05d}")
    clock.set(T0 + timedelta(hours=1))  # every row due, no lease will expire mid-run
    assert len(store.outbox()) == rows
    return kit, notifier


def drain_with_kit(kit: IncidentKit) -> Callable[[], None]:
    def run() -> None:
        while kit.deliver(limit=BATCH, lease=LEASE).claimed:
            pass

    return run


# --- SQLite ---------------------------------------------------------------------------------


def _micros(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


SQLITE_CLAIM = (
    "UPDATE incidentkit_outbox SET attempts = attempts + 1, lease_until = ?, leased_by = ? "
    "WHERE id IN (SELECT id FROM incidentkit_outbox WHERE state = 'pending' "
    "AND available_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?) "
    "RETURNING id, target, payload"
)
SQLITE_DONE = "UPDATE incidentkit_outbox SET state = 'done', lease_until = NULL WHERE id = ?"
RESET = (
    "UPDATE incidentkit_outbox SET state = 'pending', attempts = 0, lease_until = NULL, "
    "leased_by = NULL, last_error = NULL"
)


def raw_sqlite_drain(conn: sqlite3.Connection, per_row: bool) -> Callable[[], None]:
    now = _micros(T0 + timedelta(hours=1))
    until = _micros(T0 + timedelta(hours=1) + LEASE)
    seen: list[int] = [0]

    def noop(notification: Any) -> None:
        seen[0] += 1

    def run() -> None:
        while True:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(SQLITE_CLAIM, (until, "raw", now, now, BATCH)).fetchall()
            conn.execute("COMMIT")
            if not rows:
                return
            for row_id, _target, payload in sorted(rows):
                noop(json.loads(payload))
                if per_row:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(SQLITE_DONE, (row_id,))
                    conn.execute("COMMIT")
            if not per_row:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(SQLITE_DONE, [(r[0],) for r in rows])
                conn.execute("COMMIT")

    return run


def bench_sqlite(root: Path, synchronous: str, rows: int, repeats: int) -> list[Result]:
    from incidentkit.store.sqlite import SqliteStore

    path = root / f"delivery-{synchronous.lower()}.db"
    store = SqliteStore(path, synchronous=synchronous)
    store.migrate()
    kit, notifier = fill(store, rows)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA busy_timeout = 10000")

    def reset() -> None:
        conn.execute(RESET)

    results: list[Result] = []
    try:
        lib = drain_with_kit(kit)
        for per_row in (True, False):
            lib_s, raw_s = compare(
                lib, raw_sqlite_drain(conn, per_row), repeats=repeats, setup=reset
            )
            done = "per-row done" if per_row else "batch done"
            results.append(
                Result(
                    f"D1{'' if per_row else 'b'} SQLite {synchronous} deliver {rows} rows "
                    f"vs raw claim loop, {done}",
                    lib_s,
                    raw_s,
                    kind="throughput",
                    limit=0.5 if per_row and synchronous == "NORMAL" else None,
                    issue="issue 10" if per_row and synchronous == "NORMAL" else "",
                    target="" if per_row and synchronous == "NORMAL" else "report",
                    measures=(
                        f"IncidentKit.deliver(limit={BATCH}) until empty: {rows} page rows "
                        "to a no-op notifier plugin"
                    ),
                    against=(
                        "hand-written relay on raw sqlite3: BEGIN IMMEDIATE + UPDATE … RETURNING "
                        "leases a batch, json.loads each row, call the no-op, mark "
                        + (
                            "each row done in its own transaction"
                            if per_row
                            else "the whole batch done in one transaction"
                        )
                    ),
                    notes={"rows": rows, "batch": BATCH, "lib_rows_per_s": round(rows / lib_s)},
                )
            )
        assert notifier.count >= rows
    finally:
        conn.close()
        kit.shutdown()
    return results


# --- PostgreSQL -----------------------------------------------------------------------------


def bench_postgres(dsn: str, rows: int, repeats: int) -> Result:
    import psycopg

    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    kit, notifier = fill(store, rows)
    conn = psycopg.connect(dsn, autocommit=True)
    table = f'"{schema}".incidentkit_outbox'
    now = T0 + timedelta(hours=1)
    claim = (
        f"WITH due AS (SELECT id FROM {table} WHERE state = 'pending' AND available_at <= %(now)s "
        "AND (lease_until IS NULL OR lease_until <= %(now)s) ORDER BY id LIMIT %(limit)s "
        f"FOR UPDATE SKIP LOCKED) UPDATE {table} AS o SET attempts = o.attempts + 1, "
        "lease_until = %(until)s, leased_by = 'raw' FROM due WHERE o.id = due.id "
        "RETURNING o.id, o.target, o.payload"
    )
    params = {"now": now, "until": now + LEASE, "limit": BATCH}
    seen = [0]

    def raw() -> None:
        while True:
            rows_ = conn.execute(claim, params).fetchall()
            if not rows_:
                return
            for row_id, _target, payload in sorted(rows_):
                json.loads(payload)
                seen[0] += 1
                conn.execute(
                    f"UPDATE {table} SET state = 'done', lease_until = NULL WHERE id = %s",
                    (row_id,),
                )

    def reset() -> None:
        conn.execute(RESET.replace("incidentkit_outbox", table))

    try:
        lib_s, raw_s = compare(drain_with_kit(kit), raw, repeats=repeats, setup=reset)
        assert notifier.count >= rows and seen[0] >= rows
    finally:
        conn.close()
        kit.shutdown()
        cleanup = PostgresStore(dsn, schema=schema)
        cleanup.drop_schema()
        cleanup.close()
    return Result(
        f"D2 PostgreSQL deliver {rows} rows vs raw SKIP LOCKED loop, per-row done",
        lib_s,
        raw_s,
        kind="throughput",
        limit=0.85,
        issue="issue 10",
        measures=(
            f"IncidentKit.deliver(limit={BATCH}) until empty on PostgresStore: {rows} page rows "
            "to a no-op notifier plugin"
        ),
        against=(
            "hand-written psycopg relay: FOR UPDATE SKIP LOCKED + UPDATE … RETURNING leases a "
            "batch, json.loads each row, mark each row done (autocommit)"
        ),
        notes={"rows": rows, "batch": BATCH, "lib_rows_per_s": round(rows / lib_s)},
    )


def main() -> None:
    """Run D1, D1b (SQLite NORMAL and FULL) and D2 (PostgreSQL, when a DSN is set)."""
    root = Path(tempfile.mkdtemp(prefix="incidentkit-bench-delivery-"))
    results: list[Result] = []
    try:
        results.extend(bench_sqlite(root, "NORMAL", scaled(ROWS, 500), repeats=5))
        # One fsync per done row: fewer rows, so the run stays short on slow disks.
        results.extend(bench_sqlite(root, "FULL", scaled(ROWS // 4, 200), repeats=3))
        dsn = postgres_dsn()
        if dsn is None:
            print(
                "D2: INCIDENTKIT_BENCH_POSTGRES_DSN / INCIDENTKIT_TEST_POSTGRES_DSN unset: skipped"
            )
        else:
            results.append(bench_postgres(dsn, scaled(ROWS // 2, 300), repeats=3))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report("delivery", results)


if __name__ == "__main__":
    main()
