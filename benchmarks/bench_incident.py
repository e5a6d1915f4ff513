"""A realistic 30-command incident through ``IncidentKit`` against the same rows written by hand.

The scenario (:func:`scenario`) is the demo's SEV1: declare, staff three roles,
acknowledge, notes, status changes, public updates, hypotheses, a severity
change, phases, a mitigation, the resolution checklist and the resolution:
30 commands, with one real notifier (the built-in ``LogNotifier``) so the
commands that page or notify write outbox rows.

Subject: the 30 commands through the kit (warm: the kit holds the incident's
state between its commands, as a service does), one new incident per round.

Baseline: hand-written SQL on a raw driver connection that writes the very
rows the kit wrote for the same commands (captured once through a recording
store: events with their payloads and hashes, outbox rows, the command row,
the summary row), one transaction per command, with the optimistic version
check; the summary's service rows are rewritten only when the services change.
The bytes are prepared before timing, so the baseline pays no Python for
deciding or serializing: the difference is what the library costs.

I1  SQLite WAL synchronous=NORMAL: kit ÷ hand-written (target <= 1.3, issue 10)
I1o the same run as Python overhead per command: (kit − hand-written) ÷ 30
    (target <= 35 µs, issue 10)
I2  SQLite WAL synchronous=FULL (target <= 1.3, issue 10)
I1f the floor, SQLite NORMAL (report only): the least Python any event-sourced
    library must run per command (an event dict and its canonical JSON, a chained
    SHA-256 over the row, a copy of a 39-field state, a summary tuple) before the
    same hand-written SQL, ÷ hand-written SQL. How far below it I1 can go without
    doing less than the kit promises is what this row says.
I3  PostgreSQL, the baseline one pipelined transaction (one round trip) per
    command (target <= 1.15, issue 10; needs INCIDENTKIT_BENCH_POSTGRES_DSN or
    INCIDENTKIT_TEST_POSTGRES_DSN)

``profile_incident.py`` profiles the same scenario under cProfile.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import secrets
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Result, compare, postgres_dsn, report, scaled

from incidentkit import IncidentKit, ManualClock, Severity
from incidentkit.lifecycle import Phase, Status
from incidentkit.notify import LogNotifier
from incidentkit.store import (
    IncidentSummary,
    MemoryStore,
    OutboxMessage,
    Store,
    StoredCommand,
    StoredEvent,
)

T0 = datetime(2024, 11, 20, 14, 30, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COMMANDS = 30
CAPTURED_ID = "CAP-000000"


def quiet_logger() -> logging.Logger:
    """A logger that formats nothing and goes nowhere, but is enabled (records are made)."""
    logger = logging.getLogger("incidentkit.bench.incident")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def make_kit(store: Store, clock: ManualClock) -> IncidentKit:
    """A kit with one real notifier (``LogNotifier``) and nothing autoloaded."""
    notifier = LogNotifier(name="log", logger=quiet_logger())
    return IncidentKit(store=store, clock=clock, plugins=[notifier], autoload_plugins=False)


def scenario(kit: IncidentKit, clock: ManualClock, iid: str) -> int:
    """Run the 30 commands of one incident ``iid``; return how many ran."""
    step = [0]

    def tick() -> None:
        step[0] += 1
        clock.set(T0 + timedelta(seconds=20 * step[0]))

    tick()
    kit.declare(
        "Login API returning 500 errors",
        severity=Severity.SEV1,
        by="alice",
        started_at=T0 - timedelta(minutes=1),
        detected_at=T0,
        services=["login-api"],
        description="Alert: api_error_rate 15% > 1% for 5m",
        incident_id=iid,
    )
    commands: list[Callable[[], object]] = [
        lambda: kit.assign_role(iid, "incident_commander", "alice", by="alice"),
        lambda: kit.assign_role(iid, "technical_lead", "bob", by="alice"),
        lambda: kit.assign_role(iid, "communications_lead", "charlie", by="alice"),
        lambda: kit.acknowledge(iid, by="alice"),
        lambda: kit.add_note(iid, "Checking dashboards... seeing 15% error rate", by="bob"),
        lambda: kit.set_status(iid, Status.INVESTIGATING, by="alice"),
        lambda: kit.post_update(
            iid,
            "investigating",
            "We are investigating reports of login failures affecting some users.",
            by="charlie",
        ),
        lambda: kit.record_hypothesis(
            iid,
            "Bad deploy of login-api 4.2",
            test="Compare error rate before and after the deploy",
            result="errors started 20 minutes before the deploy",
            conclusion="rejected",
            by="bob",
        ),
        lambda: kit.record_hypothesis(
            iid,
            "Database connection pool exhausted",
            test="Check connection pool metrics",
            result="100/100 connections in use, 50 waiting",
            conclusion="confirmed",
            by="bob",
        ),
        lambda: kit.set_status(iid, Status.IDENTIFIED, by="alice", reason="pool exhausted"),
        lambda: kit.enter_phase(iid, Phase.MITIGATE, by="alice"),
        lambda: kit.add_note(iid, "Any quick mitigation options?", by="alice"),
        lambda: kit.add_note(iid, "Increasing pool size and deploying now", by="bob"),
        lambda: kit.set_severity(
            iid, Severity.SEV2, by="alice", reason="only some logins fail; workaround exists"
        ),
        lambda: kit.mark_mitigated(
            iid, by="bob", detail="Fix deployed: pool size 10 -> 20", action="deploy"
        ),
        lambda: kit.set_status(iid, Status.MONITORING, by="alice"),
        lambda: kit.enter_phase(iid, Phase.RESOLVE, by="alice"),
        lambda: kit.add_note(iid, "Error rate dropping, now at 2%", by="bob"),
        lambda: kit.post_update(
            iid,
            "identified",
            "We have identified the root cause as database connection pool exhaustion.",
            by="charlie",
        ),
        lambda: kit.add_note(iid, "Error rate back to baseline (0.1%)", by="bob"),
        lambda: kit.add_note(iid, "No new alerts for 10 minutes", by="bob"),
        lambda: kit.add_note(iid, "Pool saturation graph attached to the ticket", by="charlie"),
        *(
            (lambda item=item: kit.check(iid, "resolution", item, by="alice"))
            for item in (
                "root-cause-identified",
                "symptoms-eliminated",
                "metrics-normal",
                "no-active-alerts",
                "fix-validated",
            )
        ),
        lambda: kit.resolve(iid, by="alice", summary="Connection pool size raised from 10 to 20"),
        lambda: kit.post_update(iid, "resolved", "Login functionality restored.", by="charlie"),
    ]
    for command in commands:
        tick()
        command()
    return 1 + len(commands)


# --- capture: the rows the kit writes ------------------------------------------------------


class _Append:
    """One ``Store.append`` call as the kit made it."""

    def __init__(
        self,
        events: list[StoredEvent],
        expected: int,
        outbox: list[OutboxMessage],
        summary: IncidentSummary | None,
        command: StoredCommand | None,
    ) -> None:
        self.events = events
        self.expected = expected
        self.outbox = outbox
        self.summary = summary
        self.command = command


class RecordingStore:
    """A store that records every append and hands everything to a :class:`MemoryStore`."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.appends: list[_Append] = []

    def append(
        self,
        incident_id: str,
        events: Any,
        expected_version: int,
        outbox: Any = (),
        summary: IncidentSummary | None = None,
        command: StoredCommand | None = None,
    ) -> None:
        self.inner.append(
            incident_id, events, expected_version, outbox=outbox, summary=summary, command=command
        )
        self.appends.append(_Append(list(events), expected_version, list(outbox), summary, command))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def capture() -> list[_Append]:
    """The appends of one run of the scenario (incident ``CAP-000000``)."""
    store = RecordingStore()
    clock = ManualClock(T0)
    kit = make_kit(store, clock)  # type: ignore[arg-type]
    ran = scenario(kit, clock, CAPTURED_ID)
    assert ran == COMMANDS, ran
    assert len(store.appends) == COMMANDS, len(store.appends)
    return store.appends


