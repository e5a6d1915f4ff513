"""Status-update reminders and missed targets through the kit (the On-call issue)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from incidentkit.clock import ManualClock
from incidentkit.events import EscalationFired, PublicStatus, ReminderFired, TargetMissed
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import Phase
from incidentkit.notify import NotificationKind
from incidentkit.roles import Role
from incidentkit.severity import Severity
from incidentkit.testing import CapturingNotifier

from ._helpers import T0, duplicates, minutes, timer_keys, timer_records


def reminders(kit: IncidentKit, incident_id: str) -> list[ReminderFired]:
    return [r.event for r in timer_records(kit, incident_id) if isinstance(r.event, ReminderFired)]


def missed(kit: IncidentKit, incident_id: str) -> list[TargetMissed]:
    return [r.event for r in timer_records(kit, incident_id) if isinstance(r.event, TargetMissed)]


def tick_every(kit: IncidentKit, clock: ManualClock, until: datetime, step: float = 1) -> None:
    while clock.now() < until:
        clock.advance(minutes(step))
        kit.tick()


@pytest.mark.parametrize(("severity", "cadence"), [(Severity.SEV1, 15), (Severity.SEV2, 30)])
def test_reminders_follow_the_cadence_from_the_declaration(
    kit: IncidentKit, clock: ManualClock, severity: Severity, cadence: int
) -> None:
    inc = kit.declare("API 500s", severity=severity, by="alice")
    tick_every(kit, clock, T0 + minutes(90))
    fired = reminders(kit, inc.id)
    windows = range(1, 90 // cadence + 1)
    assert [r.due_at for r in fired] == [T0 + minutes(cadence * w) for w in windows]
    assert [r.key for r in fired] == [f"reminder:{T0.isoformat()}:{w}" for w in windows]
    assert all(r.reminder == "status_update" for r in fired)


@pytest.mark.parametrize("severity", [Severity.SEV3, Severity.SEV4])
def test_no_cadence_no_reminders(kit: IncidentKit, clock: ManualClock, severity: Severity) -> None:
    inc = kit.declare("minor", severity=severity, by="alice")
    tick_every(kit, clock, T0 + minutes(120), step=5)
    assert reminders(kit, inc.id) == []


def test_posting_an_update_resets_the_cadence(kit: IncidentKit, clock: ManualClock) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    tick_every(kit, clock, T0 + minutes(10))
    kit.post_update(inc.id, PublicStatus.INVESTIGATING, "Looking into it", by="alice")
    tick_every(kit, clock, T0 + minutes(24))
    assert reminders(kit, inc.id) == []  # not at +15: the update at +10 moved the basis
    tick_every(kit, clock, T0 + minutes(25))
    (first,) = reminders(kit, inc.id)
    basis = T0 + minutes(10)
    assert (first.key, first.due_at) == (f"reminder:{basis.isoformat()}:1", T0 + minutes(25))


def test_a_reminder_fires_once_per_overdue_window(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    kit.assign_role(inc.id, Role.COMMUNICATIONS_LEAD, "charlie", by="alice")
    tick_every(kit, clock, T0 + minutes(44), step=0.5)  # 88 ticks, windows 1 and 2
    assert [r.due_at for r in reminders(kit, inc.id)] == [T0 + minutes(15), T0 + minutes(30)]
    kit.deliver()
    notes = [n for n in capturing_notifier.delivered if n.kind is NotificationKind.REMINDER]
    reminder_notes = [n for n in notes if "status update" in n.text]
    assert len(reminder_notes) == 2
    assert all("charlie" in n.targets for n in reminder_notes)


def test_missed_targets_are_recorded_once_each(kit: IncidentKit, clock: ManualClock) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    tick_every(kit, clock, T0 + minutes(45), step=0.5)
    assert [(m.key, m.due_at) for m in missed(kit, inc.id)] == [
        ("target:response", T0 + minutes(5)),
        ("target:phase:assess", T0 + minutes(5)),
        ("target:phase:mitigate", T0 + minutes(15)),
        ("target:phase:resolve", T0 + minutes(30)),
    ]


def test_meeting_the_targets_records_nothing(kit: IncidentKit, clock: ManualClock) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(2))
    kit.acknowledge(inc.id, by="alice")
    kit.enter_phase(inc.id, Phase.MITIGATE, by="alice")
    clock.set(T0 + minutes(10))
    kit.mark_mitigated(inc.id, by="alice", detail="rolled back")
    tick_every(kit, clock, T0 + minutes(25))
    kit.assign_role(inc.id, Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(inc.id, by="alice", force=True, reason="drill")
    tick_every(kit, clock, T0 + minutes(60), step=5)
    assert missed(kit, inc.id) == []


def test_a_phase_done_at_its_deadline_met_it_and_the_index_says_so(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    kit.acknowledge(inc.id, by="alice")
    deadline = T0 + minutes(5)  # the assess target, the only timer left
    due_at = kit.summary(inc.id).next_due_at
    assert due_at is not None and deadline < due_at <= deadline + timedelta(milliseconds=1)
    clock.set(deadline)
    assert kit.tick().checked == 0  # not even loaded: done now, it would be on time
    kit.enter_phase(inc.id, Phase.MITIGATE, by="alice")
    clock.set(deadline + minutes(60))
    assert "target:phase:assess" not in timer_keys(kit.tick().fired)


def test_a_tick_at_the_summary_instant_records_the_missed_target(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    kit.acknowledge(inc.id, by="alice")
    due_at = kit.summary(inc.id).next_due_at
    assert due_at is not None
    clock.set(due_at)
    report = kit.tick()
    assert timer_keys(report.fired) == ["target:phase:assess"]
    (event,) = missed(kit, inc.id)
    assert event.due_at == T0 + minutes(5)


def test_an_hour_without_ticks_fires_each_late_step_once_in_order(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(61))
    report = kit.tick()
    keys = timer_keys(report.fired)
    assert keys == [
        "escalation:sev1:1:0",
        "target:response",
        "target:phase:assess",
        "target:phase:mitigate",
        "target:phase:resolve",
        f"reminder:{T0.isoformat()}:4",
    ]
    due = [r.event.due_at for r in report.fired]  # type: ignore[attr-defined]
    assert due == sorted(due)
    (reminder,) = reminders(kit, inc.id)  # windows 1-4 collapsed into one
    assert "overdue by 46m" in reminder.text

    for _ in range(3):  # more ticks at the same instant: nothing new
        assert kit.tick().fired == ()
    clock.set(T0 + minutes(75))
    assert timer_keys(kit.tick().fired) == [f"reminder:{T0.isoformat()}:5"]
    assert duplicates(timer_keys(kit.timeline(inc.id))) == {}
    assert sum(isinstance(r.event, EscalationFired) for r in kit.timeline(inc.id)) == 2


def test_a_late_ack_before_the_next_tick_still_records_the_missed_response(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(2))
    kit.tick()
    clock.set(T0 + minutes(7))  # no tick ran at +5
    kit.acknowledge(inc.id, by="alice")
    kit.tick()
    assert ("target:response", T0 + minutes(5)) in [(m.key, m.due_at) for m in missed(kit, inc.id)]


def test_an_ack_exactly_at_the_deadline_is_on_time(kit: IncidentKit, clock: ManualClock) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(5))
    kit.acknowledge(inc.id, by="alice")
    clock.set(T0 + minutes(6))
    kit.tick()
    assert "target:response" not in [m.key for m in missed(kit, inc.id)]
    assert "escalation:sev1:1:0" not in timer_keys(kit.timeline(inc.id))


def test_a_phase_completed_late_between_ticks_is_recorded_as_missed(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV2, by="alice")
    clock.set(T0 + minutes(1))
    kit.enter_phase(inc.id, Phase.MITIGATE, by="alice")
    kit.tick()
    clock.set(T0 + minutes(20))  # mitigated after the 15-minute target, no tick since +1
    kit.mark_mitigated(inc.id, by="alice", detail="rolled back")
    kit.tick()
    assert ("target:phase:mitigate", T0 + minutes(15)) in [
        (m.key, m.due_at) for m in missed(kit, inc.id)
    ]
    assert "target:phase:assess" not in [m.key for m in missed(kit, inc.id)]


def test_an_update_for_an_audience_the_cadence_is_not_for_does_not_reset_it(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    tick_every(kit, clock, T0 + minutes(5))
    kit.post_update(
        inc.id, "investigating", "Support: expect login errors", by="alice", audience="support"
    )
    state = kit.get(inc.id)
    assert state.last_update_at is None  # on the timeline, not a cadence update
    assert [
        r.event.counts_for_cadence for r in kit.timeline(inc.id) if r.event.tag == "update_posted"
    ] == [False]
    tick_every(kit, clock, T0 + minutes(15))
    (first,) = reminders(kit, inc.id)  # still due 15 minutes after the declaration
    assert first.due_at == T0 + minutes(15)
    kit.post_update(inc.id, "investigating", "We are investigating", by="alice")
    assert kit.get(inc.id).last_update_at == T0 + minutes(15)  # public counts (the default rule)
    tick_every(kit, clock, T0 + minutes(29))
    assert len(reminders(kit, inc.id)) == 1


def test_cadence_audiences_in_the_policy_decide_which_updates_count(clock: ManualClock) -> None:
    import attrs

    from incidentkit.policy import Policy

    base = Policy()
    policy = attrs.evolve(
        base, status=attrs.evolve(base.status, cadence_audiences=("public", "support"))
    )
    kit = IncidentKit(clock=clock, policy=policy, autoload_plugins=False)
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    kit.post_update(inc.id, "investigating", "Support note", by="alice", audience="support")
    assert kit.get(inc.id).last_update_at == T0
    kit.post_update(inc.id, "investigating", "Execs note", by="alice", audience="executives")
    (support, execs) = [r.event for r in kit.timeline(inc.id) if r.event.tag == "update_posted"]
    assert (support.counts_for_cadence, execs.counts_for_cadence) == (True, False)
