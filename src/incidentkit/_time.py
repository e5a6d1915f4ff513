"""The one time helper module: aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dateutil.parser import isoparse

from incidentkit.errors import ValidationError

__all__ = [
    "EARLIEST",
    "LATEST",
    "ensure_aware",
    "format_duration",
    "parse_datetime",
    "to_utc",
    "utc_now",
]


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest instant incidentkit accepts (inclusive)."""

LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The first instant past the accepted range: every datetime is before it.

Far enough from :data:`datetime.max` that adding any accepted duration
(escalation steps, targets, leases) can never overflow.
"""


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def ensure_aware(value: object, field: str) -> datetime:
    """Return ``value`` converted to UTC; refuse naive, non-datetime or out-of-range values.

    The accepted range is :data:`EARLIEST` (inclusive) to :data:`LATEST`
    (exclusive), so no arithmetic the kit does on a stored time overflows.

    :raises ValidationError: naming ``field`` when the value is naive, not a
        datetime or outside the range.
    """
    if type(value) is datetime and value.tzinfo is UTC and EARLIEST <= value < LATEST:
        return value  # already UTC and in range: the checks below would return it unchanged
    if not isinstance(value, datetime):
        raise ValidationError(field, f"expected a datetime, got {type(value).__name__}")
    try:
        offset = None if value.tzinfo is None else value.tzinfo.utcoffset(value)
    except (ValueError, OverflowError) as err:
        raise ValidationError(field, f"its time zone has no offset here: {err}") from None
    if offset is None:
        raise ValidationError(field, "naive datetime; pass a timezone-aware value")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValidationError(
            field,
            f"out of range: {value.isoformat()} "
            f"(accepted: {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} UTC)",
        )
    return utc


def to_utc(value: datetime | None, field: str) -> datetime | None:
    """Like :func:`ensure_aware` but lets ``None`` through."""
    return None if value is None else ensure_aware(value, field)


def parse_datetime(text: str, field: str) -> datetime:
    """Parse an ISO 8601 string into an aware UTC datetime.

    :raises ValidationError: when the text is not ISO 8601 or has no offset.
    """
    try:
        parsed = isoparse(text)
    except (ValueError, OverflowError) as err:
        raise ValidationError(field, f"not an ISO 8601 datetime: {text!r}") from err
    return ensure_aware(parsed, field)


def format_duration(delta: timedelta | None) -> str:
    """Render a duration as ``1h 05m 30s`` (``-`` for ``None``)."""
    if delta is None:
        return "-"
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{sign}{minutes}m {seconds:02d}s"
    return f"{sign}{seconds}s"
