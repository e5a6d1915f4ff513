"""The cheap paths of a redelivery: a parsed body remembered, a recorded delivery seen in the
cache. Each must answer exactly as the full path does."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from incidentkit import IncidentKit, ManualClock, PermissionDenied
from incidentkit.intake import Payload, section
from incidentkit.intake.adapters import parse, parse_generic
from incidentkit.intake.model import AdapterSpec
from incidentkit.plugins import hookimpl
from incidentkit.store import Store

from .conftest import T0

BODY = json.dumps(
    {"key": "db-slow", "summary": "DB slow", "starts_at": "2024-11-20T22:00:00Z"}
).encode()


def kit_on(store: Store | None = None, plugins: list[object] | None = None) -> IncidentKit:
    return IncidentKit(
        store=store, clock=ManualClock(T0), plugins=plugins or [], autoload_plugins=False
    )


def test_the_same_body_is_parsed_once() -> None:
    kit = kit_on()
    first = kit.alerts.parse(BODY, "generic")
    assert kit.alerts.parse(BODY, "generic") is first
    assert kit.alerts.parse(BODY.decode(), "generic") == first  # text: its own entry
    changed = BODY.replace(b"DB slow", b"DB slower")
    assert kit.alerts.parse(changed, "generic").alerts[0].summary == "DB slower"


def test_a_body_that_takes_its_start_from_arrival_is_parsed_every_time() -> None:
    kit = kit_on()
    body = json.dumps({"key": "no-start", "summary": "no start given"}).encode()
    first = kit.alerts.parse(body, "generic")
    clock = kit.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(minutes=3))
    later = kit.alerts.parse(body, "generic")
    assert later.alerts[0].starts_at == first.alerts[0].starts_at + timedelta(minutes=3)


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def parse(self, data: object, now: Any) -> Payload:
        self.calls += 1
        parsed = parse_generic(data, now)
        return Payload("counting", parsed.alerts)

    @hookimpl
    def incidentkit_alert_adapters(self) -> list[AdapterSpec]:
        return [AdapterSpec("counting", self.parse, lambda data: False, "counts")]


def test_a_plugin_adapter_reads_every_body() -> None:
    counting = Counting()
    kit = kit_on(plugins=[counting])
    for _ in range(3):
        kit.alerts.parse(BODY, "counting")
    assert counting.calls == 3


def test_a_redelivery_is_a_duplicate_on_a_replica_that_never_saw_it(kit_store: Store) -> None:
    first, second = kit_on(kit_store), kit_on(kit_store)
    assert first.alerts.ingest(BODY, "generic").outcomes[0].action == "declared"
    assert first.alerts.ingest(BODY, "generic").outcomes[0].action == "duplicate"  # cached
    assert second.alerts.ingest(BODY, "generic").outcomes[0].action == "duplicate"  # loaded
    (summary,) = kit_store.summaries()
    assert summary.version == first.get(summary.incident_id).version


def test_after_resolve_the_cached_delivery_does_not_hide_a_new_incident(kit_store: Store) -> None:
    kit = kit_on(kit_store)
    iid = kit.alerts.ingest(BODY, "generic").outcomes[0].incident_id
    assert iid is not None
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    kit.resolve(iid, by="alice", force=True, reason="fixed")
    again = kit.alerts.ingest(BODY, "generic").outcomes[0]
    assert again.action == "declared" and again.incident_id != iid


class NoIntake:
    refuse = False

    @hookimpl
    def incidentkit_authorize(self, actor: str, action: str, incident: object) -> str | None:
        return "intake is paused" if self.refuse and action == "ingest_alert" else None


def test_a_cached_duplicate_is_still_authorized() -> None:
    gate = NoIntake()
    kit = kit_on(plugins=[gate])
    kit.alerts.ingest(BODY, "generic")
    gate.refuse = True
    with pytest.raises(PermissionDenied):
        kit.alerts.ingest(BODY, "generic")


# --- what is remembered, and for how long --------------------------------------------------


def test_a_remembered_body_equals_a_fresh_reading() -> None:
    kit = kit_on()
    first = kit.alerts.parse(BODY, "generic")
    again = kit.alerts.parse(BODY, "generic")
    assert again is first
    assert again == parse(BODY, "generic", now=T0)
    assert kit.alerts.parse(BODY) == parse(BODY, now=T0)  # detected: its own entry, same reading


def test_the_least_recently_used_body_is_forgotten_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(section, "PARSED_MEMO", 2)
    kit = kit_on()
    a, b, c = (BODY.replace(b"db-slow", name) for name in (b"a", b"b", b"c"))
    first_a, first_b = kit.alerts.parse(a, "generic"), kit.alerts.parse(b, "generic")
    assert kit.alerts.parse(a, "generic") is first_a  # used again: b is now the oldest
    kit.alerts.parse(c, "generic")  # forgets b
    assert kit.alerts.parse(a, "generic") is first_a
    again_b = kit.alerts.parse(b, "generic")
    assert again_b == first_b and again_b is not first_b


def _pd_trigger(**extra: object) -> bytes:
    event = {
        "routing_key": "samplekeyhere0123456789abcdef012",
        "event_action": "trigger",
        "payload": {
            "summary": "Login API returning 500 errors",
            "source": "api-1",
            "severity": "critical",
            "timestamp": "2023-02-06T13:00:00Z",
        },
        **extra,
    }
    return json.dumps(event).encode()


def test_a_pagerduty_trigger_without_a_key_is_a_new_alert_every_time(kit_store: Store) -> None:
    """Its key is generated: remembering the reading would make the second one a redelivery."""
    kit = kit_on(kit_store)
    body = _pd_trigger()  # a timestamp, so its start does not come from the arrival
    first = kit.alerts.ingest(body, "pagerduty").outcomes[0]
    second = kit.alerts.ingest(body, "pagerduty").outcomes[0]
    assert first.action == second.action == "declared"
    assert first.dedup_key != second.dedup_key and first.incident_id != second.incident_id


def test_a_pagerduty_trigger_with_a_key_is_remembered() -> None:
    kit = kit_on()
    body = _pd_trigger(dedup_key="login-500")
    assert kit.alerts.parse(body, "pagerduty") is kit.alerts.parse(body, "pagerduty")


class Relay:
    """A plugin adapter that hands back the generic adapter's reading as it is."""

    def __init__(self) -> None:
        self.calls = 0

    def parse(self, data: object, now: Any) -> Payload:
        self.calls += 1
        return parse_generic(data, now)  # format "generic", read by a plugin

    @hookimpl
    def incidentkit_alert_adapters(self) -> list[AdapterSpec]:
        return [AdapterSpec("relay", self.parse, lambda data: True, "relays")]


