"""Timeline events: one frozen class per kind, each with a stable tag.

An incident's timeline is a sequence of :class:`RecordedEvent` envelopes
(incident id, version, recording time, hash) around these events. Every event
names its actor in ``by``. The tag (``Event.tag``, a ``ClassVar``) is what is
stored, never the class name, so renaming a class never breaks stored data.

The built-in events form a tagged union (:data:`AnyEvent`); a capability adds
its own event classes with :func:`register_event`. The one cattrs converter
reads and writes every registered event as a JSON object with a ``"type"`` key.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Union, get_args

import attrs

from incidentkit._time import ensure_aware
from incidentkit.checklists import ChecklistTemplate, ItemState
from incidentkit.lifecycle import Phase, Status
from incidentkit.severity import Severity

__all__ = [
    "EVENT_TYPES",
    "Acknowledged",
    "AnyEvent",
    "ChannelOpened",
    "ChecklistItemChanged",
    "Closed",
    "Conclusion",
    "Declared",
    "EscalationFired",
    "Event",
    "HypothesisRecorded",
    "MitigationCompleted",
    "MitigationRequested",
    "NoteAdded",
    "NotificationFailed",
    "PhaseEntered",
    "PublicStatus",
    "RecordedEvent",
    "ReminderFired",
    "Reopened",
    "Resolved",
    "RoleAssigned",
    "RoleHandedOver",
    "RoleReleased",
    "SeverityChanged",
    "Source",
    "StatusChanged",
    "TargetMissed",
    "UpdatePosted",
    "event_types",
    "register_event",
]


class Source(enum.StrEnum):
    """How the incident was detected (the guide's detection methods)."""

    ALERT = "alert"
    USER_REPORT = "user_report"
    INTERNAL = "internal"
    MANUAL = "manual"


class Conclusion(enum.StrEnum):
    """What testing a hypothesis showed."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    INCONCLUSIVE = "inconclusive"


class PublicStatus(enum.StrEnum):
    """The status-page vocabulary for updates."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


def _aware(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Refuse naive datetimes at construction: they could be stored but never read back."""
    if value is not None:
        ensure_aware(value, attribute.name)


@attrs.frozen(kw_only=True)
class Event:
    """Base of every timeline event. ``by`` is who (or what) caused it."""

    tag: ClassVar[str] = ""
    by: str

    def describe(self) -> str:
        """One line of plain text for the chat-log and review renderings."""
        return self.tag.replace("_", " ")


@attrs.frozen(kw_only=True)
class Declared(Event):
    """The incident was declared. Starts the MTTR clock.

    ``checklists`` freezes the templates in force at declaration, so a later
    policy change never rewrites an incident's history. ``reasons`` records why
    the severity was chosen when it came from classification.
    """

    tag: ClassVar[str] = "declared"
    title: str
    severity: Severity
    source: Source = Source.MANUAL
    services: tuple[str, ...] = ()
    description: str = ""
    channel: str = ""
    started_at: datetime | None = attrs.field(default=None, validator=_aware)
    detected_at: datetime | None = attrs.field(default=None, validator=_aware)
    declared_at: datetime = attrs.field(validator=_aware)
    reasons: tuple[str, ...] = ()
    checklists: tuple[ChecklistTemplate, ...] = ()

    def describe(self) -> str:
        return f"Incident declared — {self.severity} — {self.title}"


@attrs.frozen(kw_only=True)
class Acknowledged(Event):
    """Someone acknowledged the incident; escalation stops."""

    tag: ClassVar[str] = "acknowledged"

    def describe(self) -> str:
        return "Acknowledged"


@attrs.frozen(kw_only=True)
class SeverityChanged(Event):
    """Severity went up or down, with the reason."""

    tag: ClassVar[str] = "severity_changed"
    old: Severity
    new: Severity
    reason: str

    def describe(self) -> str:
        word = "raised" if self.new.is_worse_than(self.old) else "lowered"
        return f"Severity {word} {self.old} → {self.new}: {self.reason}"


@attrs.frozen(kw_only=True)
class RoleAssigned(Event):
    """A vacant role was filled."""

    tag: ClassVar[str] = "role_assigned"
    role: str
    person: str

    def describe(self) -> str:
        from incidentkit.roles import role_label

        return f"{self.person} is {role_label(self.role)}"


@attrs.frozen(kw_only=True)
class RoleHandedOver(Event):
    """A held role passed from one person to another."""

    tag: ClassVar[str] = "role_handed_over"
    role: str
    from_person: str
    to_person: str

    def describe(self) -> str:
        from incidentkit.roles import role_label

        return f"{role_label(self.role)} handed over from {self.from_person} to {self.to_person}"


@attrs.frozen(kw_only=True)
class RoleReleased(Event):
    """A role was left vacant."""

    tag: ClassVar[str] = "role_released"
    role: str
    person: str

    def describe(self) -> str:
        from incidentkit.roles import role_label

        return f"{self.person} released {role_label(self.role)}"


@attrs.frozen(kw_only=True)
class StatusChanged(Event):
    """The lifecycle status moved (not through resolve, reopen or close)."""

    tag: ClassVar[str] = "status_changed"
    old: Status
    new: Status
    reason: str = ""

    def describe(self) -> str:
        suffix = f": {self.reason}" if self.reason else ""
        return f"Status {self.old} → {self.new}{suffix}"


@attrs.frozen(kw_only=True)
class PhaseEntered(Event):
    """The response moved into a phase."""

    tag: ClassVar[str] = "phase_entered"
    phase: Phase
    previous: Phase | None = None

    def describe(self) -> str:
        return f"Phase: {self.phase}"


@attrs.frozen(kw_only=True)
class NoteAdded(Event):
    """Free text for the record."""

    tag: ClassVar[str] = "note_added"
    text: str

    def describe(self) -> str:
        return self.text


@attrs.frozen(kw_only=True)
class HypothesisRecorded(Event):
    """A hypothesis with its test, result and conclusion (the guide's investigation form)."""

    tag: ClassVar[str] = "hypothesis_recorded"
    hypothesis: str
    test: str = ""
    result: str = ""
    conclusion: Conclusion = Conclusion.INCONCLUSIVE

    def describe(self) -> str:
        parts = [f"Hypothesis: {self.hypothesis}"]
        if self.test:
            parts.append(f"test: {self.test}")
        if self.result:
            parts.append(f"result: {self.result}")
        parts.append(f"conclusion: {self.conclusion}")
        return "; ".join(parts)


@attrs.frozen(kw_only=True)
class ChecklistItemChanged(Event):
    """A checklist item changed state; ``reason`` is required for skipped items."""

    tag: ClassVar[str] = "checklist_item_changed"
    checklist: str
    item: str
    state: ItemState
    reason: str = ""

    def describe(self) -> str:
        suffix = f" ({self.reason})" if self.reason else ""
        return f"Checklist {self.checklist}/{self.item}: {self.state}{suffix}"


@attrs.frozen(kw_only=True)
class UpdatePosted(Event):
    """A status update for stakeholders (status page vocabulary)."""

    tag: ClassVar[str] = "update_posted"
    status: PublicStatus
    message: str
    audience: str = "public"
    counts_for_cadence: bool = True
    """Whether it satisfies the severity's update cadence (the policy's
    ``[status] cadence_audiences``; an update for support alone does not)."""

    def describe(self) -> str:
        return f"Status update ({self.status}): {self.message}"


@attrs.frozen(kw_only=True)
class ChannelOpened(Event):
    """A chat channel was created for the incident by a plugin."""

    tag: ClassVar[str] = "channel_opened"
    channel: str

    def describe(self) -> str:
        return f"Channel opened: {self.channel}"


@attrs.frozen(kw_only=True)
class MitigationRequested(Event):
    """Someone asked for a mitigation action.

    ``inline`` says the requester ran it in the same call; otherwise it runs
    through the outbox on the next ``deliver()``.
    """

    tag: ClassVar[str] = "mitigation_requested"
    request_id: str
    action: str
    params: Mapping[str, Any] = attrs.field(factory=dict)
    dry_run: bool = False
    inline: bool = False

    def describe(self) -> str:
        dry = " (dry run)" if self.dry_run else ""
        return f"Mitigation requested: {self.action}{dry}"


@attrs.frozen(kw_only=True)
class MitigationCompleted(Event):
    """A mitigation ended: applied, failed or dry run. The first applied one marks mitigated."""

    tag: ClassVar[str] = "mitigation_completed"
    request_id: str
    action: str
    outcome: str
    detail: str = ""

    def describe(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"Mitigation {self.action} {self.outcome}{detail}"


@attrs.frozen(kw_only=True)
class EscalationFired(Event):
    """A timer-driven escalation step fired (page, notify or ticket).

    ``key`` is unique within an escalation period (a severity change starts a
    new one); ``step`` and ``repeat`` say which firing of the policy it was.
    """

    tag: ClassVar[str] = "escalation_fired"
    key: str
    action: str
    targets: tuple[str, ...] = ()
    due_at: datetime = attrs.field(validator=_aware)
    step: int = 0
    repeat: int = 0

    def describe(self) -> str:
        who = ", ".join(self.targets) if self.targets else "on-call"
        return f"Escalation: {self.action} {who}"


@attrs.frozen(kw_only=True)
class ReminderFired(Event):
    """A reminder fired (status update overdue, review due …)."""

    tag: ClassVar[str] = "reminder_fired"
    key: str
    reminder: str
    due_at: datetime = attrs.field(validator=_aware)
    text: str = ""

    def describe(self) -> str:
        return f"Reminder: {self.text or self.reminder}"


@attrs.frozen(kw_only=True)
class TargetMissed(Event):
    """A response or phase target passed without being met."""

    tag: ClassVar[str] = "target_missed"
    key: str
    target: str
    due_at: datetime = attrs.field(validator=_aware)

    def describe(self) -> str:
        return f"Target missed: {self.target}"


@attrs.frozen(kw_only=True)
class NotificationFailed(Event):
    """A notification could not be delivered by a notifier after all retries."""

    tag: ClassVar[str] = "notification_failed"
    notifier: str
    key: str
    attempts: int
    error: str

    def describe(self) -> str:
        return (
            f"Notification via {self.notifier} failed after {self.attempts} "
            f"attempt{'' if self.attempts == 1 else 's'}: {self.error}"
        )


@attrs.frozen(kw_only=True)
class Resolved(Event):
    """The incident was resolved. ``forced`` records an override of open criteria."""

    tag: ClassVar[str] = "resolved"
    summary: str = ""
    forced: bool = False
    force_reason: str = ""
    open_items: tuple[str, ...] = ()

    def describe(self) -> str:
        text = "Incident resolved"
        if self.summary:
            text += f": {self.summary}"
        if self.forced:
            text += f" (forced: {self.force_reason}; open: {', '.join(self.open_items)})"
        return text


@attrs.frozen(kw_only=True)
class Reopened(Event):
    """A resolved incident came back."""

    tag: ClassVar[str] = "reopened"
    reason: str

    def describe(self) -> str:
        return f"Incident reopened: {self.reason}"


@attrs.frozen(kw_only=True)
class Closed(Event):
    """The incident is closed; nothing more happens to it.

    ``forced`` records an override of open recovery items (``open_items``).
    """

    tag: ClassVar[str] = "closed"
    reason: str = ""
    forced: bool = False
    open_items: tuple[str, ...] = ()

    def describe(self) -> str:
        text = "Incident closed" + (f": {self.reason}" if self.reason else "")
        if self.forced:
            text += f" (forced; open: {', '.join(self.open_items)})"
        return text


AnyEvent = Union[  # noqa: UP007 - cattrs' tagged-union strategy takes a typing.Union
    Declared,
    Acknowledged,
    SeverityChanged,
    RoleAssigned,
    RoleHandedOver,
    RoleReleased,
    StatusChanged,
    PhaseEntered,
    NoteAdded,
    HypothesisRecorded,
    ChecklistItemChanged,
    UpdatePosted,
    ChannelOpened,
    MitigationRequested,
    MitigationCompleted,
    EscalationFired,
    ReminderFired,
    TargetMissed,
    NotificationFailed,
    Resolved,
    Reopened,
    Closed,
]
"""The union of the built-in event classes."""

EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType(
    {cls.tag: cls for cls in get_args(AnyEvent)}
)
"""Stable tag → built-in event class."""

_REGISTRY: dict[str, type[Event]] = dict(EVENT_TYPES)


_REGISTRY_VIEW: Mapping[str, type[Event]] = MappingProxyType(_REGISTRY)


def event_types() -> Mapping[str, type[Event]]:
    """Stable tag → event class: the built-in ones and every registered one (read only)."""
    return _REGISTRY_VIEW


_TAG = re.compile(r"[a-z][a-z0-9_]{0,63}")


def register_event(cls: type[Event]) -> type[Event]:
    """Add an event class to the timeline's vocabulary (usable as a class decorator).

    The class must be a frozen attrs subclass of :class:`Event` with a stable
    ``tag`` (lower-case letters, digits and ``_``). Registering the same class
    twice is a no-op; a tag already taken by another class is refused.

    :raises ValidationError: naming ``tag`` or ``event`` and the reason.
    """
    from incidentkit.errors import ValidationError

    candidate: object = cls
    if not (isinstance(candidate, type) and issubclass(candidate, Event)) or not attrs.has(
        candidate
    ):
        raise ValidationError("event", f"{cls!r} is not an attrs subclass of Event")
    tag = cls.__dict__.get("tag")
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise ValidationError(
            "tag", f"{cls.__name__} needs its own tag of lower-case letters, digits and '_'"
        )
    taken = _REGISTRY.get(tag)
    if taken is not None and taken is not cls:
        raise ValidationError(
            "tag", f"{tag!r} is already the tag of {taken.__module__}.{taken.__qualname__}"
        )
    _REGISTRY[tag] = cls
    return cls


@attrs.frozen
class RecordedEvent:
    """An event as it stands on the timeline.

    ``version`` counts from 1 per incident; ``hash`` chains this row to the
    previous one (see :meth:`IncidentKit.verify`).
    """

    incident_id: str
    version: int
    recorded_at: datetime
    event: Event
    hash: str = ""

    @property
    def key(self) -> str:
        """A stable identity for the event: ``<incident id>:<version>``."""
        return f"{self.incident_id}:{self.version}"
