"""The status transition table, its validator, and phase overruns."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidentkit.errors import PolicyError
from incidentkit.lifecycle import (
    DEFAULT_PHASE_TARGETS,
    INITIAL_STATUS,
    TRANSITIONS,
    Phase,
    PhaseOverrun,
    Status,
    allowed_transitions,
    can_transition,
    overrun_phases,
    validate_transitions,
)

from ._helpers import T0

DEC, INV, IDE, MON, RES, CLO = (
    Status.DECLARED,
    Status.INVESTIGATING,
    Status.IDENTIFIED,
    Status.MONITORING,
    Status.RESOLVED,
    Status.CLOSED,
)


def _reach(start: Status) -> set[Status]:
    seen, frontier = {start}, [start]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_the_table_names_every_status() -> None:
    assert set(TRANSITIONS) == set(Status)


def test_exactly_one_initial_state() -> None:
    targets = {t for ts in TRANSITIONS.values() for t in ts}
    never_entered = [s for s in Status if s not in targets]
    assert never_entered == [INITIAL_STATUS] == [Status.DECLARED]


def test_no_trap_states_and_only_closed_is_terminal() -> None:
    assert [s for s, ts in TRANSITIONS.items() if not ts] == [CLO]


@pytest.mark.parametrize("state", list(Status))
def test_every_state_reaches_closed(state: Status) -> None:
    assert CLO in _reach(state)


def test_every_state_is_reachable_from_the_initial_one() -> None:
    assert _reach(INITIAL_STATUS) == set(Status)


def test_allowed_transitions_follow_the_table_in_declaration_order() -> None:
    assert allowed_transitions(DEC) == (INV, IDE, MON, RES)
    assert allowed_transitions(RES) == (INV, CLO)
    assert allowed_transitions(CLO) == ()
    assert can_transition(RES, INV)
    assert not can_transition(CLO, INV)
    assert not can_transition(INV, DEC)


def test_is_open() -> None:
    assert [s for s in Status if s.is_open] == [DEC, INV, IDE, MON]


def test_phase_order() -> None:
    assert [p.order for p in Phase] == [0, 1, 2, 3]
    assert list(Phase) == [Phase.ASSESS, Phase.MITIGATE, Phase.INVESTIGATE, Phase.RESOLVE]


def _paths(err: pytest.ExceptionInfo[PolicyError]) -> dict[str, str]:
    return dict(err.value.problems)


def test_validate_accepts_the_shipped_table() -> None:
    validate_transitions(TRANSITIONS, INITIAL_STATUS, {CLO})


def test_validate_refuses_a_trap_state() -> None:
    table = {**TRANSITIONS, MON: frozenset()}
    with pytest.raises(PolicyError) as err:
        validate_transitions(table, INITIAL_STATUS, {CLO})
    assert ("transitions.monitoring", "a trap: no way out and not terminal") in err.value.problems
    assert "monitoring" in str(err.value)


def test_validate_refuses_an_unreachable_state() -> None:
    # Nothing leads to identified any more.
    table = {s: frozenset(t for t in targets if t is not IDE) for s, targets in TRANSITIONS.items()}
    with pytest.raises(PolicyError) as err:
        validate_transitions(table, INITIAL_STATUS, {CLO})
    assert _paths(err)["transitions.identified"] == "unreachable from the initial state"


def test_validate_refuses_an_unknown_target() -> None:
    table = {s: ts for s, ts in TRANSITIONS.items() if s is not MON}
    with pytest.raises(PolicyError) as err:
        validate_transitions(table, INITIAL_STATUS, {CLO})
    problems = err.value.problems
    unknown = [reason for _, reason in problems if "unknown target state" in reason]
    assert unknown and all("monitoring" in reason for reason in unknown)
    assert {path for path, _ in problems} >= {"transitions.declared", "transitions.investigating"}


def test_validate_refuses_a_cycle_that_cannot_end() -> None:
    table = {DEC: frozenset({INV}), INV: frozenset({DEC}), CLO: frozenset()}
    with pytest.raises(PolicyError) as err:
        validate_transitions(table, DEC, {CLO})
    paths = _paths(err)
    assert paths["transitions.closed"] == "unreachable from the initial state"
    assert err.value.problems.count(("transitions.declared", "cannot reach a terminal state")) == 1


def test_validate_refuses_a_missing_initial_state() -> None:
    table = {s: ts for s, ts in TRANSITIONS.items() if s is not DEC}
    with pytest.raises(PolicyError) as err:
        validate_transitions(table, DEC, {CLO})
    assert "initial" in _paths(err)


# --- phase overruns -----------------------------------------------------------


def m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def test_nothing_overrun_before_the_first_deadline() -> None:
    assert overrun_phases(T0, {}, T0 + m(5)) == ()


def test_open_phases_overrun_until_now() -> None:
    found = overrun_phases(T0, {}, T0 + m(20))
    assert found == (
        PhaseOverrun(Phase.ASSESS, T0 + m(5), None, m(15)),
        PhaseOverrun(Phase.MITIGATE, T0 + m(15), None, m(5)),
    )


def test_phases_done_in_time_are_not_overrun() -> None:
    done = {Phase.ASSESS: T0 + m(4), Phase.MITIGATE: T0 + m(15), Phase.RESOLVE: T0 + m(29)}
    assert overrun_phases(T0, done, T0 + m(90)) == ()


def test_a_late_completion_is_overrun_by_the_lateness_only() -> None:
    done = {Phase.ASSESS: T0 + m(7), Phase.MITIGATE: T0 + m(12)}
    found = overrun_phases(T0, done, T0 + m(45))
    assert found == (
        PhaseOverrun(Phase.ASSESS, T0 + m(5), T0 + m(7), m(2)),
        PhaseOverrun(Phase.RESOLVE, T0 + m(30), None, m(15)),
    )


def test_investigate_has_no_target_and_custom_targets_apply() -> None:
    assert DEFAULT_PHASE_TARGETS[Phase.INVESTIGATE] is None
    targets = {Phase.ASSESS: None, Phase.MITIGATE: m(10), Phase.INVESTIGATE: m(20)}
    found = overrun_phases(T0, {Phase.MITIGATE: T0 + m(11)}, T0 + m(25), targets)
    assert found == (
        PhaseOverrun(Phase.MITIGATE, T0 + m(10), T0 + m(11), m(1)),
        PhaseOverrun(Phase.INVESTIGATE, T0 + m(20), None, m(5)),
    )