def _column_value(value: Any, micros: bool) -> Any:
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(microseconds=1) if micros else value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return json.dumps(list(value)) if micros else list(value)
    return value


def summary_params(summary: IncidentSummary, columns: list[str], micros: bool) -> list[Any]:
    """The summary's values in table-column order, as a raw driver takes them."""
    return [_column_value(getattr(summary, name), micros) for name in columns]


class RawCommand:
    """One command's rows, ready for a raw driver (``micros``: SQLite's integer times)."""

    def __init__(self, captured: _Append, iid: str, micros: bool) -> None:
        def s(text: str) -> str:
            return text.replace(CAPTURED_ID, iid)

        def t(value: datetime) -> Any:
            return _column_value(value, micros)

        self.iid = iid
        self.expected = captured.expected
        self.events = [
            (iid, e.version, e.tag, s(e.payload), t(e.recorded_at), e.hash) for e in captured.events
        ]
        self.outbox = [
            (s(m.key), iid, m.topic, m.target, s(m.payload), t(m.available_at), t(m.available_at))
            for m in captured.outbox
        ]
        command = captured.command
        assert command is not None
        self.command = (
            f"cmd-{secrets.token_hex(16)}",
            iid,
            command.action,
            command.version,
            command.events,
        )
        summary = captured.summary
        assert summary is not None
        self.summary: dict[str, Any] = {
            a.name: _column_value(getattr(summary, a.name), micros)
            for a in IncidentSummary.__attrs_attrs__  # type: ignore[attr-defined]
        }
        self.summary["incident_id"] = iid
        self.services = summary.services


