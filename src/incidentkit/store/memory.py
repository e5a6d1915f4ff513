"""An in-process store: fast, thread-safe, gone when the process exits."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from incidentkit._redact import mask_url
from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    KeyTaken,
    NotFound,
    StoreError,
)
from incidentkit.store._base import (
    IncidentSummary,
    KeyClaim,
    OutboxMessage,
    OutboxRow,
    OutboxState,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
)
from incidentkit.store._checks import (
    check_append,
    check_claim,
    check_command,
    check_command_id,
    check_incident_id,
    check_key_text,
    check_keys,
    check_mark,
    check_mark_value,
    check_query,
    check_targets,
    claimable,
)
from incidentkit.store._exclusive import ThreadLocks
from incidentkit.store._query import matches, sort_key

__all__ = ["MemoryStore"]

_ALL = SummaryQuery()


class MemoryStore:
    """A :class:`~incidentkit.store.Store` kept in memory (URL ``memory://``)."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = mask_url(url)
        self._lock = threading.RLock()
        self._exclusive = ThreadLocks()
        self._events: dict[str, list[StoredEvent]] = {}
        self._summaries: dict[str, IncidentSummary] = {}
        self._outbox: dict[int, OutboxRow] = {}
        self._keys: set[str] = set()
        self._commands: dict[str, StoredCommand] = {}
        self._leased_by: dict[int, str] = {}
        self._open_keys: dict[tuple[str, str], str] = {}
        self._last_keys: dict[tuple[str, str], str] = {}
        self._marks: dict[tuple[str, str], str] = {}
        self._next_id = 1
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.url} is closed")

    def migrate(self) -> None:
        """Nothing to create."""
        self._check_open()

    def append(
        self,
        incident_id: str,
        events: Sequence[StoredEvent],
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
        summary: IncidentSummary | None = None,
        command: StoredCommand | None = None,
        keys: Sequence[KeyClaim] = (),
    ) -> None:
        """Append atomically under the store lock; see :class:`KeyStore`."""
        check_append(incident_id, events, expected_version, outbox, summary)
        check_command(incident_id, events, expected_version, command)
        claims = check_keys(incident_id, keys)
        with self._lock:
            self._check_open()
            if command is not None and command.command_id in self._commands:
                raise DuplicateCommand(command.command_id)
            current = self._events.get(incident_id, [])
            actual = current[-1].version if current else 0
            if actual != expected_version:
                raise ConcurrencyConflict(incident_id, expected_version, actual)
            # Decide every claim before changing anything (a refused claim leaves
            # the store as it was); the changes touch only the claimed names, so
            # an append costs the same however many keys are held open.
            open_keys = self._open_keys
            changes: dict[tuple[str, str], str | None] = {}
            for claim in claims:
                name = (claim.namespace, claim.key)
                holder = changes[name] if name in changes else open_keys.get(name)
                if claim.release:
                    if holder == incident_id:
                        changes[name] = None
                elif holder is None:
                    changes[name] = incident_id
                elif holder != incident_id:
                    raise KeyTaken(claim.namespace, claim.key, holder)
            for name, holder in changes.items():
                if holder is None:
                    open_keys.pop(name, None)
                else:
                    open_keys[name] = holder
            for claim in claims:
                if not claim.release:
                    self._last_keys[(claim.namespace, claim.key)] = incident_id
            if events:  # an outbox-only append creates no stream
                if current:
                    current.extend(events)  # in place: no copy of the whole stream
                else:
                    self._events[incident_id] = list(events)
            for message in outbox:
                if message.key in self._keys:
                    continue
                self._keys.add(message.key)
                row_id = self._next_id
                self._next_id += 1
                self._outbox[row_id] = OutboxRow(
                    id=row_id,
                    key=message.key,
                    incident_id=message.incident_id,
                    topic=message.topic,
                    target=message.target,
                    payload=message.payload,
                    state=OutboxState.PENDING,
                    attempts=0,
                    available_at=message.available_at,
                    created_at=message.available_at,
                )
            if summary is not None:
                self._summaries[incident_id] = summary
            if command is not None:
                self._commands[command.command_id] = command

    def key_holder(self, namespace: str, key: str, *, released: bool = False) -> str | None:
        """The incident holding the key open (with ``released``: the last to claim it)."""
        name = (check_key_text(namespace, "namespace"), check_key_text(key, "key"))
        with self._lock:
            self._check_open()
            if released:
                return self._last_keys.get(name)
            return self._open_keys.get(name)

    def mark(self, namespace: str, name: str) -> str | None:
        """The mark's value, or ``None`` when it was never written."""
        key = check_mark(namespace, name)
        with self._lock:
            self._check_open()
            return self._marks.get(key)

    def marks(self, namespace: str) -> dict[str, str]:
        """Every mark of ``namespace``, by name."""
        check_mark(namespace, "-")
        with self._lock:
            self._check_open()
            return {n: v for (ns, n), v in sorted(self._marks.items()) if ns == namespace}

    def put_mark(self, namespace: str, name: str, value: str, *, expected: str | None) -> bool:
        """Write ``value`` if the mark holds ``expected`` (``None``: absent); whether it wrote."""
        key = check_mark(namespace, name)
        check_mark_value(value, "value")
        if expected is not None:
            check_mark_value(expected, "expected")
        with self._lock:
            self._check_open()
            if self._marks.get(key) != expected:
                return False
            self._marks[key] = value
            return True

    def command(self, command_id: str) -> StoredCommand | None:
        """Return the stored command with this id, or ``None``."""
        check_command_id(command_id, "command_id")
        with self._lock:
            self._check_open()
            return self._commands.get(command_id)

    def load(self, incident_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return events after ``after_version``."""
        check_incident_id(incident_id)
        with self._lock:
            self._check_open()
            return [e for e in self._events.get(incident_id, ()) if e.version > after_version]

    def version(self, incident_id: str) -> int:
        """Return the latest version (0 when unknown)."""
        check_incident_id(incident_id)
        with self._lock:
            events = self._events.get(incident_id)
            return events[-1].version if events else 0

    def summary(self, incident_id: str) -> IncidentSummary | None:
        """Return one summary or ``None``."""
        check_incident_id(incident_id)
        with self._lock:
            return self._summaries.get(incident_id)

    def summaries(self, query: SummaryQuery = _ALL) -> list[IncidentSummary]:
        """Return matching summaries in declared order."""
        check_query(query)
        with self._lock:
            self._check_open()
            found = sorted((s for s in self._summaries.values() if matches(s, query)), key=sort_key)
        return found if query.limit is None else found[: query.limit]

    def incident_ids(self) -> list[str]:
        """Return every incident id with events."""
        with self._lock:
            return sorted(self._events)

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        worker: str,
        *,
        targets: Mapping[str, Collection[str]] | None = None,
    ) -> list[OutboxRow]:
        """Lease due rows of the given ``targets`` to ``worker``."""
        now = check_claim(now, limit, lease)
        wanted = check_targets(targets)
        with self._lock:
            self._check_open()
            claimed: list[OutboxRow] = []
            for row_id in sorted(self._outbox):
                if len(claimed) >= limit:
                    break
                row = self._outbox[row_id]
                if row.state is not OutboxState.PENDING or row.available_at > now:
                    continue
                if row.lease_until is not None and row.lease_until > now:
                    continue
                if not claimable(wanted, row.topic, row.target):
                    continue
                row = attrs.evolve(row, attempts=row.attempts + 1, lease_until=now + lease)
                self._outbox[row_id] = row
                self._leased_by[row_id] = worker
                claimed.append(row)
            return claimed

    def _fenced(self, row_id: int, worker: str | None) -> OutboxRow | None:
        row = self._outbox.get(row_id)
        if row is None:
            raise NotFound("outbox row", str(row_id))
        if worker is not None and (
            row.state is not OutboxState.PENDING or self._leased_by.get(row_id) != worker
        ):
            return None
        return row

    def complete(self, row_id: int, *, worker: str | None = None) -> bool:
        """Mark a row done (fenced on ``worker`` when given)."""
        with self._lock:
            row = self._fenced(row_id, worker)
            if row is None:
                return False
            self._outbox[row_id] = attrs.evolve(row, state=OutboxState.DONE, lease_until=None)
            return True

    def complete_many(self, row_ids: Sequence[int], *, worker: str | None = None) -> list[bool]:
        """:meth:`complete` of each row at once; whether each applied, in order.

        :raises NotFound: some id is no outbox row; nothing is changed.
        """
        with self._lock:
            for row_id in row_ids:
                if row_id not in self._outbox:
                    raise NotFound("outbox row", str(row_id))
            return [self.complete(row_id, worker=worker) for row_id in row_ids]

    def fail(
        self, row_id: int, error: str, retry_at: datetime | None, *, worker: str | None = None
    ) -> bool:
        """Reschedule or bury a row (fenced on ``worker`` when given)."""
        with self._lock:
            row = self._fenced(row_id, worker)
            if row is None:
                return False
            if retry_at is None:
                row = attrs.evolve(row, state=OutboxState.DEAD, lease_until=None, last_error=error)
            else:
                row = attrs.evolve(row, available_at=retry_at, lease_until=None, last_error=error)
            self._outbox[row_id] = row
            return True

    def outbox(self, incident_id: str | None = None) -> list[OutboxRow]:
        """Return rows in id order."""
        with self._lock:
            return [
                row
                for _, row in sorted(self._outbox.items())
                if incident_id is None or row.incident_id == incident_id
            ]

    @contextlib.contextmanager
    def exclusive(self, incident_id: str) -> Iterator[None]:
        """Hold the incident's writer lock (the engine's turn-taking under contention)."""
        with self._exclusive.hold(incident_id):
            yield

    def close(self) -> None:
        """Forget nothing, but refuse further use."""
        self._closed = True

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"
