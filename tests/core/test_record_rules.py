"""``kit.record()`` obeys every rule the ordinary commands obey (issue 9).

Each event kind is authorized under the action of the command that normally
writes it and checked by that command's pure handler; events only the kit
writes (timers, delivery outcomes) are refused. A refused batch stores nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import (
    GuardFailed,
    InvalidTransition,
    PermissionDenied,
    ReservedEvent,
    ValidationError,
)
from incidentkit.events import (
    ChannelOpened,
    Closed,
    EscalationFired,
    Event,
    MitigationCompleted,
    NoteAdded,
    NotificationFailed,
    RecordedEvent,
    ReminderFired,
    Reopened,
    Resolved,
    RoleAssigned,
    RoleHandedOver,
    SeverityChanged,
    TargetMissed,
)
from incidentkit.incident import apply
from incidentkit.kit import IncidentKit
from incidentkit.plugins import hookimpl
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore

from ._helpers import T0, KitFactory, snapshot

IC = "incident_commander"


def _with_commander(kit: IncidentKit) -> str:
    iid = kit.declare("API 500s", severity="SEV2", by="alice").id
    kit.assign_role(iid, IC, "alice", by="alice")
    return iid


def test_record_cannot_take_over_as_commander(kit: IncidentKit, store: MemoryStore) -> None:
    iid = _with_commander(kit)
    before = snapshot(store)
    takeover = RoleHandedOver(by="mallory", role=IC, from_person="alice", to_person="mallory")
    with pytest.raises(PermissionDenied) as err:
        kit.record(iid, [takeover], by="mallory")
    assert err.value.action == "assign role"
    assert snapshot(store) == before
    assert kit.get(iid).commander == "alice"


def test_record_cannot_write_events_in_someone_elses_name(
    kit: IncidentKit, store: MemoryStore
) -> None:
    iid = _with_commander(kit)
    before = snapshot(store)
    forged = RoleHandedOver(by="alice", role=IC, from_person="alice", to_person="mallory")
    with pytest.raises(ValidationError) as err:
        kit.record(iid, [forged], by="mallory")
    assert err.value.field == "events[0].by"
    assert snapshot(store) == before


def test_record_cannot_resolve_with_required_criteria_open(
    kit: IncidentKit, store: MemoryStore
) -> None:
    iid = _with_commander(kit)
    before = snapshot(store)
    with pytest.raises(GuardFailed):
        kit.record(iid, [Resolved(by="alice", summary="done")], by="alice")
    assert snapshot(store) == before
    assert kit.get(iid).is_open


def test_record_cannot_claim_a_forced_resolution_the_command_would_not_record(
    kit: IncidentKit, store: MemoryStore
) -> None:
    iid = _with_commander(kit)
    # the open items are the kit's to list: a forged list is refused
    forged = Resolved(by="alice", forced=True, force_reason="trust me", open_items=("x",))
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        kit.record(iid, [forged], by="alice")
    assert err.value.field == "events[0]"
    assert snapshot(store) == before
    # the exact event resolve(force=True) would record is accepted, and stays marked forced
    open_items = kit.get(iid).open_items("resolution")
    honest = Resolved(by="alice", forced=True, force_reason="trust me", open_items=open_items)
    state = kit.record(iid, [honest], by="alice")
    assert not state.is_open
    assert kit.timeline(iid)[-2].event == honest
    assert kit.timeline(iid)[-1].event.tag == "reviews_created"  # the same append


def test_record_cannot_close_an_open_incident(kit: IncidentKit, store: MemoryStore) -> None:
    iid = _with_commander(kit)
    before = snapshot(store)
    with pytest.raises(InvalidTransition):
        kit.record(iid, [Closed(by="alice", reason="done")], by="alice")
    assert snapshot(store) == before
    assert kit.get(iid).closed_at is None


def test_record_cannot_reopen_a_closed_incident(kit: IncidentKit, store: MemoryStore) -> None:
    iid = _with_commander(kit)
    kit.resolve(iid, by="alice", force=True, reason="drill")
    kit.close(iid, by="alice", force=True, reason="drill")
    before = snapshot(store)
    with pytest.raises(InvalidTransition):
        kit.record(iid, [Reopened(by="alice", reason="back")], by="alice")
    assert snapshot(store) == before
    assert kit.get(iid).closed_at is not None


def test_reopening_clears_the_resolution_in_the_fold(kit: IncidentKit) -> None:
    iid = _with_commander(kit)
    kit.resolve(iid, by="alice", force=True, reason="drill", summary="restarted")
    state = kit.get(iid)
    # even a (malformed) timeline that reopens after closing leaves no closed_at behind
    closed = apply(state, RecordedEvent(iid, state.version + 1, T0, Closed(by="alice")))
    assert closed.closed_at == T0
    reopened = apply(
        closed, RecordedEvent(iid, closed.version + 1, T0, Reopened(by="alice", reason="x"))
    )
    assert reopened.closed_at is None
    assert reopened.resolved_at is None
    assert reopened.resolution_summary == ""


class _Recorder:
    def __init__(self) -> None:
        self.actions: list[str] = []

    @hookimpl
    def incidentkit_authorize(self, actor: str, action: str, incident: object) -> str | None:
        self.actions.append(action)
        return "no severity changes by bots" if action == "set_severity" else None


def test_the_authorize_hook_sees_each_events_real_action(
    make_kit: KitFactory, store: MemoryStore
) -> None:
    recorder = _Recorder()
    kit = make_kit(plugins=[recorder])
    iid = kit.declare("API 500s", severity="SEV2", by="alice").id
    recorder.actions.clear()
    kit.record(
        iid,
        [NoteAdded(by="bot", text="seen"), RoleAssigned(by="bot", role="scribe", person="bot")],
        by="bot",
    )
    assert recorder.actions == ["add_note", "assign_role"]
    before = snapshot(store)
    change = SeverityChanged(by="bot", old=Severity.SEV2, new=Severity.SEV1, reason="bad")
    with pytest.raises(PermissionDenied) as err:
        kit.record(iid, [NoteAdded(by="bot", text="raising"), change], by="bot")
    assert err.value.action == "set_severity"
    assert snapshot(store) == before


def test_a_recorded_severity_raise_escalates_like_set_severity(
    make_kit: KitFactory, store: MemoryStore, clock: ManualClock
) -> None:
    kit = make_kit()
    iid = kit.declare("API 500s", severity="SEV3", by="alice", incident_id="A").id
    clock.advance(timedelta(minutes=1))
    kit.record(
        iid,
        [SeverityChanged(by="alice", old=Severity.SEV3, new=Severity.SEV1, reason="worse")],
        by="alice",
    )
    twin = make_kit(on=MemoryStore(), at=ManualClock(T0))
    twin.declare("API 500s", severity="SEV3", by="alice", incident_id="A")
    twin.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    twin.set_severity("A", "SEV1", by="alice", reason="worse")
    assert kit.get(iid) == twin.get("A")
    assert [r.event for r in kit.timeline(iid)] == [r.event for r in twin.timeline("A")]


@pytest.mark.parametrize(
    "event",
    [
        EscalationFired(by="mallory", key="escalation:0:0", action="page", due_at=T0),
        ReminderFired(by="mallory", key="reminder:update:1", reminder="update", due_at=T0),
        TargetMissed(by="mallory", key="target:response", target="response", due_at=T0),
        NotificationFailed(by="mallory", notifier="slack", key="k", attempts=1, error="x"),
        ChannelOpened(by="mallory", channel="#incident-x"),
    ],
    ids=lambda e: e.tag,
)
def test_record_refuses_events_only_the_kit_writes(
    kit: IncidentKit, store: MemoryStore, event: Event
) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    before = snapshot(store)
    with pytest.raises(ReservedEvent) as err:
        kit.record(iid, [NoteAdded(by="mallory", text="first"), event], by="mallory")
    assert err.value.field == "events[1]"
    assert err.value.tag == event.tag
    assert event.tag in str(err.value)
    assert snapshot(store) == before


def test_record_refuses_a_mitigation_outcome_for_a_pending_request(
    kit: IncidentKit, store: MemoryStore
) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    before = snapshot(store)
    outcome = MitigationCompleted(
        by="mallory", request_id="R-1", action="rollback", outcome="applied", detail="done"
    )
    with pytest.raises(ValidationError) as err:
        kit.record(iid, [outcome], by="mallory")
    assert err.value.field == "events[0]"
    assert snapshot(store) == before


def test_record_accepts_what_mark_mitigated_would_record(kit: IncidentKit) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    state = kit.get(iid)
    outcome = MitigationCompleted(
        by="bob",
        request_id=f"{iid}:{state.version + 1}",
        action="manual",
        outcome="applied",
        detail="rolled back by hand",
    )
    after = kit.record(iid, [outcome], by="bob")
    assert after.mitigated_at is not None


def test_record_cannot_close_past_the_recovery_gate(kit: IncidentKit, store: MemoryStore) -> None:
    """kit.close refuses while recovery items are open; record() of a Closed must too."""
    from incidentkit.events import Closed

    iid = _with_commander(kit)
    kit.resolve(iid, by="alice", force=True, reason="drill")
    before = snapshot(store)
    with pytest.raises(GuardFailed):
        kit.record(iid, [Closed(by="alice", reason="done")], by="alice")
    assert snapshot(store) == before
    open_items = kit.get(iid).open_items("recovery")
    assert open_items
    forced = Closed(by="alice", reason="no time", forced=True, open_items=tuple(open_items))
    kit.record(iid, [forced], by="alice")
    assert kit.get(iid).status.value == "closed"
