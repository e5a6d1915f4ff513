"""Heartbeats, silences/maintenance windows and user reports (spec §1.6 tests 13-15).

Every test that touches the store runs on memory, SQLite and PostgreSQL
(``kit`` / ``kit_store`` fixtures).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import attrs
import pytest

from incidentkit import IncidentKit, ManualClock, Status
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.events import Source
from incidentkit.intake import AlertsConfig, HeartbeatMonitor, Silence
from incidentkit.intake.events import AlertReceived, alerts_state
from incidentkit.intake.heartbeat import HeartbeatState
from incidentkit.policy import Policy
from incidentkit.status.maintenance import Maintenance
from incidentkit.store import Store

from .conftest import AM_SAMPLE, T0, am_alert, am_payload

MONITOR = HeartbeatMonitor("x", timedelta(minutes=5), service="backup")


def _kit(store: Store, clock: ManualClock, **alerts: object) -> IncidentKit:
    base = Policy.default()
    policy = attrs.evolve(base, alerts=attrs.evolve(base.alerts, **alerts))
    return IncidentKit(store=store, clock=clock, policy=policy, autoload_plugins=False)


def _received(kit: IncidentKit, incident_id: str) -> list[AlertReceived]:
    return [r.event for r in kit.timeline(incident_id) if isinstance(r.event, AlertReceived)]


def _incidents(kit: IncidentKit) -> list[str]:
    return [s.incident_id for s in kit.store.summaries()]


# --- 13: heartbeat states -----------------------------------------------------


def test_heartbeat_states_and_one_alert_per_expiry(kit_store: Store) -> None:  # 13
    clock = ManualClock(T0)
    kit = _kit(kit_store, clock, heartbeats=(MONITOR,))
    assert kit.alerts.heartbeat("x").state is HeartbeatState.INACTIVE
    clock.set(T0 + timedelta(hours=1))
    kit.tick()
    assert kit.alerts.heartbeat("x").state is HeartbeatState.INACTIVE  # never pinged: silent
    assert _incidents(kit) == []

    t0 = T0 + timedelta(hours=1)
    status = kit.alerts.heartbeat_ping("x")
    assert (status.state, status.last_ping) == (HeartbeatState.HEALTHY, t0)
    assert status.expires_at == t0 + timedelta(minutes=5)

    clock.set(t0 + timedelta(minutes=4, seconds=59))
    kit.tick()
    assert kit.alerts.heartbeat("x").state is HeartbeatState.HEALTHY
    assert _incidents(kit) == []

    clock.set(t0 + timedelta(minutes=5))  # >= last + timeout: expired (GoAlert's rule)
    kit.tick()
    assert kit.alerts.heartbeat("x").state is HeartbeatState.UNHEALTHY
    [incident] = _incidents(kit)
    [received] = _received(kit, incident)
    assert received.alert.summary == "Heartbeat monitor 'x' expired."
    assert received.alert.dedup_key == "heartbeat:x"
    assert received.alert.labels["service"] == "backup"
    assert received.alert.annotations["details"].startswith("Last heartbeat: ")
    assert kit.get(incident).detected_at == t0 + timedelta(minutes=5)

    clock.set(t0 + timedelta(minutes=6))
    kit.tick()
    assert _incidents(kit) == [incident] and len(_received(kit, incident)) == 1

    clock.set(t0 + timedelta(minutes=7))
    kit.alerts.heartbeat_ping("x")
    kit.tick()
    assert kit.alerts.heartbeat("x").state is HeartbeatState.HEALTHY
    state = kit.get(incident)
    assert not alerts_state(state).firing  # the alert is closed
    assert state.mitigated_at is not None  # [alerts] on_all_resolved = "mitigate"
    assert len(_received(kit, incident)) == 2

    # a second expiry after recovery: a second alert on the same (still open) incident
    clock.set(t0 + timedelta(minutes=12))
    kit.tick()
    assert _incidents(kit) == [incident]
    assert [r.alert.status.value for r in _received(kit, incident)] == [
        "firing",
        "resolved",
        "firing",
    ]


def test_an_expiry_after_the_incident_resolved_opens_a_new_one(kit: IncidentKit) -> None:
    kit = _kit(kit.store, ManualClock(T0), heartbeats=(MONITOR,))
    clock = kit.clock
    assert isinstance(clock, ManualClock)
    kit.alerts.heartbeat_ping("x")
    clock.set(T0 + timedelta(minutes=5))
    kit.tick()
    [first] = _incidents(kit)
    kit.assign_role(first, "incident_commander", "alice", by="alice")
    kit.resolve(first, by="alice", force=True, reason="backup job restarted")
    kit.alerts.heartbeat_ping("x")
    clock.set(T0 + timedelta(minutes=11))
    kit.tick()
    assert len(_incidents(kit)) == 2


@pytest.mark.parametrize(
    "timeout", [timedelta(minutes=4, seconds=59), timedelta(hours=9000, minutes=1)]
)
def test_heartbeat_timeouts_outside_goalerts_bounds_are_refused(timeout: timedelta) -> None:
    with pytest.raises(ValidationError) as caught:
        HeartbeatMonitor("x", timeout)
    assert caught.value.field == "timeout"
    with pytest.raises(ValidationError, match="whole minutes"):
        HeartbeatMonitor("x", timedelta(minutes=5, seconds=30))
    HeartbeatMonitor("x", timedelta(hours=9000))  # the bounds themselves are accepted


def test_the_policy_reads_heartbeats_and_silences() -> None:
    policy = Policy.from_toml(
        """
        [alerts]
        [[alerts.heartbeats]]
        name = "nightly-backup"
        timeout = "25h"
        service = "backup"
        [[alerts.silences]]
        name = "db-upgrade"
        starts_at = 2024-11-21T02:00:00Z
        ends_at = 2024-11-21T04:00:00Z
        services = ["db"]
        """
    )
    assert policy.alerts.heartbeat("nightly-backup") == HeartbeatMonitor(
        "nightly-backup", timedelta(hours=25), service="backup"
    )
    assert policy.alerts.silences[0].services == ("db",)
    with pytest.raises(PolicyError, match=r"alerts\.heartbeats\[0\]\.timeout"):
        Policy.from_toml('[alerts]\n[[alerts.heartbeats]]\nname = "x"\ntimeout = "1m"\n')
    with pytest.raises(PolicyError, match=r"alerts.*heartbeats\[1\]\.name"):
        Policy.from_toml(
            '[alerts]\n[[alerts.heartbeats]]\nname = "x"\ntimeout = "5m"\n'
            '[[alerts.heartbeats]]\nname = "x"\ntimeout = "6m"\n'
        )
    with pytest.raises(PolicyError, match=r"alerts.*silences"):
        Policy.from_toml(
            '[alerts]\n[[alerts.silences]]\nname = "s"\n'
            "starts_at = 2024-11-21T04:00:00Z\nends_at = 2024-11-21T02:00:00Z\n"
            'services = ["db"]\n'
        )


def test_a_ping_of_an_unknown_monitor_is_refused_and_stores_nothing(kit: IncidentKit) -> None:
    kit = _kit(kit.store, ManualClock(T0), heartbeats=(MONITOR,))
    with pytest.raises(ValidationError) as caught:
        kit.alerts.heartbeat_ping("nope")
    assert caught.value.field == "name" and "known: x" in caught.value.reason
    assert kit.alerts.heartbeat("x").state is HeartbeatState.INACTIVE
    assert _incidents(kit) == []


# --- 14: several replicas -----------------------------------------------------


def test_four_replicas_ticking_an_expired_monitor_raise_one_alert(kit_store: Store) -> None:  # 14
    clock = ManualClock(T0)
    replicas = [_kit(kit_store, clock, heartbeats=(MONITOR,)) for _ in range(4)]
    replicas[0].alerts.heartbeat_ping("x")
    clock.set(T0 + timedelta(minutes=5))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def tick(kit: IncidentKit) -> None:
        barrier.wait()
        try:
            report = kit.tick()
            assert report.failures == {}
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=tick, args=(kit,)) for kit in replicas]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    [incident] = _incidents(replicas[0])
    assert len(_received(replicas[0], incident)) == 1


# --- 15: silences and maintenance windows ---------------------------------------


def _silenced_then_declared(kit: IncidentKit, clock: ManualClock, name: str) -> None:
    body = json.dumps(AM_SAMPLE)  # service=login
    result = kit.alerts.ingest(body)
    [outcome] = result.outcomes
    assert (outcome.action, outcome.silenced_by, outcome.incident_id) == ("silenced", name, None)
    assert _incidents(kit) == [] and kit.store.outbox() == []  # no incident, no page
    [held] = kit.alerts.held()
    assert (held.silence, held.status, held.alert.fingerprint) == (
        name,
        "firing",
        "1a30ba71cca2921f",
    )
    clock.set(T0 + timedelta(minutes=29))
    kit.tick()
    assert _incidents(kit) == []
    clock.set(T0 + timedelta(minutes=30))  # the window is over; still firing
    kit.tick()
    [incident] = _incidents(kit)
    assert kit.get(incident).source is Source.ALERT
    assert [h.status for h in kit.alerts.held()] == ["released"]
    assert kit.alerts.held()[0].incident_id == incident
    kit.tick()
    kit.alerts.ingest(body)  # the sender's repeat: a duplicate, nothing new
    assert _incidents(kit) == [incident] and len(_received(kit, incident)) == 1


def test_an_alert_in_a_policy_maintenance_window_pages_nobody(kit_store: Store) -> None:  # 15
    clock = ManualClock(T0)
    window = Silence(
        "login-deploy", T0 - timedelta(minutes=1), T0 + timedelta(minutes=30), services=("login",)
    )
    kit = _kit(kit_store, clock, silences=(window,))
    _silenced_then_declared(kit, clock, "login-deploy")


def test_an_alert_in_an_api_silence_pages_nobody(kit_store: Store) -> None:  # 15
    clock = ManualClock(T0)
    kit = _kit(kit_store, clock)
    made = kit.alerts.silence(
        "probe-noise", ends_at=T0 + timedelta(minutes=30), match={"alertname": "ProbeFailure"}
    )
    assert made.starts_at == T0
    other = _kit(kit_store, clock)  # another replica sees it
    assert [s.name for s in other.alerts.silences()] == ["probe-noise"]
    _silenced_then_declared(other, clock, "probe-noise")


def test_status_maintenances_silence_their_components(kit_store: Store) -> None:  # 15
    clock = ManualClock(T0)
    kit = _kit(kit_store, clock)
    maintenance = Maintenance(
        id="mnt-1",
        page="main",
        name="Login database upgrade",
        components=("login",),
        scheduled_for=T0 - timedelta(minutes=5),
        scheduled_until=T0 + timedelta(minutes=30),
    )
    kit.alerts.use_maintenances([maintenance])
    _silenced_then_declared(kit, clock, "maintenance.mnt-1")


def test_a_held_alert_resolved_in_the_window_declares_nothing(kit: IncidentKit) -> None:
    clock = ManualClock(T0)
    kit = _kit(kit.store, clock)
    kit.alerts.silence("quiet", ends_at=T0 + timedelta(minutes=10), services=["login"])
    kit.alerts.ingest(am_payload(am_alert("a1")))
    assert kit.alerts.ingest(am_payload(am_alert("a1", "resolved"))).outcomes[0].action == "noop"
    assert [h.status for h in kit.alerts.held()] == ["resolved"]
    clock.set(T0 + timedelta(minutes=11))
    kit.tick()
    assert _incidents(kit) == []


def test_an_open_incident_still_takes_its_alerts_during_a_silence(kit: IncidentKit) -> None:
    clock = ManualClock(T0)
    kit = _kit(kit.store, clock)
    first = kit.alerts.ingest(am_payload(am_alert("a1"))).outcomes[0]
    assert first.action == "declared"
    kit.alerts.silence("quiet", ends_at=T0 + timedelta(minutes=10), services=["login"])
    resolved = kit.alerts.ingest(am_payload(am_alert("a1", "resolved"))).outcomes[0]
    assert (resolved.action, resolved.incident_id) == ("appended", first.incident_id)
    # a new alert of the service is held, even though its group's incident is open
    held = kit.alerts.ingest(am_payload(am_alert("a2"))).outcomes[0]
    assert (held.action, held.silenced_by) == ("silenced", "quiet")


def test_ending_a_silence_releases_at_the_next_tick(kit: IncidentKit) -> None:
    clock = ManualClock(T0)
    kit = _kit(kit.store, clock)
    kit.alerts.silence("quiet", ends_at=T0 + timedelta(hours=2), services=["login"])
    kit.alerts.ingest(json.dumps(AM_SAMPLE))
    clock.set(T0 + timedelta(minutes=3))
    ended = kit.alerts.end_silence("quiet")
    assert ended.ends_at == T0 + timedelta(minutes=3)
    kit.tick()
    assert len(_incidents(kit)) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "ends_at": T0 + timedelta(hours=1), "services": ["db"]}, "name"),
        ({"name": "a b", "ends_at": T0 + timedelta(hours=1), "services": ["db"]}, "name"),
        ({"name": "s", "ends_at": T0 - timedelta(hours=1), "services": ["db"]}, "ends_at"),
        ({"name": "s", "ends_at": T0 + timedelta(hours=1)}, "services"),
        ({"name": "s", "ends_at": T0.replace(tzinfo=None), "services": ["db"]}, "ends_at"),
        ({"name": "s", "ends_at": T0 + timedelta(hours=1), "services": "db"}, "services"),
        ({"name": "s", "ends_at": T0 + timedelta(hours=1), "match": {"a": 1}}, "match.a"),
    ],
)
def test_bad_silences_name_the_field_and_store_nothing(
    kit: IncidentKit, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        kit.alerts.silence(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert kit.alerts.silences() == []


def test_a_silence_name_is_used_once(kit: IncidentKit) -> None:
    kit.alerts.silence("s", ends_at=T0 + timedelta(hours=1), services=["db"])
    with pytest.raises(ValidationError, match="exists already"):
        kit.alerts.silence("s", ends_at=T0 + timedelta(hours=2), services=["api"])
    assert [s.ends_at for s in kit.alerts.silences()] == [T0 + timedelta(hours=1)]
    with pytest.raises(ValidationError) as caught:
        kit.alerts.end_silence("unknown")
    assert caught.value.field == "name"


# --- user reports and internal discovery ---------------------------------------


def test_user_reports_of_one_symptom_within_the_window_are_one_incident(
    kit_store: Store,
) -> None:
    clock = ManualClock(T0)
    kit = _kit(kit_store, clock, reporter_window=timedelta(minutes=15))
    first = kit.alerts.report(
        reporter="Dana (customer)", contact="dana@example.com", text="Login fails", service="login"
    )
    assert first.action == "declared"
    state = kit.get(first.incident_id or "")
    assert state.source is Source.USER_REPORT and state.services == ("login",)
    clock.set(T0 + timedelta(minutes=4))
    second = kit.alerts.report(reporter="Lee", text="cannot sign in", service="login")
    clock.set(T0 + timedelta(minutes=14))
    third = kit.alerts.report(reporter="Kim", text="login page spins", service="login")
    assert second.incident_id == third.incident_id == first.incident_id
    assert [r.alert.annotations["reporter"] for r in _received(kit, first.incident_id or "")] == [
        "Dana (customer)",
        "Lee",
        "Kim",
    ]
    other = kit.alerts.report(reporter="Ana", text="search is slow", service="search")
    assert other.incident_id != first.incident_id
    clock.set(T0 + timedelta(minutes=16))  # past the window of the first report
    late = kit.alerts.report(reporter="Bo", text="login broken again", service="login")
    assert late.action == "declared" and late.incident_id != first.incident_id
    assert len(_incidents(kit)) == 3


def test_internal_discovery_declares_with_source_internal(kit: IncidentKit) -> None:
    outcome = kit.alerts.report(
        reporter="alice", text="replication lag is climbing", service="db", internal=True
    )
    state = kit.get(outcome.incident_id or "")
    assert state.source is Source.INTERNAL and state.status is Status.DECLARED


def test_reports_are_not_silenced(kit: IncidentKit) -> None:
    kit.alerts.silence("quiet", ends_at=T0 + timedelta(hours=1), services=["login"])
    outcome = kit.alerts.report(reporter="Dana", text="Login fails", service="login")
    assert outcome.action == "declared"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reporter": "", "text": "t", "service": "login"}, "reporter"),
        ({"reporter": "r", "text": "", "service": "login"}, "text"),
        ({"reporter": "r", "text": "t", "service": ""}, "service"),
        ({"reporter": "r", "text": "t", "service": "login", "contact": 5}, "contact"),
        ({"reporter": "r", "text": "t" * 4001, "service": "login"}, "text"),
    ],
)
def test_bad_reports_name_the_field_and_store_nothing(
    kit: IncidentKit, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        kit.alerts.report(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field.startswith(field)
    assert _incidents(kit) == []


def test_config_objects_round_trip_through_serialization() -> None:
    from incidentkit.serialization import converter

    config = AlertsConfig(
        heartbeats=(MONITOR,),
        silences=(Silence("s", T0, T0 + timedelta(hours=1), services=("db",), match={"a": "b"}),),
    )
    assert converter().structure(converter().unstructure(config), AlertsConfig) == config
