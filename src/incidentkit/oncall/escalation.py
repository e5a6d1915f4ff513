"""Escalation policies as data, and the pure timer calculators ``tick()`` calls.

An :class:`EscalationPolicy` is an ordered list of :class:`EscalationStep`
objects. Each step has ``targets`` (a schedule layer, a person or an incident
role), a ``delay`` counted in **elapsed time** since the escalation started,
an ``action`` (page, notify, ticket) and an optional number of repeats
``repeat_interval`` apart.

The calculators are pure functions of (policy, timestamps, what already
fired, now):

* :func:`due_steps` — every step firing (step, repeat) whose fire time has
  come and whose key is not in ``fired_keys``, in fire-time order. A firing
  whose fire time is at or after the acknowledgement never fires. Each has a
  stable key ``escalation:<policy name>:<step index>:<repeat>`` (the policy
  name keeps keys apart when a re-classified incident changes policy); the kit records the keys
  that fired as events, so a firing happens once even when ticks are late or
  several replicas tick at once (the store's version check settles the race).
* :func:`next_due_at` — when the next firing is due (``None``: nothing left).
* :func:`resolve_targets` — the people a step reaches at an instant.
* :func:`due_reminders` / :func:`next_reminder_at` — the update-cadence reminder.

All arithmetic is on aware UTC datetimes, so a 10-minute delay is 10 minutes
of elapsed time even across a daylight saving change.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from incidentkit._time import ensure_aware, to_utc
from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.oncall.schedule import Schedule
from incidentkit.severity import Paging, Severity

__all__ = [
    "Action",
    "DueReminder",
    "DueStep",
    "EscalationPolicies",
    "EscalationPolicy",
    "EscalationStep",
    "Target",
    "TargetKind",
    "due_reminders",
    "due_steps",
    "firings",
    "next_due_at",
    "next_reminder_at",
    "resolve_targets",
]


class Action(enum.StrEnum):
    """What a step does to its targets."""

    PAGE = "page"
    NOTIFY = "notify"
    TICKET = "ticket"


class TargetKind(enum.StrEnum):
    """What a target names."""

    LAYER = "layer"
    PERSON = "person"
    ROLE = "role"


def _refuse(field: str, reason: str) -> PolicyError:
    return PolicyError([(f"$.{field}", reason)])


@attrs.frozen
class Target:
    """Whom a step reaches: a schedule layer's holder, a named person, or an incident role.

    Written in TOML as ``"layer:primary"``, ``"person:alice"`` or
    ``"role:incident_commander"`` (or as a table ``{kind = "layer", name = "primary"}``).
    """

    kind: TargetKind = attrs.field(converter=TargetKind)
    name: str = attrs.field()

    @name.validator
    def _check_name(self, _: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise _refuse("name", "a target needs a non-empty name")

    @classmethod
    def layer(cls, name: str) -> Target:
        """The person holding schedule layer ``name``."""
        return cls(TargetKind.LAYER, name)

    @classmethod
    def person(cls, name: str) -> Target:
        """A named person."""
        return cls(TargetKind.PERSON, name)

    @classmethod
    def role(cls, name: str) -> Target:
        """Whoever holds incident role ``name``."""
        return cls(TargetKind.ROLE, name)

    @classmethod
    def parse(cls, text: str) -> Target:
        """Parse ``"kind:name"``.

        :raises PolicyError: when the kind is unknown or the name is empty.
        """
        kind, sep, name = text.partition(":")
        known = ", ".join(k.value for k in TargetKind)
        if not sep or kind.strip().lower() not in {k.value for k in TargetKind}:
            raise PolicyError(
                [("$", f"not a target: {text!r} (use kind:name, kind one of {known})")]
            )
        return cls(TargetKind(kind.strip().lower()), name.strip())

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"


def _targets(value: Iterable[Target]) -> tuple[Target, ...]:
    return tuple(value)


def _steps(value: Iterable[EscalationStep]) -> tuple[EscalationStep, ...]:
    return tuple(value)


def _severities(value: Iterable[Severity | str]) -> frozenset[Severity]:
    return frozenset(Severity.parse(v) for v in value)


@attrs.frozen
class EscalationStep:
    """One step of an escalation policy.

    :param targets: whom the step reaches.
    :param delay: elapsed time from the start of the escalation to the first firing.
    :param action: page, notify or ticket.
    :param repeat: how many more times the step fires after the first.
    :param repeat_interval: elapsed time between those firings.
    """

    targets: tuple[Target, ...] = attrs.field(converter=_targets)
    delay: timedelta = timedelta(0)
    action: Action = attrs.field(default=Action.PAGE, converter=Action)
    repeat: int = 0
    repeat_interval: timedelta = timedelta(minutes=5)

    def __attrs_post_init__(self) -> None:
        if not self.targets and self.action is not Action.TICKET:
            raise _refuse("targets", "a page or notify step needs at least one target")
        if not isinstance(self.delay, timedelta):
            raise _refuse("delay", "must be a duration")
        if self.delay < timedelta(0):
            raise _refuse("delay", f"must not be negative, got {self.delay.total_seconds():g}s")
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 0:
            raise _refuse("repeat", f"must be a whole number >= 0, got {self.repeat!r}")
        if self.repeat and self.repeat_interval <= timedelta(0):
            raise _refuse("repeat_interval", "must be positive when the step repeats")

    def fire_offsets(self) -> tuple[timedelta, ...]:
        """Elapsed time from the escalation's start to each firing (first, then repeats)."""
        return tuple(self.delay + r * self.repeat_interval for r in range(self.repeat + 1))


