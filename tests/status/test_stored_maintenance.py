"""Scheduled maintenances kept in the store: kit.status.maintenances on every built-in store.

Scheduling and moves (compare-and-set, one winner among replicas, retries by
idempotency key), the page and uptime while one is in progress, reminders and
auto-transitions from tick() (once across replicas), alerts held back during
one, refused input that stores nothing, and the authorize hook.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

import incidentkit as ik
from incidentkit.plugins import hookimpl
from incidentkit.status import ComponentStatus, Indicator, MaintenanceStatus
from incidentkit.status.stored import NAMESPACE
from incidentkit.testing import CapturingNotifier

from ._login import T0, make_kit

START = T0 + timedelta(days=2)
END = START + timedelta(hours=2)
SUBSCRIBERS = """
[[status.subscribers]]
id = "ops-api"
channel = "webhook"
address = "https://ops.example.com/hook"
components = ["api"]
notifier = "subs"

[[status.subscribers]]
id = "billing-team"
channel = "email"
address = "billing@example.com"
components = ["billing"]
notifier = "subs"
"""


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest) -> Iterator[ik.Store]:
    yield request.getfixturevalue(f"{request.param}_store")


def clock_of(kit: ik.IncidentKit) -> ik.ManualClock:
    clock = kit.clock
    assert isinstance(clock, ik.ManualClock)
    return clock


def planned(kit: ik.IncidentKit, **options: object) -> ik.status.maintenance.Maintenance:
    return kit.status.maintenances.schedule(
        "Database upgrade",
        START,
        END,
        ["api"],
        by="dana",
        body="We are upgrading the primary database.",
        **options,  # type: ignore[arg-type]
    )


def test_schedule_start_verify_complete_keeps_the_history(any_store: ik.Store) -> None:
    kit = make_kit(any_store)
    m = planned(kit, maintenance_id="MNT-1")
    assert (m.id, m.status, m.components) == ("MNT-1", MaintenanceStatus.SCHEDULED, ("api",))
    assert kit.status.maintenances.get("MNT-1") == m
    assert kit.status.maintenances.upcoming() == [m] and kit.status.maintenances.active() == []
    clock_of(kit).set(START)
    kit.status.maintenances.start("MNT-1", by="dana", body="Started.")
    clock_of(kit).set(START + timedelta(minutes=90))
    kit.status.maintenances.verify("MNT-1", by="dana")
    clock_of(kit).set(START + timedelta(minutes=100))
    done = kit.status.maintenances.complete("MNT-1", by="dana", body="All done.")
    assert done.status is MaintenanceStatus.COMPLETED
    assert [(u.status.value, u.at - T0, u.by, u.body) for u in done.updates] == [
        ("scheduled", timedelta(0), "dana", "We are upgrading the primary database."),
        ("in_progress", START - T0, "dana", "Started."),
        ("verifying", START - T0 + timedelta(minutes=90), "dana", ""),
        ("completed", START - T0 + timedelta(minutes=100), "dana", "All done."),
    ]
    # another kit on the same store sees the same record
    other = make_kit(any_store)
    assert other.status.maintenances.get("MNT-1") == done


def test_components_are_under_maintenance_while_it_runs(any_store: ik.Store) -> None:
    kit = make_kit(any_store)
    planned(kit, maintenance_id="MNT-1")
    assert kit.status.page().indicator is Indicator.NONE
    clock_of(kit).set(START)
    kit.status.maintenances.start("MNT-1", by="dana")
    states = {s.component.id: s.status for s in kit.status.components()}
    assert states["api"] is ComponentStatus.UNDER_MAINTENANCE
    assert states["login"] is ComponentStatus.OPERATIONAL
    assert kit.status.page().description == "Service Under Maintenance"
    summary = kit.status.json("summary")
    assert [m["id"] for m in summary["scheduled_maintenances"]] == ["MNT-1"]
    active = kit.status.json("scheduled-maintenances/active")["scheduled_maintenances"]
    assert active[0]["status"] == "in_progress"
    assert [u["status"] for u in active[0]["incident_updates"]] == ["in_progress", "scheduled"]
    assert kit.status.json("scheduled-maintenances/upcoming")["scheduled_maintenances"] == []
    clock_of(kit).set(END)
    kit.status.maintenances.complete("MNT-1", by="dana")
    assert kit.status.current()["api"] is ComponentStatus.OPERATIONAL
    # the two hours are maintenance: out of the denominator, so 100 %
    day = kit.status.uptime("api", window="24h", at=END + timedelta(hours=1))
    assert day.percent == 100.0
    assert day.maintenance == timedelta(hours=2)


def test_two_replicas_starting_at_once_start_it_once(any_store: ik.Store) -> None:
    kits = [make_kit(any_store) for _ in range(4)]
    planned(kits[0], maintenance_id="MNT-1")
    for kit in kits:
        clock_of(kit).set(START)
    outcomes: list[str] = []
    barrier = threading.Barrier(len(kits))

    def start(kit: ik.IncidentKit) -> None:
        barrier.wait()
        try:
            kit.status.maintenances.start("MNT-1", by="dana")
            outcomes.append("started")
        except ik.InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=start, args=(kit,)) for kit in kits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "refused", "refused", "started"]
    record = kits[0].status.maintenances.get("MNT-1")
    assert [u.status for u in record.updates].count(MaintenanceStatus.IN_PROGRESS) == 1


def test_a_retry_with_the_same_key_returns_what_the_first_did(any_store: ik.Store) -> None:
    kit = make_kit(any_store)
    first = planned(kit, idempotency_key="plan-db-upgrade")
    again = planned(kit, idempotency_key="plan-db-upgrade")
    assert again == first and first.id.startswith("MNT-")
    assert len(kit.status.maintenances.all()) == 1
    clock_of(kit).set(START)
    started = kit.status.maintenances.start(first.id, by="dana", idempotency_key="go")
    assert kit.status.maintenances.start(first.id, by="dana", idempotency_key="go") == started
    with pytest.raises(ik.InvalidTransition):
        kit.status.maintenances.start(first.id, by="dana")
    with pytest.raises(ik.ValidationError) as taken:
        planned(kit, maintenance_id=first.id)
    assert taken.value.field == "maintenance_id"


def marks_of(store: ik.Store) -> dict[str, str]:
    assert isinstance(store, ik.store.MarkStore)
    return store.marks(NAMESPACE)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": START.replace(tzinfo=None)}, "start"),
        ({"end": START - timedelta(hours=1)}, "end"),
        ({"components": ["nope"]}, "components[0]"),
        ({"components": []}, "components"),
        ({"components": "api"}, "components"),
        ({"name": ""}, "name"),
        ({"body": "x" * 5000}, "body"),
        ({"by": ""}, "by"),
        ({"maintenance_id": "a\nb"}, "maintenance_id"),
        ({"auto_start": "yes"}, "auto_start"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"page": "elsewhere"}, "page"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    any_store: ik.Store, change: dict[str, object], field: str
) -> None:
    kit = make_kit(any_store)
    args: dict[str, object] = {
        "name": "Database upgrade",
        "start": START,
        "end": END,
        "components": ["api"],
        "by": "dana",
    }
    args.update(change)
    with pytest.raises((ik.ValidationError, ik.NotFound)) as err:
        kit.status.maintenances.schedule(**args)  # type: ignore[arg-type]
    if isinstance(err.value, ik.ValidationError):
        assert err.value.field == field
    assert marks_of(any_store) == {}
    assert kit.store.outbox("") == []


def test_bad_moves_leave_the_record_as_it_was(any_store: ik.Store) -> None:
    kit = make_kit(any_store)
    planned(kit, maintenance_id="MNT-1")
    before = marks_of(any_store)
    with pytest.raises(ik.NotFound):
        kit.status.maintenances.start("MNT-9", by="dana")
    with pytest.raises(ik.InvalidTransition):
        kit.status.maintenances.verify("MNT-1", by="dana")
    with pytest.raises(ik.ValidationError) as future:
        kit.status.maintenances.start("MNT-1", by="dana", at=T0 + timedelta(hours=1))
    assert future.value.field == "at"
    with pytest.raises(ik.ValidationError) as status:
        kit.status.maintenances.move("MNT-1", "paused", by="dana")
    assert status.value.field == "status"
    assert marks_of(any_store) == before


class Deny:
    @hookimpl
    def incidentkit_authorize(self, actor: str, action: str, incident: object) -> str | None:
        if action.endswith("_maintenance") and actor != "dana":
            return "only dana plans maintenance"
        return None


def test_the_authorize_hook_sees_each_move(any_store: ik.Store) -> None:
    kit = make_kit(any_store, plugins=[Deny()])
    with pytest.raises(ik.PermissionDenied):
        kit.status.maintenances.schedule("Upgrade", START, END, ["api"], by="eve")
    assert marks_of(any_store) == {}
    planned(kit, maintenance_id="MNT-1")
    clock_of(kit).set(START)
    with pytest.raises(ik.PermissionDenied) as denied:
        kit.status.maintenances.start("MNT-1", by="eve")
    assert "MNT-1" in str(denied.value) and "only dana plans maintenance" in str(denied.value)
    assert kit.status.maintenances.get("MNT-1").status is MaintenanceStatus.SCHEDULED


def test_reminders_and_announcements_go_out_once_across_replicas(any_store: ik.Store) -> None:
    subs = CapturingNotifier("subs", audiences=["nobody"])  # reached only for subscribers
    public = CapturingNotifier("public")
    kits = [make_kit(any_store, plugins=[subs, public], extra=SUBSCRIBERS) for _ in range(2)]
    planned(kits[0], maintenance_id="MNT-1")
    kits[0].deliver()
    scheduled = sorted((n.key, n.targets) for n in subs.delivered + public.delivered)
    assert scheduled == [
        ("maintenance:MNT-1-1", ()),  # the public channel
        ("maintenance:MNT-1-1:ops-api", ("https://ops.example.com/hook",)),
    ]
    assert "Database upgrade" in public.delivered[0].text
    subs.clear()
    public.clear()
    for minutes_before in (24 * 60 + 1, 24 * 60, 23 * 60, 60, 59, 1):
        for kit in kits:
            clock_of(kit).set(START - timedelta(minutes=minutes_before))
            kit.tick()
            kit.deliver()
    keys = sorted(n.key for n in subs.delivered + public.delivered)
    assert keys == [
        "maintenance:MNT-1:remind:3600",
        "maintenance:MNT-1:remind:3600:ops-api",
        "maintenance:MNT-1:remind:86400",
        "maintenance:MNT-1:remind:86400:ops-api",
    ]
    assert all("starts in" in n.text for n in public.delivered)


def test_auto_transitions_happen_once_at_the_scheduled_instants(any_store: ik.Store) -> None:
    kits = [make_kit(any_store) for _ in range(3)]
    planned(kits[0], maintenance_id="MNT-1", auto_start=True, auto_complete=True)
    for kit in kits:
        clock_of(kit).set(START + timedelta(minutes=3))
        kit.tick()
    m = kits[0].status.maintenances.get("MNT-1")
    assert (m.status, m.started_at) == (MaintenanceStatus.IN_PROGRESS, START)
    for kit in kits:
        clock_of(kit).set(END + timedelta(minutes=1))
        kit.tick()
    m = kits[1].status.maintenances.get("MNT-1")
    assert (m.status, m.completed_at) == (MaintenanceStatus.COMPLETED, END)
    assert [u.status.value for u in m.updates] == ["scheduled", "in_progress", "completed"]
    assert {u.by for u in m.updates[1:]} == {"incidentkit"}


def test_alerts_of_its_components_are_held_while_it_runs(any_store: ik.Store) -> None:
    kit = make_kit(any_store)
    planned(kit, maintenance_id="MNT-1")
    clock_of(kit).set(START + timedelta(minutes=5))
    kit.status.maintenances.start("MNT-1", by="dana")
    alert = {"key": "db-slow", "summary": "API latency high", "labels": {"service": "api"}}
    result = kit.alerts.ingest(alert, "generic")
    assert result.outcomes[0].action == "silenced"
    assert kit.store.summaries() == []
    assert [h.silence for h in kit.alerts.held()] == ["maintenance.MNT-1"]
    clock_of(kit).set(START + timedelta(minutes=30))
    kit.status.maintenances.complete("MNT-1", by="dana")
    kit.tick()  # still firing after the window: it declares
    assert len(kit.store.summaries()) == 1
