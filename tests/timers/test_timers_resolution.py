"""Targets missed before resolution are recorded even when no tick ran in between.

``tick()`` skips resolved incidents, so the resolution itself records every
target that was already missed (in the same append as ``Resolved``); the
timeline then does not depend on when the ticks ran.
"""

from __future__ import annotations

from incidentkit.clock import ManualClock
from incidentkit.events import Resolved, TargetMissed
from incidentkit.kit import IncidentKit
from incidentkit.severity import Severity
from incidentkit.testing import CapturingNotifier

from ._helpers import T0, minutes


def test_resolution_records_targets_missed_since_the_last_tick(
    kit: IncidentKit, clock: ManualClock
) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV2, by="alice").id
    clock.set(T0 + minutes(1))
    kit.acknowledge(iid, by="alice")
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    clock.set(T0 + minutes(20))  # assess (5m) and mitigate (15m) passed; no tick ran
    kit.resolve(iid, by="alice", force=True, reason="drill")

    timeline = kit.timeline(iid)
    missed = [r for r in timeline if isinstance(r.event, TargetMissed)]
    assert [(r.event.key, r.event.due_at) for r in missed] == [
        ("target:phase:assess", T0 + minutes(5)),
        ("target:phase:mitigate", T0 + minutes(15)),
    ]
    (resolved,) = [r for r in timeline if isinstance(r.event, Resolved)]
    # The same append: recorded together, just before the resolution.
    assert [r.version for r in missed] == [resolved.version - 2, resolved.version - 1]
    assert {r.recorded_at for r in missed} == {resolved.recorded_at}
    # After the resolution no on-call timer is due: the resolve's append created
    # the post-incident review, whose due date is the one timer left.
    review = kit.reviews.get(iid)
    assert review.trigger_at == resolved.recorded_at
    assert kit.summary(iid).next_due_at == review.due_by
    assert kit.tick(T0 + minutes(60)).fired == ()


def test_a_target_met_by_the_resolution_is_not_recorded(
    kit: IncidentKit, clock: ManualClock
) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV2, by="alice").id
    clock.set(T0 + minutes(1))
    kit.acknowledge(iid, by="alice")
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    kit.enter_phase(iid, "mitigate", by="alice")
    kit.mark_mitigated(iid, by="alice", detail="rolled back")
    clock.set(T0 + minutes(30))  # exactly the resolve target: met
    kit.resolve(iid, by="alice", force=True, reason="drill")
    assert [r for r in kit.timeline(iid) if isinstance(r.event, TargetMissed)] == []


def test_targets_recorded_at_resolution_send_no_reminder(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV2, by="alice").id
    clock.set(T0 + minutes(1))
    kit.acknowledge(iid, by="alice")
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    clock.set(T0 + minutes(20))
    kit.resolve(iid, by="alice", force=True, reason="drill")
    state = kit.get(iid)
    for record in kit.timeline(iid):
        if isinstance(record.event, TargetMissed):
            assert kit.notifications_for(state, record) == []
