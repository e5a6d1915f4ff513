"""iCalendar export of shifts (``pip install 'incidentkit[ical]'``).

:func:`to_ical` writes one ``VEVENT`` per shift with ``DTSTART``/``DTEND`` in
UTC (``…Z``), so calendar clients show each shift at the right local time
wherever they are. A shift's ``UID`` is derived from its schedule, layer,
person and bounds, so exporting the same shifts again yields the same UIDs
and a subscribed calendar updates instead of duplicating. The output is
deterministic: ``DTSTAMP`` is ``generated_at`` when given, else each
shift's start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
from incidentkit.oncall._optional import import_optional
from incidentkit.oncall.schedule import Shift

__all__ = ["shift_uid", "to_ical"]

_PRODID = "-//incidentkit//on-call//EN"


def shift_uid(shift: Shift) -> str:
    """The stable ``UID`` of a shift's event."""
    ident = "|".join(
        (
            shift.schedule,
            shift.layer,
            shift.person,
            shift.start.astimezone(UTC).isoformat(),
            shift.end.astimezone(UTC).isoformat(),
        )
    )
    return f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}@incidentkit"


def to_ical(
    shifts: Iterable[Shift],
    *,
    calendar_name: str,
    generated_at: datetime | None = None,
) -> bytes:
    """Shifts as an RFC 5545 calendar (bytes, CRLF line endings).

    :raises MissingExtra: when ``icalendar`` is not installed.
    :raises ValidationError: for an empty ``calendar_name`` or naive datetimes.
    """
    if not calendar_name.strip():
        raise ValidationError("calendar_name", "must not be empty")
    stamp = None if generated_at is None else ensure_aware(generated_at, "generated_at")
    icalendar = import_optional("icalendar", "ical", "iCalendar export")
    calendar = icalendar.Calendar()
    calendar.add("prodid", _PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", calendar_name)
    for i, shift in enumerate(sorted(shifts, key=lambda s: (s.start, s.schedule, s.layer))):
        start = ensure_aware(shift.start, f"shifts[{i}].start")
        end = ensure_aware(shift.end, f"shifts[{i}].end")
        event = icalendar.Event()
        event.add("uid", shift_uid(shift))
        event.add("dtstamp", stamp or start)
        event.add("dtstart", start)
        event.add("dtend", end)
        suffix = " (override)" if shift.via_override else ""
        event.add("summary", f"On call: {shift.person} ({shift.schedule}/{shift.layer}){suffix}")
        event.add("categories", ["on-call", shift.layer])
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
