"""Metrics of the learning loop: reviews on time, action items, recurring factors.

Computed from incident states (each with its folded
:class:`~incidentkit.review.model.Review`), never from wall-clock time:

=======================  ==============================================================
time to review           ``reviewed_at − trigger_at`` of every review that reached
                         ``reviewed`` (seconds; count, mean, p50 nearest rank, max)
reviews on time          reviews ``reviewed`` by their ``due_by``, out of the reviews
                         that are *judged*: reviewed, or past ``due_by`` at ``at``
action items open        ``open`` or ``in_progress``, by priority and by owner
action items overdue     open, and their due date is before ``at``'s date in ``zone``
recurrence               contributing-factor categories shared by two or more incidents
=======================  ==============================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit.incident import Incident
from incidentkit.review.model import ActionItem, Priority, Review

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = [
    "ActionCount",
    "LearningReport",
    "OverdueItem",
    "Recurrence",
    "ReviewTimes",
    "learning_of",
    "learning_report",
    "review_states",
]

REVIEW_KEY = "reviews"


@attrs.frozen
class ReviewTimes:
    """Time to review in seconds, over the ``count`` reviews that reached ``reviewed``."""

    count: int
    mean: float | None
    p50: float | None
    max: float | None


@attrs.frozen
class ActionCount:
    """Action items of one priority or owner: how many are open, how many of those overdue."""

    group: str
    open: int
    overdue: int


@attrs.frozen
class OverdueItem:
    """One open action item past its due date (``days`` whole days late on ``at``'s date)."""

    incident_id: str
    item_id: str
    title: str
    owner: str
    priority: Priority
    due: date
    days: int


@attrs.frozen
class Recurrence:
    """A contributing-factor category found in the reviews of several incidents."""

    category: str
    incidents: tuple[str, ...]


@attrs.frozen
class LearningReport:
    """The learning-loop metrics at ``at`` (see the module's table for each definition)."""

    at: datetime
    reviews: int
    time_to_review: ReviewTimes
    judged: int
    on_time: int
    on_time_share: float | None
    open_by_priority: tuple[ActionCount, ...]
    open_by_owner: tuple[ActionCount, ...]
    overdue: tuple[OverdueItem, ...]
    recurrence: tuple[Recurrence, ...]


def _review(state: Incident) -> Review | None:
    found = state.extensions.get(REVIEW_KEY)
    return found if isinstance(found, Review) else None


def _times(values: list[float]) -> ReviewTimes:
    if not values:
        return ReviewTimes(0, None, None, None)
    ordered = sorted(values)
    rank = max(1, math.ceil(0.5 * len(ordered)))
    return ReviewTimes(len(ordered), sum(ordered) / len(ordered), ordered[rank - 1], ordered[-1])


def _counts(rows: dict[str, list[bool]]) -> tuple[ActionCount, ...]:
    return tuple(
        ActionCount(group, len(flags), sum(flags)) for group, flags in sorted(rows.items())
    )


def learning_report(
    states: Iterable[Incident], *, at: datetime, zone: ZoneInfo | None = None
) -> LearningReport:
    """The learning-loop metrics of ``states`` at ``at`` (overdue dates judged in ``zone``)."""
    at = ensure_aware(at, "at").astimezone(UTC)
    today = at.astimezone(zone or UTC).date()
    reviews = 0
    durations: list[float] = []
    judged = on_time = 0
    by_priority: dict[str, list[bool]] = {p.value: [] for p in Priority}
    by_owner: dict[str, list[bool]] = {}
    overdue: list[OverdueItem] = []
    categories: dict[str, list[str]] = {}
    for state in sorted(states, key=lambda s: s.id):
        review = _review(state)
        if review is None:
            continue
        reviews += 1
        done = review.reviewed_at
        if done is not None:
            durations.append((done - review.trigger_at).total_seconds())
        if done is not None or review.due_by <= at:
            judged += 1
            on_time += done is not None and done <= review.due_by
        item: ActionItem
        for item in review.items:
            if not item.status.is_open:
                continue
            late = item.due < today
            by_priority[item.priority.value].append(late)
            by_owner.setdefault(item.owner, []).append(late)
            if late:
                overdue.append(
                    OverdueItem(
                        state.id,
                        item.id,
                        item.title,
                        item.owner,
                        item.priority,
                        item.due,
                        (today - item.due).days,
                    )
                )
        for category in dict.fromkeys(f.category for f in review.factors):
            categories.setdefault(category, []).append(state.id)
    recurrence = tuple(
        Recurrence(category, tuple(ids))
        for category, ids in sorted(categories.items())
        if len(ids) >= 2
    )
    overdue.sort(key=lambda o: (o.priority.value, o.due, o.incident_id, o.item_id))
    return LearningReport(
        at=at,
        reviews=reviews,
        time_to_review=_times(durations),
        judged=judged,
        on_time=on_time,
        on_time_share=on_time / judged if judged else None,
        open_by_priority=_counts(by_priority),
        open_by_owner=_counts(by_owner),
        overdue=tuple(overdue),
        recurrence=recurrence,
    )


def review_states(kit: IncidentKit) -> list[Incident]:
    """The state of every incident of ``kit`` that has a review (one load each)."""
    states = (kit.get(s.incident_id) for s in kit.incidents())
    return [state for state in states if _review(state) is not None]


def learning_of(kit: IncidentKit, *, at: datetime | None = None) -> LearningReport:
    """:func:`learning_report` over every incident of ``kit`` (``at``: default the kit's clock)."""
    when = at if at is not None else kit.engine.now()
    return learning_report(review_states(kit), at=when, zone=kit.policy.zone)
