"""The review capability: ``kit.reviews``, its timers, notifications and tracker export.

Every command goes through ``engine.run`` with an action named
``review_<command>``, so it is authorized (the ``incidentkit_authorize``
hooks see it), idempotent by ``idempotency_key`` and recorded on the
incident's hash-chained timeline. Closing the review with the policy's
``close_incident`` also closes the incident, authorized as ``close``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from incidentkit import _validate as check
from incidentkit.engine import (
    Capability,
    Engine,
    TimerSource,
    headline,
    make_notification,
    reacts_to,
)
from incidentkit.errors import MissingExtra, NotFound, PermanentFailure, ValidationError
from incidentkit.events import (
    Event,
    HypothesisRecorded,
    MitigationRequested,
    NoteAdded,
    RecordedEvent,
    RoleAssigned,
    RoleHandedOver,
    RoleReleased,
)
from incidentkit.incident import Incident, actor
from incidentkit.notify import Notification, NotificationKind, Urgency
from incidentkit.policy import Policy
from incidentkit.review import _rules
from incidentkit.review.events import (
    REVIEW_EVENTS,
    ActionItemAdded,
    ActionItemExported,
    ActionItemReminded,
    ActionItemStatusChanged,
    FeedbackRequested,
    ReviewCreated,
    ReviewReminderFired,
    ReviewScheduled,
)
from incidentkit.review.model import (
    ActionItem,
    ActionStatus,
    ActionType,
    Evidence,
    LessonKind,
    Participant,
    Pin,
    Priority,
    Rating,
    Review,
    ReviewStatus,
    TextField,
)
from incidentkit.review.render import RelatedIncident, render_html, render_markdown
from incidentkit.serialization import dumps
from incidentkit.store import OutboxMessage, OutboxRow, SummaryQuery
from incidentkit.timers import SYSTEM_ACTOR

__all__ = ["REVIEW", "Reviews", "participants_from", "tracker_rows"]

TOPIC = "review_tracker"
TRACKER_TARGET = "action_item_tracker"


def participants_from(
    timeline: Sequence[RecordedEvent], extras: Sequence[str] = ()
) -> tuple[Participant, ...]:
    """Role holders (ever), key responders and configured extras, in first-seen order.

    Someone who handed a role over or released it stays listed with
    ``renounced_at``; someone who holds a role again is listed without it.
    """
    roles: dict[str, list[str]] = {}
    renounced: dict[str, datetime | None] = {}
    order: list[str] = []

    def seen(person: str) -> None:
        if person not in roles:
            roles[person] = []
            renounced[person] = None
            order.append(person)

    for record in timeline:
        event = record.event
        if isinstance(event, RoleAssigned):
            seen(event.person)
            roles[event.person].append(event.role)
            renounced[event.person] = None
        elif isinstance(event, RoleHandedOver):
            seen(event.from_person)
            seen(event.to_person)
            roles[event.to_person].append(event.role)
            roles[event.from_person].append(event.role)
            renounced[event.from_person] = record.recorded_at
            renounced[event.to_person] = None
        elif isinstance(event, RoleReleased):
            seen(event.person)
            renounced[event.person] = record.recorded_at
        elif (
            isinstance(event, HypothesisRecorded | MitigationRequested | NoteAdded)
            and event.by != SYSTEM_ACTOR
        ):
            seen(event.by)
    for person in extras:
        seen(person)
    return tuple(Participant(p, tuple(dict.fromkeys(roles[p])), renounced[p]) for p in order)


# --- routes and planners ---------------------------------------------------------


_NOTIFIED = (
    ReviewCreated,
    ReviewScheduled,
    ReviewReminderFired,
    ActionItemReminded,
    ActionItemAdded,
    FeedbackRequested,
)
"""The review events someone hears about (the cases of :func:`review_notifications`)."""


@reacts_to(*_NOTIFIED)
def review_notifications(
    policy: Policy, after: Incident, record: RecordedEvent
) -> Sequence[Notification]:
    """Who hears about a review event."""
    event = record.event
    if not isinstance(event, _NOTIFIED):
        return []
    title = headline(after)
    review = _rules.review_of(after)
    commander = [after.commander] if after.commander else []
    remind = NotificationKind.REMINDER
    match event:
        case ReviewCreated():
            text = f"{title} — post-incident review due by {event.due_by.isoformat()}"
            return [make_notification(after, record, remind, text, Urgency.LOW, commander)]
        case ReviewScheduled():
            people = [p.person for p in event.participants]
            text = f"{title} — post-incident review on {event.meeting_at.isoformat()}"
            return [
                make_notification(after, record, NotificationKind.NOTIFY, text, Urgency.LOW, people)
            ]
        case ReviewReminderFired():
            texts = {
                "document": "send the review document to the participants",
                "overdue": "the post-incident review is overdue",
                "escalated": "the post-incident review is a business day overdue",
            }
            text = f"{title} — {texts.get(event.reminder, event.reminder)}"
            urgency = Urgency.HIGH if event.reminder == "escalated" else Urgency.LOW
            return [make_notification(after, record, remind, text, urgency, event.targets)]
        case ActionItemReminded():
            item = review.item(event.item_id) if review else None
            if item is None:
                return []
            text = f"{title} — action item {item.id} ({item.priority.value}) overdue: {item.title}"
            return [make_notification(after, record, remind, text, Urgency.LOW, [item.owner])]
        case ActionItemAdded():
            text = f"{title} — action item for you: {event.item.title}"
            kind = NotificationKind.TICKET
            return [make_notification(after, record, kind, text, Urgency.LOW, [event.item.owner])]
        case FeedbackRequested():
            text = f"{title} — how did the response and review go? (incidentkit review feedback)"
            return [
                make_notification(after, record, remind, text, Urgency.LOW, [event.participant])
            ]
    return []


@reacts_to(ActionItemAdded, ActionItemStatusChanged)
def tracker_rows(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
    """One tracker row per action item created or changed (delivered after the commit)."""
    event = record.event
    if isinstance(event, ActionItemAdded):
        item_id, op = event.item.id, "create"
    elif isinstance(event, ActionItemStatusChanged):
        item_id, op = event.item_id, "update"
    else:
        return []
    return [
        OutboxMessage(
            key=f"{record.key}:tracker",
            incident_id=after.id,
            topic=TOPIC,
            target=TRACKER_TARGET,
            payload=dumps({"item_id": item_id, "op": op}),
            available_at=record.recorded_at,
        )
    ]


def _tracker_name(engine: Engine) -> str | None:
    """The tracker the policy names, or the only one installed; ``None`` without a choice."""
    name = engine.policy.review.tracker
    if name is None:
        trackers = engine.plugins.action_item_trackers()
        return next(iter(trackers)) if len(trackers) == 1 else None
    return name


def tracker_claims(engine: Engine) -> dict[str, set[str]]:
    """Tracker rows are claimed only by an engine with a tracker to export them to.

    A worker without one (or with several and no ``[review] tracker`` choice)
    leaves them pending for a worker that has it.
    """
    return {TOPIC: {TRACKER_TARGET}} if _tracker_name(engine) is not None else {}


def deliver_tracker(engine: Engine, row: OutboxRow) -> None:
    """Create or update the action item in the tracker; record the reference once."""
    trackers = engine.plugins.action_item_trackers()
    name = _tracker_name(engine)
    tracker = trackers.get(name) if name is not None else None
    if tracker is None:
        raise PermanentFailure(f"no action-item tracker named {name!r} (have {sorted(trackers)})")
    payload = json.loads(row.payload)
    item_id = str(payload["item_id"])
    state = engine.load(row.incident_id).state
    review = _rules.review_of(state)
    item = review.item(item_id) if review else None
    if item is None:
        raise PermanentFailure(f"{row.incident_id}: no action item {item_id}")
    if item.external_ref is None:
        ref = tracker.create(item, state.id, f"{state.id}/{item.id}")

        def decide(current: Incident, _: datetime) -> list[Event]:
            found = _rules.review_of(current)
            now_item = found.item(item_id) if found else None
            if now_item is None or now_item.external_ref is not None:
                return []
            return [ActionItemExported(by=SYSTEM_ACTOR, item_id=item_id, ref=ref)]

        engine.system(row.incident_id, "review_export", decide)
        if item.status is not ActionStatus.OPEN:
            tracker.update(item, ref)
        return
    tracker.update(item, item.external_ref)


# --- the section -------------------------------------------------------------------


class Reviews:
    """``kit.reviews``: the post-incident review of an incident, its content and follow-ups."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _run(
        self,
        incident_id: str,
        command: str,
        by: str,
        decide: Any,
        idempotency_key: str | None,
        *,
        close: bool = False,
    ) -> Incident:
        engine = self._engine
        who = actor(by)

        def checked(state: Incident, now: datetime) -> Sequence[Event]:
            events: Sequence[Event] = decide(state, who)
            if close and any(e.tag == "closed" for e in events):
                engine.authorize(who, "close", state)
            return events

        return engine.run(
            incident_id, f"review_{command}", who, checked, idempotency_key=idempotency_key
        ).state

    def _command(
        self,
        incident_id: str,
        command: str,
        handler: Callable[..., Sequence[Event]],
        by: str,
        idempotency_key: str | None,
        *,
        close: bool = False,
        **arguments: Any,
    ) -> Incident:
        """Run ``handler(state, policy, by=who, **arguments)`` as ``review_<command>``."""
        policy = self._engine.policy
        return self._run(
            incident_id,
            command,
            by,
            lambda s, who: handler(s, policy, by=who, **arguments),
            idempotency_key,
            close=close,
        )

    def _edit(
        self,
        incident_id: str,
        command: str,
        handler: Callable[..., Sequence[Event]],
        by: str,
        idempotency_key: str | None,
        **arguments: Any,
    ) -> Review:
        """:meth:`_command`, answering with the review it left."""
        state = self._command(incident_id, command, handler, by, idempotency_key, **arguments)
        return self._review(state)

    # reading

    def _review(self, state: Incident) -> Review:
        """The review as the command just run left it (no second read of the store)."""
        review, _ = _rules.require(state, self._engine.policy)
        return review

    def get(self, incident_id: str) -> Review:
        """The incident's review (created at once if the trigger was reached before a tick).

        :raises NotFound: no review: excluded, or the trigger status not reached.
        """
        state = self._engine.load(incident_id).state
        review, _ = _rules.require(state, self._engine.policy)
        return review

    def open(self, incident_id: str, *, by: str, idempotency_key: str | None = None) -> Review:
        """Record the review's creation now instead of at the next ``tick()``."""
        policy = self._engine.policy
        return self._review(
            self._run(
                incident_id,
                "open",
                by,
                lambda s, _: _rules.require(s, policy)[1],
                idempotency_key,
            )
        )

    def participants(self, incident_id: str) -> tuple[Participant, ...]:
        """Role holders from the timeline (renounced ones marked), responders, configured extras."""
        timeline = self._engine.timeline(incident_id)
        return participants_from(timeline, self._engine.policy.review.participants)

    # commands

    def schedule(
        self,
        incident_id: str,
        meeting_at: datetime,
        *,
        by: str,
        extra: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> Review:
        """Set the meeting and its participants; ticks the recovery checklist's review item."""
        extras = check.names(extra, "extra")
        people = participants_from(
            self._engine.timeline(incident_id),
            (*self._engine.policy.review.participants, *extras),
        )
        return self._edit(
            incident_id,
            "schedule",
            _rules.decide_schedule,
            by,
            idempotency_key,
            meeting_at=meeting_at,
            participants=people,
        )

    def move(
        self,
        incident_id: str,
        status: ReviewStatus | str,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Review:
        """Move the review (draft → in_review → reviewed → closed), with its gates."""
        people = [p.person for p in self.participants(incident_id)]
        return self._edit(
            incident_id,
            "status",
            _rules.decide_move,
            by,
            idempotency_key,
            close=True,
            new=status,
            reason=reason,
            participants=people,
        )

    def set_text(
        self,
        incident_id: str,
        field: TextField | str,
        text: str,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Review:
        """Write the summary, impact, resolution or a customer-facing section."""
        return self._edit(
            incident_id, "text", _rules.decide_text, by, idempotency_key, field=field, text=text
        )

    def add_lesson(
        self,
        incident_id: str,
        kind: LessonKind | str,
        text: str,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Review:
        """Add what went well, what could be improved, or where we got lucky."""
        return self._edit(
            incident_id,
            "lesson",
            _rules.decide_lesson,
            by,
            idempotency_key,
            kind=kind,
            text=text,
        )

    def add_decision(
        self,
        incident_id: str,
        decision: str,
        *,
        reason: str,
        by: str,
        idempotency_key: str | None = None,
    ) -> Review:
        """Record a decision not to act, with its reason."""
        return self._edit(
            incident_id,
            "decision",
            _rules.decide_decision,
            by,
            idempotency_key,
            decision=decision,
            reason=reason,
        )

    def add_why(
        self,
        incident_id: str,
        text: str,
        *,
        by: str,
        chain: str = "main",
        problem: str = "",
        evidence: Sequence[Evidence] = (),
        idempotency_key: str | None = None,
    ) -> Review:
        """Add a why to a chain (a new chain needs its ``problem``); cite events by version."""
        return self._edit(
            incident_id,
            "why",
            _rules.decide_why,
            by,
            idempotency_key,
            chain=chain,
            text=text,
            problem=problem,
            evidence=evidence,
        )

    def conclude(
        self,
        incident_id: str,
        conclusion: str,
        *,
        by: str,
        chain: str = "main",
        idempotency_key: str | None = None,
    ) -> Review:
        """End a why chain in its conclusion (the chain's root cause)."""
        return self._edit(
            incident_id,
            "conclude",
            _rules.decide_conclude,
            by,
            idempotency_key,
            chain=chain,
            conclusion=conclusion,
        )

    def add_factor(
        self,
        incident_id: str,
        category: str,
        text: str,
        *,
        by: str,
        evidence: Sequence[Evidence] = (),
        idempotency_key: str | None = None,
    ) -> Review:
        """Record a contributing factor in one of the policy's categories."""
        return self._edit(
            incident_id,
            "factor",
            _rules.decide_factor,
            by,
            idempotency_key,
            category=category,
            text=text,
            evidence=evidence,
        )

    def pin(
        self,
        incident_id: str,
        versions: Sequence[int],
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Review:
        """Pin timeline events for the document, each with the hash it has now."""
        if isinstance(versions, str) or not isinstance(versions, Sequence):
            raise ValidationError(
                "versions", f"expected a list of versions, got {check.shown(versions)}"
            )
        if len(versions) > check.MAX_ITEMS:
            raise ValidationError("versions", f"more than {check.MAX_ITEMS} entries")
        timeline = {r.version: r for r in self._engine.timeline(incident_id)}
        pins = []
        for index, version in enumerate(versions):
            if not isinstance(version, int) or isinstance(version, bool):
                raise ValidationError(
                    f"versions[{index}]", f"expected a version, got {check.shown(version)}"
                )
            record = timeline.get(version)
            if record is None:
                raise ValidationError(f"versions[{index}]", f"no event at version {version!r}")
            pins.append(Pin(version, record.hash))
        return self._edit(incident_id, "pin", _rules.decide_pin, by, idempotency_key, pins=pins)

    def add_action(
        self,
        incident_id: str,
        title: str,
        *,
        owner: str,
        priority: Priority | str,
        type: ActionType | str,
        due: date,
        by: str,
        addresses: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> ActionItem:
        """Add an action item; it is exported to the tracker through the outbox."""
        state = self._command(
            incident_id,
            "action",
            _rules.decide_action,
            by,
            idempotency_key,
            title=title,
            owner=owner,
            priority=priority,
            type=type,
            due=due,
            addresses=addresses,
        )
        review = _rules.review_of(state)
        assert review is not None
        mine = [i for i in review.items if i.title == title.strip()]
        return mine[-1]

    def set_action_status(
        self,
        incident_id: str,
        item_id: str,
        status: ActionStatus | str,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> ActionItem:
        """Move an action item (open, in_progress, done, wont_do with a reason)."""
        state = self._command(
            incident_id,
            "action_status",
            _rules.decide_action_status,
            by,
            idempotency_key,
            item_id=item_id,
            status=status,
            reason=reason,
        )
        review = _rules.review_of(state)
        assert review is not None
        found = review.item(item_id)
        assert found is not None
        return found

    def give_feedback(
        self,
        incident_id: str,
        rating: Rating | str,
        *,
        by: str,
        text: str = "",
        idempotency_key: str | None = None,
    ) -> Review:
        """A participant's rating on Dispatch's five-point scale, plus free text (once)."""
        return self._edit(
            incident_id,
            "feedback",
            _rules.decide_feedback,
            by,
            idempotency_key,
            rating=rating,
            text=text,
        )

    # documents

    def related(self, incident_id: str, *, limit: int = 200) -> tuple[RelatedIncident, ...]:
        """Incidents sharing a service, a contributing-factor category or an attached runbook.

        Newest first, at most ``limit`` of the newest incidents looked at.
        """
        from incidentkit.runbooks.capability import attachments

        limit = check.integer(limit, "limit", 0, check.MAX_LIMIT)
        engine = self._engine
        state = engine.load(incident_id).state
        review = _rules.review_of(state)
        mine = {f.category for f in review.factors} if review else set()
        runbooks = {a.runbook for a in attachments(state)}
        found: list[RelatedIncident] = []
        summaries = engine.store.summaries(SummaryQuery())
        for summary in sorted(
            summaries, key=lambda s: (s.declared_at, s.incident_id), reverse=True
        )[:limit]:
            if summary.incident_id == incident_id:
                continue
            reasons = [f"service {s}" for s in sorted(set(summary.services) & set(state.services))]
            if mine or runbooks:
                other_state = engine.load(summary.incident_id).state
                other = _rules.review_of(other_state)
                shared = sorted(mine & {f.category for f in other.factors}) if other else []
                reasons.extend(f"factor {c}" for c in shared)
                theirs = {a.runbook for a in attachments(other_state)}
                reasons.extend(f"runbook {r}" for r in sorted(runbooks & theirs))
            if reasons:
                found.append(RelatedIncident(summary.incident_id, summary.title, tuple(reasons)))
        return tuple(found)

    def render(self, incident_id: str, *, format: str = "markdown") -> str:
        """The review document (``"markdown"`` or ``"html"``), byte-identical on re-render."""
        engine = self._engine
        state = engine.load(incident_id).state
        review, _ = _rules.require(state, engine.policy)
        timeline = engine.timeline(incident_id)
        related = self.related(incident_id)
        if format == "markdown":
            return render_markdown(state, review, timeline, engine.policy, related)
        if format == "html":
            return render_html(state, review, timeline, engine.policy, related)
        from incidentkit.errors import ValidationError

        raise ValidationError("format", f"{format!r} is not 'markdown' or 'html'")

    def ical(self, incident_id: str) -> str:
        """An iCalendar invite for the scheduled meeting (``pip install 'incidentkit[ical]'``)."""
        review = self.get(incident_id)
        if review.meeting_at is None:
            raise NotFound("review meeting", incident_id)
        try:
            import icalendar
        except ImportError as err:
            raise MissingExtra("icalendar", "ical", "review invites") from err
        state = self._engine.load(incident_id).state
        cal = icalendar.Calendar()
        cal.add("prodid", "-//incidentkit//review//EN")
        cal.add("version", "2.0")
        event = icalendar.Event()
        event.add("uid", f"review-{incident_id}@incidentkit")
        event.add("dtstamp", review.created_at)
        event.add("dtstart", review.meeting_at)
        event.add("duration", timedelta(hours=1))
        event.add("summary", f"Post-incident review: {state.id} {state.title}")
        for person in review.participants:
            event.add("attendee", f"MAILTO:{person.person}")
        cal.add_component(event)
        text: str = cal.to_ical().decode()
        return text


REVIEW = Capability(
    name="reviews",
    events=REVIEW_EVENTS,
    folds={event: _rules.fold for event in REVIEW_EVENTS},
    timers=(
        TimerSource(
            "reviews",
            _rules.due_events,
            _rules.next_due,
            reads=(
                "id",
                "status",
                "severity",
                "services",
                "resolved_at",
                "closed_at",
                "roles",
                "fired",
                "extensions",
            ),
        ),
    ),
    routes=(review_notifications,),
    follow_ups=(_rules.created_by_append,),
    outbox=(tracker_rows,),
    delivery={TOPIC: deliver_tracker},
    claims=tracker_claims,
    section=Reviews,
)
"""The built-in review capability (always registered)."""
