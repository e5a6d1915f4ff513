"""The demo: the guide's login-failure incident, replayed on a manual clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

import attrs

from incidentkit import metrics
from incidentkit._time import format_duration
from incidentkit.clock import ManualClock
from incidentkit.events import Conclusion, PublicStatus, Source
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import Phase, Status
from incidentkit.metrics.export import to_table
from incidentkit.notify import Notification, NotifierSpec
from incidentkit.oncall import Layer, OnCallConfig, Rotation, Schedule
from incidentkit.plugins import hookimpl
from incidentkit.policy import Policy
from incidentkit.roles import Role
from incidentkit.severity import Severity
from incidentkit.timeline import render_chat

__all__ = ["DEMO_START", "DEMO_ZONE", "run_demo"]

DEMO_ZONE = ZoneInfo("America/Los_Angeles")
DEMO_START = datetime(2024, 11, 20, 14, 30, tzinfo=DEMO_ZONE)
"""14:30 PST on 20 November 2024, when the guide's alert fired."""


def demo_policy(base: Policy | None = None) -> Policy:
    """``base`` (default: the guide's policy in Pacific time) plus the demo schedule.

    The schedule is weekly, Monday 09:00 Pacific: alice/dave primary, bob/erin secondary.
    """
    start = datetime(2024, 11, 18, 9, tzinfo=DEMO_ZONE)
    primary = Rotation(("alice", "dave"), start, DEMO_ZONE, handoff_time=time(9))
    secondary = Rotation(("bob", "erin"), start, DEMO_ZONE, handoff_time=time(9))
    schedule = Schedule(
        "platform", (Layer("primary", (primary,)), Layer("secondary", (secondary,)))
    )
    policy = base or attrs.evolve(Policy.default(), zone=DEMO_ZONE)
    return attrs.evolve(
        policy,
        oncall=OnCallConfig((schedule,), policy.oncall.escalation),
    )


class ConsoleNotifier:
    """A notifier plugin that keeps what it delivered, for the demo to print."""

    name = "console"

    def __init__(self) -> None:
        self.delivered: list[Notification] = []

    @hookimpl
    def incidentkit_notifiers(self) -> list[NotifierSpec]:
        """One notifier called ``console``."""
        return [NotifierSpec("console", self.delivered.append)]

    def drain(self, out: TextIO, zone: ZoneInfo) -> None:
        """Print and forget what was delivered."""
        for note in self.delivered:
            when = note.created_at.astimezone(zone)
            who = ", ".join(note.targets) or "subscribers"
            print(f"  [{when:%H:%M}] {note.kind:<13} → {who}: {note.text}", file=out)
        self.delivered.clear()


