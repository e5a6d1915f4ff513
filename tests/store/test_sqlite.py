"""SQLite specifics: URLs, pragmas, schema versions, bad input, rollback, locks, crashes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest

from incidentkit.errors import DuplicateCommand, StoreError, ValidationError
from incidentkit.store import StoredCommand, SummaryQuery
from incidentkit.store.sqlite import SCHEMA_VERSION, SqliteStore, parse_sqlite_url
from incidentkit.testing.store_contract import T0, make_events, make_message, make_summary

# -- URLs and parameters ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path", "params"),
    [
        ("sqlite:///incidents.db", "incidents.db", {}),
        ("sqlite:///data/x.db", "data/x.db", {}),
        ("sqlite:////var/lib/x.db", "/var/lib/x.db", {}),
        ("sqlite://:memory:", ":memory:", {}),
        ("sqlite:///:memory:", ":memory:", {}),
        ("sqlite:///x.db?synchronous=NORMAL", "x.db", {"synchronous": "NORMAL"}),
    ],
)
def test_urls_name_a_path(url: str, path: str, params: dict[str, str]) -> None:
    assert parse_sqlite_url(url) == (path, params)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("sqlite://relative.db",), {}, "url"),
        (("sqlite://",), {}, "url"),
        (("sqlite:///x.db?journal=off",), {}, "url.journal"),
        (("sqlite:///x.db?busy_timeout=soon",), {}, "url.busy_timeout"),
        (("sqlite:///x.db?synchronous=OFF",), {}, "synchronous"),
        (("x.db",), {"synchronous": "OFF"}, "synchronous"),
        (("x.db",), {"busy_timeout": timedelta(seconds=-1)}, "busy_timeout"),
        (("x.db",), {"busy_timeout": 5}, "busy_timeout"),
        ((42,), {}, "path_or_url"),
        (("",), {}, "path_or_url"),
    ],
)
def test_bad_parameters_name_the_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    field: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError) as caught:
        SqliteStore(*args, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_relative_and_absolute_urls_open_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SqliteStore("sqlite:///rel.db")
    relative.migrate()
    relative.append("INC-1", make_events("INC-1", 1, 1), 0)
    relative.close()
    absolute = SqliteStore(f"sqlite:///{tmp_path}/rel.db")
    assert absolute.url == f"sqlite:////{str(tmp_path).lstrip('/')}/rel.db"
    assert absolute.version("INC-1") == 1
    absolute.close()


def _pragma(store: SqliteStore, name: str) -> object:
    with store._reading() as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_defaults_are_wal_and_full(sqlite_store: SqliteStore) -> None:
    assert _pragma(sqlite_store, "journal_mode") == "wal"
    assert _pragma(sqlite_store, "synchronous") == 2  # FULL
    assert _pragma(sqlite_store, "busy_timeout") == 10_000


def test_normal_and_busy_timeout_are_explicit_opt_ins(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path}/n.db?synchronous=normal&busy_timeout=2.5")
    assert (store.synchronous, store.busy_timeout) == ("NORMAL", timedelta(seconds=2.5))
    assert _pragma(store, "synchronous") == 1
    assert _pragma(store, "busy_timeout") == 2500
    store.close()


def test_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no-such-dir"):
        SqliteStore(tmp_path / "no-such-dir" / "x.db")


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the pages you are looking for\n" * 100)
    with pytest.raises(StoreError, match="not a database"):
        SqliteStore(path).migrate()
    assert path.read_text().startswith("these are not")


def test_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fresh.db")
    with pytest.raises(StoreError, match=r"migrate\(\)"):
        store.load("INC-1")
    assert store.schema_version() == 0
    store.close()


# -- schema versions ----------------------------------------------------------


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.migrate()
    store.append("INC-1", make_events("INC-1", 1, 1), 0)
    raw = sqlite3.connect(tmp_path / "x.db")
    raw.execute("UPDATE incidentkit_meta SET value = '99' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as caught:
        store.migrate()
    message = str(caught.value)
    assert "schema version 99" in message and f"version {SCHEMA_VERSION}" in message
    assert "upgrade incidentkit" in message
    assert store.schema_version() == 99
    assert store.version("INC-1") == 1
    store.close()


V1_SCHEMA = """
CREATE TABLE incidentkit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO incidentkit_meta VALUES ('schema_version', '1');
CREATE TABLE incidentkit_events (
    incident_id TEXT NOT NULL, version INTEGER NOT NULL, tag TEXT NOT NULL,
    payload TEXT NOT NULL, recorded_at INTEGER NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (incident_id, version));
