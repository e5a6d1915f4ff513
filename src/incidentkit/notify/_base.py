"""Shared pieces of the built-in notifiers: one plugin object per configured notifier."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import UTC, timedelta, tzinfo

from incidentkit._names import check_name
from incidentkit.errors import ValidationError
from incidentkit.notify._model import Notification, NotificationKind, NotifierSpec
from incidentkit.plugins import hookimpl

__all__ = [
    "NotifierPlugin",
    "check_audiences",
    "check_kinds",
    "check_name",
    "check_zone",
    "local_time",
    "message_body",
    "paged_line",
    "subject_line",
]


def check_kinds(kinds: Iterable[NotificationKind | str]) -> frozenset[NotificationKind]:
    """Parse notification kinds (``"page"`` or :class:`NotificationKind`) into a frozenset."""
    if isinstance(kinds, str):
        raise ValidationError("kinds", "expected a collection of kinds, got one string")
    parsed: set[NotificationKind] = set()
    for kind in kinds:
        try:
            parsed.add(NotificationKind(kind))
        except ValueError:
            known = ", ".join(k.value for k in NotificationKind)
            raise ValidationError("kinds", f"unknown kind {kind!r} (known: {known})") from None
    return frozenset(parsed)


def check_audiences(audiences: Iterable[str]) -> frozenset[str]:
    """The audiences a notifier subscribes to (see :class:`NotifierSpec`), as a frozenset."""
    if isinstance(audiences, str):
        raise ValidationError("audiences", "expected a collection of audiences, got one string")
    parsed: set[str] = set()
    for index, audience in enumerate(audiences):
        if not isinstance(audience, str) or not audience.strip() or audience != audience.strip():
            raise ValidationError(
                f"audiences[{index}]", f"expected an audience name, got {audience!r}"
            )
        parsed.add(audience)
    return frozenset(parsed)


def check_timeout(timeout: object) -> timedelta:
    """Return ``timeout`` when it is a positive timedelta."""
    if not isinstance(timeout, timedelta) or timeout <= timedelta(0):
        raise ValidationError("timeout", f"expected a positive timedelta, got {timeout!r}")
    return timeout


def subject_line(notification: Notification) -> str:
    """``[SEV1] INC-42 API returning 500 errors`` (``RESOLVED`` appended when resolved)."""
    incident = notification.incident
    suffix = " (resolved)" if notification.kind is NotificationKind.RESOLVED else ""
    return f"[{incident.severity.value}] {incident.id} {incident.title}{suffix}"


_KIND_TEXT = {
    NotificationKind.PAGE: "You are paged: please acknowledge",
    NotificationKind.NOTIFY: "New incident",
    NotificationKind.TICKET: "Ticket opened",
    NotificationKind.STATUS_UPDATE: "Status update",
    NotificationKind.REMINDER: "Reminder",
    NotificationKind.ESCALATION: "Escalated: not acknowledged",
    NotificationKind.RESOLVED: "Resolved",
}


def message_body(notification: Notification) -> str:
    """The notification's text without the ``[SEV1] INC-…: title`` the subject already says.

    >>> from datetime import datetime, timezone
    >>> from incidentkit.notify import IncidentRef
    >>> from incidentkit.lifecycle import Status
    >>> from incidentkit.severity import Severity
    >>> ref = IncidentRef("INC-7", "Checkout down", Severity.SEV1, Status.DECLARED)
    >>> at = datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc)
    >>> text = "[SEV1] INC-7: Checkout down — escalated: not acknowledged"
    >>> message_body(Notification("k", NotificationKind.ESCALATION, ref, text, at))
    'escalated: not acknowledged'
    >>> page = Notification("k", NotificationKind.PAGE, ref, "[SEV1] INC-7: Checkout down", at)
    >>> message_body(page)
    'You are paged: please acknowledge'
    """
    incident = notification.incident
    text = notification.text
    for head in (
        f"[{incident.severity.value}] {incident.id}: {incident.title}",
        f"[{incident.severity.value}] {incident.id} {incident.title}",
    ):
        if text.startswith(head):
            rest = text[len(head) :].lstrip(" —:-\t")
            return rest or _KIND_TEXT.get(notification.kind, notification.kind.value)
    return text


def paged_line(notification: Notification) -> str | None:
    """``Paged: alice, bob`` when the notification names the people it is for, else ``None``.

    A page to one person (the people capability) names that person and why
    they were paged: ``Paged: ana (escalation step 1, layer primary)``.
    """
    label = "Paged" if notification.kind is NotificationKind.PAGE else "For"
    if notification.person:
        reason = f" ({notification.reason})" if notification.reason else ""
        return f"{label}: {notification.person}{reason}"
    if not notification.targets:
        return None
    return f"{label}: {', '.join(notification.targets)}"


def check_zone(zone: object) -> tzinfo:
    """``zone`` when it is a tzinfo (``None``: UTC)."""
    if zone is None:
        return UTC
    if not isinstance(zone, tzinfo):
        raise ValidationError("zone", f"expected a time zone (ZoneInfo), got {zone!r}")
    return zone


def local_time(notification: Notification, zone: tzinfo) -> str:
    """When the notification was raised, in ``zone``: ``2024-11-20 23:30 CET``."""
    return notification.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


class NotifierPlugin(abc.ABC):
    """Base of the built-in notifiers: a pluggy plugin providing one :class:`NotifierSpec`.

    Subclasses implement :meth:`deliver`; the hook returns :meth:`spec`.
    """

    def __init__(
        self,
        *,
        name: str,
        kinds: Iterable[NotificationKind | str] = (),
        timeout: timedelta = timedelta(seconds=10),
        max_attempts: int = 8,
        audiences: Iterable[str] = (),
    ) -> None:
        self.name = check_name(name)
        self.kinds = check_kinds(kinds)
        self.audiences = check_audiences(audiences)
        self.timeout = check_timeout(timeout)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValidationError("max_attempts", f"must be an integer >= 1, got {max_attempts!r}")
        self.max_attempts = max_attempts

    @abc.abstractmethod
    def deliver(self, notification: Notification) -> None:
        """Deliver one notification; raise to fail (see :mod:`incidentkit.notify`)."""

    def spec(self) -> NotifierSpec:
        """The :class:`NotifierSpec` this plugin registers."""
        return NotifierSpec(
            name=self.name,
            deliver=self.deliver,
            kinds=self.kinds,
            audiences=self.audiences,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
        )

    @hookimpl
    def incidentkit_notifiers(self) -> list[NotifierSpec]:
        """Register this notifier."""
        return [self.spec()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
