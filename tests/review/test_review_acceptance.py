"""The ten PIR acceptance tests of wave2-specs.md §3.3, on a real kit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

import incidentkit as ik
from incidentkit.business_days import BusinessDays
from incidentkit.review import (
    ActionItem,
    ActionStatus,
    DueRule,
    ExternalRef,
    Rating,
    ReviewConfig,
    ReviewStatus,
    Why,
    WhyChain,
    due_date,
)
from incidentkit.review.trackers import ActionItemTracker, JsonFileTracker
from incidentkit.serialization import converter
from incidentkit.severity import Severity
from incidentkit.testing import SAMPLE_TIME

LONDON = ZoneInfo("Europe/London")
T0 = SAMPLE_TIME


def make_kit(
    policy: ik.Policy | None = None, plugins: list[object] | None = None
) -> ik.IncidentKit:
    return ik.IncidentKit(
        policy=policy or ik.Policy.default(),
        clock=ik.ManualClock(T0),
        plugins=plugins or [],
        autoload_plugins=False,
    )


def resolved(kit: ik.IncidentKit, severity: Severity = Severity.SEV2) -> str:
    inc = kit.declare("Login API returning 500 errors", severity=severity, by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.assign_role(inc.id, ik.Role.TECHNICAL_LEAD, "bob", by="alice")
    kit.resolve(inc.id, by="alice", summary="pool size raised", force=True, reason="test")
    return inc.id


def test_1_business_days() -> None:
    friday = datetime(2024, 11, 22, 16, 0, tzinfo=LONDON)
    due = due_date(DueRule(days=2), friday, LONDON)
    assert due.astimezone(LONDON) == datetime(2024, 11, 26, 17, 0, tzinfo=LONDON)
    uk = BusinessDays(holidays=frozenset({date(2024, 12, 25), date(2024, 12, 26)}))
    eve = datetime(2024, 12, 24, 12, 0, tzinfo=LONDON)
    assert due_date(DueRule(days=2), eve, LONDON, uk).astimezone(LONDON).date() == date(
        2024, 12, 30
    )


def test_2_severity_table() -> None:
    config = ReviewConfig(
        due_by_severity={Severity.SEV1: DueRule(3, calendar=True), Severity.SEV2: DueRule(5)}
    )
    friday = datetime(2024, 11, 22, 17, 0, tzinfo=LONDON)
    sev1 = due_date(config.rule(Severity.SEV1), friday, LONDON)
    sev2 = due_date(config.rule(Severity.SEV2), friday, LONDON)
    assert sev1.astimezone(LONDON) == datetime(2024, 11, 25, 17, 0, tzinfo=LONDON)
    assert sev2.astimezone(LONDON) == datetime(2024, 11, 29, 17, 0, tzinfo=LONDON)


def _created(kit: ik.IncidentKit, incident_id: str) -> int:
    return sum(r.event.tag == "reviews_created" for r in kit.timeline(incident_id))


def test_3_created_once_and_excluded_kinds() -> None:
    kit = make_kit()
    inc = resolved(kit)
    kit.tick(T0 + timedelta(minutes=1))
    kit.reopen(inc, by="alice", reason="errors again")
    kit.resolve(inc, by="alice", force=True, reason="test")
    kit.tick(T0 + timedelta(minutes=2))
    kit.tick(T0 + timedelta(minutes=3))
    assert _created(kit, inc) == 1
    policy = attrs.evolve(
        ik.Policy.default(), review=ReviewConfig(exclude_severities=frozenset({Severity.SEV4}))
    )
    kit = make_kit(policy)
    low = resolved(kit, Severity.SEV4)
    kit.tick(T0 + timedelta(days=1))
    assert _created(kit, low) == 0
    with pytest.raises(ik.NotFound, match="excluded"):
        kit.reviews.get(low)


def test_4_participants_keep_renounced_holders() -> None:
    policy = attrs.evolve(ik.Policy.default(), review=ReviewConfig(participants=("erin",)))
    kit = make_kit(policy)
    inc = kit.declare("Login API returning 500 errors", severity=Severity.SEV2, by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.assign_role(inc.id, ik.Role.TECHNICAL_LEAD, "bob", by="alice")
    kit.assign_role(inc.id, ik.Role.TECHNICAL_LEAD, "dave", by="alice")  # a hand-over
    kit.resolve(inc.id, by="alice", force=True, reason="test")
    people = {p.person: p for p in kit.reviews.participants(inc.id)}
    assert set(people) == {"alice", "bob", "dave", "erin"}
    assert people["bob"].renounced_at is not None and people["dave"].renounced_at is None
    assert people["alice"].roles == ("incident_commander",)
    review = kit.reviews.schedule(inc.id, T0 + timedelta(days=1), by="alice")
    assert {p.person for p in review.participants} == set(people)
    state = kit.get(inc.id)
    assert state.item("recovery", "schedule-review").state is ik.ItemState.DONE


def test_5_rendered_document() -> None:
    kit = make_kit(attrs.evolve(ik.Policy.default(), zone=ZoneInfo("America/Los_Angeles")))
    inc = kit.declare(
        "Login Service Degradation",
        severity=Severity.SEV1,
        by="alice",
        started_at=T0,
    )
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.add_note(inc.id, "pool exhausted", by="bob")
    kit.clock.set(T0 + timedelta(minutes=40))  # type: ignore[attr-defined]
    kit.resolve(inc.id, by="alice", force=True, reason="test")
    kit.reviews.pin(inc.id, [1, 3], by="alice")
    kit.reviews.add_why(inc.id, "Database connections failed", problem="500s", by="bob")
    text = kit.reviews.render(inc.id)
    order = [
        "## Summary",
        "**Duration**",
        "**Severity**",
        "**Impact**",
        "## Timeline",
        "## Root Cause (5 Whys)",
        "## Resolution",
        "## Action Items",
        "## Lessons Learned",
    ]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    assert "**Duration**: 40 minutes (14:30 – 15:10 PST)" in text
    rows = [
        line
        for line in text.split("## Timeline")[1].split("##")[0].splitlines()
        if line.startswith("| ") and not line.startswith("| Time")
    ]
    assert [row.split("|")[3].strip() for row in rows] == ["v1", "v3"]
    assert kit.reviews.render(inc.id) == text
    assert kit.reviews.render(inc.id, format="html") == kit.reviews.render(inc.id, format="html")


def test_6_five_whys_round_trip_and_gate() -> None:
    chain = WhyChain("main", "500s", tuple(Why(f"why {n}") for n in range(5)), "pool size")
    assert converter().structure(converter().unstructure(chain), WhyChain) == chain
    kit = make_kit()
    inc = resolved(kit)
    version = kit.get(inc).version
    with pytest.raises(ik.GuardFailed, match="at least one why"):
        kit.reviews.move(inc, ReviewStatus.IN_REVIEW, by="alice")
    assert kit.get(inc).version == version  # nothing appended (not even the creation)
    kit.reviews.add_why(inc, "Database connections failed", problem="500s", by="bob")
    assert kit.reviews.move(inc, "in_review", by="alice").status is ReviewStatus.IN_REVIEW


def test_7_overdue_action_item_reminded_once_a_day() -> None:
    kit = make_kit()
    inc = resolved(kit)
    kit.reviews.add_action(
        inc,
        "Add connection pool metrics",
        owner="@bob",
        priority="P0",
        type="detective",
        due=date(2024, 11, 22),
        by="alice",
    )

    def reminders(at: datetime) -> int:
        fired = kit.tick(at).fired
        return sum(r.event.tag == "reviews_action_item_reminded" for r in fired)

    assert reminders(datetime(2024, 11, 22, 23, 0, tzinfo=UTC)) == 0
    assert reminders(datetime(2024, 11, 23, 9, 0, tzinfo=UTC)) == 1
    assert reminders(datetime(2024, 11, 23, 15, 0, tzinfo=UTC)) == 0
    assert reminders(datetime(2024, 11, 24, 9, 0, tzinfo=UTC)) == 1
    kit.reviews.set_action_status(inc, "A1", ActionStatus.DONE, by="bob")
    assert reminders(datetime(2024, 11, 25, 9, 0, tzinfo=UTC)) == 0


class FlakyTracker(ActionItemTracker):
    """Creates the issue, then fails the first time (the reply was lost)."""

    name = "flaky"

    def __init__(self) -> None:
        self.issues: dict[str, ActionItem] = {}
        self.calls = 0

    def create(self, item: ActionItem, incident_id: str, key: str) -> ExternalRef:
        self.calls += 1
        self.issues.setdefault(key, item)
        if self.calls == 1:
            raise ik.TransientFailure("timeout after the issue was made")
        return ExternalRef("flaky", str(list(self.issues).index(key) + 1))

    def update(self, item: ActionItem, ref: ExternalRef) -> None:
        self.issues[f"{item.id}"] = item


def test_8_export_is_idempotent_by_key(tmp_path: Path) -> None:
    tracker = FlakyTracker()
    kit = make_kit(plugins=[tracker])
    inc = resolved(kit)
    kit.reviews.add_action(
        inc,
        "Add connection pool metrics",
        owner="bob",
        priority="P0",
        type="detective",
        due=date(2024, 11, 22),
        by="alice",
    )
    kit.deliver()
    kit.clock.set(T0 + timedelta(hours=1))  # type: ignore[attr-defined]
    kit.deliver()
    assert tracker.calls == 2 and len(tracker.issues) == 1
    item = kit.reviews.get(inc).item("A1")
    assert item is not None and item.external_ref == ExternalRef("flaky", "1")
    path = tmp_path / "items.json"
    kit = make_kit(plugins=[JsonFileTracker(path)])
    inc = resolved(kit)
    kit.reviews.add_action(
        inc,
        "Document pool tuning",
        owner="bob",
        priority="P2",
        type="preventive",
        due=date(2024, 12, 5),
        by="alice",
    )
    kit.deliver()
    kit.reviews.set_action_status(inc, "A1", "wont_do", reason="covered by runbook", by="bob")
    kit.deliver()
    data = json.loads(path.read_text())
    assert [entry["status"] for entry in data.values()] == ["wont_do"]


def test_9_closing_gate_and_incident_closed() -> None:
    kit = make_kit()
    inc = resolved(kit)
    kit.reviews.add_why(inc, "Connection pool exhausted", problem="500s", by="bob")
    kit.reviews.add_action(
        inc,
        "Add connection pool metrics",
        owner="bob",
        priority="P0",
        type="detective",
        due=date(2024, 11, 22),
        by="alice",
    )
    kit.reviews.move(inc, "in_review", by="alice")
    kit.reviews.move(inc, "reviewed", by="alice")
    version = kit.get(inc).version
    with pytest.raises(ik.GuardFailed, match="A1"):
        kit.reviews.move(inc, "closed", by="alice")
    assert kit.get(inc).version == version
    with pytest.raises(ik.ValidationError, match="reason"):
        kit.reviews.set_action_status(inc, "A1", "wont_do", by="alice")
    kit.reviews.set_action_status(inc, "A1", "wont_do", reason="dashboards replaced", by="alice")
    for item in kit.get(inc).open_items("recovery"):  # closing the incident is gated too
        kit.check(inc, "recovery", item, by="alice")
    assert kit.reviews.move(inc, "closed", by="alice").status is ReviewStatus.CLOSED
    assert kit.get(inc).status is ik.Status.CLOSED


def test_closing_the_review_leaves_an_incident_with_open_recovery_items_resolved() -> None:
    kit = make_kit()
    inc = resolved(kit)
    kit.reviews.add_factor(inc, "capacity", "pool not scaled with traffic", by="bob")
    assert kit.get(inc).open_items("recovery")
    for status in ("in_review", "reviewed", "closed"):
        kit.reviews.move(inc, status, by="alice")
    assert kit.reviews.get(inc).status is ReviewStatus.CLOSED
    assert kit.get(inc).status is ik.Status.RESOLVED  # kit.close's recovery gate holds
    with pytest.raises(ik.GuardFailed, match="recovery"):
        kit.close(inc, by="alice", reason="done")


def test_10_feedback() -> None:
    kit = make_kit()
    inc = resolved(kit)
    kit.reviews.add_factor(inc, "capacity", "pool not scaled with traffic", by="bob")
    for status in ("in_review", "reviewed", "closed"):
        kit.reviews.move(inc, status, by="alice")
    asked = [
        r.event.participant
        for r in kit.timeline(inc)
        if r.event.tag == "reviews_feedback_requested"
    ]
    assert sorted(asked) == ["alice", "bob"]
    with pytest.raises(ik.ValidationError, match="rating"):
        kit.reviews.give_feedback(inc, "great", by="bob")
    kit.reviews.give_feedback(inc, Rating.VERY_SATISFIED, text="clear roles", by="bob")
    with pytest.raises(ik.InvalidTransition):
        kit.reviews.give_feedback(inc, Rating.NEUTRAL, by="bob")