@attrs.frozen
class EscalationPolicy:
    """A named, ordered list of steps, used for the listed severities.

    :param name: the policy's name.
    :param steps: the steps (their delays need not be sorted; firings are ordered by time).
    :param severities: the severities this policy applies to.
    :param schedule: the schedule whose layers the targets name (``None``: the
        configuration's first schedule).
    """

    name: str
    steps: tuple[EscalationStep, ...] = attrs.field(converter=_steps)
    severities: frozenset[Severity] = attrs.field(default=frozenset(), converter=_severities)
    schedule: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.name.strip():
            raise _refuse("name", "a policy needs a non-empty name")

    @property
    def paging(self) -> Paging:
        """How the policy reaches people: page at once, notify then page, notify, ticket only."""
        actions = {step.action for step in self.steps}
        if Action.PAGE in actions:
            first = min(step.delay for step in self.steps)
            immediate = any(s.delay == first and s.action is Action.PAGE for s in self.steps)
            return Paging.PAGE if immediate else Paging.NOTIFY_THEN_PAGE
        return Paging.NOTIFY if Action.NOTIFY in actions else Paging.TICKET

    @property
    def escalate_after(self) -> timedelta | None:
        """The delay of the first step after the first firing (``None``: it never escalates)."""
        delays = sorted({step.delay for step in self.steps})
        return delays[1] if len(delays) > 1 else None


def _default_policies() -> tuple[EscalationPolicy, ...]:
    primary = (Target.layer("primary"),)
    secondary = (Target.layer("secondary"),)
    return (
        EscalationPolicy(
            "sev1",
            (
                EscalationStep(primary, timedelta(0), Action.PAGE),
                EscalationStep(secondary, timedelta(minutes=5), Action.PAGE),
            ),
            frozenset({Severity.SEV1}),
        ),
        EscalationPolicy(
            "sev2",
            (
                EscalationStep(primary, timedelta(0), Action.NOTIFY),
                EscalationStep(primary, timedelta(minutes=15), Action.PAGE),
            ),
            frozenset({Severity.SEV2}),
        ),
        EscalationPolicy(
            "sev3",
            (EscalationStep(primary, timedelta(0), Action.NOTIFY),),
            frozenset({Severity.SEV3}),
        ),
        EscalationPolicy(
            "sev4",
            (EscalationStep((), timedelta(0), Action.TICKET),),
            frozenset({Severity.SEV4}),
        ),
    )


def _policies(value: Iterable[EscalationPolicy]) -> tuple[EscalationPolicy, ...]:
    return tuple(value)


