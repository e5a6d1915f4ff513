"""PostgreSQL specifics: parameters, schema versions, dropped connections, races."""

from __future__ import annotations

import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    KeyTaken,
    OutcomeUnknown,
    StoreError,
    ValidationError,
)
from incidentkit.store import KeyClaim, StoredCommand
from incidentkit.store.postgres import SCHEMA_VERSION, PostgresStore, mask_dsn
from incidentkit.testing.store_contract import T0, make_events, make_message, make_summary

psycopg = pytest.importorskip("psycopg")

# -- parameters that need no server ---------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dsn": ""}, "dsn"),
        ({"dsn": "postgresql://x/y", "schema": "bad-name; drop"}, "schema"),
        ({"dsn": "postgresql://x/y", "min_size": 0}, "min_size"),
        ({"dsn": "postgresql://x/y", "max_size": 0}, "max_size"),
        ({"dsn": "postgresql://x/y", "min_size": 5, "max_size": 2}, "min_size"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PostgresStore(**kwargs)
    assert caught.value.field == field


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        PostgresStore("postgresql://app:s3cret@127.0.0.1:1/nothing?connect_timeout=2")
    assert "s3cret" not in str(caught.value)
    assert "app:***@127.0.0.1:1" in str(caught.value)


def test_missing_psycopg_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install incidentkit\[postgres\]"):
        PostgresStore("postgresql://localhost/x")


def test_mask_dsn_keeps_everything_but_the_password() -> None:
    assert mask_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
    assert (
        mask_dsn("postgres://u:p@h:5/db?sslmode=require")
        == "postgres://u:***@h:5/db?sslmode=require"
    )
    assert mask_dsn("host=h password='a b' user=u") == "host=h password=*** user=u"


# -- with a server ----------------------------------------------------------------


@pytest.fixture
def admin(postgres_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(postgres_dsn, autocommit=True)
    yield conn
    conn.close()


def _terminate(admin: psycopg.Connection[Any], store: PostgresStore) -> None:
    for pid in store.backend_pids():
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # wait until the server has really dropped it
        for _ in range(200):
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.01)


@pytest.mark.postgres
def test_tables_live_in_the_schema(postgres_store: PostgresStore, admin: Any) -> None:
    rows = admin.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY table_name",
        (postgres_store.schema,),
    ).fetchall()
    assert [r[0] for r in rows] == [
        "incidentkit_commands",
        "incidentkit_events",
        "incidentkit_keys",
        "incidentkit_meta",
        "incidentkit_outbox",
        "incidentkit_summaries",
    ]
    assert postgres_store.schema_version() == SCHEMA_VERSION


@pytest.mark.postgres
def test_timestamps_are_timestamptz(postgres_store: PostgresStore, admin: Any) -> None:
    row = admin.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'incidentkit_events' AND column_name = 'recorded_at'",
        (postgres_store.schema,),
    ).fetchone()
    assert row == ("timestamp with time zone",)


@pytest.mark.postgres
def test_a_newer_schema_is_refused(postgres_store: PostgresStore, admin: Any) -> None:
    admin.execute(
        f'UPDATE "{postgres_store.schema}".incidentkit_meta SET value = %s',
        (str(SCHEMA_VERSION + 1),),
    )
    with pytest.raises(StoreError, match="newer than the version"):
        postgres_store.migrate()


@pytest.mark.postgres
def test_drop_schema_needs_a_schema(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn)
    try:
        with pytest.raises(ValidationError) as caught:
            store.drop_schema()
        assert caught.value.field == "schema"
    finally:
        store.close()


@pytest.mark.postgres
def test_a_hand_edited_payload_is_returned_as_is(postgres_store: PostgresStore, admin: Any) -> None:
    events = make_events("INC-1", 1, 2)
    postgres_store.append("INC-1", events, 0)
    admin.execute(
        f'UPDATE "{postgres_store.schema}".incidentkit_events '
        """SET payload = '{"tampered": true}' WHERE version = 2"""
    )
    loaded = postgres_store.load("INC-1")
    assert loaded[0] == events[0]
    assert (loaded[1].payload, loaded[1].hash) == ('{"tampered": true}', events[1].hash)


NAIVE = datetime(2024, 11, 20, 22, 30)


