"""The status capability's timeline events (tags prefixed ``status_``).

A component's status changes are recorded on the timeline of the incident
that caused them, inside the update that announced them (or on their own
with :class:`ComponentsChanged`), so the history is the record.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from incidentkit.events import Event, PublicStatus, register_event
from incidentkit.status.model import ComponentChange, Impact

__all__ = [
    "STATUS_EVENTS",
    "ComponentsChanged",
    "ImpactOverridden",
    "StatementRecorded",
    "StatusUpdatePosted",
    "SubscriberNotified",
]


@attrs.frozen(kw_only=True)
class StatusUpdatePosted(Event):
    """An incident update for one audience, with the component changes it announces.

    ``page`` is the status page it appears on when its audience is that
    page's; ``counts_for_cadence`` says whether it satisfies the update
    cadence (decided from the policy when it was posted).
    """

    tag: ClassVar[str] = "status_update_posted"
    update_id: str
    status: PublicStatus
    headline: str
    body: str = ""
    audience: str = "public"
    page: str | None = None
    changes: tuple[ComponentChange, ...] = ()
    counts_for_cadence: bool = True

    def describe(self) -> str:
        return f"Status update for {self.audience} ({self.status}): {self.headline}"


@attrs.frozen(kw_only=True)
class ComponentsChanged(Event):
    """Component statuses changed without an update (a quiet correction)."""

    tag: ClassVar[str] = "status_components_changed"
    changes: tuple[ComponentChange, ...]
    reason: str = ""

    def describe(self) -> str:
        moved = ", ".join(f"{c.name} {c.old_status} → {c.new_status}" for c in self.changes)
        return f"Components: {moved}"


@attrs.frozen(kw_only=True)
class ImpactOverridden(Event):
    """The incident's public impact set by hand (``None``: derived again)."""

    tag: ClassVar[str] = "status_impact_overridden"
    impact: Impact | None
    reason: str = ""

    def describe(self) -> str:
        shown = self.impact.value if self.impact is not None else "derived"
        return f"Impact set to {shown}" + (f" ({self.reason})" if self.reason else "")


@attrs.frozen(kw_only=True)
class StatementRecorded(Event):
    """A fact for customers: ``summary``, ``cause``, ``actions``, ``impact`` or ``title``."""

    tag: ClassVar[str] = "status_statement_recorded"
    field: str
    text: str

    def describe(self) -> str:
        return f"Customer statement ({self.field}): {self.text}"


@attrs.frozen(kw_only=True)
class SubscriberNotified(Event):
    """A subscriber was told of an update (so a retried delivery skips them)."""

    tag: ClassVar[str] = "status_subscriber_notified"
    update_id: str
    subscriber: str

    def describe(self) -> str:
        return f"Subscriber {self.subscriber} told of {self.update_id}"


STATUS_EVENTS: tuple[type[Event], ...] = (
    StatusUpdatePosted,
    ComponentsChanged,
    ImpactOverridden,
    StatementRecorded,
    SubscriberNotified,
)
for _event in STATUS_EVENTS:
    register_event(_event)  # at import, so stored status events always decode
