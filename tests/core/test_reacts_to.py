"""``reacts_to``: the engine calls a marked route or planner only for its event classes.

The root ``conftest.py`` makes every other test call each hook for every event
and checks the marks; here the engine's own dispatch runs, so that fixture is
replaced by one that does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import attrs
import pytest

import incidentkit as ik
from incidentkit.engine import Capability, reacting_to, reacts_to
from incidentkit.events import Event, NoteAdded, RecordedEvent, StatusChanged, register_event
from incidentkit.incident import Incident
from incidentkit.notify import Notification
from incidentkit.policy import Policy
from incidentkit.store import KeyClaim, OutboxMessage
from incidentkit.testing import SAMPLE_TIME


@pytest.fixture
def _hooks_keep_their_reacts_to_promise() -> None:
    """The engine's real dispatch (the root conftest's checking one is off here)."""


@attrs.frozen
class _Base(Event):
    tag: ClassVar[str] = "test_reacts_base"


@attrs.frozen
class _Child(_Base):
    tag: ClassVar[str] = "test_reacts_child"


register_event(_Base)
register_event(_Child)


def _kit(capability: Capability) -> ik.IncidentKit:
    return ik.IncidentKit(
        clock=ik.ManualClock(SAMPLE_TIME), autoload_plugins=False, capabilities=[capability]
    )


def test_marked_hooks_see_only_their_events_and_unmarked_ones_see_all() -> None:
    seen: dict[str, list[str]] = {"marked": [], "every": [], "outbox": [], "keys": []}

    @reacts_to(NoteAdded)
    def marked(policy: Policy, after: Incident, record: RecordedEvent) -> Sequence[Notification]:
        seen["marked"].append(record.event.tag)
        return []

    def every(policy: Policy, after: Incident, record: RecordedEvent) -> Sequence[Notification]:
        seen["every"].append(record.event.tag)
        return []

    @reacts_to(StatusChanged)
    def rows(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
        seen["outbox"].append(record.event.tag)
        return []

    @reacts_to(NoteAdded, StatusChanged)
    def keys(after: Incident, record: RecordedEvent) -> Sequence[KeyClaim]:
        seen["keys"].append(record.event.tag)
        return []

    kit = _kit(Capability("watch", routes=(marked, every), outbox=(rows,), keys=(keys,)))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    kit.add_note(inc.id, "Checking dashboards", by="alice")
    kit.set_status(inc.id, ik.Status.INVESTIGATING, by="alice")
    tags = [r.event.tag for r in kit.timeline(inc.id)]
    assert seen["every"] == tags
    assert seen["marked"] == ["note_added"]
    assert seen["outbox"] == ["status_changed"]
    assert seen["keys"] == ["note_added", "status_changed"]


def test_a_subclass_of_a_marked_class_is_admitted_and_registering_resets_the_table() -> None:
    @reacts_to(_Base)
    def base_rows(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
        return []

    kit = _kit(Capability("base", outbox=(base_rows,)))
    engine = kit.engine
    assert base_rows in engine.hooks_for(_Child(by="alice")).outbox
    assert base_rows in engine.hooks_for(_Base(by="alice")).outbox
    assert base_rows not in engine.hooks_for(NoteAdded(by="alice", text="x")).outbox

    @reacts_to(NoteAdded)
    def late(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
        return []

    engine.register(Capability("late", outbox=(late,)))
    assert late in engine.hooks_for(NoteAdded(by="alice", text="x")).outbox


def test_the_mark_is_readable_and_bad_marks_are_refused() -> None:
    @reacts_to(NoteAdded, StatusChanged)
    def hook(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
        return []

    assert reacting_to(hook) == (NoteAdded, StatusChanged)
    assert reacting_to(lambda after, record: []) is None
    with pytest.raises(ik.ValidationError) as err:
        reacts_to()
    assert err.value.field == "event_types"
    with pytest.raises(ik.ValidationError) as err:
        reacts_to(NoteAdded, str)  # type: ignore[arg-type]
    assert err.value.field == "event_types[1]"
    with pytest.raises(ik.ValidationError) as err:
        reacts_to("note_added")  # type: ignore[arg-type]
    assert err.value.field == "event_types[0]"


def test_the_built_in_hooks_are_marked() -> None:
    """Each built-in route and planner names its events (the suite checks them all)."""
    kit = ik.IncidentKit(autoload_plugins=False)
    hooks = [
        hook
        for capability in kit.engine.capabilities.values()
        for hook in (*capability.routes, *capability.outbox, *capability.keys)
    ]
    assert hooks
    unmarked = [getattr(h, "__qualname__", repr(h)) for h in hooks if reacting_to(h) is None]
    assert unmarked == []
    # a note reaches none of them
    note = kit.engine.hooks_for(NoteAdded(by="alice", text="x"))
    assert (note.routes, note.outbox, note.keys) == ((), (), ())
