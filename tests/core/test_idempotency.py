"""Command ids: a retried command returns what it committed instead of writing twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from incidentkit import IncidentKit, ManualClock, OutcomeUnknown, Severity, StoreError
from incidentkit.errors import ValidationError
from incidentkit.events import NoteAdded
from incidentkit.store import MemoryStore, StoredCommand, StoredEvent
from incidentkit.store.sqlite import SqliteStore
from incidentkit.testing.store_contract import T0


@pytest.fixture(params=["memory", "sqlite"])
def kit(request: pytest.FixtureRequest, tmp_path: Any) -> IncidentKit:
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "k.db")
    return IncidentKit(store=store, clock=ManualClock(T0))


def notes(kit: IncidentKit, iid: str) -> list[str]:
    return [r.event.text for r in kit.timeline(iid) if isinstance(r.event, NoteAdded)]


def test_a_retried_note_is_written_once_and_returns_the_state_as_of_it(kit: IncidentKit) -> None:
    iid = kit.declare("x", severity=Severity.SEV3, by="alice").id
    first = kit.add_note(iid, "one", by="alice", idempotency_key="n-1")
    kit.add_note(iid, "two", by="alice")
    again = kit.add_note(iid, "one", by="alice", idempotency_key="n-1")
    assert again == first
    assert notes(kit, iid) == ["one", "two"]


def test_a_declare_retried_with_its_key_returns_the_same_incident(kit: IncidentKit) -> None:
    first = kit.declare("db down", severity=Severity.SEV1, by="alice", idempotency_key="d-1")
    kit.acknowledge(first.id, by="alice")
    again = kit.declare("db down", severity=Severity.SEV1, by="alice", idempotency_key="d-1")
    assert again == first
    assert kit.store.incident_ids() == [first.id]


def test_a_retried_resolve_returns_its_result_instead_of_a_refusal(kit: IncidentKit) -> None:
    iid = kit.declare("x", severity=Severity.SEV4, by="alice").id
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    done = kit.resolve(iid, by="alice", force=True, reason="test", idempotency_key="r-1")
    assert kit.resolve(iid, by="alice", force=True, reason="test", idempotency_key="r-1") == done


def test_a_key_reused_for_another_command_or_incident_is_refused(kit: IncidentKit) -> None:
    a = kit.declare("a", severity=Severity.SEV3, by="alice").id
    b = kit.declare("b", severity=Severity.SEV3, by="alice").id
    kit.add_note(a, "one", by="alice", idempotency_key="k")
    before = kit.store.load(a) + kit.store.load(b)
    for call in (
        lambda: kit.acknowledge(a, by="alice", idempotency_key="k"),
        lambda: kit.add_note(b, "one", by="alice", idempotency_key="k"),
        lambda: kit.declare("c", severity=Severity.SEV3, by="alice", idempotency_key="k"),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.field == "idempotency_key"
    assert kit.store.load(a) + kit.store.load(b) == before


@pytest.mark.parametrize("key", ["", "x" * 201, "a\0b", "\ud800", 7, b"k"])
def test_a_bad_key_is_refused_naming_it(kit: IncidentKit, key: Any) -> None:
    iid = kit.declare("x", severity=Severity.SEV3, by="alice").id
    before = kit.store.load(iid)
    with pytest.raises(ValidationError) as caught:
        kit.add_note(iid, "n", by="alice", idempotency_key=key)
    assert caught.value.field == "idempotency_key"
    assert kit.store.load(iid) == before


def test_every_command_stores_its_id(kit: IncidentKit) -> None:
    iid = kit.declare("x", severity=Severity.SEV3, by="alice", idempotency_key="d").id
    kit.assign_role(iid, "incident_commander", "alice", by="alice", idempotency_key="r")
    kit.mark_mitigated(iid, by="alice", detail="restarted", idempotency_key="m")
    found = [kit.store.command(k) for k in ("d", "r", "m")]
    assert [(c.action, c.incident_id) for c in found if c] == [
        ("declare", iid),
        ("assign_role", iid),
        ("mark_mitigated", iid),
    ]


class FlakyStore(MemoryStore):
    """Raises OutcomeUnknown on chosen appends: after committing, or without."""

    def __init__(self) -> None:
        super().__init__()
        self.plan: list[str] = []  # "commit" or "lose" per coming append
        self.lookups_fail = False

    def append(
        self,
        incident_id: str,
        events: Sequence[StoredEvent],
        expected_version: int,
        outbox: Sequence[Any] = (),
        summary: Any = None,
        command: StoredCommand | None = None,
    ) -> None:
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "lose":
            raise OutcomeUnknown(incident_id, "lost", command and command.command_id)
        super().append(incident_id, events, expected_version, outbox, summary, command)
        if step == "commit":
            raise OutcomeUnknown(incident_id, "lost after commit", command and command.command_id)

    def command(self, command_id: str) -> StoredCommand | None:
        if self.lookups_fail:
            raise StoreError("still down")
        return super().command(command_id)


@pytest.fixture
def flaky() -> tuple[IncidentKit, FlakyStore, str]:
    store = FlakyStore()
    kit = IncidentKit(store=store, clock=ManualClock(T0))
    return kit, store, kit.declare("x", severity=Severity.SEV3, by="alice").id


@pytest.mark.parametrize("plan", [["commit"], ["lose"], ["lose", "commit"], ["lose", "lose"]])
def test_an_unknown_outcome_is_resolved_before_answering(
    flaky: tuple[IncidentKit, FlakyStore, str], plan: list[str]
) -> None:
    kit, store, iid = flaky
    store.plan = list(plan)
    state = kit.add_note(iid, "once", by="alice")
    assert notes(kit, iid) == ["once"]
    assert state == kit.get(iid)


def test_an_unresolvable_outcome_names_the_command_for_the_retry(
    flaky: tuple[IncidentKit, FlakyStore, str],
) -> None:
    kit, store, iid = flaky
    store.plan = ["commit"]
    store.lookups_fail = True
    with pytest.raises(OutcomeUnknown) as caught:
        kit.add_note(iid, "once", by="alice")
    key = caught.value.command_id
    assert key and key in str(caught.value)
    store.lookups_fail = False
    kit.add_note(iid, "once", by="alice", idempotency_key=key)
    assert notes(kit, iid) == ["once"]


def test_a_store_that_never_commits_ends_in_outcome_unknown(
    flaky: tuple[IncidentKit, FlakyStore, str],
) -> None:
    kit, store, iid = flaky
    store.plan = ["lose"] * 500  # more than the default retries (100)
    with pytest.raises(OutcomeUnknown) as caught:
        kit.add_note(iid, "never", by="alice", idempotency_key="n")
    assert caught.value.command_id == "n"
    assert notes(kit, iid) == []
