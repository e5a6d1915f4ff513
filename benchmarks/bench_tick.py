"""``IncidentKit.tick()`` over many open incidents, against raw SQL on the same database.

Three seeded databases (SEV1 incidents; "due" ones were declared 10 minutes
before the tick, so the secondary page, the response target and the assess
target are due; the rest were declared just before it and have nothing due):

* A: 1,000 open, 100 due      * B: 10,000 open, 1,000 due      * C: 10,000 open, 100 due

T1  tick with nothing due (1k and 10k open) against the raw ``SELECT … WHERE
    next_due_at <= ?`` it boils down to; the 10k/1k ratio should be ~1 (the
    summary index keeps not-due incidents out of the tick).
T2  tick with due incidents against a raw baseline doing the same I/O by hand
    (the due ``SELECT``, then per due incident: read its events, ``json.loads``
    them, and append the same rows plus the summary in one transaction).
T3  scaling: T(B)/T(A) should be ~10 (linear in due incidents) and T(C)/T(A)
    ~1 (flat in not-due ones).

SQLite always (``synchronous=FULL``, the default); PostgreSQL too when
``INCIDENTKIT_BENCH_POSTGRES_DSN`` or ``INCIDENTKIT_TEST_POSTGRES_DSN`` is set.
Each measured T2 tick runs on a fresh kit (cold cache, as after a restart; T2w
repeats A on a kit that already holds the states, as ``run_forever`` does) and
the database is reset to its seeded state before every run, so every run does
the same work. Seeding goes through a kit on a ``MemoryStore`` and the target
store's ``append`` with the rows it produced.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import QUICK, Result, compare, postgres_dsn, report

from incidentkit import IncidentKit, ManualClock, Severity
from incidentkit.store import MemoryStore, Store, StoredEvent

T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
DUE_DECLARED = T0 - timedelta(minutes=10)
TICK_AT = T0 + timedelta(minutes=1)
IDLE_AT = T0 - timedelta(minutes=6)  # before anything in any database is due
SIZES = (
    {"A": (300, 30), "B": (3_000, 300), "C": (3_000, 30)}
    if QUICK
    else {"A": (1_000, 100), "B": (10_000, 1_000), "C": (10_000, 100)}
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


Seed = list[tuple[str, list[StoredEvent], Any]]


def _pool(count: int, declared: datetime, prefix: str) -> Seed:
    """``count`` SEV1 incidents declared at ``declared``, as stored rows plus summaries."""
    memory = MemoryStore()
    kit = IncidentKit(memory, clock=ManualClock(declared), autoload_plugins=False)
    out: Seed = []
    for n in range(count):
        iid = f"{prefix}-{n:05d}"
        kit.declare(f"incident {n}", severity=Severity.SEV1, by="bench", incident_id=iid)
        out.append((iid, memory.load(iid), memory.summary(iid)))
    return out


def _seed(store: Store, rows: Seed) -> None:
    for iid, events, summary in rows:
        store.append(iid, events, 0, summary=summary)


class Database:
    """One seeded database: a store plus a raw DB-API connection and a reset."""

    def __init__(self, store: Store, raw: Any, placeholder: str, label: str) -> None:
        self.store = store
        self.raw = raw
        self.p = placeholder
        self.label = label
        self.backup = f"bench_summaries_{uuid.uuid4().hex[:8]}"

    def snapshot(self) -> None:
        self.raw.execute(f"CREATE TABLE {self.backup} AS SELECT * FROM incidentkit_summaries")
        # Planner statistics of the seeded tables, as autovacuum would gather them a
        # minute later: without them PostgreSQL guesses a third of the rows are due
        # and scans the table for every tick (kit and raw side alike).
        self.raw.execute("ANALYZE")
        self.raw.commit()

    def reset(self) -> None:
        """Drop what ticks appended (recorded after T0) and restore the seeded summaries."""
        cut = _micros(T0) if self.p == "?" else T0
        self.raw.execute(f"DELETE FROM incidentkit_events WHERE recorded_at > {self.p}", (cut,))
        self.raw.execute("DELETE FROM incidentkit_outbox")
        self.raw.execute("DELETE FROM incidentkit_summaries")
        self.raw.execute(f"INSERT INTO incidentkit_summaries SELECT * FROM {self.backup}")
        self.raw.commit()

    def due_select(self, at: datetime) -> list[Any]:
        """The raw query a tick boils down to when nothing else happens."""
        param = _micros(at) if self.p == "?" else at
        cur = self.raw.execute(
            "SELECT * FROM incidentkit_summaries WHERE next_due_at <= "
            f"{self.p} AND status NOT IN ('resolved', 'closed')",
            (param,),
        )
        rows = cur.fetchall()
        self.raw.commit()
        return rows

    def tick(self, at: datetime) -> int:
        """A tick on a fresh kit (cold cache, as after a restart)."""
        kit = IncidentKit(self.store, clock=ManualClock(at), autoload_plugins=False)
        return len(kit.tick().fired)

    def idle_ticker(self, at: datetime) -> Callable[[], int]:
        """Ticks at ``at`` on one long-lived kit (what ``run_forever`` does between incidents)."""
        kit = IncidentKit(self.store, clock=ManualClock(at), autoload_plugins=False)
        return lambda: len(kit.tick().fired)


def _raw_tick(db: Database, appended: list[tuple[Any, ...]]) -> Callable[[], None]:
    """Hand-written tick I/O: due select, then read + append ``appended``-shaped rows each."""
    p = db.p
    insert = (
        "INSERT INTO incidentkit_events (incident_id, version, tag, payload, recorded_at, hash) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
    )
    update = (
        f"UPDATE incidentkit_summaries SET version = {p}, next_due_at = {p} WHERE incident_id = {p}"
    )
    now: Any = _micros(TICK_AT) if p == "?" else TICK_AT

    def run() -> None:
        for row in db.due_select(TICK_AT):
            iid = row[0]
            if p == "?":
                db.raw.execute("BEGIN IMMEDIATE")
            cur = db.raw.execute(
                f"SELECT version, payload FROM incidentkit_events WHERE incident_id = {p} "
                "ORDER BY version",
                (iid,),
            )
            events = cur.fetchall()
            for _, payload in events:
                json.loads(payload)
            version = events[-1][0]
            db.raw.executemany(
                insert,
                [
                    (iid, version + k, tag, payload, now, digest)
                    for k, (tag, payload, digest) in enumerate(appended, start=1)
                ],
            )
            db.raw.execute(update, (version + len(appended), None, iid))
            db.raw.commit()

    return run


@contextmanager
def _sqlite(tmp: Path, label: str) -> Iterator[Database]:
    from incidentkit.store.sqlite import SqliteStore

    path = tmp / f"{label}.db"
    store = SqliteStore(path)
    store.migrate()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")

    class Raw:
        """sqlite3 in autocommit mode, with commit() ending an open BEGIN."""

        def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
            return raw.execute(sql, params)

        def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> Any:
            return raw.executemany(sql, rows)

        def commit(self) -> None:
            if raw.in_transaction:
                raw.execute("COMMIT")

    db = Database(store, Raw(), "?", f"sqlite {label}")
    try:
        yield db
    finally:
        raw.close()
        store.close()


@contextmanager
def _postgres(dsn: str, label: str) -> Iterator[Database]:
    import psycopg

    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_bench_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    conn = psycopg.connect(dsn)
    conn.execute(f'SET search_path TO "{schema}"')
    conn.commit()

    class Raw:
        """psycopg with the sqlite3-like calls the baselines use."""

        def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
            return conn.execute(sql, params)  # type: ignore[arg-type]

        def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> Any:
            with conn.cursor() as cur:
                cur.executemany(sql, rows)  # type: ignore[arg-type]

        def commit(self) -> None:
            conn.commit()

    raw = Raw()
    db = Database(store, raw, "%s", f"postgres {label}")
    try:
        yield db
    finally:
        conn.close()
        store.drop_schema()
        store.close()


def _bench_backend(
    name: str, open_db: Callable[[str], Any], due: Seed, idle: Seed, results: list[Result]
) -> None:
    times: dict[str, float] = {}
    with open_db("A") as a, open_db("B") as b, open_db("C") as c:
        dbs = {"A": a, "B": b, "C": c}
        started = time.perf_counter()
        for label, db in dbs.items():
            total, n_due = SIZES[label]
            _seed(db.store, due[:n_due] + idle[: total - n_due])
            db.snapshot()
        print(
            f"({name}: seeded {sum(t for t, _ in SIZES.values()):,} incidents "
            f"in {time.perf_counter() - started:.1f}s)"
        )

        # The rows one due incident's tick appends, to give the raw baseline the same writes.
        a.reset()
        a.tick(TICK_AT)
        first = due[0][0]
        appended = [
            (e.tag, e.payload, e.hash) for e in a.store.load(first, after_version=len(due[0][1]))
        ]

        for label in ("A", "B"):
            db = dbs[label]
            total = SIZES[label][0]
            subject, baseline = compare(
                db.idle_ticker(IDLE_AT), lambda db=db: db.due_select(IDLE_AT), repeats=7, number=20
            )
            times[f"idle {label}"] = subject
            results.append(
                Result(
                    f"{name} T1 tick, nothing due, {total:,} open vs raw due SELECT",
                    subject,
                    baseline,
                    target="report (small constant)",
                    measures=f"IncidentKit.tick() on a long-lived kit, {total:,} open, none due",
                    against="the raw SELECT … WHERE next_due_at <= ? it boils down to",
                )
            )

        for label in ("A", "B", "C"):
            db = dbs[label]
            total, n_due = SIZES[label]
            fired: list[int] = []
            subject, baseline = compare(
                lambda db=db, fired=fired: fired.append(db.tick(TICK_AT)),
                _raw_tick(db, appended),
                repeats=3,
                setup=db.reset,
            )
            assert set(fired) == {n_due * len(appended)}, (label, set(fired))
            times[label] = subject
            results.append(
                Result(
                    f"{name} T2 tick, {n_due:,} due of {total:,} vs raw read+append",
                    subject,
                    baseline,
                    limit=5,
                    measures=f"IncidentKit.tick() on a cold kit, {n_due:,} of {total:,} due",
                    against=(
                        "raw due SELECT, then per due incident: read + json.loads its events, "
                        "append the same rows and update the summary in one transaction"
                    ),
                    notes={"per_due_incident_us": subject / n_due * 1e6},
                )
            )

        # The steady state of run_forever: the kit already holds the incidents' states.
        holder: dict[str, IncidentKit] = {}

        def warm() -> None:
            a.reset()
            kit = IncidentKit(a.store, clock=ManualClock(TICK_AT), autoload_plugins=False)
            for incident_id, _, _ in due[: SIZES["A"][1]]:
                kit.get(incident_id)
            holder["kit"] = kit

        subject, baseline = compare(
            lambda: holder["kit"].tick(), _raw_tick(a, appended), repeats=3, setup=warm
        )
        results.append(
            Result(
                f"{name} T2w warm kit: tick, {SIZES['A'][1]} due of {SIZES['A'][0]:,} vs raw",
                subject,
                baseline,
                limit=3,
                measures="IncidentKit.tick() on a kit already holding the due incidents' states",
                against="the T2 raw read+append baseline on the same database",
            )
        )

    results.append(
        Result(
            f"{name} T3 idle tick B/A open (10x the open incidents)",
            times["idle B"],
            times["idle A"],
            target="~1 (flat in not-due)",
            measures="T1 subject on database B",
            against="T1 subject on database A",
        )
    )
    results.append(
        Result(
            f"{name} T3 tick B/A (10x due, 10x open)",
            times["B"],
            times["A"],
            target="~10 (linear in due)",
            measures="T2 subject on database B",
            against="T2 subject on database A",
        )
    )
    results.append(
        Result(
            f"{name} T3 tick C/A (same due, 10x open)",
            times["C"],
            times["A"],
            target="~1 (flat in not-due)",
            measures="T2 subject on database C",
            against="T2 subject on database A",
        )
    )


def main() -> None:
    results: list[Result] = []
    started = time.perf_counter()
    due = _pool(max(d for _, d in SIZES.values()), DUE_DECLARED, "DUE")
    idle = _pool(max(t - d for t, d in SIZES.values()), T0, "IDLE")
    built = time.perf_counter() - started
    print(f"(built {len(due) + len(idle):,} incidents in memory in {built:.1f}s)")
    with tempfile.TemporaryDirectory(prefix="bench-tick-") as tmp:
        _bench_backend("sqlite", lambda label: _sqlite(Path(tmp), label), due, idle, results)
    dsn = postgres_dsn()
    if dsn:
        _bench_backend("postgres", lambda label: _postgres(dsn, label), due, idle, results)
    else:
        print("(PostgreSQL skipped: set INCIDENTKIT_BENCH_POSTGRES_DSN)")
    report("tick", results)


if __name__ == "__main__":
    main()
