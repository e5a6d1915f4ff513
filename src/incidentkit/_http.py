"""HTTP for the built-in notifiers and health checks (stdlib ``urllib`` only).

Status classes, ``Retry-After`` parsing, URL checks and the one POST helper
the webhook notifiers share. Public names are re-exported from
:mod:`incidentkit.notify`.
"""

from __future__ import annotations

import email.utils
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.message import Message
from typing import Literal

from incidentkit._time import ensure_aware
from incidentkit.errors import PermanentFailure, TransientFailure, ValidationError

__all__ = ["HttpStatusClass", "check_url", "classify_http_status", "parse_retry_after", "post"]

HttpStatusClass = Literal["ok", "retry", "permanent"]


def classify_http_status(code: int) -> HttpStatusClass:
    """Sort an HTTP status code into ``"ok"``, ``"retry"`` or ``"permanent"``.

    2xx is ok; 408 (request timeout), 429 (too many requests) and 5xx are
    worth retrying; every other code (other 4xx, and 1xx/3xx, which a webhook
    POST should never end with) is permanent.

    >>> [classify_http_status(c) for c in (204, 429, 503, 404)]
    ['ok', 'retry', 'retry', 'permanent']

    :raises ValidationError: when ``code`` is not an integer from 100 to 599.
    """
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        raise ValidationError("code", f"not an HTTP status code: {code!r}")
    if 200 <= code < 300:
        return "ok"
    if code in (408, 429) or code >= 500:
        return "retry"
    return "permanent"


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Read an HTTP ``Retry-After`` header: delay-seconds or an HTTP-date.

    Returns ``None`` when the header is absent or unreadable, and never a
    negative delay (a date in the past means "now").

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc)
    >>> parse_retry_after("120", now=now)
    datetime.timedelta(seconds=120)
    >>> parse_retry_after("Wed, 20 Nov 2024 22:31:00 GMT", now=now)
    datetime.timedelta(seconds=60)
    """
    current = ensure_aware(now, "now")
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(timedelta(0), when - current)


_SNIPPET = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn a redirected POST into a GET and report success."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def check_url(url: object, field: str = "url") -> str:
    """Return ``url`` when it is an absolute http(s) URL; refuse anything else.

    The refusal never quotes the URL: a webhook URL is often a secret itself
    (Slack's ``/services/T…/B…/token``). Credentials in the URL
    (``https://user:pass@host``) are refused; send them in ``headers``.
    """
    if not isinstance(url, str) or not url:
        raise ValidationError(field, "expected a non-empty URL string")
    try:
        parts = urllib.parse.urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise ValidationError(field, "not a well-formed URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValidationError(field, "expected an absolute http(s) URL with a host")
    if "@" in parts.netloc:
        raise ValidationError(
            field, "credentials in the URL are not supported; pass them in headers"
        )
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValidationError(field, "the URL holds spaces or control characters")
    return url


def _snippet(body: bytes) -> str:
    text = body[:_SNIPPET].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: timedelta,
    now: datetime,
    what: str,
) -> int:
    """POST ``body`` and return the 2xx status; raise by the status class otherwise.

    :raises PermanentFailure: for a permanent status (4xx other than 408/429, 3xx).
    :raises TransientFailure: for 408/429/5xx (with ``Retry-After``), refused
        connections, resets and socket timeouts.
    """
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=timeout.total_seconds()) as response:
            status = int(response.status)
            response.read()
    except urllib.error.HTTPError as err:
        status = err.code
        detail = _snippet(err.read() or b"")
        if classify_http_status(status) == "retry":
            raise TransientFailure(
                f"{what} answered HTTP {status}{detail}",
                retry_after=parse_retry_after(err.headers.get("Retry-After"), now=now),
                status=status,
            ) from err
        raise PermanentFailure(f"{what} refused the request: HTTP {status}{detail}") from err
    except OSError as err:  # URLError, refused/reset connections, socket timeouts
        reason = getattr(err, "reason", err)
        raise TransientFailure(f"{what} unreachable: {reason}") from err
    except ValueError:  # http.client.InvalidURL and kin: their text quotes the URL
        raise PermanentFailure(f"{what}: the URL cannot be requested") from None
    if classify_http_status(status) != "ok":  # 1xx cannot end a request; be explicit anyway
        raise PermanentFailure(f"{what} answered unexpected HTTP {status}")
    return status
