"""Scheduled maintenance: the state machine, reminders before the start, windows for intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import incidentkit as ik
from incidentkit.status import ComponentStatus, MaintenanceStatus, StatusPage
from incidentkit.status.maintenance import (
    TRANSITIONS,
    active_windows,
    due_reminders,
    maintenance_json,
    maintenance_marks,
    schedule,
    transition,
)
from incidentkit.status.uptime import intervals_from_marks, uptime

NOW = datetime(2024, 11, 20, 12, tzinfo=UTC)
START = NOW + timedelta(days=2)
END = START + timedelta(hours=2)
KNOWN = ["api", "login"]


def planned() -> ik.status.maintenance.Maintenance:
    return schedule("MNT-1", "Database upgrade", START, END, ["api"], known=KNOWN, now=NOW)


def test_the_lifecycle_is_well_formed() -> None:
    terminal = {s for s, nxt in TRANSITIONS.items() if not nxt}
    assert terminal == {MaintenanceStatus.COMPLETED}
    for status in MaintenanceStatus:  # every status reaches completed
        seen, todo = set(), [status]
        while todo:
            s = todo.pop()
            seen.add(s)
            todo += [n for n in TRANSITIONS[s] if n not in seen]
        assert MaintenanceStatus.COMPLETED in seen


def test_moves_and_refusals() -> None:
    m = planned()
    assert m.status is MaintenanceStatus.SCHEDULED and not m.active
    with pytest.raises(ik.InvalidTransition) as err:
        transition(m, "verifying", START)
    assert err.value.allowed == ("completed", "in_progress")
    m = transition(m, "in_progress", START)
    assert m.active and m.started_at == START
    m = transition(transition(m, "verifying", END), "completed", END)
    assert (m.status, m.completed_at) == (MaintenanceStatus.COMPLETED, END)
    with pytest.raises(ik.InvalidTransition):
        transition(m, "in_progress", END)
    with pytest.raises(ik.ValidationError) as bad:
        transition(planned(), "paused", START)
    assert bad.value.field == "status"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"end": START}, "end"),
        ({"components": []}, "components"),
        ({"components": ["db"]}, "components[0]"),
        ({"start": datetime(2024, 11, 22)}, "start"),
    ],
)
def test_schedule_refuses_bad_input(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"start": START, "end": END, "components": ["api"]}
    args.update(kwargs)
    with pytest.raises(ik.ValidationError) as err:
        schedule("MNT-1", "x", known=KNOWN, now=NOW, **args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_reminders_fire_once_before_the_start() -> None:
    m = planned()
    before = [timedelta(hours=24), timedelta(hours=1)]
    assert due_reminders(m, before, NOW) == []
    day = due_reminders(m, before, START - timedelta(hours=23))
    assert [r.before for r in day] == [timedelta(hours=24)]
    m = attrs_evolve_reminded(m, {r.key for r in day})
    assert due_reminders(m, before, START - timedelta(hours=23)) == []
    hour = due_reminders(m, before, START - timedelta(minutes=30))
    assert [r.before for r in hour] == [timedelta(hours=1)]
    assert due_reminders(m, before, START) == []  # started: too late to remind
    assert (
        due_reminders(transition(m, "in_progress", START), before, START - timedelta(minutes=30))
        == []
    )


def attrs_evolve_reminded(
    m: ik.status.maintenance.Maintenance, keys: set[str]
) -> ik.status.maintenance.Maintenance:
    import attrs

    return attrs.evolve(m, reminded=m.reminded | keys)


def test_windows_for_intake_and_uptime_excludes_them() -> None:
    m = transition(planned(), "in_progress", START)
    (window,) = active_windows([m], START + timedelta(minutes=5))
    assert (window.components, window.start, window.end) == (frozenset({"api"}), START, END)
    assert active_windows([planned()], NOW) == []  # not yet
    assert len(active_windows([planned()], START)) == 1  # due, though nobody started it yet
    assert active_windows([transition(m, "completed", END)], END) == []
    done = transition(m, "completed", END)
    marks = maintenance_marks(done)
    assert [k.status for k in marks] == [
        ComponentStatus.UNDER_MAINTENANCE,
        ComponentStatus.OPERATIONAL,
    ]
    intervals = intervals_from_marks(marks, END + timedelta(days=1))["api"]
    found = uptime(intervals, START - timedelta(hours=11), START + timedelta(hours=13))
    assert found.percent == 100.0 and found.maintenance == timedelta(hours=2)


def test_statuspage_maintenance_object() -> None:
    page = StatusPage("main", "Status")
    doc = maintenance_json(transition(planned(), "in_progress", START), page, {"api": "API"})
    assert {"scheduled_for", "scheduled_until"} <= set(doc)
    assert (doc["status"], doc["impact"]) == ("in_progress", "maintenance")
    assert doc["components"] == [{"id": "api", "name": "API", "status": "under_maintenance"}]
    assert doc["scheduled_for"] == "2024-11-22T12:00:00.000+00:00"


def test_the_kit_renders_the_hosts_maintenances() -> None:
    from ._login import make_kit

    kit = make_kit()
    soon = schedule("MNT-1", "Database upgrade", START, END, ["api"], known=KNOWN, now=NOW)
    running = transition(
        schedule("MNT-2", "Cache flush", NOW, END, ["login"], known=KNOWN, now=NOW),
        "in_progress",
        NOW,
    )
    done = transition(running, "completed", END)
    everything = [soon, running, attrs_evolve_id(done, "MNT-3")]
    upcoming = kit.status.json("scheduled-maintenances/upcoming", maintenances=everything)
    active = kit.status.json("scheduled-maintenances/active", maintenances=everything)
    listed = kit.status.json("scheduled-maintenances", maintenances=everything)
    summary = kit.status.json("summary", maintenances=everything)
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == ["MNT-1"]
    assert [m["id"] for m in active["scheduled_maintenances"]] == ["MNT-2"]
    assert sorted(m["id"] for m in listed["scheduled_maintenances"]) == ["MNT-1", "MNT-2", "MNT-3"]
    assert [m["id"] for m in summary["scheduled_maintenances"]] == ["MNT-2", "MNT-1"]


def attrs_evolve_id(
    m: ik.status.maintenance.Maintenance, new: str
) -> ik.status.maintenance.Maintenance:
    import attrs

    return attrs.evolve(m, id=new)
