"""The post-incident review's data: its lifecycle, 5 whys, factors and action items.

Everything here is a frozen attrs value kept in ``Incident.extensions["reviews"]``
(a :class:`Review`) and folded from the review events on the incident's
timeline. The lifecycle is data: :data:`REVIEW_TRANSITIONS`, checked once at
import (one initial state, every state reaches ``closed``, only ``closed`` is
terminal).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import attrs

from incidentkit.errors import ValidationError

__all__ = [
    "INITIAL_REVIEW_STATUS",
    "REVIEW_TRANSITIONS",
    "ActionItem",
    "ActionStatus",
    "ActionType",
    "Evidence",
    "ExternalRef",
    "Factor",
    "Feedback",
    "LessonKind",
    "Participant",
    "Pin",
    "Priority",
    "Rating",
    "Review",
    "ReviewStatus",
    "TextField",
    "Why",
    "WhyChain",
    "check_review_transitions",
]


class ReviewStatus(enum.StrEnum):
    """Where a review stands (PagerDuty's postmortem statuses)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    REVIEWED = "reviewed"
    CLOSED = "closed"


INITIAL_REVIEW_STATUS = ReviewStatus.DRAFT

REVIEW_TRANSITIONS: Mapping[ReviewStatus, frozenset[ReviewStatus]] = MappingProxyType(
    {
        ReviewStatus.DRAFT: frozenset({ReviewStatus.IN_REVIEW}),
        ReviewStatus.IN_REVIEW: frozenset({ReviewStatus.DRAFT, ReviewStatus.REVIEWED}),
        ReviewStatus.REVIEWED: frozenset({ReviewStatus.IN_REVIEW, ReviewStatus.CLOSED}),
        ReviewStatus.CLOSED: frozenset(),
    }
)
"""Which status may follow which; ``closed`` is the one terminal status."""


def check_review_transitions(
    table: Mapping[ReviewStatus, frozenset[ReviewStatus]], initial: ReviewStatus
) -> None:
    """Refuse a table with a missing state, an unreachable state or a dead end.

    :raises ValidationError: (``transitions``) naming the first problem.
    """
    missing = set(ReviewStatus) - set(table)
    if missing:
        raise ValidationError("transitions", f"no row for {sorted(missing)}")
    reachable = {initial}
    frontier = [initial]
    while frontier:
        for nxt in table[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    if reachable != set(ReviewStatus):
        raise ValidationError(
            "transitions", f"unreachable: {sorted(set(ReviewStatus) - reachable)}"
        )
    terminals = {s for s, nxt in table.items() if not nxt}
    for state in ReviewStatus:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in table[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        if not seen & terminals:
            raise ValidationError("transitions", f"{state.value!r} never reaches a terminal")


check_review_transitions(REVIEW_TRANSITIONS, INITIAL_REVIEW_STATUS)


class Priority(enum.StrEnum):
    """The guide's action-item priorities (P0 most urgent)."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class ActionType(enum.StrEnum):
    """What an action item does (Monzo's types; Google's detect/mitigate/prevent)."""

    DETECTIVE = "detective"
    PREVENTIVE = "preventive"
    CORRECTIVE = "corrective"


class ActionStatus(enum.StrEnum):
    """An action item's status; ``wont_do`` needs a reason (a decision not to act)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"

    @property
    def is_open(self) -> bool:
        """True for ``open`` and ``in_progress``."""
        return self in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class LessonKind(enum.StrEnum):
    """The lessons sections of the document (the guide's and Google's)."""

    WENT_WELL = "went_well"
    COULD_IMPROVE = "could_improve"
    LUCKY = "lucky"


class TextField(enum.StrEnum):
    """The free-text sections of a review."""

    SUMMARY = "summary"
    IMPACT = "impact"
    RESOLUTION = "resolution"
    CUSTOMER_SUMMARY = "customer_summary"
    CUSTOMER_WHAT_HAPPENED = "customer_what_happened"
    CUSTOMER_NEXT_STEPS = "customer_next_steps"


class Rating(enum.StrEnum):
    """Dispatch's five-point feedback scale."""

    VERY_SATISFIED = "Very satisfied"
    SOMEWHAT_SATISFIED = "Somewhat satisfied"
    NEUTRAL = "Neither satisfied nor dissatisfied"
    SOMEWHAT_DISSATISFIED = "Somewhat dissatisfied"
    VERY_DISSATISFIED = "Very dissatisfied"


@attrs.frozen
class Evidence:
    """What supports a why or a factor: a timeline event (by version) and/or a link."""

    version: int | None = None
    link: str = ""

    def describe(self) -> str:
        """``v12``, a link, or both."""
        parts = [f"v{self.version}"] if self.version is not None else []
        if self.link:
            parts.append(self.link)
        return " ".join(parts)


@attrs.frozen
class Why:
    """One step of a 5-whys chain."""

    text: str
    evidence: tuple[Evidence, ...] = ()


@attrs.frozen
class WhyChain:
    """A chain of whys from a problem to a conclusion; a review may hold several."""

    name: str
    problem: str = ""
    whys: tuple[Why, ...] = ()
    conclusion: str = ""


@attrs.frozen
class Factor:
    """A contributing factor, in a category from the policy's vocabulary."""

    id: str
    category: str
    text: str
    evidence: tuple[Evidence, ...] = ()


@attrs.frozen
class Pin:
    """A timeline event pinned for the document: its version and the hash it had."""

    version: int
    hash: str


@attrs.frozen
class ExternalRef:
    """Where a tracker keeps an action item (``github``, ``42``, its URL)."""

    provider: str
    key: str
    url: str = ""


@attrs.frozen
class ActionItem:
    """A follow-up with an owner, a priority, a type and a due date.

    ``addresses`` names the why or factor it answers (``why:<chain>:<n>``,
    ``factor:<id>``); ``reason`` explains a ``wont_do``.
    """

    id: str
    title: str
    owner: str
    priority: Priority
    type: ActionType
    due: date
    status: ActionStatus = ActionStatus.OPEN
    reason: str = ""
    addresses: tuple[str, ...] = ()
    external_ref: ExternalRef | None = None
    reminded_on: date | None = None
    done_at: datetime | None = None


@attrs.frozen
class Participant:
    """Someone invited to the review; ``renounced_at`` when they handed a role over."""

    person: str
    roles: tuple[str, ...] = ()
    renounced_at: datetime | None = None


@attrs.frozen
class Feedback:
    """One participant's feedback (once per participant)."""

    participant: str
    rating: Rating
    text: str = ""


@attrs.frozen
class Review:
    """A review's state, folded from the review events of one incident."""

    status: ReviewStatus
    created_at: datetime
    trigger_at: datetime
    due_by: datetime
    meeting_at: datetime | None = None
    participants: tuple[Participant, ...] = ()
    texts: Mapping[TextField, str] = attrs.field(factory=dict)
    lessons: tuple[tuple[LessonKind, str], ...] = ()
    decisions: tuple[tuple[str, str], ...] = ()
    chains: tuple[WhyChain, ...] = ()
    factors: tuple[Factor, ...] = ()
    pins: tuple[Pin, ...] = ()
    items: tuple[ActionItem, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    feedback_requested: tuple[str, ...] = ()
    reviewed_at: datetime | None = None
    closed_at: datetime | None = None

    def chain(self, name: str) -> WhyChain | None:
        """The why chain called ``name``, if any."""
        return next((c for c in self.chains if c.name == name), None)

    def item(self, item_id: str) -> ActionItem | None:
        """The action item ``item_id``, if any."""
        return next((i for i in self.items if i.id == item_id), None)

    def lessons_of(self, kind: LessonKind) -> tuple[str, ...]:
        """The lessons of one kind, in the order recorded."""
        return tuple(text for k, text in self.lessons if k is kind)

    @property
    def why_count(self) -> int:
        """How many whys all chains hold."""
        return sum(len(c.whys) for c in self.chains)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (through the one converter)."""
        from incidentkit.serialization import converter

        data: dict[str, Any] = converter().unstructure(self)
        return data
