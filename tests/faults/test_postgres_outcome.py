"""The kit's connection terminated every few milliseconds: no false "nothing was written".

A thread calls ``pg_terminate_backend`` on the kit's backend while commands
run. Every call must either succeed (its note is in the timeline exactly
once) or raise :class:`OutcomeUnknown` naming its command id; a retry with
that id as ``idempotency_key`` then leaves exactly one copy. A call that says
"nothing was written" while its note is in the timeline is the bug.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from incidentkit import IncidentKit, ManualClock, OutcomeUnknown, Severity, StoreError
from incidentkit.events import NoteAdded
from incidentkit.store.postgres import PostgresStore
from incidentkit.testing.store_contract import T0

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres

CALLS = 300


class Terminator(threading.Thread):
    """Terminates the store's backend every ``every`` seconds until stopped."""

    def __init__(self, dsn: str, store: PostgresStore, every: float) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.store = store
        self.every = every
        self.stop = threading.Event()
        self.kills = 0

    def run(self) -> None:
        admin = psycopg.connect(self.dsn, autocommit=True)
        try:
            while not self.stop.is_set():
                pids = self.store.backend_pids()
                for pid in pids:
                    row = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
                    self.kills += bool(row and row[0])
                time.sleep(self.every)
        finally:
            admin.close()


def _notes(kit: IncidentKit, incident_id: str) -> Counter[str]:
    return Counter(
        r.event.text for r in kit.timeline(incident_id) if isinstance(r.event, NoteAdded)
    )


def test_terminated_connections_never_claim_nothing_was_written(
    postgres_store: PostgresStore, postgres_dsn: str
) -> None:
    kit = IncidentKit(store=postgres_store, clock=ManualClock(T0))
    iid = kit.declare("flapping database", severity=Severity.SEV2, by="alice").id
    outcomes: dict[str, str] = {}
    unknown: dict[str, OutcomeUnknown] = {}
    false_claims: list[tuple[str, str]] = []
    terminator = Terminator(postgres_dsn, postgres_store, every=0.003)
    terminator.start()
    try:
        for n in range(CALLS):
            text = f"note {n}"
            try:
                kit.add_note(iid, text, by="alice")
                outcomes[text] = "ok"
            except OutcomeUnknown as err:
                outcomes[text] = "unknown"
                unknown[text] = err
            except StoreError as err:
                outcomes[text] = f"error: {err}"
    finally:
        terminator.stop.set()
        terminator.join()
    assert terminator.kills > 0

    notes = _notes(kit, iid)
    for text, outcome in outcomes.items():
        if outcome.startswith("error") and notes[text]:
            false_claims.append((text, outcome))
    assert false_claims == []
    assert {t: c for t, c in notes.items() if c > 1} == {}  # 0 duplicates
    # every call either succeeded once or said its outcome is unknown
    assert {t: o for t, o in outcomes.items() if o not in ("ok", "unknown")} == {}
    assert all(notes[t] == 1 for t, o in outcomes.items() if o == "ok")

    # a retry with the same key yields exactly one copy
    for text, err in unknown.items():
        assert err.command_id
        kit.add_note(iid, text, by="alice", idempotency_key=err.command_id)
    after = _notes(kit, iid)
    assert all(after[f"note {n}"] == 1 for n in range(CALLS))
    assert kit.verify(iid).ok


def test_a_keyed_command_retried_after_a_terminated_commit_is_written_once(
    postgres_store: PostgresStore, postgres_dsn: str, admin_conn: Any
) -> None:
    """The backend dies at COMMIT (a deferred trigger): the retry returns, never re-appends."""
    kit = IncidentKit(store=postgres_store, clock=ManualClock(T0))
    iid = kit.declare("flapping database", severity=Severity.SEV2, by="alice").id
    schema = postgres_store.schema
    admin_conn.execute(
        f"""CREATE FUNCTION "{schema}".die() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"""
    )
    admin_conn.execute(
        f'CREATE CONSTRAINT TRIGGER die AFTER INSERT ON "{schema}".incidentkit_commands '
        f'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".die()'
    )
    # The trigger kills every commit: the kit cannot resolve it and says so, by id.
    with pytest.raises(OutcomeUnknown) as caught:
        kit.add_note(iid, "once", by="alice", idempotency_key="note-once")
    assert caught.value.command_id == "note-once"
    assert "note-once" in str(caught.value)
    assert _notes(kit, iid)["once"] == 0
    admin_conn.execute(f'DROP TRIGGER die ON "{schema}".incidentkit_commands')
    state = kit.add_note(iid, "once", by="alice", idempotency_key="note-once")
    again = kit.add_note(iid, "once", by="alice", idempotency_key="note-once")
    assert state == again
    assert _notes(kit, iid)["once"] == 1


@pytest.fixture
def admin_conn(postgres_dsn: str) -> Any:
    conn = psycopg.connect(postgres_dsn, autocommit=True)
    yield conn
    conn.close()
