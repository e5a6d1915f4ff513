"""The one time helper module: aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dateutil.parser import isoparse

from incidentkit.errors import ValidationError

__all__ = ["ensure_aware", "format_duration", "parse_datetime", "to_utc", "utc_now"]


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def ensure_aware(value: object, field: str) -> datetime:
    """Return ``value`` converted to UTC; refuse naive or non-datetime values.

    :raises ValidationError: naming ``field`` when the value is naive or not a datetime.
    """
    if not isinstance(value, datetime):
        raise ValidationError(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationError(field, "naive datetime; pass a timezone-aware value")
    return value.astimezone(UTC)


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
