"""Chat and review renderings, JSON rows, and the tamper-evident hash chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from incidentkit.checkpoint import timeline_and_check
from incidentkit.clock import ManualClock
from incidentkit.errors import NotFound, StoreError
from incidentkit.kit import IncidentKit
from incidentkit.roles import Role
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore
from incidentkit.timeline import (
    GENESIS_HASH,
    chain_hash,
    render_chat,
    render_review,
    to_json_rows,
    verify_chain,
)

from ._helpers import KitFactory

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def la_clock() -> ManualClock:
    return ManualClock(datetime(2024, 11, 20, 14, 30, tzinfo=LA))


@pytest.fixture
def guide(make_kit: KitFactory, la_clock: ManualClock) -> tuple[IncidentKit, str]:
    """The start of the guide's chat log."""
    kit = make_kit(at=la_clock)
    iid = kit.declare("API returning 500 errors", severity=Severity.SEV1, by="alice").id
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.assign_role(iid, Role.TECHNICAL_LEAD, "bob", by="alice")
    kit.assign_role(iid, Role.COMMUNICATIONS_LEAD, "charlie", by="alice")
    la_clock.advance(timedelta(minutes=2))
    kit.add_note(iid, "Checking dashboards... seeing 15% error rate", by="bob")
    kit.check(iid, "resolution", "metrics-normal", by="bob")
    la_clock.advance(timedelta(minutes=1))
    kit.post_update(iid, "investigating", "Status page updated", by="charlie")
    kit.assign_role(iid, Role.SCRIBE, "alice", by="alice")
    la_clock.advance(timedelta(minutes=3))
    kit.add_note(iid, "Any quick mitigation options?", by="alice")
    return kit, iid


def test_render_chat_the_guide_example(guide: tuple[IncidentKit, str]) -> None:
    kit, iid = guide
    lines = render_chat(kit.timeline(iid), zone=LA)
    assert lines[0] == "[14:30] alice (IC): Incident declared — SEV1 — API returning 500 errors"
    assert "[14:32] bob (TL): Checking dashboards... seeing 15% error rate" in lines
    assert "[14:33] charlie (Comms): Status update (investigating): Status page updated" in lines
    assert lines[-1] == "[14:36] alice (IC/Scribe): Any quick mitigation options?"
    assert not any("Checklist" in line for line in lines)


def test_render_chat_defaults_to_utc_and_can_show_checklists(
    guide: tuple[IncidentKit, str],
) -> None:
    kit, iid = guide
    lines = render_chat(kit.timeline(iid), include_checklists=True)
    assert lines[0].startswith("[22:30] alice (IC): Incident declared")
    assert "[22:32] bob (TL): Checklist resolution/metrics-normal: done" in lines


def test_render_review_form(guide: tuple[IncidentKit, str]) -> None:
    kit, iid = guide
    lines = render_review(kit.timeline(iid), zone=LA)
    assert lines[0] == "14:30 - Incident declared (SEV1): API returning 500 errors"
    assert "14:32 - Checking dashboards... seeing 15% error rate" in lines
    assert not any("Checklist" in line for line in lines)
    assert all(line[:8].count(":") == 1 and line[5:8] == " - " for line in lines)


def test_json_rows_carry_the_envelope_and_the_tagged_event(
    guide: tuple[IncidentKit, str],
) -> None:
    kit, iid = guide
    records = kit.timeline(iid)
    rows = to_json_rows(records)
    json.dumps(rows)  # JSON-ready
    assert [row["version"] for row in rows] == [r.version for r in records]
    first = rows[0]
    assert first["incident_id"] == iid
    assert first["recorded_at"] == "2024-11-20T22:30:00+00:00"
    assert first["hash"] == records[0].hash
    assert first["event"]["type"] == "declared"  # type: ignore[index]


# --- the hash chain -------------------------------------------------------------------


def test_the_chain_verifies_and_links_each_row(
    guide: tuple[IncidentKit, str], store: MemoryStore
) -> None:
    kit, iid = guide
    check = kit.verify(iid)
    rows = store.load(iid)
    assert (check.ok, check.events, check.broken_version) == (True, len(rows), None)
    assert bool(check)
    previous = GENESIS_HASH
    for row in rows:
        expected = chain_hash(previous, iid, row.version, row.recorded_at, row.payload)
        assert row.hash == expected
        previous = row.hash
    assert [c.ok for c in kit.verify_all()] == [True]


def _tamper(store: MemoryStore, iid: str, version: int, **changes: object) -> None:
    rows = store._events[iid]
    rows[version - 1] = attrs.evolve(rows[version - 1], **changes)


