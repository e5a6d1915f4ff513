"""Pure rules of the review: fold rules, command handlers, timers."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs

from incidentkit.business_days import business_day_end
from incidentkit.checklists import RECOVERY, ItemState
from incidentkit.errors import GuardFailed, InvalidTransition, NotFound, ValidationError
from incidentkit.events import Event, RecordedEvent
from incidentkit.incident import Incident, ItemStatus, decide_close, evolve_state
from incidentkit.lifecycle import Status
from incidentkit.policy import Policy
from incidentkit.review.config import due_date
from incidentkit.review.events import (
    ActionItemAdded,
    ActionItemExported,
    ActionItemReminded,
    ActionItemStatusChanged,
    DecisionRecorded,
    FactorAdded,
    FeedbackGiven,
    FeedbackRequested,
    LessonAdded,
    ReviewCreated,
    ReviewReminderFired,
    ReviewScheduled,
    ReviewStatusChanged,
    ReviewTextSet,
    TimelinePinned,
    WhyAdded,
    WhyChainConcluded,
)
from incidentkit.review.model import (
    INITIAL_REVIEW_STATUS,
    REVIEW_TRANSITIONS,
    ActionItem,
    ActionStatus,
    ActionType,
    Evidence,
    Factor,
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
from incidentkit.timers import SYSTEM_ACTOR

NAME = "reviews"
SCHEDULE_ITEM = "schedule-review"


def review_of(state: Incident) -> Review | None:
    """The incident's review, if one was created."""
    found = state.extensions.get(NAME)
    return found if isinstance(found, Review) else None


def _put(state: Incident, review: Review) -> Incident:
    return evolve_state(state, extensions={**state.extensions, NAME: review})


def _text(value: object, field: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"expected text, got {type(value).__name__}")
    text = value.strip()
    if not text and not allow_empty:
        raise ValidationError(field, "must not be empty")
    return text


