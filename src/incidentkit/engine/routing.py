"""Which recorded event becomes which notification, and which outbox rows.

Pure functions: the engine calls them with the state right after the event
and writes what they return in the same transaction as the event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from incidentkit.engine.capability import reacts_to
from incidentkit.events import Declared, RecordedEvent, Resolved, SeverityChanged, UpdatePosted
from incidentkit.incident import Incident
from incidentkit.notify import IncidentRef, Notification, NotificationKind, NotifierSpec, Urgency
from incidentkit.policy import Policy
from incidentkit.serialization import dumps, record_json
from incidentkit.store import OutboxMessage

__all__ = [
    "CHANNEL_TARGET",
    "COLLAPSED_KINDS",
    "collapse",
    "core_notifications",
    "headline",
    "incident_ref",
    "make_notification",
    "plan_rows",
]

CHANNEL_TARGET = "incidentkit_open_channel"
"""The outbox target of channel requests (the ``incidentkit_open_channel`` hook)."""


COLLAPSED_KINDS = frozenset({NotificationKind.REMINDER, NotificationKind.ESCALATION})
"""Kinds whose notifications of one append are sent as one message (:func:`collapse`)."""


def collapse(
    planned: Sequence[tuple[RecordedEvent, Sequence[Notification]]],
) -> list[tuple[RecordedEvent, list[Notification]]]:
    """Merge the reminders and escalations one append implies into one message each.

    A tick that finds several timers of an incident due at once (an update
    reminder and a missed target in the same minute) records one event per
    timer; people get one message per kind instead of one per event.
    Notifications of a kind in :data:`COLLAPSED_KINDS` that agree on urgency,
    audience and recipient (person, channel, address, notifier) join the
    first of them: its key (stable on a retry, which plans the same events),
    the targets of all in order, and the texts, whose shared headline is
    written once (``[SEV1] INC-1: title — a; b``). Every other
    notification is kept as it is, with its event.
    """
    merged: dict[tuple[object, ...], Notification] = {}
    slots: list[tuple[RecordedEvent, list[Notification]]] = []
    where: dict[tuple[object, ...], tuple[int, int]] = {}
    for record, notifications in planned:
        kept: list[Notification] = []
        slots.append((record, kept))
        for notification in notifications:
            if notification.kind not in COLLAPSED_KINDS:
                kept.append(notification)
                continue
            group = (
                notification.kind,
                notification.urgency,
                notification.audience,
                notification.person,
                notification.channel,
                notification.address,
                notification.notifier,
            )
            first = merged.get(group)
            if first is None:
                merged[group] = notification
                where[group] = (len(slots) - 1, len(kept))
                kept.append(notification)
                continue
            joined = _join(first, notification)
            merged[group] = joined
            slot, index = where[group]
            slots[slot][1][index] = joined
    return slots


def _join(first: Notification, other: Notification) -> Notification:
    prefix = first.text.split(" — ", 1)[0] + " — "
    if first.text.startswith(prefix) and other.text.startswith(prefix):
        text = f"{first.text}; {other.text[len(prefix) :]}"
    else:
        text = f"{first.text}\n{other.text}"
    targets = tuple(dict.fromkeys((*first.targets, *other.targets)))
    return attrs.evolve(first, text=text, targets=targets)


def incident_ref(state: Incident) -> IncidentRef:
    """What a notification carries about its incident."""
    return IncidentRef(
        id=state.id,
        title=state.title,
        severity=state.severity,
        status=state.status,
        commander=state.commander,
        channel=state.channel or None,
        services=state.services,
    )


def headline(state: Incident) -> str:
    """``[SEV1] INC-…: title``, the first words of most notifications."""
    return f"[{state.severity}] {state.id}: {state.title}"


def make_notification(
    after: Incident,
    record: RecordedEvent,
    kind: NotificationKind,
    text: str,
    urgency: Urgency,
    targets: Iterable[str] = (),
) -> Notification:
    """A notification of ``record``, keyed ``<incident>:<version>:<kind>`` (idempotent)."""
    return Notification(
        key=f"{record.key}:{kind.value}",
        kind=kind,
        incident=incident_ref(after),
        text=text,
        created_at=record.recorded_at,
        urgency=urgency,
        targets=tuple(targets),
    )


@reacts_to(SeverityChanged, UpdatePosted, Resolved)
def core_notifications(
    policy: Policy, after: Incident, record: RecordedEvent
) -> Sequence[Notification]:
    """The notifications of the core events: severity changes, status updates, resolution."""
    event = record.event
    if not isinstance(event, (SeverityChanged, UpdatePosted, Resolved)):
        return []  # no case below: skip the headline
    title = headline(after)
    match event:
        case SeverityChanged():
            urgency = Urgency.HIGH if event.new.rank <= 2 else Urgency.LOW
            text = f"{title} — {event.describe()}"
            return [make_notification(after, record, NotificationKind.NOTIFY, text, urgency)]
        case UpdatePosted():
            text = f"{event.status}: {event.message}"
            kind = NotificationKind.STATUS_UPDATE
            update = make_notification(after, record, kind, text, Urgency.LOW)
            return [attrs.evolve(update, audience=event.audience)]
        case Resolved():
            text = f"{title} — resolved"
            kind = NotificationKind.RESOLVED
            return [make_notification(after, record, kind, text, Urgency.LOW, after.paged)]
    return []


def plan_rows(
    after: Incident,
    record: RecordedEvent,
    notifications: Sequence[Notification],
    notifiers: Mapping[str, NotifierSpec],
    *,
    opens_channels: bool,
    observers: Sequence[str],
) -> list[OutboxMessage]:
    """Outbox rows for ``record``: one per notification and notifier that wants its kind
    and audience (:meth:`~incidentkit.notify.NotifierSpec.wants`),
    a channel request for a declaration (when a plugin opens channels), one per observer.
    """
    messages: list[OutboxMessage] = []
    for notification in notifications:
        payload = record_json(notification)
        for name, spec in notifiers.items():
            if notification.notifier not in (None, name):
                continue  # a page to one person goes through their contact's notifier only
            if spec.wants(notification.kind, notification.audience):
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
    if isinstance(record.event, Declared) and opens_channels:
        messages.append(
            OutboxMessage(
                key=f"{record.key}:channel",
                incident_id=after.id,
                topic="channel",
                target=CHANNEL_TARGET,
                payload="{}",
                available_at=record.recorded_at,
            )
        )
    for plugin in observers:
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
    return messages
