"""A notifier that writes to stdlib logging (the zero-dependency default)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from incidentkit.notify._base import NotifierPlugin, subject_line
from incidentkit.notify._model import Notification, NotificationKind, Urgency

__all__ = ["LogNotifier"]


class LogNotifier(NotifierPlugin):
    """Log every notification on the ``incidentkit.notify`` logger.

    High-urgency notifications (pages) log at ``WARNING``, the rest at
    ``INFO``. Each record carries ``incidentkit_key``, ``incidentkit_kind``
    and ``incidentkit_incident`` as extra attributes for structured handlers.

    >>> import logging, sys
    >>> from datetime import datetime, timezone
    >>> from incidentkit.notify import IncidentRef, Notification, NotificationKind
    >>> from incidentkit.lifecycle import Status
    >>> from incidentkit.severity import Severity
    >>> logger = logging.getLogger("docs.incidentkit.notify")
    >>> logger.setLevel(logging.INFO)
    >>> logger.propagate = False
    >>> logger.addHandler(logging.StreamHandler(sys.stdout))
    >>> note = Notification(
    ...     key="INC-1:1:log", kind=NotificationKind.NOTIFY,
    ...     incident=IncidentRef("INC-1", "API errors", Severity.SEV2, Status.DECLARED),
    ...     text="declared", created_at=datetime(2024, 11, 20, tzinfo=timezone.utc))
    >>> LogNotifier(logger=logger).deliver(note)
    [SEV2] INC-1 API errors: declared (notify, key INC-1:1:log)
    """

    def __init__(
        self,
        *,
        name: str = "log",
        logger: logging.Logger | None = None,
        kinds: Iterable[NotificationKind | str] = (),
        audiences: Iterable[str] = (),
        timeout: timedelta = timedelta(seconds=5),
    ) -> None:
        super().__init__(
            name=name, kinds=kinds, timeout=timeout, max_attempts=3, audiences=audiences
        )
        self.logger = logger if logger is not None else logging.getLogger("incidentkit.notify")

    def deliver(self, notification: Notification) -> None:
        """Log the notification."""
        level = logging.WARNING if notification.urgency is Urgency.HIGH else logging.INFO
        self.logger.log(
            level,
            "%s: %s (%s, key %s)",
            subject_line(notification),
            notification.text,
            notification.kind.value,
            notification.key,
            extra={
                "incidentkit_key": notification.key,
                "incidentkit_kind": notification.kind.value,
                "incidentkit_incident": notification.incident.id,
            },
        )
