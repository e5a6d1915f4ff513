"""Checklist templates and item states.

A template has stable item keys; an incident holds one checklist per
template. Items start ``pending`` and become ``done``, ``skipped`` (a reason is
required) or ``not_applicable``. The guide's three templates ship as defaults:
the declaration checklist, the resolution criteria and the recovery checklist.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import attrs

from incidentkit.errors import NotFound, ValidationError

__all__ = [
    "DECLARATION",
    "DEFAULT_TEMPLATES",
    "RECOVERY",
    "RESOLUTION",
    "ChecklistItem",
    "ChecklistTemplate",
    "ItemState",
]

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class ItemState(enum.StrEnum):
    """A checklist item's state."""

    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    NOT_APPLICABLE = "not_applicable"

    @property
    def is_closed(self) -> bool:
        """True for every state but pending."""
        return self is not ItemState.PENDING


def _check_key(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _KEY.match(value):
        raise ValidationError(attribute.name, f"{value!r} is not a key (lowercase kebab-case)")


@attrs.frozen
class ChecklistItem:
    """One item: a stable key, the text people read, and whether it is required."""

    key: str = attrs.field(validator=_check_key)
    text: str
    required: bool = True


def _unique_items(_: object, __: attrs.Attribute[Any], items: tuple[ChecklistItem, ...]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.key in seen:
            raise ValidationError(f"items[{index}].key", f"{item.key!r} appears twice")
        seen.add(item.key)


@attrs.frozen
class ChecklistTemplate:
    """A named list of items, instantiated on every incident."""

    name: str = attrs.field(validator=_check_key)
    title: str
    items: tuple[ChecklistItem, ...] = attrs.field(validator=_unique_items)

    def item(self, key: str) -> ChecklistItem:
        """The item with ``key``; :class:`NotFound` lists the known keys."""
        for item in self.items:
            if item.key == key:
                return item
        raise NotFound(f"item in checklist {self.name!r}", key, [i.key for i in self.items])

    @property
    def keys(self) -> tuple[str, ...]:
        """Item keys in order."""
        return tuple(item.key for item in self.items)


DECLARATION = ChecklistTemplate(
    "declaration",
    "Incident declaration checklist",
    (
        ChecklistItem("assign-severity", "Assign severity level"),
        ChecklistItem("create-channel", "Create incident channel (#incident-YYYY-MM-DD-slug)"),
        ChecklistItem("assign-commander", "Assign Incident Commander"),
        ChecklistItem("create-document", "Create shared incident document"),
        ChecklistItem("post-initial-update", "Post initial status update"),
        ChecklistItem("start-mttr-timer", "Start timer for MTTR tracking"),
    ),
)

RESOLUTION = ChecklistTemplate(
    "resolution",
    "Resolution criteria",
    (
        ChecklistItem("root-cause-identified", "Root cause identified and addressed"),
        ChecklistItem("symptoms-eliminated", "User-facing symptoms eliminated"),
        ChecklistItem("metrics-normal", "Metrics returned to normal"),
        ChecklistItem("no-active-alerts", "No ongoing monitoring alerts"),
        ChecklistItem("fix-validated", "Fix validated in production"),
        ChecklistItem(
            "commander-declares", "Incident Commander declares resolution", required=False
        ),
    ),
)

RECOVERY = ChecklistTemplate(
    "recovery",
    "Recovery checklist",
    (
        ChecklistItem("verify-root-cause-fix", "Verify fix addresses root cause"),
        ChecklistItem("check-side-effects", "Check for any side effects of fix"),
        ChecklistItem("confirm-systems-normal", "Confirm all systems operating normally"),
        ChecklistItem(
            "validate-with-users", "Validate with affected users if possible", required=False
        ),
        ChecklistItem("status-page-resolved", 'Update status page to "Resolved"'),
        ChecklistItem("close-in-paging-tool", "Close incident in PagerDuty/monitoring system"),
        ChecklistItem("thank-responders", "Thank responders in incident channel", required=False),
        ChecklistItem("schedule-review", "Schedule post-incident review"),
    ),
)

DEFAULT_TEMPLATES = (DECLARATION, RESOLUTION, RECOVERY)
