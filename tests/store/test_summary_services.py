"""The SQLite store keeps the summary's service rows when an append does not change them.

It rewrites them whenever the incident's version is not the one this store
last committed (another writer appended) or the services differ, so a query
by service always answers from the newest summary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidentkit.errors import ConcurrencyConflict
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary, StoredEvent, SummaryQuery
from incidentkit.store.sqlite import SqliteStore

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IID = "INC-SVC-1"


def _append(store: SqliteStore, version: int, services: tuple[str, ...]) -> None:
    event = StoredEvent(IID, version, "note_added", "{}", T, f"h{version}")
    summary = IncidentSummary(
        IID, version, "t", Status.INVESTIGATING, Severity.SEV2, services=services
    )
    store.append(IID, [event], version - 1, summary=summary)


def _by_service(store: SqliteStore, service: str) -> list[str]:
    return [s.incident_id for s in store.summaries(SummaryQuery(service=service))]


def test_service_rows_follow_every_writer(tmp_path: Path) -> None:
    a = SqliteStore(tmp_path / "s.db")
    a.migrate()
    b = SqliteStore(tmp_path / "s.db")
    try:
        _append(a, 1, ("api", "db"))
        _append(a, 2, ("api", "db"))  # unchanged: the rows stay
        assert _by_service(a, "api") == [IID] and _by_service(a, "db") == [IID]
        _append(b, 3, ("web",))  # another store: a's memory is out of date
        _append(a, 4, ("web",))
        assert (_by_service(a, "api"), _by_service(a, "web")) == ([], [IID])
        _append(a, 5, ("mail",))  # same writer, other services
        assert (_by_service(b, "web"), _by_service(b, "mail")) == ([], [IID])
        with pytest.raises(ConcurrencyConflict):
            _append(a, 5, ("api",))  # refused: nothing written, nothing remembered
        _append(b, 6, ("mail",))
        assert _by_service(a, "mail") == [IID]
        assert a.summary(IID) is not None and a.summary(IID).services == ("mail",)  # type: ignore[union-attr]
    finally:
        a.close()
        b.close()
