"""Plugins at the kit: malformed ones refused by name; observers and channels through the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from incidentkit.checklists import ItemState
from incidentkit.clock import ManualClock
from incidentkit.errors import PluginError
from incidentkit.events import ChannelOpened, RecordedEvent
from incidentkit.incident import Incident
from incidentkit.kit import IncidentKit
from incidentkit.mitigation import MitigationAction, MitigationResult
from incidentkit.notify import NotifierSpec
from incidentkit.plugins import hookimpl
from incidentkit.store import MemoryStore, OutboxState
from incidentkit.testing import CapturingNotifier, RecordingAction

from .delivery_helpers import BEYOND_BACKOFF


def _noop(*_: object) -> None:
    return None


class Notifiers:
    """A plugin whose ``incidentkit_notifiers`` returns whatever it is given."""

    def __init__(self, name: str, result: object) -> None:
        self.name = name
        self.result = result

    @hookimpl
    def incidentkit_notifiers(self) -> Any:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Actions:
    def __init__(self, name: str, result: object) -> None:
        self.name = name
        self.result = result

    @hookimpl
    def incidentkit_mitigation_actions(self) -> Any:
        return self.result


def build(clock: ManualClock, *plugins: object, store: MemoryStore | None = None) -> IncidentKit:
    return IncidentKit(store=store, clock=clock, plugins=plugins, autoload_plugins=False)


# --- malformed plugins -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (NotifierSpec("solo", _noop), "must return a list of NotifierSpec"),
        ("page-me", "must return a list of NotifierSpec"),
        ({"name": "x"}, "must return a list of NotifierSpec"),
        ([_noop], "returned function, not NotifierSpec"),
        ([NotifierSpec("", _noop)], "a NotifierSpec has no name"),
        ([NotifierSpec("   ", _noop)], "a NotifierSpec has no name"),
        (RuntimeError("config file missing"), "incidentkit_notifiers raised"),
    ],
    ids=["bare-spec", "string", "dict", "not-a-spec", "empty-name", "blank-name", "raises"],
)
def test_a_malformed_notifier_hook_is_refused_naming_the_plugin(
    clock: ManualClock, result: object, reason: str
) -> None:
    with pytest.raises(PluginError) as caught:
        build(clock, CapturingNotifier("fine"), Notifiers("acme-pager", result))
    assert caught.value.plugin == "acme-pager"
    assert reason in caught.value.reason


def test_two_notifiers_with_one_name_are_refused_naming_both_plugins(clock: ManualClock) -> None:
    first = Notifiers("acme-pager", [NotifierSpec("pager", _noop)])
    second = Notifiers("other-pager", [NotifierSpec("pager", _noop)])
    with pytest.raises(PluginError) as caught:
        build(clock, first, second)
    message = str(caught.value)
    assert "acme-pager" in message and "other-pager" in message
    assert "'pager'" in message


def test_two_actions_with_one_name_are_refused_naming_both_plugins(clock: ManualClock) -> None:
    with pytest.raises(PluginError) as caught:
        build(clock, RecordingAction("restart"), Actions("ops-tools", [_action("restart")]))
    message = str(caught.value)
    assert "plugin restart" in message and "plugin ops-tools" in message


def _action(name: str) -> MitigationAction:
    return MitigationAction(name, dict, lambda ctx, p: MitigationResult.applied())


def test_a_malformed_plugin_registered_late_refuses_the_command_and_stores_nothing(
    clock: ManualClock,
) -> None:
    store = MemoryStore()
    kit = build(clock, CapturingNotifier("fine"), store=store)
    kit.plugins.register(Notifiers("acme-pager", "not a list"))
    with pytest.raises(PluginError, match="acme-pager"):
        kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    assert store.incident_ids() == []
    assert store.outbox() == []


class BadStore:
    name = "redis-store"

    @hookimpl
    def incidentkit_store(self, url: str) -> Any:
        return {"url": url} if url.startswith("redis://") else None


def test_a_store_hook_returning_a_non_store_is_refused_naming_the_plugin() -> None:
    with pytest.raises(PluginError) as caught:
        IncidentKit.open("redis://localhost/0", plugins=[BadStore()], autoload_plugins=False)
    assert caught.value.plugin == "redis-store"
    assert "dict, not a Store" in caught.value.reason
    # Schemes it does not claim still reach the built-in stores.
    with IncidentKit.open("memory://", plugins=[BadStore()], autoload_plugins=False) as kit:
        assert type(kit.store).__name__ == "MemoryStore"


# --- observers ---------------------------------------------------------------------------


class Observer:
    def __init__(self, name: str, *, fail: Callable[[RecordedEvent], bool] = lambda r: False):
        self.name = name
        self.fail = fail
        self.calls: list[tuple[str, int]] = []

    @hookimpl
    def incidentkit_event_recorded(self, incident: Incident, record: RecordedEvent) -> None:
        assert incident.version == record.version  # the state right after the event
        if self.fail(record):
            raise RuntimeError(f"{self.name} cannot handle {record.event.tag}")
        self.calls.append((record.key, record.version))


def drain(kit: IncidentKit, clock: ManualClock, passes: int = 12) -> None:
    """Deliver until every row is done or dead, stepping past each backoff."""
    for _ in range(passes):
        kit.deliver()
        clock.advance(BEYOND_BACKOFF)
    assert {r.state for r in kit.store.outbox()} <= {OutboxState.DONE, OutboxState.DEAD}
    assert kit.deliver().claimed == 0


def test_every_observer_sees_every_event_once_and_a_raising_one_blocks_nobody(
    clock: ManualClock,
) -> None:
    audit, metrics = Observer("audit"), Observer("metrics")
    broken = Observer("broken", fail=lambda r: True)
    flaky_seen: set[str] = set()

    def flaky_fails(record: RecordedEvent) -> bool:  # fails the first try of each event
        first = record.key not in flaky_seen
        flaky_seen.add(record.key)
        return first

    flaky = Observer("flaky", fail=flaky_fails)
    kit = build(clock, audit, broken, flaky, metrics)
    inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    kit.acknowledge(inc.id, by="bob")
    kit.add_note(inc.id, "Rolled back deploy 4812", by="bob")
    other = kit.declare("Checkout latency", severity="SEV3", by="carol")
    assert audit.calls == []  # nothing is called inside the command
    recorded = {i: len(kit.timeline(i)) for i in (inc.id, other.id)}

    drain(kit, clock)
    expected = [
        (r.key, r.version) for incident in (inc.id, other.id) for r in kit.timeline(incident)
    ]
    for observer in (audit, metrics, flaky):
        assert sorted(observer.calls) == sorted(expected)
    assert broken.calls == []
    rows = [r for r in kit.store.outbox() if r.topic == "event"]
    assert {r.state for r in rows if r.target == "broken"} == {OutboxState.DEAD}
    assert {r.attempts for r in rows if r.target == "broken"} == {8}
    assert {r.state for r in rows if r.target != "broken"} == {OutboxState.DONE}
    # An observer's failure is its own business: nothing is added to the timeline.
    assert {i: len(kit.timeline(i)) for i in (inc.id, other.id)} == recorded


# --- channels ----------------------------------------------------------------------------


class Channels:
    name = "chat"

    def __init__(self, reply: object = None, fail_times: int = 0) -> None:
        self.reply = reply
        self.fail_times = fail_times
        self.calls: list[Incident] = []

    @hookimpl
    def incidentkit_open_channel(self, incident: Incident) -> Any:
        self.calls.append(incident)
        if len(self.calls) <= self.fail_times:
            raise ConnectionError("chat API unreachable")
        return self.reply if self.reply is not None else f"C-{incident.channel}"


def test_the_channel_is_opened_through_the_outbox_and_ticks_the_checklist(
    clock: ManualClock,
) -> None:
    chat = Channels(fail_times=1)
    kit = build(clock, chat)
    inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    assert chat.calls == []
    assert inc.channel_opened_at is None
    assert inc.checklists["declaration"]["create-channel"].state is ItemState.PENDING
    [row] = [r for r in kit.store.outbox() if r.topic == "channel"]

    assert kit.deliver().retried == 1  # the chat API was down: retried, declare unaffected
    clock.advance(BEYOND_BACKOFF)
    assert kit.deliver().delivered == 1
    clock.advance(BEYOND_BACKOFF)
    assert kit.deliver().claimed == 0

    assert [c.channel for c in chat.calls] == [inc.channel] * 2  # the suggested name
    assert inc.channel.startswith("#incident-2024-11-20-")
    opened = [r.event for r in kit.timeline(inc.id) if isinstance(r.event, ChannelOpened)]
    assert opened == [ChannelOpened(by="incidentkit", channel=f"C-{inc.channel}")]
    state = kit.get(inc.id)
    assert state.channel == f"C-{inc.channel}"
    assert state.channel_opened_at == clock.now() - BEYOND_BACKOFF
    item = state.checklists["declaration"]["create-channel"]
    assert (item.state, item.by) == (ItemState.DONE, "incidentkit")
    assert [r.state for r in kit.store.outbox() if r.id == row.id] == [OutboxState.DONE]


def test_a_channel_hook_returning_a_non_string_fails_the_row_naming_the_plugin(
    clock: ManualClock,
) -> None:
    kit = build(clock, Channels(reply=42))
    inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    report = kit.deliver()
    assert report.retried == 1
    assert "plugin chat" in report.errors[0] and "int, not str" in report.errors[0]
    assert kit.get(inc.id).channel_opened_at is None


def test_without_a_channel_plugin_no_channel_row_is_written(clock: ManualClock) -> None:
    kit = build(clock, CapturingNotifier())
    kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    assert {r.topic for r in kit.store.outbox()} == {"notification"}
    assert kit.deliver(lease=timedelta(seconds=30)).delivered == 1
