"""Escalation dry run: ``who_would_be_paged`` must cost the same five years on as one week on.

A 10-step SEV1 policy (each step a layer of a 5-layer schedule, the steps
2 minutes apart, every second step repeating once) over weekly rotations in
Europe/London with 200 overrides spread over the five years, and a
directory whose people each have the guide's push/SMS/phone rules.

* ``who_would_be_paged`` at 50 instants five years after the rotations
  start ÷ the same at 50 instants one week after (lower is better, target
  <= 1.2x: each step's holder is a closed-form lookup, not a walk from the start).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
from _harness import Result, compare, report

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
from incidentkit.people import ContactMethod, PeopleConfig, Person
from incidentkit.people.paging import who_would_be_paged
from incidentkit.policy import Policy

LONDON = ZoneInfo("Europe/London")
START = datetime(2021, 1, 4, 9, tzinfo=LONDON)
PEOPLE = tuple(f"p{i:02d}" for i in range(20))
LAYERS = tuple(f"layer{i}" for i in range(5))
STEPS = 10
OVERRIDES = 200
BATCH = 50


def build() -> Policy:
    """The benchmark's policy: 10 steps, 5 layers, 200 overrides, 20 people."""
    layers = tuple(
        Layer(name, (Rotation(PEOPLE[i * 4 : i * 4 + 4], START, LONDON),))
        for i, name in enumerate(LAYERS)
    )
    span = timedelta(days=5 * 365 + 30)
    overrides = tuple(
        Override(
            LAYERS[i % len(LAYERS)],
            PEOPLE[(i * 7) % len(PEOPLE)],
            START + span * i / OVERRIDES,
            START + span * i / OVERRIDES + timedelta(hours=8),
        )
        for i in range(OVERRIDES)
    )
    schedule = Schedule("bench", layers, overrides)
    steps = tuple(
        EscalationStep(
            (Target.layer(LAYERS[i % len(LAYERS)]),),
            timedelta(minutes=2 * i),
            repeat=i % 2,
            repeat_interval=timedelta(minutes=1),
        )
        for i in range(STEPS)
    )
    escalation = EscalationPolicies((EscalationPolicy("sev1", steps, ["SEV1"]),))
    persons = tuple(
        Person(
            p,
            contacts=(
                ContactMethod("push", f"{p}-dev"),
                ContactMethod("sms", f"+44{p}"),
                ContactMethod("phone", f"+44{p}"),
            ),
        )
        for p in PEOPLE
    )
    base = Policy.default()
    return attrs.evolve(
        base, oncall=OnCallConfig((schedule,), escalation), people=PeopleConfig(persons=persons)
    )


def instants(base: datetime) -> list[datetime]:
    """50 instants 97 minutes apart from ``base``."""
    return [base + timedelta(minutes=97 * i) for i in range(BATCH)]


def main() -> None:
    policy = build()
    start = START.astimezone(UTC)
    near = instants(start + timedelta(weeks=1))
    far = instants(start + timedelta(days=5 * 365))
    for at in near[:3] + far[:3]:
        pages = who_would_be_paged(policy, "SEV1", at)
        assert len(pages) == 3 * (STEPS + STEPS // 2), len(pages)

    def run(batch: list[datetime]) -> None:
        for at in batch:
            who_would_be_paged(policy, "SEV1", at)

    far_s, near_s = compare(lambda: run(far), lambda: run(near), repeats=11)
    report(
        "dryrun",
        [
            Result(
                "who_would_be_paged: 5 years ÷ 1 week",
                far_s / BATCH,
                near_s / BATCH,
                limit=1.2,
                measures=(
                    f"who_would_be_paged(SEV1) at {BATCH} instants five years after the start "
                    f"({STEPS} steps, {len(LAYERS)} layers, {OVERRIDES} overrides)"
                ),
                against=f"the same call at {BATCH} instants one week after the start",
                issue="issue 15",
            )
        ],
    )


if __name__ == "__main__":
    main()