def run_demo(
    out: TextIO,
    make_kit: Callable[[ManualClock, Policy, ConsoleNotifier], IncidentKit],
    base_policy: Policy | None = None,
) -> IncidentKit:
    """Replay the login incident against the kit ``make_kit`` builds and print the story.

    ``make_kit`` receives the manual clock, the demo policy (``base_policy``
    plus the demo schedule) and the console notifier to register.
    """
    clock = ManualClock(DEMO_START)
    console = ConsoleNotifier()
    kit = make_kit(clock, demo_policy(base_policy), console)

    def at(hh: int, mm: int) -> None:
        clock.set(datetime(2024, 11, 20, hh, mm, tzinfo=DEMO_ZONE))
        kit.tick()
        kit.deliver()

    inc = kit.declare(
        "Login API returning 500 errors",
        severity=Severity.SEV1,
        by="alice",
        source=Source.ALERT,
        started_at=datetime(2024, 11, 20, 14, 29, tzinfo=DEMO_ZONE),
        detected_at=DEMO_START,
        services=["login-api"],
        description="Alert: api_error_rate 15% > 1% for 5m",
        incident_id="INC-42",
    )
    iid = inc.id
    kit.deliver()
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.assign_role(iid, Role.TECHNICAL_LEAD, "bob", by="alice")
    kit.assign_role(iid, Role.COMMUNICATIONS_LEAD, "charlie", by="alice")
    at(14, 31)
    kit.acknowledge(iid, by="alice")
    at(14, 32)
    kit.add_note(iid, "Checking dashboards... seeing 15% error rate", by="bob")
    kit.set_status(iid, Status.INVESTIGATING, by="alice")
    at(14, 33)
    kit.post_update(
        iid,
        PublicStatus.INVESTIGATING,
        "We are investigating reports of login failures affecting some users.",
        by="charlie",
    )
    at(14, 35)
    kit.record_hypothesis(
        iid,
        "Database connection pool exhausted",
        test="Check connection pool metrics",
        result="100/100 connections in use, 50 waiting",
        conclusion=Conclusion.CONFIRMED,
        by="bob",
    )
    kit.set_status(iid, Status.IDENTIFIED, by="alice", reason="connection pool exhausted")
    kit.enter_phase(iid, Phase.MITIGATE, by="alice")
    at(14, 36)
    kit.add_note(iid, "Any quick mitigation options?", by="alice")
    at(14, 37)
    kit.add_note(iid, "Increasing pool size and deploying now", by="bob")
    at(14, 42)
    kit.mark_mitigated(iid, by="bob", detail="Fix deployed: pool size 10 → 20", action="deploy")
    kit.set_status(iid, Status.MONITORING, by="alice")
    kit.enter_phase(iid, Phase.RESOLVE, by="alice")
    at(14, 45)
    kit.add_note(iid, "Error rate dropping, now at 2%", by="bob")
    at(14, 50)
    kit.post_update(
        iid,
        PublicStatus.IDENTIFIED,
        "We have identified the root cause as database connection pool exhaustion.",
        by="charlie",
    )
    kit.add_note(iid, "Error rate back to baseline (0.1%)", by="bob")
    for item in (
        "root-cause-identified",
        "symptoms-eliminated",
        "metrics-normal",
        "no-active-alerts",
        "fix-validated",
    ):
        kit.check(iid, "resolution", item, by="alice")
    at(14, 51)
    kit.resolve(iid, by="alice", summary="Connection pool size raised from 10 to 20")
    kit.post_update(iid, PublicStatus.RESOLVED, "Login functionality restored.", by="charlie")
    kit.deliver()

    state = kit.get(iid)
    print(f"incidentkit demo — the guide's login incident ({kit.store.url})\n", file=out)
    print(f"Channel {state.channel}\n", file=out)
    for line in render_chat(kit.timeline(iid), zone=DEMO_ZONE):
        print(line, file=out)
    print("\nFinal state", file=out)
    print(f"  {state.id}  {state.severity}  {state.status}  phase={state.phase}", file=out)
    roles = ", ".join(f"{role}={person}" for role, person in state.roles.items())
    print(f"  roles: {roles}", file=out)
    print(f"  resolution: {state.resolution_summary}", file=out)
    check = kit.verify(iid)
    print(f"  hash chain: {'ok' if check.ok else 'BROKEN'} ({check.events} events)", file=out)

    def since_detected(value: datetime | None) -> timedelta | None:
        return None if value is None else value - state.detected_at

    print("\nDurations (from detection)", file=out)
    print(
        f"  time to acknowledge: {format_duration(since_detected(state.acknowledged_at))}", file=out
    )
    print(f"  time to mitigate:    {format_duration(since_detected(state.mitigated_at))}", file=out)
    print(f"  time to resolve:     {format_duration(since_detected(state.resolved_at))}", file=out)

    print("\nNotifications (delivered through the outbox)", file=out)
    console.drain(out, DEMO_ZONE)

    _escalation_scene(kit, clock, console, out)

    print("\nMetrics of the login incident", file=out)
    report = metrics.compute([kit.summary(iid)])
    print(to_table(report), file=out)
    return kit


def _escalation_scene(
    kit: IncidentKit, clock: ManualClock, console: ConsoleNotifier, out: TextIO
) -> None:
    """A SEV1 that the primary does not acknowledge: the secondary is paged after 5 minutes."""
    print("\nEscalation: a SEV1 at 16:00 that nobody acknowledges", file=out)
    clock.set(datetime(2024, 11, 20, 16, 0, tzinfo=DEMO_ZONE))
    inc = kit.declare(
        "Checkout latency above 5 s",
        severity=Severity.SEV1,
        by="alertmanager",
        source=Source.ALERT,
        services=["checkout"],
        incident_id="INC-43",
    )
    kit.deliver()
    for minutes in (1, 2, 3, 4, 5, 6):
        clock.set(datetime(2024, 11, 20, 16, minutes, tzinfo=DEMO_ZONE))
        kit.tick()
        kit.deliver()
    kit.acknowledge(inc.id, by="bob")
    for line in render_chat(kit.timeline(inc.id), zone=DEMO_ZONE):
        print(line, file=out)
    console.drain(out, DEMO_ZONE)
