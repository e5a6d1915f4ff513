"""``IncidentKit``: commands in, events and outbox rows out.

Opening and closing, the reads, delivery and timers live here; the incident
commands, each naming its pure handler from :mod:`incidentkit.incident` and
run through the :class:`~incidentkit.engine.Engine`, come from the core
command section the class inherits. The wiring behind the facade lives in
:mod:`incidentkit.engine.facade`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from incidentkit._commands import IncidentCommands
from incidentkit._delivery import DeliveryReport
from incidentkit._time import ensure_aware
from incidentkit.checkpoint import Checkpoint, make_checkpoint, verify_incident, verify_incidents
from incidentkit.clock import Clock, SystemClock
from incidentkit.engine import Capability, Engine, TickReport, run_forever
from incidentkit.engine.capability import capability_list
from incidentkit.engine.facade import (
    attach_sections,
    deliver_due,
    new_incident_id,
    plugin_manager_for,
    plugins_for,
    stored_summary,
)
from incidentkit.errors import NotFound
from incidentkit.events import Event, RecordedEvent
from incidentkit.ids import check_incident_id
from incidentkit.incident import (
    Incident,
    can_resolve,
)
from incidentkit.intake.capability import ALERTS
from incidentkit.intake.section import Alerts
from incidentkit.lifecycle import Status
from incidentkit.mitigation.capability import MITIGATION, Mitigations
from incidentkit.notify import Notification
from incidentkit.oncall.capability import ONCALL
from incidentkit.people.capability import PEOPLE
from incidentkit.people.section import People
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import Policy
from incidentkit.review.capability import REVIEW, Reviews
from incidentkit.runbooks import RUNBOOKS, Runbooks
from incidentkit.severity import Severity
from incidentkit.status.capability import STATUS, StatusPages
from incidentkit.store import IncidentSummary, Store, summary_query
from incidentkit.timeline import ChainCheck

__all__ = ["DB_ENV", "IncidentKit"]

DB_ENV = "INCIDENTKIT_DB"
"""Environment variable the CLI reads for the store URL."""

BUILTIN_CAPABILITIES: tuple[Capability, ...] = (
    ONCALL,
    MITIGATION,
    RUNBOOKS,
    REVIEW,
    STATUS,
    PEOPLE,
    ALERTS,
)
"""The capabilities every kit registers before the host's."""

S = TypeVar("S")


