"""Exactly once across replicas: processes on one SQLite file or one PostgreSQL database,
threads on one store. Each replica ticks every 30 s of a simulated hour on its own clock."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore, Store
from incidentkit.store.sqlite import SqliteStore
from incidentkit.timers import due_events

from . import _replica
from ._helpers import T0, minutes, scheduled_policy, timer_keys

INCIDENTS: list[tuple[str, Severity, timedelta]] = [
    ("INC-S1-A", Severity.SEV1, minutes(0)),
    ("INC-S1-B", Severity.SEV1, minutes(2)),
    ("INC-S1-C", Severity.SEV1, minutes(7)),
    ("INC-S1-ACK", Severity.SEV1, minutes(1)),
    ("INC-S2-A", Severity.SEV2, minutes(0)),
    ("INC-S2-B", Severity.SEV2, minutes(11)),
    ("INC-S3", Severity.SEV3, minutes(3)),
]
"""Declared ``ago`` before T0, when the replicas start ticking."""


def declare_all(kit: IncidentKit, clock: ManualClock) -> list[str]:
    for incident_id, severity, ago in INCIDENTS:
        clock.set(T0 - ago)
        kit.declare(incident_id, severity=severity, by="alice", incident_id=incident_id)
    clock.set(T0)
    kit.acknowledge("INC-S1-ACK", by="alice")
    return [incident_id for incident_id, _, _ in INCIDENTS]


def reference_run() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """What one replica alone records over the same hour, and what its ticks report."""
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), scheduled_policy(), clock, autoload_plugins=False)
    ids = declare_all(kit, clock)
    report = _replica.tick_through(kit, clock)
    recorded = {iid: set(timer_keys(kit.timeline(iid))) for iid in ids}
    ticked = {iid: {k for i, k in report["fired"] if i == iid} for iid in ids}
    return recorded, ticked


def reference_keys() -> dict[str, set[str]]:
    return reference_run()[0]


def check_exactly_once(store: Store, reports: list[dict[str, Any]]) -> None:
    kit = IncidentKit(store, scheduled_policy(), ManualClock(T0), autoload_plugins=False)
    expected, ticked = reference_run()
    end = _replica.instants()[-1]
    reported = Counter(pair for report in reports for pair in report["fired"])
    for incident_id, want in expected.items():
        rows = store.load(incident_id)
        assert [r.version for r in rows] == list(range(1, len(rows) + 1)), incident_id
        assert kit.verify(incident_id).ok, incident_id
        keys = timer_keys(kit.timeline(incident_id))
        assert Counter(keys) == Counter(want), incident_id  # each once, none missing
        assert {k for (i, k) in reported if i == incident_id} == ticked[incident_id]
        assert due_events(kit.get(incident_id), kit.policy, end) == []
    assert all(n == 1 for n in reported.values()), reported.most_common(3)


def test_the_reference_run_fires_what_the_guide_says() -> None:
    keys = reference_keys()
    assert keys["INC-S1-A"] == {
        "escalation:sev1:0:0",
        "escalation:sev1:1:0",
        "target:response",
        "target:phase:assess",
        "target:phase:mitigate",
        "target:phase:resolve",
        *(f"reminder:{T0.isoformat()}:{w}" for w in (1, 2, 3, 4)),
    }
    assert "escalation:sev1:1:0" not in keys["INC-S1-ACK"]
    assert "target:response" not in keys["INC-S1-ACK"]
    assert {k for k in keys["INC-S2-A"] if k.startswith("reminder")} == {
        f"reminder:{T0.isoformat()}:{w}" for w in (1, 2)
    }
    assert {k for k in keys["INC-S3"] if k.startswith("escalation")} == {"escalation:sev3:0:0"}


def run_processes(url: str, lockstep: bool, count: int = 2) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_replica.process_replica, args=(url, barrier, results, lockstep))
        for _ in range(count)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    errors = [r["error"] for r in reports if "error" in r]
    assert errors == []
    return reports


@pytest.mark.slow
@pytest.mark.parametrize("lockstep", [True, False], ids=["lockstep", "free-running"])
def test_two_processes_on_one_sqlite_file(tmp_path: Path, lockstep: bool) -> None:
    url = f"sqlite:///{tmp_path}/incidents.db"
    clock = ManualClock(T0)
    with IncidentKit.open(
        url, policy=scheduled_policy(), clock=clock, autoload_plugins=False
    ) as kit:
        declare_all(kit, clock)
    reports = run_processes(url, lockstep)
    store = SqliteStore(tmp_path / "incidents.db")
    try:
        check_exactly_once(store, reports)
    finally:
        store.close()


@pytest.fixture
def postgres_url(postgres_dsn: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema (dropped afterwards)."""
    import psycopg

    schema = f"incidentkit_timers_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_dsn else "?"
    try:
        yield f"{postgres_dsn}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("lockstep", [True, False], ids=["lockstep", "free-running"])
def test_two_processes_on_one_postgres_database(postgres_url: str, lockstep: bool) -> None:
    from incidentkit.store.postgres import PostgresStore

    clock = ManualClock(T0)
    with IncidentKit.open(
        postgres_url, policy=scheduled_policy(), clock=clock, autoload_plugins=False
    ) as kit:
        declare_all(kit, clock)
    reports = run_processes(postgres_url, lockstep)
    store = PostgresStore(postgres_url)
    try:
        check_exactly_once(store, reports)
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_two_threads_with_their_own_kits_on_one_store(tmp_path: Path, backend: str) -> None:
    store: Store = MemoryStore() if backend == "memory" else SqliteStore(tmp_path / "x.db")
    clock = ManualClock(T0)
    declare_all(IncidentKit(store, scheduled_policy(), clock, autoload_plugins=False), clock)
    barrier = threading.Barrier(2)
    reports: list[dict[str, Any]] = []

    def replica() -> None:
        own = ManualClock(T0)
        kit = IncidentKit(store, scheduled_policy(), own, autoload_plugins=False)
        barrier.wait()
        reports.append(_replica.tick_through(kit, own, barrier))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 2
    check_exactly_once(store, reports)
    store.close()


def test_two_threads_sharing_one_kit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    clock = ManualClock(T0)
    kit = IncidentKit(store, scheduled_policy(), clock, autoload_plugins=False)
    declare_all(kit, clock)
    barrier = threading.Barrier(2)
    reports: list[dict[str, Any]] = []

    def replica() -> None:
        barrier.wait()
        reports.append(_replica.tick_through(kit, None, barrier))  # tick(at), no clock

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_exactly_once(store, reports)
    store.close()
