"""Helpers shared by the timer tests (importable from spawned worker processes too)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from incidentkit.events import EscalationFired, RecordedEvent, ReminderFired, TargetMissed
from incidentkit.kit import IncidentKit
from incidentkit.oncall import Layer, OnCallConfig, Override, Rotation, Schedule
from incidentkit.policy import Policy
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
"""Wednesday 20 November 2024, 22:30 UTC: alice is primary, bob secondary."""

ROTA_START = datetime(2024, 11, 18, 9, tzinfo=UTC)
"""Monday 18 November 2024, 09:00 UTC: the weekly rotations start."""

TIMER_EVENTS = (EscalationFired, ReminderFired, TargetMissed)


def schedule(*overrides: Override) -> Schedule:
    """Weekly rotations from Monday 09:00 UTC: alice/dave primary, bob/erin secondary."""
    utc = ZoneInfo("UTC")
    primary = Rotation(("alice", "dave"), ROTA_START, utc)
    secondary = Rotation(("bob", "erin"), ROTA_START, utc)
    return Schedule(
        "platform",
        (Layer("primary", (primary,)), Layer("secondary", (secondary,))),
        overrides=overrides,
    )


def scheduled_policy(*overrides: Override, base: Policy | None = None) -> Policy:
    """The guide's policy (or ``base``) with :func:`schedule` as its only schedule."""
    policy = base or Policy.default()
    return attrs.evolve(
        policy, oncall=OnCallConfig((schedule(*overrides),), policy.oncall.escalation)
    )


def timer_records(kit: IncidentKit, incident_id: str) -> list[RecordedEvent]:
    """The timer events (escalations, reminders, missed targets) on the incident's timeline."""
    return [r for r in kit.timeline(incident_id) if isinstance(r.event, TIMER_EVENTS)]


def timer_keys(records: Iterable[RecordedEvent]) -> list[str]:
    """The keys of the timer events among ``records``, in order."""
    return [r.event.key for r in records if isinstance(r.event, TIMER_EVENTS)]


def duplicates(keys: Iterable[str]) -> dict[str, int]:
    """Keys that occur more than once, with their counts."""
    return {key: n for key, n in Counter(keys).items() if n > 1}


def minutes(n: float) -> timedelta:
    """``n`` minutes."""
    return timedelta(minutes=n)
