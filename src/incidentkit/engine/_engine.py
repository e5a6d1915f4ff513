"""The command engine: load → authorize → decide → commit → retry on conflict."""

from __future__ import annotations

import hmac
import logging
import operator
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import datetime
from functools import partial

import attrs

from incidentkit import _validate as check
from incidentkit._time import ensure_aware
from incidentkit.engine._cache import Loaded, StateCache
from incidentkit.engine.capability import (
    Capability,
    Deliverer,
    EventHooks,
    FollowUp,
    KeyPlanner,
    Periodic,
    Planner,
    RecordRule,
    Route,
    TimerSource,
    reacting_to,
)
from incidentkit.engine.routing import collapse, core_notifications, plan_rows
from incidentkit.errors import (
    ChainKeyError,
    ConcurrencyConflict,
    DuplicateCommand,
    IncidentKitError,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    ReservedEvent,
    StoreError,
    ValidationError,
)
from incidentkit.events import Declared, Event, RecordedEvent, event_types, register_event
from incidentkit.ids import check_incident_id
from incidentkit.incident import (
    KIT_ONLY_EVENTS,
    Incident,
    actor,
    apply,
    apply_with_changes,
    command_of,
    decide_from_event,
    register_fold,
)
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
from incidentkit.timeline import GENESIS_HASH, ChainKey, hash_key_id, row_hash
from incidentkit.timers import SYSTEM_ACTOR

__all__ = [
    "COMMANDER_ACTIONS",
    "OUTBOX_ANCHOR",
    "CommandResult",
    "Decide",
    "Engine",
    "Handler",
    "TickReport",
]

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
_FOLLOW_UP_DEPTH = 3
"""How many follow-ups of follow-ups an event may have before the append is refused."""

ID_DRAWS = 8
"""How many generated incident ids :meth:`Engine.create_new` tries before it gives up."""

OUTBOX_ANCHOR = "incidentkit-outbox"
"""The stream :meth:`Engine.enqueue` appends outbox rows to (never any event)."""

Decide = Callable[[Incident, datetime], Sequence[Event]]
"""A pure handler bound to its arguments: ``(state, now) -> events`` (or raise)."""

Handler = Callable[[Incident, datetime, str], Sequence[Event]]
"""A pure handler bound to its arguments but the actor: ``(state, now, by) -> events``."""


class _CommandIds:
    """Random command ids without a system call each: ``os.urandom`` drawn 256 ids at a time.

    Each id is ``cmd-`` and 32 hex digits of fresh randomness, as
    ``secrets.token_hex(16)`` gives, so an id is as unguessable as before
    (a caller cannot pick a future id as its idempotency key). A forked child
    draws its own pool, so parent and child never hand out the same id.
    """

    _BATCH = 256

    def __init__(self) -> None:
        self._draw()
        os.register_at_fork(after_in_child=self._draw)

    def _draw(self) -> None:
        self._lock = threading.Lock()
        self._pool = os.urandom(16 * self._BATCH).hex()
        self._next = 0

    def __call__(self) -> str:
        with self._lock:
            n = self._next
            if n >= self._BATCH:
                self._pool = os.urandom(16 * self._BATCH).hex()
                n = 0
            self._next = n + 1
            pool = self._pool
        return f"cmd-{pool[32 * n : 32 * n + 32]}"


_new_command_id = _CommandIds()


def _decide_core(engine: Engine, state: Incident, event: Event, now: datetime) -> list[Event]:
    """A core event's :class:`RecordRule` handler: its command, decided from the event."""
    return decide_from_event(state, engine.policy, now, event)


@attrs.frozen
class TickReport:
    """What one :meth:`IncidentKit.tick <incidentkit.kit.IncidentKit.tick>` did.

    ``checked`` counts incidents whose summary said something was due;
    ``fired`` lists the timer events this call recorded; ``failures`` maps an
    incident id (or ``periodic:<capability>``) to the error that stopped its
    evaluation; ``enqueued`` lists the keys of the outbox rows the
    capabilities' periodic hooks added (a replica ticking at the same moment
    may list the same key; the store holds the row once).
    """

    at: datetime
    checked: int
    fired: tuple[RecordedEvent, ...]
    failures: Mapping[str, str] = attrs.field(factory=dict)
    enqueued: tuple[str, ...] = ()


