"""Shared fixtures of the people tests: the guide's SEV1 policy with a directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from incidentkit.oncall import Layer, OnCallConfig, Override, Rotation, Schedule
from incidentkit.people import ContactMethod, PeopleConfig, Person
from incidentkit.policy import Policy
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
"""Wednesday 20 November 2024, 22:30 UTC: alice is primary, bob secondary."""

ROTA_START = datetime(2024, 11, 18, 9, tzinfo=UTC)


def person(pid: str, zone: str = "UTC", **kw: object) -> Person:
    """A person with push, SMS, phone and e-mail contact methods (the guide's rules)."""
    contacts = (
        ContactMethod("push", f"{pid}-device"),
        ContactMethod("sms", f"+1555{pid}"),
        ContactMethod("phone", f"+1555{pid}"),
        ContactMethod("email", f"{pid}@example.com"),
    )
    return Person(pid, pid.title(), ZoneInfo(zone), contacts, **kw)  # type: ignore[arg-type]


def schedule(*overrides: Override, gap: tuple[datetime, datetime] | None = None) -> Schedule:
    """Weekly rotations from Monday 09:00 UTC: alice/dave primary, bob/erin secondary.

    ``gap``: the primary rotation stops at its start and restarts at its end.
    """
    utc = ZoneInfo("UTC")
    if gap is None:
        primary = (Rotation(("alice", "dave"), ROTA_START, utc),)
    else:
        primary = (
            Rotation(("alice", "dave"), ROTA_START, utc, end=gap[0]),
            Rotation(("alice", "dave"), gap[1], utc),
        )
    secondary = Rotation(("bob", "erin"), ROTA_START, utc)
    return Schedule(
        "platform",
        (Layer("primary", primary), Layer("secondary", (secondary,))),
        overrides=overrides,
    )


def people_policy(
    *overrides: Override,
    gap: tuple[datetime, datetime] | None = None,
    **people: object,
) -> Policy:
    """The guide's policy, :func:`schedule`, and a directory of alice, bob, dave, erin, mgr."""
    base = Policy.default()
    config = PeopleConfig(
        persons=tuple(person(p) for p in ("alice", "bob", "dave", "erin", "mgr")),
        **people,  # type: ignore[arg-type]
    )
    return attrs.evolve(
        base,
        oncall=OnCallConfig((schedule(*overrides, gap=gap),), base.oncall.escalation),
        people=config,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