CREATE TABLE incidentkit_summaries (
    incident_id TEXT PRIMARY KEY, version INTEGER NOT NULL, title TEXT NOT NULL,
    status TEXT NOT NULL, severity TEXT NOT NULL, services TEXT NOT NULL,
    started_at INTEGER, detected_at INTEGER, declared_at INTEGER, acknowledged_at INTEGER,
    mitigated_at INTEGER, resolved_at INTEGER, closed_at INTEGER, next_due_at INTEGER);
CREATE TABLE incidentkit_outbox (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, incident_id TEXT NOT NULL,
    topic TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL, lease_until INTEGER, last_error TEXT,
    created_at INTEGER NOT NULL);
"""


def test_a_version_1_file_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    t0 = int(T0.timestamp()) * 1_000_000 + T0.microsecond
    raw = sqlite3.connect(path)
    raw.executescript(V1_SCHEMA)
    raw.execute(
        "INSERT INTO incidentkit_events VALUES ('INC-7', 1, 'declared', '{\"a\":1}', ?, 'h1')",
        (t0,),
    )
    raw.execute(
        "INSERT INTO incidentkit_summaries (incident_id, version, title, status, severity, "
        "services, declared_at) VALUES ('INC-7', 1, 'old one', 'declared', 'SEV1', "
        '\'["api", "db"]\', ?)',
        (t0,),
    )
    raw.execute(
        "INSERT INTO incidentkit_outbox (key, incident_id, topic, target, payload, "
        "available_at, created_at) VALUES ('k', 'INC-7', 'notification', 'pager', '{}', ?, ?)",
        (t0, t0),
    )
    raw.commit()
    raw.close()

    store = SqliteStore(path)
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION
    [event] = store.load("INC-7")
    assert (event.payload, event.recorded_at, event.hash) == ('{"a":1}', T0, "h1")
    assert [s.incident_id for s in store.summaries(SummaryQuery(service="db"))] == ["INC-7"]
    summary = store.summary("INC-7")
    assert summary is not None and summary.services == ("api", "db")
    assert summary.head_hash == "h1"  # schema 4 fills it from the event at its version
    [row] = store.claim(T0, 5, timedelta(seconds=30), "w")
    assert (row.key, row.attempts) == ("k", 1)
    store.migrate()  # idempotent on the upgraded file
    assert store.schema_version() == SCHEMA_VERSION
    store.close()


def test_two_processes_may_migrate_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    stores = [SqliteStore(url) for _ in range(4)]
    errors: list[BaseException] = []

    def run(store: SqliteStore) -> None:
        try:
            store.migrate()
        except BaseException as err:  # collected below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {s.schema_version() for s in stores} == {SCHEMA_VERSION}
    for s in stores:
        s.close()


# -- bad input leaves the data as it was --------------------------------------


def _snapshot(store: SqliteStore) -> tuple[object, ...]:
    return (store.load("INC-1"), store.outbox(), store.summary("INC-1"), store.incident_ids())


NAIVE = datetime(2024, 11, 20, 22, 30)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("event", "events[0].recorded_at"),
        ("outbox", "outbox[0].available_at"),
        ("summary", "summary.declared_at"),
        ("summary-id", "summary.incident_id"),
        ("expected", "expected_version"),
    ],
)
def test_bad_append_names_the_field_and_writes_nothing(
    sqlite_store: SqliteStore, case: str, field: str
) -> None:
    sqlite_store.append("INC-1", make_events("INC-1", 1, 1), 0, summary=make_summary("INC-1", 1))
    before = _snapshot(sqlite_store)
    events = make_events("INC-1", 2, 1)
    outbox = [make_message("k", "INC-1")]
    summary = make_summary("INC-1", 2)
    expected = 1
    if case == "event":
        events = make_events("INC-1", 2, 1, at=NAIVE)
    elif case == "outbox":
        outbox = [make_message("k", "INC-1", available_at=NAIVE)]
    elif case == "summary":
        summary = make_summary("INC-1", 2, declared_at=NAIVE)
    elif case == "summary-id":
        summary = make_summary("INC-2", 2)
    else:
        expected = -1
    with pytest.raises(ValidationError) as caught:
        sqlite_store.append("INC-1", events, expected, outbox, summary)
    assert caught.value.field == field
    assert _snapshot(sqlite_store) == before


def test_bad_outbox_and_query_arguments_name_the_field(sqlite_store: SqliteStore) -> None:
    sqlite_store.append("INC-1", make_events("INC-1", 1, 1), 0, [make_message("k", "INC-1")])
    before = _snapshot(sqlite_store)
    checks = [
        (lambda: sqlite_store.claim(NAIVE, 1, timedelta(seconds=1), "w"), "now"),
        (lambda: sqlite_store.claim(T0, -1, timedelta(seconds=1), "w"), "limit"),
        (lambda: sqlite_store.claim(T0, 1, timedelta(0), "w"), "lease"),
        (lambda: sqlite_store.fail(1, "x", NAIVE), "retry_at"),
        (lambda: sqlite_store.summaries(SummaryQuery(since=NAIVE)), "query.since"),
        (lambda: sqlite_store.summaries(SummaryQuery(limit=-1)), "query.limit"),
        (lambda: sqlite_store.summaries(SummaryQuery(statuses={"bogus"})), "query.statuses"),  # type: ignore[arg-type]
    ]
    for call, field in checks:
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.field == field
    assert _snapshot(sqlite_store) == before


def test_an_error_inside_the_transaction_rolls_everything_back(
    sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_store.append("INC-1", make_events("INC-1", 1, 1), 0, summary=make_summary("INC-1", 1))
    before = _snapshot(sqlite_store)

    def broken(*args: object) -> None:
        raise RuntimeError("summary projection failed")

    monkeypatch.setattr(sqlite_store, "_write_summary", broken)
    with pytest.raises(RuntimeError, match="projection failed"):
        sqlite_store.append(
            "INC-1",
            make_events("INC-1", 2, 3),
            1,
            [make_message("k", "INC-1")],
            make_summary("INC-1", 4),
        )
    assert _snapshot(sqlite_store) == before
    monkeypatch.undo()
    sqlite_store.append("INC-1", make_events("INC-1", 2, 1), 1)  # the connection is usable
    assert sqlite_store.version("INC-1") == 2


def test_a_hand_edited_payload_is_returned_as_is(sqlite_store: SqliteStore) -> None:
    events = make_events("INC-1", 1, 2)
    sqlite_store.append("INC-1", events, 0)
    raw = sqlite3.connect(sqlite_store.path)
    raw.execute("UPDATE incidentkit_events SET payload = '{\"tampered\": true}' WHERE version = 2")
    raw.commit()
    raw.close()
    loaded = sqlite_store.load("INC-1")
    assert loaded[0] == events[0]
    assert loaded[1].payload == '{"tampered": true}'
    assert loaded[1].hash == events[1].hash  # the kit's hash chain now disagrees


def test_an_unreadable_summary_row_is_a_store_error(sqlite_store: SqliteStore) -> None:
    sqlite_store.append("INC-1", make_events("INC-1", 1, 1), 0, summary=make_summary("INC-1", 1))
    raw = sqlite3.connect(sqlite_store.path)
    raw.execute("UPDATE incidentkit_summaries SET status = 'on-fire'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="INC-1"):
        sqlite_store.summary("INC-1")


# -- locks --------------------------------------------------------------------


def test_busy_timeout_turns_a_held_lock_into_a_store_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/locked.db?busy_timeout=0.2"
    store = SqliteStore(url)
    store.migrate()
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=r"busy_timeout=0\.2s"):
            store.append("INC-1", make_events("INC-1", 1, 1), 0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.version("INC-1") == 0
    store.append("INC-1", make_events("INC-1", 1, 1), 0)
    store.close()


def test_readers_are_not_blocked_by_a_writer(sqlite_store: SqliteStore) -> None:
    sqlite_store.append("INC-1", make_events("INC-1", 1, 1), 0)
    holder = sqlite3.connect(sqlite_store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO incidentkit_events VALUES ('INC-1', 2, 't', '{}', 0, 'h')")
    try:
        assert sqlite_store.version("INC-1") == 1  # WAL: the uncommitted row is invisible
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- a writer killed mid-loop -------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from incidentkit.store.sqlite import SqliteStore
    from incidentkit.testing.store_contract import make_events, make_message

    store = SqliteStore(sys.argv[1])
    store.migrate()
    version = 0
    while True:
        events = make_events("INC-1", version + 1, 5)
        outbox = [make_message(f"k{version}", "INC-1")]
        store.append("INC-1", events, version, outbox)
        version += 5
        sys.stdout.write(f"{version}\\n")
        sys.stdout.flush()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_sigkill_loses_no_acknowledged_append_and_leaves_no_partial_batch(
    tmp_path: Path, synchronous: str
) -> None:
    url = f"sqlite:///{tmp_path}/crash.db?synchronous={synchronous}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged = 0
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    os.kill(child.pid, signal.SIGKILL)
    rest = child.stdout.read()  # acknowledgements written before the kill
    child.wait()
    assert child.returncode == -signal.SIGKILL
    acknowledged = max([acknowledged, *(int(x) for x in rest.split())])

    store = SqliteStore(url)
    events = store.load("INC-1")
    versions = [e.version for e in events]
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) >= acknowledged  # every acknowledged append survived
    assert len(versions) % 5 == 0  # batches are all or nothing
    assert len(store.outbox()) == len(versions) // 5  # outbox rows went with their batch
    assert [json.loads(e.payload)["version"] for e in events] == versions
    store.close()


def test_finished_threads_do_not_keep_connections_open(sqlite_store: SqliteStore) -> None:
    def read() -> None:
        sqlite_store.version("INC-1")

    for _ in range(20):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    import gc

    gc.collect()
    assert len(sqlite_store._connections) <= 2  # this thread's, and at most one not yet freed


def test_close_closes_every_thread_connection(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.migrate()
    opened: list[sqlite3.Connection] = []
    barrier = threading.Barrier(3)

    def hold() -> None:
        store.version("INC-1")
        opened.append(store._local.conn)
        barrier.wait()  # keep the thread (and its connection) alive until closed
        barrier.wait()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    barrier.wait()
    store.close()
    barrier.wait()
    for t in threads:
        t.join()
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        store.version("INC-1")


def test_a_version_2_file_is_migrated_to_command_ids(tmp_path: Path) -> None:
    """Version 3 adds the command table; a version 2 file keeps its data and gains it."""
    from incidentkit.store.sqlite import _SCHEMA_V2

    path = tmp_path / "v2.db"
    t0 = int(T0.timestamp()) * 1_000_000 + T0.microsecond
    raw = sqlite3.connect(path)
    raw.executescript(V1_SCHEMA)
    raw.executescript(_SCHEMA_V2)
    raw.execute("UPDATE incidentkit_meta SET value = '2' WHERE key = 'schema_version'")
    raw.execute(
        "INSERT INTO incidentkit_events VALUES ('INC-7', 1, 'declared', '{\"a\":1}', ?, 'h1')",
        (t0,),
    )
    raw.commit()
    raw.close()

    store = SqliteStore(path)
    assert store.schema_version() == 2
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION == 5
    assert [e.hash for e in store.load("INC-7")] == ["h1"]
    command = StoredCommand("cmd-1", "INC-7", "add_note", 2, 1)
    store.append("INC-7", make_events("INC-7", 2, 1), 1, command=command)
    assert store.command("cmd-1") == command
    with pytest.raises(DuplicateCommand):
        store.append(
            "INC-7", make_events("INC-7", 3, 1), 2, command=attrs.evolve(command, version=3)
        )
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION
    store.close()


@pytest.mark.parametrize("old_version", [1, 2, 3])
def test_an_old_file_gains_summary_head_hashes(tmp_path: Path, old_version: int) -> None:
    """Version 4 adds ``head_hash`` to the summaries, filled from the events at their version.

    A summary whose version has no event row keeps ``NULL`` (verification reports it).
    """
    from incidentkit.store.sqlite import _SCHEMA_V2, _SCHEMA_V3

    path = tmp_path / f"v{old_version}.db"
    t0 = int(T0.timestamp()) * 1_000_000 + T0.microsecond
    raw = sqlite3.connect(path)
    raw.executescript(V1_SCHEMA)
    for script in [_SCHEMA_V2, _SCHEMA_V3][: old_version - 1]:
        raw.executescript(script)
    raw.execute(
        "UPDATE incidentkit_meta SET value = ? WHERE key = 'schema_version'", (old_version,)
    )
    for version, digest in [(1, "h1"), (2, "h2")]:
        raw.execute(
            "INSERT INTO incidentkit_events VALUES ('INC-7', ?, 'note_added', '{}', ?, ?)",
            (version, t0, digest),
        )
    for incident, version in [("INC-7", 2), ("INC-8", 3)]:
        raw.execute(
            "INSERT INTO incidentkit_summaries (incident_id, version, title, status, severity, "
            "services, declared_at) VALUES (?, ?, 'old one', 'declared', 'SEV1', '[]', ?)",
            (incident, version, t0),
        )
    raw.commit()
    raw.close()

    store = SqliteStore(path)
    assert store.schema_version() == old_version
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION == 5
    heads = {s.incident_id: s.head_hash for s in store.summaries(SummaryQuery())}
    assert heads == {"INC-7": "h2", "INC-8": None}
    store.append("INC-7", make_events("INC-7", 3, 1), 2, summary=make_summary("INC-7", 3))
    store.append(
        "INC-9", make_events("INC-9", 1, 1), 0, summary=make_summary("INC-9", 1, head_hash="h")
    )
    summary = store.summary("INC-9")
    assert summary is not None and summary.head_hash == "h"
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
