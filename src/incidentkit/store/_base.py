"""The storage contract: records that cross the store boundary and the ``Store`` protocol.

A store is deliberately dumb. The kit serializes events, chains their hashes
and computes the incident summary; the store persists those rows atomically,
enforces the expected version, and runs the outbox queue.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import attrs

from incidentkit.lifecycle import Status
from incidentkit.severity import Severity

__all__ = [
    "IncidentSummary",
    "KeyClaim",
    "KeyStore",
    "MarkStore",
    "OutboxMessage",
    "OutboxRow",
    "OutboxState",
    "Store",
    "StoredCommand",
    "StoredEvent",
    "SummaryQuery",
    "require_marks",
]


@attrs.frozen
class StoredEvent:
    """One event row as the store keeps it.

    ``payload`` is the canonical JSON of the event (the kit produced it);
    ``hash`` is ``sha256(previous hash + canonical row)`` in hex; versions of one
    incident start at 1 and are contiguous.
    """

    incident_id: str
    version: int
    tag: str
    payload: str
    recorded_at: datetime
    hash: str


@attrs.frozen
class StoredCommand:
    """The command an append carries: its id, what it was, and where its events ended.

    ``command_id`` is unique across the store (a unique key, not a check
    before the insert): a second append carrying the same id raises
    :class:`~incidentkit.errors.DuplicateCommand` and writes nothing.
    ``version`` is the incident's version after the command's ``events``
    events (so they are ``version - events + 1`` … ``version``).
    """

    command_id: str
    incident_id: str
    action: str
    version: int
    events: int


@attrs.frozen
class IncidentSummary:
    """The read model kept beside the events, updated in the same transaction.

    Listing and metrics read summaries; they never replay timelines.
    ``next_due_at`` is the earliest instant at which ``tick()`` may have work
    for this incident (``None``: no timer pending). ``version`` and
    ``head_hash`` are the chain's head when the summary was written (the hash
    of the row at ``version``), so verification notices a timeline cut short
    or a summary edited by hand (``None``: not recorded).
    """

    incident_id: str
    version: int
    title: str
    status: Status
    severity: Severity
    services: tuple[str, ...] = ()
    started_at: datetime | None = None
    detected_at: datetime | None = None
    declared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    next_due_at: datetime | None = None
    head_hash: str | None = None


@attrs.frozen
class SummaryQuery:
    """Filters for :meth:`Store.summaries`; every field left ``None`` matches all.

    ``since``/``until`` bound ``declared_at`` (half open: since <= t < until);
    ``due_before`` selects summaries whose ``next_due_at`` is at or before it.
    """

    statuses: Collection[Status] | None = None
    severities: Collection[Severity] | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    due_before: datetime | None = None
    limit: int | None = None


@attrs.frozen
class KeyClaim:
    """Hold (or, with ``release``, let go of) a unique open key for an incident.

    Claims travel with an append (:meth:`KeyStore.append`'s ``keys``) and are
    written in its transaction. At most one incident holds a given
    ``(namespace, key)`` open at a time: the store enforces it with a unique
    index on the open keys, not with a read before the write, so of two
    concurrent appends claiming one key exactly one commits and the other
    raises :class:`~incidentkit.errors.KeyTaken` and writes nothing. Claiming
    a key the same incident already holds is a no-op; releasing a key the
    incident does not hold is a no-op. A released key may be claimed again
    (by any incident), and the store remembers who held it last.
    """

    namespace: str
    key: str
    incident_id: str
    release: bool = False


class OutboxState(enum.StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


@attrs.frozen
class OutboxMessage:
    """A side effect to perform after commit, written with the events.

    ``key`` is the idempotency key, unique across the outbox: enqueueing a key
    that already exists is a no-op. ``topic`` says what kind of work it is
    (``"notification"``, ``"mitigation"``, ``"event"``); ``target`` names the
    plugin (notifier, action or observer) that performs it.
    """

    key: str
    incident_id: str
    topic: str
    target: str
    payload: str
    available_at: datetime


@attrs.frozen
class OutboxRow:
    """An outbox row as read back from the store."""

    id: int
    key: str
    incident_id: str
    topic: str
    target: str
    payload: str
    state: OutboxState
    attempts: int
    available_at: datetime
    created_at: datetime
    lease_until: datetime | None = None
    last_error: str | None = None


@runtime_checkable
class Store(Protocol):
    """What every store does. Run ``incidentkit.testing.StoreContract`` against yours."""

    url: str

    def migrate(self) -> None:
        """Create or upgrade the schema; idempotent. Refuse a newer schema with StoreError."""
        ...

    def append(
        self,
        incident_id: str,
        events: Sequence[StoredEvent],
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
        summary: IncidentSummary | None = None,
        command: StoredCommand | None = None,
    ) -> None:
        """Atomically append ``events`` (versions expected_version+1 …) and ``outbox``.

        Upserts ``summary`` and inserts ``command`` in the same transaction.
        Raises ConcurrencyConflict (with the actual version) and writes nothing
        when the incident's latest version is not ``expected_version``; raises
        DuplicateCommand and writes nothing when ``command.command_id`` is
        already stored (checked before the version). Raises OutcomeUnknown
        when the transaction may have committed but the store cannot tell.
        """
        ...

    def command(self, command_id: str) -> StoredCommand | None:
        """Return the stored command with this id, or ``None``."""
        ...

    def load(self, incident_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the incident's events with version > ``after_version``, in order.

        An unknown incident yields an empty list.
        """
        ...

    def version(self, incident_id: str) -> int:
        """Return the latest version of the incident (0 when unknown)."""
        ...

    def summary(self, incident_id: str) -> IncidentSummary | None:
        """Return one incident's summary, or ``None``."""
        ...

    def summaries(self, query: SummaryQuery = ...) -> list[IncidentSummary]:
        """Return summaries matching ``query``, ordered by declared_at then incident_id."""
        ...

    def incident_ids(self) -> list[str]:
        """Return every incident id that has at least one event."""
        ...

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        worker: str,
        *,
        targets: Mapping[str, Collection[str]] | None = None,
    ) -> list[OutboxRow]:
        """Lease up to ``limit`` pending rows due at ``now`` (or whose lease expired).

        Each row is handed to exactly one concurrent claimer; ``attempts`` is
        incremented by the claim. ``targets`` maps a topic to the targets the
        worker can handle (``{"notification": {"slack"}, "event": set()}``):
        only rows whose topic is a key and whose target is in its collection
        are claimed, and every other row is left exactly as it was (no
        attempt, no lease) for a worker that has its plugin. ``None`` claims
        rows of every topic and target.
        """
        ...

    def complete(self, row_id: int, *, worker: str | None = None) -> bool:
        """Mark a claimed row done; return whether the update applied.

        With ``worker``, the update applies only while the row is still pending
        and leased to that worker (a fencing check): a worker whose lease
        expired and whose row another worker re-claimed gets ``False`` and
        changes nothing. Raises NotFound for an unknown id.
        """
        ...

    def fail(
        self, row_id: int, error: str, retry_at: datetime | None, *, worker: str | None = None
    ) -> bool:
        """Record a failed attempt: reschedule at ``retry_at`` or, if None, mark it dead.

        ``worker`` fences the update as in :meth:`complete`; returns whether it applied.
        """
        ...

    def outbox(self, incident_id: str | None = None) -> list[OutboxRow]:
        """Return outbox rows (all states), ordered by id; for inspection and tests."""
        ...

    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
        ...


