"""A generic signed JSON webhook, and the receiver-side signature check."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import attrs

from incidentkit._http import check_url, post
from incidentkit._time import ensure_aware
from incidentkit.clock import Clock, SystemClock
from incidentkit.errors import SignatureInvalid, ValidationError
from incidentkit.notify._base import NotifierPlugin
from incidentkit.notify._model import Notification, NotificationKind
from incidentkit.serialization import dumps, make_converter

__all__ = [
    "EVENT_HEADER",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_VERSION",
    "TIMESTAMP_HEADER",
    "VerifiedWebhook",
    "WebhookNotifier",
    "sign",
    "signed_payload",
    "verify_webhook",
]

TIMESTAMP_HEADER = "X-Incidentkit-Timestamp"
SIGNATURE_HEADER = "X-Incidentkit-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Incidentkit-Event"
SIGNATURE_VERSION = "v1"
"""The signature scheme: ``v1=`` + hex HMAC-SHA256 of :func:`signed_payload`."""

_CONVERTER = make_converter()

# Header values the signature covers: visible ASCII only, bounded, so the
# newline-separated signed string cannot be ambiguous and parsing cannot blow up.
_TOKEN = re.compile(r"[\x21-\x7e]{1,256}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_SIGNATURE_HEADER = 4096


def _secret_bytes(secret: object, field: str = "secret") -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        raise ValidationError(field, "expected a non-empty str or bytes secret")
    return secret


def signed_payload(timestamp: str, key: str, event: str, body: bytes) -> bytes:
    """The exact bytes a ``v1`` signature covers.

    ``"v1\\n" + timestamp + "\\n" + idempotency key + "\\n" + event + "\\n"``
    (ASCII) followed by the raw body bytes, unchanged. ``timestamp`` is the
    ``X-Incidentkit-Timestamp`` value (unix seconds), ``key`` the
    ``Idempotency-Key`` value and ``event`` the ``X-Incidentkit-Event`` value
    (the notification kind), each exactly as sent.

    >>> signed_payload("1732141800", "INC-1:1:page", "page", b'{"a":1}')
    b'v1\\n1732141800\\nINC-1:1:page\\npage\\n{"a":1}'
    """
    for field, value, shape in (
        (TIMESTAMP_HEADER, timestamp, _TIMESTAMP),
        (IDEMPOTENCY_HEADER, key, _TOKEN),
        (EVENT_HEADER, event, _TOKEN),
    ):
        if not isinstance(value, str) or not shape.fullmatch(value):
            raise ValidationError(field, f"not a valid header value: {value!r}")
    if not isinstance(body, bytes):
        raise ValidationError("body", "expected the raw body bytes")
    head = f"{SIGNATURE_VERSION}\n{timestamp}\n{key}\n{event}\n".encode("ascii")
    return head + body


def sign(secret: str | bytes, *, timestamp: str, key: str, event: str, body: bytes) -> str:
    """The ``X-Incidentkit-Signature`` value: ``v1=`` + hex HMAC-SHA256 of :func:`signed_payload`.

    >>> sign("s3cret", timestamp="1732141800", key="INC-1:1:page", event="page", body=b"{}")[:3]
    'v1='
    """
    message = signed_payload(timestamp, key, event, body)
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


@attrs.frozen
class VerifiedWebhook:
    """What :func:`verify_webhook` vouches for: every field was covered by the signature.

    ``key`` is the idempotency key (drop a request whose key you have already
    processed), ``event`` the notification kind, ``timestamp`` when it was signed.
    """

    key: str
    event: str
    timestamp: datetime
    body: bytes


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


def _header_map(headers: object) -> dict[str, str]:
    """Lower-cased header names to values; a signed header given twice is refused."""
    items_of = getattr(headers, "items", None)
    source = items_of() if callable(items_of) else headers  # Mapping, email Message, pairs
    if not isinstance(source, Iterable) or isinstance(source, str | bytes):
        raise SignatureInvalid("headers", "expected a mapping or (name, value) pairs")
    canonical = {
        h.lower(): h for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER, IDEMPOTENCY_HEADER, EVENT_HEADER)
    }
    found: dict[str, str] = {}
    for item in source:
        if not isinstance(item, tuple) or len(item) != 2:
            raise SignatureInvalid("headers", "expected (name, value) pairs")
        name, value = _text(item[0]), _text(item[1])
        if name is None:
            raise SignatureInvalid("headers", "a header name is not text")
        lowered = name.strip().lower()
        if lowered not in canonical:
            continue
        if value is None:
            raise SignatureInvalid(canonical[lowered], "the header value is not text")
        if lowered in found:
            raise SignatureInvalid(canonical[lowered], "sent more than once")
        # RFC 9110 5.5: optional whitespace around a field value is not part of it.
        found[lowered] = value.strip(" \t")
    return found


def _required(found: Mapping[str, str], name: str, shape: re.Pattern[str], what: str) -> str:
    value = found.get(name.lower())
    if value is None:
        raise SignatureInvalid(name, "missing")
    if not shape.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise SignatureInvalid(name, f"expected {what}, got {shown!r}")
    return value


def _digests(value: str) -> list[str]:
    """The ``v1`` digests of a signature header (``v1=<hex>``, comma-separated for rotation)."""
    if len(value) > _MAX_SIGNATURE_HEADER:
        raise SignatureInvalid(SIGNATURE_HEADER, "too long")
    digests: list[str] = []
    for part in value.split(","):
        scheme, sep, digest = part.strip().partition("=")
        if sep and scheme == SIGNATURE_VERSION:
            if not _DIGEST.fullmatch(digest):
                raise SignatureInvalid(SIGNATURE_HEADER, "expected 'v1=<64 hex digits>'")
            digests.append(digest)
    if not digests:
        raise SignatureInvalid(SIGNATURE_HEADER, "no 'v1=<hex digest>' signature")
    return digests


def verify_webhook(
    headers: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]],
    body: bytes,
    *,
    secret: str | bytes,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> VerifiedWebhook:
    """Check a received webhook request; return what the signature vouches for.

    ``headers`` is the request's headers: any mapping (header names are
    matched case-insensitively, so ``dict``, ``http.server``'s message or a
    framework's headers object all work) or ``(name, value)`` pairs (ASGI's
    byte pairs too). ``body`` is the raw request body exactly as received:
    parsing and re-serializing JSON changes the bytes and fails the check.

    The ``v1`` signature covers the timestamp, the idempotency key, the event
    kind and the body (see :func:`signed_payload`), so none can be changed,
    and a captured request replayed with a new ``Idempotency-Key`` fails.
    A request signed more than ``tolerance`` before or after ``now`` is
    refused as replayed; within the window, drop requests whose
    :attr:`VerifiedWebhook.key` you have already processed.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc)
    >>> ts, body = str(int(now.timestamp())), b'{"key":"INC-1:1:page"}'
    >>> headers = {
    ...     "x-incidentkit-timestamp": ts,
    ...     "idempotency-key": "INC-1:1:page",
    ...     "x-incidentkit-event": "page",
    ...     "x-incidentkit-signature": sign(
    ...         "s3cret", timestamp=ts, key="INC-1:1:page", event="page", body=body),
    ... }
    >>> verify_webhook(headers, body, secret="s3cret", now=now).key
    'INC-1:1:page'
    >>> verify_webhook({**headers, "idempotency-key": "INC-1:1:other"}, body,
    ...                secret="s3cret", now=now)
    Traceback (most recent call last):
    ...
    incidentkit.errors.SignatureInvalid: invalid X-Incidentkit-Signature: does not match

    :raises SignatureInvalid: naming the header (or ``body``) at fault; answer HTTP 400.
    :raises ValidationError: for a bad ``secret``, a naive ``now`` or a bad
        ``tolerance`` (the receiver's own configuration).
    """
    current = ensure_aware(now, "now")
    if not isinstance(tolerance, timedelta) or tolerance < timedelta(0):
        raise ValidationError("tolerance", f"expected a non-negative timedelta, got {tolerance!r}")
    key_bytes = _secret_bytes(secret)
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise SignatureInvalid("body", "expected the raw body bytes as received")
    found = _header_map(headers)
    timestamp = _required(found, TIMESTAMP_HEADER, _TIMESTAMP, "unix seconds")
    key = _required(found, IDEMPOTENCY_HEADER, _TOKEN, "a key of visible ASCII characters")
    event = _required(found, EVENT_HEADER, _TOKEN, "an event kind of visible ASCII characters")
    signature = found.get(SIGNATURE_HEADER.lower())
    if signature is None:
        raise SignatureInvalid(SIGNATURE_HEADER, "missing")
    digests = _digests(signature)
    message = signed_payload(timestamp, key, event, body)
    expected = hmac.new(key_bytes, message, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, digest.encode()) for digest in digests):
        raise SignatureInvalid(SIGNATURE_HEADER, "does not match")
    skew = current.timestamp() - int(timestamp)
    if abs(skew) > tolerance.total_seconds():
        raise SignatureInvalid(
            TIMESTAMP_HEADER,
            f"signed {abs(int(skew))} s {'ago' if skew > 0 else 'ahead'}, outside the "
            f"{tolerance} tolerance (replayed or stale)",
        )
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureInvalid(TIMESTAMP_HEADER, "outside the representable range") from None
    return VerifiedWebhook(key=key, event=event, timestamp=signed_at, body=body)


def notification_json(notification: Notification) -> str:
    """The canonical JSON body the webhook notifiers send for ``notification``."""
    return dumps(_CONVERTER.unstructure(notification))


class WebhookNotifier(NotifierPlugin):
    """POST each notification as JSON to ``url``, signed when ``secret`` is given.

    The body is the notification unstructured by the one incidentkit converter
    and serialized as canonical JSON (:func:`incidentkit.serialization.dumps`).
    Headers: ``Content-Type: application/json``, ``X-Incidentkit-Timestamp``
    (unix seconds), ``Idempotency-Key`` (the notification's key, identical on
    every retry), ``X-Incidentkit-Event`` (the notification kind) and, with a
    secret, ``X-Incidentkit-Signature: v1=<hex>``: HMAC-SHA256 over the
    timestamp, key, event and raw body (:func:`signed_payload`). Receivers
    check requests with :func:`verify_webhook`. The secret is kept private:
    it is in no ``repr``, message or error.

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
        audiences: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        max_attempts: int = 8,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            name=name, kinds=kinds, timeout=timeout, max_attempts=max_attempts, audiences=audiences
        )
        self.url = check_url(url)
        self._secret = None if secret is None else _secret_bytes(secret)
        self.extra_headers = dict(headers or {})
        self.clock: Clock = clock if clock is not None else SystemClock()

    def request_headers(
        self, body: bytes, now: datetime, *, key: str, event: str
    ) -> dict[str, str]:
        """The headers sent with ``body`` at ``now`` (exposed for receivers' tests)."""
        timestamp = str(int(now.timestamp()))
        headers = {
            **self.extra_headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "incidentkit-webhook",
            TIMESTAMP_HEADER: timestamp,
            IDEMPOTENCY_HEADER: key,
            EVENT_HEADER: event,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(
                self._secret, timestamp=timestamp, key=key, event=event, body=body
            )
        return headers

    def deliver(self, notification: Notification) -> None:
        """POST the notification; raise by the response's status class."""
        now = self.clock.now()
        body = notification_json(notification).encode("utf-8")
        headers = self.request_headers(
            body, now, key=notification.key, event=notification.kind.value
        )
        post(self.url, body, headers, timeout=self.timeout, now=now, what=f"webhook {self.name}")
