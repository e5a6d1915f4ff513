"""The ``Incident`` aggregate: state as a pure fold over events, and pure commands.

Two kinds of pure function live here:

* :func:`apply` / :func:`fold`: ``(state, recorded event) -> state``;
* ``decide_…`` command handlers: ``(state, policy, now, arguments) -> events``.
  They validate and guard; a refused command raises and returns nothing.

:class:`~incidentkit.kit.IncidentKit` wraps them with loading, authorization,
appending and the outbox.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, get_args

import attrs

from incidentkit import _validate as check
from incidentkit._time import to_utc
from incidentkit.checklists import DECLARATION, ChecklistTemplate, ItemState
from incidentkit.errors import GuardFailed, InvalidTransition, NotFound, ValidationError
from incidentkit.events import (
    Acknowledged,
    AnyEvent,
    ChannelOpened,
    ChecklistItemChanged,
    Closed,
    Conclusion,
    Declared,
    EscalationFired,
    Event,
    HypothesisRecorded,
    MitigationCompleted,
    MitigationRequested,
    NoteAdded,
    NotificationFailed,
    PhaseEntered,
    PublicStatus,
    RecordedEvent,
    ReminderFired,
    Reopened,
    Resolved,
    RoleAssigned,
    RoleHandedOver,
    RoleReleased,
    SeverityChanged,
    Source,
    StatusChanged,
    TargetMissed,
    UpdatePosted,
)
from incidentkit.lifecycle import (
    INITIAL_STATUS,
    Phase,
    Status,
    allowed_transitions,
    can_transition,
)
from incidentkit.policy import Policy
from incidentkit.roles import Role
from incidentkit.severity import Severity
from incidentkit.timers import escalation_events, missed_targets

__all__ = [
    "KIT_ONLY_EVENTS",
    "Incident",
    "ItemStatus",
    "apply",
    "apply_with_changes",
    "channel_name",
    "command_of",
    "decide_from_event",
    "fold",
    "register_fold",
    "slugify",
]


@attrs.frozen
class ItemStatus:
    """A checklist item's state on one incident, with who closed it, when and why."""

    state: ItemState = ItemState.PENDING
    by: str | None = None
    at: datetime | None = None
    reason: str = ""


_COMMANDER: str = Role.INCIDENT_COMMANDER.value
"""The commander's role name (an enum's ``.value`` is a Python-level lookup)."""


@attrs.frozen(slots=False)
class Incident:
    """An incident's current state: the fold of its timeline.

    Timestamps are aware UTC. ``started_at`` is when the problem began (if
    known), ``detected_at`` when it was noticed, ``declared_at`` when the
    incident was declared (the MTTR clock starts here unless a metric basis
    says otherwise).
    """

    id: str
    version: int
    title: str
    severity: Severity
    status: Status
    phase: Phase
    source: Source
    declared_by: str
    declared_at: datetime
    detected_at: datetime
    started_at: datetime | None = None
    services: tuple[str, ...] = ()
    description: str = ""
    channel: str = ""
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    identified_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    last_update_at: datetime | None = None
    public_status: PublicStatus | None = None
    updated_at: datetime | None = None
    roles: Mapping[str, str] = attrs.field(factory=dict)
    checklists: Mapping[str, Mapping[str, ItemStatus]] = attrs.field(factory=dict)
    templates: tuple[ChecklistTemplate, ...] = ()
    phase_entered: Mapping[Phase, datetime] = attrs.field(factory=dict)
    fired: frozenset[str] = frozenset()
    paged: tuple[str, ...] = ()
    hypotheses: tuple[HypothesisRecorded, ...] = ()
    pending_mitigations: Mapping[str, str] = attrs.field(factory=dict)
    resolution_summary: str = ""
    reopen_count: int = 0
    reasons: tuple[str, ...] = ()
    severity_since: datetime | None = None
    """When the current severity took effect: escalation for it starts here."""
    channel_opened_at: datetime | None = None
    escalation_acked_at: datetime | None = None
    """When the current escalation was acknowledged; raising severity clears it.

    ``acknowledged_at`` keeps the first acknowledgement (the MTTA milestone).
    """
    escalation_acked_by: str | None = None
    """Who acknowledged the current escalation last (``acknowledged_by`` keeps the first)."""
    extensions: Mapping[str, Any] = attrs.field(factory=dict)
    """Capability state, by capability name (see :func:`register_fold`)."""

    @property
    def commander(self) -> str | None:
        """The incident commander, if one is assigned."""
        return self.roles.get(_COMMANDER)

    @property
    def is_open(self) -> bool:
        """True until resolved or closed."""
        status = self.status
        return status is not Status.RESOLVED and status is not Status.CLOSED

    def holder(self, role: Role | str) -> str | None:
        """Who holds ``role`` (``None`` when vacant)."""
        return self.roles.get(role.value if isinstance(role, Role) else role)

    def roles_of(self, person: str) -> tuple[str, ...]:
        """Every role ``person`` holds."""
        return tuple(role for role, holder in self.roles.items() if holder == person)

    def template(self, name: str) -> ChecklistTemplate:
        """The checklist template frozen at declaration."""
        for template in self.templates:
            if template.name == name:
                return template
        raise NotFound("checklist", name, [t.name for t in self.templates])

    def item(self, checklist: str, key: str) -> ItemStatus:
        """One checklist item's status; :class:`NotFound` names the known keys."""
        self.template(checklist).item(key)
        return self.checklists[checklist][key]

    def open_items(self, checklist: str, *, required_only: bool = True) -> tuple[str, ...]:
        """Keys of items still pending (required ones only, by default)."""
        template = self.template(checklist)
        items = self.checklists.get(checklist, {})
        return tuple(
            item.key
            for item in template.items
            if (item.required or not required_only)
            and items.get(item.key, ItemStatus()).state is ItemState.PENDING
        )


