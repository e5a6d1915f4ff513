"""The contract every :class:`~incidentkit.store.Store` must pass, as a pytest test class.

Subclass :class:`StoreContract` in a ``test_*.py`` module and provide a
``store`` fixture that yields a fresh, migrated store::

    import pytest
    from incidentkit.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(tmp_path / "db")
            store.migrate()
            yield store
            store.close()

        @pytest.fixture
        def store_factory(self, store):  # optional: more connections to the SAME database
            return functools.partial(MyStore, store.path)

With a ``store_factory`` (a picklable zero-argument callable), the
multi-writer tests also run with one connection per thread and one per
process. Set ``supports_processes = False`` on the subclass for stores that
live in one process (like ``memory://``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs
import pytest

from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    KeyTaken,
    StoreError,
    ValidationError,
)
from incidentkit.lifecycle import Status
from incidentkit.serialization import dumps
from incidentkit.severity import Severity
from incidentkit.store import (
    IncidentSummary,
    KeyClaim,
    KeyStore,
    MarkStore,
    OutboxMessage,
    OutboxRow,
    OutboxState,
    Store,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
)

__all__ = ["T0", "StoreContract", "make_events", "make_message", "make_summary"]

T0 = datetime(2024, 11, 20, 22, 30, 0, 123456, tzinfo=UTC)
"""The instant the contract's rows are stamped with (microseconds included on purpose)."""

StoreFactory = Callable[[], Store]


def make_events(
    incident_id: str,
    first_version: int,
    count: int,
    *,
    previous_hash: str = "",
    at: datetime = T0,
    note: str = "",
) -> list[StoredEvent]:
    """``count`` chained events of ``incident_id`` starting at ``first_version``."""
    events: list[StoredEvent] = []
    digest = previous_hash
    for offset in range(count):
        version = first_version + offset
        payload = dumps({"note": note or f"event {version}", "version": version})
        digest = hashlib.sha256((digest + payload).encode()).hexdigest()
        events.append(
            StoredEvent(
                incident_id=incident_id,
                version=version,
                tag="note_added",
                payload=payload,
                recorded_at=at + timedelta(seconds=version),
                hash=digest,
            )
        )
    return events


def make_message(
    key: str,
    incident_id: str,
    *,
    available_at: datetime = T0,
    payload: str = '{"text":"page"}',
    target: str = "pager",
) -> OutboxMessage:
    """An outbox message for the contract's tests."""
    return OutboxMessage(
        key=key,
        incident_id=incident_id,
        topic="notification",
        target=target,
        payload=payload,
        available_at=available_at,
    )


