"""People as a capability: pages delivered through each person's rules, fallback, commander.

Events (tags prefixed ``people_``):

* :class:`PersonPaged` — a timer event: one contact of one person (push at
  0, SMS at 2 minutes …), keyed by the escalation period, loop, step,
  repeat, person and rule, so it is recorded once however many replicas
  tick; it names the person, the channel and address, and the reason
  (step, schedule layer). Its notification carries ``person`` and ``reason``
  and goes only to the contact method's notifier when it names one;
* :class:`NobodyOnCall` — a step reached nobody (a schedule gap, a vacant
  role); the fallback is paged instead;
* shift duties (:mod:`incidentkit.people.shifts`, the periodic hook): the
  guide's shift checklists to the person whose shift starts or ends, and the
  handoff report at its end;
* :class:`CommanderByPolicy` — the acknowledging primary (or the first
  page's target) was made incident commander by ``[people] commander``,
  recorded with a :class:`~incidentkit.events.RoleAssigned` and the reason.

Pages stop at the acknowledgement: a contact whose time is at or after it
never fires (the primary's phone call at minute 5 after an acknowledgement
at minute 3). What fires is :func:`incidentkit.people.paging.plan_pages`,
the same calculator as the dry run. With an empty ``[people]`` section the
capability does nothing and the on-call capability's team pages are sent as before.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar

import attrs

from incidentkit.engine import (
    Capability,
    Engine,
    TimerSource,
    headline,
    make_notification,
    reacts_to,
)
from incidentkit.events import Event, RecordedEvent, RoleAssigned, register_event
from incidentkit.incident import Incident
from incidentkit.notify import Notification, NotificationKind, Urgency
from incidentkit.people.config import CommanderRule
from incidentkit.people.paging import Plan, PlannedPage, plan_pages, schedule_for
from incidentkit.policy import Policy
from incidentkit.roles import Role
from incidentkit.store import OutboxMessage
from incidentkit.timers import SYSTEM_ACTOR

__all__ = [
    "COMMANDER_KEY",
    "PEOPLE",
    "AcknowledgementExpired",
    "CommanderByPolicy",
    "NobodyOnCall",
    "Pause",
    "PeopleState",
    "PersonPaged",
    "due_people_events",
    "next_people_due",
    "pauses",
    "people_notifications",
]

COMMANDER_KEY = "people:commander"


@attrs.frozen(kw_only=True)
class PersonPaged(Event):
    """One contact of one person through one of their notification rules."""

    tag: ClassVar[str] = "people_paged"
    key: str
    person: str
    channel: str | None = None
    address: str | None = None
    notifier: str | None = None
    urgency: Urgency = Urgency.HIGH
    step: int = 0
    repeat: int = 0
    loop: int = 0
    target: str = ""
    layer: str | None = None
    schedule: str | None = None
    reason: str = ""
    fallback: bool = False
    due_at: datetime

    def describe(self) -> str:
        how = f" by {self.channel}" if self.channel else ""
        return f"Paged {self.person}{how}: {self.reason}"


@attrs.frozen(kw_only=True)
class NobodyOnCall(Event):
    """A step's target reached nobody at ``due_at``; ``fallback`` was paged instead."""

    tag: ClassVar[str] = "people_nobody_on_call"
    key: str
    target: str
    step: int = 0
    schedule: str | None = None
    fallback: tuple[str, ...] = ()
    due_at: datetime

    def describe(self) -> str:
        where = f" in {self.schedule}" if self.schedule else ""
        to = ", ".join(self.fallback) if self.fallback else "nobody (no fallback configured)"
        return f"Nobody on call for {self.target}{where} at step {self.step + 1}; paged {to}"


@attrs.frozen(kw_only=True)
class CommanderByPolicy(Event):
    """``person`` was made incident commander by policy, for ``reason``."""

    tag: ClassVar[str] = "people_commander"
    key: str = COMMANDER_KEY
    person: str
    reason: str
    due_at: datetime

    def describe(self) -> str:
        return f"{self.person} is incident commander by policy: {self.reason}"


@attrs.frozen(kw_only=True)
class AcknowledgementExpired(Event):
    """``person``'s acknowledgement at ``acknowledged_at`` expired unresolved at ``due_at``.

    The escalation resumes where it stopped and ``person`` is notified again;
    a new acknowledgement stops it again.
    """

    tag: ClassVar[str] = "people_ack_expired"
    key: str
    person: str
    acknowledged_at: datetime
    due_at: datetime

    def describe(self) -> str:
        return f"Acknowledgement by {self.person} expired; escalation resumes"


for _event in (PersonPaged, NobodyOnCall, CommanderByPolicy, AcknowledgementExpired):
    register_event(_event)  # at import, so stored people events always decode


def _plan(state: Incident, policy: Policy) -> Plan:
    started = state.severity_since or state.declared_at
    return plan_pages(policy, state.severity, started, services=state.services, roles=state.roles)


def _prefix(state: Incident) -> str:
    started = state.severity_since or state.declared_at
    return f"{int(started.timestamp())}:"


