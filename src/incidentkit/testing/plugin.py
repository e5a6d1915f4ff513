"""incidentkit's pytest plugin (entry point ``pytest11``): fixtures for tests of code using it.

Fixtures:

* ``manual_clock`` — a :class:`~incidentkit.clock.ManualClock` at
  2024-11-20 22:30 UTC;
* ``memory_store`` — a migrated :class:`~incidentkit.store.MemoryStore`;
* ``sqlite_store`` — a migrated :class:`~incidentkit.store.sqlite.SqliteStore`
  in a file under ``tmp_path``;
* ``postgres_store`` — a migrated :class:`~incidentkit.store.postgres.PostgresStore`
  in a schema of its own, dropped afterwards. It reads the DSN from
  ``INCIDENTKIT_TEST_POSTGRES_DSN`` and skips the test when that is unset;
* ``capturing_notifier`` — a fresh :class:`~incidentkit.testing.CapturingNotifier`
  (released at teardown, so a hanging one never outlives its test);
* ``recording_action`` — a fresh :class:`~incidentkit.testing.RecordingAction`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from incidentkit.clock import ManualClock
from incidentkit.store.memory import MemoryStore
from incidentkit.testing._samples import SAMPLE_TIME
from incidentkit.testing.doubles import CapturingNotifier, RecordingAction

if TYPE_CHECKING:
    from incidentkit.store.postgres import PostgresStore
    from incidentkit.store.sqlite import SqliteStore

__all__ = [
    "POSTGRES_DSN_ENV",
    "capturing_notifier",
    "manual_clock",
    "memory_store",
    "postgres_dsn",
    "postgres_store",
    "recording_action",
    "sqlite_store",
]

POSTGRES_DSN_ENV = "INCIDENTKIT_TEST_POSTGRES_DSN"
"""Environment variable naming the PostgreSQL server the ``postgres_store`` fixture uses."""

CLOCK_START = SAMPLE_TIME
"""Where ``manual_clock`` starts: the guide's example instant (``SAMPLE_TIME``)."""


@pytest.fixture
def manual_clock() -> ManualClock:
    """A manual clock at 2024-11-20 22:30 UTC; move it with ``set``/``advance``."""
    return ManualClock(CLOCK_START)


@pytest.fixture
def memory_store() -> Iterator[MemoryStore]:
    """A fresh in-memory store."""
    store = MemoryStore()
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A migrated SQLite store in ``tmp_path / "incidents.db"`` (WAL, synchronous=FULL)."""
    from incidentkit.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "incidents.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def postgres_dsn() -> str:
    """The DSN in ``INCIDENTKIT_TEST_POSTGRES_DSN``; skips the test when it is unset."""
    dsn = os.environ.get(POSTGRES_DSN_ENV, "").strip()
    if not dsn:
        pytest.skip(f"{POSTGRES_DSN_ENV} is not set")
    return dsn


@pytest.fixture
def postgres_store(postgres_dsn: str) -> Iterator[PostgresStore]:
    """A migrated PostgreSQL store in a unique schema that is dropped after the test."""
    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_test_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(postgres_dsn, schema=schema)
    try:
        store.migrate()
        yield store
    finally:
        store.close()
        cleanup = PostgresStore(postgres_dsn, schema=schema)
        try:
            cleanup.drop_schema()
        finally:
            cleanup.close()


@pytest.fixture
def capturing_notifier() -> Iterator[CapturingNotifier]:
    """A notifier plugin that records what it was asked to deliver."""
    notifier = CapturingNotifier()
    yield notifier
    notifier.release()


@pytest.fixture
def recording_action() -> RecordingAction:
    """A mitigation-action plugin that records its calls."""
    return RecordingAction()