@pytest.mark.postgres
def test_naive_datetimes_are_refused_and_nothing_is_written(
    postgres_store: PostgresStore,
) -> None:
    with pytest.raises(ValidationError) as caught:
        postgres_store.append(
            "INC-1", make_events("INC-1", 1, 1), 0, [make_message("k", "INC-1", available_at=NAIVE)]
        )
    assert caught.value.field == "outbox[0].available_at"
    with pytest.raises(ValidationError) as caught:
        postgres_store.claim(NAIVE, 1, timedelta(seconds=5), "w")
    assert caught.value.field == "now"
    assert postgres_store.incident_ids() == [] and postgres_store.outbox() == []


@pytest.mark.postgres
def test_an_error_inside_the_transaction_rolls_everything_back(
    postgres_store: PostgresStore, admin: Any
) -> None:
    postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0, summary=make_summary("INC-1", 1))
    # a summary the database refuses, sent after the events in the same transaction
    admin.execute(
        f'ALTER TABLE "{postgres_store.schema}".incidentkit_summaries '
        "ADD CONSTRAINT short_title CHECK (length(title) < 20)"
    )
    with pytest.raises(StoreError, match="short_title"):
        postgres_store.append(
            "INC-1",
            make_events("INC-1", 2, 3),
            1,
            [make_message("k", "INC-1")],
            make_summary("INC-1", 4, title="much too long a title"),
        )
    assert postgres_store.version("INC-1") == 1
    assert postgres_store.outbox() == []
    summary = postgres_store.summary("INC-1")
    assert summary is not None and summary.version == 1


@pytest.mark.postgres
def test_a_version_1_schema_is_migrated_to_command_ids(postgres_dsn: str, admin: Any) -> None:
    """Version 2 adds the command table; a version 1 database keeps its data and gains it."""
    from incidentkit.store.postgres import _schema_sql

    schema = f"incidentkit_v1_{uuid.uuid4().hex[:10]}"
    p = f'"{schema}".'
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        for statement in _schema_sql(p):
            admin.execute(statement)
        admin.execute(f"CREATE TABLE {p}incidentkit_meta (key text PRIMARY KEY, value text)")
        admin.execute(f"INSERT INTO {p}incidentkit_meta VALUES ('schema_version', '1')")
        [old] = make_events("INC-7", 1, 1)
        admin.execute(
            f"INSERT INTO {p}incidentkit_events VALUES (%s, %s, %s, %s, %s, %s)",
            (old.incident_id, 1, old.tag, old.payload, old.recorded_at, old.hash),
        )
        store = PostgresStore(postgres_dsn, schema=schema)
        try:
            assert store.schema_version() == 1
            store.migrate()
            assert store.schema_version() == SCHEMA_VERSION == 4
            assert store.load("INC-7") == [old]
            command = StoredCommand("cmd-1", "INC-7", "add_note", 2, 1)
            store.append(
                "INC-7", make_events("INC-7", 2, 1, previous_hash=old.hash), 1, command=command
            )
            assert store.command("cmd-1") == command
            with pytest.raises(DuplicateCommand):
                store.append(
                    "INC-7",
                    make_events("INC-7", 3, 1),
                    2,
                    command=StoredCommand("cmd-1", "INC-7", "a", 3, 1),
                )
            store.migrate()
            assert store.schema_version() == SCHEMA_VERSION
        finally:
            store.close()
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
@pytest.mark.parametrize("old_version", [1, 2])
def test_an_old_schema_gains_summary_head_hashes(
    postgres_dsn: str, admin: Any, old_version: int
) -> None:
    """Version 3 adds ``head_hash`` to the summaries, filled from the events at their version.

    A summary whose version has no event row keeps ``NULL`` (verification reports it).
    """
    from incidentkit.store.postgres import _schema_sql, _schema_v2_sql, _summary_params

    schema = f"incidentkit_v{old_version}_{uuid.uuid4().hex[:10]}"
    p = f'"{schema}".'
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        for statement in [*_schema_sql(p), *(_schema_v2_sql(p) if old_version >= 2 else [])]:
            admin.execute(statement)
        admin.execute(f"CREATE TABLE {p}incidentkit_meta (key text PRIMARY KEY, value text)")
        admin.execute(
            f"INSERT INTO {p}incidentkit_meta VALUES ('schema_version', %s)", (str(old_version),)
        )
        events = make_events("INC-7", 1, 2)
        for event in events:
            admin.execute(
                f"INSERT INTO {p}incidentkit_events VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    event.incident_id,
                    event.version,
                    event.tag,
                    event.payload,
                    event.recorded_at,
                    event.hash,
                ),
            )
        for summary in [make_summary("INC-7", 2), make_summary("INC-8", 3)]:
            admin.execute(
                f"INSERT INTO {p}incidentkit_summaries VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _summary_params(summary)[:-1],  # every column but head_hash
            )
        store = PostgresStore(postgres_dsn, schema=schema)
        try:
            assert store.schema_version() == old_version
            store.migrate()
            assert store.schema_version() == SCHEMA_VERSION == 4
            heads = {s.incident_id: s.head_hash for s in store.summaries()}
            assert heads == {"INC-7": events[-1].hash, "INC-8": None}
            store.append(
                "INC-9",
                make_events("INC-9", 1, 1),
                0,
                summary=make_summary("INC-9", 1, head_hash="h"),
            )
            summary = store.summary("INC-9")
            assert summary is not None and summary.head_hash == "h"
            store.migrate()
            assert store.schema_version() == SCHEMA_VERSION
        finally:
            store.close()
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


