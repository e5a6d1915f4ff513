"""``tick()`` itself: what it reports, restarts, the ``next_due_at`` index, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.roles import Role
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore
from incidentkit.store.sqlite import SqliteStore
from incidentkit.timers import next_due

from ._helpers import T0, duplicates, minutes, scheduled_policy, timer_keys
from .conftest import KitFactory


def test_a_replica_that_loses_the_race_reports_nothing_it_did_not_fire(
    make_kit: KitFactory, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = make_kit()
    b = make_kit()
    iid = a.declare("API 500s", severity=Severity.SEV1, by="alice").id
    clock.set(T0 + minutes(6))
    b.get(iid)  # b holds the state from before the timers fired
    reports = []
    append = b.store.append

    def append_after_the_other_replica(*args: object, **kwargs: object) -> None:
        # b has decided and is about to append: a ticks first and wins the race.
        monkeypatch.setattr(b.store, "append", append)
        reports.append(a.tick())
        append(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(b.store, "append", append_after_the_other_replica)
    lost = b.tick()

    (won,) = reports
    assert timer_keys(won.fired) == [
        "escalation:sev1:1:0",
        "target:response",
        "target:phase:assess",
    ]
    assert lost.fired == ()
    assert lost.checked == 1
    assert duplicates(timer_keys(a.timeline(iid))) == {}


def test_reported_events_are_the_recorded_ones(kit: IncidentKit, clock: ManualClock) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    kit.add_note(iid, "looking", by="alice")
    clock.set(T0 + minutes(16))
    report = kit.tick()
    recorded = [r for r in kit.timeline(iid) if r.version > 3]
    assert list(report.fired) == recorded
    assert report.at == T0 + minutes(16)
    assert report.checked == 1 and report.failures == {}


def test_tick_at_an_explicit_instant(kit: IncidentKit) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    report = kit.tick(T0 + minutes(5))
    assert timer_keys(report.fired)[0] == "escalation:sev1:1:0"
    assert report.fired[0].recorded_at == T0  # recorded on the kit's clock
    assert kit.summary(iid).next_due_at == next_due(kit.get(iid), kit.policy)


class ParisClock:
    """A clock that answers in Paris time (the Clock protocol does not promise UTC)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at.astimezone(ZoneInfo("Europe/Paris"))


def test_a_clock_in_another_zone_reports_utc(make_kit: KitFactory) -> None:
    paris = ParisClock(T0)
    kit = make_kit(at=paris)
    kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    paris.at = T0 + minutes(5)
    report = kit.tick()
    assert report.at == T0 + minutes(5)
    assert report.at.utcoffset() == timedelta(0)
    assert report.fired, "the secondary's page is due at +5 min"
    assert all(r.recorded_at.utcoffset() == timedelta(0) for r in report.fired)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (datetime(2024, 11, 20, 22, 35), "naive"),
        ("2024-11-20T22:35:00Z", "expected a datetime"),
    ],
)
def test_bad_now_is_refused_and_nothing_is_stored(
    kit: IncidentKit, store: MemoryStore, value: object, reason: str
) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    before = (store.load(iid), store.summary(iid), store.outbox())
    with pytest.raises(ValidationError) as err:
        kit.tick(value)  # type: ignore[arg-type]
    assert err.value.field == "now" and reason in err.value.reason
    assert (store.load(iid), store.summary(iid), store.outbox()) == before


def test_a_restarted_kit_on_the_same_file_refires_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/incidents.db"
    policy = scheduled_policy()
    clock = ManualClock(T0)
    with IncidentKit.open(url, policy=policy, clock=clock, autoload_plugins=False) as first:
        ids = [
            first.declare(f"incident {n}", severity=sev, by="alice").id
            for n, sev in enumerate([Severity.SEV1, Severity.SEV2, Severity.SEV3])
        ]
        clock.set(T0 + minutes(31))
        assert first.tick().fired
        before = {iid: first.timeline(iid) for iid in ids}

    with IncidentKit.open(url, policy=policy, clock=clock, autoload_plugins=False) as second:
        report = second.tick()
        assert report.fired == ()
        assert report.checked == 0  # the index says nothing is due yet
        assert {iid: second.timeline(iid) for iid in ids} == before
        clock.set(T0 + minutes(45))
        assert timer_keys(second.tick().fired) == [f"reminder:{T0.isoformat()}:3"]


def test_next_due_at_in_the_summary_is_the_pure_answer(
    kit: IncidentKit, clock: ManualClock
) -> None:
    sev1 = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    sev2 = kit.declare("slow", severity=Severity.SEV2, by="alice").id
    sev4 = kit.declare("typo", severity=Severity.SEV4, by="alice").id

    def check() -> None:
        for iid in (sev1, sev2, sev4):
            assert kit.summary(iid).next_due_at == next_due(kit.get(iid), kit.policy), iid

    check()
    assert kit.summary(sev1).next_due_at == T0 + minutes(5)
    for step in range(1, 40):
        clock.set(T0 + minutes(step))
        kit.tick()
        if step == 3:
            kit.acknowledge(sev1, by="alice")
        if step == 12:
            kit.post_update(sev2, "investigating", "on it", by="alice")
        if step == 20:
            kit.set_severity(sev4, Severity.SEV2, by="alice", reason="worse")
        check()


def test_a_resolved_incident_has_no_next_due_and_tick_ignores_it(
    kit: IncidentKit, clock: ManualClock, store: MemoryStore
) -> None:
    iid = kit.declare("API 500s", severity=Severity.SEV1, by="alice").id
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    clock.set(T0 + minutes(2))
    kit.resolve(iid, by="alice", force=True, reason="false alarm")
    # No on-call timer is left; the resolve's append created the review, and
    # the summary's next_due_at is the review's due date.
    assert next_due(kit.get(iid), kit.policy) is None
    assert kit.timeline(iid)[-1].event.tag == "reviews_created"
    assert kit.summary(iid).next_due_at == kit.reviews.get(iid).due_by
    version = store.version(iid)
    clock.set(T0 + minutes(120))
    report = kit.tick()
    assert report.fired == ()
    assert store.version(iid) == version


def test_tick_with_no_incidents(kit: IncidentKit) -> None:
    report = kit.tick()
    assert (report.checked, report.fired, dict(report.failures)) == (0, (), {})


def test_a_fixed_offset_now_is_evaluated_as_the_same_instant(kit: IncidentKit) -> None:
    kit.declare("API 500s", severity=Severity.SEV1, by="alice")
    at = (T0 + minutes(5)).astimezone(timezone(timedelta(hours=-8)))
    report = kit.tick(at)
    assert report.at == T0 + minutes(5) and report.at.utcoffset() == timedelta(0)
    assert timer_keys(report.fired)[0] == "escalation:sev1:1:0"


def test_sqlite_store_and_memory_store_tick_alike(tmp_path: Path) -> None:
    def run(kit: IncidentKit, clock: ManualClock) -> list[list[str]]:
        kit.declare("API 500s", severity=Severity.SEV1, by="alice", incident_id="INC-1")
        out = []
        for step in range(1, 30):
            clock.set(T0 + minutes(3 * step))
            out.append(timer_keys(kit.tick().fired))
        return out

    policy = scheduled_policy()
    clock_a, clock_b = ManualClock(T0), ManualClock(T0)
    memory = IncidentKit(MemoryStore(), policy, clock_a, autoload_plugins=False)
    sqlite = IncidentKit(SqliteStore(tmp_path / "x.db"), policy, clock_b, autoload_plugins=False)
    assert run(memory, clock_a) == run(sqlite, clock_b)
    sqlite.shutdown()
