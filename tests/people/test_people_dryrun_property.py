"""The dry run equals what a real unacknowledged incident then does, minute by minute.

30 randomized escalation policies, schedules (hourly and daily rotations
handing off around 01:00–03:00 local, overrides) and instants on DST nights
in three zones; the real incident is ticked every minute with nobody
acknowledging, and its recorded pages must be exactly the dry run's.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.oncall import (
    EscalationPolicies,
    EscalationPolicy,
    EscalationStep,
    Layer,
    OnCallConfig,
    Override,
    Rotation,
    Schedule,
    Target,
)
from incidentkit.people import NotificationRule, PeopleConfig
from incidentkit.people.capability import PersonPaged
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore

from ._helpers import person

DST_NIGHTS = {
    "America/New_York": [
        datetime(2024, 3, 10, 6, tzinfo=UTC),
        datetime(2024, 11, 3, 5, tzinfo=UTC),
    ],
    "Europe/London": [datetime(2024, 3, 31, 0, tzinfo=UTC), datetime(2024, 10, 27, 0, tzinfo=UTC)],
    "Australia/Sydney": [
        datetime(2024, 4, 6, 15, tzinfo=UTC),
        datetime(2024, 10, 5, 15, tzinfo=UTC),
    ],
}
"""Roughly the local 01:00–02:00 of each zone's spring-forward and fall-back nights (UTC)."""

PEOPLE = ("ana", "ben", "cai", "dee", "eve")
LAYERS = ("primary", "secondary")
MINUTE = timedelta(minutes=1)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[Policy, datetime]:
    zone_name = draw(st.sampled_from(sorted(DST_NIGHTS)))
    zone = ZoneInfo(zone_name)
    night = draw(st.sampled_from(DST_NIGHTS[zone_name]))
    at = night + timedelta(minutes=draw(st.integers(-90, 150)), seconds=draw(st.integers(0, 59)))
    layers = []
    for name in LAYERS:
        every = draw(st.sampled_from(["hour", "day"]))
        handoff = time(draw(st.integers(1, 3)), draw(st.sampled_from([0, 15, 30, 45])))
        members = tuple(draw(st.permutations(PEOPLE)))[: draw(st.integers(1, 4))]
        rotation = Rotation(
            members,
            night - timedelta(days=draw(st.integers(1, 20))),
            zone,
            every=every,
            interval=draw(st.integers(1, 3)),
            handoff_time=handoff,
        )
        layers.append(Layer(name, (rotation,)))
    overrides = []
    for layer in LAYERS:
        if draw(st.booleans()):
            start = at + timedelta(minutes=draw(st.integers(-30, 60)))
            overrides.append(
                Override(
                    layer,
                    draw(st.sampled_from(PEOPLE)),
                    start,
                    start + timedelta(minutes=draw(st.integers(1, 90))),
                )
            )
    schedule = Schedule("rota", tuple(layers), tuple(overrides))
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        targets = draw(
            st.lists(
                st.sampled_from(
                    [Target.layer("primary"), Target.layer("secondary"), Target.person("eve")]
                ),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        repeat = draw(st.integers(0, 2))
        steps.append(
            EscalationStep(
                tuple(targets),
                timedelta(minutes=draw(st.integers(0, 20))),
                draw(st.sampled_from(["page", "notify"])),
                repeat,
                timedelta(minutes=draw(st.integers(1, 5))),
            )
        )
    escalation = EscalationPolicies((EscalationPolicy("sev1", tuple(steps), ["SEV1"]),))
    persons = []
    for pid in PEOPLE:
        rules = (
            NotificationRule("high", "push", timedelta(0)),
            NotificationRule("high", "sms", timedelta(minutes=draw(st.integers(1, 4)))),
            NotificationRule("high", "phone", timedelta(minutes=draw(st.integers(2, 8)))),
            NotificationRule("low", "email", timedelta(seconds=draw(st.integers(0, 90)))),
        )
        persons.append(person(pid, zone_name, rules=rules))
    people = PeopleConfig(
        persons=tuple(persons),
        fallback=("eve",),
        num_loops=draw(st.integers(1, 2)),
        loop_after=timedelta(minutes=draw(st.integers(0, 10))),
        final_fallback=draw(st.booleans()),
    )
    base = Policy.default()
    policy = attrs.evolve(base, oncall=OnCallConfig((schedule,), escalation), people=people)
    return policy, at


def real_pages(policy: Policy, at: datetime, until: datetime) -> list[tuple[Any, ...]]:
    """Tick every minute from ``at``; each recorded page with the tick that recorded it."""
    clock = ManualClock(at)
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    kit.declare("DST night", severity="SEV1", by="mon")
    found: list[tuple[Any, ...]] = []
    now = at
    while now <= until + MINUTE:
        clock.set(now)
        for record in kit.tick().fired:
            event = record.event
            if isinstance(event, PersonPaged):
                found.append((now, event.due_at, event.person, event.channel, event.reason))
        now += MINUTE
    return found


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_dry_run_equals_the_real_unacknowledged_incident(case: tuple[Policy, datetime]) -> None:
    policy, at = case
    kit = IncidentKit(MemoryStore(), policy, ManualClock(at), autoload_plugins=False)
    dry = kit.people.who_would_be_paged("SEV1", at)
    assert kit.incidents() == []  # the dry run records nothing
    assert dry, "every scenario pages someone"
    real = real_pages(policy, at, max(p.at for p in dry))
    # Minute by minute: the tick at each minute records exactly the dry run's
    # pages that came due since the previous tick.
    expected = sorted(
        (at + -((at - p.at) // MINUTE) * MINUTE, p.at, p.person, p.channel, p.reason) for p in dry
    )
    assert sorted(real) == expected
