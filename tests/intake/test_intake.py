"""Alerts become incidents: dedup, grouping, per-alert resolve, detection times (spec §1.6).

Every test runs on the memory, SQLite and PostgreSQL stores (``kit`` fixture).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import attrs
import pytest

from incidentkit import IncidentKit, ManualClock, Severity, Status
from incidentkit.errors import PayloadInvalid, ReservedEvent
from incidentkit.events import Source
from incidentkit.intake import AlertAction, AlertRule, AlertsConfig, OnAllResolved
from incidentkit.intake.events import AlertReceived, AlertsTruncated, alerts_state
from incidentkit.intake.section import error_response
from incidentkit.policy import Policy
from incidentkit.severity import Signals
from incidentkit.store import Store

from .conftest import AM_SAMPLE, T0, am_alert, am_payload, pd_event


def _kit(kit: IncidentKit, *, commander: bool = False, **alerts: object) -> IncidentKit:
    """The same store and clock under a policy whose ``[alerts]`` differ.

    Auto-resolution obeys the core rules: unless ``commander``, the policy
    lets an incident resolve without an incident commander.
    """
    roles = attrs.evolve(kit.policy.roles, require_commander_to_resolve=commander)
    policy = attrs.evolve(kit.policy, roles=roles, alerts=attrs.evolve(kit.policy.alerts, **alerts))
    return IncidentKit(store=kit.store, clock=kit.clock, policy=policy, autoload_plugins=False)


def _clock(kit: IncidentKit) -> ManualClock:
    assert isinstance(kit.clock, ManualClock)
    return kit.clock


def _received(kit: IncidentKit, incident_id: str) -> list[AlertReceived]:
    return [r.event for r in kit.timeline(incident_id) if isinstance(r.event, AlertReceived)]


def _incidents(kit: IncidentKit) -> list[str]:
    return [s.incident_id for s in kit.store.summaries()]


def test_same_payload_three_times_is_one_incident_one_alert(kit: IncidentKit) -> None:  # 3
    body = json.dumps(AM_SAMPLE)
    results = [kit.alerts.ingest(body) for _ in range(3)]
    assert [r.outcomes[0].action for r in results] == ["declared", "duplicate", "duplicate"]
    [incident] = _incidents(kit)
    assert len(_received(kit, incident)) == 1
    state = kit.get(incident)
    assert state.source is Source.ALERT and state.severity is Severity.SEV1
    assert state.services == ("login",)


def test_per_alert_resolve_inside_a_group(kit: IncidentKit) -> None:  # 4
    kit.alerts.ingest(am_payload(am_alert("A"), am_alert("B")))
    [incident] = _incidents(kit)
    clock = _clock(kit)
    clock.advance(timedelta(minutes=1))
    kit.alerts.ingest(am_payload(am_alert("A", "resolved"), am_alert("B")))
    state = kit.get(incident)
    assert alerts_state(state).firing == ("B",)
    assert state.is_open and state.mitigated_at is None
    clock.advance(timedelta(minutes=1))
    kit.alerts.ingest(am_payload(am_alert("B", "resolved")))
    state = kit.get(incident)
    assert alerts_state(state).firing == ()
    assert state.mitigated_at == clock.now()  # default policy: auto-mitigate
    assert _incidents(kit) == [incident]


def test_auto_resolve_never_bypasses_the_commander_rule(kit: IncidentKit) -> None:
    kit = _kit(kit, on_all_resolved=OnAllResolved.RESOLVE, commander=True)
    kit.alerts.ingest(am_payload(am_alert("A")))  # no commander assigned: refused
    kit.alerts.ingest(am_payload(am_alert("A", "resolved")))
    [incident] = _incidents(kit)
    state = kit.get(incident)
    assert state.is_open and state.mitigated_at is not None
    assert "not resolved automatically" in kit.timeline(incident)[-1].event.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy", "status"),
    [(OnAllResolved.RESOLVE, Status.RESOLVED), (OnAllResolved.NOTE, Status.DECLARED)],
)
def test_the_last_resolve_applies_the_policy(
    kit: IncidentKit, policy: OnAllResolved, status: Status
) -> None:  # 4
    kit = _kit(kit, on_all_resolved=policy)
    kit.alerts.ingest(am_payload(am_alert("A", severity="warning")))  # SEV3: no commander needed
    kit.alerts.ingest(am_payload(am_alert("A", "resolved", severity="warning")))
    [incident] = _incidents(kit)
    state = kit.get(incident)
    assert state.status is status
    tags = [r.event.tag for r in kit.timeline(incident)]
    assert ("note_added" in tags) is (policy is OnAllResolved.NOTE)


def test_truncated_payload_closes_nothing_and_warns(kit: IncidentKit) -> None:  # 5
    kit.alerts.ingest(am_payload(am_alert("A"), am_alert("B"), am_alert("C")))
    [incident] = _incidents(kit)
    result = kit.alerts.ingest(am_payload(am_alert("A"), am_alert("B"), truncated=5))
    assert result.truncated == 5
    state = kit.get(incident)
    assert alerts_state(state).firing == ("A", "B", "C")
    [warning] = [r.event for r in kit.timeline(incident) if isinstance(r.event, AlertsTruncated)]
    assert warning.truncated == 5


def test_trigger_twice_while_open_is_one_incident_two_entries(kit: IncidentKit) -> None:  # 6
    first = kit.alerts.ingest(pd_event(key="K"))
    second = kit.alerts.ingest(pd_event(key="K"))
    assert second.response() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "K",
        "incidents": list(first.incident_ids),
    }
    assert second.http_status == 202
    [incident] = _incidents(kit)
    assert [e.alert.status for e in _received(kit, incident)] == ["firing", "firing"]


def test_trigger_resolve_trigger_is_two_incidents(kit: IncidentKit) -> None:  # 7
    kit = _kit(kit, on_all_resolved=OnAllResolved.RESOLVE)
    clock = _clock(kit)
    first = kit.alerts.ingest(pd_event(key="K", severity="warning")).incident_ids[0]
    clock.advance(timedelta(minutes=3))
    kit.alerts.ingest(pd_event("resolve", key="K"))
    assert kit.get(first).status is Status.RESOLVED
    clock.advance(timedelta(minutes=3))
    third = kit.alerts.ingest(pd_event(key="K", severity="warning"))
    [second] = third.incident_ids
    assert second != first and _incidents(kit) == [first, second]
    assert kit.get(second).declared_at == clock.now()


def test_resolve_by_a_person_releases_the_key(kit: IncidentKit) -> None:  # 7
    first = kit.alerts.ingest(pd_event(key="K")).incident_ids[0]
    kit.assign_role(first, "incident_commander", "alice", by="alice")
    kit.resolve(first, by="alice", force=True, reason="fixed by hand")
    assert kit.alerts.holder("K") is None
    [second] = kit.alerts.ingest(pd_event(key="K")).incident_ids
    assert second != first


def test_late_resolve_attaches_to_the_latest_resolved_incident(kit: IncidentKit) -> None:  # 11
    kit = _kit(kit, on_all_resolved=OnAllResolved.RESOLVE)
    first = kit.alerts.ingest(am_payload(am_alert("A", severity="info"))).incident_ids[0]
    kit.alerts.ingest(am_payload(am_alert("A", "resolved", severity="info")))
    version = kit.get(first).version
    again = am_alert("A", "resolved", severity="info")
    again["endsAt"] = "2023-02-06T13:25:00Z"
    again["startsAt"] = "2023-02-06T13:08:45.900Z"  # a different notification
    result = kit.alerts.ingest(am_payload(again))
    assert result.outcomes[0].action == "late" and result.incident_ids == (first,)
    assert _incidents(kit) == [first]
    assert kit.get(first).version == version + 1 and kit.get(first).status is Status.RESOLVED


def test_unknown_key_rules(kit: IncidentKit) -> None:  # 9
    assert kit.alerts.ingest(pd_event("resolve", key="nobody")).outcomes[0].action == "noop"
    assert _incidents(kit) == []
    kit.alerts.ingest(pd_event(key="K"))
    kit.alerts.ingest(pd_event(key="k"))
    assert len(_incidents(kit)) == 2  # case-sensitive
    generated = kit.alerts.ingest(pd_event(key=None))
    assert generated.dedup_key and len(generated.dedup_key) == 32
    assert generated.response()["dedup_key"] == generated.dedup_key


def test_refused_payload_leaves_the_store_unchanged(kit: IncidentKit) -> None:  # 9, 10
    kit.alerts.ingest(pd_event(key="K"))
    before = [(s.incident_id, s.version) for s in kit.store.summaries()]
    for bad in (pd_event("acknowledge", key=None), pd_event(key="K", severity="fatal")):
        with pytest.raises(PayloadInvalid) as caught:
            kit.alerts.ingest(bad)
        assert error_response(caught.value)["errors"]
    assert [(s.incident_id, s.version) for s in kit.store.summaries()] == before


def test_grouping_window_is_a_timedelta(kit: IncidentKit) -> None:  # 11
    kit = _kit(kit, group_by="{alertname}/{service}", group_window=timedelta(minutes=5))
    clock = _clock(kit)
    first = kit.alerts.ingest(am_payload(am_alert("A"))).incident_ids[0]
    clock.advance(timedelta(minutes=4))
    assert kit.alerts.ingest(am_payload(am_alert("B"))).incident_ids == (first,)
    clock.advance(timedelta(minutes=2))  # 6 min after A
    [other] = kit.alerts.ingest(am_payload(am_alert("C"))).incident_ids
    assert other != first
    assert alerts_state(kit.get(first)).order == ("A", "B")
    with pytest.raises(ValueError, match="group_window"):
        AlertsConfig(group_window=timedelta(0))


def test_policy_file_reads_the_alerts_table() -> None:
    policy = Policy.from_toml(
        """
        [alerts]
        group_by = "{service}"
        group_window = "10m"
        on_all_resolved = "resolve"
        [[alerts.rules]]
        match = { team = "batch" }
        action = "ignore"
        """
    )
    assert policy.alerts.group_window == timedelta(minutes=10)
    assert policy.alerts.rules == (AlertRule({"team": "batch"}, AlertAction.IGNORE),)
    with pytest.raises(ValueError, match=r"alerts.*on_all_resolved"):
        Policy.from_toml('[alerts]\non_all_resolved = "explode"\n')
    with pytest.raises(ValueError, match=r"alerts.*group_window"):
        Policy.from_toml('[alerts]\ngroup_window = "soon"\n')


def test_rules_ignore_attach_and_classify(kit: IncidentKit) -> None:
    kit = _kit(
        kit,
        group_by="",
        rules=(
            AlertRule({"team": "batch"}, AlertAction.IGNORE),
            AlertRule({"team": "web"}, AlertAction.ATTACH),
            AlertRule({"alertname": "ErrorRate"}, signals=Signals(error_rate=0.15)),
        ),
    )
    assert kit.alerts.ingest(am_payload(am_alert("A", team="batch"))).outcomes[0].action == (
        "ignored"
    )
    assert kit.alerts.ingest(am_payload(am_alert("B", team="web"))).outcomes[0].action == (
        "unattached"
    )
    assert _incidents(kit) == []
    [incident] = kit.alerts.ingest(am_payload(am_alert("C", alertname="ErrorRate"))).incident_ids
    state = kit.get(incident)
    assert state.severity is Severity.SEV2 and state.reasons == ("error rate above 10%",)


def test_pagerduty_error_maps_to_the_configured_severity(kit: IncidentKit) -> None:  # 10
    kit = _kit(kit, severity_map={"error": Severity.SEV3})
    [incident] = kit.alerts.ingest(pd_event(key="E", severity="error")).incident_ids
    assert kit.get(incident).severity is Severity.SEV3


def test_detection_times_come_from_the_alerts(kit: IncidentKit) -> None:  # 12
    early, late = am_alert("A"), am_alert("B")
    early["startsAt"] = "2023-02-06T13:05:00Z"
    late["startsAt"] = "2023-02-06T13:07:00Z"
    [incident] = kit.alerts.ingest(am_payload(late, early)).incident_ids
    state = kit.get(incident)
    assert state.detected_at == T0.replace(minute=5)
    assert state.started_at is None or state.started_at <= state.detected_at
    backdated = T0.replace(minute=0)
    other = am_alert("Z", alertname="Other")
    [second] = kit.alerts.ingest(am_payload(other), started_at=backdated).incident_ids
    assert kit.get(second).started_at == backdated
    with pytest.raises(ValueError, match="started_at"):
        kit.alerts.ingest(pd_event(key="late"), started_at=T0 + timedelta(hours=1))


def test_the_rule_duration_backdates_the_impact_start(kit: IncidentKit) -> None:
    alert = am_alert("A")
    alert["annotations"]["duration"] = "5m"
    [incident] = kit.alerts.ingest(am_payload(alert)).incident_ids
    state = kit.get(incident)
    assert state.started_at == state.detected_at - timedelta(minutes=5)


def test_flapping_keeps_one_incident_open(kit: IncidentKit) -> None:
    kit = _kit(kit, on_all_resolved=OnAllResolved.RESOLVE, flap_transitions=4, group_by="")
    clock = _clock(kit)
    for _ in range(5):
        kit.alerts.ingest(pd_event(key="F", severity="warning"))
        clock.advance(timedelta(minutes=1))
        kit.alerts.ingest(pd_event("resolve", key="F"))
        clock.advance(timedelta(minutes=1))
    incidents = _incidents(kit)
    assert len(incidents) == 2  # 10 transitions: the first cycle, then one flapping incident
    last = kit.get(incidents[-1])
    assert last.is_open and alerts_state(last).alerts["F"].flapping


def test_alert_events_cannot_be_recorded_by_hand(kit: IncidentKit) -> None:
    [incident] = kit.alerts.ingest(pd_event(key="K")).incident_ids
    [event] = _received(kit, incident)
    with pytest.raises(ReservedEvent):
        kit.record(incident, [attrs.evolve(event, by="mallory")], by="mallory")


def test_recent_lists_alerts_with_their_incidents(kit: IncidentKit) -> None:
    [incident] = kit.alerts.ingest(pd_event(key="K")).incident_ids
    _clock(kit).advance(timedelta(seconds=5))
    kit.alerts.ingest(pd_event(key="K"))
    recent = kit.alerts.recent()
    assert [(a.incident_id, a.dedup_key) for a in recent] == [(incident, "K")] * 2
    assert recent[0].received_at > recent[1].received_at


def _concurrent(kit_store: Store, body: str, threads: int = 16) -> list[str]:
    kits = [
        IncidentKit(store=kit_store, clock=ManualClock(T0), autoload_plugins=False)
        for _ in range(4)
    ]
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def trigger(n: int) -> None:
        barrier.wait()
        try:
            kits[n % 4].alerts.ingest(body)
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=trigger, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    return [s.incident_id for s in kit_store.summaries()]


def test_sixteen_concurrent_triggers_are_one_incident(kit_store: Store) -> None:  # 8
    incidents = _concurrent(kit_store, json.dumps(pd_event(key="K")))
    assert len(incidents) == 1
    kit = IncidentKit(store=kit_store, clock=ManualClock(T0), autoload_plugins=False)
    assert len(_received(kit, incidents[0])) == 16


def test_sixteen_concurrent_redeliveries_record_one_alert(kit_store: Store) -> None:  # 3, 8
    incidents = _concurrent(kit_store, json.dumps(AM_SAMPLE))
    assert len(incidents) == 1
    kit = IncidentKit(store=kit_store, clock=ManualClock(T0), autoload_plugins=False)
    assert len(_received(kit, incidents[0])) == 1
