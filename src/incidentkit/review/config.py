"""The ``[review]`` table of a policy file: when reviews are created and due, and by whom.

.. code-block:: toml

    [review]
    trigger = "resolved"              # or "closed"
    due = { days = 2 }                # the guide: within 2 business days
    participants = ["erin"]           # configured extras (the engineering manager)
    factor_categories = ["capacity", "monitoring", "testing"]
    close_incident = true             # closing the review closes the incident

    [review.due_by_severity.SEV1]     # PagerDuty: 3 calendar days for a SEV1
    days = 3
    calendar = true

Business days are counted in the policy's ``zone`` with its
``[business_days]`` holiday calendar
(:func:`incidentkit.business_days.business_day_end`); calendar days keep the
local wall-clock time across a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit.business_days import BusinessDays, business_day_end
from incidentkit.errors import ValidationError
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity

__all__ = ["DEFAULT_FACTOR_CATEGORIES", "DueRule", "ReviewConfig", "due_date"]

DEFAULT_FACTOR_CATEGORIES: tuple[str, ...] = (
    "capacity",
    "change",
    "dependency",
    "detection",
    "documentation",
    "process",
    "testing",
    "tooling",
)
"""The category vocabulary used when the policy names none."""


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(attribute.name, f"must be a whole number >= 1, got {value!r}")


@attrs.frozen
class DueRule:
    """Due ``days`` after the trigger: business days (end of day), or calendar days."""

    days: int = attrs.field(default=2, validator=_positive)
    calendar: bool = False


def _trigger(_: object, attribute: attrs.Attribute[Status], value: Status) -> None:
    if value not in (Status.RESOLVED, Status.CLOSED):
        raise ValidationError(attribute.name, f"must be 'resolved' or 'closed', got {value!r}")


def _categories(_: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise ValidationError(attribute.name, "needs at least one category")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"{attribute.name}[{index}]", "must be a non-empty name")
        if name in value[:index]:
            raise ValidationError(f"{attribute.name}[{index}]", f"{name!r} is listed twice")


def _non_negative(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value < timedelta(0):
        raise ValidationError(attribute.name, "must not be negative")


@attrs.frozen
class ReviewConfig:
    """How post-incident reviews run (the policy's ``review`` field, TOML ``[review]``).

    ``trigger``: the incident status whose first reach creates the review.
    ``due``/``due_by_severity``: when it is due. ``exclude_severities`` and
    ``exclude_services``: incidents that get no review. ``participants``:
    invited besides the role holders; ``escalate_to``: told when a review is
    overdue by a business day. ``document_ahead``: how long before the meeting
    the document goes out. ``tracker``: the action-item tracker to export to
    (default: the only one registered). ``markdown_template`` /
    ``html_template``: :class:`string.Template` texts replacing the built-in
    document layout.
    """

    trigger: Status = attrs.field(default=Status.RESOLVED, validator=_trigger)
    due: DueRule = attrs.field(factory=DueRule)
    due_by_severity: Mapping[Severity, DueRule] = attrs.field(factory=dict)
    exclude_severities: frozenset[Severity] = frozenset()
    exclude_services: frozenset[str] = frozenset()
    participants: tuple[str, ...] = ()
    escalate_to: tuple[str, ...] = ()
    factor_categories: tuple[str, ...] = attrs.field(
        default=DEFAULT_FACTOR_CATEGORIES, validator=_categories
    )
    document_ahead: timedelta = attrs.field(default=timedelta(hours=24), validator=_non_negative)
    close_incident: bool = True
    tracker: str | None = None
    markdown_template: str | None = None
    html_template: str | None = None

    def rule(self, severity: Severity) -> DueRule:
        """The due rule for ``severity``."""
        return self.due_by_severity.get(severity, self.due)

    def excludes(self, severity: Severity, services: tuple[str, ...]) -> bool:
        """True when an incident of this severity and these services gets no review."""
        return severity in self.exclude_severities or bool(self.exclude_services & set(services))


def due_date(
    rule: DueRule, trigger_at: datetime, zone: ZoneInfo, calendar: BusinessDays | None = None
) -> datetime:
    """When a review triggered at ``trigger_at`` is due, in UTC.

    Business days end at the calendar's ``day_ends``; calendar days keep the
    local time of day (a DST change in between does not move it).
    """
    trigger_at = ensure_aware(trigger_at, "trigger_at")
    if not rule.calendar:
        return business_day_end(trigger_at, zone, calendar, days=rule.days)
    local = trigger_at.astimezone(zone)
    wall = local.replace(tzinfo=None) + timedelta(days=rule.days)
    return wall.replace(tzinfo=zone).astimezone(UTC)
