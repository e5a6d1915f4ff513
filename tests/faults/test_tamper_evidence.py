"""The six tamperings of issue 9 on SQLite and PostgreSQL, through the API and the CLI.

Each case edits the database with plain SQL, as someone with write access to
it would, then verifies without a key, with a chain key, or against a
checkpoint taken before the edit. Cases marked "control" show what a layer
cannot detect (and prove the forgery in the other cases is complete).
"""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import incidentkit as ik
from incidentkit.checkpoint import checkpoint_from_json
from incidentkit.cli import main
from incidentkit.events import NoteAdded
from incidentkit.serialization import event_to_json
from incidentkit.testing import SAMPLE_TIME
from incidentkit.timeline import CHAIN_KEY_ENV, chain_hash

T0 = SAMPLE_TIME
KEY = "a chain key of at least sixteen bytes"
NOTES = 6


@dataclass
class Backend:
    """A store URL and a raw connection to tamper with it."""

    url: str
    execute: Callable[..., list[tuple[Any, ...]]]
    stored_time: Callable[[datetime], object]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "incidents.db"

        def run_sqlite(sql: str, *params: object) -> list[tuple[Any, ...]]:
            conn = sqlite3.connect(path)
            try:
                with conn:
                    return conn.execute(sql, params).fetchall()
            finally:
                conn.close()

        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        yield Backend(
            f"sqlite:///{path}", run_sqlite, lambda t: (t - epoch) // timedelta(microseconds=1)
        )
        return
    import psycopg

    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"incidentkit_tamper_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(dsn, autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(f'SET search_path TO "{schema}"')

    def run_postgres(sql: str, *params: object) -> list[tuple[Any, ...]]:
        cursor = admin.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []

    sep = "&" if "?" in dsn else "?"
    try:
        yield Backend(f"{dsn}{sep}options=-csearch_path%3D{schema}", run_postgres, lambda t: t)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def keyed_policy() -> ik.Policy:
    return ik.Policy.from_mapping({"integrity": {"chain_key": KEY}})


def open_kit(backend: Backend, keyed: bool) -> ik.IncidentKit:
    return ik.IncidentKit.open(
        backend.url,
        clock=ik.ManualClock(T0),
        policy=keyed_policy() if keyed else None,
        autoload_plugins=False,
    )


def seed(backend: Backend, keyed: bool) -> int:
    """INC-A (a declaration and notes) and INC-B; return INC-A's last version."""
    with open_kit(backend, keyed) as kit:
        kit.declare("Checkout slow", severity="SEV3", by="alice", incident_id="INC-A")
        for n in range(NOTES):
            kit.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
            kit.add_note("INC-A", f"note {n}", by="bob")
        kit.declare("Search down", severity="SEV3", by="carol", incident_id="INC-B")
        return kit.store.version("INC-A")


def rows(backend: Backend) -> list[tuple[Any, ...]]:
    return backend.execute(
        "SELECT version, recorded_at, payload, hash FROM incidentkit_events "
        "WHERE incident_id = 'INC-A' ORDER BY version"
    )


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    assert isinstance(value, int)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


# --- the tamperings -------------------------------------------------------------


def delete_last(b: Backend, n: int) -> None:
    b.execute("DELETE FROM incidentkit_events WHERE incident_id = 'INC-A' AND version = ?", n)


def delete_last_three(b: Backend, n: int) -> None:
    b.execute("DELETE FROM incidentkit_events WHERE incident_id = 'INC-A' AND version > ?", n - 3)


def edit_and_recompute(b: Backend, n: int) -> None:
    """Rewrite note 0 (version 3) and recompute every later hash and the summary's head.

    The forger has no key, so the best they can do is plain SHA-256.
    """
    previous: str | None = None
    for version, recorded_at, payload, digest in rows(b):
        if version < 3:
            previous = digest
            continue
        if version == 3:
            payload = payload.replace("note 0", "all fine, nothing happened")
        assert previous is not None
        previous = chain_hash(previous, "INC-A", version, _as_datetime(recorded_at), payload)
        b.execute(
            "UPDATE incidentkit_events SET payload = ?, hash = ? "
            "WHERE incident_id = 'INC-A' AND version = ?",
            payload,
            previous,
            version,
        )
    b.execute(
        "UPDATE incidentkit_summaries SET head_hash = ? WHERE incident_id = 'INC-A'", previous
    )


def _forge_row(b: Backend, n: int) -> str:
    head = rows(b)[-1][3]
    at = T0 + timedelta(hours=1)
    payload = event_to_json(NoteAdded(by="mallory", text="the rollback was approved"))
    digest = chain_hash(head, "INC-A", n + 1, at, payload)
    b.execute(
        "INSERT INTO incidentkit_events (incident_id, version, tag, payload, recorded_at, hash) "
        "VALUES ('INC-A', ?, 'note_added', ?, ?, ?)",
        n + 1,
        payload,
        b.stored_time(at),
        digest,
    )
    return digest


def append_forged(b: Backend, n: int) -> None:
    _forge_row(b, n)


def append_forged_with_summary(b: Backend, n: int) -> None:
    digest = _forge_row(b, n)
    b.execute(
        "UPDATE incidentkit_summaries SET version = ?, head_hash = ? WHERE incident_id = 'INC-A'",
        n + 1,
        digest,
    )


def edit_summary(b: Backend, n: int) -> None:
    b.execute("UPDATE incidentkit_summaries SET status = 'closed' WHERE incident_id = 'INC-A'")


