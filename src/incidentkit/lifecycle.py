"""Incident statuses (a validated transition table) and the response phases.

The status table is immutable data, checked once at import: exactly one
initial state, every state reaches a terminal one, and no state other than a
terminal one is a trap.

========== ===============================================================
status     may move to
========== ===============================================================
declared   investigating, identified, monitoring, resolved
investig.  identified, monitoring, resolved
identified investigating, monitoring, resolved
monitoring investigating, identified, resolved
resolved   closed, investigating (reopen)
closed     (terminal)
========== ===============================================================

Response phases follow the guide: assess (first 5 minutes), mitigate (first
15 minutes), investigate (ongoing), resolve (goal: 30 minutes), each target
measured from the declaration.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import attrs

from incidentkit.errors import PolicyError, ValidationError

__all__ = [
    "DEFAULT_PHASE_TARGETS",
    "INITIAL_STATUS",
    "TRANSITIONS",
    "Phase",
    "PhaseOverrun",
    "PhaseTargets",
    "Status",
    "allowed_transitions",
    "can_transition",
    "overrun_phases",
    "validate_transitions",
]


class Status(enum.StrEnum):
    """Where an incident stands in its lifecycle."""

    DECLARED = "declared"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """True until the incident is resolved or closed."""
        return self is not Status.RESOLVED and self is not Status.CLOSED


class Phase(enum.StrEnum):
    """The guide's response phases, in order."""

    ASSESS = "assess"
    MITIGATE = "mitigate"
    INVESTIGATE = "investigate"
    RESOLVE = "resolve"

    @property
    def order(self) -> int:
        """0 for assess … 3 for resolve."""
        return _PHASE_ORDER[self]


_PHASE_ORDER = {phase: index for index, phase in enumerate(Phase)}

INITIAL_STATUS = Status.DECLARED

TRANSITIONS: Mapping[Status, frozenset[Status]] = MappingProxyType(
    {
        Status.DECLARED: frozenset(
            {Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED}
        ),
        Status.INVESTIGATING: frozenset({Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED}),
        Status.IDENTIFIED: frozenset({Status.INVESTIGATING, Status.MONITORING, Status.RESOLVED}),
        Status.MONITORING: frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED}),
        Status.RESOLVED: frozenset({Status.CLOSED, Status.INVESTIGATING}),
        Status.CLOSED: frozenset(),
    }
)


def validate_transitions(
    table: Mapping[Status, Iterable[Status]], initial: Status, terminal: Iterable[Status]
) -> None:
    """Check a transition table; raise :class:`PolicyError` listing every problem.

    The table must name every state, start from a state nothing else needs,
    let every state reach a terminal state, and let only terminal states have
    no way out.
    """
    terminals = frozenset(terminal)
    problems: list[tuple[str, str]] = []
    states = set(table)
    for source, targets in table.items():
        for target in targets:
            if target not in states:
                problems.append((f"transitions.{source}", f"unknown target state {target!r}"))
    if initial not in states:
        problems.append(("initial", f"{initial!r} is not in the table"))
    reachable = {initial}
    frontier = [initial]
    while frontier:
        state = frontier.pop()
        for target in table.get(state, ()):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    order = {state: index for index, state in enumerate(table)}
    for state in sorted(states - reachable, key=order.__getitem__):
        problems.append((f"transitions.{state}", "unreachable from the initial state"))
    for state in table:
        if not set(table[state]) and state not in terminals:
            problems.append((f"transitions.{state}", "a trap: no way out and not terminal"))
        seen = {state}
        frontier = [state]
        while frontier:
            current = frontier.pop()
            for target in table.get(current, ()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        if not seen & terminals:
            problems.append((f"transitions.{state}", "cannot reach a terminal state"))
    if problems:
        raise PolicyError(problems, source="lifecycle")


validate_transitions(TRANSITIONS, INITIAL_STATUS, {Status.CLOSED})


def can_transition(current: Status, target: Status) -> bool:
    """True when the table allows ``current`` → ``target``."""
    return target in TRANSITIONS[current]


def allowed_transitions(current: Status) -> tuple[Status, ...]:
    """The states ``current`` may move to, in declaration order."""
    return tuple(s for s in Status if s in TRANSITIONS[current])


DEFAULT_PHASE_TARGETS: Mapping[Phase, timedelta | None] = MappingProxyType(
    {
        Phase.ASSESS: timedelta(minutes=5),
        Phase.MITIGATE: timedelta(minutes=15),
        Phase.INVESTIGATE: None,
        Phase.RESOLVE: timedelta(minutes=30),
    }
)


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, timedelta) and value < timedelta(0):
        raise ValidationError(attribute.name, "must not be negative")


@attrs.frozen
class PhaseTargets:
    """How long after declaration each response phase should be done (``None``: no target).

    The policy's ``[phases]`` table holds the targets of the severities whose
    level sets none; a level's own ``phases`` replaces them for that severity
    (see :meth:`incidentkit.policy.Policy.phase_targets`).
    """

    assess: timedelta | None = attrs.field(
        default=DEFAULT_PHASE_TARGETS[Phase.ASSESS], validator=_non_negative
    )
    mitigate: timedelta | None = attrs.field(
        default=DEFAULT_PHASE_TARGETS[Phase.MITIGATE], validator=_non_negative
    )
    investigate: timedelta | None = attrs.field(
        default=DEFAULT_PHASE_TARGETS[Phase.INVESTIGATE], validator=_non_negative
    )
    resolve: timedelta | None = attrs.field(
        default=DEFAULT_PHASE_TARGETS[Phase.RESOLVE], validator=_non_negative
    )

    @classmethod
    def none(cls) -> PhaseTargets:
        """No phase targets at all."""
        return cls(None, None, None, None)

    def as_mapping(self) -> dict[Phase, timedelta | None]:
        """Phase → target."""
        return {phase: getattr(self, phase.value) for phase in Phase}


@attrs.frozen
class PhaseOverrun:
    """A phase whose target passed before the phase was done.

    ``completed_at`` is ``None`` while the phase is still not done.
    """

    phase: Phase
    deadline: datetime
    completed_at: datetime | None
    overrun_by: timedelta


def overrun_phases(
    declared_at: datetime,
    completions: Mapping[Phase, datetime | None],
    now: datetime,
    targets: Mapping[Phase, timedelta | None] = DEFAULT_PHASE_TARGETS,
) -> tuple[PhaseOverrun, ...]:
    """Which phase targets are overrun at ``now``.

    ``completions`` maps each phase to the instant it was done (``None``: not
    yet). A phase is overrun when its deadline (declared_at + target) has
    passed and it was not done by then; ``overrun_by`` runs to ``now`` while
    the phase is open, to its completion otherwise.
    """
    found: list[PhaseOverrun] = []
    for phase in Phase:
        target = targets.get(phase)
        if target is None:
            continue
        deadline = declared_at + target
        done = completions.get(phase)
        if done is not None and done <= deadline:
            continue
        end = done if done is not None else now
        if end > deadline:
            found.append(PhaseOverrun(phase, deadline, done, end - deadline))
    return tuple(found)
