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
from incidentkit.engine.capability import Capability, Planner, Route, TimerSource
from incidentkit.engine.routing import core_notifications, plan_rows
from incidentkit.errors import (
    ConcurrencyConflict,
    IncidentKitError,
    NotFound,
    PermissionDenied,
    StoreError,
    ValidationError,
)
from incidentkit.events import Event, RecordedEvent, register_event
from incidentkit.incident import Incident, actor, apply, register_fold
from incidentkit.lifecycle import Status
from incidentkit.notify import Notification
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import Policy
from incidentkit.serialization import event_from_json, event_to_json
from incidentkit.store import IncidentSummary, OutboxMessage, Store, StoredEvent, SummaryQuery
from incidentkit.timeline import GENESIS_HASH, chain_hash
from incidentkit.timers import SYSTEM_ACTOR

__all__ = ["COMMANDER_ACTIONS", "CommandResult", "Decide", "Engine", "TickReport"]

log = logging.getLogger("incidentkit")

#: Commands only the incident commander may run once one is assigned.
COMMANDER_ACTIONS = frozenset(
    {"set_severity", "assign_role", "release_role", "resolve", "reopen", "close"}
)

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
        retries: int = 5,
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
        self._timers: list[_Memo] = []
        self._commander_actions = set(COMMANDER_ACTIONS)
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
        self, incident_id: str, by: object, decide: Callable[[datetime], Sequence[Event]]
    ) -> CommandResult:
        """Start a timeline: authorize ``declare``, decide at now, append at version 0."""
        who = actor(by)
        self.authorize(who, "declare", None)
        now = self.now()
        return self.commit(incident_id, None, decide(now), now)

    def run(
        self,
        incident_id: str,
        action: str,
        by: object,
        decide: Decide,
        *,
        system: bool = False,
    ) -> CommandResult:
        """Load, authorize, decide and append, deciding again after a lost race.

        ``system`` skips authorization: only the kit's own timers and delivery
        use it (see :meth:`system`). A refusal is final only on fresh state.
        """
        who = actor(by)

        def authorize(state: Incident) -> None:
            if not system:
                self.authorize(who, action, state)

        for attempt in range(self._retries + 1):
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
                return self.commit(incident_id, before, events, now)
            except ConcurrencyConflict:
                self.cache.forget(incident_id)
                if attempt == self._retries:
                    raise
                # Spread competing replicas out a little before deciding again.
                time.sleep(self.rng.uniform(0, 0.002 * (attempt + 1)))
        raise AssertionError("unreachable")

    def system(self, incident_id: str, action: str, decide: Decide) -> CommandResult:
        """Record what the kit itself decided (timers, delivery outcomes): no authorization."""
        return self.run(incident_id, action, SYSTEM_ACTOR, decide, system=True)

    def commit(
        self,
        incident_id: str,
        before: Loaded | None,
        events: Sequence[Event],
        now: datetime,
    ) -> CommandResult:
        """Append ``events`` after ``before`` with their outbox rows and the new summary."""
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
        self.store.append(incident_id, stored, version, outbox=outbox, summary=self.summary(state))
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
        due = self.store.summaries(
            SummaryQuery(statuses={s for s in Status if s.is_open}, due_before=at)
        )
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