# -- dropped connections --------------------------------------------------------


@pytest.mark.postgres
def test_reads_survive_a_terminated_connection(postgres_store: PostgresStore, admin: Any) -> None:
    events = make_events("INC-1", 1, 2)
    postgres_store.append("INC-1", events, 0)
    _terminate(admin, postgres_store)
    assert postgres_store.load("INC-1") == events
    _terminate(admin, postgres_store)
    assert postgres_store.version("INC-1") == 2
    _terminate(admin, postgres_store)
    assert postgres_store.incident_ids() == ["INC-1"]


@pytest.mark.postgres
def test_an_append_after_a_terminated_connection_is_written_once(
    postgres_store: PostgresStore, admin: Any
) -> None:
    first = make_events("INC-1", 1, 2)
    postgres_store.append("INC-1", first, 0)
    _terminate(admin, postgres_store)
    second = make_events("INC-1", 3, 3, previous_hash=first[-1].hash)
    postgres_store.append("INC-1", second, 2, [make_message("k", "INC-1")])
    assert postgres_store.load("INC-1") == first + second
    assert [r.key for r in postgres_store.outbox()] == ["k"]


@pytest.mark.postgres
def test_outbox_calls_survive_a_terminated_connection(
    postgres_store: PostgresStore, admin: Any
) -> None:
    postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0, [make_message("k", "INC-1")])
    [row] = postgres_store.claim(T0, 1, timedelta(seconds=30), "w")
    _terminate(admin, postgres_store)
    postgres_store.complete(row.id)
    assert postgres_store.outbox()[0].state == "done"


@pytest.mark.postgres
def test_a_connection_killed_during_commit_is_never_a_silent_partial_write(
    postgres_store: PostgresStore, admin: Any
) -> None:
    """A deferred trigger kills the backend at COMMIT: the outcome is checked, then reported."""
    schema = postgres_store.schema
    postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0)
    admin.execute(
        f"""CREATE FUNCTION "{schema}".die() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"""
    )
    admin.execute(
        f'CREATE CONSTRAINT TRIGGER die AFTER INSERT ON "{schema}".incidentkit_outbox '
        f'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".die()'
    )
    with pytest.raises(StoreError, match="outcome"):
        postgres_store.append("INC-1", make_events("INC-1", 2, 5), 1, [make_message("k", "INC-1")])
    assert postgres_store.version("INC-1") == 1  # nothing of the batch is visible
    assert postgres_store.outbox() == []
    admin.execute(f'DROP TRIGGER die ON "{schema}".incidentkit_outbox')
    postgres_store.append("INC-1", make_events("INC-1", 2, 5), 1, [make_message("k", "INC-1")])
    assert postgres_store.version("INC-1") == 6


@pytest.mark.postgres
@pytest.mark.parametrize("sqlstate", ["57P01", "08006", "XX000"])
def test_an_error_after_commit_was_sent_never_says_nothing_was_written(
    postgres_store: PostgresStore, admin: Any, sqlstate: str
) -> None:
    """The reply to COMMIT is a terminated-backend (or connection, or internal) error.

    The connection stays usable, so the broken flag is not set; the outcome is
    still unknown from the client's side and must be reported as such.
    """
    schema = postgres_store.schema
    postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0)
    admin.execute(
        f"""CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'at commit' USING ERRCODE = '{sqlstate}'; END $$"""
    )
    admin.execute(
        f'CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON "{schema}".incidentkit_events '
        f'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()'
    )
    command = StoredCommand("cmd-9", "INC-1", "add_note", 2, 1)
    with pytest.raises(OutcomeUnknown) as caught:
        postgres_store.append("INC-1", make_events("INC-1", 2, 1), 1, command=command)
    assert "nothing was written" not in str(caught.value)
    assert caught.value.command_id == "cmd-9"
    assert postgres_store.version("INC-1") == 1 and postgres_store.command("cmd-9") is None


