"""Incident roles and the role-slot rules.

The four built-in roles come from the guide; a policy may add custom roles
(``"security-lead"``). One person may hold several roles; each role has at
most one holder. Assigning a held role to someone else is a hand-over, which
the timeline records from whom to whom.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Any

import attrs

from incidentkit.errors import NotFound, ValidationError

__all__ = ["Role", "RolePolicy", "role_label"]


class Role(enum.StrEnum):
    """The guide's incident roles."""

    INCIDENT_COMMANDER = "incident_commander"
    TECHNICAL_LEAD = "technical_lead"
    COMMUNICATIONS_LEAD = "communications_lead"
    SCRIBE = "scribe"


_LABELS = {
    Role.INCIDENT_COMMANDER.value: "IC",
    Role.TECHNICAL_LEAD.value: "TL",
    Role.COMMUNICATIONS_LEAD.value: "Comms",
    Role.SCRIBE.value: "Scribe",
}

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def role_label(role: str) -> str:
    """Short label for chat lines: ``IC``, ``TL``, ``Comms``, ``Scribe`` or the custom name."""
    return _LABELS.get(role, role)


def _check_custom(_: object, __: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    builtin = {r.value for r in Role}
    for index, name in enumerate(value):
        if not _NAME.match(name):
            raise ValidationError(
                f"custom[{index}]", f"{name!r} is not a role name (lowercase, digits, - and _)"
            )
        if name in builtin:
            raise ValidationError(f"custom[{index}]", f"{name!r} is a built-in role")
    if len(set(value)) != len(value):
        raise ValidationError("custom", "a custom role is listed twice")


@attrs.frozen
class RolePolicy:
    """Which roles exist and who may change what.

    ``commander_only`` (the default) means that once an incident commander is
    assigned, only the commander may change severity, assign or release roles,
    resolve, reopen or close. ``require_commander_to_resolve`` refuses to resolve an
    incident nobody commands.
    """

    custom: tuple[str, ...] = attrs.field(default=(), validator=_check_custom)
    commander_only: bool = True
    require_commander_to_resolve: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        """Every role name, built-ins first."""
        return (*(r.value for r in Role), *self.custom)

    def parse(self, role: Role | str, field: str = "role") -> str:
        """Return the role's name, or raise :class:`NotFound` listing the known roles."""
        name = role.value if isinstance(role, Role) else str(role).strip().lower()
        if name in self.names:
            return name
        aliases = {
            "ic": Role.INCIDENT_COMMANDER,
            "tl": Role.TECHNICAL_LEAD,
            "comms": Role.COMMUNICATIONS_LEAD,
        }
        if name in aliases:
            return aliases[name].value
        raise NotFound(field, name, self.names)

    def parse_many(self, roles: Iterable[Role | str]) -> tuple[str, ...]:
        """Parse several role names."""
        return tuple(self.parse(r) for r in roles)
