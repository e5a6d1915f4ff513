"""The review is created by the append that first reaches the trigger, once, across replicas."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

import incidentkit as ik
from incidentkit.review import ReviewConfig
from incidentkit.store import Store
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
StoreOpener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    """Another connection to one shared database (a SQLite file, a PostgreSQL schema)."""
    opened: list[Store] = []
    if request.param == "sqlite":
        from incidentkit.store.sqlite import SqliteStore

        def opener() -> Store:
            store = SqliteStore(tmp_path / "incidents.db")
            opened.append(store)
            return store
    else:
        from incidentkit.store.postgres import PostgresStore

        shared = request.getfixturevalue("postgres_store")
        dsn = request.getfixturevalue("postgres_dsn")

        def opener() -> Store:
            store = PostgresStore(dsn, schema=shared.schema)
            opened.append(store)
            return store

    yield opener
    for store in opened:
        store.close()


def _replica(store: Store, policy: ik.Policy | None = None) -> ik.IncidentKit:
    return ik.IncidentKit(
        store=store, policy=policy, clock=ik.ManualClock(T0), autoload_plugins=False
    )


def _ready(kit: ik.IncidentKit) -> str:
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice").id
    kit.assign_role(inc, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    return inc


def _tags(kit: ik.IncidentKit, incident_id: str) -> list[str]:
    return [r.event.tag for r in kit.timeline(incident_id)]


def test_two_replicas_resolving_at_once_create_one_review_in_the_resolve_append(
    open_store: StoreOpener,
) -> None:
    first, second = _replica(open_store()), _replica(open_store())
    inc = _ready(first)
    second.get(inc)  # both replicas have the incident cached
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def resolve(kit: ik.IncidentKit) -> None:
        barrier.wait()
        try:
            kit.resolve(inc, by="alice", force=True, reason="both replicas")
            outcomes.append("resolved")
        except ik.InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=resolve, args=(k,)) for k in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "resolved"]
    for kit in (first, second):
        kit.tick(T0 + timedelta(minutes=5))
    records = first.timeline(inc)
    created = [r for r in records if r.event.tag == "reviews_created"]
    assert len(created) == 1
    resolved = next(r for r in records if r.event.tag == "resolved")
    assert created[0].version == resolved.version + 1  # the same append: same instant
    assert created[0].recorded_at == resolved.recorded_at
    assert second.reviews.get(inc).trigger_at == resolved.recorded_at


def test_reopen_and_resolve_again_creates_no_second_review(open_store: StoreOpener) -> None:
    first, second = _replica(open_store()), _replica(open_store())
    inc = _ready(first)
    first.resolve(inc, by="alice", force=True, reason="r")
    assert _tags(first, inc)[-2:] == ["resolved", "reviews_created"]
    second.reopen(inc, by="alice", reason="errors again")
    first.resolve(inc, by="alice", force=True, reason="r")
    second.tick(T0 + timedelta(minutes=1))
    first.tick(T0 + timedelta(minutes=2))
    assert _tags(second, inc).count("reviews_created") == 1
    assert _tags(second, inc)[-1] == "resolved"


def test_closed_trigger_creates_the_review_in_the_close_append(open_store: StoreOpener) -> None:
    policy = attrs.evolve(ik.Policy.default(), review=ReviewConfig(trigger=ik.Status.CLOSED))
    first = _replica(open_store(), policy)
    inc = _ready(first)
    first.resolve(inc, by="alice", force=True, reason="r")
    assert "reviews_created" not in _tags(first, inc)
    with pytest.raises(ik.NotFound, match="closed"):
        first.reviews.get(inc)
    _replica(open_store(), policy).close(inc, by="alice", reason="done", force=True)
    assert _tags(first, inc)[-2:] == ["closed", "reviews_created"]


def test_an_excluded_incident_never_gets_one(open_store: StoreOpener) -> None:
    policy = attrs.evolve(
        ik.Policy.default(),
        review=ReviewConfig(exclude_severities=frozenset({ik.Severity.SEV2})),
    )
    kit = _replica(open_store(), policy)
    inc = _ready(kit)
    kit.resolve(inc, by="alice", force=True, reason="r")
    kit.close(inc, by="alice", reason="done", force=True)
    kit.tick(T0 + timedelta(days=5))
    assert "reviews_created" not in _tags(kit, inc)
