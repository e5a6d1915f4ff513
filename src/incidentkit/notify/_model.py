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
    "IncidentRef",
    "Notification",
    "NotificationKind",
    "Notifier",
    "NotifierSpec",
    "Urgency",
]


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
    """

    key: str
    kind: NotificationKind
    incident: IncidentRef
    text: str
    created_at: datetime
    urgency: Urgency = Urgency.LOW
    targets: tuple[str, ...] = ()


@runtime_checkable
class Notifier(Protocol):
    """Delivers a notification; raises to fail (``PermanentFailure`` stops retries)."""

    def __call__(self, notification: Notification) -> None: ...


@attrs.frozen
class NotifierSpec:
    """A notifier registered through ``incidentkit_notifiers()``.

    ``kinds`` limits which notification kinds it receives (empty: all);
    ``audiences`` names the audiences it serves (empty: every audience);
    ``timeout`` bounds each call; ``max_attempts`` bounds retries.
    """

    name: str
    deliver: Callable[[Notification], None]
    kinds: frozenset[NotificationKind] = frozenset()
    audiences: frozenset[str] = frozenset()
    timeout: timedelta = timedelta(seconds=10)
    max_attempts: int = 8

    def wants(self, kind: NotificationKind) -> bool:
        """True when this notifier takes notifications of ``kind``."""
        return not self.kinds or kind in self.kinds