@attrs.frozen
class EscalationPolicies:
    """The escalation policies, each applying to one or more severities.

    A severity may be claimed by at most one policy; a severity no policy
    claims does not escalate.
    """

    policies: tuple[EscalationPolicy, ...] = attrs.field(converter=_policies)

    def __attrs_post_init__(self) -> None:
        owner: dict[Severity, int] = {}
        names: dict[str, int] = {}
        for i, policy in enumerate(self.policies):
            if policy.name in names:
                raise _refuse(
                    f"policies[{i}].name",
                    f"duplicate policy name {policy.name!r} (also policies[{names[policy.name]}])",
                )
            names[policy.name] = i
            for severity in sorted(policy.severities, key=lambda s: s.rank):
                if severity in owner:
                    raise _refuse(
                        f"policies[{i}].severities",
                        f"{severity} is already covered by policies[{owner[severity]}]",
                    )
                owner[severity] = i

    @classmethod
    def default(cls) -> EscalationPolicies:
        """The guide's policies.

        SEV1: page primary at once, page secondary after 5 minutes without
        acknowledgement. SEV2: notify primary at once, page primary after 15
        minutes without response. SEV3: notify primary only. SEV4: create a ticket.
        """
        return cls(_default_policies())

    def for_severity(self, severity: Severity) -> EscalationPolicy | None:
        """The policy for ``severity``, or ``None`` when it does not escalate."""
        for policy in self.policies:
            if severity in policy.severities:
                return policy
        return None

    def get(self, name: str) -> EscalationPolicy:
        """The policy called ``name``.

        :raises NotFound: when there is none.
        """
        for policy in self.policies:
            if policy.name == name:
                return policy
        raise NotFound("escalation policy", name, [p.name for p in self.policies])


@attrs.frozen
class DueStep:
    """One firing of a step that is due now."""

    key: str
    step_index: int
    repeat: int
    fire_at: datetime
    action: Action
    step: EscalationStep


def _firings(policy: EscalationPolicy, started_at: datetime) -> list[DueStep]:
    firings = [
        DueStep(
            key=f"escalation:{policy.name}:{i}:{r}",
            step_index=i,
            repeat=r,
            fire_at=started_at + offset,
            action=step.action,
            step=step,
        )
        for i, step in enumerate(policy.steps)
        for r, offset in enumerate(step.fire_offsets())
    ]
    firings.sort(key=lambda d: (d.fire_at, d.step_index, d.repeat))
    return firings


def firings(policy: EscalationPolicy, started_at: datetime) -> tuple[DueStep, ...]:
    """Every firing of ``policy`` for an escalation started at ``started_at``, in fire order."""
    return tuple(_firings(policy, ensure_aware(started_at, "started_at")))


def _eligible(
    policy: EscalationPolicy,
    started_at: datetime,
    acknowledged_at: datetime | None,
    fired_keys: Iterable[str],
) -> list[DueStep]:
    started = ensure_aware(started_at, "started_at")
    acked = to_utc(acknowledged_at, "acknowledged_at")
    fired = frozenset(fired_keys)
    return [
        firing
        for firing in _firings(policy, started)
        if firing.key not in fired and (acked is None or firing.fire_at < acked)
    ]


