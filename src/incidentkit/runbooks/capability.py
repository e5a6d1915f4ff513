"""Runbooks as a capability: attach (steps become a checklist), escalate by timer, evergreen.

Events (tags prefixed ``runbooks_``):

* :class:`RunbookAttached` — a runbook was attached to an incident; its fold
  adds the runbook's triage and resolution steps as the checklist
  ``runbook-<id>`` and keeps the attachment (with its escalation rules) in
  ``Incident.extensions["runbooks"]``;
* :class:`RunbookEscalated` — a timer event: a rule "persists > *after* →
  page *to*" fired (once, keyed ``runbooks:<id>:<n>``).

Evergreen reviews record no event: they are computed from the runbook files
and reminded through the outbox by the capability's periodic hook
(:func:`review_reminders`, called by every ``tick()``; see
:class:`~incidentkit.runbooks.Runbooks`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import ClassVar

import attrs

from incidentkit.checklists import ChecklistItem, ChecklistTemplate
from incidentkit.engine import (
    Capability,
    Engine,
    TimerSource,
    headline,
    make_notification,
    reacts_to,
)
from incidentkit.engine.capability import RecordRule
from incidentkit.errors import InvalidTransition, ValidationError
from incidentkit.events import Event, RecordedEvent, register_event
from incidentkit.incident import Incident, ItemStatus, evolve_state
from incidentkit.notify import Notification, NotificationKind, Urgency
from incidentkit.policy import Policy
from incidentkit.runbooks._model import EscalationRule, Runbook
from incidentkit.store import OutboxMessage

__all__ = [
    "RUNBOOKS",
    "Attachment",
    "RunbookAttached",
    "RunbookEscalated",
    "RunbooksState",
    "attachments",
    "decide_attach",
    "due_escalations",
    "next_escalation",
    "review_reminders",
    "runbook_notifications",
]


@attrs.frozen(kw_only=True)
class RunbookAttached(Event):
    """A runbook was attached; ``checklist`` holds its steps, ``reasons`` why it matched.

    ``link`` is the runbook's ``url`` (else its file), so the review's
    timeline links the runbook that was followed.
    """

    tag: ClassVar[str] = "runbooks_attached"
    runbook: str
    title: str
    checklist: ChecklistTemplate
    escalation: tuple[EscalationRule, ...] = ()
    reasons: tuple[str, ...] = ()
    link: str = ""

    def describe(self) -> str:
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        link = f" <{self.link}>" if self.link else ""
        return f"Runbook attached — {self.title}{link}{why}"


@attrs.frozen(kw_only=True)
class RunbookEscalated(Event):
    """A runbook escalation rule fired: still unmitigated ``after`` declaration, page ``to``."""

    tag: ClassVar[str] = "runbooks_escalated"
    key: str
    runbook: str
    to: str
    targets: tuple[str, ...] = ()
    due_at: datetime

    def describe(self) -> str:
        people = f" ({', '.join(self.targets)})" if self.targets else ""
        return f"Runbook {self.runbook}: still unmitigated — escalated to {self.to}{people}"


for _event in (RunbookAttached, RunbookEscalated):
    register_event(_event)  # at import, so stored runbook events always decode


@attrs.frozen
class Attachment:
    """One runbook attached to an incident."""

    runbook: str
    title: str
    checklist: str
    attached_at: datetime
    by: str
    escalation: tuple[EscalationRule, ...] = ()
    reasons: tuple[str, ...] = ()


@attrs.frozen
class RunbooksState:
    """``Incident.extensions["runbooks"]``: the attached runbooks in attachment order."""

    attached: tuple[Attachment, ...] = ()


def attachments(state: Incident) -> tuple[Attachment, ...]:
    """The runbooks attached to ``state``, in order."""
    value = state.extensions.get("runbooks")
    return value.attached if isinstance(value, RunbooksState) else ()


def checklist_of(runbook: Runbook) -> ChecklistTemplate:
    """The runbook's triage then resolution steps as a checklist (order and text kept)."""
    items = tuple(
        ChecklistItem(step.key, step.text, required=False)
        for step in (*runbook.triage, *runbook.resolution)
    )
    return ChecklistTemplate(runbook.checklist_name, f"Runbook: {runbook.title}", items)


def decide_attach(
    state: Incident, runbook: Runbook, *, by: str, reasons: Sequence[str] = ()
) -> list[Event]:
    """Attach ``runbook`` (nothing to do when it is already attached)."""
    if not state.is_open:
        raise InvalidTransition(state.id, "attach a runbook to", state.status.value, ())
    if any(a.runbook == runbook.id for a in attachments(state)):
        return []
    template = checklist_of(runbook)
    if any(t.name == template.name for t in state.templates):
        raise ValidationError("runbook", f"the incident already has a checklist {template.name!r}")
    return [
        RunbookAttached(
            by=by,
            runbook=runbook.id,
            title=runbook.title,
            checklist=template,
            escalation=runbook.escalation,
            reasons=tuple(reasons),
            link=runbook.url or runbook.source,
        )
    ]


