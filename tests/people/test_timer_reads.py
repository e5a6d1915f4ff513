"""A timer source's ``reads`` lets a commit reuse its answer; the summary never goes stale.

The engine keeps each source's ``next_due`` from the previous state when
every field the source lists is the same object after the command. These
tests drive random commands and ticks (with and without a people directory)
and compare every stored ``next_due_at`` with a fresh computation that uses
neither the reuse nor the memo.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.engine import Capability, TimerSource
from incidentkit.errors import ValidationError
from incidentkit.incident import Incident
from incidentkit.policy import Policy

from ._helpers import T0, people_policy

Step = Callable[[ik.IncidentKit, str], object]

STEPS: dict[str, Step] = {
    "note": lambda kit, i: kit.add_note(i, "looking", by="alice"),
    "ack": lambda kit, i: kit.acknowledge(i, by="bob"),
    "commander": lambda kit, i: kit.assign_role(i, "incident_commander", "alice", by="alice"),
    "comms": lambda kit, i: kit.assign_role(i, "communications_lead", "carol", by="alice"),
    "update": lambda kit, i: kit.post_update(i, "investigating", "Looking into it", by="alice"),
    "investigating": lambda kit, i: kit.set_status(i, "investigating", by="alice"),
    "mitigate_phase": lambda kit, i: kit.enter_phase(i, "mitigate", by="alice"),
    "sev2": lambda kit, i: kit.set_severity(i, "SEV2", by="alice", reason="narrower"),
    "sev1": lambda kit, i: kit.set_severity(i, "SEV1", by="alice", reason="wider"),
    "mitigated": lambda kit, i: kit.mark_mitigated(i, by="alice", detail="rolled back"),
    "resolve": lambda kit, i: kit.resolve(i, by="alice", force=True, reason="test"),
    "reopen": lambda kit, i: kit.reopen(i, by="alice", reason="back"),
    "close": lambda kit, i: kit.close(i, by="alice", force=True, reason="test"),
    "tick": lambda kit, i: kit.tick(),
    "review_open": lambda kit, i: kit.reviews.open(i, by="alice"),
    "review_meeting": lambda kit, i: kit.reviews.schedule(
        i, kit.clock.now() + timedelta(days=2), by="alice"
    ),
    "review_action": lambda kit, i: kit.reviews.add_action(
        i,
        "Raise the pool size alarm",
        owner="bob",
        priority="P1",
        type="preventive",
        due=(kit.clock.now() + timedelta(days=3)).date(),
        by="alice",
    ),
}


def fresh_dues(kit: ik.IncidentKit, state: Incident) -> tuple[datetime | None, ...]:
    """Every source's ``next_due`` called directly: no memo, no reuse."""
    return tuple(
        source.next_due(state, kit.policy)
        for capability in kit.engine.capabilities.values()
        for source in capability.timers
    )


def fresh_next_due(kit: ik.IncidentKit, state: Incident) -> datetime | None:
    due = [at for at in fresh_dues(kit, state) if at is not None]
    return min(due) if due else None


@pytest.mark.parametrize("with_people", [False, True], ids=["default", "people"])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(sorted(STEPS)), st.integers(min_value=0, max_value=40)),
        max_size=25,
    )
)
@settings(max_examples=60, deadline=None)
def test_stored_next_due_equals_a_fresh_computation(
    with_people: bool, steps: list[tuple[str, int]]
) -> None:
    policy = people_policy() if with_people else Policy.default()
    clock = ik.ManualClock(T0)
    kit = ik.IncidentKit(clock=clock, policy=policy, autoload_plugins=False)
    inc = kit.declare("Login failures", severity=ik.Severity.SEV1, by="alice", services=["auth"])
    for name, wait in steps:
        clock.advance(timedelta(minutes=wait))
        with contextlib.suppress(ik.IncidentKitError):  # refused here: nothing written
            STEPS[name](kit, inc.id)
        state = kit.get(inc.id)
        assert kit.summary(inc.id).next_due_at == fresh_next_due(kit, state), name
        cached = kit.engine.cache.get(inc.id)
        assert cached is not None and cached.state is state
        if cached.dues is not None:  # each source's own answer, not only the earliest
            assert cached.dues == fresh_dues(kit, state), name


def test_reads_must_name_incident_fields() -> None:
    with pytest.raises(ValidationError) as err:
        TimerSource("x", lambda s, p, n: (), lambda s, p: None, reads=("status", "nope"))
    assert err.value.field == "reads[1]"


def test_a_source_without_reads_is_asked_on_every_commit() -> None:
    calls: list[int] = []

    def next_due(state: Incident, policy: Policy) -> datetime | None:
        calls.append(state.version)
        return None

    source = TimerSource("count", lambda s, p, n: (), next_due)
    extra = Capability(name="counting", timers=(source,))
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False, capabilities=[extra])
    inc = kit.declare("Login failures", severity=ik.Severity.SEV2, by="alice")
    kit.add_note(inc.id, "one", by="alice")
    kit.add_note(inc.id, "two", by="alice")
    assert calls == [inc.version, inc.version + 1, inc.version + 2]


def test_a_source_with_reads_is_not_asked_when_they_did_not_change() -> None:
    calls: list[int] = []

    def next_due(state: Incident, policy: Policy) -> datetime | None:
        calls.append(state.version)
        return state.declared_at + timedelta(hours=1) if state.acknowledged_at is None else None

    source = TimerSource("count", lambda s, p, n: (), next_due, reads=("acknowledged_at",))
    extra = Capability(name="counting", timers=(source,))
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False, capabilities=[extra])
    inc = kit.declare("Login failures", severity=ik.Severity.SEV3, by="alice")
    assert calls == [inc.version]
    kit.add_note(inc.id, "one", by="alice")  # acknowledged_at unchanged: reused
    assert calls == [inc.version]
    acked = kit.acknowledge(inc.id, by="alice")
    assert calls == [inc.version, acked.version]
    assert kit.summary(inc.id).next_due_at == fresh_next_due(kit, kit.get(inc.id))