_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 40) -> str:
    """Lowercase, dashes for anything else, cut at a word boundary.

    >>> slugify("API returning 500 errors!")
    'api-returning-500-errors'
    """
    slug = _SLUG.sub("-", text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug or "incident"


def channel_name(policy: Policy, declared_at: datetime, title: str) -> str:
    """``#incident-YYYY-MM-DD-<slug>``, dated in the policy's zone.

    >>> from datetime import datetime, timezone
    >>> channel_name(Policy.default(), datetime(2024, 11, 20, 22, 30, tzinfo=timezone.utc),
    ...              "API returning 500 errors")
    '#incident-2024-11-20-api-returning-500-errors'
    """
    day = declared_at.astimezone(policy.zone).date().isoformat()
    return f"{policy.channel_prefix}{day}-{slugify(title)}"


# --- the fold ---------------------------------------------------------------

_AUTOMATIC_ITEMS: Mapping[str, str] = {
    "declared": "assign-severity",
    "declared:timer": "start-mttr-timer",
    "commander": "assign-commander",
    "update": "post-initial-update",
    "channel": "create-channel",
}


def _auto_check(state: Incident, trigger: str, by: str, at: datetime) -> Incident:
    """Close a declaration-checklist item that an event completes by itself."""
    key = _AUTOMATIC_ITEMS[trigger]
    items = state.checklists.get(DECLARATION.name)
    if items is None or key not in items or items[key].state is not ItemState.PENDING:
        return state
    updated = {**items, key: ItemStatus(ItemState.DONE, by, at, "automatic")}
    return evolve_state(state, checklists={**state.checklists, DECLARATION.name: updated})


def _auto_check_changes(
    changes: dict[str, Any], state: Incident, trigger: str, by: str, at: datetime
) -> None:
    """:func:`_auto_check` as a change to ``changes`` (for the single evolve of ``apply``)."""
    key = _AUTOMATIC_ITEMS[trigger]
    items = state.checklists.get(DECLARATION.name)
    if items is None or key not in items or items[key].state is not ItemState.PENDING:
        return
    updated = {**items, key: ItemStatus(ItemState.DONE, by, at, "automatic")}
    changes["checklists"] = {**state.checklists, DECLARATION.name: updated}


_PENDING = ItemStatus()
"""Every item's state at declaration (frozen, so one instance serves every incident)."""


def _declare(incident_id: str, record: RecordedEvent, event: Declared) -> Incident:
    at = record.recorded_at
    state = Incident(
        id=incident_id,
        version=record.version,
        title=event.title,
        severity=event.severity,
        status=INITIAL_STATUS,
        phase=Phase.ASSESS,
        source=event.source,
        declared_by=event.by,
        declared_at=event.declared_at,
        detected_at=event.detected_at or event.declared_at,
        started_at=event.started_at,
        services=event.services,
        description=event.description,
        channel=event.channel,
        updated_at=at,
        templates=event.checklists,
        checklists={
            template.name: dict.fromkeys((item.key for item in template.items), _PENDING)
            for template in event.checklists
        },
        phase_entered={Phase.ASSESS: event.declared_at},
        reasons=event.reasons,
        severity_since=event.declared_at,
    )
    state = _auto_check(state, "declared", event.by, event.declared_at)
    return _auto_check(state, "declared:timer", event.by, event.declared_at)


FoldRule = Callable[["Incident", RecordedEvent], "Incident"]
"""How a capability's event changes the state after the envelope fields are set."""


def _state_evolver() -> Callable[..., Incident]:
    """``attrs.evolve`` for :class:`Incident`: one copy of its ``__dict__``, not ``__init__``.

    The fold makes one new state per event, and ``attrs.evolve`` walks all
    of ``Incident``'s fields and calls its ``__init__`` each time; this
    copies the instance dictionary (``Incident`` is frozen but not slotted,
    for this) and sets the few fields that change. ``Incident`` has no
    validators or converters, so the result is equal to ``attrs.evolve``'s
    (a test checks it).
    """
    fields = attrs.fields(Incident)
    if any(a.validator is not None or a.converter is not None for a in fields):
        raise TypeError("Incident gained a validator or converter: use attrs.evolve")
    names = frozenset(a.name for a in fields)
    new = object.__new__

    def evolve_state(state: Incident, /, **changes: Any) -> Incident:
        made = new(Incident)
        values = made.__dict__
        values.update(state.__dict__)
        if not names.issuperset(changes):
            raise TypeError(f"Incident has no field(s) {sorted(set(changes) - names)}")
        values.update(changes)
        return made

    return evolve_state


evolve_state: Callable[..., Incident] = _state_evolver()
"""``attrs.evolve(state, **changes)`` for an :class:`Incident`, faster (the fold's hot path)."""

_FOLD_RULES: dict[type[Event], FoldRule] = {}


def register_fold(event_type: type[Event], rule: FoldRule) -> None:
    """Teach :func:`apply` a capability's event (the built-in events have theirs).

    The rule receives the state with ``version`` and ``updated_at`` already
    moved to the record's; it keeps its own data in ``state.extensions``.

    :raises ValidationError: when the type is a built-in event or already has another rule.
    """
    if event_type in get_args(AnyEvent):
        raise ValidationError("event", f"{event_type.__name__} is a built-in event")
    current = _FOLD_RULES.get(event_type)
    if current is not None and current is not rule:
        raise ValidationError("event", f"{event_type.__name__} already has a fold rule")
    _FOLD_RULES[event_type] = rule


def apply(state: Incident | None, record: RecordedEvent) -> Incident:
    """Return the state after ``record``. Pure; never raises for a well-formed timeline.

    :raises ValueError: when the first event is not a declaration or a later one is.
    """
    return apply_with_changes(state, record)[0]


def apply_with_changes(
    state: Incident | None, record: RecordedEvent
) -> tuple[Incident, Collection[str] | None]:
    """:func:`apply`, and the names of the fields it changed besides ``version`` and ``updated_at``.

    Every field not named is the same object as in ``state``. ``None``: not
    known (a declaration, or a capability's fold rule), so any may have changed.

    :raises ValueError: as :func:`apply`.
    """
    event = record.event
    if state is None:
        if not isinstance(event, Declared):
            raise ValueError(f"{record.key}: a timeline must start with 'declared'")
        return _declare(record.incident_id, record, event), None
    if isinstance(event, Declared):
        raise ValueError(f"{record.key}: 'declared' may only be the first event")
    at = record.recorded_at
    # One evolve per event: each case names what changes besides the version.
    changes: dict[str, Any]
    match event:
        case NoteAdded() | NotificationFailed():  # the most frequent event first
            changes = {}
        case Acknowledged():
            changes = {
                "acknowledged_at": state.acknowledged_at or at,
                "acknowledged_by": state.acknowledged_by or event.by,
                "escalation_acked_at": at,
                "escalation_acked_by": event.by,
            }
        case SeverityChanged():
            # Escalation restarts under the new severity's policy: its keys fire
            # afresh, and a raise needs a new acknowledgement to stop it.
            raised = event.new.is_worse_than(event.old)
            changes = {
                "severity": event.new,
                "severity_since": at,
                "fired": frozenset(k for k in state.fired if not k.startswith("escalation:")),
                "escalation_acked_at": None if raised else state.escalation_acked_at,
                "escalation_acked_by": None if raised else state.escalation_acked_by,
            }
        case RoleAssigned():
            changes = {"roles": {**state.roles, event.role: event.person}}
            if event.role == Role.INCIDENT_COMMANDER.value:
                _auto_check_changes(changes, state, "commander", event.by, at)
        case RoleHandedOver():
            changes = {"roles": {**state.roles, event.role: event.to_person}}
        case RoleReleased():
            changes = {"roles": {r: p for r, p in state.roles.items() if r != event.role}}
        case StatusChanged():
            identified = state.identified_at
            if event.new is Status.IDENTIFIED and identified is None:
                identified = at
            changes = {"status": event.new, "identified_at": identified}
        case PhaseEntered():
            entered = dict(state.phase_entered)
            entered.setdefault(event.phase, at)
            changes = {"phase": event.phase, "phase_entered": entered}
        case HypothesisRecorded():
            identified = state.identified_at
            if event.conclusion is Conclusion.CONFIRMED and identified is None:
                identified = at
            changes = {"hypotheses": (*state.hypotheses, event), "identified_at": identified}
        case ChecklistItemChanged():
            items = dict(state.checklists.get(event.checklist, {}))
            items[event.item] = ItemStatus(event.state, event.by, at, event.reason)
            changes = {"checklists": {**state.checklists, event.checklist: items}}
        case UpdatePosted():
            if event.counts_for_cadence:
                changes = {"last_update_at": at, "public_status": event.status}
                _auto_check_changes(changes, state, "update", event.by, at)
            else:  # for an audience the cadence is not for: on the timeline only
                changes = {}
        case ChannelOpened():
            changes = {"channel": event.channel, "channel_opened_at": at}
            _auto_check_changes(changes, state, "channel", event.by, at)
        case MitigationRequested():
            changes = {
                "pending_mitigations": {**state.pending_mitigations, event.request_id: event.action}
            }
        case MitigationCompleted():
            pending = {k: v for k, v in state.pending_mitigations.items() if k != event.request_id}
            mitigated = state.mitigated_at
            if event.outcome == "applied" and mitigated is None:
                mitigated = at
            changes = {"pending_mitigations": pending, "mitigated_at": mitigated}
        case EscalationFired():
            paged = state.paged
            if event.action == "page":
                paged = tuple(dict.fromkeys((*paged, *(event.targets or ("on-call",)))))
            changes = {"fired": state.fired | {event.key}, "paged": paged}
        case ReminderFired() | TargetMissed():
            changes = {"fired": state.fired | {event.key}}
        case Resolved():
            changes = {
                "status": Status.RESOLVED,
                "resolved_at": at,
                "resolution_summary": event.summary,
            }
        case Reopened():
            # Back to open: no resolution (or closure) stands any more.
            changes = {
                "status": Status.INVESTIGATING,
                "resolved_at": None,
                "closed_at": None,
                "resolution_summary": "",
                "reopen_count": state.reopen_count + 1,
            }
        case Closed():
            changes = {"status": Status.CLOSED, "closed_at": at}
        case _:
            rule = _FOLD_RULES.get(type(event))
            if rule is None:
                raise ValueError(f"{record.key}: no fold rule for event type {event.tag!r}")
            return rule(evolve_state(state, version=record.version, updated_at=at), record), None
    return evolve_state(state, version=record.version, updated_at=at, **changes), changes.keys()


def fold(records: Iterable[RecordedEvent], state: Incident | None = None) -> Incident | None:
    """Fold ``records`` (in version order) onto ``state``."""
    for record in records:
        state = apply(state, record)
    return state


# --- command handlers ---------------------------------------------------------


def _text(value: object, field: str, *, allow_empty: bool = False) -> str:
    """Free text (notes, reasons, summaries …): see :func:`incidentkit._validate.text`."""
    return check.text(value, field, allow_empty=allow_empty)


def _name(value: object, field: str) -> str:
    """A one-line name (people, services, audiences, actions, checklist keys)."""
    return check.name(value, field)


E = TypeVar("E", bound=enum.Enum)


def parse_enum(kind: type[E], value: object, field: str, noun: str | None = None) -> E:
    """``kind(value)``, or :class:`ValidationError` naming ``field`` and the known values."""
    try:
        return kind(value)
    except (ValueError, TypeError):
        known = ", ".join(str(member.value) for member in kind)
        what = noun or kind.__name__.lower()
        raise ValidationError(
            field, f"unknown {what} {check.shown(value)} (known: {known})"
        ) from None


def actor(value: object) -> str:
    """Validate an actor name (the ``by`` argument)."""
    return _name(value, "by")


def _require_not_closed(state: Incident, action: str) -> None:
    if state.status is Status.CLOSED:
        raise InvalidTransition(state.id, action, state.status.value, ())


def _require_open(state: Incident, action: str, allowed: Sequence[str] = ()) -> None:
    if not state.is_open:
        fallback = ("reopen", "close") if state.status is Status.RESOLVED else ()
        raise InvalidTransition(state.id, action, state.status.value, allowed or fallback)


def decide_declare(
    policy: Policy,
    now: datetime,
    *,
    incident_id: str,
    title: object,
    severity: Severity,
    by: str,
    source: Source = Source.MANUAL,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    services: Sequence[str] = (),
    description: str = "",
    reasons: Sequence[str] = (),
) -> list[Event]:
    """Validate a declaration: the ``declared`` event and the escalation steps due at once.

    A SEV1's immediate page is part of the declaration, recorded in the same append.
    """
    clean_title = check.title(title)
    started = to_utc(started_at, "started_at")
    detected = to_utc(detected_at, "detected_at") or now
    if started is not None and started > detected:
        raise ValidationError("started_at", "is after detected_at")
    if detected > now:
        raise ValidationError("detected_at", "is in the future")
    clean_services = check.names(services, "services")
    clean_source = parse_enum(Source, source, "source")
    declared = Declared(
        by=by,
        title=clean_title,
        severity=Severity.parse(severity),
        source=clean_source,
        services=clean_services,
        description=_text(description, "description", allow_empty=True),
        channel=channel_name(policy, now, clean_title),
        started_at=started,
        detected_at=detected,
        declared_at=now,
        reasons=tuple(reasons),
        checklists=policy.checklists,
    )
    state = apply(None, RecordedEvent(incident_id, 1, now, declared))
    return [declared, *escalation_events(state, policy, now)]


def decide_acknowledge(state: Incident, *, by: str) -> list[Event]:
    """Acknowledge the current escalation; it stops. Again only after a severity raise."""
    _require_open(state, "acknowledge")
    if state.escalation_acked_at is not None:
        raise InvalidTransition(state.id, "acknowledge", "acknowledged", ())
    return [Acknowledged(by=by)]


def decide_set_severity(
    state: Incident,
    policy: Policy,
    now: datetime,
    *,
    severity: Severity | str,
    reason: object,
    by: str,
) -> list[Event]:
    """Change severity (a reason is required); escalation restarts under the new level.

    The new severity's immediate steps (a SEV1 page) are due in the same append.
    """
    _require_open(state, "change severity of")
    new = Severity.parse(severity)
    why = _text(reason, "reason")
    if new == state.severity:
        raise GuardFailed(state.id, "change severity of", [f"severity is already {new}"])
    changed = SeverityChanged(by=by, old=state.severity, new=new, reason=why)
    after = apply(state, RecordedEvent(state.id, state.version + 1, now, changed))
    return [changed, *escalation_events(after, policy, now)]


def decide_assign_role(
    state: Incident, policy: Policy, *, role: str, person: object, by: str
) -> list[Event]:
    """Assign a vacant role or hand a held one over."""
    _require_not_closed(state, "assign a role on")
    name = policy.roles.parse(_role(role))
    who = _name(person, "person")
    current = state.holder(name)
    if current == who:
        raise GuardFailed(state.id, "assign a role on", [f"{who} already holds {name}"])
    if current is None:
        return [RoleAssigned(by=by, role=name, person=who)]
    return [RoleHandedOver(by=by, role=name, from_person=current, to_person=who)]


def decide_release_role(state: Incident, policy: Policy, *, role: str, by: str) -> list[Event]:
    """Leave a held role vacant."""
    _require_not_closed(state, "release a role on")
    name = policy.roles.parse(_role(role))
    current = state.holder(name)
    if current is None:
        raise GuardFailed(state.id, "release a role on", [f"{name} is not held"])
    return [RoleReleased(by=by, role=name, person=current)]


def decide_enter_phase(state: Incident, *, phase: Phase | str, by: str) -> list[Event]:
    """Move the response into ``phase``."""
    _require_open(state, "change phase of")
    target = parse_enum(Phase, phase, "phase")
    if target is state.phase:
        raise GuardFailed(state.id, "change phase of", [f"already in phase {target}"])
    return [PhaseEntered(by=by, phase=target, previous=state.phase)]


def decide_set_status(
    state: Incident, *, status: Status | str, by: str, reason: object = ""
) -> list[Event]:
    """Move between open statuses (resolve, reopen and close have their own commands)."""
    target = parse_enum(Status, status, "status")
    allowed = tuple(s.value for s in allowed_transitions(state.status) if s.is_open)
    if target in (Status.RESOLVED, Status.CLOSED) or not state.is_open:
        raise InvalidTransition(
            state.id, f"set status {target.value} on", state.status.value, allowed
        )
    if not can_transition(state.status, target):
        raise InvalidTransition(
            state.id, f"set status {target.value} on", state.status.value, allowed
        )
    return [
        StatusChanged(
            by=by, old=state.status, new=target, reason=_text(reason, "reason", allow_empty=True)
        )
    ]


def decide_note(state: Incident, *, text: object, by: str) -> list[Event]:
    """Add a note."""
    _require_not_closed(state, "add a note to")
    return [NoteAdded(by=by, text=_text(text, "text"))]


def decide_hypothesis(
    state: Incident,
    *,
    hypothesis: object,
    test: object = "",
    result: object = "",
    conclusion: Conclusion | str = Conclusion.INCONCLUSIVE,
    by: str,
) -> list[Event]:
    """Record a hypothesis with its test, result and conclusion."""
    _require_not_closed(state, "record a hypothesis on")
    verdict = parse_enum(Conclusion, conclusion, "conclusion")
    return [
        HypothesisRecorded(
            by=by,
            hypothesis=_text(hypothesis, "hypothesis"),
            test=_text(test, "test", allow_empty=True),
            result=_text(result, "result", allow_empty=True),
            conclusion=verdict,
        )
    ]


def decide_checklist(
    state: Incident,
    *,
    checklist: str,
    item: str,
    new_state: ItemState,
    by: str,
    reason: object = "",
) -> list[Event]:
    """Close a pending checklist item as done, skipped (reason required) or not applicable."""
    _require_not_closed(state, "change a checklist on")
    checklist = _name(checklist, "checklist")
    item = _name(item, "item")
    current = state.item(checklist, item)
    why = _text(reason, "reason", allow_empty=True)
    if new_state is ItemState.SKIPPED and not why:
        raise ValidationError("reason", "skipping an item needs a reason")
    if new_state is ItemState.PENDING:
        raise ValidationError("state", "items cannot be set back to pending")
    if current.state is not ItemState.PENDING:
        raise InvalidTransition(
            state.id, f"mark {checklist}/{item} {new_state.value} on", current.state.value, ()
        )
    return [
        ChecklistItemChanged(by=by, checklist=checklist, item=item, state=new_state, reason=why)
    ]


def decide_post_update(
    state: Incident,
    *,
    status: PublicStatus | str,
    message: object,
    by: str,
    audience: str = "public",
    policy: Policy | None = None,
) -> list[Event]:
    """Post a status update.

    With ``policy``, the update satisfies the update cadence only when its
    audience is one the cadence is for (``policy.status.counts_for_cadence``).
    """
    _require_not_closed(state, "post an update on")
    public = parse_enum(PublicStatus, status, "status", "public status")
    name = _name(audience, "audience")
    counts = True if policy is None else policy.status.counts_for_cadence(name)
    return [
        UpdatePosted(
            by=by,
            status=public,
            message=_text(message, "message"),
            audience=name,
            counts_for_cadence=counts,
        )
    ]


def _open_criteria(state: Incident, policy: Policy) -> tuple[str, ...]:
    """The required items of the policy's gating checklist that are still open."""
    gate = policy.gating_checklist
    if gate and any(t.name == gate for t in state.templates):
        return state.open_items(gate)
    return ()


def _missing_commander(state: Incident, policy: Policy) -> bool:
    return policy.roles.require_commander_to_resolve and state.commander is None


def can_resolve(state: Incident, policy: Policy) -> tuple[str, ...]:
    """Why ``state`` cannot be resolved now (empty: it can). A guard that answers."""
    reasons: list[str] = []
    if not state.is_open:
        reasons.append(f"incident is {state.status}")
    if _missing_commander(state, policy):
        reasons.append("no incident commander is assigned")
    open_items = _open_criteria(state, policy)
    if open_items:
        reasons.append(f"open {policy.gating_checklist} items: {', '.join(open_items)}")
    return tuple(reasons)


def decide_resolve(
    state: Incident,
    policy: Policy,
    now: datetime,
    *,
    by: str,
    summary: object = "",
    force: bool = False,
    reason: object = "",
) -> list[Event]:
    """Resolve when the criteria hold, or with ``force`` and a reason that is recorded.

    The targets missed by ``now`` that no tick recorded yet come first, in the
    same append (:func:`~incidentkit.timers.missed_targets`): ticks skip a
    resolved incident, so the timeline does not depend on when they ran.
    """
    _require_open(state, "resolve")
    force = check.boolean(force, "force")
    why = _text(reason, "reason", allow_empty=True)
    text = _text(summary, "summary", allow_empty=True)
    if _missing_commander(state, policy):
        raise GuardFailed(state.id, "resolve", ["no incident commander is assigned"])
    gate = policy.gating_checklist
    open_items = _open_criteria(state, policy)
    if open_items and not force:
        raise GuardFailed(
            state.id,
            "resolve",
            [
                f"open required {gate} items: {', '.join(open_items)}"
                " (check or skip them, or resolve with force=True and a reason)"
            ],
        )
    if force and not why:
        raise ValidationError("reason", "a forced resolution needs a reason")
    return [
        *missed_targets(state, policy, now),
        Resolved(
            by=by,
            summary=text,
            forced=bool(force and open_items),
            force_reason=why if force and open_items else "",
            open_items=open_items if force else (),
        ),
    ]


def decide_reopen(state: Incident, *, by: str, reason: object) -> list[Event]:
    """Reopen a resolved incident (status becomes investigating)."""
    if state.status is not Status.RESOLVED:
        raise InvalidTransition(state.id, "reopen", state.status.value, ())
    return [Reopened(by=by, reason=_text(reason, "reason"))]


def decide_close(
    state: Incident,
    policy: Policy | None = None,
    *,
    by: str,
    reason: object = "",
    force: bool = False,
) -> list[Event]:
    """Close a resolved incident once the policy's closing checklist is done.

    Open required items of ``policy.closing_checklist`` (the recovery
    checklist by default) refuse the close, unless ``force`` is given with a
    reason; both are recorded.
    """
    if state.status is not Status.RESOLVED:
        allowed = ("resolve",) if state.is_open else ()
        raise InvalidTransition(state.id, "close", state.status.value, allowed)
    force = check.boolean(force, "force")
    why = _text(reason, "reason", allow_empty=True)
    gate = policy.closing_checklist if policy is not None else ""
    open_items = (
        state.open_items(gate) if gate and any(t.name == gate for t in state.templates) else ()
    )
    if open_items and not force:
        raise GuardFailed(
            state.id,
            "close",
            [
                f"open required {gate} items: {', '.join(open_items)}"
                " (check or skip them, or close with force and a reason)"
            ],
        )
    if force and not why:
        raise ValidationError("reason", "a forced close needs a reason")
    return [Closed(by=by, reason=why, forced=bool(open_items), open_items=tuple(open_items))]


def decide_mark_mitigated(
    state: Incident, *, by: str, detail: object, action: object
) -> list[Event]:
    """Record a mitigation done outside the kit as applied."""
    _require_open(state, "mitigate")
    return [
        MitigationCompleted(
            by=by,
            request_id=f"{state.id}:{state.version + 1}",
            action=_name(action, "action"),
            outcome="applied",
            detail=_text(detail, "detail"),
        )
    ]


def decide_request_mitigation(
    state: Incident,
    *,
    by: str,
    action: str,
    params: Mapping[str, Any],
    dry_run: bool,
    inline: bool,
) -> list[Event]:
    """Record a request to run a mitigation action."""
    _require_open(state, "mitigate")
    dry_run = check.boolean(dry_run, "dry_run")
    inline = check.boolean(inline, "inline")
    return [
        MitigationRequested(
            by=by,
            request_id=f"{state.id}:{state.version + 1}",
            action=action,
            params=dict(params),
            dry_run=dry_run,
            inline=inline,
        )
    ]


def ensure_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check mitigation parameters are a JSON-ready mapping with string keys.

    Strings in it are checked like any text, nesting and sizes are bounded
    (see :mod:`incidentkit._validate`).
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValidationError("params", f"expected a mapping, got {type(params).__name__}")
    for key in params:
        if not isinstance(key, str):
            raise ValidationError("params", f"keys must be strings, got {check.shown(key)}")
    clean: dict[str, Any] = check.json_value(params, "params")
    return clean


def _role(role: object) -> Role | str:
    """A role argument: a :class:`Role` member or a name."""
    return role if isinstance(role, Role) else _name(role, "role")


# --- events handed in from outside (``IncidentKit.record``) -------------------------

KIT_ONLY_EVENTS: Mapping[str, str] = {
    EscalationFired.tag: "a timer: tick() fires it",
    ReminderFired.tag: "a timer: tick() fires it",
    TargetMissed.tag: "a timer: tick() records it",
    NotificationFailed.tag: "a delivery outcome: deliver() records it",
    ChannelOpened.tag: "a delivery outcome: the channel plugin's answer",
}
"""Event tags no public write path accepts, with who writes them instead."""

_COMMANDS: Mapping[type[Event], str] = {
    Acknowledged: "acknowledge",
    SeverityChanged: "set_severity",
    RoleAssigned: "assign_role",
    RoleHandedOver: "assign_role",
    RoleReleased: "release_role",
    StatusChanged: "set_status",
    PhaseEntered: "enter_phase",
    NoteAdded: "add_note",
    HypothesisRecorded: "record_hypothesis",
    UpdatePosted: "post_update",
    Resolved: "resolve",
    Reopened: "reopen",
    Closed: "close",
}
_CHECKLIST_COMMANDS: Mapping[ItemState, str] = {
    ItemState.DONE: "check",
    ItemState.SKIPPED: "skip",
    ItemState.NOT_APPLICABLE: "not_applicable",
}


def command_of(event: Event) -> str | None:
    """The name of the core command that writes ``event`` (what authorization sees).

    ``None`` for events no core command writes: the declaration, the
    :data:`KIT_ONLY_EVENTS` and every capability's events (a capability says
    how its own are recorded, see ``Capability.recordable``).
    """
    if isinstance(event, ChecklistItemChanged):
        return _CHECKLIST_COMMANDS.get(event.state, "check")
    return _COMMANDS.get(type(event))


def decide_from_event(state: Incident, policy: Policy, now: datetime, event: Event) -> list[Event]:
    """What the core command that normally writes ``event`` decides on ``state`` at
    ``now``, given the event's own arguments (its guards raise as they do for the command).

    A caller that hands in a built event compares the result's event of the
    same kind with it: only an event the command itself would record may be
    appended. The rest is what the command records with it (a severity
    raise's escalation steps, the targets missed before a resolution).

    :raises ValueError: for an event kind no command writes (see :func:`command_of`).
    """
    by = event.by
    match event:
        case Acknowledged():
            return decide_acknowledge(state, by=by)
        case SeverityChanged():
            return decide_set_severity(
                state, policy, now, severity=event.new, reason=event.reason, by=by
            )
        case RoleAssigned():
            return decide_assign_role(state, policy, role=event.role, person=event.person, by=by)
        case RoleHandedOver():
            return decide_assign_role(state, policy, role=event.role, person=event.to_person, by=by)
        case RoleReleased():
            return decide_release_role(state, policy, role=event.role, by=by)
        case StatusChanged():
            return decide_set_status(state, status=event.new, by=by, reason=event.reason)
        case PhaseEntered():
            return decide_enter_phase(state, phase=event.phase, by=by)
        case NoteAdded():
            return decide_note(state, text=event.text, by=by)
        case HypothesisRecorded():
            return decide_hypothesis(
                state,
                hypothesis=event.hypothesis,
                test=event.test,
                result=event.result,
                conclusion=event.conclusion,
                by=by,
            )
        case ChecklistItemChanged():
            return decide_checklist(
                state,
                checklist=event.checklist,
                item=event.item,
                new_state=event.state,
                by=by,
                # ``check`` records no reason; ``skip`` and ``not_applicable`` take one
                reason="" if event.state is ItemState.DONE else event.reason,
            )
        case UpdatePosted():
            return decide_post_update(
                state,
                status=event.status,
                message=event.message,
                by=by,
                audience=event.audience,
                policy=policy,
            )
        case Resolved():
            return decide_resolve(
                state,
                policy,
                now,
                by=by,
                summary=event.summary,
                force=event.forced,
                reason=event.force_reason,
            )
        case Reopened():
            return decide_reopen(state, by=by, reason=event.reason)
        case Closed():
            # The recovery gate of kit.close, and its override only when the event says forced.
            return decide_close(
                state, by=by, policy=policy, reason=event.reason, force=event.forced
            )
    raise ValueError(f"no command writes {event.tag!r} events")
