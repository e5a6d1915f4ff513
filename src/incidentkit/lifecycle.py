"""Incident statuses and response phases."""

from __future__ import annotations

import enum

__all__ = ["Phase", "Status"]


class Status(enum.StrEnum):
    """Where an incident stands in its lifecycle."""

    DECLARED = "declared"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """True until the incident is resolved or closed."""
        return self not in (Status.RESOLVED, Status.CLOSED)


class Phase(enum.StrEnum):
    """The guide's response phases."""

    ASSESS = "assess"
    MITIGATE = "mitigate"
    INVESTIGATE = "investigate"
    RESOLVE = "resolve"
