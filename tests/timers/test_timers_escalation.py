"""Escalation through the kit: who is paged, when, and what stops it (the On-call issue)."""

from __future__ import annotations

import pytest

from incidentkit.clock import ManualClock
from incidentkit.events import EscalationFired
from incidentkit.kit import IncidentKit
from incidentkit.notify import NotificationKind, Urgency
from incidentkit.oncall import Override
from incidentkit.severity import Severity
from incidentkit.testing import CapturingNotifier

from ._helpers import T0, minutes, scheduled_policy, timer_records
from .conftest import KitFactory


def escalations(kit: IncidentKit, incident_id: str) -> list[EscalationFired]:
    return [
        r.event for r in timer_records(kit, incident_id) if isinstance(r.event, EscalationFired)
    ]


def test_sev1_pages_the_primary_at_once(
    kit: IncidentKit, capturing_notifier: CapturingNotifier
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")

    (fired,) = escalations(kit, inc.id)
    assert (fired.key, fired.action, fired.targets, fired.due_at) == (
        "escalation:sev1:0:0",
        "page",
        ("alice",),
        T0,
    )
    assert capturing_notifier.delivered == []  # nothing leaves before deliver()
    kit.deliver()
    (page,) = capturing_notifier.delivered
    assert (page.kind, page.targets, page.urgency) == (
        NotificationKind.PAGE,
        ("alice",),
        Urgency.HIGH,
    )
    assert page.incident.id == inc.id
    assert kit.get(inc.id).paged == ("alice",)


def test_sev1_without_ack_pages_the_secondary_after_five_minutes(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    kit.deliver()
    capturing_notifier.clear()

    clock.set(T0 + minutes(4) + minutes(59 / 60))
    assert escalations_fired(kit) == []

    clock.set(T0 + minutes(5))
    report = kit.tick()
    assert [r.event.key for r in report.fired if isinstance(r.event, EscalationFired)] == [
        "escalation:sev1:1:0"
    ]
    second = escalations(kit, inc.id)[1]
    assert (second.action, second.targets, second.due_at) == ("page", ("bob",), T0 + minutes(5))
    kit.deliver()
    pages = [n for n in capturing_notifier.delivered if n.targets == ("bob",)]
    assert [(n.kind, n.urgency) for n in pages] == [(NotificationKind.PAGE, Urgency.HIGH)]
    assert kit.get(inc.id).paged == ("alice", "bob")


def escalations_fired(kit: IncidentKit) -> list[str]:
    return [r.event.key for r in kit.tick().fired if isinstance(r.event, EscalationFired)]


@pytest.mark.parametrize("ack_after", [minutes(1), minutes(4) + minutes(59 / 60)])
def test_ack_before_five_minutes_means_the_secondary_is_never_paged(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier, ack_after: object
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + ack_after)  # type: ignore[operator]
    kit.tick()
    kit.acknowledge(inc.id, by="alice")
    for step in range(1, 13):
        clock.set(T0 + minutes(5 * step))
        kit.tick()
    kit.deliver()
    assert [e.key for e in escalations(kit, inc.id)] == ["escalation:sev1:0:0"]
    assert all("bob" not in n.targets for n in capturing_notifier.delivered)
    assert kit.get(inc.id).paged == ("alice",)


def test_ack_at_the_fire_instant_stops_the_step(kit: IncidentKit, clock: ManualClock) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(5))
    kit.acknowledge(inc.id, by="alice")
    kit.tick()
    assert [e.key for e in escalations(kit, inc.id)] == ["escalation:sev1:0:0"]


def test_a_late_tick_after_the_ack_still_records_the_step_that_was_due_before_it(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(7))  # nobody ticked at +5
    kit.acknowledge(inc.id, by="alice")
    kit.tick()
    fired = escalations(kit, inc.id)
    assert [(e.key, e.due_at) for e in fired] == [
        ("escalation:sev1:0:0", T0),
        ("escalation:sev1:1:0", T0 + minutes(5)),
    ]


def test_sev2_notifies_at_once_and_pages_after_fifteen_minutes(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    inc = kit.declare("Checkout slow", severity=Severity.SEV2, by="alice")
    kit.deliver()
    (first,) = capturing_notifier.delivered
    assert (first.kind, first.targets, first.urgency) == (
        NotificationKind.NOTIFY,
        ("alice",),
        Urgency.LOW,
    )
    capturing_notifier.clear()

    clock.set(T0 + minutes(14))
    kit.tick()
    assert [e.key for e in escalations(kit, inc.id)] == ["escalation:sev2:0:0"]

    clock.set(T0 + minutes(15))
    kit.tick()
    kit.deliver()
    fired = escalations(kit, inc.id)
    assert [(e.key, e.action, e.targets) for e in fired] == [
        ("escalation:sev2:0:0", "notify", ("alice",)),
        ("escalation:sev2:1:0", "page", ("alice",)),
    ]
    pages = [n for n in capturing_notifier.delivered if n.urgency is Urgency.HIGH]
    assert [(n.kind, n.targets) for n in pages] == [(NotificationKind.PAGE, ("alice",))]


def test_sev2_ack_within_fifteen_minutes_stops_the_page(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("Checkout slow", severity=Severity.SEV2, by="alice")
    clock.set(T0 + minutes(10))
    kit.acknowledge(inc.id, by="alice")
    clock.set(T0 + minutes(60))
    kit.tick()
    assert [e.action for e in escalations(kit, inc.id)] == ["notify"]


def test_sev3_notifies_and_never_pages(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    inc = kit.declare("Search degraded", severity=Severity.SEV3, by="alice")
    for step in range(1, 25):
        clock.set(T0 + minutes(5 * step))
        kit.tick()
    kit.deliver()
    assert [(e.action, e.targets) for e in escalations(kit, inc.id)] == [("notify", ("alice",))]
    kinds = {n.kind for n in capturing_notifier.delivered}
    assert NotificationKind.PAGE not in kinds and NotificationKind.ESCALATION not in kinds


def test_sev4_only_opens_a_ticket(
    kit: IncidentKit, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    inc = kit.declare("Typo on status page", severity=Severity.SEV4, by="alice")
    for step in range(1, 25):
        clock.set(T0 + minutes(5 * step))
        kit.tick()
    kit.deliver()
    assert [(e.action, e.targets) for e in escalations(kit, inc.id)] == [("ticket", ())]
    escalation_kinds = [
        n.kind
        for n in capturing_notifier.delivered
        if n.kind in (NotificationKind.PAGE, NotificationKind.NOTIFY, NotificationKind.ESCALATION)
    ]
    assert escalation_kinds == []
    assert [n.kind for n in capturing_notifier.delivered if n.kind is NotificationKind.TICKET] == [
        NotificationKind.TICKET
    ]
    assert kit.get(inc.id).paged == ()


def test_overrides_at_the_moment_of_each_step_are_honoured(
    make_kit: KitFactory, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    policy = scheduled_policy(
        # carol covers alice's primary shift for the first two minutes
        Override("primary", "carol", T0 - minutes(30), T0 + minutes(2)),
        # frank covers bob's secondary shift from +4 to +6 (the +5 page is his)
        Override("secondary", "frank", T0 + minutes(4), T0 + minutes(6)),
        # gina's override starts after the page: not hers
        Override("secondary", "gina", T0 + minutes(6), T0 + minutes(60)),
    )
    kit = make_kit(policy)
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(5))
    kit.tick()
    kit.deliver()
    assert [(e.key, e.targets) for e in escalations(kit, inc.id)] == [
        ("escalation:sev1:0:0", ("carol",)),
        ("escalation:sev1:1:0", ("frank",)),
    ]
    assert [n.targets for n in capturing_notifier.delivered if n.urgency is Urgency.HIGH] == [
        ("carol",),
        ("frank",),
    ]


def test_a_late_tick_resolves_targets_at_the_tick_not_the_due_time(
    make_kit: KitFactory, clock: ManualClock
) -> None:
    # The page goes out when the tick runs; whoever holds the layer then is reached.
    policy = scheduled_policy(Override("secondary", "frank", T0 + minutes(6), T0 + minutes(60)))
    kit = make_kit(policy)
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(8))
    kit.tick()
    second = escalations(kit, inc.id)[1]
    assert (second.due_at, second.targets) == (T0 + minutes(5), ("frank",))


def test_raising_severity_restarts_escalation_under_the_new_policy(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("Checkout slow", severity=Severity.SEV2, by="alice")
    clock.set(T0 + minutes(3))
    kit.set_severity(inc.id, Severity.SEV1, by="alice", reason="checkout down")
    clock.set(T0 + minutes(8))
    kit.tick()
    fired = escalations(kit, inc.id)
    assert [(e.key, e.due_at, e.targets) for e in fired] == [
        ("escalation:sev2:0:0", T0, ("alice",)),
        ("escalation:sev1:0:0", T0 + minutes(3), ("alice",)),
        ("escalation:sev1:1:0", T0 + minutes(8), ("bob",)),
    ]


def test_raising_severity_after_an_acknowledgement_pages_again(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("Checkout slow", severity=Severity.SEV3, by="alice")
    clock.set(T0 + minutes(1))
    kit.acknowledge(inc.id, by="alice")
    clock.set(T0 + minutes(2))
    kit.set_severity(inc.id, Severity.SEV1, by="alice", reason="checkout down")
    assert [(e.key, e.action) for e in escalations(kit, inc.id)][-1] == (
        "escalation:sev1:0:0",
        "page",
    )
    # the page needs a new acknowledgement; the first one stays the MTTA milestone
    clock.set(T0 + minutes(4))
    kit.acknowledge(inc.id, by="alice")
    state = kit.get(inc.id)
    assert (state.acknowledged_at, state.escalation_acked_at) == (
        T0 + minutes(1),
        T0 + minutes(4),
    )
    clock.set(T0 + minutes(30))
    kit.tick()
    assert "escalation:sev1:1:0" not in [e.key for e in escalations(kit, inc.id)]


def test_lowering_severity_keeps_the_acknowledgement(kit: IncidentKit, clock: ManualClock) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    kit.acknowledge(inc.id, by="alice")
    clock.set(T0 + minutes(2))
    kit.set_severity(inc.id, Severity.SEV2, by="alice", reason="partial")
    clock.set(T0 + minutes(30))
    kit.tick()
    assert [e.key for e in escalations(kit, inc.id)] == ["escalation:sev1:0:0"]


def test_returning_to_a_severity_starts_a_new_escalation_period(
    kit: IncidentKit, clock: ManualClock
) -> None:
    inc = kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    clock.set(T0 + minutes(1))
    kit.set_severity(inc.id, Severity.SEV2, by="alice", reason="partial")
    clock.set(T0 + minutes(2))
    kit.set_severity(inc.id, Severity.SEV1, by="alice", reason="down again")
    fired = [(e.key, e.due_at) for e in escalations(kit, inc.id)]
    assert fired == [
        ("escalation:sev1:0:0", T0),
        ("escalation:sev2:0:0", T0 + minutes(1)),
        ("escalation:sev1:0:0", T0 + minutes(2)),  # paged again at once
    ]
    clock.set(T0 + minutes(7))
    kit.tick()
    assert [(e.key, e.due_at) for e in escalations(kit, inc.id)][-1] == (
        "escalation:sev1:1:0",
        T0 + minutes(7),
    )
