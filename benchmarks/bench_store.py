"""Store benchmarks: incidentkit's real stores against raw driver calls in the same run.

Every store row hands the store pre-built rows (``StoredEvent``/``OutboxMessage``
with their payloads and hashes made before timing), so it times the store's
own cost (checks, conversions, statements, transaction) and nothing of the
benchmark; the raw side writes the same bytes. Whole-stack figures are in
``bench_incident`` (a 30-command incident through ``IncidentKit``) and B1-kit.

B1a/B1b  ``SqliteStore.append`` of 1 event + 1 outbox row, WAL NORMAL / FULL, against raw
         ``BEGIN IMMEDIATE; INSERT event; INSERT outbox; COMMIT`` (throughput, higher better).
B1-kit   ``IncidentKit.add_note`` (decide, fold, hash, serialize, append with its outbox row,
         summary and command) against the same raw 2-insert transaction (reported).
B2       ``SqliteStore.append`` of 100 events + 100 outbox rows against raw ``executemany``.
B4       ``SqliteStore.load`` of 1k / 10k events + ``json.loads`` against raw select +
         ``json.loads`` (time, lower better); the scaling exponent should be ~1.
P1       ``PostgresStore.append`` of what one command appends (1 event, 1 outbox row, the
         summary, the command row) against raw psycopg writing the same rows in one
         pipelined transaction, one round trip (target >= 0.8, issue 10).
B10      ``PostgresStore.append`` of 100 events + 100 outbox against raw psycopg
         ``executemany`` in one pipelined transaction; 4 writers against 1.
B12      ``SqliteStore.summaries()`` of 2,000 incidents (every column set, 7 of 9 times) against
         the raw ``SELECT`` of the same columns building one ``IncidentSummary`` per row the
         shortest way by hand (time, lower better).
B11      ``MemoryStore.append`` of 1 event to a stream of 20,000 events with 20,000 keys held
         open by other incidents, against the same append to a short stream with no keys
         (time, lower better; ~1: an append's cost does not grow with the store).
peer     ``SqliteStore.append`` against eventsourcing's SQLite application recorder (both
         WAL + FULL, both handed pre-serialized bytes), when ``eventsourcing`` is importable.

PostgreSQL rows need INCIDENTKIT_BENCH_POSTGRES_DSN or INCIDENTKIT_TEST_POSTGRES_DSN.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from _harness import Result, compare, postgres_dsn, report, scaled
from bench_incident import summary_params

from incidentkit import IncidentKit, ManualClock, hookimpl
from incidentkit.lifecycle import Status
from incidentkit.serialization import dumps, make_converter
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary, KeyClaim, OutboxMessage, StoredCommand, StoredEvent
from incidentkit.store.memory import MemoryStore
from incidentkit.store.sqlite import SqliteStore

T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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


class Prebuilt:
    """``count`` events and outbox rows of one incident, built before any timing.

    ``events``/``outbox`` are what the store is handed; ``raw_events``/``raw_outbox``
    are the same values as driver parameters (``micros``: SQLite's integer times).
    """

    def __init__(self, incident_id: str, count: int, micros: bool) -> None:
        self.events: list[StoredEvent] = []
        self.outbox: list[OutboxMessage] = []
        previous = ""
        for version in range(1, count + 1):
            obj = sample_event(version)
            payload = dumps(CONVERTER.unstructure(obj))
            row = f"{incident_id}|{version}|note_added|{payload}"
            previous = hashlib.sha256((previous + row).encode()).hexdigest()
            self.events.append(
                StoredEvent(incident_id, version, "note_added", payload, obj.at, previous)
            )
            self.outbox.append(
                OutboxMessage(
                    key=f"{incident_id}:{version}:slack",
                    incident_id=incident_id,
                    topic="event",
                    target="slack",
                    payload=payload,
                    available_at=obj.at,
                )
            )

        def t(value: datetime) -> Any:
            return (value - EPOCH) // timedelta(microseconds=1) if micros else value

        self.raw_events = [
            (e.incident_id, e.version, e.tag, e.payload, t(e.recorded_at), e.hash)
            for e in self.events
        ]
        self.raw_outbox = [
            (
                m.key,
                m.incident_id,
                m.topic,
                m.target,
                m.payload,
                t(m.available_at),
                t(m.available_at),
            )
            for m in self.outbox
        ]


RAW_EVENT = (
    "INSERT INTO incidentkit_events (incident_id, version, tag, payload, recorded_at, hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
RAW_OUTBOX = (
    "INSERT INTO incidentkit_outbox (key, incident_id, topic, target, payload, "
    "available_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
STORE_APPEND = "SqliteStore.append of pre-built rows (no serialization in the timing)"


def _fresh(root: Path, name: str) -> Path:
    for suffix in ("", "-wal", "-shm"):
        (root / (name + suffix)).unlink(missing_ok=True)
    return root / name


class SqlitePair:
    """A library store and a raw connection on identical, freshly migrated files."""

    def __init__(self, root: Path, synchronous: str) -> None:
        self.store = SqliteStore(_fresh(root, "lib.db"), synchronous=synchronous)
        self.store.migrate()
        raw_path = _fresh(root, "raw.db")
        SqliteStore(raw_path).migrate()
        self.raw = sqlite3.connect(raw_path, isolation_level=None)
        self.raw.execute("PRAGMA journal_mode = WAL")
        self.raw.execute(f"PRAGMA synchronous = {synchronous}")
        self.lib_version = 0
        self.raw_version = 0

    def close(self) -> None:
        self.store.close()
        self.raw.close()


def bench_single_append(root: Path, synchronous: str, number: int, repeats: int) -> Result:
    pair = SqlitePair(root, synchronous)
    rows = Prebuilt("INC-1", (repeats + 1) * number * 2, micros=True)

    def lib() -> None:
        v = pair.lib_version
        pair.store.append("INC-1", [rows.events[v]], v, [rows.outbox[v]])
        pair.lib_version = v + 1

    def raw() -> None:
        v = pair.raw_version
        conn = pair.raw
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(RAW_EVENT, rows.raw_events[v])
        conn.execute(RAW_OUTBOX, rows.raw_outbox[v])
        conn.execute("COMMIT")
        pair.raw_version = v + 1

    lib_s, raw_s = compare(lib, raw, repeats=repeats, number=number)
    pair.close()
    label = "B1a" if synchronous == "NORMAL" else "B1b"
    return Result(
        f"{label} SqliteStore.append 1 event + 1 outbox, WAL {synchronous}",
        lib_s,
        raw_s,
        kind="throughput",
        limit=0.70 if synchronous == "NORMAL" else 0.90,
        measures=f"{STORE_APPEND}: 1 event + 1 outbox row per call",
        against="raw sqlite3 BEGIN IMMEDIATE; INSERT event; INSERT outbox; COMMIT, same bytes",
        notes={"appends_per_block": number},
    )


def bench_batch_append(root: Path) -> Result:
    pair = SqlitePair(root, "NORMAL")
    batch, number, repeats = 100, 4, 5
    rows = Prebuilt("INC-1", (repeats + 1) * number * batch * 2, micros=True)

    def lib() -> None:
        v = pair.lib_version
        pair.store.append("INC-1", rows.events[v : v + batch], v, rows.outbox[v : v + batch])
        pair.lib_version = v + batch

    def raw() -> None:
        v = pair.raw_version
        conn = pair.raw
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_EVENT, rows.raw_events[v : v + batch])
        conn.executemany(RAW_OUTBOX, rows.raw_outbox[v : v + batch])
        conn.execute("COMMIT")
        pair.raw_version = v + batch

    lib_s, raw_s = compare(lib, raw, repeats=repeats, number=number)
    pair.close()
    return Result(
        "B2 SqliteStore.append 100 events + 100 outbox, WAL NORMAL",
        lib_s,
        raw_s,
        kind="throughput",
        limit=0.35,
        measures=f"{STORE_APPEND}: 100 events + 100 outbox rows per call",
        against="raw sqlite3 BEGIN IMMEDIATE; executemany events; executemany outbox; COMMIT",
    )


class _Observer:
    """A no-op event observer: gives every appended event one outbox row, like the raw side."""

    name = "observer"

    @hookimpl
    def incidentkit_event_recorded(self, incident: object, record: object) -> None:
        """Nothing to do; the row is what is measured."""


def bench_kit_single_append(root: Path, synchronous: str, number: int, repeats: int) -> Result:
    """B1-kit: ``IncidentKit.add_note`` against the raw 2-insert transaction."""
    clock = ManualClock(T0)
    store = SqliteStore(_fresh(root, "kit.db"), synchronous=synchronous)
    kit = IncidentKit(store=store, clock=clock, plugins=[_Observer()], autoload_plugins=False)
    incident = kit.declare("API returning 500 errors", severity=Severity.SEV2, by="alice")
    text = "seeing 15% error rate on /v1/orders after deploy; rolling back"
    kit.add_note(incident.id, text, by="bob")
    sample = store.load(incident.id)[-1]
    raw_path = _fresh(root, "kitraw.db")
    SqliteStore(raw_path).migrate()
    raw = sqlite3.connect(raw_path, isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute(f"PRAGMA synchronous = {synchronous}")
    micros = (sample.recorded_at - EPOCH) // timedelta(microseconds=1)
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

    lib_s, raw_s = compare(lib, raw_append, repeats=repeats, number=number)
    kit.shutdown()
    raw.close()
    return Result(
        f"B1-kit add_note through IncidentKit, WAL {synchronous}",
        lib_s,
        raw_s,
        kind="throughput",
        target="report (I1/I2 in bench_incident carry the targets)",
        measures=(
            "IncidentKit.add_note on a warm kit with one observer plugin: decide, fold, hash, "
            "serialize, append event + outbox row + summary + command"
        ),
        against="raw sqlite3 BEGIN IMMEDIATE; INSERT event; INSERT outbox; COMMIT (no summary)",
        notes={"commands_per_block": number},
    )


def bench_load(root: Path) -> list[Result]:
    results: list[Result] = []
    times: dict[int, float] = {}
    for count in (1_000, 10_000):
        pair = SqlitePair(root, "NORMAL")
        incident = f"INC-{count}"
        rows = Prebuilt(incident, count, micros=True)
        for start in range(0, count, 500):
            pair.store.append(
                incident, rows.events[start : start + 500], start, rows.outbox[start : start + 500]
            )
        raw = sqlite3.connect(pair.store.path, isolation_level=None)

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
        results.append(
            Result(
                f"B4 SqliteStore.load {count} events + json.loads",
                lib_s,
                raw_s,
                limit=4,
                measures=f"SqliteStore.load of {count} events (StoredEvent rows) + json.loads each",
                against="raw sqlite3 SELECT payload … ORDER BY version + json.loads each",
            )
        )
        raw.close()
        pair.close()
    exponent = math.log(times[10_000] / times[1_000]) / math.log(10)
    results[-1].notes["scaling_exponent_1k_to_10k"] = round(exponent, 3)
    print(f"B4 scaling exponent (1k -> 10k): {exponent:.2f} (1.0 = linear)")
    return results


def bench_memory_scaling() -> Result:
    """B11: a MemoryStore append costs the same on a long stream among many open keys."""
    long_events, held = 20_000, 20_000
    number, repeats = scaled(300, 100), 5
    total = (repeats + 1) * number + 1
    big = MemoryStore()
    small = MemoryStore()
    long_rows = Prebuilt("INC-1", long_events + total, micros=False)
    short_rows = Prebuilt("INC-1", total + 1, micros=False)
    big.append("INC-1", long_rows.events[:long_events], 0)
    small.append("INC-1", short_rows.events[:1], 0)
    first = short_rows.events[0]  # the store checks ids and versions, not the hash chain
    for n in range(held):
        other = f"INC-K{n}"
        event = attrs.evolve(first, incident_id=other)
        big.append(other, [event], 0, keys=[KeyClaim("alert", f"fp-{n}", other)])
    versions = {"big": long_events, "small": 1}

    def lib() -> None:
        v = versions["big"]
        big.append("INC-1", [long_rows.events[v]], v)
        versions["big"] = v + 1

    def baseline() -> None:
        v = versions["small"]
        small.append("INC-1", [short_rows.events[v]], v)
        versions["small"] = v + 1

    lib_s, base_s = compare(lib, baseline, repeats=repeats, number=number)
    return Result(
        "B11 MemoryStore.append on a 20k-event stream among 20k open keys",
        lib_s,
        base_s,
        target="report (~1: independent of the store's size)",
        measures="MemoryStore.append of 1 pre-built event to a stream of 20,000+ events, "
        "20,000 keys held open by other incidents",
        against="the same append to a stream of 1+ events in a store holding no keys",
    )


def bench_summaries(root: Path) -> Result:
    """B12: reading every summary against a hand-written SELECT and constructor loop."""
    from incidentkit.store._columns import select_list
    from incidentkit.testing.store_contract import make_events, make_summary

    count = scaled(2_000, 500)
    path = _fresh(root, "summaries")
    store = SqliteStore(path)
    store.migrate()
    for n in range(count):
        iid = f"INC-{n:05d}"
        at = T0 + timedelta(minutes=n)
        summary = make_summary(
            iid,
            1,
            services=("api", "auth") if n % 3 else ("db",),
            status=Status.RESOLVED,
            started_at=at,
            detected_at=at,
            declared_at=at,
            acknowledged_at=at + timedelta(minutes=2),
            mitigated_at=at + timedelta(minutes=20),
            resolved_at=at + timedelta(minutes=40),
            head_hash="ab" * 32,
        )
        store.append(iid, make_events(iid, 1, 1), 0, summary=summary)
    raw = sqlite3.connect(path)
    select = f"SELECT {select_list()} FROM incidentkit_summaries ORDER BY declared_at, incident_id"
    statuses = {s.value: s for s in Status}
    severities = {s.value: s for s in Severity}

    def when(value: int | None) -> datetime | None:
        return None if value is None else EPOCH + timedelta(microseconds=value)

    def baseline() -> None:
        [
            IncidentSummary(
                incident_id=r[0],
                version=r[1],
                title=r[2],
                status=statuses[r[3]],
                severity=severities[r[4]],
                services=tuple(json.loads(r[5])),
                started_at=when(r[6]),
                detected_at=when(r[7]),
                declared_at=when(r[8]),
                acknowledged_at=when(r[9]),
                mitigated_at=when(r[10]),
                resolved_at=when(r[11]),
                closed_at=when(r[12]),
                next_due_at=when(r[13]),
                head_hash=r[14],
            )
            for r in raw.execute(select)
        ]

    assert len(store.summaries()) == count
    lib_s, base_s = compare(store.summaries, baseline, repeats=7)
    raw.close()
    store.close()
    return Result(
        f"B12 SqliteStore.summaries() of {count:,} incidents",
        lib_s,
        base_s,
        target="report",
        measures=f"SqliteStore.summaries() reading {count:,} summary rows",
        against="raw sqlite3 SELECT of the same columns, one IncidentSummary per row by hand",
        notes={"per_row_us": round(lib_s / count * 1e6, 2)},
    )


def bench_peer(root: Path) -> Result | None:
    try:
        from eventsourcing.persistence import StoredEvent as EsEvent
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
    except ImportError:
        print("peer: eventsourcing is not installed; row skipped")
        return None
    pair = SqlitePair(root, "FULL")
    datastore = SQLiteDatastore(str(_fresh(root, "es.db")))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    originator = uuid.uuid4()
    number, repeats = 100, 5
    rows = Prebuilt("INC-1", (repeats + 1) * number * 2, micros=True)
    states = [e.payload.encode() for e in rows.events]
    es_version = [0]

    def lib() -> None:
        v = pair.lib_version
        pair.store.append("INC-1", [rows.events[v]], v, [rows.outbox[v]])
        pair.lib_version = v + 1

    def peer() -> None:
        v = es_version[0]
        recorder.insert_events([EsEvent(originator, v + 1, "note_added", states[v])])
        es_version[0] = v + 1

    lib_s, peer_s = compare(lib, peer, repeats=repeats, number=number)
    pair.close()
    return Result(
        "peer SqliteStore.append 1 event (+outbox) vs eventsourcing recorder, WAL FULL",
        lib_s,
        peer_s,
        kind="throughput",
        target="report",
        measures=f"{STORE_APPEND}: 1 event + 1 outbox row, WAL FULL",
        against="eventsourcing SQLiteApplicationRecorder.insert_events of 1 pre-serialized event",
    )


# -- PostgreSQL -----------------------------------------------------------------


def bench_postgres(dsn: str) -> list[Result]:
    import psycopg

    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    results: list[Result] = []
    conn = psycopg.connect(dsn, autocommit=True)
    p = f'"{schema}".'
    insert_event = (
        f"INSERT INTO {p}incidentkit_events (incident_id, version, tag, payload, recorded_at, "
        "hash) VALUES (%s, %s, %s, %s, %s, %s)"
    )
    insert_outbox = (
        f"INSERT INTO {p}incidentkit_outbox (key, incident_id, topic, target, payload, "
        "available_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    try:
        results.append(_pg_single(store, conn, schema, insert_event, insert_outbox))
        batch, number, repeats = 100, 3, 5
        lib_rows = Prebuilt("INC-B", (repeats + 1) * number * batch, micros=False)
        raw_rows = Prebuilt("RAW-B", (repeats + 1) * number * batch, micros=False)
        state = {"lib": 0, "raw": 0}

        def lib() -> None:
            v = state["lib"]
            store.append("INC-B", lib_rows.events[v : v + batch], v, lib_rows.outbox[v : v + batch])
            state["lib"] = v + batch

        def raw() -> None:
            v = state["raw"]
            with conn.pipeline(), conn.transaction():
                cur = conn.cursor()
                cur.executemany(insert_event, raw_rows.raw_events[v : v + batch])
                cur.executemany(insert_outbox, raw_rows.raw_outbox[v : v + batch])
            state["raw"] = v + batch

        lib_s, raw_s = compare(lib, raw, repeats=repeats, number=number)
        results.append(
            Result(
                "B10 PostgresStore.append 100 events + 100 outbox",
                lib_s,
                raw_s,
                kind="throughput",
                limit=0.70,
                measures="PostgresStore.append of 100 pre-built events + 100 outbox rows",
                against="raw psycopg executemany ×2 in one pipelined transaction, same bytes",
            )
        )
        results.append(_pg_writers(dsn, schema))
    finally:
        conn.close()
        store.drop_schema()
        store.close()
    return results


def _pg_single(store: Any, conn: Any, schema: str, insert_event: str, insert_outbox: str) -> Result:
    """P1: one command's append (event, outbox row, summary, command) in one round trip."""
    p = f'"{schema}".'
    number, repeats = scaled(200, 60), 7
    count = (repeats + 1) * number * 2
    lib_rows = Prebuilt("INC-P", count, micros=False)
    raw_rows = Prebuilt("RAW-P", count, micros=False)

    def summary(incident_id: str, version: int) -> IncidentSummary:
        return IncidentSummary(
            incident_id=incident_id,
            version=version,
            title="API returning 500 errors",
            status=Status.INVESTIGATING,
            severity=Severity.SEV2,
            services=("api",),
            detected_at=T0,
            declared_at=T0,
        )

    columns = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'incidentkit_summaries' ORDER BY ordinal_position",
            (schema,),
        )
    ]
    upsert = (
        f"INSERT INTO {p}incidentkit_summaries ({', '.join(columns)}) "
        f"VALUES ({', '.join('%s' for _ in columns)}) ON CONFLICT (incident_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "incident_id")
    )
    insert_command = (
        f"INSERT INTO {p}incidentkit_commands (command_id, incident_id, action, version, events) "
        "VALUES (%s, %s, %s, %s, %s)"
    )
    lib_calls = [
        (
            [lib_rows.events[v]],
            v,
            [lib_rows.outbox[v]],
            summary("INC-P", v + 1),
            StoredCommand(f"cmd-lib-{v}", "INC-P", "add_note", v + 1, 1),
        )
        for v in range(count)
    ]
    raw_calls = [
        (
            raw_rows.raw_events[v],
            raw_rows.raw_outbox[v],
            summary_params(summary("RAW-P", v + 1), columns, micros=False),
            (f"cmd-raw-{v}", "RAW-P", "add_note", v + 1, 1),
        )
        for v in range(count)
    ]
    state = {"lib": 0, "raw": 0}

    def lib() -> None:
        v = state["lib"]
        events, expected, outbox, summ, command = lib_calls[v]
        store.append("INC-P", events, expected, outbox, summary=summ, command=command)
        state["lib"] = v + 1

    def raw() -> None:
        v = state["raw"]
        event, message, summ, command = raw_calls[v]
        # One round trip: the (incident_id, version) key is the version check.
        with conn.pipeline(), conn.transaction():
            cur = conn.cursor()
            cur.execute(insert_command, command)
            cur.execute(insert_event, event)
            cur.execute(insert_outbox, message)
            cur.execute(upsert, summ)
        state["raw"] = v + 1

    lib_s, raw_s = compare(lib, raw, repeats=repeats, number=number)
    return Result(
        "P1 PostgresStore.append of one command (1 event, outbox, summary, command)",
        lib_s,
        raw_s,
        kind="throughput",
        limit=0.8,
        issue="issue 10",
        measures=(
            "PostgresStore.append of pre-built rows: 1 event + 1 outbox row + summary + command"
        ),
        against=(
            "raw psycopg: the same 4 inserts in one pipelined transaction (one round trip; the "
            "primary key is the version check)"
        ),
        notes={"appends_per_block": number},
    )