@pytest.mark.postgres
def test_a_refused_append_logs_no_psycopg_warning(
    postgres_store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Each refusal is an exception the caller handles (a conflict the engine retries):
    it must not also log psycopg's "error ignored terminating <Pipeline>" warning."""
    command = StoredCommand("cmd-1", "INC-1", "note", 1, 1)
    claim = KeyClaim("alert", "K", "INC-1")
    postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0, command=command, keys=[claim])
    postgres_store.append("INC-2", make_events("INC-2", 1, 1), 0)
    head = postgres_store.load("INC-2")[-1].hash
    caplog.set_level(logging.DEBUG, logger="psycopg")
    refusals: list[tuple[type[Exception], Any]] = [
        (
            ConcurrencyConflict,
            lambda: postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0),
        ),
        (
            ConcurrencyConflict,
            lambda: postgres_store.append(
                "INC-1", make_events("INC-1", 1, 600), 0, [make_message("k", "INC-1")]
            ),
        ),
        (
            DuplicateCommand,
            lambda: postgres_store.append(
                "INC-1", make_events("INC-1", 2, 1), 1, command=attrs.evolve(command, version=2)
            ),
        ),
        (
            KeyTaken,
            lambda: postgres_store.append(
                "INC-2",
                make_events("INC-2", 2, 1, previous_hash=head),
                1,
                keys=[KeyClaim("alert", "K", "INC-2")],
            ),
        ),
    ]
    for error, append in refusals:
        with pytest.raises(error):
            append()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
    assert (postgres_store.version("INC-1"), postgres_store.version("INC-2")) == (1, 1)


@pytest.mark.postgres
def test_a_refusal_at_commit_still_says_nothing_was_written(
    postgres_store: PostgresStore, admin: Any
) -> None:
    """An ordinary ERROR in reply to COMMIT means the server rolled back: that is certain."""
    schema = postgres_store.schema
    admin.execute(
        f"""CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '23514'; END $$"""
    )
    admin.execute(
        f'CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON "{schema}".incidentkit_events '
        f'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()'
    )
    with pytest.raises(StoreError, match="nothing was written") as caught:
        postgres_store.append("INC-1", make_events("INC-1", 1, 1), 0)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert postgres_store.version("INC-1") == 0


@pytest.mark.postgres
def test_confirm_accepts_an_append_that_did_commit(postgres_store: PostgresStore) -> None:
    events = make_events("INC-1", 1, 3)
    postgres_store.append("INC-1", events, 0)
    postgres_store._confirm("INC-1", events, RuntimeError("lost"))  # no error: it is there
    with pytest.raises(StoreError, match="outcome"):
        postgres_store._confirm("INC-1", make_events("INC-1", 4, 1), RuntimeError("lost"))


# -- the primary key decides a race ---------------------------------------------


@pytest.mark.postgres
def test_a_writer_blocked_on_the_same_version_gets_a_conflict_with_the_winner(
    postgres_store: PostgresStore, postgres_dsn: str
) -> None:
    schema = postgres_store.schema
    [winner] = make_events("INC-1", 1, 1, note="winner")
    rival = psycopg.connect(postgres_dsn)  # not autocommit: holds its transaction open
    rival.execute(
        f'INSERT INTO "{schema}".incidentkit_events VALUES (%s, %s, %s, %s, %s, %s)',
        (winner.incident_id, 1, winner.tag, winner.payload, winner.recorded_at, winner.hash),
    )
    outcome: list[BaseException] = []

    def loser() -> None:
        try:
            postgres_store.append(
                "INC-1", make_events("INC-1", 1, 2), 0, [make_message("k", "INC-1")]
            )
        except BaseException as err:  # inspected below
            outcome.append(err)

    [pid] = postgres_store.backend_pids()  # before the loser holds the store's connection
    thread = threading.Thread(target=loser)
    thread.start()
    for _ in range(500):  # wait until the loser is blocked on the winner's row lock
        row = rival.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        if row is not None and row[0] == "Lock":
            break
        time.sleep(0.01)
    rival.commit()
    thread.join()
    rival.close()
    [err] = outcome
    assert isinstance(err, ConcurrencyConflict)
    assert (err.expected, err.actual) == (0, 1)
    assert [e.payload for e in postgres_store.load("INC-1")] == [winner.payload]
    assert postgres_store.outbox() == []
