"""Property: whatever ``record()`` accepts, the ordinary commands could have done.

Hypothesis builds batches of events (many plausible for the current state,
many not) and hands them to ``record()`` on one kit. A refused batch must
leave the store exactly as it was. An accepted one is replayed on a twin kit
through the ordinary commands (``assign_role``, ``resolve`` …), event by
event: every command must succeed, and both kits must end in the same state
with the same timeline.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from incidentkit.checklists import DEFAULT_TEMPLATES, ItemState
from incidentkit.clock import ManualClock
from incidentkit.errors import IncidentKitError
from incidentkit.events import (
    Acknowledged,
    ChannelOpened,
    ChecklistItemChanged,
    Closed,
    Conclusion,
    EscalationFired,
    Event,
    HypothesisRecorded,
    MitigationCompleted,
    NoteAdded,
    PhaseEntered,
    PublicStatus,
    Reopened,
    Resolved,
    RoleAssigned,
    RoleHandedOver,
    RoleReleased,
    SeverityChanged,
    StatusChanged,
    TargetMissed,
    UpdatePosted,
)
from incidentkit.incident import Incident
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import Phase, Status
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore

from ._helpers import T0, snapshot

ACTORS = ["alice", "bob", "carol"]
ROLES = ["incident_commander", "technical_lead", "scribe", "wizard"]
ITEMS = [(t.name, item.key) for t in DEFAULT_TEMPLATES for item in t.items]
WORDS = st.sampled_from(["", "  ", "checked", "pool raised"])


def _kit() -> IncidentKit:
    return IncidentKit(store=MemoryStore(), clock=ManualClock(T0), autoload_plugins=False)


def _event(draw: st.DrawFn, state: Incident, by: str) -> Event:
    """One event, often one that fits ``state``, often one that does not."""
    # the lifecycle events come up often; the kit-only ones now and then
    kind = draw(st.sampled_from([*range(15), 2, 5, 9, 11, 11, 12, 13, 15, 16, 17]))
    role = draw(st.sampled_from(ROLES))
    person = draw(st.sampled_from(ACTORS))
    word = draw(WORDS)
    if kind == 0:
        return Acknowledged(by=by)
    if kind == 1:
        old = draw(st.sampled_from([state.severity, *Severity]))
        return SeverityChanged(by=by, old=old, new=draw(st.sampled_from(Severity)), reason=word)
    if kind == 2:
        return RoleAssigned(by=by, role=role, person=person)
    if kind == 3:
        holder = state.holder(role) or person
        return RoleHandedOver(
            by=by, role=role, from_person=draw(st.sampled_from([holder, by])), to_person=person
        )
    if kind == 4:
        return RoleReleased(by=by, role=role, person=state.holder(role) or person)
    if kind == 5:
        old = draw(st.sampled_from([state.status, *Status]))
        return StatusChanged(by=by, old=old, new=draw(st.sampled_from(Status)), reason=word)
    if kind == 6:
        previous = draw(st.sampled_from([state.phase, *Phase]))
        return PhaseEntered(by=by, phase=draw(st.sampled_from(Phase)), previous=previous)
    if kind == 7:
        return NoteAdded(by=by, text=draw(st.sampled_from(["seen", " seen ", ""])))
    if kind == 8:
        return HypothesisRecorded(
            by=by, hypothesis="pool", conclusion=draw(st.sampled_from(Conclusion))
        )
    if kind == 9:
        checklist, item = draw(st.sampled_from(ITEMS))
        return ChecklistItemChanged(
            by=by,
            checklist=checklist,
            item=item,
            state=draw(st.sampled_from(ItemState)),
            reason=word.strip(),
        )
    if kind == 10:
        return UpdatePosted(by=by, status=draw(st.sampled_from(PublicStatus)), message="ok")
    if kind == 11:
        forced = draw(st.booleans())
        open_items = state.open_items("resolution") if forced else ()
        return Resolved(
            by=by,
            summary=word.strip(),
            forced=forced,
            force_reason="drill" if forced else "",
            open_items=draw(st.sampled_from([open_items, open_items, ("x",)])),
        )
    if kind == 12:
        return Reopened(by=by, reason=draw(st.sampled_from(["back", ""])))
    if kind == 13:
        return Closed(by=by, reason=word.strip())
    if kind == 14:
        request = draw(st.sampled_from([f"{state.id}:{state.version + 1}", "R-1"]))
        return MitigationCompleted(
            by=by, request_id=request, action="manual", outcome="applied", detail="by hand"
        )
    if kind == 15:
        return EscalationFired(by=by, key="escalation:0:0", action="page", due_at=T0)
    if kind == 16:
        return TargetMissed(by=by, key="target:response", target="response", due_at=T0)
    return ChannelOpened(by=by, channel="#x")


def _replay(kit: IncidentKit, iid: str, event: Event) -> None:
    """Do with an ordinary command what ``event`` records."""
    by = event.by
    match event:
        case Acknowledged():
            kit.acknowledge(iid, by=by)
        case SeverityChanged():
            kit.set_severity(iid, event.new, by=by, reason=event.reason)
        case RoleAssigned():
            kit.assign_role(iid, event.role, event.person, by=by)
        case RoleHandedOver():
            kit.assign_role(iid, event.role, event.to_person, by=by)
        case RoleReleased():
            kit.release_role(iid, event.role, by=by)
        case StatusChanged():
            kit.set_status(iid, event.new, by=by, reason=event.reason)
        case PhaseEntered():
            kit.enter_phase(iid, event.phase, by=by)
        case NoteAdded():
            kit.add_note(iid, event.text, by=by)
        case HypothesisRecorded():
            kit.record_hypothesis(iid, event.hypothesis, by=by, conclusion=event.conclusion)
        case ChecklistItemChanged():
            if event.state is ItemState.DONE:
                kit.check(iid, event.checklist, event.item, by=by)
            elif event.state is ItemState.SKIPPED:
                kit.skip(iid, event.checklist, event.item, by=by, reason=event.reason)
            else:
                kit.not_applicable(iid, event.checklist, event.item, by=by, reason=event.reason)
        case UpdatePosted():
            kit.post_update(iid, event.status, event.message, by=by)
        case Resolved():
            kit.resolve(
                iid, by=by, summary=event.summary, force=event.forced, reason=event.force_reason
            )
        case Reopened():
            kit.reopen(iid, by=by, reason=event.reason)
        case Closed():
            kit.close(iid, by=by, reason=event.reason)
        case MitigationCompleted():
            kit.mark_mitigated(iid, by=by, detail=event.detail, action=event.action)
        case _:
            raise AssertionError(f"record() accepted {event.tag!r}, which no command writes")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_record_is_refused_or_reachable_by_the_commands(data: st.DataObject) -> None:
    recorded, commands = _kit(), _kit()
    iid = recorded.declare("API 500s", severity="SEV2", by="alice", incident_id="INC-1").id
    commands.declare("API 500s", severity="SEV2", by="alice", incident_id="INC-1")
    if data.draw(st.booleans(), label="commander first"):
        for kit in (recorded, commands):
            kit.assign_role(iid, "incident_commander", "alice", by="alice")
    store = recorded.store
    assert isinstance(store, MemoryStore)
    for _ in range(data.draw(st.integers(1, 12), label="batches")):
        step = timedelta(minutes=data.draw(st.integers(0, 20), label="minutes"))
        for kit in (recorded, commands):
            assert isinstance(kit.clock, ManualClock)
            kit.clock.advance(step)
        by = data.draw(st.sampled_from(["alice", *ACTORS]), label="by")
        state = recorded.get(iid)
        batch = [
            _event(data.draw, state, data.draw(st.sampled_from([by, by, by, "mallory"])))
            for _ in range(data.draw(st.integers(1, 3), label="size"))
        ]
        before = snapshot(store)
        try:
            recorded.record(iid, batch, by=by)
        except IncidentKitError as err:
            event(f"refused: {type(err).__name__}")
            assert snapshot(store) == before
            continue
        event(f"accepted: {' '.join(e.tag for e in batch)}"[:60])
        for item in batch:
            _replay(commands, iid, item)
        assert recorded.get(iid) == commands.get(iid)
        assert [r.event for r in recorded.timeline(iid)] == [
            r.event for r in commands.timeline(iid)
        ]
        assert recorded.verify(iid).ok
