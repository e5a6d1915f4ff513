"""``kit.mitigate``: recorded first, run through the outbox (or inline), outcome recorded after."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import InvalidTransition, NotFound, PolicyError, ValidationError
from incidentkit.events import MitigationCompleted, MitigationRequested
from incidentkit.kit import IncidentKit
from incidentkit.mitigation import MitigationContext, MitigationResult
from incidentkit.store import OutboxState
from incidentkit.testing import RecordingAction, RecordingParams

from .delivery_helpers import BEYOND_BACKOFF


def build(clock: ManualClock, *plugins: object) -> IncidentKit:
    return IncidentKit(clock=clock, plugins=plugins, autoload_plugins=False)


def declared(kit: IncidentKit) -> str:
    return kit.declare("API returning 500 errors", severity="SEV2", by="alice").id


def events_of(kit: IncidentKit, incident_id: str, kind: type[Any]) -> list[Any]:
    return [r.event for r in kit.timeline(incident_id) if isinstance(r.event, kind)]


def frozen(kit: IncidentKit, incident_id: str) -> tuple[object, ...]:
    """What a refused command must leave exactly as it was."""
    return (kit.timeline(incident_id), kit.store.outbox(), kit.get(incident_id))


def test_through_the_outbox_the_request_is_recorded_then_run_by_deliver(
    clock: ManualClock,
) -> None:
    rollback = RecordingAction("rollback")
    kit = build(clock, rollback)
    inc = declared(kit)
    clock.advance(timedelta(minutes=3))

    state = kit.mitigate(inc, "rollback", by="bob", params={"note": "deploy 4812", "count": 2})
    assert rollback.calls == []  # recorded, not yet run
    [request] = events_of(kit, inc, MitigationRequested)
    assert (request.action, request.by, request.dry_run, request.inline) == (
        "rollback",
        "bob",
        False,
        False,
    )
    assert request.params == {"note": "deploy 4812", "count": 2}
    assert state.pending_mitigations == {request.request_id: "rollback"}
    assert state.mitigated_at is None
    [row] = [r for r in kit.store.outbox() if r.topic == "mitigation"]
    assert (row.target, row.state) == ("rollback", OutboxState.PENDING)

    clock.advance(timedelta(minutes=1))
    report = kit.deliver()
    assert report.delivered == report.claimed
    [call] = rollback.calls
    assert call.params == RecordingParams(note="deploy 4812", count=2)
    assert call.context == MitigationContext(inc, "bob", clock.now(), False, request.request_id)
    [done] = events_of(kit, inc, MitigationCompleted)
    assert (done.request_id, done.action) == (request.request_id, "rollback")
    assert done.outcome == "applied"
    assert "deploy 4812" in done.detail
    after = kit.get(inc)
    assert after.mitigated_at == clock.now()
    assert after.pending_mitigations == {}

    clock.advance(BEYOND_BACKOFF)
    assert kit.deliver().claimed == 0
    assert len(rollback.calls) == 1


def test_inline_runs_in_the_call_and_writes_no_mitigation_row(clock: ManualClock) -> None:
    rollback = RecordingAction("rollback")
    kit = build(clock, rollback)
    inc = declared(kit)
    state = kit.mitigate(inc, "rollback", by="bob", params={"note": "now"}, inline=True)
    assert len(rollback.calls) == 1
    assert state.mitigated_at == clock.now()
    assert [e.outcome for e in events_of(kit, inc, MitigationCompleted)] == ["applied"]
    assert [e.inline for e in events_of(kit, inc, MitigationRequested)] == [True]
    assert [r for r in kit.store.outbox() if r.topic == "mitigation"] == []
    kit.deliver()
    assert len(rollback.calls) == 1


@pytest.mark.parametrize("inline", [False, True])
def test_a_dry_run_executes_nothing_and_is_recorded_as_such(
    clock: ManualClock, inline: bool
) -> None:
    rollback = RecordingAction("rollback")
    kit = build(clock, rollback)
    inc = declared(kit)
    kit.mitigate(inc, "rollback", by="bob", params={"note": "x"}, dry_run=True, inline=inline)
    kit.deliver()
    assert rollback.calls == []
    [done] = events_of(kit, inc, MitigationCompleted)
    assert done.outcome == "dry_run"
    assert "would run rollback" in done.detail
    assert kit.get(inc).mitigated_at is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"count": "many"}, "$.count"),
        ({"note": "x", "colour": "red"}, "$.colour"),
    ],
)
def test_bad_params_are_refused_naming_the_field_and_nothing_is_appended(
    clock: ManualClock, params: dict[str, Any], field: str
) -> None:
    rollback = RecordingAction("rollback")
    kit = build(clock, rollback)
    inc = declared(kit)
    before = frozen(kit, inc)
    with pytest.raises(PolicyError) as caught:
        kit.mitigate(inc, "rollback", by="bob", params=params)
    assert field in [path for path, _ in caught.value.problems]
    assert "rollback" in str(caught.value)
    assert frozen(kit, inc) == before
    assert rollback.calls == []


@pytest.mark.parametrize("params", [["count", 2], {1: "x"}])
def test_params_that_are_not_a_string_keyed_mapping_are_refused(
    clock: ManualClock, params: Any
) -> None:
    kit = build(clock, RecordingAction("rollback"))
    inc = declared(kit)
    before = frozen(kit, inc)
    with pytest.raises(ValidationError) as caught:
        kit.mitigate(inc, "rollback", by="bob", params=params)
    assert caught.value.field == "params"
    assert frozen(kit, inc) == before


def test_an_unknown_action_is_not_found_listing_the_known_ones(clock: ManualClock) -> None:
    kit = build(clock, RecordingAction("rollback"), RecordingAction("scale"))
    inc = declared(kit)
    before = frozen(kit, inc)
    with pytest.raises(NotFound) as caught:
        kit.mitigate(inc, "reboot-the-world", by="bob")
    assert "reboot-the-world" in str(caught.value)
    assert "rollback" in str(caught.value) and "scale" in str(caught.value)
    assert frozen(kit, inc) == before


def test_a_closed_incident_refuses_a_mitigation(clock: ManualClock) -> None:
    kit = build(clock, RecordingAction("rollback"))
    inc = declared(kit)
    kit.assign_role(inc, "incident_commander", "alice", by="alice")
    kit.resolve(inc, by="alice", force=True, reason="rolled back by hand")
    before = frozen(kit, inc)
    with pytest.raises(InvalidTransition):
        kit.mitigate(inc, "rollback", by="bob")
    assert frozen(kit, inc) == before


@pytest.mark.parametrize("inline", [False, True])
def test_a_failing_action_is_recorded_as_failed(clock: ManualClock, inline: bool) -> None:
    rollback = RecordingAction("rollback", error=RuntimeError("deploy API said no"))
    kit = build(clock, rollback)
    inc = declared(kit)
    kit.mitigate(inc, "rollback", by="bob", inline=inline)
    report = kit.deliver()
    assert report.dead == report.retried == 0  # the failure is an outcome, not a lost row
    [done] = events_of(kit, inc, MitigationCompleted)
    assert done.outcome == "failed"
    assert "deploy API said no" in done.detail
    state = kit.get(inc)
    assert state.mitigated_at is None
    assert state.pending_mitigations == {}
    assert len(rollback.calls) == 1


@pytest.mark.parametrize("inline", [False, True])
def test_a_failing_health_check_leaves_the_incident_unverified(
    clock: ManualClock, inline: bool
) -> None:
    checks: list[MitigationContext] = []

    def still_failing(context: MitigationContext, params: Any) -> MitigationResult:
        checks.append(context)
        return MitigationResult.failed("GET /health answered 503")

    rollback = RecordingAction("rollback", verify=still_failing)
    kit = build(clock, rollback)
    inc = declared(kit)
    kit.mitigate(inc, "rollback", by="bob", inline=inline)
    kit.deliver()
    assert len(rollback.calls) == len(checks) == 1
    [done] = events_of(kit, inc, MitigationCompleted)
    assert done.outcome == "unverified"
    assert "503" in done.detail and "verified: no" in done.detail
    assert kit.get(inc).mitigated_at is None


def test_a_passing_health_check_marks_mitigated(clock: ManualClock) -> None:
    rollback = RecordingAction(
        "rollback", verify=lambda ctx, p: MitigationResult.applied("GET /health answered 200")
    )
    kit = build(clock, rollback)
    inc = declared(kit)
    kit.mitigate(inc, "rollback", by="bob")
    kit.deliver()
    [done] = events_of(kit, inc, MitigationCompleted)
    assert done.outcome == "applied"
    assert "verified: yes" in done.detail
    assert kit.get(inc).mitigated_at == clock.now()
