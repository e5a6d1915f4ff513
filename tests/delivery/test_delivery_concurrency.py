"""Several processes calling deliver() at once: every row is delivered by exactly one of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.store import OutboxState, Store

from .delivery_helpers import (
    T0,
    AppendNotifier,
    duplicates,
    read_json,
    read_line,
    read_lines,
    start_child,
)

pytestmark = pytest.mark.slow

PROCESSES = 4
INCIDENTS = 30  # 30 SEV1 pages x 2 notifiers = 60 rows


def fill(store: Store, lines: Path) -> list[str]:
    """Declare the incidents (outbox rows written, nothing delivered); return the row keys."""
    kit = IncidentKit(
        store=store,
        clock=ManualClock(T0),
        plugins=[AppendNotifier("file-a", lines), AppendNotifier("file-b", lines)],
        autoload_plugins=False,
    )
    for n in range(INCIDENTS):
        kit.declare(f"outage {n}", severity="SEV1", by="alice")
    rows = store.outbox()
    assert len(rows) == 2 * INCIDENTS
    return [row.key for row in rows]


def drain_concurrently(args: list[str], tmp_path: Path) -> list[int]:
    """Start the children, release them together, return how many rows each delivered."""
    go = tmp_path / "go"
    children = [
        start_child("drain", *args, str(tmp_path / "lines.txt"), str(go)) for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            assert read_line(child) == "ready"
        go.touch()
        counts = [read_json(child)["delivered"] for child in children]
        for child in children:
            assert child.wait() == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    print("rows delivered per process:", counts)
    return counts


def check(store: Store, keys: list[str], lines: Path, counts: list[int]) -> None:
    delivered = [f"{key}:{name}" for name, key in read_lines(lines)]
    assert duplicates(delivered) == {}
    assert sorted(delivered) == sorted(keys)
    assert sum(counts) == len(keys)
    rows = store.outbox()
    assert {row.state for row in rows} == {OutboxState.DONE}
    assert {row.attempts for row in rows} == {1}  # nobody claimed a row someone else held


def test_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    from incidentkit.store.sqlite import SqliteStore

    path = tmp_path / "incidents.db"
    store = SqliteStore(path)
    store.migrate()
    try:
        keys = fill(store, tmp_path / "unused.txt")
        counts = drain_concurrently(["sqlite", f"sqlite:///{path}", "-"], tmp_path)
        check(store, keys, tmp_path / "lines.txt", counts)
    finally:
        store.close()


@pytest.fixture
def pg_schema(postgres_dsn: str) -> Iterator[str]:
    """A schema of its own on the test server, dropped afterwards."""
    from incidentkit.store.postgres import PostgresStore

    schema = f"incidentkit_delivery_{uuid.uuid4().hex[:10]}"
    yield schema
    cleanup = PostgresStore(postgres_dsn, schema=schema)
    try:
        cleanup.drop_schema()
    finally:
        cleanup.close()


@pytest.mark.postgres
def test_processes_share_one_postgres_database(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    from incidentkit.store.postgres import PostgresStore

    store = PostgresStore(postgres_dsn, schema=pg_schema)
    store.migrate()
    try:
        keys = fill(store, tmp_path / "unused.txt")
        counts = drain_concurrently(["postgres", postgres_dsn, pg_schema], tmp_path)
        check(store, keys, tmp_path / "lines.txt", counts)
    finally:
        store.close()
