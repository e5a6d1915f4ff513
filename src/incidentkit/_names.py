"""Name checks shared by notifiers, mitigation actions and circuit breakers."""

from __future__ import annotations

from incidentkit.errors import ValidationError

__all__ = ["check_name"]


def check_name(name: object, field: str = "name") -> str:
    """Return ``name`` when it is a non-empty string without surrounding spaces.

    >>> check_name("pager")
    'pager'
    """
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValidationError(field, f"expected a non-empty name, got {name!r}")
    return name
