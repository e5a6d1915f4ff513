"""Store benchmarks: incidentkit's stores against raw driver calls in the same run.

B1a/B1b  one event + one outbox row per append, SQLite WAL NORMAL / FULL, against raw
         ``BEGIN IMMEDIATE; INSERT event; INSERT outbox; COMMIT`` with the same bytes.
B2       100 events (+100 outbox rows) in one append against raw ``executemany``.
B4       load 1k / 10k events + ``json.loads`` against raw select + ``json.loads``;
         the scaling exponent log(T10k/T1k)/log(10) should be ~1.
B10      PostgreSQL 100-event append against raw psycopg executemany in one pipelined
         transaction; 4 writers against 1 (needs INCIDENTKIT_BENCH_POSTGRES_DSN or
         INCIDENTKIT_TEST_POSTGRES_DSN).
peer     incidentkit's SQLite append against eventsourcing's SQLite application recorder
         (both WAL + FULL), when ``eventsourcing`` is importable.

The library side goes through :func:`library_appender`, which turns event-like attrs
objects into stored rows (cattrs unstructure, canonical JSON, chained sha256). Swap it
for an ``IncidentKit``-level command to measure the whole stack.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from _harness import Result, compare, report

from incidentkit import IncidentKit, ManualClock, hookimpl
from incidentkit.serialization import dumps, make_converter
from incidentkit.severity import Severity
from incidentkit.store import OutboxMessage, Store, StoredEvent
from incidentkit.store.sqlite import _UPSERT_SUMMARY, SqliteStore

T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
CONVERTER = make_converter()


@attrs.frozen
class NoteAdded:
    """A representative timeline event (the shape of the kit's note/hypothesis events)."""

    at: datetime
    by: str
    text: str
    severity: Severity
    services: tuple[str, ...]
    tags: frozenset[str]
    links: tuple[str, ...] = ()


def sample_event(n: int) -> NoteAdded:
    return NoteAdded(
        at=T0 + timedelta(seconds=n),
        by="alice@example.com",
        text=f"seeing 15% error rate on /v1/orders after deploy #{n}; rolling back",
        severity=Severity.SEV2,
        services=("api", "orders"),
        tags=frozenset({"deploy", "rollback"}),
        links=("https://grafana.example.com/d/abc?from=now-1h",),
    )


AppendFn = Callable[[str, int, Sequence[Any]], int]
"""``append(incident_id, expected_version, events) -> new version``."""


def library_appender(store: Store) -> AppendFn:
    """Serialize event-like objects as the kit does and append them with one outbox row each."""
    heads: dict[str, str] = {}

    def append(incident_id: str, expected: int, objects: Sequence[Any]) -> int:
        previous = heads.get(incident_id, "")
        events: list[StoredEvent] = []
        outbox: list[OutboxMessage] = []
        for offset, obj in enumerate(objects, start=1):
            version = expected + offset
            payload = dumps(CONVERTER.unstructure(obj))
            row = f"{incident_id}|{version}|note_added|{payload}"
            previous = hashlib.sha256((previous + row).encode()).hexdigest()
            events.append(
                StoredEvent(incident_id, version, "note_added", payload, obj.at, previous)
            )
            outbox.append(
                OutboxMessage(
                    key=f"{incident_id}:{version}:slack",
                    incident_id=incident_id,
                    topic="event",
                    target="slack",
                    payload=payload,
                    available_at=obj.at,
                )
            )
        store.append(incident_id, events, expected, outbox)
        heads[incident_id] = previous
        return expected + len(objects)

    return append


def _rows(incident_id: str, first: int, count: int) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """Pre-serialized rows (the bytes the library side produces) for the raw baselines."""
    events, outbox = [], []
    previous = ""
    for version in range(first, first + count):
        obj = sample_event(version)
        payload = dumps(CONVERTER.unstructure(obj))
        row = f"{incident_id}|{version}|note_added|{payload}"
        previous = hashlib.sha256((previous + row).encode()).hexdigest()
        micros = (obj.at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        events.append((incident_id, version, "note_added", payload, micros, previous))
        outbox.append(
            (
                f"{incident_id}:{version}:slack",
                incident_id,
                "event",
                "slack",
                payload,
                micros,
                micros,
            )
        )
    return events, outbox


RAW_EVENT = (
    "INSERT INTO incidentkit_events (incident_id, version, tag, payload, recorded_at, hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
RAW_OUTBOX = (
    "INSERT INTO incidentkit_outbox (key, incident_id, topic, target, payload, state, attempts, "
    "available_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
)


class SqlitePair:
    """A library store and a raw connection on identical, freshly migrated files."""

    def __init__(self, root: Path, synchronous: str) -> None:
        self.root = root
        self.synchronous = synchronous
        self.n = 0
        self.reset()

    def reset(self) -> None:
        for name in ("lib.db", "raw.db"):
            for suffix in ("", "-wal", "-shm"):
                path = self.root / (name + suffix)
                if path.exists():
                    path.unlink()
        if hasattr(self, "store"):
            self.store.close()
            self.raw.close()
        self.store = SqliteStore(self.root / "lib.db", synchronous=self.synchronous)
        self.store.migrate()
        SqliteStore(self.root / "raw.db").migrate()
        self.raw = sqlite3.connect(self.root / "raw.db", isolation_level=None)
        self.raw.execute("PRAGMA journal_mode = WAL")
        self.raw.execute(f"PRAGMA synchronous = {self.synchronous}")
        self.append = library_appender(self.store)
        self.lib_version = 0
        self.raw_version = 0

    def close(self) -> None:
        self.store.close()
        self.raw.close()


def bench_single_append(root: Path, synchronous: str, number: int, repeats: int = 5) -> Result:
    pair = SqlitePair(root, synchronous)
    objects = [sample_event(n) for n in range(1, 20_001)]
    raw_events, raw_outbox = _rows("INC-1", 1, 20_000)

    def lib() -> None:
        pair.lib_version = pair.append("INC-1", pair.lib_version, [objects[pair.lib_version]])

    def raw() -> None:
        v = pair.raw_version
        conn = pair.raw
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(RAW_EVENT, raw_events[v])
        conn.execute(RAW_OUTBOX, raw_outbox[v])
        conn.execute("COMMIT")
        pair.raw_version = v + 1

    lib_s, raw_s = compare(lib, raw, repeats=repeats, number=number)
    pair.close()
    label = "B1a" if synchronous == "NORMAL" else "B1b"
    return Result(
        f"{label} append 1 event + 1 outbox, WAL {synchronous}",
        lib_s,
        raw_s,
        kind="throughput",
        target=">= 0.70" if synchronous == "NORMAL" else ">= 0.90",
        notes={"events_per_block": number},
    )


def bench_store_only(root: Path) -> Result:
    """B1a without the kit's serialization: pre-built rows, so only the store's own cost shows."""
    pair = SqlitePair(root, "NORMAL")
    raw_events, raw_outbox = _rows("INC-1", 1, 5_000)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    prebuilt = [
        (
            StoredEvent(e[0], e[1], e[2], e[3], epoch + timedelta(microseconds=e[4]), e[5]),
            OutboxMessage(o[0], o[1], o[2], o[3], o[4], epoch + timedelta(microseconds=o[5])),
        )
        for e, o in zip(raw_events, raw_outbox, strict=True)
    ]

    def lib() -> None:
        v = pair.lib_version
        event, message = prebuilt[v]
        pair.store.append("INC-1", [event], v, [message])
        pair.lib_version = v + 1

    def raw() -> None:
        v = pair.raw_version
        conn = pair.raw
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(RAW_EVENT, raw_events[v])
        conn.execute(RAW_OUTBOX, raw_outbox[v])
        conn.execute("COMMIT")
        pair.raw_version = v + 1

    lib_s, raw_s = compare(lib, raw, repeats=5, number=300)
    pair.close()
    return Result(
        "B1a-store SqliteStore.append of pre-built rows (no serialization), WAL NORMAL",
        lib_s,
        raw_s,
        kind="throughput",
        target="report",
    )


def bench_batch_append(root: Path) -> Result:
    pair = SqlitePair(root, "NORMAL")
    batch = 100
    objects = [sample_event(n) for n in range(1, 30 * batch + 1)]
    raw_events, raw_outbox = _rows("INC-1", 1, 30 * batch)

    def lib() -> None:
        v = pair.lib_version
        pair.lib_version = pair.append("INC-1", v, objects[v : v + batch])

    def raw() -> None:
        v = pair.raw_version
        conn = pair.raw
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_EVENT, raw_events[v : v + batch])
        conn.executemany(RAW_OUTBOX, raw_outbox[v : v + batch])
        conn.execute("COMMIT")
        pair.raw_version = v + batch

    lib_s, raw_s = compare(lib, raw, repeats=5, number=4)
    pair.close()
    return Result(
        "B2 append 100 events + 100 outbox, WAL NORMAL",
        lib_s,
        raw_s,
        kind="throughput",
        target=">= 0.35",
    )


def bench_load(root: Path) -> list[Result]:
    results: list[Result] = []
    times: dict[int, float] = {}
    for count in (1_000, 10_000):
        pair = SqlitePair(root, "NORMAL")
        incident = f"INC-{count}"
        objects = [sample_event(n) for n in range(1, count + 1)]
        for start in range(0, count, 500):
            pair.append(incident, start, objects[start : start + 500])
        path = pair.store.path
        raw = sqlite3.connect(path, isolation_level=None)

        def lib(store: SqliteStore = pair.store, incident: str = incident) -> None:
            for event in store.load(incident):
                json.loads(event.payload)

        def baseline(raw: sqlite3.Connection = raw, incident: str = incident) -> None:
            for (payload,) in raw.execute(
                "SELECT payload FROM incidentkit_events WHERE incident_id = ? ORDER BY version",
                (incident,),
            ):
                json.loads(payload)

        lib_s, raw_s = compare(lib, baseline, repeats=5, number=1 if count > 1_000 else 5)
        times[count] = lib_s
        results.append(Result(f"B4 load {count} events + json.loads", lib_s, raw_s, target="<= 4x"))
        raw.close()
        pair.close()
    exponent = math.log(times[10_000] / times[1_000]) / math.log(10)
    results[-1].notes["scaling_exponent_1k_to_10k"] = round(exponent, 3)
    print(f"B4 scaling exponent (1k -> 10k): {exponent:.2f} (1.0 = linear)")
    return results


def bench_peer(root: Path) -> Result | None:
    try:
        from eventsourcing.persistence import StoredEvent as EsEvent
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
    except ImportError:
        print("peer: eventsourcing is not installed; row skipped")
        return None
    pair = SqlitePair(root, "FULL")
    datastore = SQLiteDatastore(str(root / "es.db"))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    originator = uuid.uuid4()
    objects = [sample_event(n) for n in range(1, 20_001)]
    es_version = [0]

    def lib() -> None:
        pair.lib_version = pair.append("INC-1", pair.lib_version, [objects[pair.lib_version]])

    def peer() -> None:
        v = es_version[0]
        state = dumps(CONVERTER.unstructure(objects[v])).encode()
        recorder.insert_events([EsEvent(originator, v + 1, "note_added", state)])
        es_version[0] = v + 1

    lib_s, peer_s = compare(lib, peer, repeats=5, number=100)
    pair.close()
    return Result(
        "peer append 1 event (+outbox) vs eventsourcing SQLite recorder, WAL FULL",
        lib_s,
        peer_s,
        kind="throughput",
        target="report",
    )


# -- PostgreSQL -----------------------------------------------------------------


def _pg_dsn() -> str | None:
    for name in ("INCIDENTKIT_BENCH_POSTGRES_DSN", "INCIDENTKIT_TEST_POSTGRES_DSN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def bench_postgres(dsn: str) -> list[Result]:
    import psycopg

    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    results: list[Result] = []
    try:
        append = library_appender(store)
        batch = 100
        objects = [sample_event(n) for n in range(1, 20 * batch + 1)]
        raw_events, raw_outbox = _rows("RAW-1", 1, 20 * batch)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        raw_events_tz = [(*r[:4], epoch + timedelta(microseconds=r[4]), r[5]) for r in raw_events]
        raw_outbox_tz = [
            (*r[:5], epoch + timedelta(microseconds=r[5]), epoch + timedelta(microseconds=r[6]))
            for r in raw_outbox
        ]
        conn = psycopg.connect(dsn, autocommit=True)
        state = {"lib": 0, "raw": 0}

        def lib() -> None:
            v = state["lib"]
            state["lib"] = append("INC-1", v, objects[v : v + batch])

        def raw() -> None:
            v = state["raw"]
            with conn.pipeline(), conn.transaction():
                cur = conn.cursor()
                cur.executemany(
                    f'INSERT INTO "{schema}".incidentkit_events (incident_id, version, tag, '
                    "payload, recorded_at, hash) VALUES (%s, %s, %s, %s, %s, %s)",
                    raw_events_tz[v : v + batch],
                )
                cur.executemany(
                    f'INSERT INTO "{schema}".incidentkit_outbox (key, incident_id, topic, target, '
                    "payload, available_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    raw_outbox_tz[v : v + batch],
                )
            state["raw"] = v + batch

        lib_s, raw_s = compare(lib, raw, repeats=5, number=3)
        conn.close()
        results.append(
            Result(
                "B10 PG append 100 events + 100 outbox",
                lib_s,
                raw_s,
                kind="throughput",
                target=">= 0.70",
            )
        )
        results.append(_pg_writers(dsn, schema))
    finally:
        store.drop_schema()
        store.close()
    return results


def _pg_writers(dsn: str, schema: str) -> Result:
    from incidentkit.store.postgres import PostgresStore

    per_writer = 150

    def run(writers: int) -> float:
        stores = [PostgresStore(dsn, schema=schema) for _ in range(writers)]
        tag = uuid.uuid4().hex[:6]
        start = threading.Barrier(writers + 1)

        def work(index: int, store: PostgresStore) -> None:
            append = library_appender(store)
            start.wait()
            version = 0
            for n in range(per_writer):
                version = append(f"W{tag}-{index}", version, [sample_event(n + 1)])

        threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        start.wait()
        began = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        for s in stores:
            s.close()
        return elapsed / (writers * per_writer)

    one = sorted(run(1) for _ in range(3))[1]
    four = sorted(run(4) for _ in range(3))[1]
    return Result(
        "B10 PG 4 writers vs 1 writer (1-event appends, distinct incidents)",
        four,
        one,
        kind="throughput",
        target="report (> 1 = scales)",
    )


class _Observer:
    """A no-op event observer: gives every appended event one outbox row, like the raw side."""

    name = "observer"

    @hookimpl
    def incidentkit_event_recorded(self, incident: object, record: object) -> None:
        """Nothing to do; the row is what is measured."""


def bench_kit_single_append(
    root: Path, synchronous: str, number: int, repeats: int = 5
) -> list[Result]:
    """B1 through ``IncidentKit.add_note``: load (cached), decide, fold, hash, append, outbox."""
    for name in ("kit.db", "kitraw.db"):
        for suffix in ("", "-wal", "-shm"):
            (root / (name + suffix)).unlink(missing_ok=True)
    clock = ManualClock(T0)
    store = SqliteStore(root / "kit.db", synchronous=synchronous)
    kit = IncidentKit(store=store, clock=clock, plugins=[_Observer()], autoload_plugins=False)
    incident = kit.declare("API returning 500 errors", severity=Severity.SEV2, by="alice")
    text = "seeing 15% error rate on /v1/orders after deploy; rolling back"
    kit.add_note(incident.id, text, by="bob")
    sample = store.load(incident.id)[-1]
    SqliteStore(root / "kitraw.db").migrate()
    raw = sqlite3.connect(root / "kitraw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute(f"PRAGMA synchronous = {synchronous}")
    micros = (sample.recorded_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    counter = {"raw": 0}

    def lib() -> None:
        kit.add_note(incident.id, text, by="bob")

    def raw_append() -> None:
        v = counter["raw"] = counter["raw"] + 1
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(RAW_EVENT, ("INC-RAW", v, sample.tag, sample.payload, micros, sample.hash))
        raw.execute(
            RAW_OUTBOX,
            (f"INC-RAW:{v}:event:observer", "INC-RAW", "event", "observer", "{}", micros, micros),
        )
        raw.execute("COMMIT")

    summary_row = (
        "INC-RAW",
        0,
        "API returning 500 errors",
        "declared",
        "SEV2",
        '["api"]',
        None,
        micros,
        micros,
        None,
        None,
        None,
        None,
        micros,
    )

    def raw_same_statements() -> None:
        """What the store runs: version check, event, outbox, summary and its service index."""
        v = counter["raw"] = counter["raw"] + 1
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(
            "SELECT MAX(version) FROM incidentkit_events WHERE incident_id = ?", ("INC-RAW",)
        )
        raw.execute(RAW_EVENT, ("INC-RAW", v, sample.tag, sample.payload, micros, sample.hash))
        raw.execute(
            RAW_OUTBOX,
            (f"INC-RAW:{v}:event:observer", "INC-RAW", "event", "observer", "{}", micros, micros),
        )
        raw.execute(_UPSERT_SUMMARY, (summary_row[0], v, *summary_row[2:]))
        raw.execute("DELETE FROM incidentkit_summary_services WHERE incident_id = ?", ("INC-RAW",))
        raw.execute(
            "INSERT OR IGNORE INTO incidentkit_summary_services (service, incident_id) "
            "VALUES (?, ?)",
            ("api", "INC-RAW"),
        )
        raw.execute("COMMIT")

    lib_s, raw_s = compare(lib, raw_append, repeats=repeats, number=number)
    lib2_s, same_s = compare(lib, raw_same_statements, repeats=repeats, number=number)
    kit.shutdown()
    raw.close()
    return [
        Result(
            f"B1-kit add_note through IncidentKit, WAL {synchronous}",
            lib_s,
            raw_s,
            kind="throughput",
            target=">= 0.70" if synchronous == "NORMAL" else ">= 0.90",
            notes={"events_per_block": number, "baseline": "BEGIN; INSERT event; INSERT outbox"},
        ),
        Result(
            f"B1-kit vs raw with the same statements (summary too), WAL {synchronous}",
            lib2_s,
            same_s,
            kind="throughput",
            target="report (library overhead alone)",
            notes={"events_per_block": number},
        ),
    ]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="incidentkit-bench-"))
    results: list[Result] = []
    try:
        results.extend(bench_kit_single_append(root, "NORMAL", number=300))
        results.extend(bench_kit_single_append(root, "FULL", number=40, repeats=11))
        results.append(bench_single_append(root, "NORMAL", number=300))
        results.append(bench_store_only(root))
        # fsync latency on shared virtual disks is noisy: more, shorter blocks for FULL
        results.append(bench_single_append(root, "FULL", number=40, repeats=11))
        results.append(bench_batch_append(root))
        results.extend(bench_load(root))
        peer = bench_peer(root)
        if peer is not None:
            results.append(peer)
        dsn = _pg_dsn()
        if dsn is None:
            print(
                "B10: INCIDENTKIT_BENCH_POSTGRES_DSN / INCIDENTKIT_TEST_POSTGRES_DSN unset; skipped"
            )
        else:
            results.extend(bench_postgres(dsn))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report("store", results)


if __name__ == "__main__":
    main()
