"""Escalation delays are elapsed time, also across daylight saving changes (the On-call issue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidentkit.clock import ManualClock
from incidentkit.events import EscalationFired
from incidentkit.kit import IncidentKit
from incidentkit.policy import Policy
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore

from ._helpers import minutes

NEW_YORK = ZoneInfo("America/New_York")

POLICY_TOML = """
zone = "America/New_York"

[[escalation.policies]]
name = "night"
severities = ["SEV1"]
steps = [
  { targets = ["person:ana"], delay = "0m", action = "page" },
  { targets = ["person:bo"], delay = "10m", action = "page" },
]
"""


def night_kit(start: datetime) -> tuple[IncidentKit, ManualClock]:
    clock = ManualClock(start)
    policy = Policy.from_toml(POLICY_TOML, source="night.toml")
    return IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False), clock


def second_step(kit: IncidentKit, incident_id: str) -> list[EscalationFired]:
    return [
        r.event
        for r in kit.timeline(incident_id)
        if isinstance(r.event, EscalationFired) and r.event.key == "escalation:night:1:0"
    ]


@pytest.mark.parametrize(
    ("start", "fires_utc", "fires_local"),
    [
        # Fall back (3 Nov 2024): 01:55 EDT, then 01:00-01:59 happens again in EST.
        (
            datetime(2024, 11, 3, 1, 55, tzinfo=NEW_YORK),
            datetime(2024, 11, 3, 6, 5, tzinfo=UTC),
            "2024-11-03T01:05:00-05:00",
        ),
        # The second 01:55 (EST) that same night.
        (
            datetime(2024, 11, 3, 1, 55, fold=1, tzinfo=NEW_YORK),
            datetime(2024, 11, 3, 7, 5, tzinfo=UTC),
            "2024-11-03T02:05:00-05:00",
        ),
        # Spring forward (10 Mar 2024): 02:00-02:59 does not exist.
        (
            datetime(2024, 3, 10, 1, 55, tzinfo=NEW_YORK),
            datetime(2024, 3, 10, 7, 5, tzinfo=UTC),
            "2024-03-10T03:05:00-04:00",
        ),
    ],
    ids=["fall-back-EDT", "fall-back-EST", "spring-forward"],
)
def test_a_ten_minute_delay_fires_ten_elapsed_minutes_later(
    start: datetime, fires_utc: datetime, fires_local: str
) -> None:
    kit, clock = night_kit(start)
    iid = kit.declare("Nightly batch failing", severity=Severity.SEV1, by="ana").id
    assert fires_utc - start == minutes(10)

    clock.set(fires_utc - timedelta(seconds=1))
    kit.tick()
    assert second_step(kit, iid) == []

    clock.set(fires_utc)
    kit.tick()
    (fired,) = second_step(kit, iid)
    assert fired.due_at == fires_utc
    assert fired.targets == ("bo",)
    assert fired.due_at.astimezone(NEW_YORK).isoformat() == fires_local


def test_fall_back_does_not_wait_for_wall_clock_two_oh_five() -> None:
    start = datetime(2024, 11, 3, 1, 55, tzinfo=NEW_YORK)  # 05:55 UTC
    kit, clock = night_kit(start)
    iid = kit.declare("Nightly batch failing", severity=Severity.SEV1, by="ana").id
    wall_clock = start + timedelta(minutes=10)  # Python's wall-clock arithmetic: 02:05 EST
    assert wall_clock.astimezone(UTC) == datetime(2024, 11, 3, 7, 5, tzinfo=UTC)
    # Tick every minute through the repeated hour: the page goes out at 06:05 UTC.
    fired_at = None
    while fired_at is None and clock.now() < wall_clock.astimezone(UTC):
        clock.advance(minutes(1))
        if kit.tick().fired and second_step(kit, iid):
            fired_at = clock.now()
    assert fired_at == datetime(2024, 11, 3, 6, 5, tzinfo=UTC)
    # And it was not also fired at the wall-clock times of either offset.
    for wall in (
        datetime(2024, 11, 3, 2, 5, tzinfo=NEW_YORK),
        datetime(2024, 11, 3, 2, 5, tzinfo=NEW_YORK).replace(fold=1),
    ):
        clock.set(wall)
        kit.tick()
    assert len(second_step(kit, iid)) == 1


def test_reminders_across_fall_back_are_elapsed_too() -> None:
    start = datetime(2024, 11, 3, 1, 50, tzinfo=NEW_YORK)  # 05:50 UTC, SEV1: every 15 min
    kit, clock = night_kit(start)
    kit.declare("Nightly batch failing", severity=Severity.SEV1, by="ana")
    due = []
    for _ in range(70):
        clock.advance(minutes(1))
        due.extend(
            r.event.due_at  # type: ignore[attr-defined]
            for r in kit.tick().fired
            if r.event.key.startswith("reminder:")  # type: ignore[attr-defined]
        )
    assert [d.astimezone(NEW_YORK).strftime("%H:%M %Z") for d in due] == [
        "01:05 EST",
        "01:20 EST",
        "01:35 EST",
        "01:50 EST",
    ]
    assert [b - a for a, b in zip([clock.now() - minutes(70), *due], due, strict=False)] == [
        minutes(15)
    ] * 4
