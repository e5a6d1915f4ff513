"""A capability defined entirely in this file: an event, a command, a timer, a route, a section.

Nothing in kit.py, events.py or the stores knows about it; registering the
``Capability`` value is all it takes (DESIGN principle 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import attrs
import pytest

import incidentkit as ik
from incidentkit.engine import Capability, Engine, TimerSource, headline, make_notification
from incidentkit.events import Event, RecordedEvent, register_event
from incidentkit.incident import Incident, actor, register_fold
from incidentkit.notify import Notification, NotificationKind, Urgency
from incidentkit.policy import Policy
from incidentkit.serialization import event_from_json, event_to_json
from incidentkit.testing import SAMPLE_TIME, CapturingNotifier
from incidentkit.timers import next_due

T0 = SAMPLE_TIME
ANSWER_AFTER = timedelta(minutes=10)


@attrs.frozen
class PingRequested(Event):
    """Someone asked the on-call team to confirm they are watching."""

    tag: ClassVar[str] = "test_ping_requested"
    target: str = ""


@attrs.frozen
class PingOverdue(Event):
    """The ping went unanswered for ten minutes (a timer event)."""

    tag: ClassVar[str] = "test_ping_overdue"
    key: str = ""
    due_at: datetime | None = None


def _pings(state: Incident) -> tuple[datetime, ...]:
    value = state.extensions.get("pings", ())
    assert isinstance(value, tuple)
    return value


def fold_requested(state: Incident, record: RecordedEvent) -> Incident:
    pings = (*_pings(state), record.recorded_at)
    return attrs.evolve(state, extensions={**state.extensions, "pings": pings})


def fold_overdue(state: Incident, record: RecordedEvent) -> Incident:
    event = record.event
    assert isinstance(event, PingOverdue)
    return attrs.evolve(state, fired=state.fired | {event.key})


def decide_ping(state: Incident, *, target: object, by: str) -> list[Event]:
    if not state.is_open:
        raise ik.InvalidTransition(state.id, "ping", state.status.value, ())
    if not isinstance(target, str) or not target:
        raise ik.ValidationError("target", "give the person or team to ping")
    return [PingRequested(by=by, target=target)]


def due_pings(state: Incident, policy: Policy, now: datetime) -> Sequence[Event]:
    events: list[Event] = []
    for n, asked in enumerate(_pings(state)):
        key = f"ping:{n}"
        if state.is_open and key not in state.fired and now >= asked + ANSWER_AFTER:
            events.append(PingOverdue(by="incidentkit", key=key, due_at=asked + ANSWER_AFTER))
    return events


def next_ping(state: Incident, policy: Policy) -> datetime | None:
    pending = [
        asked + ANSWER_AFTER
        for n, asked in enumerate(_pings(state))
        if f"ping:{n}" not in state.fired
    ]
    return min(pending) if pending and state.is_open else None


def route_overdue(policy: Policy, after: Incident, record: RecordedEvent) -> list[Notification]:
    if not isinstance(record.event, PingOverdue):
        return []
    text = f"{headline(after)} — ping unanswered"
    return [make_notification(after, record, NotificationKind.REMINDER, text, Urgency.LOW)]


class Pings:
    """``kit.pings``: the capability's facade section."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def request(self, incident_id: str, target: str, *, by: str) -> Incident:
        return self._engine.run(
            incident_id, "ping", by, lambda s, _: decide_ping(s, target=target, by=actor(by))
        ).state


PINGS = Capability(
    name="pings",
    events=(PingRequested, PingOverdue),
    folds={PingRequested: fold_requested, PingOverdue: fold_overdue},
    timers=(TimerSource("pings", due_pings, next_ping),),
    routes=(route_overdue,),
    section=Pings,
    commander_actions=frozenset({"ping"}),
)


def make_kit(store: ik.Store | None = None, *plugins: object) -> ik.IncidentKit:
    return ik.IncidentKit(
        store=store,
        clock=ik.ManualClock(T0),
        plugins=plugins,
        autoload_plugins=False,
        capabilities=[PINGS],
    )


