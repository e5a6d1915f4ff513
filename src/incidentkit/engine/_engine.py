"""The command engine: load → authorize → decide → commit → retry on conflict."""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime

import attrs

from incidentkit._time import ensure_aware
from incidentkit.engine._cache import Loaded, StateCache
from incidentkit.engine.capability import Capability, Deliverer, Planner, Route, TimerSource
from incidentkit.engine.routing import core_notifications, plan_rows
from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    IncidentKitError,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    StoreError,
    ValidationError,
)
from incidentkit.events import Event, RecordedEvent, register_event
from incidentkit.incident import Incident, actor, apply, register_fold
from incidentkit.notify import Notification
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import Policy
from incidentkit.serialization import event_from_json, event_to_json
from incidentkit.store import (
    IncidentSummary,
    OutboxMessage,
    Store,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
    check_command_id,
)
from incidentkit.timeline import GENESIS_HASH, chain_hash
from incidentkit.timers import SYSTEM_ACTOR

__all__ = ["COMMANDER_ACTIONS", "CommandResult", "Decide", "Engine", "TickReport"]

log = logging.getLogger("incidentkit")

#: Commands only the incident commander may run once one is assigned.
COMMANDER_ACTIONS = frozenset(
    {"set_severity", "assign_role", "release_role", "resolve", "reopen", "close"}
)

#: Backoff after a lost version race: a uniform draw from 0 to
#: ``min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)`` seconds ("full jitter").
_BACKOFF_BASE = 0.001
_BACKOFF_CAP = 0.1

#: After a lost race, how long (seconds) this kit takes the store's per-incident
#: lock before writing that incident (``Store.exclusive``, where the store has
#: one); each write under the lock renews it, so a busy incident stays serialized.
_CONTENDED_FOR = 5.0

Decide = Callable[[Incident, datetime], Sequence[Event]]
"""A pure handler bound to its arguments: ``(state, now) -> events`` (or raise)."""


@attrs.frozen
class TickReport:
    """What one :meth:`IncidentKit.tick <incidentkit.kit.IncidentKit.tick>` did.

    ``checked`` counts incidents whose summary said something was due;
    ``fired`` lists the timer events this call recorded; ``failures`` maps an
    incident id to the error that stopped its evaluation.
    """

    at: datetime
    checked: int
    fired: tuple[RecordedEvent, ...]
    failures: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class CommandResult:
    """The state after a command and the records it appended (none: nothing to do)."""

    state: Incident
    records: tuple[RecordedEvent, ...] = ()


class _Memo:
    """A bounded memo of one timer source's ``next_due`` on the fields it reads."""

    def __init__(self, source: TimerSource) -> None:
        self.source = source
        self._values: dict[Hashable, datetime | None] = {}

    def next_due(self, state: Incident, policy: Policy) -> datetime | None:
        if self.source.memo_key is None:
            return self.source.next_due(state, policy)
        key = self.source.memo_key(state)
        if key not in self._values:
            if len(self._values) >= 4096:
                self._values.clear()
            self._values[key] = self.source.next_due(state, policy)
        return self._values[key]


