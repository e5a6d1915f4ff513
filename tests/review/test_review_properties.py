"""Properties: the review state machine and the business-day arithmetic of due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.business_days import BusinessDays
from incidentkit.review import DueRule, ReviewStatus, due_date
from incidentkit.review.model import REVIEW_TRANSITIONS, check_review_transitions
from incidentkit.severity import Severity
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
HOLIDAYS = frozenset({date(2024, 12, 25), date(2024, 12, 26), date(2025, 1, 1), date(2025, 4, 18)})

# --- the state machine -----------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.sampled_from(list(ReviewStatus))),
        st.tuples(st.just("why"), st.just("")),
        st.tuples(st.just("item"), st.sampled_from(["P0", "P1", "P2"])),
        st.tuples(st.just("finish"), st.sampled_from(["done", "wont_do"])),
    ),
    max_size=12,
)


def _resolved() -> tuple[ik.IncidentKit, str]:
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    inc = kit.declare("Login API returning 500 errors", severity=Severity.SEV2, by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(inc.id, by="alice", force=True, reason="test")
    return kit, inc.id


def _path_to_closed(status: ReviewStatus) -> list[ReviewStatus]:
    """The shortest walk of the table from ``status`` to ``closed``."""
    frontier: list[list[ReviewStatus]] = [[status]]
    seen = {status}
    while frontier:
        path = frontier.pop(0)
        if path[-1] is ReviewStatus.CLOSED:
            return path[1:]
        for nxt in sorted(REVIEW_TRANSITIONS[path[-1]]):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append([*path, nxt])
    raise AssertionError(f"{status} cannot reach closed")


@settings(max_examples=60, deadline=None)
@given(ops=OPS)
def test_refused_moves_append_nothing_and_no_state_is_dead(
    ops: list[tuple[str, str]],
) -> None:
    kit, inc = _resolved()
    for op, arg in ops:
        before = kit.get(inc)
        head = kit.timeline(inc)[-1].hash
        review = kit.reviews.get(inc)
        try:
            if op == "move":
                after = kit.reviews.move(inc, arg, by="alice")
                assert after.status is ReviewStatus(arg)
                assert ReviewStatus(arg) in REVIEW_TRANSITIONS[review.status]
            elif op == "why":
                kit.reviews.add_why(inc, "because", problem="500s", by="bob")
            elif op == "item":
                kit.reviews.add_action(
                    inc, "fix", owner="bob", priority=arg, type="corrective",
                    due=date(2024, 12, 1), by="alice",
                )  # fmt: skip
            else:
                for item in review.items:
                    if item.status.is_open:
                        kit.reviews.set_action_status(inc, item.id, arg, reason="r", by="bob")
                        break
        except (ik.InvalidTransition, ik.GuardFailed):
            after_state = kit.get(inc)
            assert after_state.version == before.version  # a refusal appends nothing
            assert kit.timeline(inc)[-1].hash == head
    # No dead state: whatever happened, the review can still be closed.
    review = kit.reviews.get(inc)
    if review.status is ReviewStatus.CLOSED:
        return
    if review.why_count == 0 and not review.factors:
        kit.reviews.add_factor(inc, "capacity", "pool", by="bob")
    for item in review.items:
        if item.status.is_open:
            kit.reviews.set_action_status(inc, item.id, "wont_do", reason="superseded", by="bob")
    for status in _path_to_closed(review.status):
        kit.reviews.move(inc, status, by="alice")
    assert kit.reviews.get(inc).status is ReviewStatus.CLOSED


def test_the_table_has_no_dead_state_and_broken_tables_are_refused() -> None:
    check_review_transitions(REVIEW_TRANSITIONS, ReviewStatus.DRAFT)
    for status in ReviewStatus:
        assert _path_to_closed(status) is not None
    dead = {**REVIEW_TRANSITIONS, ReviewStatus.IN_REVIEW: frozenset({ReviewStatus.DRAFT})}
    with pytest.raises(ik.ValidationError, match=r"terminal|unreachable"):
        check_review_transitions(dead, ReviewStatus.DRAFT)


# --- business days -----------------------------------------------------------------

STARTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(LONDON)
)
ZONES = st.sampled_from([LONDON, NEW_YORK, ZoneInfo("Australia/Sydney"), ZoneInfo("UTC")])
CALENDAR = BusinessDays(holidays=HOLIDAYS)


@given(start=STARTS, days=st.integers(1, 15), zone=ZONES)
def test_business_due_date_never_on_a_weekend_or_holiday(
    start: datetime, days: int, zone: ZoneInfo
) -> None:
    due = due_date(DueRule(days), start, zone, CALENDAR).astimezone(zone)
    assert due.weekday() < 5 and due.date() not in HOLIDAYS
    assert due.time() == time(17) and due.date() > start.astimezone(zone).date()


@given(start=STARTS, days=st.integers(1, 15), more=st.integers(1, 10), zone=ZONES)
def test_adding_days_is_monotone(start: datetime, days: int, more: int, zone: ZoneInfo) -> None:
    for calendar in (False, True):
        near = due_date(DueRule(days, calendar=calendar), start, zone, CALENDAR)
        far = due_date(DueRule(days + more, calendar=calendar), start, zone, CALENDAR)
        assert near < far
    later = due_date(DueRule(days), start + timedelta(days=more), zone, CALENDAR)
    assert due_date(DueRule(days), start, zone, CALENDAR) <= later


@given(start=STARTS, days=st.integers(1, 30), zone=ZONES)
def test_crossing_dst_keeps_the_local_time(start: datetime, days: int, zone: ZoneInfo) -> None:
    local = start.astimezone(UTC).astimezone(zone)  # a real local time (no gap)
    calendar_due = due_date(DueRule(days, calendar=True), start, zone).astimezone(zone)
    wall = (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone)
    if wall.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        return  # the wall time falls in a spring-forward gap: no such local time exists
    assert calendar_due.replace(tzinfo=None) == wall.replace(tzinfo=None)
    assert calendar_due.date() - local.date() == timedelta(days=days)
    business = due_date(DueRule(days), start, zone).astimezone(zone)
    assert business.time() == time(17)


def test_dst_example_london_spring_forward() -> None:
    friday = datetime(2025, 3, 28, 9, 15, tzinfo=LONDON)  # GMT; Monday 31 March is BST
    due = due_date(DueRule(3, calendar=True), friday, LONDON)
    assert due.astimezone(LONDON) == datetime(2025, 3, 31, 9, 15, tzinfo=LONDON)
    assert due - friday == timedelta(days=3, hours=-1)