class IncidentKit(IncidentCommands):
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

    alerts: Alerts
    """Ingest alerts from Alertmanager, Grafana and PagerDuty-style senders (alert intake)."""
    mitigations: Mitigations
    """Request, record and run mitigation actions (the built-in mitigation capability)."""
    reviews: Reviews
    """The post-incident review of an incident, its content and follow-ups (review capability)."""
    runbooks: Runbooks
    """Load, match and attach runbooks (the runbook capability)."""
    status: StatusPages
    """Status pages, components, audiences, customer reports and uptime (the status capability)."""
    people: People
    """The people directory, dry runs, gaps, drills and on-call health (the people capability)."""

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
        plugin_settings: Mapping[str, Mapping[str, object]] | None = None,
        id_factory: Callable[[datetime], str] | None = None,
        retries: int = 100,
        cache_size: int = 1024,
        capabilities: Sequence[Capability] = (),
    ) -> None:
        extra = capability_list(capabilities)  # refused before any store is opened
        manager = plugins_for(
            plugin_manager,
            policy,
            clock,
            plugins,
            autoload_plugins,
            strict_plugins,
            plugin_settings,
        )
        self.plugins = manager
        self.store: Store = store if store is not None else manager.open_store("memory://")
        self.store.migrate()
        self.policy = policy if policy is not None else Policy.default()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._id_factory = id_factory or new_incident_id
        self.engine = Engine(
            self.store,
            self.policy,
            self.clock.now,
            manager,
            capabilities=(*BUILTIN_CAPABILITIES, *extra),
            retries=retries,
            cache_size=cache_size,
        )
        self._sections = attach_sections(self, self.engine)

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
        plugin_settings: Mapping[str, Mapping[str, object]] | None = None,
        **kwargs: Any,
    ) -> IncidentKit:
        """Open a kit on the store at ``url`` (``memory://``, ``sqlite:///x.db``, ``postgresql://…``).

        ``url`` defaults to ``$INCIDENTKIT_DB``, then ``sqlite:///incidents.db``.
        ``plugin_settings`` maps a plugin's name to its settings (delivered
        through ``incidentkit_configure`` before the store is opened).
        """
        manager = plugin_manager_for(
            policy,
            clock,
            plugins,
            autoload=autoload_plugins,
            strict=strict_plugins,
            settings=plugin_settings,
        )
        target = url or os.environ.get(DB_ENV) or "sqlite:///incidents.db"
        store = manager.open_store(target)
        try:
            return cls(store=store, policy=policy, clock=clock, plugin_manager=manager, **kwargs)
        except BaseException:
            store.close()  # a refused argument leaves no connection open
            raise

    def shutdown(self) -> None:
        """Close the store's connections. (``close`` closes an incident.)"""
        self.store.close()

    def __enter__(self) -> IncidentKit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- reading -----------------------------------------------------------

    def section(self, kind: type[S]) -> S:
        """The registered capability section of type ``kind`` (typed access for plugins).

        :raises NotFound: when no registered capability has a section of that type.
        """
        for section in self._sections.values():
            if isinstance(section, kind):
                return section
        raise NotFound("capability section", kind.__name__, sorted(self._sections))

    def get(self, incident_id: str) -> Incident:
        """The incident's current state (a fold of its timeline)."""
        return self.engine.load(incident_id).state

    def can_resolve(self, incident_id: str) -> tuple[str, ...]:
        """Why the incident cannot be resolved now; empty when it can (a guard that answers)."""
        return can_resolve(self.get(incident_id), self.policy)

    def timeline(self, incident_id: str) -> list[RecordedEvent]:
        """Every recorded event of the incident, in version order."""
        return self.engine.timeline(incident_id)

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
        return self.store.summaries(
            summary_query(
                status=status,
                severity=severity,
                service=service,
                since=since,
                until=until,
                open_only=open_only,
                limit=limit,
            )
        )

    @property
    def chain_key_id(self) -> str | None:
        """The id of this kit's chain key (``None``: rows are hashed with plain SHA-256)."""
        return self.engine.chain_key_id

    def verify(self, incident_id: str, *, against: Checkpoint | None = None) -> ChainCheck:
        """Check one incident: its hash chain, its summary, and ``against`` a checkpoint.

        See :func:`incidentkit.checkpoint.verify_incident`.

        :raises NotFound: the incident has neither events nor a summary (and is
            not in ``against``).
        :raises CheckpointError: ``against`` is inconsistent or not signed with this kit's key.
        """
        return verify_incident(self.engine, check_incident_id(incident_id), against=against)

    def verify_all(self, *, against: Checkpoint | None = None) -> list[ChainCheck]:
        """Verify every incident with events or a summary (and every one in ``against``)."""
        return verify_incidents(self.engine, against=against)

    def checkpoint(self) -> Checkpoint:
        """A head of every incident (signed when a chain key is set) to store elsewhere.

        :raises IntegrityError: some incident does not verify; no checkpoint is made.
        """
        return make_checkpoint(self.engine)

    # --- what a record implies ---------------------------------------------------

    def notifications_for(self, after: Incident, record: RecordedEvent) -> list[Notification]:
        """The notifications ``record`` implies, given the state ``after`` its append.

        Pure, and what the outbox is filled from: one row per notification and
        notifier that wants its kind.
        """
        return self.engine.notifications_for(after, record)

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
        idempotency key (full-jitter backoff, at least the receiver's
        ``Retry-After``) until the notifier's ``max_attempts``; a
        :class:`~incidentkit.errors.PermanentFailure` is not retried. A
        notification that fails for good is recorded on the timeline as
        ``notification_failed``.
        """
        return deliver_due(self.engine, limit=limit, lease=lease, worker=worker)

    def mitigate(
        self,
        incident_id: str,
        action: str,
        *,
        by: str,
        params: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        inline: bool = False,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Request a mitigation action (rollback, feature flag, scale, circuit breaker …).

        The request is recorded first; the action runs through the outbox on
        the next :meth:`deliver` (or at once, in this call, with ``inline=True``;
        a crash between the two leaves the request visibly pending) and its
        outcome (applied, failed or dry run, with detail) is recorded after.
        Bad ``params`` are refused, naming the field, before anything is recorded.
        """
        return self.mitigations.request(
            incident_id,
            action,
            by=by,
            params=params,
            dry_run=dry_run,
            inline=inline,
            idempotency_key=idempotency_key,
        )

    # --- timers ------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Fire every due timer once: escalation steps, update reminders, missed targets.

        Only incidents whose summary says something is due are loaded. What
        fires is appended as events with its notifications in the same
        transaction; a replica that loses the version race reloads, sees the
        keys already fired and records nothing. Call it from the scheduler you
        have (cron, Celery beat, APScheduler) or use :meth:`run_forever`.
        """
        return self.engine.tick(ensure_aware(now, "now") if now is not None else None)

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
        passes = (self.tick, self.deliver) if deliver else (self.tick,)
        run_forever(passes, interval, stop)

    def record(
        self,
        incident_id: str,
        events: Sequence[Event],
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Append already-built events, each exactly as its own command would record it.

        Every event passes through the rules of the command that normally
        writes it, in order, on the state the events before it produce: the
        authorization under that command's name (``assign_role``,
        ``resolve`` …, so the commander rule and ``incidentkit_authorize``
        apply), then that command's pure handler, whose result must equal the
        event. Events are written in the caller's name (each ``event.by`` is
        ``by``). A severity change is followed by its escalation steps, as with
        :meth:`set_severity`. The declaration is refused, and so are the
        events only the kit writes (timer firings, delivery outcomes, a
        capability's events that no command records) with
        :class:`~incidentkit.errors.ReservedEvent`. Any refusal appends nothing
        of the batch. There is no path that appends around these rules; see
        :meth:`Engine.record <incidentkit.engine.Engine.record>`.
        """
        return self.engine.record(incident_id, events, by, idempotency_key=idempotency_key).state

    def summary(self, incident_id: str) -> IncidentSummary:
        """The stored summary of one incident."""
        return stored_summary(self.store, incident_id)