def _eligible(at: datetime, state: Incident) -> bool:
    acked = state.escalation_acked_at
    return acked is None or at < acked


def _commander(state: Incident, policy: Policy, plan: Plan) -> tuple[datetime, str, str] | None:
    """When, whom and why the policy makes commander (``None``: not due / not wanted)."""
    rule = policy.people.commander
    if rule is CommanderRule.NONE or state.commander is not None or COMMANDER_KEY in state.fired:
        return None
    if rule is CommanderRule.ACKNOWLEDGER:
        who, at = state.acknowledged_by, state.acknowledged_at
        if who is None or at is None or who == SYSTEM_ACTOR:
            return None
        layer = policy.people.commander_layer
        if not layer:
            return at, who, "acknowledged the page"
        escalation = policy.oncall.escalation.for_severity(state.severity)
        schedule = None if escalation is None else schedule_for(policy, escalation, state.services)
        if schedule is None or layer not in schedule.layer_names:
            return None
        if schedule.on_call(at).person(layer) != who:
            return None
        return at, who, f"acknowledged as {layer} of {schedule.name}"
    for page in plan.pages:
        if not page.fallback and _eligible(page.at, state):
            return page.at, page.person, f"first page's target ({page.reason})"
    return None


def _paged_event(page: PlannedPage, prefix: str) -> PersonPaged:
    return PersonPaged(
        by=SYSTEM_ACTOR,
        key=prefix + page.key,
        person=page.person,
        channel=page.channel,
        address=page.address,
        notifier=page.notifier,
        urgency=page.urgency,
        step=page.step,
        repeat=page.repeat,
        loop=page.loop,
        target=page.target,
        layer=page.layer,
        schedule=page.schedule,
        reason=page.reason,
        fallback=page.fallback,
        due_at=page.at,
    )


@attrs.frozen
class Pause:
    """An acknowledgement at ``acknowledged_at`` by ``person`` that expired at ``expired_at``."""

    acknowledged_at: datetime
    expired_at: datetime
    person: str


@attrs.frozen
class PeopleState:
    """``Incident.extensions["people"]``: the expired acknowledgements, in order."""

    pauses: tuple[Pause, ...] = ()


def pauses(state: Incident) -> tuple[Pause, ...]:
    """The expired acknowledgements of the current escalation period."""
    value = state.extensions.get("people")
    started = state.severity_since or state.declared_at
    found = value.pauses if isinstance(value, PeopleState) else ()
    return tuple(p for p in found if p.acknowledged_at >= started)


def _shifted(at: datetime, held: Sequence[Pause]) -> datetime:
    """``at`` moved on by every pause it falls after: escalation resumes where it stopped."""
    for pause in held:
        if at >= pause.acknowledged_at:
            at += pause.expired_at - pause.acknowledged_at
    return at


def _ack_key(prefix: str, at: datetime) -> str:
    return f"{prefix}ack:{int(at.timestamp() * 1_000_000)}"


def _candidates(state: Incident, policy: Policy) -> list[tuple[str, datetime, Event, bool]]:
    """``(key, due time, event, stopped by an acknowledgement)`` of everything this may record."""
    plan = _plan(state, policy)
    prefix = _prefix(state)
    held = pauses(state)
    found: list[tuple[str, datetime, Event, bool]] = []
    for gap in plan.gaps:
        key = prefix + gap.key
        at = _shifted(gap.at, held)
        nobody = NobodyOnCall(
            by=SYSTEM_ACTOR,
            key=key,
            target=gap.target,
            step=gap.step,
            schedule=gap.schedule,
            fallback=gap.fallback,
            due_at=at,
        )
        found.append((key, at, nobody, True))
    for page in plan.pages:
        shifted = attrs.evolve(page, at=_shifted(page.at, held))
        found.append((prefix + page.key, shifted.at, _paged_event(shifted, prefix), True))
    timeout = policy.people.ack_timeout.get(state.severity)
    for pause in held:
        person = policy.people.find(pause.person)
        rules = person.effective_rules(Urgency.HIGH) if person is not None else ()
        after = pause.expired_at - pause.acknowledged_at
        reason = f"acknowledgement by {pause.person} expired after {after}; re-notified"
        contacts: list[tuple[timedelta, str | None, str | None, str | None]] = [
            (r.delay, m.kind.value, m.address, m.notifier) for r, m in rules
        ] or [(timedelta(0), None, None, None)]
        for index, (delay, channel, address, notifier) in enumerate(contacts):
            key = f"{_ack_key(prefix, pause.acknowledged_at)}:renotify:{pause.person}:{index}"
            at = pause.expired_at + delay
            renotify = PersonPaged(
                by=SYSTEM_ACTOR,
                key=key,
                person=pause.person,
                channel=channel,
                address=address,
                notifier=notifier,
                target=f"person:{pause.person}",
                reason=f"{reason} — {channel or 'all notifiers'}",
                due_at=at,
            )
            found.append((key, at, renotify, True))
    acked = state.escalation_acked_at
    # the latest acknowledger is re-notified (``acknowledged_by`` keeps the first)
    acker = state.escalation_acked_by or state.acknowledged_by
    if timeout is not None and acked is not None and acker is not None:
        key = _ack_key(prefix, acked)
        expiry = AcknowledgementExpired(
            by=SYSTEM_ACTOR,
            key=key,
            person=acker,
            acknowledged_at=acked,
            due_at=acked + timeout,
        )
        found.append((key, acked + timeout, expiry, False))
    return found


