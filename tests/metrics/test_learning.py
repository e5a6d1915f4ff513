"""Learning-loop metrics: time to review, on time, action items, recurrence (hand-computed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

import incidentkit as ik
from incidentkit.metrics import (
    ActionCount,
    OverdueItem,
    Recurrence,
    ReviewTimes,
    learning_of,
    learning_report,
)
from incidentkit.review import Priority
from incidentkit.severity import Severity
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME  # a Wednesday; reviews due Fri 22 Nov 17:00
AT = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)


def _resolved(kit: ik.IncidentKit, incident_id: str, at: datetime) -> str:
    kit.clock.set(at)  # type: ignore[attr-defined]
    kit.declare(
        f"incident {incident_id}", severity=Severity.SEV2, by="alice", incident_id=incident_id
    )
    kit.assign_role(incident_id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(incident_id, by="alice", force=True, reason="test")
    return incident_id


def _reviewed(kit: ik.IncidentKit, incident_id: str, at: datetime) -> None:
    kit.clock.set(at)  # type: ignore[attr-defined]
    kit.reviews.move(incident_id, "in_review", by="alice")
    kit.reviews.move(incident_id, "reviewed", by="alice")


@pytest.fixture
def kit() -> ik.IncidentKit:
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    a = _resolved(kit, "INC-A", T0)
    kit.reviews.add_factor(a, "capacity", "pool fixed", by="bob")
    kit.reviews.add_factor(a, "testing", "no load test", by="bob")
    kit.reviews.add_action(
        a, "pool metrics", owner="bob", priority="P0", type="detective", due=date(2024, 11, 22),
        by="alice",
    )  # fmt: skip
    kit.reviews.add_action(
        a, "auto-scaling", owner="alice", priority="P1", type="preventive",
        due=date(2024, 11, 30), by="alice",
    )  # fmt: skip
    kit.reviews.add_action(
        a, "docs", owner="bob", priority="P2", type="preventive", due=date(2024, 11, 20),
        by="alice",
    )  # fmt: skip
    kit.reviews.set_action_status(a, "A3", "done", by="bob")
    _reviewed(kit, a, T0 + timedelta(days=1))  # on time, 86,400 s

    b = _resolved(kit, "INC-B", T0)
    kit.reviews.add_factor(b, "capacity", "pool again", by="bob")
    kit.reviews.add_action(
        b, "load tests", owner="charlie", priority="P1", type="detective",
        due=date(2024, 11, 25), by="alice",
    )  # fmt: skip
    kit.reviews.set_action_status(b, "A1", "in_progress", by="charlie")
    _reviewed(kit, b, T0 + timedelta(days=5))  # late, 432,000 s

    c = _resolved(kit, "INC-C", T0)  # never reviewed, past due at AT: judged, late
    kit.reviews.add_factor(c, "testing", "flaky suite", by="bob")
    kit.reviews.add_factor(c, "testing", "no canary", by="bob")

    d = _resolved(kit, "INC-D", datetime(2024, 11, 25, 10, 0, tzinfo=UTC))  # due 27 Nov
    kit.reviews.add_factor(d, "process", "no owner", by="bob")
    kit.clock.set(AT)  # type: ignore[attr-defined]
    kit.declare("no review yet", severity=Severity.SEV3, by="alice", incident_id="INC-E")
    return kit


def test_hand_computed_report(kit: ik.IncidentKit) -> None:
    report = learning_of(kit)
    assert report.at == AT
    assert report.reviews == 4
    assert report.time_to_review == ReviewTimes(2, 259_200.0, 86_400.0, 432_000.0)
    assert (report.judged, report.on_time) == (3, 1)
    assert report.on_time_share == pytest.approx(1 / 3)
    assert report.open_by_priority == (
        ActionCount("P0", 1, 1),
        ActionCount("P1", 2, 1),
        ActionCount("P2", 0, 0),
    )
    assert report.open_by_owner == (
        ActionCount("alice", 1, 0),
        ActionCount("bob", 1, 1),
        ActionCount("charlie", 1, 1),
    )
    assert report.overdue == (
        OverdueItem("INC-A", "A1", "pool metrics", "bob", Priority.P0, date(2024, 11, 22), 4),
        OverdueItem("INC-B", "A1", "load tests", "charlie", Priority.P1, date(2024, 11, 25), 1),
    )
    assert report.recurrence == (
        Recurrence("capacity", ("INC-A", "INC-B")),
        Recurrence("testing", ("INC-A", "INC-C")),
    )


def test_due_dates_are_judged_in_the_zone(kit: ik.IncidentKit) -> None:
    from zoneinfo import ZoneInfo

    from incidentkit.metrics.learning import review_states

    # 26 Nov 12:00 UTC is still 25 Nov in Honolulu: INC-B's item (due 25 Nov) is not late.
    report = learning_report(
        review_states(kit), at=AT - timedelta(hours=10), zone=ZoneInfo("Pacific/Honolulu")
    )
    assert [(o.incident_id, o.days) for o in report.overdue] == [("INC-A", 3)]


def test_empty_and_bad_input() -> None:
    report = learning_report([], at=AT)
    assert (report.reviews, report.judged, report.on_time_share) == (0, 0, None)
    assert report.time_to_review == ReviewTimes(0, None, None, None)
    assert report.recurrence == () and report.overdue == ()
    with pytest.raises(ik.ValidationError, match="at"):
        learning_report([], at=datetime(2024, 11, 26, 12, 0))
