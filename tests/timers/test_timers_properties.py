"""Properties of ``tick()`` over random histories (hypothesis).

For a random sequence of (advance the clock, maybe tick, then 1 ms later
maybe acknowledge, post an update, move the phase or mitigate), ending with a
tick:

* no timer key appears twice on the timeline, and nothing fires before it is due;
* every escalation step due before the acknowledgement (and by the last tick)
  fired exactly once; no step due at or after the acknowledgement fired;
* escalations and missed targets do not depend on when the ticks ran: a replay
  of the same commands with a single tick at the end records the same keys
  with the same due times (reminders are left out: missed windows collapse,
  so how many fire depends on the ticks, by design). The history may resolve
  the incident: the targets missed before the resolution are recorded however
  the ticks ran (a page due before the resolution but not yet sent is not sent
  after it, so escalations are compared only while the incident stays open);
* after the last tick nothing is due, and the summary's ``next_due_at`` is
  :func:`incidentkit.timers.next_due` of the state.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.clock import ManualClock
from incidentkit.errors import GuardFailed, InvalidTransition
from incidentkit.events import EscalationFired, PublicStatus, ReminderFired, TargetMissed
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import Phase
from incidentkit.oncall.escalation import _firings
from incidentkit.review._rules import next_due as review_next_due
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore
from incidentkit.timers import due_events, next_due

from ._helpers import T0, scheduled_policy, timer_keys

POLICY = scheduled_policy()
ACTIONS = ("none", "ack", "update", "mitigate-phase", "resolve-phase", "mitigated", "resolve")

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20 * 60),  # seconds to advance
        st.sampled_from(ACTIONS),
        st.booleans(),  # tick afterwards?
    ),
    min_size=1,
    max_size=20,
)


def act(kit: IncidentKit, iid: str, action: str) -> None:
    try:
        if action == "ack":
            kit.acknowledge(iid, by="alice")
        elif action == "update":
            kit.post_update(iid, PublicStatus.INVESTIGATING, "still on it", by="alice")
        elif action == "mitigate-phase":
            kit.enter_phase(iid, Phase.MITIGATE, by="alice")
        elif action == "resolve-phase":
            kit.enter_phase(iid, Phase.RESOLVE, by="alice")
        elif action == "mitigated":
            kit.mark_mitigated(iid, by="alice", detail="rolled back")
        elif action == "resolve":
            kit.resolve(iid, by="alice", force=True, reason="property")
    except (InvalidTransition, GuardFailed):
        pass  # acknowledged twice, already in that phase, resolved: nothing recorded


def play(
    severity: Severity, history: list[tuple[int, str, bool]], *, ticks: bool
) -> tuple[IncidentKit, str, datetime]:
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), POLICY, clock, autoload_plugins=False)
    iid = kit.declare("API 500s", severity=severity, by="alice", incident_id="INC-1").id
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    for seconds, action, tick in history:
        clock.advance(timedelta(seconds=seconds))
        if tick and ticks:
            kit.tick()
        # Commands never share an instant with a tick: at one instant, which of
        # the two came first decides (a page due at 10:05 fires if the tick ran
        # before a 10:05 acknowledgement), so the replay could not match.
        clock.advance(timedelta(milliseconds=1))
        act(kit, iid, action)
    kit.tick()
    return kit, iid, clock.now()


def schedule_independent(kit: IncidentKit, iid: str) -> Counter[tuple[str, datetime]]:
    kinds = TargetMissed if kit.get(iid).resolved_at else EscalationFired | TargetMissed
    return Counter(
        (r.event.key, r.event.due_at) for r in kit.timeline(iid) if isinstance(r.event, kinds)
    )


@settings(max_examples=120, deadline=None)
@given(severity=st.sampled_from([Severity.SEV1, Severity.SEV2]), history=steps)
def test_tick_fires_each_timer_once_and_in_time(
    severity: Severity, history: list[tuple[int, str, bool]]
) -> None:
    kit, iid, end = play(severity, history, ticks=True)
    timeline = kit.timeline(iid)
    state = kit.get(iid)

    keys = timer_keys(timeline)
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    for record in timeline:
        event: Any = record.event
        if isinstance(event, EscalationFired | ReminderFired | TargetMissed):
            assert event.due_at <= record.recorded_at, event

    policy = POLICY.oncall.escalation.for_severity(severity)
    assert policy is not None
    acked = state.acknowledged_at
    fired = {r.event.key for r in timeline if isinstance(r.event, EscalationFired)}
    resolved = state.resolved_at
    for firing in _firings(policy, state.declared_at):
        should = firing.fire_at <= end and (acked is None or firing.fire_at < acked)
        if resolved is None:
            assert (firing.key in fired) == should, (firing.key, firing.fire_at, acked, end)
        elif firing.key in fired:  # a page goes out only while the incident is open
            assert should and firing.fire_at <= resolved, (firing.key, resolved)

    assert due_events(state, POLICY, end) == []
    # The summary holds every capability's earliest timer: on-call and the review's.
    timers = [next_due(state, POLICY), review_next_due(state, POLICY)]
    assert kit.summary(iid).next_due_at == min((t for t in timers if t), default=None)

    replay, replay_id, replay_end = play(severity, history, ticks=False)
    assert replay_end == end
    assert schedule_independent(replay, replay_id) == schedule_independent(kit, iid)


@settings(max_examples=60, deadline=None)
@given(history=steps)
def test_reminder_windows_only_move_forward(history: list[tuple[int, str, bool]]) -> None:
    kit, iid, end = play(Severity.SEV1, history, ticks=True)
    last: dict[str, int] = {}
    for record in kit.timeline(iid):
        if isinstance(record.event, ReminderFired):
            basis, _, window = record.event.key.rpartition(":")
            assert int(window) > last.get(basis, 0)
            last[basis] = int(window)
    state = kit.get(iid)
    assert [e for e in due_events(state, POLICY, end) if isinstance(e, ReminderFired)] == []