def due_people_events(state: Incident, policy: Policy, now: datetime) -> list[Event]:
    """Pages, "nobody on call", expired acknowledgements and the commander due at ``now``."""
    if not policy.people.enabled or not state.is_open:
        return []
    events: list[Event] = [
        event
        for key, at, event, stoppable in _candidates(state, policy)
        if at <= now and key not in state.fired and (not stoppable or _eligible(at, state))
    ]
    found = _commander(state, policy, _plan(state, policy))
    if found is not None and found[0] <= now:
        at, who, reason = found
        events.append(CommanderByPolicy(by=SYSTEM_ACTOR, person=who, reason=reason, due_at=at))
        events.append(RoleAssigned(by=SYSTEM_ACTOR, role=Role.INCIDENT_COMMANDER.value, person=who))
    events.sort(key=lambda e: getattr(e, "due_at", now))
    return events


def next_people_due(state: Incident, policy: Policy) -> datetime | None:
    """The earliest instant :func:`due_people_events` may return something."""
    if not policy.people.enabled or not state.is_open:
        return None
    candidates = [
        at
        for key, at, _, stoppable in _candidates(state, policy)
        if key not in state.fired and (not stoppable or _eligible(at, state))
    ]
    found = _commander(state, policy, _plan(state, policy))
    if found is not None:
        candidates.append(found[0])
    return min(candidates, default=None)


def _memo(state: Incident) -> Hashable:
    return (
        state.status,
        state.severity,
        state.severity_since,
        state.declared_at,
        state.escalation_acked_at,
        state.acknowledged_at,
        state.acknowledged_by,
        state.escalation_acked_by,
        state.fired,
        state.services,
        tuple(sorted(state.roles.items())),
        pauses(state),
    )


@reacts_to(PersonPaged, NobodyOnCall)
def people_notifications(
    policy: Policy, after: Incident, record: RecordedEvent
) -> Sequence[Notification]:
    """A page to one person (through one notifier when the method names one); gap notices."""
    event = record.event
    if not isinstance(event, (PersonPaged, NobodyOnCall)):
        return []  # no case below: skip the headline
    title = headline(after)
    match event:
        case PersonPaged():
            high = event.urgency is Urgency.HIGH
            kind = NotificationKind.PAGE if high else NotificationKind.NOTIFY
            note = make_notification(
                after, record, kind, f"{title} — {event.reason}", event.urgency, (event.person,)
            )
            return [
                attrs.evolve(
                    note,
                    person=event.person,
                    reason=event.reason,
                    channel=event.channel,
                    address=event.address,
                    notifier=event.notifier,
                )
            ]
        case NobodyOnCall():
            text = f"{title} — {event.describe()}"
            note = make_notification(
                after, record, NotificationKind.NOTIFY, text, Urgency.HIGH, event.fallback
            )
            return [attrs.evolve(note, reason=f"nobody on call for {event.target}")]
    return []


def _fold_fired(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, PersonPaged | NobodyOnCall | CommanderByPolicy)
    state = attrs.evolve(state, fired=state.fired | {event.key})
    if isinstance(event, PersonPaged):
        state = attrs.evolve(state, paged=tuple(dict.fromkeys((*state.paged, event.person))))
    return state


def _fold_expired(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, AcknowledgementExpired)
    pause = Pause(event.acknowledged_at, event.due_at, event.person)
    ours = PeopleState((*pauses(state), pause))
    return attrs.evolve(
        state,
        fired=state.fired | {event.key},
        escalation_acked_at=None,
        escalation_acked_by=None,
        extensions={**state.extensions, "people": ours},
    )


def _shift_duties(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
    from incidentkit.people.shifts import shift_duties

    return shift_duties(engine, now)


def _section(engine: Engine) -> object:
    from incidentkit.people.section import People

    return People(engine)


PEOPLE = Capability(
    name="people",
    events=(PersonPaged, NobodyOnCall, CommanderByPolicy, AcknowledgementExpired),
    folds={
        PersonPaged: _fold_fired,
        NobodyOnCall: _fold_fired,
        CommanderByPolicy: _fold_fired,
        AcknowledgementExpired: _fold_expired,
    },
    timers=(
        TimerSource(
            name="people",
            due=due_people_events,
            next_due=next_people_due,
            memo_key=_memo,
            reads=(
                "status",
                "severity",
                "severity_since",
                "declared_at",
                "escalation_acked_at",
                "escalation_acked_by",
                "acknowledged_at",
                "acknowledged_by",
                "fired",
                "services",
                "roles",
                "extensions",
            ),
        ),
    ),
    routes=(people_notifications,),
    section=_section,
    periodic=(_shift_duties,),
)
"""The people capability (registered with the built-in capabilities)."""
