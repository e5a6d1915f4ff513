"""The notification model: what the kit asks notifiers to deliver."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import attrs

from incidentkit.lifecycle import Status
from incidentkit.severity import Severity

__all__ = [
    "DEFAULT_AUDIENCE",
    "IncidentRef",
    "Notification",
    "NotificationKind",
    "Notifier",
    "NotifierSpec",
    "Urgency",
]


DEFAULT_AUDIENCE = "public"
"""The audience of an update that names none, and the only audience a notifier
without ``audiences`` receives updates for."""


class NotificationKind(enum.StrEnum):
    """Why a notification is sent."""

    PAGE = "page"
    NOTIFY = "notify"
    TICKET = "ticket"
    STATUS_UPDATE = "status_update"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    RESOLVED = "resolved"


class Urgency(enum.StrEnum):
    """How loudly to deliver: high wakes people up, low does not."""

    HIGH = "high"
    LOW = "low"


@attrs.frozen
class IncidentRef:
    """The incident summary a notification carries (enough to render a message)."""

    id: str
    title: str
    severity: Severity
    status: Status
    commander: str | None = None
    channel: str | None = None
    url: str | None = None
    services: tuple[str, ...] = ()


@attrs.frozen
class Notification:
    """One message to deliver through every configured notifier.

    ``key`` is stable across retries and replicas (the idempotency key);
    receivers may use it to drop duplicates, as PagerDuty does with ``dedup_key``.
    ``audience`` is whom a status update is for (``None``: not an update for
    an audience, such as a page or a reminder; every notifier may take it).


    A page to one person (the people capability) names that ``person``, the
    ``reason`` they are paged (step, schedule layer), the contact ``channel``
    (push, sms, phone, email, chat) and its ``address``; ``notifier``, when
    set, is the one notifier plugin that delivers it (``None``: every notifier).
    """

    key: str
    kind: NotificationKind
    incident: IncidentRef
    text: str
    created_at: datetime
    urgency: Urgency = Urgency.LOW
    targets: tuple[str, ...] = ()
    audience: str | None = None

    person: str | None = None
    reason: str = ""
    channel: str | None = None
    address: str | None = None
    notifier: str | None = None


@runtime_checkable
class Notifier(Protocol):
    """Delivers a notification; raises to fail (``PermanentFailure`` stops retries)."""

    def __call__(self, notification: Notification) -> None: ...


@attrs.frozen
class NotifierSpec:
    """A notifier registered through ``incidentkit_notifiers()``.

    ``kinds`` limits which notification kinds it receives (empty: all);
    ``audiences`` which audiences' updates it receives: a notification for an
    audience reaches only the notifiers subscribed to that audience, and a
    notifier without ``audiences`` takes only those for
    :data:`DEFAULT_AUDIENCE` (``"public"``), so an update for support alone
    never reaches a channel nobody subscribed to support. Notifications
    without an audience (pages, reminders) go to every notifier that wants
    their kind. ``timeout`` bounds each call; ``max_attempts`` bounds retries.
    """

    name: str
    deliver: Callable[[Notification], None]
    kinds: frozenset[NotificationKind] = frozenset()
    audiences: frozenset[str] = frozenset()
    timeout: timedelta = timedelta(seconds=10)
    max_attempts: int = 8

    def wants(self, kind: NotificationKind, audience: str | None = None) -> bool:
        """True when this notifier takes notifications of ``kind`` for ``audience``."""
        if self.kinds and kind not in self.kinds:
            return False
        if audience is None:
            return True
        if self.audiences:
            return audience in self.audiences
        return audience == DEFAULT_AUDIENCE
