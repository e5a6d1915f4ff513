"""On-call timers as a capability: escalation steps, update reminders, missed targets.

What fires is computed by :mod:`incidentkit.timers` from state + policy + now;
this module registers that as the engine's timer source and says which
notification each fired timer sends.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from incidentkit.engine import Capability, TimerSource, headline, make_notification, reacts_to
from incidentkit.events import EscalationFired, RecordedEvent, ReminderFired, TargetMissed
from incidentkit.incident import Incident
from incidentkit.notify import Notification, NotificationKind, Urgency
from incidentkit.policy import Policy
from incidentkit.roles import Role
from incidentkit.timers import due_events, next_due, notifies

__all__ = ["ONCALL", "timer_notifications"]


def _fields_next_due_reads(state: Incident) -> Hashable:
    """Everything :func:`~incidentkit.timers.next_due` reads: a note changes none of it."""
    return (
        state.status,
        state.severity,
        state.severity_since,
        state.declared_at,
        state.acknowledged_at,
        state.last_update_at,
        state.mitigated_at,
        state.resolved_at,
        state.fired,
        tuple(sorted(state.phase_entered.items())),
    )


@reacts_to(EscalationFired, ReminderFired, TargetMissed)
def timer_notifications(
    policy: Policy, after: Incident, record: RecordedEvent
) -> Sequence[Notification]:
    """Pages, escalations and tickets of escalation steps; reminders of overdue work.

    A missed target sends no reminder when it is recorded with the resolution
    or when the severity's escalation policy neither pages nor notifies
    (:func:`~incidentkit.timers.notifies`): it is on the timeline only.
    With a ``[people]`` directory or fallback, pages and notifications of
    escalation steps go to each person through their own rules (the people
    capability); only tickets are sent from here.
    """
    event = record.event
    if not isinstance(event, (EscalationFired, ReminderFired, TargetMissed)):
        return []  # no case below: skip the headline
    title = headline(after)
    match event:
        case EscalationFired():
            if policy.people.enabled and event.action != "ticket":
                return []
            first = event.step == 0 and event.repeat == 0
            if event.action == "page":
                kind, urgency = NotificationKind.PAGE, Urgency.HIGH
            elif event.action == "ticket":
                kind, urgency = NotificationKind.TICKET, Urgency.LOW
            else:
                kind = NotificationKind.NOTIFY if first else NotificationKind.ESCALATION
                urgency = Urgency.LOW
            text = title if first else f"{title} — escalated: not acknowledged"
            return [make_notification(after, record, kind, text, urgency, event.targets)]
        case ReminderFired():
            targets = [p for p in (after.commander, after.holder(Role.COMMUNICATIONS_LEAD)) if p]
            text = f"{title} — {event.describe()}"
            kind = NotificationKind.REMINDER
            return [make_notification(after, record, kind, text, Urgency.LOW, targets)]
        case TargetMissed():
            # Recorded with the resolution, or at a severity that notifies nobody.
            if not after.is_open or not notifies(policy, after.severity):
                return []
            targets = [p for p in (after.commander,) if p]
            text = f"{title} — {event.describe()}"
            kind = NotificationKind.REMINDER
            return [make_notification(after, record, kind, text, Urgency.LOW, targets)]
    return []


ONCALL = Capability(
    name="oncall",
    events=(EscalationFired, ReminderFired, TargetMissed),
    timers=(
        TimerSource(
            name="escalation",
            due=due_events,
            next_due=next_due,
            memo_key=_fields_next_due_reads,
            reads=(
                "status",
                "severity",
                "severity_since",
                "declared_at",
                "escalation_acked_at",
                "acknowledged_at",
                "last_update_at",
                "mitigated_at",
                "resolved_at",
                "fired",
                "phase_entered",
            ),
        ),
    ),
    routes=(timer_notifications,),
)
"""The built-in on-call capability (always registered)."""
