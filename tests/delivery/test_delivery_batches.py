"""Batched delivery: one thread hop per run of notification rows, one completion per pass."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

import incidentkit as ik
from incidentkit._calls import run_batch_with_timeouts
from incidentkit.store import MemoryStore, OutboxState, Store
from incidentkit.store.sqlite import SqliteStore
from incidentkit.testing import SAMPLE_TIME
from incidentkit.testing.store_contract import make_events, make_message

T0 = SAMPLE_TIME
SHORT = timedelta(seconds=0.2)
LONG = timedelta(seconds=30)


def test_a_batch_runs_in_order_on_one_thread_and_reports_each_outcome() -> None:
    threads: list[int] = []

    def ok(value: int) -> Callable[[], int]:
        def call() -> int:
            threads.append(threading.get_ident())
            return value

        return call

    def boom() -> None:
        threads.append(threading.get_ident())
        raise ValueError("no")

    out = run_batch_with_timeouts([(ok(1), LONG), (boom, LONG), (ok(3), LONG)])
    assert [o[0] for o in out] == [True, False, True]
    assert (out[0][1], out[2][1]) == (1, 3) and isinstance(out[1][1], ValueError)
    assert len(set(threads)) == 1 and threading.get_ident() not in threads


def test_a_hung_call_times_out_alone_and_the_rest_still_run() -> None:
    release = threading.Event()
    seen: list[str] = []
    try:
        out = run_batch_with_timeouts(
            [
                (lambda: seen.append("a"), LONG),
                (lambda: release.wait(60), SHORT),
                (lambda: seen.append("c"), LONG),
            ]
        )
    finally:
        release.set()
    assert out[0] == (True, None) and out[2] == (True, None)
    assert out[1][0] is False and isinstance(out[1][1], TimeoutError)
    assert seen == ["a", "c"]


def test_a_bad_timeout_is_refused_naming_it() -> None:
    with pytest.raises(ik.ValidationError) as caught:
        run_batch_with_timeouts([(lambda: None, timedelta(0))])
    assert caught.value.field == "timeout"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def outbox_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / "batch.db")
        store.migrate()
        yield store
        store.close()
    else:
        yield request.getfixturevalue("postgres_store")


def test_complete_many_is_fenced_per_row_and_refuses_unknown_ids(outbox_store: Store) -> None:
    messages = [make_message(f"k{n}", "INC-1") for n in range(3)]
    outbox_store.append("INC-1", make_events("INC-1", 1, 1), 0, outbox=messages)
    rows = outbox_store.claim(T0 + timedelta(hours=1), 10, timedelta(minutes=5), "w1")
    ids = [row.id for row in rows]
    assert len(ids) == 3
    assert outbox_store.complete(ids[1], worker="w1")  # already done: the fence refuses it
    with pytest.raises(ik.NotFound):
        outbox_store.complete_many([ids[0], max(ids) + 1000], worker="w1")  # type: ignore[attr-defined]
    assert {r.id: r.state for r in outbox_store.outbox()}[ids[0]] is OutboxState.PENDING
    assert outbox_store.complete_many(ids, worker="w1") == [True, False, True]  # type: ignore[attr-defined]
    assert [r.state for r in outbox_store.outbox()] == [OutboxState.DONE] * 3
    assert outbox_store.complete_many([], worker="w1") == []  # type: ignore[attr-defined]


class _CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.singles = 0
        self._in_batch = False

    def complete_many(self, row_ids: Sequence[int], *, worker: str | None = None) -> list[bool]:
        self.batches.append(len(row_ids))
        self._in_batch = True
        try:
            return super().complete_many(row_ids, worker=worker)
        finally:
            self._in_batch = False

    def complete(self, row_id: int, *, worker: str | None = None) -> bool:
        self.singles += not self._in_batch
        return super().complete(row_id, worker=worker)


class _Notifier:
    name = "batch-notifier"

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.calls = 0

    def deliver(self, notification: ik.Notification) -> None:
        self.threads.add(threading.get_ident())
        self.calls += 1
        if "flaky" in notification.text:
            raise ik.TransientFailure("try later")

    @ik.hookimpl
    def incidentkit_notifiers(self) -> list[ik.NotifierSpec]:
        return [ik.NotifierSpec("batched", self.deliver)]


def test_deliver_completes_a_pass_in_one_call_and_retries_only_the_failures() -> None:
    store = _CountingStore()
    notifier = _Notifier()
    clock = ik.ManualClock(T0)
    kit = ik.IncidentKit(store=store, clock=clock, plugins=[notifier], autoload_plugins=False)
    for n in range(5):
        kit.declare(f"outage {n}", severity="SEV1", by="alice")
    kit.declare("flaky outage", severity="SEV1", by="alice")
    pages = [r for r in store.outbox() if r.topic == "notification"]
    assert len(pages) == 6
    report = kit.deliver(limit=100)
    assert (report.claimed, report.delivered, report.retried, report.dead) == (6, 5, 1, 0)
    assert store.batches == [5] and store.singles == 0
    assert notifier.calls == 6 and len(notifier.threads) == 1
    states = [r.state for r in store.outbox() if r.topic == "notification"]
    assert states.count(OutboxState.DONE) == 5 and states.count(OutboxState.PENDING) == 1
