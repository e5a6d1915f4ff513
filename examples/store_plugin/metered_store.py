"""A store plugin: ``metered+<url>`` wraps any store and times every call.

``IncidentKit.open("metered+sqlite:///incidents.db")`` opens the SQLite store
underneath and records, per method, how many calls it served and how long they
took, so a service can export store latency to its metrics system.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from incidentkit.errors import ValidationError
from incidentkit.plugins import hookimpl
from incidentkit.plugins.builtin.stores import StoresPlugin
from incidentkit.store import (
    IncidentSummary,
    OutboxMessage,
    OutboxRow,
    Store,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
)

T = TypeVar("T")
PREFIX = "metered+"


class MeteredStore:
    """A :class:`~incidentkit.store.Store` that delegates to ``inner`` and times each call."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = PREFIX + inner.url
        self.supports_processes = getattr(inner, "supports_processes", True)
        self._lock = threading.Lock()
        self._stats: dict[str, tuple[int, float]] = {}

    def _timed(self, name: str, call: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return call()
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                count, total = self._stats.get(name, (0, 0.0))
                self._stats[name] = (count + 1, total + elapsed)

    def stats(self) -> dict[str, tuple[int, float]]:
        """``{method: (calls, seconds)}`` since the store was opened."""
        with self._lock:
            return dict(self._stats)

    # The Store protocol, method by method.

    def migrate(self) -> None:
        self._timed("migrate", self.inner.migrate)

    def append(
        self,
        incident_id: str,
        events: Sequence[StoredEvent],
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
        summary: IncidentSummary | None = None,
        command: StoredCommand | None = None,
    ) -> None:
        self._timed(
            "append",
            lambda: self.inner.append(
                incident_id, events, expected_version, outbox, summary, command
            ),
        )

    def command(self, command_id: str) -> StoredCommand | None:
        return self._timed("command", lambda: self.inner.command(command_id))

    def load(self, incident_id: str, after_version: int = 0) -> list[StoredEvent]:
        return self._timed("load", lambda: self.inner.load(incident_id, after_version))

    def version(self, incident_id: str) -> int:
        return self._timed("version", lambda: self.inner.version(incident_id))

    def summary(self, incident_id: str) -> IncidentSummary | None:
        return self._timed("summary", lambda: self.inner.summary(incident_id))

    def summaries(self, query: SummaryQuery = SummaryQuery()) -> list[IncidentSummary]:  # noqa: B008
        return self._timed("summaries", lambda: self.inner.summaries(query))

    def incident_ids(self) -> list[str]:
        return self._timed("incident_ids", self.inner.incident_ids)

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        worker: str,
        *,
        targets: Mapping[str, Collection[str]] | None = None,
    ) -> list[OutboxRow]:
        return self._timed(
            "claim", lambda: self.inner.claim(now, limit, lease, worker, targets=targets)
        )

    def complete(self, row_id: int, *, worker: str | None = None) -> bool:
        return self._timed("complete", lambda: self.inner.complete(row_id, worker=worker))

    def fail(
        self, row_id: int, error: str, retry_at: datetime | None, *, worker: str | None = None
    ) -> bool:
        return self._timed("fail", lambda: self.inner.fail(row_id, error, retry_at, worker=worker))

    def outbox(self, incident_id: str | None = None) -> list[OutboxRow]:
        return self._timed("outbox", lambda: self.inner.outbox(incident_id))

    def close(self) -> None:
        self.inner.close()


class MeteredStorePlugin:
    """Answers ``metered+<url>``; every other scheme is left to other plugins."""

    KNOWN_SCHEMES = ("metered+sqlite://", "metered+memory://", "metered+postgresql://")

    @hookimpl
    def incidentkit_store(self, url: str) -> Store | None:
        if not url.startswith(PREFIX):
            return None
        inner = StoresPlugin().incidentkit_store(url.removeprefix(PREFIX))
        if inner is None:
            raise ValidationError("url", f"{url!r}: no built-in store for the wrapped URL")
        return MeteredStore(inner)


plugin = MeteredStorePlugin()
"""The object the ``incidentkit`` entry point names (``metered_store:plugin``)."""
