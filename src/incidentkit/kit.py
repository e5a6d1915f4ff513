"""``IncidentKit``: commands in, events and outbox rows out.

Every command follows the same path:

1. load the incident (a cached fold, topped up with newer events);
2. authorize (the incident-commander rule, then ``incidentkit_authorize``);
3. decide: a pure handler from :mod:`incidentkit.incident` returns events or
   raises (a refused command appends nothing);
4. append the events with the expected version, plus the summary and the
   outbox rows they imply, in one store transaction;
5. on :class:`ConcurrencyConflict` (another replica got there first), reload
   and decide again, so the command is re-checked against the newer state.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from incidentkit._delivery import DeliveryReport, run_mitigation
from incidentkit._delivery import deliver as _deliver
from incidentkit._time import ensure_aware
from incidentkit.checklists import ItemState
from incidentkit.checkpoint import Checkpoint, CheckpointEntry
from incidentkit.clock import Clock, SystemClock
from incidentkit.errors import (
    ChainKeyError,
    ConcurrencyConflict,
    IncidentKitError,
    IntegrityError,
    NotFound,
    PermissionDenied,
    StoreError,
    ValidationError,
)
from incidentkit.events import (
    EVENT_TYPES,
    Conclusion,
    Declared,
    EscalationFired,
    Event,
    MitigationRequested,
    PublicStatus,
    RecordedEvent,
    ReminderFired,
    Resolved,
    SeverityChanged,
    Source,
    TargetMissed,
    UpdatePosted,
)
from incidentkit.incident import (
    Incident,
    actor,
    apply,
    can_resolve,
    decide_acknowledge,
    decide_assign_role,
    decide_checklist,
    decide_close,
    decide_declare,
    decide_enter_phase,
    decide_hypothesis,
    decide_mark_mitigated,
    decide_note,
    decide_post_update,
    decide_release_role,
    decide_reopen,
    decide_request_mitigation,
    decide_resolve,
    decide_set_severity,
    decide_set_status,
    ensure_params,
    parse_enum,
)
from incidentkit.lifecycle import Phase, Status
from incidentkit.mitigation._execute import structure_params
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import Policy
from incidentkit.roles import Role
from incidentkit.serialization import converter, dumps, event_from_json, event_to_json
from incidentkit.severity import Severity, Signals
from incidentkit.store import (
    IncidentSummary,
    OutboxMessage,
    Store,
    StoredEvent,
    SummaryQuery,
)
from incidentkit.timeline import (
    CHAIN_KEY_ENV,
    GENESIS_HASH,
    ChainCheck,
    ChainKey,
    ChainProblem,
    chain_hash,
    hash_key_id,
    verify_chain,
)
from incidentkit.timers import SYSTEM_ACTOR, due_events, escalation_events, next_due

__all__ = ["DB_ENV", "IncidentKit", "TickReport"]

log = logging.getLogger("incidentkit")

DB_ENV = "INCIDENTKIT_DB"
"""Environment variable the CLI reads for the store URL."""

#: Commands only the incident commander may run once one is assigned.
COMMANDER_ACTIONS = frozenset(
    {"set_severity", "assign_role", "release_role", "resolve", "reopen", "close"}
)


def _chain_key(policy: Policy) -> ChainKey | None:
    """The chain key from the policy or ``$INCIDENTKIT_CHAIN_KEY``; both set must agree."""
    configured = policy.integrity.chain_key
    env = os.environ.get(CHAIN_KEY_ENV)
    from_env = None if env is None else ChainKey.from_text(env, f"${CHAIN_KEY_ENV}")
    from_policy = (
        None if configured is None else ChainKey.from_text(configured, "integrity.chain_key")
    )
    if from_env is not None and from_policy is not None and from_env != from_policy:
        raise ValidationError(
            f"${CHAIN_KEY_ENV}",
            f"differs from the policy's integrity.chain_key (key ids {from_env.key_id} and "
            f"{from_policy.key_id}); set one of them",
        )
    return from_policy or from_env


#: Summary fields that are a fold of the timeline alone (``next_due_at`` also
#: depends on the policy, so a policy change legitimately moves it).
_RECORDED_FIELDS = tuple(
    f.name for f in attrs.fields(IncidentSummary) if f.name not in ("next_due_at",)
)


def _new_id(now: datetime) -> str:
    return f"INC-{now:%Y%m%d}-{secrets.token_hex(3).upper()}"


@attrs.frozen
class TickReport:
    """What one :meth:`IncidentKit.tick` did.

    ``checked`` counts incidents whose summary said something was due;
    ``fired`` lists the timer events this call recorded; ``failures`` maps an
    incident id to the error that stopped its evaluation.
    """

    at: datetime
    checked: int
    fired: tuple[RecordedEvent, ...]
    failures: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Cached:
    state: Incident
    head_hash: str


class IncidentKit:
    """The facade: run incidents against a store, a policy, a clock and plugins.

    One kit per process is enough; it is safe to share between threads, and
    several processes or machines may open kits on the same store.
    ``cache_size`` bounds how many incidents' folded states it keeps between
    calls (a command decides on the cached state; the store's version check
    catches a stale one). ``retries`` is how often a command is decided again
    after another replica appended first. The chain key comes from
    ``policy.integrity.chain_key`` or ``$INCIDENTKIT_CHAIN_KEY``.

    >>> from datetime import datetime, timezone
    >>> import incidentkit as ik
    >>> t0 = datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc)
    >>> kit = ik.IncidentKit(clock=ik.ManualClock(t0))
    >>> inc = kit.declare("API returning 500 errors", severity=ik.Severity.SEV1, by="alice")
    >>> kit.get(inc.id).status
    <Status.DECLARED: 'declared'>
    """

    def __init__(
        self,
        store: Store | None = None,
        policy: Policy | None = None,
        clock: Clock | None = None,
        plugins: Sequence[object] = (),
        *,
        plugin_manager: PluginManager | None = None,
        autoload_plugins: bool | None = None,
        strict_plugins: bool = False,
        id_factory: Callable[[datetime], str] | None = None,
        retries: int = 5,
        cache_size: int = 1024,
    ) -> None:
        if plugin_manager is None:
            plugin_manager = PluginManager(
                plugins, autoload=autoload_plugins, strict=strict_plugins
            )
        else:
            for plugin in plugins:
                plugin_manager.register(plugin)
        self.plugins = plugin_manager
        # Refuse malformed notifiers and actions now, naming the plugin, rather
        # than at the first declare (when a SEV1 is already under way).
        plugin_manager.notifiers()
        plugin_manager.mitigation_actions()
        self.store: Store = store if store is not None else plugin_manager.open_store("memory://")
        self.store.migrate()
        self.policy = policy if policy is not None else Policy.default()
        self._chain_key = _chain_key(self.policy)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._id_factory = id_factory or _new_id
        self._retries = retries
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValidationError("cache_size", f"must be a whole number >= 1, got {cache_size!r}")
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._rng = random.Random()
        self._due_cache: dict[tuple[object, ...], datetime | None] = {}

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        policy: Policy | None = None,
        clock: Clock | None = None,
        plugins: Sequence[object] = (),
        autoload_plugins: bool | None = None,
        strict_plugins: bool = False,
        **kwargs: Any,
    ) -> IncidentKit:
        """Open a kit on the store at ``url`` (``memory://``, ``sqlite:///x.db``, ``postgresql://…``).

        ``url`` defaults to ``$INCIDENTKIT_DB``, then ``sqlite:///incidents.db``.
        """
        manager = PluginManager(plugins, autoload=autoload_plugins, strict=strict_plugins)
        target = url or os.environ.get(DB_ENV) or "sqlite:///incidents.db"
        store = manager.open_store(target)
        return cls(
            store=store,
            policy=policy,
            clock=clock,
            plugin_manager=manager,
            **kwargs,
        )

    def shutdown(self) -> None:
        """Close the store's connections. (``close`` closes an incident.)"""
        self.store.close()

    def __enter__(self) -> IncidentKit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- reading -----------------------------------------------------------

    def _decode(self, row: StoredEvent) -> RecordedEvent:
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

    def _load(self, incident_id: str) -> _Cached:
        cached = self._cached(incident_id)
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
                state = apply(state, self._decode(row))
            except ValueError as err:
                raise StoreError(str(err)) from err
        assert state is not None
        fresh = _Cached(state, rows[-1].hash)
        self._remember(incident_id, fresh)
        return fresh

    def _remember(self, incident_id: str, entry: _Cached) -> None:
        """Keep the newest state of the most recently used incidents (bounded LRU).

        A slower reader never replaces a newer state a concurrent commit stored.
        """
        with self._lock:
            current = self._cache.get(incident_id)
            if current is None or current.state.version <= entry.state.version:
                self._cache[incident_id] = entry
            self._cache.move_to_end(incident_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _cached(self, incident_id: str) -> _Cached | None:
        with self._lock:
            entry = self._cache.get(incident_id)
            if entry is not None:
                self._cache.move_to_end(incident_id)
            return entry

    def get(self, incident_id: str) -> Incident:
        """The incident's current state (a fold of its timeline)."""
        return self._load(incident_id).state

    def can_resolve(self, incident_id: str) -> tuple[str, ...]:
        """Why the incident cannot be resolved now; empty when it can (a guard that answers)."""
        return can_resolve(self.get(incident_id), self.policy)

    def timeline(self, incident_id: str) -> list[RecordedEvent]:
        """Every recorded event of the incident, in version order."""
        rows = self.store.load(incident_id)
        if not rows:
            raise NotFound("incident", incident_id)
        return [self._decode(row) for row in rows]

    def incidents(
        self,
        *,
        status: Status | Iterable[Status] | None = None,
        severity: Severity | Iterable[Severity] | None = None,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        open_only: bool = False,
        limit: int | None = None,
    ) -> list[IncidentSummary]:
        """Summaries (no replay), filtered; ``since``/``until`` bound the declaration time."""
        statuses: set[Status] | None = None
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            statuses = {parse_enum(Status, s, "status") for s in wanted}
        if open_only:
            opened = {s for s in Status if s.is_open}
            statuses = opened if statuses is None else statuses & opened
        severities: set[Severity] | None = None
        if severity is not None:
            severities = (
                {Severity.parse(severity)}
                if isinstance(severity, str)
                else {Severity.parse(s) for s in severity}
            )
        lower = ensure_aware(since, "since") if since is not None else None
        upper = ensure_aware(until, "until") if until is not None else None
        if lower and upper and lower > upper:
            raise ValidationError("since", "is after until")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValidationError("limit", "must be a non-negative integer")
        return self.store.summaries(
            SummaryQuery(
                statuses=statuses,
                severities=severities,
                service=service,
                since=lower,
                until=upper,
                limit=limit,
            )
        )

    @property
    def chain_key_id(self) -> str | None:
        """The id of this kit's chain key (``None``: rows are hashed with plain SHA-256)."""
        return None if self._chain_key is None else self._chain_key.key_id

    def verify(self, incident_id: str, *, against: Checkpoint | None = None) -> ChainCheck:
        """Check one incident: its hash chain, its summary, and ``against`` a checkpoint.

        The result names the first broken version and the kind of problem; a
        chain made with another key, or keyed while this kit has none, is a
        failed check saying so (``problem`` ``wrong_key`` / ``no_key``).

        :raises NotFound: the incident has neither events nor a summary (and is
            not in ``against``).
        :raises CheckpointError: ``against`` is inconsistent or not signed with this kit's key.
        """
        if against is not None:
            against.check(self._chain_key)
        return self._verify(incident_id, against)

    def verify_all(self, *, against: Checkpoint | None = None) -> list[ChainCheck]:
        """Verify every incident with events or a summary (and every one in ``against``)."""
        if against is not None:
            against.check(self._chain_key)
        ids = set(self.store.incident_ids())
        ids.update(s.incident_id for s in self.store.summaries(SummaryQuery()))
        if against is not None:
            ids.update(e.incident_id for e in against.incidents)
        return [self._verify(incident_id, against) for incident_id in sorted(ids)]

    def checkpoint(self) -> Checkpoint:
        """A signed head of every incident (signed when a chain key is set) to store elsewhere.

        Every incident is verified first: a checkpoint never vouches for a
        timeline that does not verify.

        :raises IntegrityError: some incident does not verify; no checkpoint is made.
        """
        now = self._now()
        checks = self.verify_all()
        broken = [c for c in checks if not c.ok]
        if broken:
            raise IntegrityError(broken)
        entries = [
            CheckpointEntry(c.incident_id, c.version, c.head_hash)
            for c in checks
            if c.head_hash is not None
        ]
        return Checkpoint.build(entries, now, self._chain_key)

    def _verify(self, incident_id: str, against: Checkpoint | None) -> ChainCheck:
        rows = self.store.load(incident_id)
        summary = self.store.summary(incident_id)
        entry = against.entry(incident_id) if against is not None else None
        if not rows and summary is None and entry is None:
            raise NotFound("incident", incident_id)
        check = verify_chain(
            incident_id,
            ((r.version, r.recorded_at, r.payload, r.hash) for r in rows),
            key=self._chain_key,
            require_key=self.policy.integrity.require_key,
        )
        if check.ok and (rows or summary is not None):
            check = self._check_summary(check, rows, summary)
        if check.ok and entry is not None:
            check = self._check_against(check, rows, entry)
        return check

    def _check_summary(
        self, check: ChainCheck, rows: Sequence[StoredEvent], summary: IncidentSummary | None
    ) -> ChainCheck:
        """The summary must be the fold of the chain: same version, head hash and fields."""

        def broken(version: int, problem: ChainProblem, reason: str) -> ChainCheck:
            return attrs.evolve(
                check, ok=False, broken_version=version, problem=problem, reason=reason
            )

        if not rows:
            assert summary is not None
            return broken(
                1,
                ChainProblem.EVENTS_MISSING,
                f"the summary says version {summary.version}, but the incident has no events",
            )
        if summary is None:
            return broken(
                check.version,
                ChainProblem.SUMMARY_MISSING,
                "the incident has events but no summary",
            )
        if summary.version > check.version:
            return broken(
                check.version + 1,
                ChainProblem.SUMMARY_MISMATCH,
                f"the summary says version {summary.version}, but the chain ends at "
                f"{check.version} (rows missing from the end)",
            )
        if summary.version < check.version:
            return broken(
                summary.version + 1,
                ChainProblem.SUMMARY_MISMATCH,
                f"the chain goes on to version {check.version} past the summary's version "
                f"{summary.version} (rows appended outside the kit)",
            )
        if summary.head_hash != check.head_hash:
            return broken(
                check.version,
                ChainProblem.SUMMARY_MISMATCH,
                "the summary records no head hash"
                if summary.head_hash is None
                else "the summary's head hash does not match the chain's",
            )
        state: Incident | None = None
        for row in rows:
            try:
                state = apply(state, self._decode(row))
            except (IncidentKitError, ValueError) as err:
                return broken(row.version, ChainProblem.UNREADABLE, str(err))
        assert state is not None
        folded = self._summary(state, check.head_hash)
        for name in _RECORDED_FIELDS:
            stored, expected = getattr(summary, name), getattr(folded, name)
            if stored != expected:
                return broken(
                    check.version,
                    ChainProblem.SUMMARY_MISMATCH,
                    f"the summary's {name} is {stored!r}, the timeline says {expected!r}",
                )
        return check

    @staticmethod
    def _check_against(
        check: ChainCheck, rows: Sequence[StoredEvent], entry: CheckpointEntry
    ) -> ChainCheck:
        """Nothing the checkpoint saw may be gone, shorter or different now."""

        def broken(version: int, problem: ChainProblem, reason: str) -> ChainCheck:
            return attrs.evolve(
                check, ok=False, broken_version=version, problem=problem, reason=reason
            )

        if not rows:
            return broken(
                1,
                ChainProblem.MISSING_SINCE_CHECKPOINT,
                f"the checkpoint has it at version {entry.version}; it is gone",
            )
        if check.version < entry.version:
            return broken(
                check.version + 1,
                ChainProblem.ROLLED_BACK,
                f"the checkpoint has it at version {entry.version}; it is at {check.version} now",
            )
        now = rows[entry.version - 1].hash
        if now != entry.head_hash:
            return broken(
                entry.version,
                ChainProblem.REWRITTEN,
                f"the hash at version {entry.version} differs from the checkpoint's: "
                "rewritten since the checkpoint",
            )
        return check

    # --- the write path ------------------------------------------------------

    def _now(self) -> datetime:
        """The clock's instant in UTC; the hash chain and stores rely on it."""
        return ensure_aware(self.clock.now(), "clock.now()")

    def _authorize(self, by: str, action: str, state: Incident | None) -> None:
        if (
            state is not None
            and action in COMMANDER_ACTIONS
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

    def _commit(
        self,
        incident_id: str,
        before: _Cached | None,
        events: Sequence[Event],
        now: datetime,
    ) -> Incident:
        return self._commit_records(incident_id, before, events, now)[0]

    def _commit_records(
        self,
        incident_id: str,
        before: _Cached | None,
        events: Sequence[Event],
        now: datetime,
    ) -> tuple[Incident, list[RecordedEvent]]:
        """Append ``events``; return the new state and the records as stored."""
        version = before.state.version if before else 0
        previous = before.head_hash if before else GENESIS_HASH
        chained_with = hash_key_id(previous)
        if chained_with is not None and chained_with != self.chain_key_id:
            raise ChainKeyError(incident_id, chained_with, self.chain_key_id)
        state = before.state if before else None
        stored: list[StoredEvent] = []
        records: list[RecordedEvent] = []
        for offset, event in enumerate(events, start=1):
            payload = event_to_json(event)
            digest = chain_hash(
                previous, incident_id, version + offset, now, payload, self._chain_key
            )
            row = StoredEvent(incident_id, version + offset, event.tag, payload, now, digest)
            record = RecordedEvent(incident_id, row.version, now, event, digest)
            stored.append(row)
            records.append(record)
            state = apply(state, record)
            previous = digest
        assert state is not None
        outbox = [m for record in records for m in self._side_effects(state, record)]
        self.store.append(
            incident_id, stored, version, outbox=outbox, summary=self._summary(state, previous)
        )
        self._remember(incident_id, _Cached(state, previous))
        return state, records

    def _run(
        self,
        incident_id: str,
        action: str,
        by: object,
        decide: Callable[[Incident, datetime], Sequence[Event]],
        *,
        system: bool = False,
    ) -> Incident:
        return self._run_records(incident_id, action, by, decide, system=system)[0]

    def _system(
        self, incident_id: str, action: str, decide: Callable[[Incident, datetime], Sequence[Event]]
    ) -> tuple[Incident, list[RecordedEvent]]:
        """Record what the kit itself decided (timers, delivery outcomes): no authorization."""
        return self._run_records(incident_id, action, SYSTEM_ACTOR, decide, system=True)

    def _run_records(
        self,
        incident_id: str,
        action: str,
        by: object,
        decide: Callable[[Incident, datetime], Sequence[Event]],
        *,
        system: bool = False,
    ) -> tuple[Incident, list[RecordedEvent]]:
        """Load, authorize, decide and append (retrying lost races).

        Returns the state and the records this call appended (none when the
        decision, possibly after a reload, was to append nothing). ``system``
        skips authorization: only the kit's own timers and delivery use it.
        """
        who = actor(by)

        def authorize(state: Incident) -> None:
            if not system:
                self._authorize(who, action, state)

        for attempt in range(self._retries + 1):
            # Decide on the cached state when there is one: the append's version
            # check catches a stale cache. A refusal is only final on fresh state.
            cached = self._cached(incident_id)
            before = cached or self._load(incident_id)
            try:
                authorize(before.state)
                now = self._now()
                events = decide(before.state, now)
            except IncidentKitError:
                if cached is None:
                    raise
                before = self._load(incident_id)
                if before is cached:
                    raise
                authorize(before.state)
                now = self._now()
                events = decide(before.state, now)
            if not events:
                return before.state, []
            try:
                return self._commit_records(incident_id, before, events, now)
            except ConcurrencyConflict:
                with self._lock:
                    self._cache.pop(incident_id, None)
                if attempt == self._retries:
                    raise
                # Spread competing replicas out a little before deciding again.
                time.sleep(self._rng.uniform(0, 0.002 * (attempt + 1)))
        raise AssertionError("unreachable")

    # --- side effects ----------------------------------------------------------

    def _summary(self, state: Incident, head_hash: str | None = None) -> IncidentSummary:
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
            next_due_at=self._next_due(state),
            head_hash=head_hash,
        )

    def _next_due(self, state: Incident) -> datetime | None:
        """:func:`timers.next_due`, memoized on the fields it reads (notes change none)."""
        key = (
            state.status,
            state.severity,
            state.severity_since,
            state.declared_at,
            state.acknowledged_at,
            state.last_update_at,
            state.mitigated_at,
            state.resolved_at,
            state.fired,
            tuple(sorted(state.phase_entered.items())),
        )
        if key not in self._due_cache:
            if len(self._due_cache) >= 4096:
                self._due_cache.clear()
            self._due_cache[key] = next_due(state, self.policy)
        return self._due_cache[key]

    def _ref(self, state: Incident) -> IncidentRef:
        return IncidentRef(
            id=state.id,
            title=state.title,
            severity=state.severity,
            status=state.status,
            commander=state.commander,
            channel=state.channel or None,
            services=state.services,
        )

    def notifications_for(self, after: Incident, record: RecordedEvent) -> list[Notification]:
        """The notifications ``record`` implies, given the state ``after`` its append.

        Pure, and what the outbox is filled from: one row per notification and
        notifier that wants its kind.
        """
        event = record.event
        key = record.key
        ref = self._ref(after)

        def note(
            kind: NotificationKind, text: str, urgency: Urgency, targets: Sequence[str] = ()
        ) -> Notification:
            return Notification(
                key=f"{key}:{kind.value}",
                kind=kind,
                incident=ref,
                text=text,
                created_at=record.recorded_at,
                urgency=urgency,
                targets=tuple(targets),
            )

        title = f"[{after.severity}] {after.id}: {after.title}"
        match event:
            case EscalationFired():
                first = event.step == 0 and event.repeat == 0
                if event.action == "page":
                    kind, urgency = NotificationKind.PAGE, Urgency.HIGH
                elif event.action == "ticket":
                    kind, urgency = NotificationKind.TICKET, Urgency.LOW
                else:
                    kind = NotificationKind.NOTIFY if first else NotificationKind.ESCALATION
                    urgency = Urgency.LOW
                text = title if first else f"{title} — escalated: not acknowledged"
                return [note(kind, text, urgency, event.targets)]
            case SeverityChanged():
                urgency = Urgency.HIGH if event.new.rank <= 2 else Urgency.LOW
                return [note(NotificationKind.NOTIFY, f"{title} — {event.describe()}", urgency)]
            case UpdatePosted():
                return [
                    note(
                        NotificationKind.STATUS_UPDATE,
                        f"{event.status}: {event.message}",
                        Urgency.LOW,
                    )
                ]
            case ReminderFired():
                targets = [
                    p for p in (after.commander, after.holder(Role.COMMUNICATIONS_LEAD)) if p
                ]
                return [
                    note(
                        NotificationKind.REMINDER,
                        f"{title} — {event.describe()}",
                        Urgency.LOW,
                        targets,
                    )
                ]
            case TargetMissed():
                targets = [p for p in (after.commander,) if p]
                return [
                    note(
                        NotificationKind.REMINDER,
                        f"{title} — {event.describe()}",
                        Urgency.LOW,
                        targets,
                    )
                ]
            case Resolved():
                return [
                    note(NotificationKind.RESOLVED, f"{title} — resolved", Urgency.LOW, after.paged)
                ]
        return []

    def _side_effects(self, after: Incident, record: RecordedEvent) -> list[OutboxMessage]:
        messages: list[OutboxMessage] = []
        notifiers = self.plugins.notifiers()
        for notification in self.notifications_for(after, record):
            payload = dumps(converter().unstructure(notification))
            for name, spec in notifiers.items():
                if spec.wants(notification.kind):
                    messages.append(
                        OutboxMessage(
                            key=f"{notification.key}:{name}",
                            incident_id=after.id,
                            topic="notification",
                            target=name,
                            payload=payload,
                            available_at=record.recorded_at,
                        )
                    )
        if isinstance(record.event, Declared) and self.plugins.opens_channels():
            messages.append(
                OutboxMessage(
                    key=f"{record.key}:channel",
                    incident_id=after.id,
                    topic="channel",
                    target="incidentkit_open_channel",
                    payload="{}",
                    available_at=record.recorded_at,
                )
            )
        for plugin in self.plugins.observers():
            messages.append(
                OutboxMessage(
                    key=f"{record.key}:event:{plugin}",
                    incident_id=after.id,
                    topic="event",
                    target=plugin,
                    payload=dumps({"version": record.version}),
                    available_at=record.recorded_at,
                )
            )
        if isinstance(record.event, MitigationRequested) and not record.event.inline:
            event = record.event
            messages.append(
                OutboxMessage(
                    key=f"{record.key}:mitigation",
                    incident_id=after.id,
                    topic="mitigation",
                    target=event.action,
                    payload=dumps(
                        {
                            "request_id": event.request_id,
                            "params": dict(event.params),
                            "dry_run": event.dry_run,
                            "by": event.by,
                        }
                    ),
                    available_at=record.recorded_at,
                )
            )
        return messages

    # --- commands ------------------------------------------------------------

    def declare(
        self,
        title: str,
        *,
        severity: Severity | str | None = None,
        by: str,
        source: Source = Source.MANUAL,
        started_at: datetime | None = None,
        detected_at: datetime | None = None,
        services: Sequence[str] = (),
        description: str = "",
        signals: Signals | None = None,
        incident_id: str | None = None,
    ) -> Incident:
        """Declare an incident; returns its state.

        Give ``severity``, or ``signals`` to classify (the reasons are recorded).
        ``incident_id`` makes declaration idempotent across replicas: a second
        declare with the same id raises :class:`ConcurrencyConflict`.
        """
        who = actor(by)
        self._authorize(who, "declare", None)
        now = self._now()
        reasons: tuple[str, ...] = ()
        if severity is None:
            if signals is None:
                raise ValidationError("severity", "give a severity or signals to classify")
            result = self.policy.severity.classify(signals)
            chosen, reasons = result.severity, result.reasons
        else:
            chosen = Severity.parse(severity)
        new_id = incident_id if incident_id is not None else self._id_factory(now)
        if not isinstance(new_id, str) or not new_id.strip() or len(new_id) > 64:
            raise ValidationError("incident_id", "must be 1 to 64 characters of text")
        events = decide_declare(
            self.policy,
            now,
            title=title,
            severity=chosen,
            by=who,
            source=source,
            started_at=started_at,
            detected_at=detected_at,
            services=services,
            description=description,
            reasons=reasons,
        )
        declared = apply(None, RecordedEvent(new_id, 1, now, events[0]))
        events.extend(escalation_events(declared, self.policy, now))
        return self._commit(new_id, None, events, now)

    def acknowledge(self, incident_id: str, *, by: str) -> Incident:
        """Acknowledge the incident (stops escalation)."""
        return self._run(
            incident_id, "acknowledge", by, lambda s, _: decide_acknowledge(s, by=actor(by))
        )

    def set_severity(
        self, incident_id: str, severity: Severity | str, *, by: str, reason: str
    ) -> Incident:
        """Raise or lower severity, with a reason.

        Escalation restarts under the new severity's policy: its immediate
        steps (a SEV1 page) fire in the same append.
        """

        def decide(state: Incident, now: datetime) -> list[Event]:
            events = decide_set_severity(
                state, severity=Severity.parse(severity), reason=reason, by=actor(by)
            )
            changed = apply(state, RecordedEvent(state.id, state.version + 1, now, events[0]))
            return [*events, *escalation_events(changed, self.policy, now)]

        return self._run(incident_id, "set_severity", by, decide)

    def assign_role(self, incident_id: str, role: Role | str, person: str, *, by: str) -> Incident:
        """Assign a role, or hand it over when someone else holds it."""
        return self._run(
            incident_id,
            "assign_role",
            by,
            lambda s, _: decide_assign_role(s, self.policy, role=role, person=person, by=actor(by)),
        )

    def release_role(self, incident_id: str, role: Role | str, *, by: str) -> Incident:
        """Leave a role vacant."""
        return self._run(
            incident_id,
            "release_role",
            by,
            lambda s, _: decide_release_role(s, self.policy, role=role, by=actor(by)),
        )

    def enter_phase(self, incident_id: str, phase: Phase | str, *, by: str) -> Incident:
        """Move the response into a phase."""
        return self._run(
            incident_id,
            "enter_phase",
            by,
            lambda s, _: decide_enter_phase(s, phase=phase, by=actor(by)),
        )

    def set_status(
        self, incident_id: str, status: Status | str, *, by: str, reason: str = ""
    ) -> Incident:
        """Move between open statuses (see :data:`incidentkit.lifecycle.TRANSITIONS`)."""
        return self._run(
            incident_id,
            "set_status",
            by,
            lambda s, _: decide_set_status(s, status=status, by=actor(by), reason=reason),
        )

    def add_note(self, incident_id: str, text: str, *, by: str) -> Incident:
        """Add a note to the timeline."""
        return self._run(
            incident_id, "add_note", by, lambda s, _: decide_note(s, text=text, by=actor(by))
        )

    def record_hypothesis(
        self,
        incident_id: str,
        hypothesis: str,
        *,
        by: str,
        test: str = "",
        result: str = "",
        conclusion: Conclusion | str = Conclusion.INCONCLUSIVE,
    ) -> Incident:
        """Record a hypothesis, how it was tested, the result and the conclusion."""
        return self._run(
            incident_id,
            "record_hypothesis",
            by,
            lambda s, _: decide_hypothesis(
                s,
                hypothesis=hypothesis,
                test=test,
                result=result,
                conclusion=conclusion,
                by=actor(by),
            ),
        )

    def post_update(
        self,
        incident_id: str,
        status: PublicStatus | str,
        message: str,
        *,
        by: str,
        audience: str = "public",
    ) -> Incident:
        """Post a stakeholder update (investigating, identified, monitoring, resolved)."""
        return self._run(
            incident_id,
            "post_update",
            by,
            lambda s, _: decide_post_update(
                s, status=status, message=message, by=actor(by), audience=audience
            ),
        )

    def _close_item(
        self,
        incident_id: str,
        command: str,
        checklist: str,
        item: str,
        new_state: ItemState,
        by: str,
        reason: str = "",
    ) -> Incident:
        return self._run(
            incident_id,
            command,
            by,
            lambda s, _: decide_checklist(
                s, checklist=checklist, item=item, new_state=new_state, by=actor(by), reason=reason
            ),
        )

    def check(self, incident_id: str, checklist: str, item: str, *, by: str) -> Incident:
        """Mark a checklist item done."""
        return self._close_item(incident_id, "check", checklist, item, ItemState.DONE, by)

    def skip(
        self, incident_id: str, checklist: str, item: str, *, by: str, reason: str
    ) -> Incident:
        """Skip a checklist item; a reason is required."""
        return self._close_item(incident_id, "skip", checklist, item, ItemState.SKIPPED, by, reason)

    def not_applicable(
        self, incident_id: str, checklist: str, item: str, *, by: str, reason: str = ""
    ) -> Incident:
        """Mark a checklist item not applicable."""
        return self._close_item(
            incident_id, "not_applicable", checklist, item, ItemState.NOT_APPLICABLE, by, reason
        )

    def resolve(
        self,
        incident_id: str,
        *,
        by: str,
        summary: str = "",
        force: bool = False,
        reason: str = "",
    ) -> Incident:
        """Resolve; refused with :class:`GuardFailed` while required criteria are open.

        ``force=True`` with a ``reason`` overrides the open criteria; both are
        recorded on the timeline.
        """
        return self._run(
            incident_id,
            "resolve",
            by,
            lambda s, _: decide_resolve(
                s, self.policy, by=actor(by), summary=summary, force=force, reason=reason
            ),
        )

    def reopen(self, incident_id: str, *, by: str, reason: str) -> Incident:
        """Reopen a resolved incident."""
        return self._run(
            incident_id, "reopen", by, lambda s, _: decide_reopen(s, by=actor(by), reason=reason)
        )

    def close(self, incident_id: str, *, by: str, reason: str = "") -> Incident:
        """Close a resolved incident."""
        return self._run(
            incident_id, "close", by, lambda s, _: decide_close(s, by=actor(by), reason=reason)
        )

    def mark_mitigated(
        self, incident_id: str, *, by: str, detail: str, action: str = "manual"
    ) -> Incident:
        """Record a mitigation done outside the kit (a hand-run deploy, a config change).

        The first applied mitigation sets ``mitigated_at`` (the MTTM milestone).
        """

        return self._run(
            incident_id,
            "mitigate",
            by,
            lambda s, _: decide_mark_mitigated(s, by=actor(by), detail=detail, action=action),
        )

    # --- side effects after commit -----------------------------------------------

    def deliver(
        self,
        *,
        limit: int = 100,
        lease: timedelta = timedelta(minutes=5),
        worker: str | None = None,
    ) -> DeliveryReport:
        """Hand due outbox rows to their plugins: notifiers, observers, channels, mitigations.

        Safe to call from several processes at once: the store leases each row
        to one caller. Failures are retried with backoff and the same
        idempotency key; see :mod:`incidentkit._delivery`.
        """
        return _deliver(
            self,
            now=self._now(),
            limit=limit,
            lease=lease,
            worker=worker or self._worker,
            rng=self._rng,
        )

    def mitigate(
        self,
        incident_id: str,
        action: str,
        *,
        by: str,
        params: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        inline: bool = False,
    ) -> Incident:
        """Request a mitigation action (rollback, feature flag, scale, circuit breaker …).

        The request is recorded first; the action runs through the outbox on
        the next :meth:`deliver` (or at once, in this call, with ``inline=True``;
        a crash between the two leaves the request visibly pending) and its
        outcome (applied, failed or dry run, with detail) is recorded after.
        Bad ``params`` are refused, naming the field, before anything is recorded.
        """
        actions = self.plugins.mitigation_actions()
        spec = actions.get(action)
        if spec is None:
            raise NotFound("mitigation action", action, sorted(actions))
        typed = structure_params(spec, ensure_params(params), converter())
        plain: dict[str, Any] = converter().unstructure(typed)
        who = actor(by)
        state, records = self._run_records(
            incident_id,
            "mitigate",
            who,
            lambda s, _: decide_request_mitigation(
                s, by=who, action=action, params=plain, dry_run=dry_run, inline=inline
            ),
        )
        if inline:
            request = records[0].event
            assert isinstance(request, MitigationRequested)
            return run_mitigation(
                self, incident_id, request.request_id, action, plain, who, dry_run
            )
        return state

    # --- timers ------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Fire every due timer once: escalation steps, update reminders, missed targets.

        Only incidents whose summary says something is due are loaded. What
        fires is appended as events with its notifications in the same
        transaction; a replica that loses the version race reloads, sees the
        keys already fired and records nothing. Call it from the scheduler you
        have (cron, Celery beat, APScheduler) or use :meth:`run_forever`.
        """
        at = ensure_aware(now, "now") if now is not None else self._now()
        due = self.store.summaries(
            SummaryQuery(statuses={s for s in Status if s.is_open}, due_before=at)
        )
        fired: list[RecordedEvent] = []
        failures: dict[str, str] = {}
        for summary in due:
            incident_id = summary.incident_id
            try:
                _, recorded = self._system(
                    incident_id, "tick", lambda s, _: due_events(s, self.policy, at)
                )
            except IncidentKitError as err:
                log.warning("tick: incident %s: %s", incident_id, err)
                failures[incident_id] = str(err)
                continue
            fired.extend(recorded)
        return TickReport(at, len(due), tuple(fired), failures)

    def run_forever(
        self,
        interval: timedelta = timedelta(seconds=30),
        *,
        stop: threading.Event | None = None,
        deliver: bool = True,
    ) -> None:
        """Call :meth:`tick` (and :meth:`deliver`) every ``interval`` until stopped.

        Stops when ``stop`` is set, or on SIGTERM/SIGINT when called from the
        main thread (the current pass finishes first). A convenience loop: the
        design works just as well with ``tick()`` called from your scheduler.
        """
        import signal

        done = stop or threading.Event()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: done.set())
        try:
            while not done.is_set():
                try:
                    self.tick()
                    if deliver:
                        self.deliver()
                except IncidentKitError as err:
                    log.error("run_forever: %s", err)
                done.wait(interval.total_seconds())
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def record(self, incident_id: str, events: Sequence[Event], *, by: str) -> Incident:
        """Append already-built events (for importers and extensions). Use with care."""
        batch = list(events)
        for index, event in enumerate(batch):
            if not isinstance(event, Event) or EVENT_TYPES.get(event.tag) is not type(event):
                raise ValidationError(f"events[{index}]", f"not a timeline event: {event!r}")
            if isinstance(event, Declared):
                raise ValidationError(
                    f"events[{index}]", "'declared' may only be the first event; use declare()"
                )
        return self._run(incident_id, "record", by, lambda s, _: batch)

    def summary(self, incident_id: str) -> IncidentSummary:
        """The stored summary of one incident."""
        found = self.store.summary(incident_id)
        if found is None:
            raise NotFound("incident", incident_id)
        return found