def due_steps(
    policy: EscalationPolicy,
    started_at: datetime,
    acknowledged_at: datetime | None,
    fired_keys: frozenset[str],
    now: datetime,
) -> tuple[DueStep, ...]:
    """Every firing due by ``now`` that has not fired, in fire-time order.

    A firing is due when ``fire_at <= now``; it never fires when the
    escalation was acknowledged at or before its ``fire_at``. A tick that
    comes late (after an hour without one) returns each missed firing once,
    in order; recording their keys in ``fired_keys`` stops them firing again.

    :raises ValidationError: for naive datetimes, naming the argument.
    """
    now = ensure_aware(now, "now")
    started = ensure_aware(started_at, "started_at")
    acked = to_utc(acknowledged_at, "acknowledged_at")
    found = []
    for offset, firing in _plan(policy):  # _firings' order: stop at the first not yet due
        fire_at = started + offset
        if fire_at > now or (acked is not None and fire_at >= acked):
            break
        if firing.key not in fired_keys:
            found.append(attrs.evolve(firing, fire_at=fire_at))
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _plan(policy: EscalationPolicy) -> tuple[tuple[timedelta, DueStep], ...]:
    """The policy's firings relative to the start, ``(offset, firing at the epoch)``, in
    fire order (built once per policy: a tick or a declaration asks for them every time)."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return tuple((f.fire_at - start, f) for f in _firings(policy, start))


def next_due_at(
    policy: EscalationPolicy,
    started_at: datetime,
    acknowledged_at: datetime | None,
    fired_keys: frozenset[str],
) -> datetime | None:
    """The fire time of the earliest firing that has not fired and still can (``None``: none)."""
    started = ensure_aware(started_at, "started_at")
    acked = to_utc(acknowledged_at, "acknowledged_at")
    for offset, firing in _plan(policy):  # _firings' order, without building each
        if firing.key in fired_keys:
            continue
        fire_at = started + offset
        if acked is None or fire_at < acked:
            return fire_at
        return None  # every later firing is at or after the acknowledgement too
    return None


def resolve_targets(
    step: EscalationStep,
    schedule: Schedule | None,
    at: datetime,
    roles: Mapping[str, str],
) -> tuple[str, ...]:
    """The people ``step`` reaches at ``at``, in target order, without duplicates.

    A layer target resolves to the person holding that layer at ``at``
    (overrides included); a layer nobody holds, or a role nobody holds,
    resolves to nobody (the caller decides whether an empty page is an
    error). ``roles`` maps role name to person.

    :raises NotFound: when a layer target names a layer the schedule lacks.
    :raises ValidationError: when a layer target needs a schedule and none is given.
    """
    at = ensure_aware(at, "at")
    people: list[str] = []
    on_call = None
    for target in step.targets:
        person: str | None
        if target.kind is TargetKind.PERSON:
            person = target.name
        elif target.kind is TargetKind.ROLE:
            person = roles.get(target.name)
        else:
            if schedule is None:
                raise ValidationError("schedule", f"target {target} needs a schedule")
            schedule.layer(target.name)
            if on_call is None:
                on_call = schedule.on_call(at)
            person = on_call.person(target.name)
        if person is not None and person not in people:
            people.append(person)
    return tuple(people)


@attrs.frozen
class DueReminder:
    """An update reminder that is due.

    ``window`` counts cadences since the last update (1: the first overdue
    window); ``missed`` is how many windows had passed without a reminder
    (more than 1 after ticks were missed; they collapse into this one).
    """

    key: str
    window: int
    fire_at: datetime
    overdue_by: timedelta
    missed: int


def _reminder_prefix(basis: datetime) -> str:
    return f"reminder:{basis.isoformat()}:"


def _last_window(basis: datetime, fired_keys: Iterable[str]) -> int:
    prefix = _reminder_prefix(basis)
    last = 0
    for key in fired_keys:
        if key.startswith(prefix):
            tail = key[len(prefix) :]
            if tail.isdigit():
                last = max(last, int(tail))
    return last


def _basis(
    cadence: timedelta | None, last_update_at: datetime | None, declared_at: datetime
) -> tuple[timedelta, datetime] | None:
    if cadence is None:
        return None
    if not isinstance(cadence, timedelta) or cadence <= timedelta(0):
        raise ValidationError("cadence", f"must be a positive duration, got {cadence!r}")
    declared = ensure_aware(declared_at, "declared_at")
    last = to_utc(last_update_at, "last_update_at")
    return cadence, (declared if last is None else max(last, declared))


def due_reminders(
    cadence: timedelta | None,
    last_update_at: datetime | None,
    declared_at: datetime,
    fired_keys: frozenset[str],
    now: datetime,
) -> tuple[DueReminder, ...]:
    """The update reminder due at ``now``, if any (a tuple of zero or one).

    The rule: an update is due ``cadence`` after the last update (or the
    declaration). Window ``w`` (``w >= 1``) opens at ``basis + w * cadence``;
    its key is ``reminder:<basis ISO>:<w>``. At ``now`` only the newest open
    window can fire, and only when no later-or-equal window of the same basis
    has fired: missed windows collapse into one reminder (no burst after a
    long gap between ticks). A new update changes the basis, which starts a
    fresh series of keys. ``cadence=None`` never reminds.

    :raises ValidationError: for naive datetimes or a non-positive cadence.
    """
    now = ensure_aware(now, "now")
    found = _basis(cadence, last_update_at, declared_at)
    if found is None:
        return ()
    step, basis = found
    window = (now - basis) // step
    last = _last_window(basis, fired_keys)
    if window < 1 or window <= last:
        return ()
    fire_at = basis + window * step
    return (
        DueReminder(
            key=f"{_reminder_prefix(basis)}{window}",
            window=window,
            fire_at=fire_at,
            overdue_by=now - (basis + step),
            missed=window - last,
        ),
    )


def next_reminder_at(
    cadence: timedelta | None,
    last_update_at: datetime | None,
    declared_at: datetime,
    fired_keys: frozenset[str],
) -> datetime | None:
    """When the next reminder window opens after the last one that fired (``None``: no cadence)."""
    found = _basis(cadence, last_update_at, declared_at)
    if found is None:
        return None
    step, basis = found
    return basis + (_last_window(basis, fired_keys) + 1) * step