def raw_rounds(captured: list[_Append], prefix: str, rounds: int, micros: bool) -> list[list[Any]]:
    """``rounds`` incidents' worth of rows, one incident id each (same length as the captured)."""
    out = []
    for n in range(rounds):
        iid = f"{prefix}-{n:06d}"
        assert len(iid) == len(CAPTURED_ID)
        out.append([RawCommand(c, iid, micros) for c in captured])
    return out


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_writer(conn: sqlite3.Connection) -> Callable[[list[RawCommand]], None]:
    """Hand-written SQLite writes of one incident's commands, one transaction each."""
    columns = [row[1] for row in conn.execute("PRAGMA table_info(incidentkit_summaries)")]
    upsert = (
        f"INSERT INTO incidentkit_summaries ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT (incident_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "incident_id")
    )
    insert_event = (
        "INSERT INTO incidentkit_events (incident_id, version, tag, payload, recorded_at, hash) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )
    insert_outbox = (
        "INSERT INTO incidentkit_outbox (key, incident_id, topic, target, payload, "
        "available_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    insert_command = (
        "INSERT INTO incidentkit_commands (command_id, incident_id, action, version, events) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    head = "SELECT MAX(version) FROM incidentkit_events WHERE incident_id = ?"

    def write(commands: list[RawCommand]) -> None:
        services: tuple[str, ...] | None = None
        execute = conn.execute
        for c in commands:
            execute("BEGIN IMMEDIATE")
            execute(insert_command, c.command)
            if (execute(head, (c.iid,)).fetchone()[0] or 0) != c.expected:
                raise AssertionError("version check failed")
            conn.executemany(insert_event, c.events)
            if c.outbox:
                conn.executemany(insert_outbox, c.outbox)
            execute(upsert, [c.summary[name] for name in columns])
            if c.services != services:
                if services is not None:
                    execute(
                        "DELETE FROM incidentkit_summary_services WHERE incident_id = ?", (c.iid,)
                    )
                conn.executemany(
                    "INSERT INTO incidentkit_summary_services (service, incident_id) VALUES (?, ?)",
                    [(name, c.iid) for name in c.services],
                )
                services = c.services
            execute("COMMIT")

    return write


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def floor_writer(write: Callable[[list[RawCommand]], None]) -> Callable[[list[RawCommand]], None]:
    """``write``, after the least Python a library must run for each command (row I1f).

    Per command: an event as a dict and its canonical JSON, the row's hash chained
    to the previous one (SHA-256 over the same row text the kit hashes), a new
    state as a copy of a 39-field record with two fields changed, and the summary
    as a 15-value tuple. No validation, no objects, no timers, no notifications:
    a floor, not a library.
    """

    def floor(commands: list[RawCommand]) -> None:
        previous = "0" * 64
        state: dict[int, object] = dict.fromkeys(range(39))
        at = T0
        for number, c in enumerate(commands, start=1):
            at += timedelta(seconds=20)
            event = {
                "by": "bob",
                "text": "Checking dashboards... seeing 15% error rate",
                "type": "note_added",
            }
            payload = _CANONICAL(event)
            row = (
                f'{{"incident_id":{json.dumps(c.iid)},"payload":{json.dumps(payload)},'
                f'"recorded_at":"{at.isoformat()}","version":{number}}}'
            )
            previous = hashlib.sha256(f"{previous}\n{row}".encode()).hexdigest()
            state = dict(state)
            state[0], state[1] = number, at
            summary = tuple(state[k] for k in range(15))
            assert summary[0] == number
        write(commands)

    return floor


def bench_sqlite(root: Path, synchronous: str, captured: list[_Append]) -> list[Result]:
    from incidentkit.store.sqlite import SqliteStore

    per_block = scaled(10, 3) if synchronous == "NORMAL" else scaled(4, 2)
    repeats = 5 if synchronous == "NORMAL" else 7
    blocks = (repeats + 1) * 2  # harness halves repeats in quick runs; never more
    lib_path = root / f"incident-lib-{synchronous}.db"
    raw_path = root / f"incident-raw-{synchronous}.db"
    store = SqliteStore(lib_path, synchronous=synchronous)
    store.migrate()
    SqliteStore(raw_path).migrate()
    conn = sqlite3.connect(raw_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    clock = ManualClock(T0)
    kit = make_kit(store, clock)
    rounds = iter(raw_rounds(captured, "RAW", blocks * per_block, micros=True))
    write = sqlite_writer(conn)
    lib_n = [0]

    def lib() -> None:
        for _ in range(per_block):
            lib_n[0] += 1
            scenario(kit, clock, f"LIB-{lib_n[0]:06d}")

    def raw() -> None:
        for _ in range(per_block):
            write(next(rounds))

    try:
        lib_s, raw_s = compare(lib, raw, repeats=repeats)
        # Same rows, same counts: the two databases hold the same number of each.
        check = sqlite3.connect(lib_path)
        for table in ("incidentkit_events", "incidentkit_outbox", "incidentkit_commands"):
            lib_rows = check.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            raw_rows = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            assert lib_rows == raw_rows, (table, lib_rows, raw_rows)
        check.close()
    finally:
        conn.close()
        kit.shutdown()
    per_lib = lib_s / (per_block * COMMANDS)
    per_raw = raw_s / (per_block * COMMANDS)
    label = "I1" if synchronous == "NORMAL" else "I2"
    measures = (
        f"{COMMANDS} IncidentKit commands of one SEV1 incident (declare … resolve, one "
        f"LogNotifier) on SqliteStore WAL {synchronous}, warm kit; per command"
    )
    against = (
        "hand-written sqlite3: the same rows the kit wrote (events, outbox, command, summary), "
        "one BEGIN IMMEDIATE … COMMIT per command with the version check; per command"
    )
    rows = [
        Result(
            f"{label} 30-command incident, SQLite {synchronous}: kit ÷ hand-written SQL",
            per_lib,
            per_raw,
            limit=1.3,
            issue="issue 10",
            measures=measures,
            against=against,
            notes={"incidents_per_block": per_block},
        )
    ]
    if synchronous == "NORMAL":
        rows.append(_floor_row(root, captured, per_block, repeats))
        rows.append(
            Result(
                "I1o Python overhead per command, SQLite NORMAL: kit − hand-written SQL",
                per_lib,
                per_raw,
                kind="overhead_us",
                limit=35,
                issue="issue 10",
                measures=measures,
                against=against,
            )
        )
    return rows


def _floor_row(root: Path, captured: list[_Append], per_block: int, repeats: int) -> Result:
    """I1f: the floor (:func:`floor_writer`) ÷ hand-written SQL, interleaved, SQLite NORMAL."""
    from incidentkit.store.sqlite import SqliteStore

    blocks = (repeats + 1) * 2
    conns = []
    writers = []
    for name in ("floor", "raw2"):
        path = root / f"incident-{name}.db"
        SqliteStore(path).migrate()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conns.append(conn)
        writers.append(sqlite_writer(conn))
    floor = floor_writer(writers[0])
    floor_rounds = iter(raw_rounds(captured, "FLR", blocks * per_block, micros=True))
    raw_rounds_ = iter(raw_rounds(captured, "RAW", blocks * per_block, micros=True))

    def subject() -> None:
        for _ in range(per_block):
            floor(next(floor_rounds))

    def baseline() -> None:
        for _ in range(per_block):
            writers[1](next(raw_rounds_))

    try:
        floor_s, raw_s = compare(subject, baseline, repeats=repeats)
    finally:
        for conn in conns:
            conn.close()
    return Result(
        "I1f floor, SQLite NORMAL: least Python a library must run + the SQL ÷ hand-written",
        floor_s / (per_block * COMMANDS),
        raw_s / (per_block * COMMANDS),
        target="report",
        measures=(
            "per command: canonical JSON of an event, a chained SHA-256 over the row, a "
            "39-field state copy and a 15-value summary tuple, then the same hand-written "
            "rows as I1's baseline"
        ),
        against="I1's baseline (the same rows, one BEGIN IMMEDIATE … COMMIT per command)",
    )


# --- PostgreSQL -------------------------------------------------------------------------------


@contextmanager
def _postgres_schema(dsn: str) -> Iterator[tuple[Store, str]]:
    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    try:
        yield store, schema
    finally:
        store.drop_schema()
        store.close()


def postgres_writer(conn: Any, schema: str) -> Callable[[list[RawCommand]], None]:
    """Hand-written psycopg writes: one pipelined transaction (one round trip) per command."""
    p = f'"{schema}".'
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
    insert_event = (
        f"INSERT INTO {p}incidentkit_events (incident_id, version, tag, payload, recorded_at, "
        "hash) VALUES (%s, %s, %s, %s, %s, %s)"
    )
    insert_outbox = (
        f"INSERT INTO {p}incidentkit_outbox (key, incident_id, topic, target, payload, "
        "available_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    insert_command = (
        f"INSERT INTO {p}incidentkit_commands (command_id, incident_id, action, version, events) "
        "VALUES (%s, %s, %s, %s, %s)"
    )
    head_sql = f"SELECT COALESCE(MAX(version), 0) FROM {p}incidentkit_events WHERE incident_id = %s"

    def write(commands: list[RawCommand]) -> None:
        for c in commands:
            with conn.pipeline(), conn.transaction():
                cur = conn.cursor()
                cur.execute(insert_command, c.command)
                head = conn.cursor()
                head.execute(head_sql, (c.iid,))
                cur.executemany(insert_event, c.events)
                if c.outbox:
                    cur.executemany(insert_outbox, c.outbox)
                cur.execute(upsert, [c.summary[name] for name in columns])
                row = head.fetchone()
                if row[0] != c.expected:
                    raise AssertionError("version check failed")

    return write


def bench_postgres(dsn: str, captured: list[_Append]) -> list[Result]:
    import psycopg

    per_block = scaled(4, 2)
    repeats = 5
    with _postgres_schema(dsn) as (store, schema):
        conn = psycopg.connect(dsn, autocommit=True)
        clock = ManualClock(T0)
        kit = make_kit(store, clock)
        rounds = iter(raw_rounds(captured, "RAW", (repeats + 1) * per_block, micros=False))
        write = postgres_writer(conn, schema)
        lib_n = [0]

        def lib() -> None:
            for _ in range(per_block):
                lib_n[0] += 1
                scenario(kit, clock, f"LIB-{lib_n[0]:06d}")

        def raw() -> None:
            for _ in range(per_block):
                write(next(rounds))

        try:
            lib_s, raw_s = compare(lib, raw, repeats=repeats)
            for table in ("incidentkit_events", "incidentkit_outbox", "incidentkit_commands"):
                counts = conn.execute(
                    f'SELECT (SELECT COUNT(*) FROM "{schema}".{table} WHERE incident_id LIKE '
                    f"'LIB-%%'), (SELECT COUNT(*) FROM \"{schema}\".{table} WHERE incident_id "
                    "LIKE 'RAW-%%')"
                ).fetchone()
                assert counts[0] == counts[1], (table, counts)
        finally:
            conn.close()
    per_lib = lib_s / (per_block * COMMANDS)
    per_raw = raw_s / (per_block * COMMANDS)
    return [
        Result(
            "I3 30-command incident, PostgreSQL: kit ÷ hand-written SQL",
            per_lib,
            per_raw,
            limit=1.15,
            issue="issue 10",
            measures=(
                f"{COMMANDS} IncidentKit commands of one SEV1 incident on PostgresStore, warm "
                "kit; per command"
            ),
            against=(
                "hand-written psycopg: the same rows the kit wrote, one pipelined transaction "
                "(one round trip) per command with the version check; per command"
            ),
            notes={"incidents_per_block": per_block},
        ),
        Result(
            "I3o Python overhead per command, PostgreSQL: kit − hand-written SQL",
            per_lib,
            per_raw,
            kind="overhead_us",
            target="report",
            measures="as I3",
            against="as I3",
        ),
    ]


def main() -> None:
    """Run I1, I1o, I2 and (with a DSN) I3."""
    captured = capture()
    root = Path(tempfile.mkdtemp(prefix="incidentkit-bench-incident-"))
    results: list[Result] = []
    try:
        results.extend(bench_sqlite(root, "NORMAL", captured))
        results.extend(bench_sqlite(root, "FULL", captured))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    dsn = postgres_dsn()
    if dsn is None:
        print("I3: INCIDENTKIT_BENCH_POSTGRES_DSN / INCIDENTKIT_TEST_POSTGRES_DSN unset; skipped")
    else:
        results.extend(bench_postgres(dsn, captured))
    report("incident", results)


if __name__ == "__main__":
    main()
