"""The review's timeline events (tags prefixed ``reviews_``).

A review lives on its incident's timeline, not in a stream of its own: the
review cites the incident's events by version and hash, its state is folded
with the incident's (one load, one cache), its timers feed the same
``next_due_at`` that ``tick()`` reads, and closing the review can close the
incident in the same append. The hash chain covers both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

import attrs

from incidentkit.events import Event, register_event
from incidentkit.review.model import (
    ActionItem,
    ActionStatus,
    Evidence,
    ExternalRef,
    Factor,
    LessonKind,
    Participant,
    Pin,
    Rating,
    ReviewStatus,
    TextField,
)

__all__ = [
    "REVIEW_EVENTS",
    "ActionItemAdded",
    "ActionItemExported",
    "ActionItemReminded",
    "ActionItemStatusChanged",
    "DecisionRecorded",
    "FactorAdded",
    "FeedbackGiven",
    "FeedbackRequested",
    "LessonAdded",
    "ReviewCreated",
    "ReviewReminderFired",
    "ReviewScheduled",
    "ReviewStatusChanged",
    "ReviewTextSet",
    "TimelinePinned",
    "WhyAdded",
    "WhyChainConcluded",
]


@attrs.frozen(kw_only=True)
class ReviewCreated(Event):
    """The incident first reached the trigger status: a draft review exists, due by ``due_by``."""

    tag: ClassVar[str] = "reviews_created"
    key: str = "reviews:created"
    trigger_at: datetime
    due_by: datetime

    def describe(self) -> str:
        return f"Post-incident review created, due by {self.due_by.isoformat()}"


@attrs.frozen(kw_only=True)
class ReviewScheduled(Event):
    """The review meeting is set; the document goes out at ``document_at``."""

    tag: ClassVar[str] = "reviews_scheduled"
    meeting_at: datetime
    document_at: datetime
    participants: tuple[Participant, ...] = ()

    def describe(self) -> str:
        return f"Post-incident review scheduled for {self.meeting_at.isoformat()}"


@attrs.frozen(kw_only=True)
class ReviewStatusChanged(Event):
    """The review moved from ``old`` to ``new``."""

    tag: ClassVar[str] = "reviews_status_changed"
    old: ReviewStatus
    new: ReviewStatus
    reason: str = ""

    def describe(self) -> str:
        return f"Review {self.old.value} → {self.new.value}"


@attrs.frozen(kw_only=True)
class ReviewTextSet(Event):
    """A free-text section of the review was written."""

    tag: ClassVar[str] = "reviews_text_set"
    field: TextField
    text: str


@attrs.frozen(kw_only=True)
class LessonAdded(Event):
    """Something went well, could be improved, or was lucky."""

    tag: ClassVar[str] = "reviews_lesson_added"
    kind: LessonKind
    text: str


@attrs.frozen(kw_only=True)
class DecisionRecorded(Event):
    """A decision not to act, with its reason (PagerDuty wants these documented)."""

    tag: ClassVar[str] = "reviews_decision_recorded"
    decision: str
    reason: str


@attrs.frozen(kw_only=True)
class WhyAdded(Event):
    """One why added to the chain ``chain`` (created with ``problem`` when new)."""

    tag: ClassVar[str] = "reviews_why_added"
    chain: str
    text: str
    problem: str = ""
    evidence: tuple[Evidence, ...] = ()


@attrs.frozen(kw_only=True)
class WhyChainConcluded(Event):
    """A why chain ends in ``conclusion``."""

    tag: ClassVar[str] = "reviews_why_chain_concluded"
    chain: str
    conclusion: str


@attrs.frozen(kw_only=True)
class FactorAdded(Event):
    """A contributing factor was recorded."""

    tag: ClassVar[str] = "reviews_factor_added"
    factor: Factor


@attrs.frozen(kw_only=True)
class TimelinePinned(Event):
    """Timeline events chosen for the document, each with the hash it had."""

    tag: ClassVar[str] = "reviews_timeline_pinned"
    pins: tuple[Pin, ...]


@attrs.frozen(kw_only=True)
class ActionItemAdded(Event):
    """A follow-up action item was created."""

    tag: ClassVar[str] = "reviews_action_item_added"
    item: ActionItem

    def describe(self) -> str:
        item = self.item
        return f"Action item {item.id} ({item.priority.value}, @{item.owner}): {item.title}"


@attrs.frozen(kw_only=True)
class ActionItemStatusChanged(Event):
    """An action item's status changed (``reason`` required for ``wont_do``)."""

    tag: ClassVar[str] = "reviews_action_item_status_changed"
    item_id: str
    status: ActionStatus
    reason: str = ""


@attrs.frozen(kw_only=True)
class ActionItemExported(Event):
    """A tracker holds the action item; ``ref`` says where."""

    tag: ClassVar[str] = "reviews_action_item_exported"
    item_id: str
    ref: ExternalRef


@attrs.frozen(kw_only=True)
class ActionItemReminded(Event):
    """An overdue action item's reminder of ``day`` (local date; once a day)."""

    tag: ClassVar[str] = "reviews_action_item_reminded"
    key: str
    item_id: str
    day: date
    due_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ReviewReminderFired(Event):
    """A review timer: the document is due out, the review is overdue, or escalated."""

    tag: ClassVar[str] = "reviews_reminder_fired"
    key: str
    reminder: str
    due_at: datetime | None = None
    targets: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class FeedbackRequested(Event):
    """A participant was asked for feedback (once, when the review closed)."""

    tag: ClassVar[str] = "reviews_feedback_requested"
    participant: str


@attrs.frozen(kw_only=True)
class FeedbackGiven(Event):
    """A participant's rating and comment (once per participant)."""

    tag: ClassVar[str] = "reviews_feedback_given"
    participant: str
    rating: Rating
    text: str = ""


REVIEW_EVENTS: tuple[type[Event], ...] = (
    ReviewCreated,
    ReviewScheduled,
    ReviewStatusChanged,
    ReviewTextSet,
    LessonAdded,
    DecisionRecorded,
    WhyAdded,
    WhyChainConcluded,
    FactorAdded,
    TimelinePinned,
    ActionItemAdded,
    ActionItemStatusChanged,
    ActionItemExported,
    ActionItemReminded,
    ReviewReminderFired,
    FeedbackRequested,
    FeedbackGiven,
)
"""Every review event class, registered by the capability."""

for _event in REVIEW_EVENTS:  # serializable as soon as the module is imported
    register_event(_event)
