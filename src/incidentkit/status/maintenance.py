"""Scheduled maintenance as data: its state machine, reminders, marks and JSON.

A maintenance moves ``scheduled → in_progress → verifying → completed``
(``verifying`` may be skipped, and a scheduled maintenance may be
completed without starting, which cancels it). While it is in progress or
verifying, its components are ``under_maintenance``; :func:`active_windows`
gives alert intake the windows in force, so it can silence their alerts.

Everything here is pure: :func:`transition` returns the maintenance after a
move or raises :class:`~incidentkit.errors.InvalidTransition`;
:func:`due_reminders` says which reminders before the start are due at a
given instant, each with a stable key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from incidentkit import _validate as check
from incidentkit._time import ensure_aware
from incidentkit.errors import InvalidTransition, ValidationError
from incidentkit.status.model import ComponentMark, ComponentStatus, MaintenanceStatus, StatusPage

__all__ = [
    "MAX_BODY",
    "MAX_UPDATES",
    "TRANSITIONS",
    "Maintenance",
    "MaintenanceUpdate",
    "MaintenanceWindow",
    "Reminder",
    "active_windows",
    "due_reminders",
    "maintenance_json",
    "maintenance_marks",
    "schedule",
    "transition",
]

TRANSITIONS: Mapping[MaintenanceStatus, frozenset[MaintenanceStatus]] = {
    MaintenanceStatus.SCHEDULED: frozenset(
        {MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.IN_PROGRESS: frozenset(
        {MaintenanceStatus.VERIFYING, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.VERIFYING: frozenset(
        {MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.COMPLETED: frozenset(),
}
"""Where each status may go; ``completed`` is terminal."""


def _aware(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        ensure_aware(value, attribute.name)


@attrs.frozen
class MaintenanceUpdate:
    """One move of a maintenance (its scheduling included): who, when, what was said.

    ``key`` is the command's idempotency key, so a retried move is
    recognised; the updates are the maintenance's history, oldest first.
    """

    id: str
    status: MaintenanceStatus
    at: datetime = attrs.field(validator=_aware)
    by: str
    body: str = ""
    key: str = ""


@attrs.frozen
class Maintenance:
    """A maintenance window on some components, with when each status was reached.

    ``auto_start``/``auto_complete``: the kit's ``tick()`` moves it to
    ``in_progress`` at ``scheduled_for`` and to ``completed`` at
    ``scheduled_until`` (Statuspage's auto-transitions). ``updates`` is its
    history, the scheduling first.
    """

    id: str
    name: str
    scheduled_for: datetime = attrs.field(validator=_aware)
    scheduled_until: datetime = attrs.field(validator=_aware)
    components: tuple[str, ...]
    page: str = "main"
    status: MaintenanceStatus = MaintenanceStatus.SCHEDULED
    created_at: datetime | None = attrs.field(default=None, validator=_aware)
    started_at: datetime | None = attrs.field(default=None, validator=_aware)
    verifying_at: datetime | None = attrs.field(default=None, validator=_aware)
    completed_at: datetime | None = attrs.field(default=None, validator=_aware)
    reminded: frozenset[str] = frozenset()
    body: str = ""
    auto_start: bool = False
    auto_complete: bool = False
    updates: tuple[MaintenanceUpdate, ...] = ()

    @property
    def active(self) -> bool:
        """True while in progress or verifying."""
        return self.status in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


@attrs.frozen
class MaintenanceWindow:
    """What alert intake reads: components under maintenance from ``start`` to ``end``."""

    maintenance_id: str
    components: frozenset[str]
    start: datetime
    end: datetime


@attrs.frozen
class Reminder:
    """A reminder before a maintenance starts, keyed so it fires once."""

    key: str
    maintenance_id: str
    before: timedelta
    due_at: datetime


def schedule(
    maintenance_id: str,
    name: str,
    start: datetime,
    end: datetime,
    components: Iterable[str],
    *,
    known: Sequence[str],
    now: datetime,
    page: str = "main",
    body: str = "",
    by: str = "",
    auto_start: bool = False,
    auto_complete: bool = False,
    key: str = "",
) -> Maintenance:
    """A new scheduled maintenance, its window and components checked.

    ``by``, when given, records the scheduling as the first of its
    :attr:`~Maintenance.updates` (with ``body`` and the command's ``key``).

    :raises ValidationError: naming ``start``/``end`` (naive, or end not
        after start), ``components`` (empty or unknown), ``name`` or ``body``.
    """
    begins = ensure_aware(start, "start")
    ends = ensure_aware(end, "end")
    if ends <= begins:
        raise ValidationError("end", f"{ends.isoformat()} is not after start {begins.isoformat()}")
    names = check.names(components, "components")
    if not names:
        raise ValidationError("components", "name at least one component")
    for index, component in enumerate(names):
        if component not in known:
            raise ValidationError(
                f"components[{index}]",
                f"no component {component!r} (known: {', '.join(known) or 'none'})",
            )
    created = ensure_aware(now, "now")
    text = _body(body)
    updates = (
        (
            MaintenanceUpdate(
                f"{maintenance_id}-1", MaintenanceStatus.SCHEDULED, created, by, text, key
            ),
        )
        if by
        else ()
    )
    return Maintenance(
        id=check.name(maintenance_id, "maintenance_id"),
        name=check.title(name, "name"),
        scheduled_for=begins,
        scheduled_until=ends,
        components=names,
        page=page,
        created_at=created,
        body=text,
        auto_start=check.boolean(auto_start, "auto_start"),
        auto_complete=check.boolean(auto_complete, "auto_complete"),
        updates=updates,
    )


MAX_BODY = 2_000
"""The longest text a maintenance update may carry (its whole history lives in one mark)."""

MAX_UPDATES = 50
"""The most updates one maintenance may have (``in_progress`` and ``verifying`` may alternate)."""


def _body(value: object) -> str:
    return check.text(value, "body", max_length=MAX_BODY, allow_empty=True)


def transition(
    maintenance: Maintenance,
    new: MaintenanceStatus | str,
    at: datetime,
    *,
    by: str = "",
    body: str = "",
    key: str = "",
) -> Maintenance:
    """``maintenance`` after moving to ``new`` at ``at``.

    ``by``, when given, appends the move to :attr:`~Maintenance.updates`
    (with ``body`` and the command's idempotency ``key``).

    :raises InvalidTransition: a move :data:`TRANSITIONS` does not allow.
    :raises ValidationError: naming ``status`` (unknown) or ``body``.
    """
    try:
        target = MaintenanceStatus(new)
    except ValueError:
        known = ", ".join(s.value for s in MaintenanceStatus)
        raise ValidationError(
            "status", f"unknown maintenance status {new!r} (known: {known})"
        ) from None
    allowed = TRANSITIONS[maintenance.status]
    if target not in allowed:
        raise InvalidTransition(
            maintenance.id,
            f"move to {target.value}",
            maintenance.status.value,
            tuple(sorted(s.value for s in allowed)),
        )
    when = ensure_aware(at, "at")
    changes: dict[str, Any] = {"status": target}
    if target is MaintenanceStatus.IN_PROGRESS and maintenance.started_at is None:
        changes["started_at"] = when
    if target is MaintenanceStatus.VERIFYING:
        changes["verifying_at"] = when
    if target is MaintenanceStatus.COMPLETED:
        changes["completed_at"] = when
    if by:
        number = len(maintenance.updates) + 1
        if number > MAX_UPDATES:
            raise ValidationError("status", f"{maintenance.id} has {MAX_UPDATES} updates already")
        update = MaintenanceUpdate(f"{maintenance.id}-{number}", target, when, by, _body(body), key)
        changes["updates"] = (*maintenance.updates, update)
    return attrs.evolve(maintenance, **changes)


def due_reminders(
    maintenance: Maintenance, before: Sequence[timedelta], now: datetime
) -> list[Reminder]:
    """The reminders due at ``now`` that have not fired (only while still scheduled).

    A reminder ``before`` the start is due from ``scheduled_for - before``
    until the start; one whose moment passed before the maintenance was
    created never fires.
    """
    if maintenance.status is not MaintenanceStatus.SCHEDULED:
        return []
    at = ensure_aware(now, "now")
    found = []
    for delta in sorted(before, reverse=True):
        key = f"maintenance:{maintenance.id}:remind:{int(delta.total_seconds())}"
        due = maintenance.scheduled_for - delta
        created = maintenance.created_at
        if key in maintenance.reminded or (created is not None and due < created):
            continue
        if due <= at < maintenance.scheduled_for:
            found.append(Reminder(key, maintenance.id, delta, due))
    return found


def maintenance_marks(maintenance: Maintenance) -> list[ComponentMark]:
    """Its components ``under_maintenance`` from the start, operational at completion."""
    marks = []
    if maintenance.started_at is not None:
        marks += [
            ComponentMark(
                maintenance.started_at, c, ComponentStatus.UNDER_MAINTENANCE, maintenance.id, 1
            )
            for c in maintenance.components
        ]
        if maintenance.completed_at is not None:
            marks += [
                ComponentMark(
                    maintenance.completed_at, c, ComponentStatus.OPERATIONAL, maintenance.id, 2
                )
                for c in maintenance.components
            ]
    return marks


def active_windows(maintenances: Iterable[Maintenance], now: datetime) -> list[MaintenanceWindow]:
    """The windows in force at ``now``: started and not completed, or scheduled over ``now``."""
    at = ensure_aware(now, "now")
    found = []
    for m in maintenances:
        if m.active or (
            m.status is MaintenanceStatus.SCHEDULED and m.scheduled_for <= at < m.scheduled_until
        ):
            end = max(m.scheduled_until, at)
            found.append(
                MaintenanceWindow(
                    m.id, frozenset(m.components), m.started_at or m.scheduled_for, end
                )
            )
    return found


def maintenance_json(
    maintenance: Maintenance, page: StatusPage, names: Mapping[str, str]
) -> dict[str, Any]:
    """A Statuspage scheduled-maintenance object (impact ``maintenance``)."""

    def at(value: datetime | None) -> str | None:
        return (
            None
            if value is None
            else value.astimezone(page.zone).isoformat(timespec="milliseconds")
        )

    updated = maintenance.completed_at or maintenance.verifying_at or maintenance.started_at
    return {
        "id": maintenance.id,
        "name": maintenance.name,
        "status": maintenance.status.value,
        "impact": "maintenance",
        "created_at": at(maintenance.created_at),
        "updated_at": at(updated or maintenance.created_at),
        "monitoring_at": None,
        "resolved_at": at(maintenance.completed_at),
        "started_at": at(maintenance.started_at or maintenance.scheduled_for),
        "shortlink": "",
        "page_id": page.id,
        "scheduled_for": at(maintenance.scheduled_for),
        "scheduled_until": at(maintenance.scheduled_until),
        "incident_updates": [
            {
                "id": u.id,
                "status": u.status.value,
                "body": u.body,
                "incident_id": maintenance.id,
                "created_at": at(u.at),
                "updated_at": at(u.at),
                "display_at": at(u.at),
                "affected_components": [
                    {"code": c, "name": names.get(c, c)} for c in maintenance.components
                ],
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in reversed(maintenance.updates)
        ],
        "components": [
            {
                "id": c,
                "name": names.get(c, c),
                "status": "under_maintenance" if maintenance.active else "operational",
            }
            for c in maintenance.components
        ],
    }
