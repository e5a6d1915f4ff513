"""Scheduled maintenances kept in the store: ``kit.status.maintenances``.

A maintenance is one store mark (namespace :data:`NAMESPACE`, named by its
id) holding the whole :class:`~incidentkit.status.maintenance.Maintenance`
with its history of updates. Every move is a compare-and-set of that mark:
of replicas moving one maintenance at once exactly one wins, and the others
decide again on what it wrote (so a second ``start`` is refused with
:class:`~incidentkit.errors.InvalidTransition`, and a retried command with
the same ``idempotency_key`` returns what the first one did).

Moves are authorized like every command (``incidentkit_authorize`` sees the
actions ``status_schedule_maintenance``, ``status_start_maintenance``,
``status_verify_maintenance`` and ``status_complete_maintenance``, with no
incident). Each update is announced through the outbox to the notifiers that
take public status updates and to the page's subscribers of its components;
the reminders before the start (``[status] maintenance_reminders``) and the
auto-transitions go out from ``tick()`` (the status capability's periodic
hook). Outbox keys name the maintenance, the update or reminder and the
recipient, so replicas enqueue each message once.

While a maintenance is in progress or verifying its components are
``under_maintenance`` on the page, in the uptime (where maintenance is out of
the denominator by default) and, when alert intake runs, alerts of those
services are held back (:meth:`Alerts.silences
<incidentkit.intake.section.Alerts.silences>`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from incidentkit import _validate as check
from incidentkit._time import ensure_aware
from incidentkit.errors import (
    IncidentKitError,
    NotFound,
    PermissionDenied,
    StoreError,
    ValidationError,
)
from incidentkit.incident import actor
from incidentkit.lifecycle import Status
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.serialization import converter, dumps
from incidentkit.severity import Severity
from incidentkit.status.maintenance import (
    Maintenance,
    Reminder,
    due_reminders,
    maintenance_marks,
    schedule,
    transition,
)
from incidentkit.status.model import ComponentMark, MaintenanceStatus
from incidentkit.store import MarkStore, OutboxMessage, Store, require_marks
from incidentkit.timers import SYSTEM_ACTOR

if TYPE_CHECKING:
    from incidentkit.engine import Engine

__all__ = ["NAMESPACE", "Maintenances", "stored_maintenances"]

NAMESPACE = "maintenance"
"""The mark namespace scheduled maintenances are kept in."""

NO_INCIDENT = ""
"""The ``incident_id`` of the outbox rows that announce maintenances (they belong to none)."""

ANNOUNCE_WITHIN = timedelta(days=1)
"""How long after an update ``tick()`` still enqueues its announcement if it is missing."""

_ATTEMPTS = 16
log = logging.getLogger(__name__)
_VERBS = {
    MaintenanceStatus.IN_PROGRESS: "start",
    MaintenanceStatus.VERIFYING: "verify",
    MaintenanceStatus.COMPLETED: "complete",
}


def _encode(maintenance: Maintenance) -> str:
    return json.dumps(converter().unstructure(maintenance), sort_keys=True)


def _decode(text: str) -> Maintenance:
    try:
        return converter().structure(json.loads(text), Maintenance)
    except Exception as err:  # a mark another version wrote: say which
        raise StoreError(f"unreadable maintenance mark {text[:80]!r}: {err}") from err


def stored_maintenances(store: Store) -> list[Maintenance]:
    """Every maintenance kept in ``store`` (none when it keeps no marks), by start."""
    if not isinstance(store, MarkStore):
        return []
    found = [_decode(text) for text in store.marks(NAMESPACE).values()]
    found.sort(key=lambda m: (m.scheduled_for, m.id))
    return found


class Maintenances:
    """``kit.status.maintenances``: schedule, move, list and announce scheduled maintenances."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _marks(self) -> MarkStore:
        return require_marks(self._engine.store, "scheduled maintenances")

    # --- reading ------------------------------------------------------------------

    def all(self, page: str | None = None) -> list[Maintenance]:
        """Every stored maintenance (of ``page`` when given), by scheduled start."""
        found = stored_maintenances(self._engine.store)
        if page is not None:
            chosen = self._engine.policy.status.page(page).id
            found = [m for m in found if m.page == chosen]
        return found

    def get(self, maintenance_id: str) -> Maintenance:
        """The stored maintenance ``maintenance_id``.

        :raises NotFound: no maintenance of that id (the known ids are listed).
        """
        text = self._marks().mark(NAMESPACE, _checked_id(maintenance_id))
        if text is None:
            known = [m.id for m in self.all()]
            raise NotFound("maintenance", maintenance_id, known[:20])
        return _decode(text)

    def upcoming(self, page: str | None = None) -> list[Maintenance]:
        """The maintenances still ``scheduled`` (Statuspage's ``upcoming``)."""
        return [m for m in self.all(page) if m.status is MaintenanceStatus.SCHEDULED]

    def active(self, page: str | None = None) -> list[Maintenance]:
        """The maintenances in progress or verifying (Statuspage's ``active``)."""
        return [m for m in self.all(page) if m.active]

    def marks(self) -> list[ComponentMark]:
        """The component status changes every stored maintenance made."""
        return [mark for m in self.all() for mark in maintenance_marks(m)]

    # --- commands -----------------------------------------------------------------

    def schedule(
        self,
        name: str,
        start: datetime,
        end: datetime,
        components: Iterable[str],
        *,
        by: str,
        body: str = "",
        page: str | None = None,
        maintenance_id: str | None = None,
        auto_start: bool = False,
        auto_complete: bool = False,
        idempotency_key: str | None = None,
    ) -> Maintenance:
        """Schedule a maintenance of ``components`` from ``start`` to ``end``; returns it.

        ``maintenance_id`` defaults to ``MNT-`` and ten hex digits (derived
        from ``idempotency_key`` when one is given, so a retry finds the
        first). A retry with the same key returns the stored maintenance;
        another maintenance under the same id is refused. The scheduling is
        announced to the subscribers of its components.

        :raises ValidationError: naming the field (``start``, ``end``,
            ``components``, ``name``, ``body``, ``maintenance_id``,
            ``idempotency_key``); nothing is stored.
        :raises PermissionDenied: an ``incidentkit_authorize`` hook refused
            ``status_schedule_maintenance``.
        """
        engine = self._engine
        who = actor(by)
        key = "" if idempotency_key is None else engine.command_id(idempotency_key)
        if maintenance_id is None:
            seed = key.encode() if key else os.urandom(16)
            maintenance_id = "MNT-" + hashlib.sha256(seed).hexdigest()[:10]
        ident = _checked_id(maintenance_id)
        config = engine.policy.status
        chosen = config.page(page)
        known = [c.id for c in config.components if c.page == chosen.id]
        now = engine.now()
        planned = schedule(
            ident,
            name,
            start,
            end,
            components,
            known=known,
            now=now,
            page=chosen.id,
            body=body,
            by=who,
            auto_start=auto_start,
            auto_complete=auto_complete,
            key=key,
        )
        _authorize(engine, who, "status_schedule_maintenance", ident)
        marks = self._marks()
        if not marks.put_mark(NAMESPACE, ident, _encode(planned), expected=None):
            text = marks.mark(NAMESPACE, ident)
            existing = None if text is None else _decode(text)
            if existing is not None and key and existing.updates and existing.updates[0].key == key:
                return existing
            raise ValidationError("maintenance_id", f"a maintenance {ident!r} exists already")
        _announce(engine, planned)
        return planned

    def start(
        self,
        maintenance_id: str,
        *,
        by: str,
        body: str = "",
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Maintenance:
        """Move to ``in_progress`` (its components become ``under_maintenance``)."""
        return self.move(
            maintenance_id, "in_progress", by=by, body=body, at=at, idempotency_key=idempotency_key
        )

    def verify(
        self,
        maintenance_id: str,
        *,
        by: str,
        body: str = "",
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Maintenance:
        """Move to ``verifying`` (the work is done; its components stay under maintenance)."""
        return self.move(
            maintenance_id, "verifying", by=by, body=body, at=at, idempotency_key=idempotency_key
        )

    def complete(
        self,
        maintenance_id: str,
        *,
        by: str,
        body: str = "",
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Maintenance:
        """Move to ``completed`` (from ``scheduled`` this cancels it); components operational."""
        return self.move(
            maintenance_id, "completed", by=by, body=body, at=at, idempotency_key=idempotency_key
        )

    def move(
        self,
        maintenance_id: str,
        status: MaintenanceStatus | str,
        *,
        by: str,
        body: str = "",
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Maintenance:
        """Move the maintenance to ``status`` at ``at`` (default now, never in the future).

        :raises NotFound: no such maintenance.
        :raises InvalidTransition: the move is not allowed from its status
            (another replica may have made it first); nothing is written.
        :raises ValidationError: naming ``status``, ``at``, ``body`` or
            ``idempotency_key``.
        :raises PermissionDenied: an ``incidentkit_authorize`` hook refused
            ``status_<start|verify|complete>_maintenance``.
        """
        engine = self._engine
        who = actor(by)
        target = _status(status)
        key = "" if idempotency_key is None else engine.command_id(idempotency_key)
        now = engine.now()
        when = now if at is None else ensure_aware(at, "at")
        if when > now:
            raise ValidationError("at", f"{when.isoformat()} is in the future")
        if target is MaintenanceStatus.SCHEDULED:
            raise ValidationError("status", "a maintenance is scheduled once, by schedule()")
        ident = _checked_id(maintenance_id)
        _authorize(engine, who, f"status_{_VERBS[target]}_maintenance", ident)
        return self._move(ident, target, when, who, body, key)

    def _move(
        self,
        ident: str,
        target: MaintenanceStatus,
        when: datetime,
        who: str,
        body: str,
        key: str,
    ) -> Maintenance:
        marks = self._marks()
        for _ in range(_ATTEMPTS):
            text = marks.mark(NAMESPACE, ident)
            if text is None:
                raise NotFound("maintenance", ident, [m.id for m in self.all()][:20])
            current = _decode(text)
            if key and any(u.key == key for u in current.updates):
                return current  # a retry of a move that was made
            moved = transition(
                current, target, max(when, _last(current)), by=who, body=body, key=key
            )
            if marks.put_mark(NAMESPACE, ident, _encode(moved), expected=text):
                _announce(self._engine, moved)
                return moved
        raise StoreError(f"maintenance {ident!r}: it kept changing; not moved")

    # --- what tick() does ---------------------------------------------------------

    def advance(self, now: datetime) -> list[Maintenance]:
        """Make the auto-transitions due at ``now``; returns the maintenances moved.

        ``auto_start`` moves a scheduled maintenance to ``in_progress`` at
        ``scheduled_for``, ``auto_complete`` an active one to ``completed`` at
        ``scheduled_until`` (each recorded at that instant, by
        ``incidentkit``). Replicas doing this at once move each once.
        """
        moved = []
        for m in self.all():
            if m.auto_start and m.status is MaintenanceStatus.SCHEDULED and m.scheduled_for <= now:
                m = self._move(
                    m.id,
                    MaintenanceStatus.IN_PROGRESS,
                    m.scheduled_for,
                    SYSTEM_ACTOR,
                    "",
                    "auto:start",
                )
                moved.append(m)
            if m.auto_complete and m.active and m.scheduled_until <= now:
                moved.append(
                    self._move(
                        m.id,
                        MaintenanceStatus.COMPLETED,
                        m.scheduled_until,
                        SYSTEM_ACTOR,
                        "",
                        "auto:complete",
                    )
                )
        return moved

    def due(self, now: datetime) -> list[OutboxMessage]:
        """The outbox rows a tick at ``now`` enqueues: reminders due and any update not yet
        announced (a replica that stopped between its move and its announcement)."""
        engine = self._engine
        rows: list[OutboxMessage] = []
        before = engine.policy.status.maintenance_reminders
        for m in self.all():
            rows.extend(announcements(engine, m, since=now - ANNOUNCE_WITHIN))
            for reminder in due_reminders(m, before, now):
                rows.extend(reminder_rows(engine, m, reminder, now))
        return rows


def _authorize(engine: Engine, who: str, action: str, ident: str) -> None:
    """The host's ``incidentkit_authorize`` hooks (no incident: ``incident`` is ``None``)."""
    veto = engine.plugins.authorize(who, action, None)
    if veto is not None:
        raise PermissionDenied(ident, who, action, veto)


def _announce(engine: Engine, maintenance: Maintenance) -> None:
    """Enqueue its announcements now; a failure is left to the next ``tick()`` (the move stands)."""
    try:
        engine.enqueue(announcements(engine, maintenance))
    except IncidentKitError as err:
        log.warning("maintenance %s: announcement left to the next tick: %s", maintenance.id, err)


def _checked_id(value: object) -> str:
    ident = check.name(value, "maintenance_id")
    if len(ident) > 100:
        raise ValidationError("maintenance_id", "longer than 100 characters")
    return ident


def _status(value: MaintenanceStatus | str) -> MaintenanceStatus:
    try:
        return MaintenanceStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in MaintenanceStatus)
        raise ValidationError(
            "status", f"unknown maintenance status {value!r} (known: {known})"
        ) from None


def _last(maintenance: Maintenance) -> datetime:
    """The latest instant in its history (a move is never recorded before it)."""
    found = [u.at for u in maintenance.updates]
    found += [
        t
        for t in (maintenance.created_at, maintenance.started_at, maintenance.verifying_at)
        if t is not None
    ]
    return max(found) if found else maintenance.scheduled_for - timedelta(days=36_500)


# --- messages ------------------------------------------------------------------------


def _ref(maintenance: Maintenance) -> IncidentRef:
    return IncidentRef(
        id=maintenance.id,
        title=f"Scheduled maintenance: {maintenance.name}",
        severity=Severity.SEV4,
        status=Status.DECLARED,
        services=maintenance.components,
    )


def describe(
    engine: Engine, maintenance: Maintenance, status: MaintenanceStatus | None = None
) -> str:
    """One line for a maintenance: its status (default: its own), name, window in the page's
    zone and components."""
    config = engine.policy.status
    zone = config.page(maintenance.page).zone
    start = maintenance.scheduled_for.astimezone(zone)
    end = maintenance.scheduled_until.astimezone(zone)
    window = (
        f"{start:%Y-%m-%d %H:%M}–{end:%H:%M %Z}"
        if start.date() == end.date()
        else f"{start:%Y-%m-%d %H:%M %Z} – {end:%Y-%m-%d %H:%M %Z}"
    )
    names = {c.id: c.name for c in config.components}
    affected = ", ".join(names.get(c, c) for c in maintenance.components)
    label = (status or maintenance.status).value.replace("_", " ").capitalize()
    return f"🔧 {label}: {maintenance.name} — {window}; affects {affected}"


def _rows(
    engine: Engine,
    maintenance: Maintenance,
    key: str,
    text: str,
    at: datetime,
    kind: NotificationKind,
) -> list[OutboxMessage]:
    """One row per notifier taking public ``kind`` messages and per subscriber of its components."""
    notifiers = engine.plugins.notifiers()
    note = Notification(
        key=key,
        kind=kind,
        incident=_ref(maintenance),
        text=text,
        created_at=at,
        urgency=Urgency.LOW,
        audience="public",
    )
    payload = dumps(converter().unstructure(note))
    rows = [
        OutboxMessage(
            key=f"{key}:{name}",
            incident_id=NO_INCIDENT,
            topic="notification",
            target=name,
            payload=payload,
            available_at=at,
        )
        for name, spec in notifiers.items()
        if spec.wants(kind, "public")
    ]
    affected = frozenset(maintenance.components)
    for subscriber in engine.policy.status.subscribers:
        if subscriber.notifier not in notifiers or not subscriber.wants(maintenance.page, affected):
            continue
        told = Notification(
            key=f"{key}:{subscriber.id}",
            kind=kind,
            incident=_ref(maintenance),
            text=text,
            created_at=at,
            urgency=Urgency.LOW,
            targets=(subscriber.address,),
            audience="public",
        )
        rows.append(
            OutboxMessage(
                key=f"{key}:subscriber:{subscriber.id}",
                incident_id=NO_INCIDENT,
                topic="notification",
                target=subscriber.notifier,
                payload=dumps(converter().unstructure(told)),
                available_at=at,
            )
        )
    return rows


def announcements(
    engine: Engine, maintenance: Maintenance, since: datetime | None = None
) -> list[OutboxMessage]:
    """The rows announcing each of its updates (from ``since``), keyed
    ``maintenance:<update id>:<recipient>``."""
    rows = []
    for update in maintenance.updates:
        if since is not None and update.at < since:
            continue
        text = describe(engine, maintenance, update.status)
        if update.body:
            text += f"\n{update.body}"
        rows.extend(
            _rows(
                engine,
                maintenance,
                f"maintenance:{update.id}",
                text,
                update.at,
                NotificationKind.STATUS_UPDATE,
            )
        )
    return rows


def reminder_rows(
    engine: Engine, maintenance: Maintenance, reminder: Reminder, now: datetime
) -> Sequence[OutboxMessage]:
    """The rows of one reminder before the start (``<reminder key>:<recipient>``)."""
    hours = reminder.before.total_seconds() / 3600
    ahead = f"{hours:g} h" if hours >= 1 else f"{reminder.before.total_seconds() / 60:g} min"
    text = f"Reminder, starts in {ahead}. {describe(engine, maintenance)}"
    return _rows(engine, maintenance, reminder.key, text, now, NotificationKind.REMINDER)
