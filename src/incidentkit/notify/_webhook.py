"""A generic signed JSON webhook, and the receiver-side signature check."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from incidentkit._http import check_url, post
from incidentkit._time import ensure_aware
from incidentkit.clock import Clock, SystemClock
from incidentkit.errors import ValidationError
from incidentkit.notify._base import NotifierPlugin
from incidentkit.notify._model import Notification, NotificationKind
from incidentkit.serialization import dumps, make_converter

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookNotifier",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-Incidentkit-Timestamp"
SIGNATURE_HEADER = "X-Incidentkit-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

_CONVERTER = make_converter()


def _secret_bytes(secret: object, field: str = "secret") -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        raise ValidationError(field, "expected a non-empty str or bytes secret")
    return secret


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"``.

    >>> sign("s3cret", 1732141800, b'{"a":1}')[:15]
    'sha256=e3743cc0'
    """
    message = f"{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: str | bytes,
    signature: str,
    *,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> None:
    """Check a received webhook; raise when it is forged, altered or replayed.

    Pass the raw ``X-Incidentkit-Timestamp`` and ``X-Incidentkit-Signature``
    header values and the raw request body (bytes, exactly as received).
    A signature older or newer than ``tolerance`` is refused, so a captured
    request cannot be replayed later; within the window, drop duplicates by
    the ``Idempotency-Key`` header (which is also stable across retries).

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc)
    >>> ts = int(now.timestamp())
    >>> body = b'{"key":"INC-1:1"}'
    >>> verify_signature("s3cret", ts, body, sign("s3cret", ts, body), now=now)
    >>> verify_signature("s3cret", ts, body + b" ", sign("s3cret", ts, body), now=now)
    Traceback (most recent call last):
    ...
    incidentkit.errors.ValidationError: invalid signature: does not match the body and timestamp

    :raises ValidationError: naming ``timestamp`` (unreadable, or outside the
        tolerance: a replay) or ``signature`` (malformed or not matching).
    """
    current = ensure_aware(now, "now")
    if isinstance(timestamp, bool):
        raise ValidationError("timestamp", "expected unix seconds")
    text = str(timestamp).strip()
    if not text.isdigit():
        raise ValidationError("timestamp", f"expected unix seconds, got {timestamp!r}")
    sent = datetime.fromtimestamp(int(text), UTC)
    if abs(current - sent) > tolerance:
        raise ValidationError(
            "timestamp",
            f"signed at {sent.isoformat()}, outside the {tolerance} tolerance (replayed or stale)",
        )
    if not isinstance(signature, str) or not signature.startswith("sha256="):
        raise ValidationError("signature", "expected 'sha256=<hex digest>'")
    expected = sign(secret, text, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise ValidationError("signature", "does not match the body and timestamp")


def notification_json(notification: Notification) -> str:
    """The canonical JSON body the webhook notifiers send for ``notification``."""
    return dumps(_CONVERTER.unstructure(notification))


class WebhookNotifier(NotifierPlugin):
    """POST each notification as JSON to ``url``, signed when ``secret`` is given.

    The body is the notification unstructured by the one incidentkit converter
    and serialized as canonical JSON (:func:`incidentkit.serialization.dumps`).
    Headers: ``Content-Type: application/json``, ``X-Incidentkit-Timestamp``
    (unix seconds), ``X-Incidentkit-Signature: sha256=<hex>`` (HMAC-SHA256 of
    ``"<timestamp>.<body>"``; only with a secret) and ``Idempotency-Key`` (the
    notification's key, identical on every retry). Receivers check requests
    with :func:`verify_signature`.

    Responses: 2xx delivers; 408, 429 and 5xx raise :class:`TransientFailure`
    (with ``Retry-After`` honoured); redirects and other 4xx raise
    :class:`~incidentkit.errors.PermanentFailure`.

    >>> hook = WebhookNotifier("https://hooks.example.com/incidents", secret="s3cret")
    >>> [spec.name for spec in hook.incidentkit_notifiers()]
    ['webhook']
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | bytes | None = None,
        name: str = "webhook",
        timeout: timedelta = timedelta(seconds=10),
        kinds: Iterable[NotificationKind | str] = (),
        headers: Mapping[str, str] | None = None,
        max_attempts: int = 8,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, kinds=kinds, timeout=timeout, max_attempts=max_attempts)
        self.url = check_url(url)
        self._secret = None if secret is None else _secret_bytes(secret)
        self.extra_headers = dict(headers or {})
        self.clock: Clock = clock if clock is not None else SystemClock()

    def request_headers(self, body: bytes, now: datetime) -> dict[str, str]:
        """The headers sent with ``body`` at ``now`` (exposed for receivers' tests)."""
        timestamp = str(int(now.timestamp()))
        headers = {
            **self.extra_headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "incidentkit-webhook",
            TIMESTAMP_HEADER: timestamp,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        return headers

    def deliver(self, notification: Notification) -> None:
        """POST the notification; raise by the response's status class."""
        now = self.clock.now()
        body = notification_json(notification).encode("utf-8")
        headers = self.request_headers(body, now)
        headers[IDEMPOTENCY_HEADER] = notification.key
        post(self.url, body, headers, timeout=self.timeout, now=now, what=f"webhook {self.name}")
