"""Notifications and the built-in notifiers."""

from incidentkit.notify._model import (
    IncidentRef,
    Notification,
    NotificationKind,
    Notifier,
    NotifierSpec,
    Urgency,
)

__all__ = [
    "IncidentRef",
    "Notification",
    "NotificationKind",
    "Notifier",
    "NotifierSpec",
    "Urgency",
]
