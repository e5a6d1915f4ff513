"""Incident ids: the one rule every id must follow, checked on every path that takes one.

An incident id is 1 to 64 ASCII characters: letters, digits, ``-``, ``_`` and
``.``, beginning with a letter or a digit. No ``:`` (the notification key
separator), no ``/`` (ids go into URLs and paths), no spaces, control
characters or other scripts. The generated ids (``INC-20241120-3F2A1B``)
and ids a host chooses (``incident_id=``, ``id_factory``) are held to it;
a read or command given any other id is refused with a
:class:`~incidentkit.errors.ValidationError` naming ``incident_id`` before
the store is asked.

>>> check_incident_id("INC-2024.11_20")
'INC-2024.11_20'
>>> try:
...     check_incident_id("INC:1")
... except ValidationError as err:
...     print(err.field)
incident_id
"""

from __future__ import annotations

import re

from incidentkit.errors import ValidationError

__all__ = ["INCIDENT_ID_PATTERN", "MAX_INCIDENT_ID_LENGTH", "check_incident_id"]

MAX_INCIDENT_ID_LENGTH = 64
"""The longest incident id accepted."""

INCIDENT_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_INCIDENT_ID_LENGTH - 1}}}")
"""The incident id alphabet (match with ``fullmatch``; ASCII only)."""


_VALID: set[str] = set()
"""Ids :func:`check_incident_id` accepted lately (every command checks its id twice or more)."""


def check_incident_id(value: object, field: str = "incident_id") -> str:
    """Return ``value`` when it is a valid incident id; raise :class:`ValidationError` otherwise."""
    if type(value) is str and value in _VALID:
        return value
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a string, got {type(value).__name__}")
    if not INCIDENT_ID_PATTERN.fullmatch(value):
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise ValidationError(
            field,
            f"{shown!r} is not an incident id: 1 to {MAX_INCIDENT_ID_LENGTH} letters, digits, "
            "'-', '_' or '.', the first a letter or digit",
        )
    if type(value) is str:
        if len(_VALID) >= 4096:
            _VALID.clear()
        _VALID.add(value)
    return value
