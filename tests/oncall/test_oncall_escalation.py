"""Escalation policies, due steps, targets, and update reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.oncall import (
    Action,
    EscalationPolicies,
    EscalationPolicy,
    EscalationStep,
    Layer,
    Override,
    Rotation,
    Schedule,
    Target,
    due_reminders,
    due_steps,
    next_due_at,
    next_reminder_at,
    resolve_targets,
)
from incidentkit.severity import Severity

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
M = timedelta(minutes=1)


def test_default_policies_follow_the_guide() -> None:
    policies = EscalationPolicies.default()
    sev1 = policies.for_severity(Severity.SEV1)
    assert sev1 is not None
    assert [(s.action, s.delay, s.targets) for s in sev1.steps] == [
        (Action.PAGE, timedelta(0), (Target.layer("primary"),)),
        (Action.PAGE, 5 * M, (Target.layer("secondary"),)),
    ]
    sev2 = policies.for_severity(Severity.SEV2)
    assert sev2 is not None
    assert [(s.action, s.delay) for s in sev2.steps] == [
        (Action.NOTIFY, timedelta(0)),
        (Action.PAGE, 15 * M),
    ]
    sev3 = policies.for_severity(Severity.SEV3)
    assert sev3 is not None and [s.action for s in sev3.steps] == [Action.NOTIFY]
    sev4 = policies.for_severity(Severity.SEV4)
    assert sev4 is not None and [s.action for s in sev4.steps] == [Action.TICKET]
    with pytest.raises(NotFound):
        policies.get("sev9")


def sev1() -> EscalationPolicy:
    policy = EscalationPolicies.default().for_severity(Severity.SEV1)
    assert policy is not None
    return policy


def test_due_steps_fire_in_order_once_after_a_gap_without_tick() -> None:
    policy = EscalationPolicy(
        "p",
        (
            EscalationStep(
                (Target.layer("primary"),),
                timedelta(0),
                Action.PAGE,
                repeat=2,
                repeat_interval=10 * M,
            ),
            EscalationStep((Target.layer("secondary"),), 5 * M, Action.PAGE),
        ),
    )
    due = due_steps(policy, T0, None, frozenset(), T0 + 60 * M)
    assert [(d.key, d.fire_at - T0) for d in due] == [
        ("escalation:p:0:0", timedelta(0)),
        ("escalation:p:1:0", 5 * M),
        ("escalation:p:0:1", 10 * M),
        ("escalation:p:0:2", 20 * M),
    ]
    fired = frozenset(d.key for d in due)
    assert due_steps(policy, T0, None, fired, T0 + 90 * M) == ()
    assert next_due_at(policy, T0, None, fired) is None


def test_due_steps_as_time_passes() -> None:
    policy = sev1()
    first = due_steps(policy, T0, None, frozenset(), T0)
    assert [d.key for d in first] == ["escalation:sev1:0:0"]
    assert next_due_at(policy, T0, None, frozenset({"escalation:sev1:0:0"})) == T0 + 5 * M
    assert (
        due_steps(
            policy, T0, None, frozenset({"escalation:sev1:0:0"}), T0 + 5 * M - timedelta(seconds=1)
        )
        == ()
    )
    later = due_steps(policy, T0, None, frozenset({"escalation:sev1:0:0"}), T0 + 5 * M)
    assert [(d.key, d.action) for d in later] == [("escalation:sev1:1:0", Action.PAGE)]


def test_nothing_fires_at_or_after_acknowledgement() -> None:
    policy = sev1()
    fired = frozenset({"escalation:sev1:0:0"})
    acked = T0 + 3 * M
    assert due_steps(policy, T0, acked, fired, T0 + 60 * M) == ()
    assert next_due_at(policy, T0, acked, fired) is None
    # Acknowledged exactly at the fire time: the step does not fire either.
    assert due_steps(policy, T0, T0 + 5 * M, fired, T0 + 60 * M) == ()
    # Acknowledged after the fire time: the step was due while unacknowledged.
    late = due_steps(policy, T0, T0 + 6 * M, fired, T0 + 60 * M)
    assert [d.key for d in late] == ["escalation:sev1:1:0"]


def test_delay_is_elapsed_time_across_fall_back() -> None:
    ny = ZoneInfo("America/New_York")
    started = datetime(2025, 11, 2, 1, 55, tzinfo=ny)  # 01:55 EDT, first occurrence
    policy = EscalationPolicy("p", (EscalationStep((Target.person("ana"),), 10 * M),))
    # Python adds timedeltas to aware local datetimes on the wall clock
    # (01:55 EDT + 10 min = 02:05 EST, 70 minutes later); the calculators work in UTC.
    assert (started + 10 * M).astimezone(UTC) - started.astimezone(UTC) == 70 * M
    t0 = started.astimezone(UTC)
    (step,) = due_steps(policy, started, None, frozenset(), t0 + 10 * M)
    assert step.fire_at - t0 == 10 * M
    assert step.fire_at == datetime(2025, 11, 2, 6, 5, tzinfo=UTC)
    local = step.fire_at.astimezone(ny)
    assert (local.hour, local.minute, local.utcoffset()) == (1, 5, timedelta(hours=-5))
    assert due_steps(policy, started, None, frozenset(), t0 + 9 * M) == ()


def test_calculators_refuse_naive_datetimes() -> None:
    policy = sev1()
    with pytest.raises(ValidationError) as info:
        due_steps(policy, datetime(2025, 1, 1), None, frozenset(), T0)
    assert info.value.field == "started_at"
    with pytest.raises(ValidationError) as info:
        due_steps(policy, T0, None, frozenset(), datetime(2025, 1, 1))
    assert info.value.field == "now"
    with pytest.raises(ValidationError) as info:
        next_due_at(policy, T0, datetime(2025, 1, 1), frozenset())
    assert info.value.field == "acknowledged_at"


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: EscalationStep((Target.person("a"),), -M), "$.delay"),
        (lambda: EscalationStep((Target.person("a"),), M, repeat=-1), "$.repeat"),
        (
            lambda: EscalationStep(
                (Target.person("a"),), M, repeat=1, repeat_interval=timedelta(0)
            ),
            "$.repeat_interval",
        ),
        (lambda: EscalationStep((), M, Action.PAGE), "$.targets"),
        (lambda: Target("team", "x"), None),
        (lambda: Target.parse("team:x"), "$"),
        (
            lambda: EscalationPolicies(
                (
                    EscalationPolicy("a", (), frozenset({Severity.SEV1})),
                    EscalationPolicy("b", (), frozenset({Severity.SEV1})),
                )
            ),
            "$.policies[1].severities",
        ),
    ],
)
def test_bad_escalation_definitions(build: object, path: str | None) -> None:
    with pytest.raises(ValueError) as info:
        build()  # type: ignore[operator]
    if path is not None:
        assert isinstance(info.value, PolicyError)
        assert info.value.problems[0][0] == path


def _schedule() -> Schedule:
    london = ZoneInfo("Europe/London")
    primary = Rotation(("ana", "bo"), datetime(2025, 1, 6, 9, tzinfo=london), london)
    secondary = Rotation(("cy", "di"), datetime(2025, 1, 6, 9, tzinfo=london), london)
    return Schedule(
        "platform",
        (Layer("primary", (primary,)), Layer("secondary", (secondary,))),
        (Override("primary", "zed", T0 - 60 * M, T0 + 60 * M),),
    )


def test_resolve_targets_uses_the_schedule_with_overrides_and_roles() -> None:
    step = EscalationStep(
        (
            Target.layer("primary"),
            Target.layer("secondary"),
            Target.role("incident_commander"),
            Target.person("zed"),
            Target.role("scribe"),
        )
    )
    people = resolve_targets(step, _schedule(), T0, {"incident_commander": "erin"})
    assert people == ("zed", "di", "erin")
    after = resolve_targets(step, _schedule(), T0 + 2 * 60 * M, {})
    assert after == ("bo", "di", "zed")


def test_resolve_targets_errors() -> None:
    with pytest.raises(NotFound):
        resolve_targets(EscalationStep((Target.layer("tertiary"),)), _schedule(), T0, {})
    with pytest.raises(ValidationError):
        resolve_targets(EscalationStep((Target.layer("primary"),)), None, T0, {})
    assert resolve_targets(EscalationStep((Target.person("a"),)), None, T0, {}) == ("a",)


# Update reminders -----------------------------------------------------------------


def test_reminder_due_after_one_cadence() -> None:
    cadence = 15 * M
    assert due_reminders(cadence, None, T0, frozenset(), T0 + 14 * M) == ()
    (reminder,) = due_reminders(cadence, None, T0, frozenset(), T0 + 15 * M)
    assert (reminder.window, reminder.fire_at, reminder.missed) == (1, T0 + 15 * M, 1)
    assert reminder.key == f"reminder:{T0.isoformat()}:1"
    fired = frozenset({reminder.key})
    assert due_reminders(cadence, None, T0, fired, T0 + 20 * M) == ()
    assert next_reminder_at(cadence, None, T0, fired) == T0 + 30 * M


def test_missed_reminder_windows_collapse_into_one() -> None:
    cadence = 15 * M
    (reminder,) = due_reminders(cadence, None, T0, frozenset(), T0 + 61 * M)
    assert (reminder.window, reminder.missed) == (4, 4)
    assert reminder.overdue_by == 46 * M
    fired = frozenset({reminder.key})
    assert due_reminders(cadence, None, T0, fired, T0 + 74 * M) == ()
    (nxt,) = due_reminders(cadence, None, T0, fired, T0 + 75 * M)
    assert (nxt.window, nxt.missed) == (5, 1)


def test_an_update_restarts_the_reminder_clock() -> None:
    cadence = 30 * M
    fired = frozenset({f"reminder:{T0.isoformat()}:1"})
    update = T0 + 40 * M
    assert due_reminders(cadence, update, T0, fired, T0 + 65 * M) == ()
    (reminder,) = due_reminders(cadence, update, T0, fired, T0 + 70 * M)
    assert reminder.key == f"reminder:{update.isoformat()}:1"
    assert next_reminder_at(cadence, update, T0, fired) == update + cadence


def test_no_cadence_no_reminders() -> None:
    assert due_reminders(None, None, T0, frozenset(), T0 + 600 * M) == ()
    assert next_reminder_at(None, None, T0, frozenset()) is None


def test_reminder_bad_input() -> None:
    with pytest.raises(ValidationError) as info:
        due_reminders(timedelta(0), None, T0, frozenset(), T0)
    assert info.value.field == "cadence"
    with pytest.raises(ValidationError) as info:
        due_reminders(M, None, datetime(2025, 1, 1), frozenset(), T0)
    assert info.value.field == "declared_at"


def test_keys_carry_the_policy_name_so_reclassification_does_not_suppress_steps() -> None:
    policies = EscalationPolicies.default()
    sev2 = policies.for_severity(Severity.SEV2)
    assert sev2 is not None
    fired = frozenset(d.key for d in due_steps(sev2, T0, None, frozenset(), T0))
    assert fired == {"escalation:sev2:0:0"}
    # Upgraded to SEV1: its first page is still due.
    assert [d.key for d in due_steps(sev1(), T0, None, fired, T0)] == ["escalation:sev1:0:0"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 120), st.integers(0, 3), st.integers(1, 30)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["UTC", "America/New_York", "Australia/Sydney"]),
    st.integers(0, 200),
    st.one_of(st.none(), st.integers(0, 200)),
    st.sets(st.integers(0, 15), max_size=6),
    st.integers(0, 400),
)
def test_the_cached_plan_equals_building_every_firing(
    steps: list[tuple[int, int, int]],
    zone: str,
    start_minute: int,
    ack_minute: int | None,
    fired_picks: set[int],
    now_minute: int,
) -> None:
    """next_due_at and due_steps from the cached plan equal filtering every built firing."""
    from incidentkit.oncall.escalation import _eligible, due_steps, firings, next_due_at

    policy = EscalationPolicy(
        "p",
        tuple(
            EscalationStep((Target.person("ana"),), d * M, repeat=r, repeat_interval=i * M)
            for d, r, i in steps
        ),
    )
    started = datetime(2024, 3, 10, 1, tzinfo=ZoneInfo(zone)) + start_minute * M
    acked = None if ack_minute is None else started + ack_minute * M
    keys = [f.key for f in firings(policy, started)]
    fired = frozenset(keys[i] for i in fired_picks if i < len(keys))
    pending = _eligible(policy, started, acked, fired)
    expected = pending[0].fire_at if pending else None
    assert next_due_at(policy, started, acked, fired) == expected
    now = started + now_minute * M
    assert due_steps(policy, started, acked, fired, now) == tuple(
        f for f in pending if f.fire_at <= now
    )
