"""An SMTP e-mail notifier (stdlib ``smtplib``), with optional STARTTLS and login."""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from datetime import timedelta, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime

from incidentkit.errors import PermanentFailure, TransientFailure, ValidationError
from incidentkit.notify._base import (
    NotifierPlugin,
    check_zone,
    local_time,
    message_body,
    paged_line,
    subject_line,
)
from incidentkit.notify._model import Notification, NotificationKind, Urgency

__all__ = ["EmailNotifier", "email_message"]

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


# CR, LF and every other control or line/paragraph separator: in a header
# they would start a new header (injection); they are folded to one space.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """``text`` on one line: each run of control characters becomes one space.

    Used for every header value built from user text, so a title such as
    ``"Outage\\r\\nBcc: victim@example.com"`` stays inside the subject.

    >>> one_line("Outage\\r\\nBcc: victim@example.com")
    'Outage Bcc: victim@example.com'
    """
    return _BREAKS.sub(" ", text)


def _address(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise ValidationError(field, f"not an e-mail address: {value!r}")
    return value


def _message_id(key: str) -> str:
    """A valid, stable ``Message-ID`` for ``key``: readable prefix plus a digest."""
    readable = _ID_UNSAFE.sub(".", key).strip(".")[:60] or "notification"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"<{readable}.{digest}@incidentkit>"


def email_message(
    notification: Notification,
    *,
    sender: str,
    recipients: Sequence[str],
    zone: tzinfo | None = None,
) -> EmailMessage:
    """Build the message: subject ``[SEV1] INC-42 title``, a plain-text body.

    Header values and the one-line body fields are passed through
    :func:`one_line`, so CR/LF in a title cannot add headers or forge body
    lines; there is no HTML part.

    ``Message-ID`` is derived from the notification key, so a retried send
    carries the same id and mail clients fold duplicates together. The body
    does not repeat the subject; its times are in ``zone`` (default UTC).
    """
    incident = notification.incident
    message = EmailMessage()
    message["Subject"] = one_line(subject_line(notification))
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(notification.created_at)
    message["Message-ID"] = _message_id(notification.key)
    message["X-Incidentkit-Key"] = one_line(notification.key)
    message["X-Incidentkit-Kind"] = notification.kind.value
    if notification.urgency is Urgency.HIGH:
        message["Importance"] = "high"
        message["X-Priority"] = "1"
    paged = paged_line(notification)
    lines = [
        message_body(notification),
        *([one_line(paged)] if paged else []),
        "",
        f"Incident:  {incident.id} {one_line(incident.title)}",
        f"Severity:  {incident.severity.value}",
        f"Status:    {incident.status.value}",
        f"Commander: {one_line(incident.commander or 'unassigned')}",
        f"When:      {local_time(notification, check_zone(zone))}",
    ]
    if incident.channel:
        lines.append(f"Channel:   {one_line(incident.channel)}")
    if incident.services:
        lines.append(f"Services:  {one_line(', '.join(incident.services))}")
    if incident.url:
        lines.append(f"Link:      {one_line(incident.url)}")
    lines += ["", f"-- incidentkit {notification.kind.value}, key {notification.key}"]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailNotifier(NotifierPlugin):
    """Send each notification as an e-mail through an SMTP server.

    ``starttls=True`` upgrades the connection before login (verifying the
    server's certificate with ``ssl_context``, by default the system trust
    store); ``username`` and ``password`` log in. SMTP 4xx replies and lost
    connections raise :class:`TransientFailure`; 5xx replies (unknown
    recipient, refused sender, failed login) and certificate errors raise
    :class:`~incidentkit.errors.PermanentFailure`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Sequence[str],
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        name: str = "email",
        timeout: timedelta = timedelta(seconds=30),
        kinds: Iterable[NotificationKind | str] = (),
        audiences: Iterable[str] = (),
        max_attempts: int = 8,
        ssl_context: ssl.SSLContext | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        super().__init__(
            name=name, kinds=kinds, audiences=audiences, timeout=timeout, max_attempts=max_attempts
        )
        if not isinstance(host, str) or not host:
            raise ValidationError("host", "expected a host name")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValidationError("port", f"expected a port from 1 to 65535, got {port!r}")
        if isinstance(recipients, str):
            raise ValidationError("recipients", "expected a list of addresses, got one string")
        self.recipients = tuple(_address(r, "recipients") for r in recipients)
        if not self.recipients:
            raise ValidationError("recipients", "at least one recipient is needed")
        if (username is None) != (password is None):
            raise ValidationError("password", "give both username and password, or neither")
        self.host = host
        self.port = port
        self.sender = _address(sender, "sender")
        self.starttls = starttls
        self.username = username
        self._password = password
        self.ssl_context = ssl_context
        self.zone = check_zone(zone)

    def deliver(self, notification: Notification) -> None:
        """Connect, optionally STARTTLS and log in, and send one message."""
        message = email_message(
            notification, sender=self.sender, recipients=self.recipients, zone=self.zone
        )
        where = f"SMTP {self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout.total_seconds()) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientFailure(
                    f"{where} deferred every recipient: {err.recipients}", status=codes[0]
                ) from err
            raise PermanentFailure(f"{where} refused every recipient: {err.recipients}") from err
        except smtplib.SMTPResponseException as err:
            text = (
                err.smtp_error.decode("utf-8", "replace")
                if isinstance(err.smtp_error, bytes)
                else str(err.smtp_error)
            )
            if 400 <= err.smtp_code < 500:
                raise TransientFailure(
                    f"{where} answered {err.smtp_code} {text}", status=err.smtp_code
                ) from err
            raise PermanentFailure(f"{where} answered {err.smtp_code} {text}") from err
        except ssl.SSLCertVerificationError as err:
            raise PermanentFailure(
                f"{where} certificate not trusted: {err.verify_message}"
            ) from err
        except smtplib.SMTPNotSupportedError as err:
            raise PermanentFailure(f"{where}: {err}") from err
        except (smtplib.SMTPException, OSError) as err:
            raise TransientFailure(f"{where} failed: {err}") from err
        if refused:
            raise PermanentFailure(f"{where} refused some recipients: {sorted(refused)}")