def test_an_edited_payload_is_reported_at_its_version(
    guide: tuple[IncidentKit, str], store: MemoryStore
) -> None:
    kit, iid = guide
    row = next(r for r in store.load(iid) if r.tag == "note_added")
    edited = row.payload.replace("15%", "1.5%")
    assert edited != row.payload
    _tamper(store, iid, row.version, payload=edited)
    check = kit.verify(iid)
    assert (check.ok, check.broken_version) == (False, row.version)
    assert "hash does not match" in check.reason
    assert not check


def test_edited_time_or_hash_is_reported(
    guide: tuple[IncidentKit, str], store: MemoryStore
) -> None:
    kit, iid = guide
    last = store.load(iid)[-1]
    _tamper(store, iid, last.version, recorded_at=last.recorded_at - timedelta(minutes=5))
    assert kit.verify(iid).broken_version == last.version
    _tamper(store, iid, last.version, recorded_at=last.recorded_at, hash="f" * 64)
    assert kit.verify(iid).broken_version == last.version


def test_a_removed_row_is_reported(guide: tuple[IncidentKit, str], store: MemoryStore) -> None:
    kit, iid = guide
    del store._events[iid][2]
    check = kit.verify(iid)
    assert (check.ok, check.broken_version) == (False, 4)
    assert check.reason == "expected version 3"


def test_verify_chain_on_raw_rows() -> None:
    from incidentkit.timeline import ChainCheck

    t = datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC"))
    h1 = chain_hash(GENESIS_HASH, "X", 1, t, "{}")
    h2 = chain_hash(h1, "X", 2, t, "[]")
    assert verify_chain("X", [(1, t, "{}", h1), (2, t, "[]", h2)]) == ChainCheck(
        "X", True, 2, version=2, head_hash=h2, unkeyed=2
    )
    broken = verify_chain("X", [(1, t, "{}", h1), (2, t, "[]", h1)])
    assert (broken.ok, broken.broken_version, broken.events) == (False, 2, 2)
    # The incident id is part of the hash: a row copied to another incident breaks.
    assert not verify_chain("Y", [(1, t, "{}", h1)]).ok


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ("not json at all", "unreadable event"),
        ('{"type": "note_added", "by": "bob"}', "unreadable event"),
        ('{"type": "closed", "by": "bob", "reason": ""}', "does not match"),
    ],
)
def test_unreadable_payload_raises_store_error_naming_incident_and_version(
    guide: tuple[IncidentKit, str],
    make_kit: KitFactory,
    store: MemoryStore,
    payload: str,
    mentions: str,
) -> None:
    _, iid = guide
    row = store.load(iid)[6]
    _tamper(store, iid, row.version, payload=payload)
    fresh = make_kit()
    for read in (lambda: fresh.get(iid), lambda: fresh.timeline(iid)):
        with pytest.raises(StoreError) as err:
            read()
        message = str(err.value)
        assert f"incident {iid} version {row.version}" in message
        assert mentions in message


def test_a_timeline_not_starting_with_declared_is_a_store_error(
    guide: tuple[IncidentKit, str], make_kit: KitFactory, store: MemoryStore
) -> None:
    _, iid = guide
    rows = store._events[iid]
    rows[0] = attrs.evolve(rows[0], tag=rows[6].tag, payload=rows[6].payload)
    with pytest.raises(StoreError, match=f"{iid}:1"):
        make_kit().get(iid)


@pytest.mark.parametrize(
    "tamper",
    [
        None,
        {"payload": None},  # an edited payload (filled in below)
        {"drop": 2},
        {"summary_version": True},
    ],
)
def test_timeline_and_check_equal_timeline_and_verify(
    guide: tuple[IncidentKit, str], store: MemoryStore, tamper: dict[str, object] | None
) -> None:
    """The web page's one read gives what ``timeline`` and ``verify`` give apart."""
    kit, iid = guide
    if tamper is not None and "payload" in tamper:
        rows = store._events[iid]
        _tamper(store, iid, 3, payload=rows[2].payload.replace("alice", "mallory"))
    elif tamper is not None and "drop" in tamper:
        del store._events[iid][2]
    elif tamper is not None:
        summary = store._summaries[iid]
        store._summaries[iid] = attrs.evolve(summary, version=summary.version + 1)
    records, check = timeline_and_check(kit.engine, iid)
    assert check == kit.verify(iid)
    assert records == kit.timeline(iid)
    assert check.ok is (tamper is None)


def test_timeline_and_check_of_an_unknown_incident_is_not_found(
    guide: tuple[IncidentKit, str],
) -> None:
    kit, _ = guide
    with pytest.raises(NotFound):
        timeline_and_check(kit.engine, "INC-NOPE")
