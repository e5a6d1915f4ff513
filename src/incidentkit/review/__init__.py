"""Post-incident reviews: lifecycle, scheduling, 5 whys, factors, action items, the document.

``kit.reviews`` (:class:`incidentkit.review.capability.Reviews`) runs the
review of an incident; its events live on the incident's timeline. The
model (:mod:`incidentkit.review.model`), configuration
(:mod:`incidentkit.review.config`), trackers
(:mod:`incidentkit.review.trackers`) and rendering
(:mod:`incidentkit.review.render`) are importable on their own.
"""

from incidentkit.review._cli import add_actions_parser, add_review_parser, run_actions, run_review
from incidentkit.review.config import DueRule, ReviewConfig, due_date
from incidentkit.review.model import (
    ActionItem,
    ActionStatus,
    ActionType,
    Evidence,
    ExternalRef,
    Factor,
    Feedback,
    LessonKind,
    Participant,
    Pin,
    Priority,
    Rating,
    Review,
    ReviewStatus,
    TextField,
    Why,
    WhyChain,
)

__all__ = [
    "ActionItem",
    "ActionStatus",
    "ActionType",
    "DueRule",
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
    "ReviewConfig",
    "ReviewStatus",
    "TextField",
    "Why",
    "WhyChain",
    "add_actions_parser",
    "add_review_parser",
    "due_date",
    "run_actions",
    "run_review",
]
