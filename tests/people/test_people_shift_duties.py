"""Shift duties reach the person whose shift starts or ends, once per boundary."""

from __future__ import annotations

import threading
from datetime import timedelta

import attrs
import pytest

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.notify import Notification, NotificationKind
from incidentkit.oncall.duties import AFTER_SHIFT, BEFORE_SHIFT, DURING_SHIFT
from incidentkit.people import ContactMethod, NotificationRule
from incidentkit.people.shifts import DUTY_WINDOW
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore, Store
from incidentkit.testing import CapturingNotifier

from ._helpers import ROTA_START, people_policy, person

HANDOVER = ROTA_START + timedelta(days=7)
"""Monday 25 November 09:00 UTC: alice hands primary to dave, bob secondary to erin."""


def by_person(notes: list[Notification]) -> dict[tuple[str | None, str], Notification]:
    found: dict[tuple[str | None, str], Notification] = {}
    for note in notes:
        phase = "start" if "starts" in note.incident.title else "end"
        assert (note.person, phase) not in found, f"{note.person} {phase} delivered twice"
        found[(note.person, phase)] = note
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_replicas_hand_each_shift_its_duties_exactly_once(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store: Store = request.getfixturevalue(f"{backend}_store")
    policy = people_policy()
    setup = IncidentKit(store, policy, ManualClock(HANDOVER - timedelta(hours=2)))
    open_id = setup.declare("Login failures", severity="SEV3", by="mon").id
    captures = [CapturingNotifier("capture"), CapturingNotifier("capture")]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica(n: int) -> None:
        clock = ManualClock(HANDOVER - timedelta(minutes=2))
        kit = IncidentKit(store, policy, clock, plugins=[captures[n]], autoload_plugins=False)
        try:
            for minute in range(5):
                barrier.wait(timeout=60)
                clock.set(HANDOVER + timedelta(minutes=minute - 2))
                kit.tick()
                kit.deliver()
        except BaseException as err:
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    notes = [n for c in captures for n in c.delivered if n.incident.id.startswith("shift.")]
    found = by_person(notes)
    # the shifts that began at ROTA_START are older than the window: not handed again
    assert set(found) == {("alice", "end"), ("dave", "start"), ("bob", "end"), ("erin", "start")}
    start = found[("dave", "start")]
    assert start.kind is NotificationKind.REMINDER and start.targets == ("dave",)
    assert start.reason == "primary shift of platform starts"
    for _, text in BEFORE_SHIFT + DURING_SHIFT:
        assert f"- [ ] {text}" in start.text
    assert "2024-11-25 09:00 UTC to 2024-12-02 09:00 UTC" in start.text
    end = found[("alice", "end")]
    assert "# On-call handoff: alice" in end.text
    assert open_id in end.text  # the open incident is handed over
    for _, text in AFTER_SHIFT:
        assert f"- [ ] {text}" in end.text
    assert not any(t in end.text for _, t in BEFORE_SHIFT)


def test_a_later_tick_sends_nothing_again_and_an_old_boundary_is_skipped() -> None:
    store = MemoryStore()
    capture = CapturingNotifier("capture")
    clock = ManualClock(HANDOVER + timedelta(minutes=1))
    kit = IncidentKit(store, people_policy(), clock, plugins=[capture], autoload_plugins=False)
    first = kit.tick().enqueued
    assert len(first) == 4 and all(k.startswith("shift-duty:") for k in first)
    clock.advance(timedelta(hours=1))
    assert kit.tick().enqueued == ()
    other = IncidentKit(store, people_policy(), clock, plugins=[capture], autoload_plugins=False)
    assert other.tick().enqueued == ()  # a fresh replica reads the keys from the store
    late = ManualClock(HANDOVER + timedelta(days=7) + DUTY_WINDOW + timedelta(minutes=1))
    fresh = IncidentKit(MemoryStore(), people_policy(), late, autoload_plugins=False)
    assert fresh.tick().enqueued == ()  # a boundary older than the window is not sent


def test_duties_go_through_the_persons_low_urgency_method_when_it_names_a_notifier() -> None:
    policy = people_policy()
    dave = person("dave")
    dave = attrs.evolve(
        dave,
        contacts=(*dave.contacts[:3], ContactMethod("email", "dave@example.com", notifier="mail")),
        rules=(NotificationRule("low", "email", timedelta(0)),),
    )
    persons = tuple(dave if p.id == "dave" else p for p in policy.people.persons)
    policy = attrs.evolve(policy, people=attrs.evolve(policy.people, persons=persons))
    chat, mail = CapturingNotifier("chat"), CapturingNotifier("mail")
    clock = ManualClock(HANDOVER + timedelta(minutes=1))
    kit = IncidentKit(MemoryStore(), policy, clock, plugins=[chat, mail], autoload_plugins=False)
    kit.tick()
    kit.deliver()
    assert [(n.channel, n.address) for n in mail.delivered if n.person == "dave"] == [
        ("email", "dave@example.com")
    ]
    assert "dave" not in {n.person for n in chat.delivered}
    assert {n.person for n in chat.delivered} == {"alice", "bob", "erin"}


def test_a_kit_without_people_sends_no_duties() -> None:
    policy = attrs.evolve(people_policy(), people=Policy.default().people)
    clock = ManualClock(HANDOVER + timedelta(minutes=1))
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    assert kit.tick().enqueued == ()