def _pg_writers(dsn: str, schema: str) -> Result:
    from incidentkit.store.postgres import PostgresStore

    per_writer = scaled(150, 40)
    prebuilt = {i: Prebuilt(f"W-{i}", per_writer, micros=False) for i in range(4)}

    def run(writers: int) -> float:
        stores = [PostgresStore(dsn, schema=schema) for _ in range(writers)]
        tag = uuid.uuid4().hex[:6]
        start = threading.Barrier(writers + 1)

        def work(index: int, store: PostgresStore) -> None:
            rows = prebuilt[index]
            iid = f"W{tag}-{index}"
            events = [attrs.evolve(e, incident_id=iid) for e in rows.events]
            outbox = [attrs.evolve(m, incident_id=iid, key=f"{iid}:{m.key}") for m in rows.outbox]
            start.wait()
            for v in range(per_writer):
                store.append(iid, [events[v]], v, [outbox[v]])

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
        measures="4 threads, each PostgresStore.append of 1 pre-built event at a time; per append",
        against="1 thread doing the same; per append",
    )


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="incidentkit-bench-"))
    results: list[Result] = []
    try:
        results.append(bench_single_append(root, "NORMAL", number=scaled(300, 100), repeats=5))
        # fsync latency on shared virtual disks is noisy: more, shorter blocks for FULL
        results.append(bench_single_append(root, "FULL", number=scaled(40, 15), repeats=11))
        results.append(bench_kit_single_append(root, "NORMAL", number=scaled(300, 100), repeats=5))
        results.append(bench_kit_single_append(root, "FULL", number=scaled(40, 15), repeats=11))
        results.append(bench_batch_append(root))
        results.extend(bench_load(root))
        results.append(bench_memory_scaling())
        results.append(bench_summaries(root))
        peer = bench_peer(root)
        if peer is not None:
            results.append(peer)
        dsn = postgres_dsn()
        if dsn is None:
            print("P1/B10: INCIDENTKIT_BENCH_POSTGRES_DSN / INCIDENTKIT_TEST_POSTGRES_DSN unset")
        else:
            results.extend(bench_postgres(dsn))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report("store", results)


if __name__ == "__main__":
    main()
