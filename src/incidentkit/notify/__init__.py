"""Notifications, the built-in notifiers and the per-call delivery primitives.

Every built-in notifier is an ordinary pluggy plugin object: construct it with
its configuration and hand it to the kit (``IncidentKit(plugins=[...])``).
A notifier reports failure by raising: :class:`~incidentkit.errors.PermanentFailure`
stops retries, :class:`~incidentkit.errors.TransientFailure` (optionally with ``retry_after``) and
any other exception are retried with backoff.
"""

from incidentkit._calls import call_with_timeout, retry_delay, run_with_timeout
from incidentkit._http import classify_http_status, parse_retry_after
from incidentkit.errors import TransientFailure
from incidentkit.notify._base import NotifierPlugin, subject_line
from incidentkit.notify._email import EmailNotifier, email_message
from incidentkit.notify._log import LogNotifier
from incidentkit.notify._model import (
    DEFAULT_AUDIENCE,
    IncidentRef,
    Notification,
    NotificationKind,
    Notifier,
    NotifierSpec,
    Urgency,
)
from incidentkit.notify._slack import SlackWebhookNotifier, slack_payload
from incidentkit.notify._webhook import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_VERSION,
    TIMESTAMP_HEADER,
    VerifiedWebhook,
    WebhookNotifier,
    notification_json,
    sign,
    signed_payload,
    verify_webhook,
)

__all__ = [
    "DEFAULT_AUDIENCE",
    "EVENT_HEADER",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_VERSION",
    "TIMESTAMP_HEADER",
    "EmailNotifier",
    "IncidentRef",
    "LogNotifier",
    "Notification",
    "NotificationKind",
    "Notifier",
    "NotifierPlugin",
    "NotifierSpec",
    "SlackWebhookNotifier",
    "TransientFailure",
    "Urgency",
    "VerifiedWebhook",
    "WebhookNotifier",
    "call_with_timeout",
    "classify_http_status",
    "email_message",
    "notification_json",
    "parse_retry_after",
    "retry_delay",
    "run_with_timeout",
    "sign",
    "signed_payload",
    "slack_payload",
    "subject_line",
    "verify_webhook",
]