def make_summary(incident_id: str, version: int, **changes: Any) -> IncidentSummary:
    """A summary with sensible defaults; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "incident_id": incident_id,
        "version": version,
        "title": f"incident {incident_id}",
        "status": Status.DECLARED,
        "severity": Severity.SEV2,
        "services": ("api",),
        "declared_at": T0,
    }
    fields.update(changes)
    return IncidentSummary(**fields)


def append_with_retry(store: Store, incident_id: str, note: str, *, batch: int = 1) -> int:
    """Append ``batch`` events after reading the head, retrying on conflict; return the version."""
    while True:
        head = store.version(incident_id)
        events = make_events(incident_id, head + 1, batch, note=note)
        try:
            store.append(incident_id, events, head)
        except ConcurrencyConflict as conflict:
            assert conflict.actual > head or conflict.actual != conflict.expected
            continue
        return events[-1].version


def _process_writer(factory: StoreFactory, incident_id: str, writer: int, count: int) -> None:
    """Child-process body of the multi-process test (module level so spawn can import it)."""
    store = factory()
    try:
        for n in range(count):
            append_with_retry(store, incident_id, f"p{writer}-{n}")
    finally:
        store.close()


def _notes(events: list[StoredEvent]) -> list[str]:
    import json

    return [json.loads(e.payload)["note"] for e in events]


class StoreContract:
    """The shared test cases; subclass it and provide a ``store`` fixture."""

    supports_processes: ClassVar[bool] = True
    """Set to ``False`` when the store cannot be shared between processes."""

    writers: ClassVar[int] = 4
    appends_per_writer: ClassVar[int] = 10

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """Override: yield a fresh, migrated store."""
        pytest.fail("subclass StoreContract and define a `store` fixture")
        yield  # pragma: no cover

    @pytest.fixture
    def store_factory(self) -> StoreFactory | None:
        """Override (optional): a picklable callable opening another connection to the same DB."""
        return None

    # -- basic reads and writes ---------------------------------------------

    def test_satisfies_the_protocol(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert isinstance(store.url, str) and store.url

    # -- unique open keys (KeyStore) ------------------------------------------

    @staticmethod
    def _keys(store: Store) -> KeyStore:
        if not isinstance(store, KeyStore):
            pytest.skip("the store holds no unique open keys (not a KeyStore)")
        return store

    def test_a_claimed_key_is_held_by_one_incident(self, store: Store) -> None:
        keys = self._keys(store)
        keys.append("INC-1", make_events("INC-1", 1, 1), 0, keys=[KeyClaim("alert", "K", "INC-1")])
        assert keys.key_holder("alert", "K") == "INC-1"
        assert keys.key_holder("alert", "k") is None  # case-sensitive
        assert keys.key_holder("other", "K") is None  # namespaced
        with pytest.raises(KeyTaken) as caught:
            keys.append(
                "INC-2", make_events("INC-2", 1, 1), 0, keys=[KeyClaim("alert", "K", "INC-2")]
            )
        assert (caught.value.key, caught.value.holder) == ("K", "INC-1")
        assert keys.load("INC-2") == [] and keys.version("INC-2") == 0  # nothing written
        # claiming a key the incident holds again is a no-op
        second = make_events("INC-1", 2, 1, previous_hash=keys.load("INC-1")[-1].hash)
        keys.append("INC-1", second, 1, keys=[KeyClaim("alert", "K", "INC-1")])
        assert keys.version("INC-1") == 2

    def test_a_released_key_can_be_claimed_again_and_is_remembered(self, store: Store) -> None:
        keys = self._keys(store)
        keys.append("INC-1", make_events("INC-1", 1, 1), 0, keys=[KeyClaim("alert", "K", "INC-1")])
        head = keys.load("INC-1")[-1].hash
        release = KeyClaim("alert", "K", "INC-1", release=True)
        keys.append("INC-1", make_events("INC-1", 2, 1, previous_hash=head), 1, keys=[release])
        assert keys.key_holder("alert", "K") is None
        assert keys.key_holder("alert", "K", released=True) == "INC-1"
        keys.append("INC-2", make_events("INC-2", 1, 1), 0, keys=[KeyClaim("alert", "K", "INC-2")])
        assert keys.key_holder("alert", "K") == "INC-2"
        assert keys.key_holder("alert", "K", released=True) == "INC-2"

    def test_a_refused_claim_writes_nothing_of_the_append(self, store: Store) -> None:
        keys = self._keys(store)
        keys.append("INC-1", make_events("INC-1", 1, 1), 0, keys=[KeyClaim("alert", "K", "INC-1")])
        claims = [KeyClaim("alert", "J", "INC-2"), KeyClaim("alert", "K", "INC-2")]
        with pytest.raises(KeyTaken):
            keys.append(
                "INC-2",
                make_events("INC-2", 1, 2),
                0,
                [make_message("m-2", "INC-2")],
                make_summary("INC-2", 2),
                keys=claims,
            )
        assert keys.key_holder("alert", "J") is None
        assert keys.outbox("INC-2") == [] and keys.summary("INC-2") is None

    def test_a_refused_claim_keeps_the_keys_released_before_it(self, store: Store) -> None:
        keys = self._keys(store)
        held = [KeyClaim("alert", "J", "INC-1"), KeyClaim("alert", "M", "INC-1")]
        keys.append("INC-1", make_events("INC-1", 1, 1), 0, keys=held)
        keys.append("INC-2", make_events("INC-2", 1, 1), 0, keys=[KeyClaim("alert", "K", "INC-2")])
        head = keys.load("INC-1")[-1].hash
        claims = [
            KeyClaim("alert", "J", "INC-1", release=True),
            KeyClaim("alert", "L", "INC-1"),
            KeyClaim("alert", "K", "INC-1"),  # held by INC-2: the whole append is refused
        ]
        with pytest.raises(KeyTaken):
            keys.append("INC-1", make_events("INC-1", 2, 1, previous_hash=head), 1, keys=claims)
        assert keys.key_holder("alert", "J") == "INC-1"
        assert keys.key_holder("alert", "L") is None
        assert keys.key_holder("alert", "M") == "INC-1"
        assert keys.version("INC-1") == 1

    def test_claims_in_one_append_apply_in_order(self, store: Store) -> None:
        keys = self._keys(store)
        claims = [
            KeyClaim("alert", "A", "INC-1"),
            KeyClaim("alert", "A", "INC-1", release=True),  # claimed, then let go
            KeyClaim("alert", "B", "INC-1"),
        ]
        keys.append("INC-1", make_events("INC-1", 1, 1), 0, keys=claims)
        assert keys.key_holder("alert", "A") is None
        assert keys.key_holder("alert", "A", released=True) == "INC-1"
        assert keys.key_holder("alert", "B") == "INC-1"
        head = keys.load("INC-1")[-1].hash
        again = [
            KeyClaim("alert", "B", "INC-1", release=True),
            KeyClaim("alert", "B", "INC-1"),  # let go, then claimed again
        ]
        keys.append("INC-1", make_events("INC-1", 2, 1, previous_hash=head), 1, keys=again)
        assert keys.key_holder("alert", "B") == "INC-1"

    @pytest.mark.parametrize(
        ("claim", "field"),
        [
            (KeyClaim("", "K", "INC-1"), "keys[0].namespace"),
            (KeyClaim("alert", "", "INC-1"), "keys[0].key"),
            (KeyClaim("alert", "x" * 401, "INC-1"), "keys[0].key"),
            (KeyClaim("alert", "K", "INC-9"), "keys[0].incident_id"),
            ("K", "keys[0]"),
        ],
    )
    def test_bad_claims_name_the_field(self, store: Store, claim: Any, field: str) -> None:
        keys = self._keys(store)
        with pytest.raises(ValidationError) as caught:
            keys.append("INC-1", make_events("INC-1", 1, 1), 0, keys=[claim])
        assert caught.value.field == field
        assert keys.version("INC-1") == 0

    def test_concurrent_claims_of_one_key_leave_one_holder(self, store: Store) -> None:
        keys = self._keys(store)
        barrier = threading.Barrier(8)
        won: list[str] = []
        taken: list[str] = []

        def claim(n: int) -> None:
            incident = f"INC-{n}"
            barrier.wait()
            try:
                keys.append(
                    incident, make_events(incident, 1, 1), 0, keys=[KeyClaim("a", "K", incident)]
                )
            except KeyTaken as err:
                taken.append(err.holder)
            else:
                won.append(incident)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1 and len(taken) == 7
        assert set(taken) <= {won[0], "(released since)"}
        assert keys.key_holder("a", "K") == won[0]
        assert [i for i in keys.incident_ids()] == won

    # -- marks (MarkStore) -----------------------------------------------------

    @staticmethod
    def _marks(store: Store) -> MarkStore:
        if not isinstance(store, MarkStore):
            pytest.skip("the store keeps no marks (not a MarkStore)")
        return store

    def test_a_mark_is_written_only_from_the_expected_value(self, store: Store) -> None:
        marks = self._marks(store)
        assert marks.mark("heartbeat", "nightly") is None
        assert marks.put_mark("heartbeat", "nightly", "1", expected=None)
        assert not marks.put_mark("heartbeat", "nightly", "2", expected=None)  # exists now
        assert not marks.put_mark("heartbeat", "nightly", "3", expected="0")  # stale
        assert marks.mark("heartbeat", "nightly") == "1"
        assert marks.put_mark("heartbeat", "nightly", "4", expected="1")
        assert marks.mark("heartbeat", "nightly") == "4"
        assert marks.mark("heartbeat", "Nightly") is None  # case-sensitive
        assert marks.mark("silence", "nightly") is None  # namespaced

    def test_marks_list_one_namespace_and_touch_no_incident(self, store: Store) -> None:
        marks = self._marks(store)
        for name in ("b", "a/x", "c"):
            assert marks.put_mark("heartbeat", name, f"v-{name}", expected=None)
        assert marks.put_mark("heartbeats", "z", "other", expected=None)
        assert marks.marks("heartbeat") == {"a/x": "v-a/x", "b": "v-b", "c": "v-c"}
        assert marks.marks("silence") == {}
        assert marks.incident_ids() == [] and marks.outbox() == []
        marks.migrate()  # the schema version is no mark, and migrating keeps the marks
        assert marks.mark("heartbeat", "b") == "v-b"

    @pytest.mark.parametrize(
        ("namespace", "name", "value", "field"),
        [
            ("", "n", "v", "namespace"),
            ("Heart", "n", "v", "namespace"),
            ("a/b", "n", "v", "namespace"),
            ("heartbeat", "", "v", "name"),
            ("heartbeat", "x" * 401, "v", "name"),
            ("heartbeat", "n", 5, "value"),
            ("heartbeat", "n", "a\0b", "value"),
        ],
    )
    def test_bad_marks_name_the_field(
        self, store: Store, namespace: Any, name: Any, value: Any, field: str
    ) -> None:
        marks = self._marks(store)
        with pytest.raises(ValidationError) as caught:
            marks.put_mark(namespace, name, value, expected=None)
        assert caught.value.field == field
        assert marks.marks("heartbeat") == {}

    def test_concurrent_compare_and_set_has_one_winner(self, store: Store) -> None:
        marks = self._marks(store)
        assert marks.put_mark("heartbeat", "x", "healthy", expected=None)
        barrier = threading.Barrier(8)
        won: list[int] = []

        def flip(n: int) -> None:
            barrier.wait()
            if marks.put_mark("heartbeat", "x", f"unhealthy-{n}", expected="healthy"):
                won.append(n)

        threads = [threading.Thread(target=flip, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        assert marks.mark("heartbeat", "x") == f"unhealthy-{won[0]}"

    def test_append_then_load_round_trips(self, store: Store) -> None:
        events = make_events("INC-1", 1, 3)
        summary = make_summary(
            "INC-1", 3, next_due_at=T0 + timedelta(minutes=5), head_hash=events[-1].hash
        )
        store.append("INC-1", events, 0, [make_message("k1", "INC-1")], summary)
        loaded = store.load("INC-1")
        assert loaded == events
        assert all(e.recorded_at.utcoffset() == timedelta(0) for e in loaded)
        assert store.load("INC-1", after_version=1) == events[1:]
        assert store.load("INC-1", after_version=3) == []
        assert store.version("INC-1") == 3
        assert store.summary("INC-1") == summary
        assert store.incident_ids() == ["INC-1"]
        [row] = store.outbox("INC-1")
        assert (row.key, row.state, row.attempts) == ("k1", OutboxState.PENDING, 0)
        assert row.available_at == T0 and row.lease_until is None

    def test_a_large_batch_round_trips_in_order(self, store: Store) -> None:
        """1,201 events and outbox rows in one append (a store may split its statements)."""
        events = make_events("INC-1", 1, 1201)
        rows = [make_message(f"k{n:04d}", "INC-1", payload=f'{{"n":{n}}}') for n in range(1201)]
        store.append("INC-1", events, 0, [*rows, make_message("k0000", "INC-1")])
        assert store.load("INC-1") == events
        assert [(r.key, r.payload) for r in store.outbox("INC-1")] == [
            (m.key, m.payload) for m in rows
        ]
        with pytest.raises(ConcurrencyConflict):
            store.append("INC-1", make_events("INC-1", 1201, 600), 1200)
        assert store.load("INC-1") == events

    def test_non_utc_input_is_the_same_instant(self, store: Store) -> None:
        plus_two = timezone(timedelta(hours=2))
        [event] = make_events("INC-1", 1, 1, at=T0.astimezone(plus_two))
        store.append("INC-1", [event], 0)
        [loaded] = store.load("INC-1")
        assert loaded.recorded_at == event.recorded_at

    def test_appends_continue_from_the_expected_version(self, store: Store) -> None:
        first = make_events("INC-1", 1, 2)
        second = make_events("INC-1", 3, 2, previous_hash=first[-1].hash)
        store.append("INC-1", first, 0)
        store.append("INC-1", second, 2)
        assert store.load("INC-1") == first + second
        assert store.version("INC-1") == 4

    def test_incidents_are_independent(self, store: Store) -> None:
        store.append("INC-2", make_events("INC-2", 1, 1), 0)
        store.append("INC-1", make_events("INC-1", 1, 2), 0)
        assert store.incident_ids() == ["INC-1", "INC-2"]
        assert [store.version("INC-1"), store.version("INC-2")] == [2, 1]

    def test_unknown_incident_is_empty(self, store: Store) -> None:
        assert store.load("nope") == []
        assert store.version("nope") == 0
        assert store.summary("nope") is None
        assert store.outbox("nope") == []
        assert store.incident_ids() == []

    def test_migrate_is_idempotent(self, store: Store) -> None:
        store.append("INC-1", make_events("INC-1", 1, 1), 0)
        store.migrate()
        store.migrate()
        assert store.version("INC-1") == 1

    def test_summary_is_replaced_by_the_next_append(self, store: Store) -> None:
        store.append("INC-1", make_events("INC-1", 1, 1), 0, summary=make_summary("INC-1", 1))
        later = make_summary(
            "INC-1", 2, status=Status.RESOLVED, services=("db",), resolved_at=T0 + timedelta(1)
        )
        store.append("INC-1", make_events("INC-1", 2, 1), 1, summary=later)
        assert store.summary("INC-1") == later
        assert store.summaries(SummaryQuery(service="api")) == []
        assert store.summaries(SummaryQuery(service="db")) == [later]

    def test_append_without_events_still_checks_the_version(self, store: Store) -> None:
        store.append("INC-1", make_events("INC-1", 1, 1), 0)
        store.append("INC-1", [], 1, [make_message("k1", "INC-1")])
        assert [r.key for r in store.outbox()] == ["k1"]
        with pytest.raises(ConcurrencyConflict):
            store.append("INC-1", [], 0, [make_message("k2", "INC-1")])
        assert [r.key for r in store.outbox()] == ["k1"]

    def test_closed_store_refuses_work(self, store: Store) -> None:
        store.close()
        with pytest.raises(StoreError):
            store.append("INC-1", make_events("INC-1", 1, 1), 0)
        with pytest.raises(StoreError):
            store.load("INC-1")

    # -- the version check ----------------------------------------------------

    def test_conflict_writes_nothing(self, store: Store) -> None:
        events = make_events("INC-1", 1, 2)
        summary = make_summary("INC-1", 2)
        store.append("INC-1", events, 0, [make_message("k1", "INC-1")], summary)
        before = (store.load("INC-1"), store.outbox(), store.summary("INC-1"))

        rival = make_events("INC-1", 2, 2, note="rival")
        with pytest.raises(ConcurrencyConflict) as caught:
            store.append(
                "INC-1",
                rival,
                1,
                [make_message("k2", "INC-1")],
                make_summary("INC-1", 3, title="rival"),
            )
        assert (caught.value.incident_id, caught.value.expected, caught.value.actual) == (
            "INC-1",
            1,
            2,
        )
        assert (store.load("INC-1"), store.outbox(), store.summary("INC-1")) == before

    def test_expecting_a_version_ahead_of_the_head_conflicts(self, store: Store) -> None:
        store.append("INC-1", make_events("INC-1", 1, 1), 0)
        with pytest.raises(ConcurrencyConflict) as caught:
            store.append("INC-1", make_events("INC-1", 6, 1), 5, [make_message("k", "INC-1")])
        assert (caught.value.expected, caught.value.actual) == (5, 1)
        assert store.version("INC-1") == 1
        assert store.outbox() == []

    def test_first_append_with_a_nonzero_expectation_conflicts(self, store: Store) -> None:
        with pytest.raises(ConcurrencyConflict) as caught:
            store.append("INC-1", make_events("INC-1", 3, 1), 2)
        assert caught.value.actual == 0
        assert store.load("INC-1") == []

    @pytest.mark.parametrize(
        "versions",
        [(1, 1), (1, 2, 4), (2, 3), (1, 3, 2)],
        ids=["duplicate", "gap", "wrong-start", "out-of-order"],
    )
    def test_a_batch_whose_versions_collide_writes_nothing(
        self, store: Store, versions: tuple[int, ...]
    ) -> None:
        pool = {e.version: e for e in make_events("INC-1", 1, 4)}
        batch = [pool[v] for v in versions]
        with pytest.raises((StoreError, ConcurrencyConflict)):
            store.append("INC-1", batch, 0, [make_message("k1", "INC-1")], make_summary("INC-1", 1))
        assert store.load("INC-1") == []
        assert store.version("INC-1") == 0
        assert store.outbox() == []
        assert store.summary("INC-1") is None
        assert store.incident_ids() == []

    def test_a_batch_naming_another_incident_writes_nothing(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.append("INC-1", make_events("INC-2", 1, 1), 0, [make_message("k", "INC-1")])
        assert store.incident_ids() == [] and store.outbox() == []

    def test_failed_unit_of_work_after_earlier_commits_leaves_them_intact(
        self, store: Store
    ) -> None:
        good = make_events("INC-1", 1, 2)
        store.append("INC-1", good, 0, [make_message("k1", "INC-1")], make_summary("INC-1", 2))
        bad = make_events("INC-1", 3, 3)
        with pytest.raises(StoreError):
            store.append(
                "INC-1",
                [bad[0], bad[2]],
                2,
                [make_message("k2", "INC-1")],
                make_summary("INC-1", 5, title="bad"),
            )
        assert store.load("INC-1") == good
        assert [r.key for r in store.outbox()] == ["k1"]
        summary = store.summary("INC-1")
        assert summary is not None and summary.version == 2

    # -- several writers --------------------------------------------------------

    def _check_contiguous(self, store: Store, incident_id: str, expected_notes: set[str]) -> None:
        events = store.load(incident_id)
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        notes = _notes(events)
        assert Counter(notes) == Counter(expected_notes)  # nothing lost, nothing twice
        assert store.version(incident_id) == len(expected_notes)

    def _race_threads(self, stores: list[Store], check: Store) -> None:
        errors: list[BaseException] = []
        start = threading.Barrier(len(stores))

        def work(index: int, store: Store) -> None:
            try:
                start.wait()
                for n in range(self.appends_per_writer):
                    append_with_retry(store, "INC-1", f"t{index}-{n}")
            except BaseException as err:  # collected and re-raised below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        expected = {f"t{i}-{n}" for i in range(len(stores)) for n in range(self.appends_per_writer)}
        self._check_contiguous(check, "INC-1", expected)

    def test_threads_sharing_one_store_lose_nothing(self, store: Store) -> None:
        self._race_threads([store] * self.writers, store)

    def test_threads_with_their_own_connections_lose_nothing(
        self, store: Store, store_factory: StoreFactory | None
    ) -> None:
        if store_factory is None:
            pytest.skip("no store_factory fixture: one connection only")
        stores = [store_factory() for _ in range(self.writers)]
        try:
            self._race_threads(stores, store)
        finally:
            for s in stores:
                s.close()

    @pytest.mark.slow
    def test_processes_lose_nothing(self, store: Store, store_factory: StoreFactory | None) -> None:
        if not self.supports_processes or not getattr(store, "supports_processes", True):
            pytest.skip("this store lives in one process")
        if store_factory is None:
            pytest.skip("no store_factory fixture to open the database in a child process")
        context = multiprocessing.get_context("spawn")
        count, writers = 6, 3
        procs = [
            context.Process(target=_process_writer, args=(store_factory, "INC-1", w, count))
            for w in range(writers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        assert [p.exitcode for p in procs] == [0] * writers
        expected = {f"p{w}-{n}" for w in range(writers) for n in range(count)}
        self._check_contiguous(store, "INC-1", expected)

    # -- command ids ----------------------------------------------------------

    def test_a_command_is_stored_with_its_events(self, store: Store) -> None:
        command = StoredCommand("cmd-1", "INC-1", "add_note", 2, 2)
        store.append("INC-1", make_events("INC-1", 1, 2), 0, command=command)
        assert store.command("cmd-1") == command
        assert store.command("cmd-2") is None

    def test_a_second_append_of_a_command_writes_nothing(self, store: Store) -> None:
        first = make_events("INC-1", 1, 1)
        store.append("INC-1", first, 0, command=StoredCommand("cmd-1", "INC-1", "a", 1, 1))
        # the right version, and another incident: only the command id refuses them
        for incident_id, expected in (("INC-1", 1), ("INC-2", 0)):
            with pytest.raises(DuplicateCommand) as caught:
                store.append(
                    incident_id,
                    make_events(incident_id, expected + 1, 2),
                    expected,
                    [make_message(f"k-{incident_id}", incident_id)],
                    make_summary(incident_id, expected + 2),
                    StoredCommand("cmd-1", incident_id, "a", expected + 2, 2),
                )
            assert caught.value.command_id == "cmd-1"
        assert store.load("INC-1") == first and store.load("INC-2") == []
        assert store.outbox() == [] and store.summary("INC-2") is None
        assert store.command("cmd-1") == StoredCommand("cmd-1", "INC-1", "a", 1, 1)

    def test_a_duplicate_command_is_reported_before_a_stale_version(self, store: Store) -> None:
        store.append(
            "INC-1", make_events("INC-1", 1, 1), 0, command=StoredCommand("c", "INC-1", "a", 1, 1)
        )
        with pytest.raises(DuplicateCommand):
            store.append(
                "INC-1",
                make_events("INC-1", 1, 1),
                0,
                command=StoredCommand("c", "INC-1", "a", 1, 1),
            )

    def test_a_conflicting_append_stores_no_command(self, store: Store) -> None:
        store.append("INC-1", make_events("INC-1", 1, 1), 0)
        with pytest.raises(ConcurrencyConflict):
            store.append(
                "INC-1",
                make_events("INC-1", 1, 1),
                0,
                command=StoredCommand("c", "INC-1", "a", 1, 1),
            )
        assert store.command("c") is None
        store.append(
            "INC-1", make_events("INC-1", 2, 1), 1, command=StoredCommand("c", "INC-1", "a", 2, 1)
        )
        assert store.command("c") == StoredCommand("c", "INC-1", "a", 2, 1)

    @pytest.mark.parametrize(
        ("command", "field"),
        [
            (StoredCommand("", "INC-1", "a", 1, 1), "command.command_id"),
            (StoredCommand("x" * 201, "INC-1", "a", 1, 1), "command.command_id"),
            (StoredCommand("c\0", "INC-1", "a", 1, 1), "command.command_id"),
            (StoredCommand("c\ud800", "INC-1", "a", 1, 1), "command.command_id"),
            (StoredCommand("c", "INC-2", "a", 1, 1), "command.incident_id"),
            (StoredCommand("c", "INC-1", "", 1, 1), "command.action"),
            (StoredCommand("c", "INC-1", "a", 2, 1), "command.version"),
            (StoredCommand("c", "INC-1", "a", 1, 2), "command.version"),
        ],
    )
    def test_a_command_that_does_not_describe_the_append_is_refused(
        self, store: Store, command: StoredCommand, field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            store.append("INC-1", make_events("INC-1", 1, 1), 0, command=command)
        assert caught.value.field == field
        assert store.load("INC-1") == [] and store.command("c") is None

    def test_racing_appends_of_one_command_write_it_once(
        self, store: Store, store_factory: StoreFactory | None
    ) -> None:
        """Writers on different incidents, one command id: the unique key lets one through."""
        stores = [store_factory() for _ in range(self.writers)] if store_factory else []
        writers = stores or [store] * self.writers
        barrier = threading.Barrier(len(writers))
        outcomes: list[str] = []

        def write(n: int, target: Store) -> None:
            incident_id = f"INC-{n}"
            barrier.wait()
            try:
                target.append(
                    incident_id,
                    make_events(incident_id, 1, 1),
                    0,
                    command=StoredCommand("shared", incident_id, "a", 1, 1),
                )
                outcomes.append("written")
            except DuplicateCommand:
                outcomes.append("duplicate")
            except BaseException as err:  # reported below
                outcomes.append(repr(err))

        threads = [
            threading.Thread(target=write, args=(n, target)) for n, target in enumerate(writers)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for s in stores:
                s.close()
        assert sorted(outcomes) == ["duplicate"] * (len(writers) - 1) + ["written"]
        found = store.command("shared")
        assert found is not None
        assert store.incident_ids() == [found.incident_id]

    # -- outbox -----------------------------------------------------------------

    def test_duplicate_outbox_keys_are_ignored(self, store: Store) -> None:
        first = make_message("same", "INC-1", payload='{"n":1}')
        store.append("INC-1", make_events("INC-1", 1, 1), 0, [first, make_message("same", "INC-1")])
        store.append(
            "INC-1", make_events("INC-1", 2, 1), 1, [make_message("same", "INC-1", payload="x")]
        )
        [row] = store.outbox()
        assert (row.key, row.payload) == ("same", '{"n":1}')
        assert store.version("INC-1") == 2

    def test_outbox_rows_keep_their_order_and_filter_by_incident(self, store: Store) -> None:
        store.append("INC-1", make_events("INC-1", 1, 1), 0, [make_message("a", "INC-1")])
        store.append("INC-2", make_events("INC-2", 1, 1), 0, [make_message("b", "INC-2")])
        store.append("INC-1", make_events("INC-1", 2, 1), 1, [make_message("c", "INC-1")])
        rows = store.outbox()
        assert [r.key for r in rows] == ["a", "b", "c"]
        assert [r.id for r in rows] == sorted(r.id for r in rows)
        assert [r.key for r in store.outbox("INC-1")] == ["a", "c"]

    def _enqueue(self, store: Store, count: int, available_at: datetime = T0) -> list[str]:
        keys = [f"k{n:03d}" for n in range(count)]
        store.append(
            "INC-1",
            make_events("INC-1", 1, 1),
            0,
            [make_message(k, "INC-1", available_at=available_at) for k in keys],
        )
        return keys

    def test_claim_leases_due_rows_in_order(self, store: Store) -> None:
        keys = self._enqueue(store, 5)
        claimed = store.claim(T0, 3, timedelta(seconds=30), "w1")
        assert [r.key for r in claimed] == keys[:3]
        assert all(r.attempts == 1 and r.lease_until == T0 + timedelta(seconds=30) for r in claimed)
        assert [r.key for r in store.claim(T0, 10, timedelta(seconds=30), "w2")] == keys[3:]
        assert store.claim(T0, 10, timedelta(seconds=30), "w3") == []

    def test_rows_are_not_claimed_before_they_are_due(self, store: Store) -> None:
        self._enqueue(store, 1, available_at=T0 + timedelta(minutes=5))
        assert store.claim(T0 + timedelta(minutes=4), 10, timedelta(seconds=30), "w") == []
        [row] = store.claim(T0 + timedelta(minutes=5), 10, timedelta(seconds=30), "w")
        assert row.attempts == 1

    def test_each_row_goes_to_exactly_one_of_several_claimers(
        self, store: Store, store_factory: StoreFactory | None
    ) -> None:
        keys = self._enqueue(store, 40)
        stores = [store_factory() for _ in range(4)] if store_factory else [store] * 4
        got: list[list[OutboxRow]] = [[] for _ in stores]
        errors: list[BaseException] = []
        start = threading.Barrier(len(stores))

        def work(index: int, mine: Store) -> None:
            try:
                start.wait()
                while True:
                    rows = mine.claim(T0, 3, timedelta(minutes=5), f"w{index}")
                    if not rows:
                        return
                    got[index].extend(rows)
            except BaseException as err:  # collected and re-raised below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if store_factory:
            for s in stores:
                s.close()
        assert errors == []
        claimed = [r.key for rows in got for r in rows]
        assert sorted(claimed) == keys  # every row once, none twice
        assert all(r.attempts == 1 for rows in got for r in rows)

    def test_an_expired_lease_is_reclaimed_and_counts_an_attempt(self, store: Store) -> None:
        self._enqueue(store, 1)
        lease = timedelta(seconds=30)
        [first] = store.claim(T0, 1, lease, "crashed-worker")
        assert store.claim(T0 + timedelta(seconds=29), 1, lease, "w2") == []
        [again] = store.claim(T0 + lease, 1, lease, "w2")
        assert again.id == first.id
        assert (first.attempts, again.attempts) == (1, 2)
        assert again.lease_until == T0 + 2 * lease

    def test_complete_retires_a_row(self, store: Store) -> None:
        self._enqueue(store, 1)
        [row] = store.claim(T0, 1, timedelta(seconds=30), "w")
        store.complete(row.id)
        [done] = store.outbox()
        assert (done.state, done.lease_until) == (OutboxState.DONE, None)
        assert store.claim(T0 + timedelta(hours=1), 1, timedelta(seconds=30), "w") == []

    def test_fail_with_retry_reschedules(self, store: Store) -> None:
        self._enqueue(store, 1)
        [row] = store.claim(T0, 1, timedelta(seconds=30), "w")
        retry_at = T0 + timedelta(minutes=2)
        store.fail(row.id, "HTTP 503", retry_at)
        [pending] = store.outbox()
        assert pending.state is OutboxState.PENDING
        assert (pending.available_at, pending.last_error, pending.lease_until) == (
            retry_at,
            "HTTP 503",
            None,
        )
        assert store.claim(retry_at - timedelta(seconds=1), 1, timedelta(seconds=30), "w") == []
        [again] = store.claim(retry_at, 1, timedelta(seconds=30), "w")
        assert again.attempts == 2

    def test_fail_without_retry_buries_the_row(self, store: Store) -> None:
        self._enqueue(store, 1)
        [row] = store.claim(T0, 1, timedelta(seconds=30), "w")
        store.fail(row.id, "invalid address", None)
        [dead] = store.outbox()
        assert (dead.state, dead.last_error) == (OutboxState.DEAD, "invalid address")
        assert store.claim(T0 + timedelta(days=1), 1, timedelta(seconds=30), "w") == []

    def test_a_worker_that_lost_its_lease_changes_nothing(self, store: Store) -> None:
        """Fencing: after a lease expires and another worker re-claims the row,
        the first worker's late complete/fail are refused (return False)."""
        self._enqueue(store, 1)
        lease = timedelta(seconds=30)
        [first] = store.claim(T0, 1, lease, "slow")
        [again] = store.claim(T0 + lease, 1, lease, "fast")
        assert again.id == first.id
        assert store.fail(first.id, "too late", None, worker="slow") is False
        assert store.complete(first.id, worker="slow") is False
        [row] = store.outbox()
        assert (row.state, row.last_error) == (OutboxState.PENDING, None)
        assert store.complete(again.id, worker="fast") is True
        assert store.complete(again.id, worker="fast") is False  # already done
        [done] = store.outbox()
        assert done.state is OutboxState.DONE

    def test_the_lease_holder_can_reschedule_and_bury(self, store: Store) -> None:
        self._enqueue(store, 2)
        lease = timedelta(seconds=30)
        first, second = store.claim(T0, 2, lease, "w")
        assert store.fail(first.id, "HTTP 503", T0 + timedelta(minutes=1), worker="w") is True
        assert store.fail(second.id, "gone", None, worker="w") is True
        states = {row.id: row.state for row in store.outbox()}
        assert states == {first.id: OutboxState.PENDING, second.id: OutboxState.DEAD}

    def test_a_claim_takes_only_the_targets_the_worker_handles(self, store: Store) -> None:
        messages = [
            make_message("slack-1", "INC-1", target="slack"),
            make_message("pager-1", "INC-1", target="pager"),
            attrs.evolve(make_message("obs-1", "INC-1", target="audit"), topic="event"),
            make_message("slack-2", "INC-1", target="slack"),
        ]
        store.append("INC-1", make_events("INC-1", 1, 1), 0, messages)
        lease = timedelta(seconds=30)
        mine = store.claim(T0, 10, lease, "slack-worker", targets={"notification": {"slack"}})
        assert [r.key for r in mine] == ["slack-1", "slack-2"]
        untouched = {r.key: r for r in store.outbox() if r.key not in ("slack-1", "slack-2")}
        assert all(r.attempts == 0 and r.lease_until is None for r in untouched.values())
        # a topic's name alone is not enough: "pager" under "event" is another target
        assert store.claim(T0, 10, lease, "w", targets={"event": {"pager"}}) == []
        theirs = store.claim(
            T0, 10, lease, "other", targets={"notification": ["pager"], "event": ("audit",)}
        )
        assert [r.key for r in theirs] == ["pager-1", "obs-1"]
        assert all(r.attempts == 1 for r in theirs)

    def test_a_claim_with_no_targets_takes_nothing(self, store: Store) -> None:
        self._enqueue(store, 2)
        before = store.outbox()
        assert store.claim(T0, 10, timedelta(seconds=30), "w", targets={}) == []
        assert store.claim(T0, 10, timedelta(seconds=30), "w", targets={"notification": []}) == []
        assert store.outbox() == before
        assert len(store.claim(T0, 10, timedelta(seconds=30), "w")) == 2  # None: every target

    @pytest.mark.parametrize(
        ("targets", "field"),
        [
            ({"notification": "pager"}, "targets['notification']"),
            ({"notification": [1]}, "targets['notification']"),
            (["notification"], "targets"),
        ],
    )
    def test_bad_claim_targets_name_the_field(self, store: Store, targets: Any, field: str) -> None:
        self._enqueue(store, 1)
        before = store.outbox()
        with pytest.raises(ValidationError) as err:
            store.claim(T0, 10, timedelta(seconds=30), "w", targets=targets)
        assert err.value.field == field
        assert store.outbox() == before

    def test_unknown_outbox_row_is_a_lookup_error(self, store: Store) -> None:
        with pytest.raises(LookupError):
            store.complete(987654)
        with pytest.raises(LookupError):
            store.fail(987654, "boom", None)
        with pytest.raises(LookupError):
            store.complete(987654, worker="w")

    # -- summaries ----------------------------------------------------------------

    @pytest.fixture
    def listed(self, store: Store) -> dict[str, IncidentSummary]:
        hour = timedelta(hours=1)
        rows = {
            "A": make_summary("A", 1, declared_at=T0, severity=Severity.SEV1, services=("api",)),
            "B": make_summary(
                "B",
                1,
                declared_at=T0 + hour,
                status=Status.RESOLVED,
                services=("db", "api"),
                next_due_at=T0 + 3 * hour,
            ),
            "C": make_summary(
                "C",
                1,
                declared_at=T0 + 2 * hour,
                severity=Severity.SEV3,
                services=(),
                next_due_at=T0 + 2 * hour,
            ),
            "D": make_summary("D", 1, declared_at=None, status=Status.INVESTIGATING),
            "E": make_summary("E", 1, declared_at=T0 + hour, severity=Severity.SEV1),
        }
        for incident_id, summary in rows.items():
            store.append(incident_id, make_events(incident_id, 1, 1), 0, summary=summary)
        return rows

    @staticmethod
    def _ids(store: Store, **filters: Any) -> list[str]:
        return [s.incident_id for s in store.summaries(SummaryQuery(**filters))]

    def test_summaries_are_ordered_by_declaration_then_id(
        self, store: Store, listed: dict[str, IncidentSummary]
    ) -> None:
        assert self._ids(store) == ["D", "A", "B", "E", "C"]
        assert store.summaries() == [listed[k] for k in "DABEC"]

    def test_summaries_filter_by_status_and_severity(
        self, store: Store, listed: dict[str, IncidentSummary]
    ) -> None:
        assert self._ids(store, statuses={Status.RESOLVED}) == ["B"]
        assert self._ids(store, statuses=[Status.DECLARED, Status.INVESTIGATING]) == [
            "D",
            "A",
            "E",
            "C",
        ]
        assert self._ids(store, severities={Severity.SEV1}) == ["A", "E"]
        assert self._ids(store, statuses=(), severities={Severity.SEV1}) == []
        assert self._ids(store, statuses={Status.DECLARED}, severities={Severity.SEV3}) == ["C"]

    def test_summaries_filter_by_service(
        self, store: Store, listed: dict[str, IncidentSummary]
    ) -> None:
        assert self._ids(store, service="api") == ["D", "A", "B", "E"]
        assert self._ids(store, service="db") == ["B"]
        assert self._ids(store, service="nope") == []

    def test_since_and_until_are_half_open_on_declared_at(
        self, store: Store, listed: dict[str, IncidentSummary]
    ) -> None:
        hour = timedelta(hours=1)
        assert self._ids(store, since=T0 + hour) == ["B", "E", "C"]
        assert self._ids(store, until=T0 + hour) == ["A"]
        assert self._ids(store, since=T0, until=T0 + 2 * hour) == ["A", "B", "E"]
        assert self._ids(store, since=T0 + hour, until=T0 + hour) == []

    def test_due_before_is_inclusive_and_skips_no_timer(
        self, store: Store, listed: dict[str, IncidentSummary]
    ) -> None:
        hour = timedelta(hours=1)
        assert self._ids(store, due_before=T0 + 2 * hour) == ["C"]
        assert self._ids(store, due_before=T0 + 3 * hour) == ["B", "C"]
        assert self._ids(store, due_before=T0) == []

    def test_limit_keeps_the_first_rows(
        self, store: Store, listed: dict[str, IncidentSummary]
    ) -> None:
        assert self._ids(store, limit=2) == ["D", "A"]
        assert self._ids(store, limit=0) == []
        assert self._ids(store, service="api", limit=3) == ["D", "A", "B"]
