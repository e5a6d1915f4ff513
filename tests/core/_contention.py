"""A writer process for the contention tests: many kits adding notes to one incident."""

from __future__ import annotations

import time
from typing import Any

from incidentkit.errors import ConcurrencyConflict, IncidentKitError
from incidentkit.kit import IncidentKit
from incidentkit.store import Store


def open_store(target: tuple[str, ...]) -> Store:
    """``("sqlite", path)`` or ``("postgres", dsn, schema)``."""
    if target[0] == "sqlite":
        from incidentkit.store.sqlite import SqliteStore

        return SqliteStore(target[1])
    from incidentkit.store.postgres import PostgresStore

    return PostgresStore(target[1], schema=target[2])


def writer(
    target: tuple[str, ...], incident_id: str, index: int, count: int, start: Any, out: Any
) -> None:
    """Add ``count`` notes; put (index, conflicts, errors, latencies in seconds) on ``out``."""
    kit = IncidentKit(store=open_store(target))
    conflicts = 0
    errors: list[str] = []
    latencies: list[float] = []
    try:
        kit.get(incident_id)
        start.wait(timeout=60)
        for n in range(count):
            began = time.perf_counter()
            try:
                kit.add_note(incident_id, f"w{index}-{n}", by=f"writer{index}")
            except ConcurrencyConflict:
                conflicts += 1
            except IncidentKitError as err:
                errors.append(repr(err))
            latencies.append(time.perf_counter() - began)
    finally:
        kit.shutdown()
        out.put((index, conflicts, errors, latencies))