@pytest.mark.parametrize("fmt", ["relay", None])
def test_a_plugin_reading_labelled_generic_is_not_remembered(fmt: str | None) -> None:
    relay = Relay()
    kit = kit_on(plugins=[relay])
    for _ in range(3):
        assert kit.alerts.parse(BODY, fmt).format == "generic"
    assert relay.calls == 3


# --- a redelivery answered from the cache --------------------------------------------------


def test_a_resolve_on_another_replica_releases_the_key_for_this_one(kit_store: Store) -> None:
    here, there = kit_on(kit_store), kit_on(kit_store)
    iid = here.alerts.ingest(BODY, "generic").outcomes[0].incident_id
    assert iid is not None
    assert here.alerts.ingest(BODY, "generic").outcomes[0].action == "duplicate"  # cached here
    there.assign_role(iid, "incident_commander", "alice", by="alice")
    there.resolve(iid, by="alice", force=True, reason="fixed")
    again = here.alerts.ingest(BODY, "generic").outcomes[0]
    assert again.action == "declared" and again.incident_id != iid


class RefusesVersion:
    """Refuses intake on one version of the incident (a refusal that fresh state lifts)."""

    version = -1

    @hookimpl
    def incidentkit_authorize(self, actor: str, action: str, incident: Any) -> str | None:
        stale = incident is not None and incident.version == self.version
        return "stale" if action == "ingest_alert" and stale else None


def test_a_refusal_on_the_cached_state_is_asked_again_on_fresh_state(kit_store: Store) -> None:
    gate = RefusesVersion()
    here, there = kit_on(kit_store, plugins=[gate]), kit_on(kit_store)
    iid = here.alerts.ingest(BODY, "generic").outcomes[0].incident_id
    assert iid is not None
    gate.version = here.get(iid).version  # what this replica has cached
    there.add_note(iid, "looking", by="bob")  # the store moves on
    again = here.alerts.ingest(BODY, "generic").outcomes[0]
    assert again.action == "duplicate" and again.incident_id == iid