def _enum(kind: type[Any], value: object, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise ValidationError(field, f"{value!r} is not one of {allowed}") from None


# --- folds ---------------------------------------------------------------------


def _replace_item(review: Review, item: ActionItem) -> Review:
    return attrs.evolve(review, items=tuple(item if i.id == item.id else i for i in review.items))


def fold(state: Incident, record: RecordedEvent) -> Incident:
    """The one fold rule of every review event."""
    event = record.event
    at = record.recorded_at
    if isinstance(event, ReviewCreated):
        review = Review(
            status=INITIAL_REVIEW_STATUS,
            created_at=at,
            trigger_at=event.trigger_at,
            due_by=event.due_by,
        )
        return evolve_state(_put(state, review), fired=state.fired | {event.key})
    found = review_of(state)
    if found is None:
        raise ValueError(f"{record.key}: {event.tag} before reviews_created")
    review = found
    match event:
        case ReviewScheduled():
            review = attrs.evolve(
                review, meeting_at=event.meeting_at, participants=event.participants
            )
            state = _tick_schedule_item(state, event.by, at)
        case ReviewStatusChanged():
            review = attrs.evolve(
                review,
                status=event.new,
                reviewed_at=at if event.new is ReviewStatus.REVIEWED else review.reviewed_at,
                closed_at=at if event.new is ReviewStatus.CLOSED else None,
            )
        case ReviewTextSet():
            review = attrs.evolve(review, texts={**review.texts, event.field: event.text})
        case LessonAdded():
            review = attrs.evolve(review, lessons=(*review.lessons, (event.kind, event.text)))
        case DecisionRecorded():
            review = attrs.evolve(
                review, decisions=(*review.decisions, (event.decision, event.reason))
            )
        case WhyAdded():
            why = Why(event.text, event.evidence)
            chain = review.chain(event.chain)
            if chain is None:
                chains = (*review.chains, WhyChain(event.chain, event.problem, (why,)))
            else:
                grown = attrs.evolve(chain, whys=(*chain.whys, why))
                chains = tuple(grown if c.name == chain.name else c for c in review.chains)
            review = attrs.evolve(review, chains=chains)
        case WhyChainConcluded():
            review = attrs.evolve(
                review,
                chains=tuple(
                    attrs.evolve(c, conclusion=event.conclusion) if c.name == event.chain else c
                    for c in review.chains
                ),
            )
        case FactorAdded():
            review = attrs.evolve(review, factors=(*review.factors, event.factor))
        case TimelinePinned():
            known = {p.version for p in review.pins}
            pins = (*review.pins, *(p for p in event.pins if p.version not in known))
            review = attrs.evolve(review, pins=tuple(sorted(pins, key=lambda p: p.version)))
        case ActionItemAdded():
            review = attrs.evolve(review, items=(*review.items, event.item))
        case ActionItemStatusChanged():
            item = review.item(event.item_id)
            assert item is not None
            done = at if event.status is ActionStatus.DONE else None
            item = attrs.evolve(item, status=event.status, reason=event.reason, done_at=done)
            review = _replace_item(review, item)
        case ActionItemExported():
            item = review.item(event.item_id)
            assert item is not None
            review = _replace_item(review, attrs.evolve(item, external_ref=event.ref))
        case ActionItemReminded():
            item = review.item(event.item_id)
            assert item is not None
            review = _replace_item(review, attrs.evolve(item, reminded_on=event.day))
            state = evolve_state(state, fired=state.fired | {event.key})
        case ReviewReminderFired():
            state = evolve_state(state, fired=state.fired | {event.key})
        case FeedbackRequested():
            review = attrs.evolve(
                review, feedback_requested=(*review.feedback_requested, event.participant)
            )
        case FeedbackGiven():
            from incidentkit.review.model import Feedback

            given = Feedback(event.participant, event.rating, event.text)
            review = attrs.evolve(review, feedback=(*review.feedback, given))
    return _put(state, review)


def _tick_schedule_item(state: Incident, by: str, at: datetime) -> Incident:
    """The recovery checklist's "Schedule post-incident review" ticks itself."""
    items = state.checklists.get(RECOVERY.name)
    if items is None or SCHEDULE_ITEM not in items:
        return state
    if items[SCHEDULE_ITEM].state is not ItemState.PENDING:
        return state
    updated = {**items, SCHEDULE_ITEM: ItemStatus(ItemState.DONE, by, at, "automatic")}
    return evolve_state(state, checklists={**state.checklists, RECOVERY.name: updated})


# --- creation ------------------------------------------------------------------


def trigger_at(state: Incident, policy: Policy) -> datetime | None:
    """When the incident reached the review trigger (``None``: not reached, or excluded)."""
    if state.is_open:  # neither trigger (resolved, closed) is reached yet: the common case
        return None
    config = policy.review
    if config.excludes(state.severity, state.services):
        return None
    if config.trigger is Status.RESOLVED and state.status in (Status.RESOLVED, Status.CLOSED):
        return state.resolved_at or state.closed_at
    if config.trigger is Status.CLOSED and state.status is Status.CLOSED:
        return state.closed_at
    return None


def creation(state: Incident, policy: Policy) -> list[Event]:
    """``[ReviewCreated]`` when the trigger is reached and no review exists, else ``[]``."""
    if review_of(state) is not None:
        return []
    at = trigger_at(state, policy)
    if at is None:
        return []
    rule = policy.review.rule(state.severity)
    due = due_date(rule, at, policy.zone, policy.business_days)
    return [ReviewCreated(by=SYSTEM_ACTOR, trigger_at=at, due_by=due)]


def created_by_append(policy: Policy, state: Incident) -> list[Event]:
    """The follow-up of every append: the review, created by the append that reaches the trigger.

    So the resolve (or close) that first reaches the configured status holds
    the ``reviews_created`` event too: one append, whichever replica wins it.
    """
    if state.is_open:  # no trigger is reached while open: most appends stop here
        return []
    return creation(state, policy)


def require(state: Incident, policy: Policy) -> tuple[Review, list[Event]]:
    """The review (created now if due), and the creation event to prepend.

    :raises NotFound: the incident gets no review, or has not reached the trigger yet.
    """
    review = review_of(state)
    if review is not None:
        return review, []
    created = creation(state, policy)
    if not created:
        why = (
            "excluded from review by the policy"
            if policy.review.excludes(state.severity, state.services)
            else f"created when the incident is {policy.review.trigger.value}"
        )
        raise NotFound("review", f"{state.id} ({why})")
    event = created[0]
    assert isinstance(event, ReviewCreated)
    review = Review(
        status=INITIAL_REVIEW_STATUS,
        created_at=event.trigger_at,
        trigger_at=event.trigger_at,
        due_by=event.due_by,
    )
    return review, created


def _editable(state: Incident, review: Review, action: str) -> None:
    if review.status is ReviewStatus.CLOSED:
        raise InvalidTransition(state.id, f"{action} on the review of", review.status.value, ())


# --- command handlers ------------------------------------------------------------


def decide_schedule(
    state: Incident,
    policy: Policy,
    *,
    by: str,
    meeting_at: datetime,
    participants: Sequence[Participant],
) -> list[Event]:
    """Set (or move) the meeting; the document goes out ``document_ahead`` before it."""
    review, events = require(state, policy)
    _editable(state, review, "schedule")
    if not isinstance(meeting_at, datetime) or meeting_at.tzinfo is None:
        raise ValidationError("meeting_at", "must be an aware datetime")
    meeting_at = meeting_at.astimezone(UTC)
    if meeting_at < review.trigger_at:
        raise ValidationError("meeting_at", "must be after the incident was resolved")
    document_at = meeting_at - policy.review.document_ahead
    if review.meeting_at == meeting_at and review.participants == tuple(participants):
        return events
    return [
        *events,
        ReviewScheduled(
            by=by,
            meeting_at=meeting_at,
            document_at=document_at,
            participants=tuple(participants),
        ),
    ]


def can_move(review: Review, new: ReviewStatus) -> tuple[str, ...]:
    """Why ``review`` may not move to ``new`` (empty: it may)."""
    reasons: list[str] = []
    if new not in REVIEW_TRANSITIONS[review.status]:
        allowed = ", ".join(sorted(s.value for s in REVIEW_TRANSITIONS[review.status])) or "none"
        reasons.append(
            f"a {review.status.value} review cannot become {new.value} (allowed: {allowed})"
        )
        return tuple(reasons)
    if new is ReviewStatus.IN_REVIEW and review.why_count == 0 and not review.factors:
        reasons.append("record at least one why or contributing factor first")
    if new is ReviewStatus.CLOSED:
        for item in review.items:
            if item.priority in (Priority.P0, Priority.P1) and item.status.is_open:
                reasons.append(
                    f"action item {item.id} ({item.priority.value}) is {item.status.value}: "
                    "finish it, or mark it wont_do with a reason"
                )
    return tuple(reasons)


def decide_move(
    state: Incident,
    policy: Policy,
    *,
    by: str,
    new: ReviewStatus | str,
    reason: object = "",
    participants: Sequence[str] = (),
) -> list[Event]:
    """Move the review along its lifecycle; closing it may close the incident."""
    review, events = require(state, policy)
    target = _enum(ReviewStatus, new, "status")
    why = _text(reason, "reason", allow_empty=True)
    refused = can_move(review, target)
    if refused:
        if target not in REVIEW_TRANSITIONS[review.status]:
            allowed = sorted(s.value for s in REVIEW_TRANSITIONS[review.status])
            raise InvalidTransition(
                state.id, f"move the review to {target.value} on", review.status.value, allowed
            )
        raise GuardFailed(state.id, f"move the review to {target.value} on", refused)
    out: list[Event] = [
        *events,
        ReviewStatusChanged(by=by, old=review.status, new=target, reason=why),
    ]
    if target is ReviewStatus.CLOSED:
        asked = set(review.feedback_requested)
        out.extend(
            FeedbackRequested(by=SYSTEM_ACTOR, participant=p)
            for p in participants
            if p not in asked
        )
        if policy.review.close_incident and state.status is Status.RESOLVED:
            # The incident closes under the same gate as ``kit.close``: with
            # recovery items still open it stays resolved (close it when they
            # are done); the review closes either way.
            with contextlib.suppress(GuardFailed):
                out.extend(decide_close(state, policy, by=by, reason="post-incident review closed"))
    return out


def decide_text(
    state: Incident, policy: Policy, *, by: str, field: TextField | str, text: object
) -> list[Event]:
    """Write a free-text section (summary, impact, resolution, the customer message)."""
    review, events = require(state, policy)
    _editable(state, review, "edit")
    name = _enum(TextField, field, "field")
    value = _text(text, "text", allow_empty=True)
    if review.texts.get(name, "") == value:
        return events
    return [*events, ReviewTextSet(by=by, field=name, text=value)]


def decide_lesson(
    state: Incident, policy: Policy, *, by: str, kind: LessonKind | str, text: object
) -> list[Event]:
    """Add what went well, what could be improved, or where we got lucky."""
    review, events = require(state, policy)
    _editable(state, review, "add a lesson")
    lesson = _enum(LessonKind, kind, "kind")
    value = _text(text, "text")
    if (lesson, value) in review.lessons:
        return events
    return [*events, LessonAdded(by=by, kind=lesson, text=value)]


def decide_decision(
    state: Incident, policy: Policy, *, by: str, decision: object, reason: object
) -> list[Event]:
    """Record a decision not to act, with its reason."""
    review, events = require(state, policy)
    _editable(state, review, "record a decision")
    return [
        *events,
        DecisionRecorded(
            by=by, decision=_text(decision, "decision"), reason=_text(reason, "reason")
        ),
    ]


def _evidence(state: Incident, evidence: Sequence[Evidence]) -> tuple[Evidence, ...]:
    for index, item in enumerate(evidence):
        if not isinstance(item, Evidence):
            raise ValidationError(f"evidence[{index}]", "expected an Evidence")
        if item.version is None and not item.link:
            raise ValidationError(f"evidence[{index}]", "name an event version or a link")
        if item.version is not None and not 1 <= item.version <= state.version:
            raise ValidationError(
                f"evidence[{index}].version",
                f"the timeline has versions 1 to {state.version}, not {item.version}",
            )
    return tuple(evidence)


def decide_why(
    state: Incident,
    policy: Policy,
    *,
    by: str,
    chain: object,
    text: object,
    problem: object = "",
    evidence: Sequence[Evidence] = (),
) -> list[Event]:
    """Add a why to a chain (a new chain needs its ``problem``)."""
    review, events = require(state, policy)
    _editable(state, review, "add a why")
    name = _text(chain, "chain")
    existing = review.chain(name)
    statement = _text(problem, "problem", allow_empty=existing is not None)
    if existing is not None and existing.conclusion:
        raise InvalidTransition(
            state.id, f"add a why to the concluded chain {name!r} of", "concluded"
        )
    return [
        *events,
        WhyAdded(
            by=by,
            chain=name,
            text=_text(text, "text"),
            problem=statement if existing is None else "",
            evidence=_evidence(state, evidence),
        ),
    ]


def decide_conclude(
    state: Incident, policy: Policy, *, by: str, chain: object, conclusion: object
) -> list[Event]:
    """End a why chain in its conclusion."""
    review, events = require(state, policy)
    _editable(state, review, "conclude a chain")
    name = _text(chain, "chain")
    found = review.chain(name)
    if found is None:
        raise NotFound("why chain", name, [c.name for c in review.chains])
    text = _text(conclusion, "conclusion")
    if found.conclusion == text:
        return events
    return [*events, WhyChainConcluded(by=by, chain=name, conclusion=text)]


def decide_factor(
    state: Incident,
    policy: Policy,
    *,
    by: str,
    category: object,
    text: object,
    evidence: Sequence[Evidence] = (),
) -> list[Event]:
    """Record a contributing factor in one of the policy's categories."""
    review, events = require(state, policy)
    _editable(state, review, "add a factor")
    vocabulary = policy.review.factor_categories
    if category not in vocabulary:
        raise ValidationError("category", f"{category!r} is not one of {', '.join(vocabulary)}")
    assert isinstance(category, str)
    factor = Factor(f"F{len(review.factors) + 1}", category, _text(text, "text"), ())
    factor = attrs.evolve(factor, evidence=_evidence(state, evidence))
    return [*events, FactorAdded(by=by, factor=factor)]


def decide_pin(state: Incident, policy: Policy, *, by: str, pins: Sequence[Pin]) -> list[Event]:
    """Pin timeline events (by version, with the hash read now) for the document."""
    review, events = require(state, policy)
    _editable(state, review, "pin events")
    known = {p.version for p in review.pins}
    fresh = tuple(p for p in pins if p.version not in known)
    if not fresh:
        return events
    return [*events, TimelinePinned(by=by, pins=fresh)]


def decide_action(
    state: Incident,
    policy: Policy,
    *,
    by: str,
    title: object,
    owner: object,
    priority: Priority | str,
    type: ActionType | str,
    due: date,
    addresses: Sequence[str] = (),
) -> list[Event]:
    """Add an action item; ``addresses`` must name existing whys or factors."""
    review, events = require(state, policy)
    _editable(state, review, "add an action item")
    if isinstance(due, datetime) or not isinstance(due, date):
        raise ValidationError("due", f"expected a date, got {due!r}")
    known = {f"factor:{f.id}" for f in review.factors} | {
        f"why:{c.name}:{n}" for c in review.chains for n in range(1, len(c.whys) + 1)
    }
    for index, ref in enumerate(addresses):
        if ref not in known:
            raise ValidationError(
                f"addresses[{index}]", f"{ref!r} names no why or factor (known: {sorted(known)})"
            )
    person = _text(owner, "owner").removeprefix("@")
    item = ActionItem(
        id=f"A{len(review.items) + 1}",
        title=_text(title, "title"),
        owner=person,
        priority=_enum(Priority, priority, "priority"),
        type=_enum(ActionType, type, "type"),
        due=due,
        addresses=tuple(addresses),
    )
    return [*events, ActionItemAdded(by=by, item=item)]


def decide_action_status(
    state: Incident,
    policy: Policy,
    *,
    by: str,
    item_id: str,
    status: ActionStatus | str,
    reason: object = "",
) -> list[Event]:
    """Move an action item; ``wont_do`` needs a reason. Allowed after the review closed."""
    review, events = require(state, policy)
    item = review.item(item_id)
    if item is None:
        raise NotFound("action item", item_id, [i.id for i in review.items])
    new = _enum(ActionStatus, status, "status")
    why = _text(reason, "reason", allow_empty=True)
    if new is ActionStatus.WONT_DO and not why:
        raise ValidationError("reason", "wont_do needs a reason (a decision not to act)")
    if item.status is new and item.reason == why:
        return events
    return [*events, ActionItemStatusChanged(by=by, item_id=item.id, status=new, reason=why)]


def decide_feedback(
    state: Incident, policy: Policy, *, by: str, rating: Rating | str, text: object = ""
) -> list[Event]:
    """Record ``by``'s feedback (once per participant)."""
    review, events = require(state, policy)
    names = {p.person for p in review.participants} | set(review.feedback_requested)
    if by not in names:
        raise ValidationError("by", f"{by!r} is not a participant of this review")
    if any(f.participant == by for f in review.feedback):
        raise InvalidTransition(state.id, "give feedback twice on the review of", "given")
    score = _enum(Rating, rating, "rating")
    return [
        *events,
        FeedbackGiven(
            by=by, participant=by, rating=score, text=_text(text, "text", allow_empty=True)
        ),
    ]


# --- timers --------------------------------------------------------------------


def _local_midnight(day: date, policy: Policy) -> datetime:
    return datetime.combine(day, time(0), tzinfo=policy.zone).astimezone(UTC)


def _review_targets(state: Incident, review: Review) -> tuple[str, ...]:
    people = [state.commander] if state.commander else []
    people.extend(p.person for p in review.participants if p.renounced_at is None)
    return tuple(dict.fromkeys(p for p in people if p))


def _pending(state: Incident, policy: Policy) -> list[tuple[datetime, Event]]:
    """Every review timer not fired yet, with the instant it becomes due."""
    review = review_of(state)
    if review is None:
        at = trigger_at(state, policy)
        if at is None:
            return []
        return [(at, creation(state, policy)[0])] if creation(state, policy) else []
    pending: list[tuple[datetime, Event]] = []
    if review.status is not ReviewStatus.CLOSED:
        if review.meeting_at is not None:
            document_at = review.meeting_at - policy.review.document_ahead
            key = f"reviews:document:{review.meeting_at.isoformat()}"
            if key not in state.fired:
                pending.append(
                    (
                        document_at,
                        ReviewReminderFired(
                            by=SYSTEM_ACTOR,
                            key=key,
                            reminder="document",
                            due_at=document_at,
                            targets=_review_targets(state, review),
                        ),
                    )
                )
        if review.status in (ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW):
            ic = (state.commander,) if state.commander else ()
            if "reviews:overdue" not in state.fired:
                pending.append(
                    (
                        review.due_by,
                        ReviewReminderFired(
                            by=SYSTEM_ACTOR,
                            key="reviews:overdue",
                            reminder="overdue",
                            due_at=review.due_by,
                            targets=ic,
                        ),
                    )
                )
            escalate_at = business_day_end(review.due_by, policy.zone, policy.business_days)
            if "reviews:escalated" not in state.fired:
                pending.append(
                    (
                        escalate_at,
                        ReviewReminderFired(
                            by=SYSTEM_ACTOR,
                            key="reviews:escalated",
                            reminder="escalated",
                            due_at=escalate_at,
                            targets=tuple(dict.fromkeys((*ic, *policy.review.escalate_to))),
                        ),
                    )
                )
    for item in review.items:
        if not item.status.is_open:
            continue
        first = item.due + timedelta(days=1)
        if item.reminded_on is not None and item.reminded_on >= first:
            first = item.reminded_on + timedelta(days=1)
        at = _local_midnight(first, policy)
        pending.append(
            (
                at,
                ActionItemReminded(
                    by=SYSTEM_ACTOR,
                    key=f"reviews:action:{item.id}:{first.isoformat()}",
                    item_id=item.id,
                    day=first,
                    due_at=at,
                ),
            )
        )
    return pending


def due_events(state: Incident, policy: Policy, now: datetime) -> list[Event]:
    """The review timers due at ``now``: creation, document, overdue, escalation, action items."""
    out: list[Event] = []
    for at, event in _pending(state, policy):
        if now < at:
            continue
        if isinstance(event, ActionItemReminded):
            today = now.astimezone(policy.zone).date()
            # One reminder a day, for the day of the tick: no backlog of missed days.
            key = f"reviews:action:{event.item_id}:{today.isoformat()}"
            event = attrs.evolve(event, key=key, day=today)
        out.append(event)
    return out


def next_due(state: Incident, policy: Policy) -> datetime | None:
    """The earliest instant :func:`due_events` may return something."""
    found = [at for at, _ in _pending(state, policy)]
    return min(found) if found else None
