"""Guards around delivery: lease vs notifier timeout, and mitigations that never run."""

from __future__ import annotations

from datetime import timedelta

import pytest

import incidentkit as ik
from incidentkit.events import MitigationCompleted
from incidentkit.testing import SAMPLE_TIME, CapturingNotifier, RecordingAction

T0 = SAMPLE_TIME


def test_a_lease_shorter_than_a_notifier_timeout_is_refused() -> None:
    slow = ik.NotifierSpec("slow", lambda n: None, timeout=timedelta(minutes=10))

    class Slow:
        name = "slow-plugin"

        @ik.hookimpl
        def incidentkit_notifiers(self) -> list[ik.NotifierSpec]:
            return [slow]

    kit = ik.IncidentKit(clock=ik.ManualClock(T0), plugins=[Slow()], autoload_plugins=False)
    kit.declare("API down", severity="SEV1", by="alice")
    with pytest.raises(ik.ValidationError) as caught:
        kit.deliver(lease=timedelta(minutes=5))
    assert caught.value.field == "lease"
    assert "'slow'" in caught.value.reason
    assert kit.deliver(lease=timedelta(minutes=11)).delivered >= 1


def test_a_mitigation_waits_for_a_worker_that_has_its_action() -> None:
    clock = ik.ManualClock(T0)
    store = ik.MemoryStore()
    action = RecordingAction()
    requester = ik.IncidentKit(store=store, clock=clock, plugins=[action], autoload_plugins=False)
    inc = requester.declare("API down", severity="SEV1", by="alice")
    requester.mitigate(inc.id, action.name, by="alice", params={})
    # A worker without that action registered leaves the request alone.
    worker = ik.IncidentKit(
        store=store, clock=clock, plugins=[CapturingNotifier()], autoload_plugins=False
    )
    [row] = [r for r in store.outbox(inc.id) if r.topic == "mitigation"]
    for _ in range(12):
        worker.deliver()
        clock.advance(timedelta(minutes=30))
    assert action.calls == []
    assert [r for r in store.outbox(inc.id) if r.id == row.id] == [row]  # untouched
    assert worker.get(inc.id).pending_mitigations != {}
    requester.deliver()
    assert len(action.calls) == 1
    completed = [
        r.event for r in worker.timeline(inc.id) if isinstance(r.event, MitigationCompleted)
    ]
    assert [(e.outcome, e.action) for e in completed] == [("applied", action.name)]
