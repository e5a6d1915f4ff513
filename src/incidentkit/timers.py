"""Timers as data: what is due for an incident, computed from state + policy + now.

Nothing here schedules anything. :func:`due_events` returns the events a
``tick()`` at ``now`` should record; :func:`next_due` returns the earliest
instant at which it might return something (kept in the summary so ``tick``
only loads incidents with work). Each event carries a stable key that the
fold adds to ``Incident.fired``, so a timer fires once however many replicas
tick and however late the tick comes.

Four kinds of timer, all measured in elapsed UTC time:

* escalation steps of the policy for the current severity (started when the
  severity took effect), until acknowledged; a severity change starts a new
  escalation period (its keys fire afresh) and a raise needs a new
  acknowledgement;
* status-update reminders at the severity's cadence (SEV1 15 min, SEV2 30 min);
* the response target (acknowledge within 5 min for SEV1 …), once;
* phase targets of the severity (SEV1 and SEV2: assess 5 min, mitigate
  15 min, resolve 30 min; SEV3 and SEV4: none), once each. A missed target
  of a severity that does not notify (:func:`notifies`) is recorded without
  a notification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from incidentkit._time import format_duration
from incidentkit.errors import ValidationError
from incidentkit.events import EscalationFired, Event, ReminderFired, TargetMissed
from incidentkit.lifecycle import Phase
from incidentkit.oncall.escalation import (
    Action,
    EscalationPolicy,
    due_reminders,
    due_steps,
    next_due_at,
    next_reminder_at,
    resolve_targets,
)
from incidentkit.policy import Policy
from incidentkit.severity import Severity

if TYPE_CHECKING:
    from incidentkit.incident import Incident

__all__ = [
    "RESPONSE_TARGET_KEY",
    "SYSTEM_ACTOR",
    "due_events",
    "missed_targets",
    "next_due",
    "notifies",
]

SYSTEM_ACTOR = "incidentkit"
RESPONSE_TARGET_KEY = "target:response"

_RESOLUTION = timedelta(microseconds=1)


def _escalation_policy(state: Incident, policy: Policy) -> EscalationPolicy | None:
    return policy.oncall.escalation.for_severity(state.severity)


def notifies(policy: Policy, severity: Severity) -> bool:
    """Whether anyone is notified at ``severity``: its escalation policy pages or notifies.

    The guide's SEV4 ("create ticket, no immediate notification") does not:
    its missed targets are recorded on the timeline without a reminder.
    """
    escalation = policy.oncall.escalation.for_severity(severity)
    return escalation is not None and any(
        step.action in (Action.PAGE, Action.NOTIFY) for step in escalation.steps
    )


def escalation_events(state: Incident, policy: Policy, now: datetime) -> list[Event]:
    """Escalation steps due at ``now`` for the current severity (none once acknowledged)."""
    escalation = _escalation_policy(state, policy)
    if escalation is None or not state.is_open:
        return []
    started = state.severity_since or state.declared_at
    schedule = policy.oncall.schedule_for(escalation)
    events: list[Event] = []
    for due in due_steps(escalation, started, state.escalation_acked_at, state.fired, now):
        try:
            targets = resolve_targets(due.step, schedule, now, state.roles)
        except ValidationError:
            # No schedule configured: name the layers so notifiers can route.
            targets = tuple(str(t) for t in due.step.targets)
        if not targets and due.step.targets:
            targets = tuple(str(t) for t in due.step.targets)
        events.append(
            EscalationFired(
                by=SYSTEM_ACTOR,
                key=due.key,
                action=due.action.value,
                targets=targets,
                due_at=due.fire_at,
                step=due.step_index,
                repeat=due.repeat,
            )
        )
    return events


def _phase_completions(state: Incident) -> dict[Phase, datetime | None]:
    later = [at for phase, at in state.phase_entered.items() if phase.order > 0]
    return {
        Phase.ASSESS: min(later) if later else None,
        Phase.MITIGATE: state.mitigated_at,
        Phase.INVESTIGATE: state.resolved_at,
        Phase.RESOLVE: state.resolved_at,
    }


def _late(done_at: datetime | None, deadline: datetime) -> bool:
    """Not done by ``deadline`` (yet, or at all): done exactly at the deadline is on time."""
    return done_at is None or done_at > deadline


def _pending_targets(state: Incident, policy: Policy) -> list[tuple[datetime, TargetMissed]]:
    """Targets not yet recorded as missed, each with the first instant it counts as missed.

    The response target is missed at its deadline; a phase done exactly at its
    deadline met it (see :func:`~incidentkit.lifecycle.overrun_phases`), so a
    phase target is missed from the next representable instant. A target met
    late is still recorded, so what the timeline says was missed does not
    depend on when the ticks ran. :func:`due_events` and :func:`next_due` both
    read this one list.
    """
    pending: list[tuple[datetime, TargetMissed]] = []
    level = policy.severity.level(state.severity)
    deadline = policy.response_deadline(state.severity, state.declared_at)
    if (
        deadline is not None
        and _late(state.acknowledged_at, deadline)
        and RESPONSE_TARGET_KEY not in state.fired
    ):
        missed = TargetMissed(
            by=SYSTEM_ACTOR,
            key=RESPONSE_TARGET_KEY,
            target=f"acknowledge within {level.describe_target()}",
            due_at=deadline,
        )
        pending.append((deadline, missed))
    completions = _phase_completions(state)
    for phase, target in policy.phase_targets(state.severity).items():
        if target is None:
            continue
        key = f"target:phase:{phase.value}"
        phase_deadline = state.declared_at + target
        if key not in state.fired and _late(completions[phase], phase_deadline):
            missed = TargetMissed(
                by=SYSTEM_ACTOR, key=key, target=f"{phase.value} phase", due_at=phase_deadline
            )
            pending.append((phase_deadline + _RESOLUTION, missed))
    return pending


def missed_targets(state: Incident, policy: Policy, now: datetime) -> list[TargetMissed]:
    """The targets missed by ``now`` and not recorded yet, in due-time order.

    :func:`~incidentkit.incident.decide_resolve` records them in the same
    append as the resolution: ``tick()`` skips resolved incidents, so a
    target missed after the last tick would otherwise never reach the timeline.
    """
    if not state.is_open:
        return []
    found = [missed for earliest, missed in _pending_targets(state, policy) if now >= earliest]
    return sorted(found, key=lambda missed: missed.due_at)


def due_events(state: Incident, policy: Policy, now: datetime) -> list[Event]:
    """Every timer event due at ``now`` that has not fired yet, in time order."""
    if not state.is_open:
        return []
    events = escalation_events(state, policy, now)
    level = policy.severity.level(state.severity)
    for reminder in due_reminders(
        level.update_cadence, state.last_update_at, state.declared_at, state.fired, now
    ):
        events.append(
            ReminderFired(
                by=SYSTEM_ACTOR,
                key=reminder.key,
                reminder="status_update",
                due_at=reminder.fire_at,
                text=f"status update overdue by {format_duration(reminder.overdue_by)}",
            )
        )
    pending = _pending_targets(state, policy)
    events.extend(missed for earliest, missed in pending if now >= earliest)
    events.sort(key=lambda e: getattr(e, "due_at", now))
    return events


def next_due(state: Incident, policy: Policy) -> datetime | None:
    """The earliest instant at which :func:`due_events` may return something."""
    if not state.is_open:
        return None
    candidates: list[datetime] = []
    escalation = _escalation_policy(state, policy)
    if escalation is not None:
        started = state.severity_since or state.declared_at
        found = next_due_at(escalation, started, state.escalation_acked_at, state.fired)
        if found is not None:
            candidates.append(found)
    level = policy.severity.level(state.severity)
    reminder = next_reminder_at(
        level.update_cadence, state.last_update_at, state.declared_at, state.fired
    )
    if reminder is not None:
        candidates.append(reminder)
    candidates.extend(earliest for earliest, _ in _pending_targets(state, policy))
    return min(candidates) if candidates else None