class Engine:
    """Runs commands against a store, a policy, a clock and plugins; safe across threads.

    The facade (:class:`~incidentkit.kit.IncidentKit`), delivery and every
    capability's section write through :meth:`run` (a command of a person) or
    :meth:`system` (what the kit decides itself); nothing else appends.
    """

    def __init__(
        self,
        store: Store,
        policy: Policy,
        clock: Callable[[], datetime],
        plugins: PluginManager,
        *,
        capabilities: Sequence[Capability] = (),
        retries: int = 25,
        cache_size: int = 1024,
    ) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValidationError("cache_size", f"must be a whole number >= 1, got {cache_size!r}")
        self.store = store
        self.policy = policy
        self.plugins = plugins
        self._clock = clock
        self._retries = retries
        self.cache = StateCache(cache_size)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.rng = random.Random()
        self.capabilities: dict[str, Capability] = {}
        self._routes: list[Route] = [core_notifications]
        self._planners: list[Planner] = []
        self.deliverers: dict[str, Deliverer] = {}
        self._timers: list[_Memo] = []
        self._commander_actions = set(COMMANDER_ACTIONS)
        self._contended: dict[str, float] = {}
        for capability in capabilities:
            self.register(capability)

    def register(self, capability: Capability) -> None:
        """Wire a capability's events, fold rules, timers, routes and planners in."""
        if capability.name in self.capabilities:
            raise ValidationError(
                "capability", f"a capability named {capability.name!r} is already registered"
            )
        for event_type in capability.events:
            register_event(event_type)
        for event_type, rule in capability.folds.items():
            register_fold(event_type, rule)
        self.capabilities[capability.name] = capability
        self._routes.extend(capability.routes)
        self._planners.extend(capability.outbox)
        for topic, handler in capability.delivery.items():
            if topic in self.deliverers:
                raise ValidationError("delivery", f"outbox topic {topic!r} has a handler already")
            self.deliverers[topic] = handler
        self._timers.extend(_Memo(source) for source in capability.timers)
        self._commander_actions |= capability.commander_actions

    # --- reading -------------------------------------------------------------

    def now(self) -> datetime:
        """The clock's instant in UTC; the hash chain and the stores rely on it."""
        return ensure_aware(self._clock(), "clock.now()")

    def decode(self, row: StoredEvent) -> RecordedEvent:
        """A stored row as a recorded event; a row that does not parse is a StoreError."""
        try:
            event = event_from_json(row.payload)
        except ValidationError as err:
            raise StoreError(
                f"incident {row.incident_id} version {row.version}: unreadable event "
                f"({err.field}: {err.reason})"
            ) from err
        if event.tag != row.tag:
            raise StoreError(
                f"incident {row.incident_id} version {row.version}: stored tag {row.tag!r} "
                f"does not match the payload's {event.tag!r}"
            )
        return RecordedEvent(row.incident_id, row.version, row.recorded_at, event, row.hash)

    def load(self, incident_id: str) -> Loaded:
        """The incident's newest state: the cached fold topped up with newer rows."""
        cached = self.cache.get(incident_id)
        after = cached.state.version if cached else 0
        rows = self.store.load(incident_id, after_version=after)
        if cached is None and not rows:
            raise NotFound("incident", incident_id)
        if not rows:
            assert cached is not None
            return cached
        state: Incident | None = cached.state if cached else None
        for row in rows:
            try:
                state = apply(state, self.decode(row))
            except ValueError as err:
                raise StoreError(str(err)) from err
        assert state is not None
        fresh = Loaded(state, rows[-1].hash)
        self.cache.put(incident_id, fresh)
        return fresh

    def timeline(self, incident_id: str) -> list[RecordedEvent]:
        """Every recorded event of the incident, in version order."""
        rows = self.store.load(incident_id)
        if not rows:
            raise NotFound("incident", incident_id)
        return [self.decode(row) for row in rows]

    # --- the write path --------------------------------------------------------

    def authorize(self, by: str, action: str, state: Incident | None) -> None:
        """The incident-commander rule, then the host's ``incidentkit_authorize`` hooks."""
        if (
            state is not None
            and action in self._commander_actions
            and self.policy.roles.commander_only
            and state.commander is not None
            and state.commander != by
        ):
            raise PermissionDenied(
                state.id,
                by,
                action.replace("_", " "),
                f"only the incident commander ({state.commander}) may do this",
            )
        veto = self.plugins.authorize(by, action, state)
        if veto is not None:
            raise PermissionDenied(state.id if state else "(new)", by, action, veto)

    def create(
        self,
        incident_id: str,
        by: object,
        decide: Callable[[datetime], Sequence[Event]],
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Start a timeline: authorize ``declare``, decide at now, append at version 0.

        A key already stored returns the incident as that declaration left it.
        """
        who = actor(by)
        command_id = self.command_id(idempotency_key)
        if idempotency_key is not None:
            replayed = self._replayed(command_id, "declare", None)
            if replayed is not None:
                return replayed
        self.authorize(who, "declare", None)
        now = self.now()
        events = decide(now)
        for _ in range(self._retries + 1):
            committed = self._commit_command(incident_id, None, events, now, command_id, "declare")
            if committed is not None:
                return committed
        raise OutcomeUnknown(
            incident_id, "every append of the declaration ended unknown", command_id
        )

    def run(
        self,
        incident_id: str,
        action: str,
        by: object,
        decide: Decide,
        *,
        system: bool = False,
        idempotency_key: str | None = None,
        command: str | None = None,
    ) -> CommandResult:
        """Load, authorize, decide and append, deciding again after a lost race.

        ``system`` skips authorization: only the kit's own timers and delivery
        use it (see :meth:`system`). A refusal is final only on fresh state.
        ``command`` names the command as stored with its id (default
        ``action``); a stored ``idempotency_key`` returns that command's result
        without deciding again. Lost races are retried with jittered
        exponential backoff; an unknown outcome is resolved by the command id.
        """
        who = actor(by)
        name = command or action
        command_id = self.command_id(idempotency_key)
        if idempotency_key is not None:
            replayed = self._replayed(command_id, name, incident_id)
            if replayed is not None:
                return replayed

        def authorize(state: Incident) -> None:
            if not system:
                self.authorize(who, action, state)

        def attempts(conflicts_allowed: int, backoff: bool = True) -> CommandResult:
            return self._attempts(
                incident_id, authorize, decide, command_id, name, conflicts_allowed, backoff
            )

        exclusive = getattr(self.store, "exclusive", None)
        if exclusive is None:
            return attempts(self._retries)
        if not self._is_contended(incident_id):
            try:
                return attempts(0)  # optimistic: no lock while nobody competes
            except ConcurrencyConflict:
                self._mark_contended(incident_id)
                if self._retries == 0:
                    raise
                retries = self._retries - 1  # the optimistic try was the first
        else:
            retries = self._retries
        # Contended: writers of this incident take turns (the store's lock held
        # across load, decide and append), so their decisions are never stale.
        # No sleeping while holding the lock: the queue behind it would wait too.
        with exclusive(incident_id):
            self.cache.forget(incident_id)
            result = attempts(retries, backoff=False)
        self._mark_contended(incident_id)  # a busy incident stays serialized while busy
        return result

    def _attempts(
        self,
        incident_id: str,
        authorize: Callable[[Incident], None],
        decide: Decide,
        command_id: str,
        name: str,
        conflicts_allowed: int,
        backoff: bool,
    ) -> CommandResult:
        """Decide and append until it sticks: at most ``conflicts_allowed`` lost races."""
        attempt = unknown = 0
        while True:
            # Decide on the cached state when there is one: the append's version
            # check catches a stale cache.
            cached = self.cache.get(incident_id)
            before = cached or self.load(incident_id)
            try:
                authorize(before.state)
                now = self.now()
                events = decide(before.state, now)
            except IncidentKitError:
                if cached is None:
                    raise
                before = self.load(incident_id)
                if before is cached:
                    raise
                authorize(before.state)
                now = self.now()
                events = decide(before.state, now)
            if not events:
                return CommandResult(before.state)
            try:
                result = self._commit_command(incident_id, before, events, now, command_id, name)
            except ConcurrencyConflict:
                self.cache.forget(incident_id)
                if attempt >= conflicts_allowed:
                    raise
                if backoff:
                    self._backoff(attempt)
                attempt += 1
                continue
            if result is not None:
                return result
            unknown += 1
            if unknown > self._retries:
                raise OutcomeUnknown(
                    incident_id, f"{unknown} appends of the command ended unknown", command_id
                )

    def _is_contended(self, incident_id: str) -> bool:
        deadline = self._contended.get(incident_id)
        if deadline is None:
            return False
        if deadline < time.monotonic():
            self._contended.pop(incident_id, None)
            return False
        return True

    def _mark_contended(self, incident_id: str) -> None:
        """Serialize this kit's writers of ``incident_id`` for a while after a lost race."""
        if len(self._contended) >= 4096:
            self._contended.clear()
        self._contended[incident_id] = time.monotonic() + _CONTENDED_FOR

    def _backoff(self, attempt: int) -> None:
        """Sleep a jittered, exponentially growing moment after losing race ``attempt``.

        Competing replicas spread out instead of colliding again at once.
        """
        time.sleep(self.rng.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)))

    # --- command ids -----------------------------------------------------------

    def command_id(self, idempotency_key: str | None) -> str:
        """The caller's key (checked), or a fresh random command id."""
        if idempotency_key is None:
            return f"cmd-{secrets.token_hex(16)}"
        return check_command_id(idempotency_key, "idempotency_key")

    def _replayed(
        self, command_id: str, command: str, incident_id: str | None
    ) -> CommandResult | None:
        """What the stored command ``command_id`` committed, or ``None`` when it is not stored.

        :raises ValidationError: (``idempotency_key``) the id belongs to another
            command or incident.
        """
        found = self.store.command(command_id)
        if found is None:
            return None
        if found.action != command or (
            incident_id is not None and found.incident_id != incident_id
        ):
            raise ValidationError(
                "idempotency_key",
                f"{command_id!r} was already used for {found.action} on incident "
                f"{found.incident_id}, not for {command} on "
                f"{incident_id if incident_id is not None else 'a new incident'}",
            )
        return self._as_of(found)

    def _as_of(self, found: StoredCommand) -> CommandResult:
        """The incident's state right after ``found``'s events, and those events."""
        first = found.version - found.events + 1
        state: Incident | None = None
        records: list[RecordedEvent] = []
        for row in self.store.load(found.incident_id):
            if row.version > found.version:
                break
            record = self.decode(row)
            try:
                state = apply(state, record)
            except ValueError as err:
                raise StoreError(str(err)) from err
            if row.version >= first:
                records.append(record)
        if state is None or state.version != found.version:
            raise StoreError(
                f"command {found.command_id!r} names {found.incident_id}@{found.version}, "
                "which the store does not hold"
            )
        return CommandResult(state, tuple(records))

    def _commit_command(
        self,
        incident_id: str,
        before: Loaded | None,
        events: Sequence[Event],
        now: datetime,
        command_id: str,
        command: str,
    ) -> CommandResult | None:
        """Append with the command id; resolve a duplicate or an unknown outcome.

        Returns the result (this append's, or the stored one of the same
        command), or ``None`` when the outcome was unknown and the command is
        not stored: the caller runs it again, which the unique command id
        makes safe. Raises ConcurrencyConflict as the store does.

        :raises OutcomeUnknown: the store cannot say whether the command committed.
        """
        try:
            return self.commit(incident_id, before, events, now, (command_id, command))
        except DuplicateCommand:
            found = self._replayed(command_id, command, incident_id)
            if found is None:
                raise StoreError(
                    f"{self.store.url}: refused command {command_id!r} as a duplicate but "
                    "holds no record of it"
                ) from None
            return found
        except OutcomeUnknown as err:
            self.cache.forget(incident_id)
            try:
                found = self._replayed(command_id, command, incident_id)
            except StoreError as again:
                raise OutcomeUnknown(
                    incident_id, f"{err.reason}; looking the command up failed: {again}", command_id
                ) from err
            if found is None:
                log.info(
                    "command %s on %s was not committed; running it again", command_id, incident_id
                )
            return found

    def system(self, incident_id: str, action: str, decide: Decide) -> CommandResult:
        """Record what the kit itself decided (timers, delivery outcomes): no authorization."""
        return self.run(incident_id, action, SYSTEM_ACTOR, decide, system=True)

    def commit(
        self,
        incident_id: str,
        before: Loaded | None,
        events: Sequence[Event],
        now: datetime,
        command: tuple[str, str] | None = None,
    ) -> CommandResult:
        """Append ``events`` after ``before`` with their outbox rows and the new summary.

        ``command`` is ``(command id, action)``, stored with the events.
        """
        version = before.state.version if before else 0
        previous = before.head_hash if before else GENESIS_HASH
        state = before.state if before else None
        stored: list[StoredEvent] = []
        records: list[RecordedEvent] = []
        for offset, event in enumerate(events, start=1):
            payload = event_to_json(event)
            digest = chain_hash(previous, incident_id, version + offset, now, payload)
            stored.append(
                StoredEvent(incident_id, version + offset, event.tag, payload, now, digest)
            )
            record = RecordedEvent(incident_id, version + offset, now, event, digest)
            records.append(record)
            state = apply(state, record)
            previous = digest
        assert state is not None
        outbox = [m for record in records for m in self.outbox_for(state, record)]
        stored_command = (
            None
            if command is None
            else StoredCommand(command[0], incident_id, command[1], state.version, len(stored))
        )
        self.store.append(
            incident_id,
            stored,
            version,
            outbox=outbox,
            summary=self.summary(state),
            command=stored_command,
        )
        self.cache.put(incident_id, Loaded(state, previous))
        return CommandResult(state, tuple(records))

    # --- projections -------------------------------------------------------------

    def summary(self, state: Incident) -> IncidentSummary:
        """The read model stored beside the events (listing, metrics and ``tick`` read it)."""
        return IncidentSummary(
            incident_id=state.id,
            version=state.version,
            title=state.title,
            status=state.status,
            severity=state.severity,
            services=state.services,
            started_at=state.started_at,
            detected_at=state.detected_at,
            declared_at=state.declared_at,
            acknowledged_at=state.acknowledged_at,
            mitigated_at=state.mitigated_at,
            resolved_at=state.resolved_at,
            closed_at=state.closed_at,
            next_due_at=self.next_due(state),
        )

    def next_due(self, state: Incident) -> datetime | None:
        """The earliest instant any capability's timers may fire for ``state``."""
        found = [memo.next_due(state, self.policy) for memo in self._timers]
        due = [at for at in found if at is not None]
        return min(due) if due else None

    def due_events(self, state: Incident, now: datetime) -> list[Event]:
        """Every capability's timer events due at ``now``, in due order."""
        events = [e for memo in self._timers for e in memo.source.due(state, self.policy, now)]
        events.sort(key=lambda e: getattr(e, "due_at", now))
        return events

    def tick(self, at: datetime | None = None) -> TickReport:
        """Record every timer due at ``at`` (default now) on each incident whose summary says so."""
        at = at if at is not None else self.now()
        # Every status: a resolved or closed incident may still have timers
        # (a review due, an overdue action item); the summary's next_due_at says so.
        due = self.store.summaries(SummaryQuery(due_before=at))
        fired: list[RecordedEvent] = []
        failures: dict[str, str] = {}
        for summary in due:
            incident_id = summary.incident_id
            try:
                result = self.system(incident_id, "tick", lambda s, _: self.due_events(s, at))
            except IncidentKitError as err:
                log.warning("tick: incident %s: %s", incident_id, err)
                failures[incident_id] = str(err)
                continue
            fired.extend(result.records)
        return TickReport(at, len(due), tuple(fired), failures)

    def notifications_for(self, after: Incident, record: RecordedEvent) -> list[Notification]:
        """The notifications ``record`` implies, given the state ``after`` its append."""
        return [n for route in self._routes for n in route(self.policy, after, record)]

    def outbox_for(self, after: Incident, record: RecordedEvent) -> list[OutboxMessage]:
        """The outbox rows written with ``record``: notifications, channel, observers, planners."""
        rows = plan_rows(
            after,
            record,
            self.notifications_for(after, record),
            self.plugins.notifiers(),
            opens_channels=self.plugins.opens_channels(),
            observers=self.plugins.observers(),
        )
        rows.extend(m for planner in self._planners for m in planner(after, record))
        return rows
