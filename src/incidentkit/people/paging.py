"""Who is paged when, by which channel: the pure calculator behind pages and dry runs.

:func:`plan_pages` expands the severity's escalation policy (every step,
repeat and loop) into the contacts it makes if nobody acknowledges: each
person a step reaches, resolved at the step's fire time (overrides and DST
included), contacted through their notification rules. The people
capability's timer records exactly these pages (those due before the
acknowledgement), and :func:`who_would_be_paged` returns them without
recording anything, so a dry run and a real unacknowledged incident agree
minute by minute.

A step that reaches nobody (a schedule gap, a vacant role) yields a
:class:`UncoveredStep` and pages the configured fallback instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import NotFound, ValidationError
from incidentkit.notify import Urgency
from incidentkit.oncall.escalation import Action, EscalationPolicy, TargetKind, firings
from incidentkit.oncall.schedule import Schedule
from incidentkit.people.config import PeopleConfig
from incidentkit.policy import Policy
from incidentkit.severity import Severity

__all__ = ["Gap", "PlannedPage", "UncoveredStep", "find_gaps", "plan_pages", "who_would_be_paged"]


@attrs.frozen
class PlannedPage:
    """One contact of one person: at ``at``, by ``channel`` at ``address``.

    ``reason`` says why (step, schedule layer, fallback); ``channel`` is
    ``None`` for someone the directory does not list (every notifier).
    """

    key: str
    at: datetime
    person: str
    channel: str | None
    address: str | None
    notifier: str | None
    urgency: Urgency
    step: int
    repeat: int
    loop: int
    target: str
    layer: str | None
    schedule: str | None
    reason: str
    fallback: bool = False


@attrs.frozen
class UncoveredStep:
    """A step that reached nobody at ``at``: ``target`` is empty, ``fallback`` is paged."""

    key: str
    at: datetime
    step: int
    repeat: int
    loop: int
    target: str
    schedule: str | None
    fallback: tuple[str, ...]


@attrs.frozen
class Plan:
    """Everything an unacknowledged escalation does, in time order."""

    pages: tuple[PlannedPage, ...]
    gaps: tuple[UncoveredStep, ...]


def schedule_for(
    policy: Policy, escalation: EscalationPolicy, services: Sequence[str]
) -> Schedule | None:
    """The schedule whose layers ``escalation`` names for an incident on ``services``."""
    for service in services:
        name = policy.people.service_schedules.get(service)
        if name is not None:
            return policy.oncall.schedule(name)
    return policy.oncall.schedule_for(escalation)


def _cycle(escalation: EscalationPolicy, people: PeopleConfig) -> timedelta:
    last = max((o for s in escalation.steps for o in s.fire_offsets()), default=timedelta(0))
    return last + people.loop_after


def _resolve(
    kind: TargetKind,
    name: str,
    schedule: Schedule | None,
    at: datetime,
    roles: Mapping[str, str],
    people: PeopleConfig,
) -> tuple[tuple[str, str | None], ...]:
    """(person, layer) pairs a target reaches at ``at``."""
    if kind is TargetKind.PERSON:
        return ((name, None),)
    if kind is TargetKind.ROLE:
        holder = roles.get(name)
        if holder is not None:
            return ((holder, None),)
        return tuple((p, None) for p in people.with_role(name))
    if schedule is None:
        return ()
    try:
        schedule.layer(name)
    except NotFound:
        return ()
    person = schedule.on_call(at).person(name)
    return () if person is None else ((person, name),)


@attrs.frozen
class _Reach:
    person: str
    target: str
    layer: str | None
    reason: str
    fallback: bool


def _contacts(
    people: PeopleConfig,
    reach: _Reach,
    base_key: str,
    fired_at: datetime,
    urgency: Urgency,
    step: int,
    repeat: int,
    loop: int,
    schedule: str | None,
) -> list[PlannedPage]:
    person = people.find(reach.person)
    pages: list[PlannedPage] = []
    rules = person.effective_rules(urgency) if person is not None else ()
    if not rules:
        return [
            PlannedPage(
                f"{base_key}:{reach.person}:0",
                fired_at,
                reach.person,
                None,
                None,
                None,
                urgency,
                step,
                repeat,
                loop,
                reach.target,
                reach.layer,
                schedule,
                reach.reason,
                reach.fallback,
            )
        ]
    for index, (rule, method) in enumerate(rules):
        at = fired_at + rule.delay
        if urgency is Urgency.LOW and person is not None:
            at = person.quiet_until(at)
        pages.append(
            PlannedPage(
                f"{base_key}:{reach.person}:{index}",
                at,
                reach.person,
                method.kind.value,
                method.address,
                method.notifier,
                urgency,
                step,
                repeat,
                loop,
                reach.target,
                reach.layer,
                schedule,
                f"{reach.reason} — {method.kind.value} after {_minutes(rule.delay)}",
                reach.fallback,
            )
        )
    return pages


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def plan_pages(
    policy: Policy,
    severity: Severity,
    started_at: datetime,
    *,
    services: Sequence[str] = (),
    roles: Mapping[str, str] | None = None,
) -> Plan:
    """Every page an escalation started at ``started_at`` makes if nobody acknowledges.

    Keys are stable (``page:<policy>:<loop>:<step>:<repeat>:<person>:<rule>``),
    so the capability's timer records each once.
    """
    started = ensure_aware(started_at, "started_at")
    escalation = policy.oncall.escalation.for_severity(severity)
    if escalation is None:
        return Plan((), ())
    people = policy.people
    schedule = schedule_for(policy, escalation, services)
    schedule_name = None if schedule is None else schedule.name
    roles = roles or {}
    cycle = _cycle(escalation, people)
    pages: list[PlannedPage] = []
    gaps: list[UncoveredStep] = []
    for loop in range(people.num_loops):
        for firing in firings(escalation, started + loop * cycle):
            if firing.action is Action.TICKET:
                continue
            urgency = Urgency.HIGH if firing.action is Action.PAGE else Urgency.LOW
            step_no = firing.step_index + 1
            reached: list[_Reach] = []
            for target in firing.step.targets:
                label = str(target)
                found = _resolve(target.kind, target.name, schedule, firing.fire_at, roles, people)
                if not found:
                    where = f"{loop}:{firing.step_index}:{firing.repeat}:{label}"
                    gap_key = f"nobody:{escalation.name}:{where}"
                    gaps.append(
                        UncoveredStep(
                            gap_key,
                            firing.fire_at,
                            firing.step_index,
                            firing.repeat,
                            loop,
                            label,
                            schedule_name,
                            people.fallback,
                        )
                    )
                    reason = f"step {step_no}: nobody on call for {label}; fallback"
                    reached.extend(_Reach(p, label, None, reason, True) for p in people.fallback)
                    continue
                for person, layer in found:
                    where = f"{label} of {schedule_name}" if layer else label
                    reason = f"step {step_no} of {escalation.name}: {where}"
                    if firing.repeat:
                        reason += f" (repeat {firing.repeat})"
                    if loop:
                        reason += f" (loop {loop + 1})"
                    reached.append(_Reach(person, label, layer, reason, False))
            seen: set[str] = set()
            base = f"page:{escalation.name}:{loop}:{firing.step_index}:{firing.repeat}"
            for reach in reached:
                if reach.person in seen:
                    continue
                seen.add(reach.person)
                pages.extend(
                    _contacts(
                        people,
                        reach,
                        base,
                        firing.fire_at,
                        urgency,
                        firing.step_index,
                        firing.repeat,
                        loop,
                        schedule_name,
                    )
                )
    if people.final_fallback and people.fallback:
        at = started + people.num_loops * cycle
        reason = f"final fallback after {people.num_loops} loop(s) of {escalation.name}"
        for person in dict.fromkeys(people.fallback):
            pages.extend(
                _contacts(
                    people,
                    _Reach(person, "fallback", None, reason, True),
                    f"page:{escalation.name}:final",
                    at,
                    Urgency.HIGH,
                    -1,
                    0,
                    people.num_loops,
                    schedule_name,
                )
            )
    pages.sort(key=lambda p: (p.at, p.step, p.key))
    gaps.sort(key=lambda g: (g.at, g.key))
    return Plan(tuple(pages), tuple(gaps))


def who_would_be_paged(
    policy: Policy,
    severity: Severity | str,
    at: datetime,
    *,
    service: str | None = None,
) -> tuple[PlannedPage, ...]:
    """The pages a ``severity`` incident declared at ``at`` makes if nobody acknowledges.

    Records nothing. ``service`` picks the schedule through
    ``[people] service_schedules``.

    :raises ValidationError: for a naive ``at`` or an unknown severity.
    """
    try:
        level = Severity.parse(severity)
    except ValueError as err:
        raise ValidationError("severity", str(err)) from err
    at = ensure_aware(at, "at")
    services = (service,) if service else ()
    return plan_pages(policy, level, at, services=services).pages


@attrs.frozen
class Gap:
    """An interval in which a schedule layer that escalation names has nobody on call."""

    schedule: str
    layer: str
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        """Elapsed length of the gap."""
        return self.end - self.start


def find_gaps(policy: Policy, start: datetime, end: datetime | None = None) -> tuple[Gap, ...]:
    """Every interval of ``[start, end)`` (default 90 days) where a named layer is empty.

    The layers checked are those the escalation policies' layer targets name,
    in each policy's schedule (and those of ``[people] service_schedules``).
    """
    start = ensure_aware(start, "start")
    end = ensure_aware(end, "end") if end is not None else start + timedelta(days=90)
    if end <= start:
        raise ValidationError("end", "must be after start")
    wanted: dict[str, set[str]] = {}
    schedules: dict[str, Schedule] = {}
    for escalation in policy.oncall.escalation.policies:
        layers = {t.name for s in escalation.steps for t in s.targets if t.kind is TargetKind.LAYER}
        if not layers:
            continue
        candidates: list[Schedule] = []
        own = policy.oncall.schedule_for(escalation)
        if own is not None:
            candidates.append(own)
        for name in policy.people.service_schedules.values():
            candidates.append(policy.oncall.schedule(name))
        for schedule in candidates:
            schedules[schedule.name] = schedule
            wanted.setdefault(schedule.name, set()).update(
                layer for layer in layers if layer in schedule.layer_names
            )
    found: list[Gap] = []
    for name, layers in wanted.items():
        schedule = schedules[name]
        for layer in schedule.layer_names:
            if layer not in layers:
                continue
            t = start
            for shift in schedule.shifts(start, end, layer=layer):
                s = max(shift.start, start)
                if s > t:
                    found.append(Gap(name, layer, t, s))
                t = max(t, shift.end)
            if t < end:
                found.append(Gap(name, layer, t, end))
    found.sort(key=lambda g: (g.start, g.schedule, g.layer))
    return tuple(found)