@attrs.frozen
class CommandResult:
    """The state after a command and the records it appended (none: nothing to do)."""

    state: Incident
    records: tuple[RecordedEvent, ...] = ()


def _earliest(dues: Sequence[datetime | None]) -> datetime | None:
    """The earliest of the timer sources' answers (``None``: no source has one)."""
    found = [at for at in dues if at is not None]
    return min(found) if found else None


def _getter(names: tuple[str, ...]) -> Callable[[Incident], tuple[object, ...]]:
    """``operator.attrgetter(*names)`` that always returns a tuple."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        single = operator.attrgetter(names[0])
        return lambda state: (single(state),)
    return lambda state: ()


class _Memo:
    """A bounded memo of one timer source's ``next_due`` on the fields it reads."""

    def __init__(self, source: TimerSource) -> None:
        self.source = source
        self._values: dict[Hashable, datetime | None] = {}
        self.reads = frozenset(source.reads)

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
    capability's section write through :meth:`run` (a command of a person),
    :meth:`record` (built events, each under its command's rules) or
    :meth:`system` (what the kit decides itself); nothing else appends.
    ``chain_key`` (from ``policy.integrity.chain_key`` or
    ``$INCIDENTKIT_CHAIN_KEY``) keys the hash chain of every row it appends.
    """

    def __init__(
        self,
        store: Store,
        policy: Policy,
        clock: Callable[[], datetime],
        plugins: PluginManager,
        *,
        capabilities: Sequence[Capability] = (),
        retries: int = 100,
        cache_size: int = 1024,
    ) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValidationError("cache_size", f"must be a whole number >= 1, got {cache_size!r}")
        self.store = store
        self.policy = policy
        self.plugins = plugins
        self.chain_key = ChainKey.configured(policy.integrity.chain_key)
        self._clock = clock
        self._retries = retries
        self.cache = StateCache(cache_size)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.rng = random.Random()
        self.capabilities: dict[str, Capability] = {}
        self._routes: list[Route] = [core_notifications]
        self._planners: list[Planner] = []
        self._follow_ups: list[FollowUp] = []
        self._key_planners: list[KeyPlanner] = []
        # The routes, planners and key planners to call for each event class
        # (those whose reacts_to() admits it, and those without one), made on first use.
        self._hooks: dict[type[Event], EventHooks] = {}
        self.deliverers: dict[str, Deliverer] = {}
        self._timers: list[_Memo] = []
        self._watched: tuple[str, ...] = ()
        self._watch = _getter(())
        self._all_read = True
        self._periodic: list[tuple[str, Periodic]] = []
        self._enqueued: set[str] = set()
        self.sections: dict[str, object] = {}
        """The capabilities' facade sections by name (the kit fills it as it builds them)."""
        self._commander_actions = set(COMMANDER_ACTIONS)
        self._owners: dict[type[Event], str] = {}
        self._recordable: dict[type[Event], RecordRule] = {}
        self._contended: dict[str, float] = {}
        for capability in capabilities:
            self.register(capability)

    def register(self, capability: Capability) -> None:
        """Wire a capability's events, fold rules, timers, routes and planners in."""
        if not isinstance(capability, Capability):
            raise ValidationError(
                "capability",
                f"expected an incidentkit.engine.Capability, got {type(capability).__name__}",
            )
        if capability.name in self.capabilities:
            raise ValidationError(
                "capability", f"a capability named {capability.name!r} is already registered"
            )
        for topic in capability.delivery:
            if topic in self.deliverers:
                raise ValidationError("delivery", f"outbox topic {topic!r} has a handler already")
        for event_type in capability.recordable:
            if event_type not in capability.events:
                raise ValidationError(
                    "recordable",
                    f"{event_type.__name__} is not an event of the {capability.name} capability",
                )
            if event_type in self._recordable:
                raise ValidationError(
                    "recordable",
                    f"{event_type.__name__} already has a record rule "
                    f"(from the {self._owners[event_type]} capability)",
                )
        for event_type in capability.events:
            register_event(event_type)
            self._owners.setdefault(event_type, capability.name)
        self._recordable.update(capability.recordable)
        for event_type, rule in capability.folds.items():
            register_fold(event_type, rule)
        self.capabilities[capability.name] = capability
        self._hooks.clear()
        self._routes.extend(capability.routes)
        self._planners.extend(capability.outbox)
        self._key_planners.extend(capability.keys)
        self._follow_ups.extend(capability.follow_ups)
        self.deliverers.update(capability.delivery)
        self._timers.extend(_Memo(source) for source in capability.timers)
        self._watched = tuple(sorted({name for memo in self._timers for name in memo.reads}))
        self._watch = _getter(self._watched)
        self._all_read = all(memo.reads for memo in self._timers)
        self._periodic.extend((capability.name, hook) for hook in capability.periodic)
        self._commander_actions |= capability.commander_actions

    def delivery_targets(self) -> dict[str, set[str]]:
        """The capabilities' outbox topics and the targets this engine can deliver now."""
        targets: dict[str, set[str]] = {}
        for capability in self.capabilities.values():
            if not capability.delivery:
                continue
            if capability.claims is None:
                claimed: Mapping[str, Collection[str]] = {t: {t} for t in capability.delivery}
            else:
                claimed = capability.claims(self)
            for topic, names in claimed.items():
                if topic in capability.delivery:
                    targets.setdefault(topic, set()).update(names)
        return targets

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
        """The incident's newest state: the cached fold topped up with newer rows.

        :raises ValidationError: (``incident_id``) not a non-empty, bounded,
            encodable one-line name of at most 128 characters.
        """
        incident_id = check_incident_id(check.incident_ref(incident_id))
        cached = self.cache.get(incident_id)
        after = cached.state.version if cached else 0
        rows = self.store.load(incident_id, after_version=after)
        if cached is not None and rows and not self._continues(cached, rows[0]):
            # The store's timeline is no longer the one this state was folded
            # from (restored from a backup, rewritten): fold it from the start.
            log.warning(
                "%s: the stored timeline does not continue the cached state at version %d; "
                "reading it again from the start",
                incident_id,
                after,
            )
            self.cache.forget(incident_id)
            cached = None
            rows = self.store.load(incident_id)
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

    def _continues(self, cached: Loaded, row: StoredEvent) -> bool:
        """Whether ``row`` is the next row after ``cached``: its version, and its
        hash made over the cached head hash (when this engine holds the row's key)."""
        if row.version != cached.state.version + 1:
            return False
        row_key = hash_key_id(row.hash)
        if row_key is not None and (self.chain_key is None or row_key != self.chain_key.key_id):
            return True  # not ours to check: verify() reports it, commit() refuses it
        try:
            at = ensure_aware(row.recorded_at, "recorded_at").isoformat()
        except ValidationError:
            return False
        key = self.chain_key if row_key is not None else None
        expected = row_hash(cached.head_hash, row.incident_id, row.version, at, row.payload, key)
        return hmac.compare_digest(expected, row.hash)

    def timeline(self, incident_id: str) -> list[RecordedEvent]:
        """Every recorded event of the incident, in version order."""
        rows = self.store.load(check_incident_id(incident_id))
        if not rows:
            raise NotFound("incident", incident_id)
        return [self.decode(row) for row in rows]

    @property
    def chain_key_id(self) -> str | None:
        """The id of :attr:`chain_key` (``None``: rows are hashed with plain SHA-256)."""
        return None if self.chain_key is None else self.chain_key.key_id

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
        incident_id = check.incident_ref(incident_id)
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

    def create_new(
        self,
        make_id: Callable[[], str],
        by: object,
        decide: Callable[[str, datetime], Sequence[Event]],
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """:meth:`create` under a generated id, drawing another while the drawn one is taken.

        Generated ids are random (``INC-YYYYMMDD-XXXXXX`` has 16.7 million a
        day), so among thousands of declarations in a day two may draw the same
        one; that is no conflict of the caller's, so the declaration is decided
        again under a fresh id (``decide(incident_id, now)``), up to
        :data:`ID_DRAWS` times.
        """
        for _ in range(ID_DRAWS):
            incident_id = make_id()
            try:
                return self.create(
                    incident_id, by, partial(decide, incident_id), idempotency_key=idempotency_key
                )
            except ConcurrencyConflict as err:
                if err.incident_id != incident_id or err.expected != 0:
                    raise
                log.info("declare: generated id %s is taken; drawing another", incident_id)
        raise StoreError(f"{ID_DRAWS} generated incident ids in a row were taken")

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
        use it (see :meth:`system`), and :meth:`record`, whose ``decide``
        authorizes each event under its own command's name. A refusal is final only on fresh state.
        ``command`` names the command as stored with its id (default
        ``action``); a stored ``idempotency_key`` returns that command's result
        without deciding again. Lost races are retried with jittered
        exponential backoff; an unknown outcome is resolved by the command id.
        """
        incident_id = check_incident_id(check.incident_ref(incident_id))
        return self._execute(
            incident_id, action, actor(by), decide, False, system, idempotency_key, command
        )

    def command(
        self,
        incident_id: str,
        action: str,
        by: object,
        handler: Handler,
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """:meth:`run` a person's command whose handler takes ``(state, now, by)``.

        ``by`` is validated once (as in :meth:`run`) and handed to the handler
        as it will be recorded, so the handler need not check it again.
        """
        incident_id = check_incident_id(check.incident_ref(incident_id))
        return self._execute(
            incident_id, action, actor(by), handler, True, False, idempotency_key, None
        )

    def _execute(
        self,
        incident_id: str,
        action: str,
        who: str,
        decide: Decide | Handler,
        takes_who: bool,
        system: bool,
        idempotency_key: str | None,
        command: str | None,
    ) -> CommandResult:
        """``takes_who``: ``decide`` is a :data:`Handler`, called with ``who`` too."""
        name = command or action
        command_id = self.command_id(idempotency_key)
        if idempotency_key is not None:
            replayed = self._replayed(command_id, name, incident_id)
            if replayed is not None:
                return replayed
        run = (incident_id, None if system else action, who, decide, takes_who, command_id, name)
        exclusive = getattr(self.store, "exclusive", None)
        if exclusive is None:
            return self._attempts(*run, self._retries, True)
        if not self._is_contended(incident_id):
            try:
                return self._attempts(*run, 0, True)  # optimistic: no lock while nobody competes
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
            # Top the cached fold up with what the winners appended (rows never
            # change once written, so a cached prefix stays true): a contended
            # command then reads a few new rows, not the incident's whole history.
            self.load(incident_id)
            result = self._attempts(*run, retries, False)
        self._mark_contended(incident_id)  # a busy incident stays serialized while busy
        return result

    def _attempts(
        self,
        incident_id: str,
        action: str | None,
        who: str,
        decide: Decide | Handler,
        takes_who: bool,
        command_id: str,
        name: str,
        conflicts_allowed: int,
        backoff: bool,
    ) -> CommandResult:
        """Decide and append until it sticks: at most ``conflicts_allowed`` lost races.

        ``action`` is what ``who`` is authorized for (``None``: a system command).
        """
        attempt = unknown = 0
        while True:
            # Decide on the cached state when there is one: the append's version
            # check catches a stale cache.
            cached = self.cache.get(incident_id)
            before = cached or self.load(incident_id)
            try:
                now, events = self._decide(before.state, action, who, decide, takes_who)
            except IncidentKitError:
                if cached is None:
                    raise
                before = self.load(incident_id)
                if before is cached:
                    raise
                now, events = self._decide(before.state, action, who, decide, takes_who)
            if not events:
                return CommandResult(before.state)
            try:
                result = self._commit_command(incident_id, before, events, now, command_id, name)
            except ConcurrencyConflict as err:
                if err.actual < err.expected:  # the store went back (a restore): the cache is ahead
                    self.cache.forget(incident_id)
                if attempt >= conflicts_allowed:
                    raise  # the cache is behind: the next load or append tops it up
                if backoff:
                    self._backoff(attempt)
                attempt += 1
                self.load(incident_id)  # top the cache up with the rows that won the race
                continue
            if result is not None:
                return result
            unknown += 1
            if unknown > self._retries:
                raise OutcomeUnknown(
                    incident_id, f"{unknown} appends of the command ended unknown", command_id
                )

    def _decide(
        self,
        state: Incident,
        action: str | None,
        who: str,
        decide: Decide | Handler,
        takes_who: bool,
    ) -> tuple[datetime, Sequence[Event]]:
        """Authorize (unless ``action`` is None), take the time, decide."""
        if action is not None:
            self.authorize(who, action, state)
        now = self.now()
        if takes_who:
            handler: Handler = decide  # type: ignore[assignment]  # takes_who says so
            return now, handler(state, now, who)
        plain: Decide = decide  # type: ignore[assignment]
        return now, plain(state, now)

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
            return _new_command_id()
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

    def record(
        self,
        incident_id: str,
        events: Sequence[Event],
        by: object,
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Append built events, each under the rules of the command that normally writes it.

        In order, on the state the events before it leave: authorization under
        that command's name, then that command's handler, whose event of the
        same kind must equal the one given (what it records with it, a
        raise's escalation steps or the targets missed before a resolution,
        is appended with it). The core events are decided
        by :func:`~incidentkit.incident.decide_from_event`, a capability's by
        its :class:`~incidentkit.engine.capability.RecordRule`. Refused: an
        event in another's name, the declaration, and events no command
        writes (timer firings, delivery outcomes, capability events without a
        rule) with :class:`~incidentkit.errors.ReservedEvent`. A refusal
        appends nothing of the batch. Stored as the command ``record``.
        """
        who = actor(by)
        batch = list(events)
        rules = [self._record_rule(f"events[{i}]", event, who) for i, event in enumerate(batch)]

        def decide(state: Incident, now: datetime) -> list[Event]:
            written: list[Event] = []
            current = state
            for index, (event, rule) in enumerate(zip(batch, rules, strict=True)):
                self.authorize(who, rule.action, current)
                decided = list(rule.decide(self, current, event, now))
                # The command's own event of this kind; the rest is what the kit
                # records with it (missed targets before a resolution, a raise's
                # escalation steps after it).
                own = [item for item in decided if type(item) is type(event)]
                if not own or own[0] != event:
                    would = repr(own[0]) if own else "nothing"
                    raise ValidationError(
                        f"events[{index}]", f"is not what {rule.action} would record here: {would}"
                    )
                for item in decided:
                    current = apply(
                        current, RecordedEvent(current.id, current.version + 1, now, item)
                    )
                    written.append(item)
            return written

        # ``system``: no authorization of "record" itself; ``decide`` authorizes
        # every event under its own command's name, on the state it applies to.
        return self.run(
            incident_id, "record", who, decide, system=True, idempotency_key=idempotency_key
        )

    def _record_rule(self, field: str, event: object, by: str) -> RecordRule:
        """The rule that checks ``event`` in :meth:`record`, or the refusal naming ``field``."""
        if not isinstance(event, Event) or event_types().get(event.tag) is not type(event):
            raise ValidationError(field, f"not a timeline event: {event!r}")
        if isinstance(event, Declared):
            raise ValidationError(field, "'declared' may only be the first event; use declare()")
        rule = self._recordable.get(type(event))
        if rule is None:
            action = None if type(event) in self._owners else command_of(event)
            if action is None:
                raise ReservedEvent(field, event.tag, self._reserved_because(event))
            rule = RecordRule(action, _decide_core)
        if event.by != by:
            raise ValidationError(
                f"{field}.by",
                f"{event.by!r} is not the caller {by!r}: record() writes each event "
                "in the name of the caller, who is authorized for it",
            )
        return rule

    def _reserved_because(self, event: Event) -> str:
        """Who writes ``event`` instead of ``record()``."""
        if event.tag in KIT_ONLY_EVENTS:
            return KIT_ONLY_EVENTS[event.tag]
        owner = self._owners.get(type(event))
        if owner is not None:
            return f"the {owner} capability gives no command that records it"
        return "no command records it"

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

        :raises ChainKeyError: the incident is chained with a key other than
            :attr:`chain_key` (or this engine has none); nothing is appended.
        """
        version = before.state.version if before else 0
        previous = before.head_hash if before else GENESIS_HASH
        chained_with = hash_key_id(previous)
        if chained_with is not None and chained_with != self.chain_key_id:
            raise ChainKeyError(incident_id, chained_with, self.chain_key_id)
        state = before.state if before else None
        stored: list[StoredEvent] = []
        records: list[RecordedEvent] = []
        hooks: list[EventHooks] = []
        at = ensure_aware(now, "now").isoformat()  # one instant, formatted once for every row
        key = self.chain_key
        follow_ups = self._follow_ups
        # Each event, then the capabilities' follow-ups of the state it leaves
        # (and theirs), so a batch and its events one command at a time agree.
        pending: list[tuple[Event, int]] = [(event, 0) for event in reversed(events)]
        # The state fields the fold changed (None: not known), for the timer answers.
        changed: set[str] | None = set()
        while pending:
            event, depth = pending.pop()
            number = version + len(stored) + 1
            payload = event_to_json(event)
            digest = row_hash(previous, incident_id, number, at, payload, key)
            stored.append(StoredEvent(incident_id, number, event.tag, payload, now, digest))
            record = RecordedEvent(incident_id, number, now, event, digest)
            records.append(record)
            hooks.append(self.hooks_for(event))
            state, names = apply_with_changes(state, record)
            if names is None:
                changed = None
            elif changed is not None:
                changed.update(names)
            previous = digest
            if follow_ups:
                follow = [e for rule in follow_ups for e in rule(self.policy, state)]
                if follow:
                    if depth >= _FOLLOW_UP_DEPTH:
                        raise StoreError(
                            f"{incident_id}: a capability's follow-up events never settle"
                        )
                    pending.extend((e, depth + 1) for e in reversed(follow))
        assert state is not None
        dues = self.dues(state, before, changed)
        planned: Sequence[tuple[RecordedEvent, Sequence[Notification]]] = [
            (record, self._notifications(found.routes, state, record) if found.routes else ())
            for record, found in zip(records, hooks, strict=True)
        ]
        if len(records) > 1:  # several timers due at once: one message per kind
            planned = collapse(planned)
        outbox = [
            m
            for (record, notes), found in zip(planned, hooks, strict=True)
            for m in self._outbox(state, record, notes, found.outbox)
        ]
        stored_command = (
            None
            if command is None
            else StoredCommand(command[0], incident_id, command[1], state.version, len(stored))
        )
        keys = [
            claim
            for record, found in zip(records, hooks, strict=True)
            for planner in found.keys
            for claim in planner(state, record)
        ]
        if keys:  # only a KeyStore takes them; other stores keep their signature
            self.store.append(
                incident_id,
                stored,
                version,
                outbox=outbox,
                summary=self.summary(state, previous, dues),
                command=stored_command,
                keys=keys,  # type: ignore[call-arg]
            )
        else:
            self.store.append(
                incident_id,
                stored,
                version,
                outbox=outbox,
                summary=self.summary(state, previous, dues),
                command=stored_command,
            )
        self.cache.put(incident_id, Loaded(state, previous, dues))
        return CommandResult(state, tuple(records))

    # --- projections -------------------------------------------------------------

    def summary(
        self,
        state: Incident,
        head_hash: str | None = None,
        dues: Sequence[datetime | None] | None = None,
    ) -> IncidentSummary:
        """The read model stored beside the events (listing, metrics and ``tick`` read it).

        ``head_hash`` is the hash of the row at ``state.version`` (the chain's
        head), which verification compares with the chain. ``dues``: each
        timer source's answer for ``state`` (:meth:`dues`), when known.
        """
        next_due_at = _earliest(self.dues(state) if dues is None else dues)
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
            next_due_at=next_due_at,
            head_hash=head_hash,
        )

    def dues(
        self,
        state: Incident,
        before: Loaded | None = None,
        changed: Collection[str] | None = None,
    ) -> tuple[datetime | None, ...]:
        """Each timer source's ``next_due`` for ``state``, in registration order.

        A source whose :attr:`~incidentkit.engine.capability.TimerSource.reads`
        fields are all the same objects in ``before.state`` keeps the answer
        ``before`` holds; the rest are computed (through their ``memo_key``).
        ``changed``, when given, names every field in which ``state`` differs
        from ``before.state`` (besides ``version`` and ``updated_at``), as
        :func:`~incidentkit.incident.apply_with_changes` reports them, so the
        fields need not be compared.
        """
        old = before.dues if before is not None else None
        if old is None or len(old) != len(self._timers):
            return tuple(memo.next_due(state, self.policy) for memo in self._timers)
        assert before is not None
        if changed is None:
            # The fields any source reads: which are new objects (usually none, as for a note).
            fresh, stale = self._watch(state), self._watch(before.state)
            changed = {
                name
                for name, now, then in zip(self._watched, fresh, stale, strict=True)
                if now is not then
            }
        if not changed and self._all_read:
            return old
        return tuple(
            old[index]
            if memo.reads and memo.reads.isdisjoint(changed)
            else memo.next_due(state, self.policy)
            for index, memo in enumerate(self._timers)
        )

    def next_due(self, state: Incident) -> datetime | None:
        """The earliest instant any capability's timers may fire for ``state``."""
        return _earliest(self.dues(state))

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
        enqueued: list[str] = []
        for name, hook in self._periodic:
            try:
                enqueued.extend(self.enqueue(hook(self, at)))
            except IncidentKitError as err:
                log.warning("tick: periodic %s: %s", name, err)
                failures[f"periodic:{name}"] = str(err)
        return TickReport(at, len(due), tuple(fired), failures, tuple(enqueued))

    def known_keys(self, incident_id: str, keys: Collection[str]) -> set[str]:
        """Those of ``keys`` already in the outbox among ``incident_id``'s rows.

        Outbox rows are never deleted, so a key seen once is remembered and
        the store is read only while some key is not known yet.
        """
        known = {k for k in keys if k in self._enqueued}
        if len(known) < len(keys):
            stored = {row.key for row in self.store.outbox(incident_id)}
            found = stored.intersection(keys)
            self._enqueued |= found
            known |= found
        return known

    def enqueue(self, rows: Sequence[OutboxMessage]) -> tuple[str, ...]:
        """Write outbox rows of no command (a periodic hook's); returns the keys that were new.

        A row whose key is already in the outbox is skipped (the key is
        unique in every store), so replicas enqueueing the same rows at once
        write each once; ``deliver()`` sends them like any other row. The
        rows go in one append of no events to :data:`OUTBOX_ANCHOR`, so no
        incident's timeline changes. Keys this engine has seen stored are
        remembered, and a tick that finds nothing new writes nothing.
        """
        by_incident: dict[str, set[str]] = {}
        for message in rows:
            by_incident.setdefault(message.incident_id, set()).add(message.key)
        known: set[str] = set()
        for incident_id, keys in sorted(by_incident.items()):
            known |= self.known_keys(incident_id, keys)
        new = list({m.key: m for m in rows if m.key not in known}.values())
        if not new:
            return ()
        version = self.store.version(OUTBOX_ANCHOR)
        for _ in range(self._retries):
            try:
                self.store.append(OUTBOX_ANCHOR, [], version, outbox=new)
            except ConcurrencyConflict as err:
                version = err.actual  # an incident of that name was written meanwhile
                continue
            self._enqueued.update(m.key for m in new)
            return tuple(m.key for m in new)
        raise ConcurrencyConflict(OUTBOX_ANCHOR, version, self.store.version(OUTBOX_ANCHOR))

    def notifications_for(self, after: Incident, record: RecordedEvent) -> list[Notification]:
        """The notifications ``record`` implies, given the state ``after`` its append."""
        return self._notifications(self.hooks_for(record.event).routes, after, record)

    def _notifications(
        self, routes: Sequence[Route], after: Incident, record: RecordedEvent
    ) -> list[Notification]:
        policy = self.policy
        return [n for route in routes for n in route(policy, after, record)]

    def hooks_for(self, event: Event) -> EventHooks:
        """The routes, outbox planners and key planners that may return something for ``event``."""
        kind = type(event)
        found = self._hooks.get(kind)
        if found is None:

            def admits(hook: object) -> bool:
                wanted = reacting_to(hook)
                return wanted is None or issubclass(kind, wanted)

            found = EventHooks(
                tuple(filter(admits, self._routes)),
                tuple(filter(admits, self._planners)),
                tuple(filter(admits, self._key_planners)),
            )
            self._hooks[kind] = found
        return found

    def outbox_for(
        self,
        after: Incident,
        record: RecordedEvent,
        notifications: Sequence[Notification] | None = None,
    ) -> list[OutboxMessage]:
        """The outbox rows written with ``record``: notifications, channel, observers, planners.

        ``notifications``: the ones to send for it (default: what the routes
        say; :meth:`commit` passes them collapsed across an append).
        """
        found = self.hooks_for(record.event)
        if notifications is None:
            notifications = self._notifications(found.routes, after, record)
        return self._outbox(after, record, notifications, found.outbox)

    def _outbox(
        self,
        after: Incident,
        record: RecordedEvent,
        notifications: Sequence[Notification],
        planners: Sequence[Planner],
    ) -> list[OutboxMessage]:
        plugins = self.plugins
        observers = plugins.observers()
        if notifications or observers or isinstance(record.event, Declared):
            rows = plan_rows(
                after,
                record,
                notifications,
                plugins.notifiers(),
                opens_channels=plugins.opens_channels(),
                observers=observers,
            )
        elif not planners:
            return []  # most events: nothing to send and nobody to tell
        else:
            rows = []
        for planner in planners:
            rows.extend(planner(after, record))
        return rows
