"""What one append holds: follow-ups in order, and every event's outbox rows.

The engine skips the outbox planning of an event that has nothing to send
and nobody to tell; these tests pin that such a shortcut never drops an
observer's row, a capability planner's row or a follow-up, and that
follow-ups of follow-ups are appended depth first, right after their cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import attrs
import pytest

import incidentkit as ik
from incidentkit.engine import Capability
from incidentkit.events import Event, NoteAdded, RecordedEvent, register_event
from incidentkit.incident import Incident, evolve_state
from incidentkit.plugins import hookimpl
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore, OutboxMessage
from incidentkit.testing import SAMPLE_TIME


@attrs.frozen
class _Step(Event):
    """A test follow-up: ``name`` is appended once per note asking for it."""

    tag: ClassVar[str] = "test_commit_step"
    name: str = ""


register_event(_Step)


def _done(state: Incident) -> tuple[str, ...]:
    found = state.extensions.get("steps", ())
    assert isinstance(found, tuple)
    return found


def _fold_step(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, _Step)
    return evolve_state(
        state, extensions={**state.extensions, "steps": (*_done(state), event.name)}
    )


def steps(policy: Policy, state: Incident) -> Sequence[Event]:
    """First a and b; after a: a1 (which must come before b)."""
    done = _done(state)
    if not done:
        return [_Step(by="system", name="a"), _Step(by="system", name="b")]
    if done == ("a",):
        return [_Step(by="system", name="a1")]
    return []


def step_rows(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
    if not isinstance(record.event, NoteAdded | _Step):
        return []
    return [
        OutboxMessage(
            key=f"{record.key}:planned",
            incident_id=after.id,
            topic="test_planned",
            target="test",
            payload="{}",
            available_at=record.recorded_at,
        )
    ]


class Observer:
    name = "observer"

    @hookimpl
    def incidentkit_event_recorded(self, incident: Incident, record: RecordedEvent) -> None:
        """Only its outbox rows matter here."""


def _kit(
    store: MemoryStore, *capabilities: Capability, plugins: Sequence[object] = ()
) -> ik.IncidentKit:
    return ik.IncidentKit(
        store=store,
        clock=ik.ManualClock(SAMPLE_TIME),
        autoload_plugins=False,
        capabilities=list(capabilities),
        plugins=list(plugins),
    )


STEPS = Capability("steps", events=(_Step,), folds={_Step: _fold_step}, follow_ups=(steps,))


def test_follow_ups_of_follow_ups_follow_their_cause_depth_first() -> None:
    store = MemoryStore()
    kit = _kit(store)
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    kit.engine.register(STEPS)  # after the declaration: the note's append is the first asked
    kit.add_note(inc.id, "go", by="alice")
    tail = [r.event for r in kit.timeline(inc.id)][-4:]
    assert [type(e).__name__ for e in tail] == ["NoteAdded", "_Step", "_Step", "_Step"]
    assert [e.name for e in tail[1:]] == ["a", "a1", "b"]  # type: ignore[attr-defined]
    assert [e.version for e in store.load(inc.id)] == list(range(1, inc.version + 5))
    # One append: the note and its three follow-ups share the command.
    assert kit.get(inc.id).version == inc.version + 4


def test_follow_ups_that_never_settle_are_refused_and_nothing_is_written() -> None:
    def forever(policy: Policy, state: Incident) -> Sequence[Event]:
        return [_Step(by="system", name="again")]

    store = MemoryStore()
    loop = Capability("loop", events=(_Step,), folds={_Step: _fold_step}, follow_ups=(forever,))
    kit = _kit(store)
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    kit.engine.register(loop)
    with pytest.raises(ik.StoreError, match="never settle"):
        kit.add_note(inc.id, "go", by="alice")
    assert store.version(inc.id) == inc.version


def test_events_without_notifications_keep_observer_and_planner_rows() -> None:
    store = MemoryStore()
    planner = Capability("planner", outbox=(step_rows,))
    kit = _kit(store, planner, plugins=[Observer()])
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    note = kit.add_note(inc.id, "Checking dashboards", by="alice")
    rows = [(r.key, r.topic, r.target) for r in store.outbox(inc.id)]
    key = f"{inc.id}:{note.version}"
    assert (f"{key}:event:observer", "event", "observer") in rows
    assert (f"{key}:planned", "test_planned", "test") in rows
    # The observer's row comes before the planner's, as before.
    assert rows.index((f"{key}:event:observer", "event", "observer")) < rows.index(
        (f"{key}:planned", "test_planned", "test")
    )


def test_an_event_nobody_hears_writes_no_outbox_rows() -> None:
    store = MemoryStore()
    kit = _kit(store)
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    before = len(store.outbox(inc.id))
    kit.add_note(inc.id, "Checking dashboards", by="alice")
    assert len(store.outbox(inc.id)) == before