def decide_recorded_attach(
    engine: Engine, state: Incident, event: Event, now: datetime
) -> list[Event]:
    """``kit.record()`` of a built :class:`RunbookAttached`: the attach command's rules.

    The incident must be open, the runbook not attached yet, and the
    checklist named ``runbook-<id>`` and not already on the incident.
    """
    assert isinstance(event, RunbookAttached)
    if not state.is_open:
        raise InvalidTransition(state.id, "attach a runbook to", state.status.value, ())
    if event.checklist.name != f"runbook-{event.runbook}":
        raise ValidationError("checklist", f"must be named 'runbook-{event.runbook}'")
    if any(a.runbook == event.runbook for a in attachments(state)) or any(
        t.name == event.checklist.name for t in state.templates
    ):
        raise ValidationError("runbook", f"{event.runbook!r} is already attached")
    return [event]


def fold_attached(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, RunbookAttached)
    template = event.checklist
    attachment = Attachment(
        runbook=event.runbook,
        title=event.title,
        checklist=template.name,
        attached_at=record.recorded_at,
        by=event.by,
        escalation=event.escalation,
        reasons=event.reasons,
    )
    ours = RunbooksState((*attachments(state), attachment))
    return attrs.evolve(
        state,
        templates=(*state.templates, template),
        checklists={
            **state.checklists,
            template.name: {i.key: ItemStatus() for i in template.items},
        },
        extensions={**state.extensions, "runbooks": ours},
    )


def fold_escalated(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, RunbookEscalated)
    return evolve_state(state, fired=state.fired | {event.key})


def _pending(state: Incident) -> list[tuple[datetime, str, Attachment, EscalationRule]]:
    """Rules not yet fired while the incident is open and unmitigated, by due instant."""
    if not state.is_open or state.mitigated_at is not None:
        return []
    found = []
    for attachment in attachments(state):
        for n, rule in enumerate(attachment.escalation):
            key = f"runbooks:{attachment.runbook}:{n}"
            if key not in state.fired:
                found.append((state.declared_at + rule.after, key, attachment, rule))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def _people(state: Incident, policy: Policy, to: str, at: datetime) -> tuple[str, ...]:
    kind, _, name = to.partition(":")
    if kind == "role":
        holder = state.holder(name)
        return (holder,) if holder else ()
    for schedule in policy.oncall.schedules:
        if name in schedule.layer_names:
            person = schedule.on_call(at).person(name)
            return (person,) if person else ()
    return ()


def due_escalations(state: Incident, policy: Policy, now: datetime) -> Sequence[Event]:
    """The runbook escalation rules due at ``now`` (the incident still unmitigated)."""
    return [
        RunbookEscalated(
            by="incidentkit",
            key=key,
            runbook=attachment.runbook,
            to=rule.to,
            targets=_people(state, policy, rule.to, at),
            due_at=at,
        )
        for at, key, attachment, rule in _pending(state)
        if now >= at
    ]


def next_escalation(state: Incident, policy: Policy) -> datetime | None:
    """When the next runbook escalation rule falls due (``None``: none pending)."""
    pending = _pending(state)
    return pending[0][0] if pending else None


def _memo(state: Incident) -> Hashable:
    return (state.status, state.mitigated_at, state.declared_at, state.fired, attachments(state))


@reacts_to(RunbookEscalated)
def runbook_notifications(
    policy: Policy, after: Incident, record: RecordedEvent
) -> Sequence[Notification]:
    """A page for each fired runbook escalation rule."""
    event = record.event
    if not isinstance(event, RunbookEscalated):
        return []
    text = f"{headline(after)} — {event.describe()}"
    return [
        make_notification(after, record, NotificationKind.PAGE, text, Urgency.HIGH, event.targets)
    ]


def review_reminders(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
    """The periodic hook: the kit's ``tick()`` enqueues the review reminders due at ``now``.

    It reads the library of the kit's ``runbooks`` section (an engine with
    no such section has nothing to remind of); each row's key names the
    runbook and due date, so a reminder is enqueued once across replicas.
    """
    from incidentkit.runbooks._section import Runbooks

    section = engine.sections.get("runbooks")
    return section.reminders(now) if isinstance(section, Runbooks) else []


def _section(engine: object) -> object:
    from incidentkit.runbooks._section import Runbooks

    return Runbooks(engine)  # type: ignore[arg-type]


RUNBOOKS = Capability(
    name="runbooks",
    events=(RunbookAttached, RunbookEscalated),
    folds={RunbookAttached: fold_attached, RunbookEscalated: fold_escalated},
    timers=(
        TimerSource(
            "runbook-escalation",
            due_escalations,
            next_escalation,
            _memo,
            reads=("status", "mitigated_at", "declared_at", "fired", "extensions"),
        ),
    ),
    routes=(runbook_notifications,),
    section=_section,
    periodic=(review_reminders,),
    recordable={RunbookAttached: RecordRule("attach_runbook", decide_recorded_attach)},
)
"""The runbook capability (registered on every kit)."""
