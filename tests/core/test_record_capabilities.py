"""``kit.record()`` and capability events (issue 9).

A capability's event is accepted only when the capability says, with a
``RecordRule``, which command writes it and how that command decides it;
otherwise it is refused with ``ReservedEvent`` naming the event. The built-in
mitigation capability says so for requests and hand-recorded outcomes, so
``record()`` accepts exactly what ``mitigate()`` and ``mark_mitigated()``
would record, and refuses the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import ClassVar

import attrs
import pytest

import incidentkit as ik
from incidentkit.engine import Capability, Engine, RecordRule
from incidentkit.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    PolicyError,
    ReservedEvent,
    ValidationError,
)
from incidentkit.events import Event, MitigationRequested, NoteAdded, RecordedEvent
from incidentkit.incident import Incident
from incidentkit.kit import IncidentKit
from incidentkit.plugins import hookimpl
from incidentkit.store import MemoryStore, OutboxState
from incidentkit.testing import RecordingAction

from ._helpers import T0, KitFactory, snapshot

IC = "incident_commander"


@attrs.frozen
class Stamped(Event):
    """A capability event a person records (through the ``stamp`` command)."""

    tag: ClassVar[str] = "test_record_stamped"
    label: str = ""


@attrs.frozen
class Audited(Event):
    """A capability event only the capability itself writes (no record rule)."""

    tag: ClassVar[str] = "test_record_audited"
    finding: str = ""


def _fold_stamp(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, Stamped)
    stamps = state.extensions.get("stamps", ())
    assert isinstance(stamps, tuple)
    return attrs.evolve(state, extensions={**state.extensions, "stamps": (*stamps, event.label)})


def _fold_audit(state: Incident, record: RecordedEvent) -> Incident:
    return state


def decide_stamp(state: Incident, *, label: object, by: str) -> list[Event]:
    if not state.is_open:
        raise InvalidTransition(state.id, "stamp", state.status.value, ())
    if not isinstance(label, str) or label != label.strip() or not label:
        raise ValidationError("label", "give a label without surrounding spaces")
    return [Stamped(by=by, label=label)]


def _recorded_stamp(_: Engine, state: Incident, event: Event, __: datetime) -> Sequence[Event]:
    assert isinstance(event, Stamped)
    return decide_stamp(state, label=event.label, by=event.by)


STAMPS = Capability(
    name="stamps",
    events=(Stamped, Audited),
    folds={Stamped: _fold_stamp, Audited: _fold_audit},
    commander_actions=frozenset({"stamp"}),
    recordable={Stamped: RecordRule("stamp", _recorded_stamp)},
)


class _Seen:
    def __init__(self) -> None:
        self.actions: list[str] = []

    @hookimpl
    def incidentkit_authorize(self, actor: str, action: str, incident: object) -> str | None:
        self.actions.append(action)
        return None


def test_a_capability_event_without_a_rule_is_reserved(
    make_kit: KitFactory, store: MemoryStore
) -> None:
    kit = make_kit(capabilities=[STAMPS])
    iid = kit.declare("API 500s", severity="SEV2", by="alice").id
    before = snapshot(store)
    batch = [NoteAdded(by="bob", text="first"), Audited(by="bob", finding="forged")]
    with pytest.raises(ReservedEvent) as err:
        kit.record(iid, batch, by="bob")
    assert (err.value.field, err.value.tag) == ("events[1]", Audited.tag)
    assert Audited.tag in str(err.value)
    assert "stamps capability" in str(err.value)
    assert snapshot(store) == before


def test_a_capability_event_with_a_rule_goes_through_its_command(
    make_kit: KitFactory, store: MemoryStore
) -> None:
    seen = _Seen()
    kit = make_kit(capabilities=[STAMPS], plugins=[seen])
    iid = kit.declare("API 500s", severity="SEV2", by="alice").id
    kit.assign_role(iid, IC, "alice", by="alice")
    seen.actions.clear()
    state = kit.record(iid, [Stamped(by="alice", label="checked")], by="alice")
    assert seen.actions == ["stamp"]
    assert state.extensions["stamps"] == ("checked",)
    # the capability's commander rule applies to record() too
    before = snapshot(store)
    with pytest.raises(PermissionDenied) as denied:
        kit.record(iid, [Stamped(by="bob", label="mine")], by="bob")
    assert denied.value.action == "stamp"
    # and its handler: what the command would not record is refused
    with pytest.raises(ValidationError) as bad:
        kit.record(iid, [Stamped(by="alice", label=" padded ")], by="alice")
    assert bad.value.field == "label"
    assert snapshot(store) == before


def test_a_capability_event_of_an_unregistered_capability_is_reserved(
    make_kit: KitFactory, store: MemoryStore
) -> None:
    make_kit(on=MemoryStore(), capabilities=[STAMPS])  # registers the event class
    kit = make_kit()  # this kit has no stamps capability
    iid = kit.declare("API 500s", severity="SEV2", by="alice").id
    before = snapshot(store)
    with pytest.raises(ReservedEvent) as err:
        kit.record(iid, [Stamped(by="alice", label="checked")], by="alice")
    assert err.value.tag == Stamped.tag
    assert snapshot(store) == before


def test_a_rule_for_another_capabilitys_event_is_refused() -> None:
    foreign = Capability(
        name="foreign",
        events=(Audited,),
        recordable={Stamped: RecordRule("stamp", _recorded_stamp)},
    )
    with pytest.raises(ValidationError) as err:
        IncidentKit(capabilities=[foreign], autoload_plugins=False)
    assert err.value.field == "recordable"
    again = Capability(
        name="again", events=(Stamped,), recordable={Stamped: RecordRule("x", _recorded_stamp)}
    )
    with pytest.raises(ValidationError, match="already has a record rule"):
        IncidentKit(capabilities=[STAMPS, again], autoload_plugins=False)


def _mitigating(make_kit: KitFactory, **kwargs: object) -> tuple[IncidentKit, RecordingAction]:
    rollback = RecordingAction("rollback")
    kit = make_kit(plugins=[rollback], **kwargs)
    return kit, rollback


def test_a_recorded_mitigation_request_is_what_mitigate_records(
    make_kit: KitFactory, store: MemoryStore, clock: ik.ManualClock
) -> None:
    kit, rollback = _mitigating(make_kit)
    iid = kit.declare("API 500s", severity="SEV1", by="alice", incident_id="A").id
    clock.advance(timedelta(minutes=2))
    request = MitigationRequested(
        by="bob",
        request_id=f"{iid}:{kit.get(iid).version + 1}",
        action="rollback",
        params={"note": "deploy 4812", "count": 2},
    )
    state = kit.record(iid, [request], by="bob")
    assert state.pending_mitigations == {request.request_id: "rollback"}
    [row] = [r for r in kit.store.outbox() if r.topic == "mitigation"]
    assert (row.target, row.state) == ("rollback", OutboxState.PENDING)

    twin, _ = _mitigating(make_kit, on=MemoryStore(), at=ik.ManualClock(T0))
    twin.declare("API 500s", severity="SEV1", by="alice", incident_id="A")
    twin.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    twin.mitigate("A", "rollback", by="bob", params={"note": "deploy 4812", "count": 2})
    assert kit.get(iid) == twin.get("A")
    assert [r.event for r in kit.timeline(iid)] == [r.event for r in twin.timeline("A")]

    kit.deliver()
    assert len(rollback.calls) == 1
    assert kit.get(iid).mitigated_at is not None


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"inline": True}, ValidationError, "events[0]"),  # only mitigate(inline=True) runs it
        ({"request_id": "R-1"}, ValidationError, "events[0]"),
        ({"params": {"count": "many"}}, PolicyError, None),  # as mitigate() refuses them
        ({"action": "reboot-the-world"}, NotFound, None),
    ],
)
def test_record_refuses_a_request_mitigate_would_not_record(
    make_kit: KitFactory,
    store: MemoryStore,
    changes: dict[str, object],
    error: type[Exception],
    field: str | None,
) -> None:
    kit, rollback = _mitigating(make_kit)
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    honest = MitigationRequested(
        by="bob", request_id=f"{iid}:{kit.get(iid).version + 1}", action="rollback", params={}
    )
    before = snapshot(store)
    with pytest.raises(error) as err:
        kit.record(iid, [attrs.evolve(honest, **changes)], by="bob")
    if field is not None:
        assert isinstance(err.value, ValidationError)
        assert err.value.field == field
    assert snapshot(store) == before
    assert rollback.calls == []


def test_record_with_an_idempotency_key_writes_once(kit: IncidentKit) -> None:
    iid = kit.declare("API 500s", severity="SEV2", by="alice").id
    note = [NoteAdded(by="bob", text="imported")]
    first = kit.record(iid, note, by="bob", idempotency_key="import-1")
    again = kit.record(iid, note, by="bob", idempotency_key="import-1")
    assert again == first
    assert [r.event for r in kit.timeline(iid)].count(note[0]) == 1