@runtime_checkable
class KeyStore(Store, Protocol):
    """A :class:`Store` that also holds unique open keys (alert dedup keys and the like).

    ``append`` takes ``keys``, a sequence of :class:`KeyClaim` applied in the
    same transaction as the events (after the version check), in order: a key
    claimed and then released in one append ends up released, and one released
    and then claimed ends up held.
    """

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
        """As :meth:`Store.append`, and apply ``keys``.

        Raises KeyTaken (naming the holder) and writes nothing when a claimed
        key is held open by another incident.
        """
        ...

    def key_holder(self, namespace: str, key: str, *, released: bool = False) -> str | None:
        """The incident holding ``(namespace, key)`` open, or ``None``.

        With ``released``, the incident that claimed it last, open or released.
        """
        ...


@runtime_checkable
class MarkStore(Store, Protocol):
    """A :class:`Store` that also keeps marks: small named values of no incident.

    A mark is text under ``(namespace, name)`` (a heartbeat's last ping, a
    silence). :meth:`put_mark` is a compare-and-set upsert, so of replicas
    writing one mark from the same value exactly one succeeds. Marks are not
    events: they have no timeline and no hash chain; keep in them only state
    that belongs to no incident.

    .. versionadded:: 0.3
    """

    def mark(self, namespace: str, name: str) -> str | None:
        """The mark's value, or ``None`` when it was never written."""
        ...

    def marks(self, namespace: str) -> dict[str, str]:
        """Every mark of ``namespace``, by name."""
        ...

    def put_mark(self, namespace: str, name: str, value: str, *, expected: str | None) -> bool:
        """Write ``value`` if the mark holds ``expected`` (``None``: it does not exist yet).

        Returns whether it wrote; a ``False`` means another writer changed the
        mark first (read it again and decide again).
        """
        ...


def require_marks(store: Store, purpose: str) -> MarkStore:
    """``store`` as a :class:`MarkStore`, or a :class:`~incidentkit.errors.StoreError` saying
    that ``purpose`` (``"heartbeats"``, ``"scheduled maintenances"``) needs marks."""
    if not isinstance(store, MarkStore):
        from incidentkit.errors import StoreError

        raise StoreError(
            f"{store.url}: {purpose} need a store with marks (mark and put_mark); "
            "the built-in stores have them"
        )
    return store