def test_the_section_runs_a_command_whose_event_is_folded_and_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pings.db'}"
    kit = make_kit(ik.IncidentKit.open(url, autoload_plugins=False).store)
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    pings = kit.section(Pings)
    assert pings is kit.pings
    state = pings.request(inc.id, "database team", by="alice")
    assert _pings(state) == (T0,)
    assert kit.timeline(inc.id)[-1].event == PingRequested(by="alice", target="database team")
    # A fresh kit on the same file folds the stored event the same way.
    again = make_kit(ik.IncidentKit.open(url, autoload_plugins=False).store)
    assert _pings(again.get(inc.id)) == (T0,)


def test_the_timer_is_in_the_summary_and_fires_once_with_its_notification() -> None:
    capture = CapturingNotifier()
    kit = make_kit(None, capture)
    clock = kit.clock
    assert isinstance(clock, ik.ManualClock)
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    state = kit.section(Pings).request(inc.id, "db", by="alice")
    builtin = next_due(state, kit.policy)
    assert builtin is not None
    assert kit.summary(inc.id).next_due_at == min(builtin, T0 + ANSWER_AFTER)
    kit.acknowledge(inc.id, by="alice")
    kit.enter_phase(inc.id, ik.Phase.MITIGATE, by="alice")
    # With the built-in timers quiet until later, the ping's timer is the next one due.
    assert kit.summary(inc.id).next_due_at == T0 + ANSWER_AFTER
    assert [r.event.tag for r in kit.tick(T0 + timedelta(minutes=9)).fired].count(
        "test_ping_overdue"
    ) == 0
    fired = kit.tick(T0 + ANSWER_AFTER).fired
    assert [r.event.tag for r in fired].count("test_ping_overdue") == 1
    later = kit.tick(T0 + timedelta(minutes=20)).fired
    assert all(r.event.tag != "test_ping_overdue" for r in later)
    clock.set(T0 + timedelta(minutes=21))
    kit.deliver()
    texts = [n.text for n in capture.delivered if n.kind is NotificationKind.REMINDER]
    assert any(text.endswith("ping unanswered") for text in texts)


def test_authorization_sees_the_capabilitys_action_and_the_commander_rule_applies() -> None:
    seen: list[str] = []

    class Recorder:
        @ik.hookimpl
        def incidentkit_authorize(self, actor: str, action: str, incident: object) -> None:
            seen.append(action)

    kit = make_kit(None, Recorder())
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    with pytest.raises(ik.PermissionDenied):
        kit.section(Pings).request(inc.id, "db", by="bob")
    kit.section(Pings).request(inc.id, "db", by="alice")
    assert "ping" in seen


def test_bad_input_is_refused_by_the_pure_handler_and_nothing_is_stored() -> None:
    kit = make_kit()
    inc = kit.declare("Login API returning 500 errors", severity="SEV3", by="alice")
    before = kit.store.load(inc.id)
    with pytest.raises(ik.ValidationError) as err:
        kit.section(Pings).request(inc.id, "", by="alice")
    assert err.value.field == "target"
    assert kit.store.load(inc.id) == before


def test_the_events_round_trip_through_the_one_converter() -> None:
    event = PingOverdue(by="incidentkit", key="ping:0", due_at=T0)
    assert event_from_json(event_to_json(event)) == event


def test_registration_refuses_clashes() -> None:
    with pytest.raises(ik.ValidationError):
        ik.IncidentKit(autoload_plugins=False, capabilities=[PINGS, PINGS])

    @attrs.frozen
    class Impostor(Event):
        tag: ClassVar[str] = "test_ping_requested"

    with pytest.raises(ik.ValidationError, match="already the tag"):
        register_event(Impostor)
    with pytest.raises(ik.ValidationError):
        register_fold(ik.events.NoteAdded, fold_requested)
    hiding = Capability(name="declare", section=Pings)
    with pytest.raises(ik.ValidationError, match="hide"):
        ik.IncidentKit(autoload_plugins=False, capabilities=[hiding])
    with pytest.raises(ik.ValidationError):
        Capability(name="Not A Name")
    with pytest.raises(ik.NotFound):
        ik.IncidentKit(autoload_plugins=False).section(Pings)


def test_the_built_in_capabilities_are_registered_the_same_way() -> None:
    kit = ik.IncidentKit(autoload_plugins=False)
    assert {"oncall", "mitigations"} <= set(kit.engine.capabilities)
    assert isinstance(kit.mitigations, ik.mitigation.capability.Mitigations)