def delete_all_events(b: Backend, n: int) -> None:
    b.execute("DELETE FROM incidentkit_events WHERE incident_id = 'INC-A'")


def truncate_with_summary(b: Backend, n: int) -> None:
    """Delete the last three rows and make the summary agree (notes change no field)."""
    delete_last_three(b, n)
    head = rows(b)[-1][3]
    b.execute(
        "UPDATE incidentkit_summaries SET version = ?, head_hash = ? WHERE incident_id = 'INC-A'",
        n - 3,
        head,
    )


def delete_incident(b: Backend, n: int) -> None:
    delete_all_events(b, n)
    b.execute("DELETE FROM incidentkit_summaries WHERE incident_id = 'INC-A'")


# (tampering, mode, expected (broken version as a function of n, problem) or None: not detected)
CASES: list[tuple[Callable[[Backend, int], None], str, tuple[Callable[[int], int], str] | None]] = [
    (delete_last, "plain", (lambda n: n, "summary_mismatch")),
    (delete_last, "keyed", (lambda n: n, "summary_mismatch")),
    (delete_last_three, "plain", (lambda n: n - 2, "summary_mismatch")),
    (delete_last_three, "checkpoint", (lambda n: n - 2, "summary_mismatch")),
    (edit_and_recompute, "plain", None),  # control: unkeyed verify cannot see it
    (edit_and_recompute, "keyed", (lambda n: 3, "unkeyed_after_keyed")),
    (edit_and_recompute, "checkpoint", (lambda n: n, "rewritten")),
    (append_forged, "plain", (lambda n: n + 1, "summary_mismatch")),
    (append_forged_with_summary, "plain", None),  # control
    (append_forged_with_summary, "keyed", (lambda n: n + 1, "unkeyed_after_keyed")),
    (edit_summary, "plain", (lambda n: n, "summary_mismatch")),
    (edit_summary, "keyed", (lambda n: n, "summary_mismatch")),
    (delete_all_events, "plain", (lambda n: 1, "events_missing")),
    (delete_all_events, "checkpoint", (lambda n: 1, "events_missing")),
    (truncate_with_summary, "keyed", None),  # control: only a checkpoint sees this
    (truncate_with_summary, "checkpoint", (lambda n: n - 2, "rolled_back")),
    (delete_incident, "checkpoint", (lambda n: 1, "missing_since_checkpoint")),
]


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0].__name__}-{case[1]}"


@pytest.mark.parametrize("interface", ["api", "cli"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_tampering_is_detected(
    backend: Backend,
    interface: str,
    case: tuple[Any, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tamper, mode, expected = case
    keyed = mode == "keyed"
    n = seed(backend, keyed)
    assert n == 2 + NOTES  # declared, escalation_fired, notes
    checkpoint_file = tmp_path / "checkpoint.json"
    if mode == "checkpoint":
        with open_kit(backend, keyed) as kit:
            checkpoint_file.write_text(kit.checkpoint().to_json())

    tamper(backend, n)

    if interface == "api":
        with open_kit(backend, keyed) as kit:
            against = (
                checkpoint_from_json(checkpoint_file.read_text()) if mode == "checkpoint" else None
            )
            found = {c.incident_id: c for c in kit.verify_all(against=against)}
            assert set(found) == {"INC-A", "INC-B"}
            assert found["INC-B"].ok
            check = found["INC-A"]
            if expected is None:
                assert check.ok, check
            else:
                assert not check.ok
                assert (check.broken_version, check.problem) == (expected[0](n), expected[1])
                assert kit.verify("INC-A", against=against) == check
        return

    if keyed:
        monkeypatch.setenv(CHAIN_KEY_ENV, KEY)
    extra = ["--against", str(checkpoint_file)] if mode == "checkpoint" else []
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", backend.url, "verify", *extra], out=out, err=err)
    assert err.getvalue() == ""
    assert "INC-B: ok" in out.getvalue()
    if expected is None:
        assert code == 0, out.getvalue()
        assert "INC-A: ok" in out.getvalue()
        return
    assert code == 1
    assert f"INC-A: BROKEN at version {expected[0](n)}:" in out.getvalue()
    out = io.StringIO()
    assert main(["--db", backend.url, "verify", "--json", *extra], out=out, err=err) == 1
    [check] = [c for c in json.loads(out.getvalue()) if c["incident_id"] == "INC-A"]
    assert (check["ok"], check["broken_version"], check["problem"]) == (
        False,
        expected[0](n),
        expected[1],
    )


def test_an_untouched_store_verifies_in_every_mode(backend: Backend, tmp_path: Path) -> None:
    n = seed(backend, keyed=True)
    with open_kit(backend, keyed=True) as kit:
        checkpoint = kit.checkpoint()
        assert [(e.incident_id, e.version) for e in checkpoint.incidents] == [
            ("INC-A", n),
            ("INC-B", 2),
        ]
        checks = kit.verify_all(against=checkpoint)
        assert [(c.incident_id, c.ok, c.key_id, c.unkeyed) for c in checks] == [
            ("INC-A", True, kit.chain_key_id, 0),
            ("INC-B", True, kit.chain_key_id, 0),
        ]
        # growth after the checkpoint is fine
        kit.add_note("INC-A", "later", by="bob")
        assert all(c.ok for c in kit.verify_all(against=checkpoint))
