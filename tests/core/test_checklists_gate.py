"""Checklist item states, the resolution gate, forced resolution, automatic items."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidentkit.checklists import (
    DECLARATION,
    RESOLUTION,
    ChecklistItem,
    ChecklistTemplate,
    ItemState,
)
from incidentkit.clock import ManualClock
from incidentkit.errors import GuardFailed, InvalidTransition, NotFound, ValidationError
from incidentkit.events import Resolved
from incidentkit.kit import IncidentKit
from incidentkit.policy import Policy
from incidentkit.roles import Role
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore

from ._helpers import KitFactory, snapshot

REQUIRED_RESOLUTION = [
    "root-cause-identified",
    "symptoms-eliminated",
    "metrics-normal",
    "no-active-alerts",
    "fix-validated",
]


def commanded(kit: IncidentKit) -> str:
    iid = kit.declare("API returning 500 errors", severity=Severity.SEV1, by="alice").id
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    return iid


def test_items_start_pending_and_close_three_ways(kit: IncidentKit, clock: ManualClock) -> None:
    iid = commanded(kit)
    assert kit.get(iid).item("resolution", "metrics-normal").state is ItemState.PENDING
    clock.advance(timedelta(minutes=3))
    kit.check(iid, "resolution", "metrics-normal", by="bob")
    kit.skip(iid, "resolution", "fix-validated", by="bob", reason="no prod access yet")
    kit.not_applicable(iid, "recovery", "validate-with-users", by="carol")
    state = kit.get(iid)
    done = state.item("resolution", "metrics-normal")
    assert (done.state, done.by, done.at) == (ItemState.DONE, "bob", clock.now())
    skipped = state.item("resolution", "fix-validated")
    assert (skipped.state, skipped.reason) == (ItemState.SKIPPED, "no prod access yet")
    assert state.item("recovery", "validate-with-users").state is ItemState.NOT_APPLICABLE
    assert all(s.is_closed for s in ItemState if s is not ItemState.PENDING)


def test_skipping_needs_a_reason(kit: IncidentKit, store: MemoryStore) -> None:
    iid = commanded(kit)
    before = snapshot(store)
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as err:
            kit.skip(iid, "resolution", "fix-validated", by="bob", reason=reason)
        assert err.value.field == "reason"
    assert snapshot(store) == before


def test_a_closed_item_cannot_change_again(kit: IncidentKit) -> None:
    iid = commanded(kit)
    kit.check(iid, "resolution", "metrics-normal", by="bob")
    with pytest.raises(InvalidTransition) as err:
        kit.not_applicable(iid, "resolution", "metrics-normal", by="bob")
    assert err.value.current == "done"


def test_unknown_checklist_and_item_are_not_found(kit: IncidentKit, store: MemoryStore) -> None:
    iid = commanded(kit)
    before = snapshot(store)
    with pytest.raises(NotFound) as err:
        kit.check(iid, "postmortem", "write-it", by="bob")
    assert (err.value.kind, err.value.known) == (
        "checklist",
        ("declaration", "resolution", "recovery"),
    )
    with pytest.raises(NotFound) as err:
        kit.check(iid, "resolution", "pray", by="bob")
    assert err.value.key == "pray"
    assert err.value.known == RESOLUTION.keys
    assert snapshot(store) == before


def test_resolve_is_gated_on_the_open_required_items(kit: IncidentKit, store: MemoryStore) -> None:
    iid = commanded(kit)
    kit.check(iid, "resolution", "metrics-normal", by="alice")
    before = snapshot(store)
    with pytest.raises(GuardFailed) as err:
        kit.resolve(iid, by="alice")
    [reason] = err.value.reasons
    open_required = [k for k in REQUIRED_RESOLUTION if k != "metrics-normal"]
    assert ", ".join(open_required) in reason
    assert "commander-declares" not in reason  # optional items never block
    assert snapshot(store) == before


def test_resolve_when_every_required_item_is_closed(kit: IncidentKit) -> None:
    iid = commanded(kit)
    for key in REQUIRED_RESOLUTION[:-1]:
        kit.check(iid, "resolution", key, by="alice")
    kit.skip(iid, "resolution", REQUIRED_RESOLUTION[-1], by="alice", reason="validated in staging")
    state = kit.resolve(iid, by="alice", summary="pool raised")
    event = kit.timeline(iid)[-2].event  # the review's creation follows in the same append
    assert kit.timeline(iid)[-1].event.tag == "reviews_created"
    assert event == Resolved(by="alice", summary="pool raised")
    assert state.resolution_summary == "pool raised"


def test_force_without_a_reason_is_refused(kit: IncidentKit, store: MemoryStore) -> None:
    iid = commanded(kit)
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        kit.resolve(iid, by="alice", force=True)
    assert err.value.field == "reason"
    assert snapshot(store) == before


def test_forced_resolution_records_reason_and_open_items(kit: IncidentKit) -> None:
    iid = commanded(kit)
    kit.check(iid, "resolution", "root-cause-identified", by="alice")
    state = kit.resolve(iid, by="alice", force=True, reason="customer impact over; follow up")
    event = kit.timeline(iid)[-2].event  # then reviews_created, in the same append
    assert isinstance(event, Resolved)
    assert event.forced is True
    assert event.force_reason == "customer impact over; follow up"
    assert event.open_items == tuple(REQUIRED_RESOLUTION[1:])
    assert state.resolved_at is not None
    assert "forced: customer impact over" in event.describe()


def test_no_gate_when_the_policy_disables_it(make_kit: KitFactory) -> None:
    kit = make_kit(Policy(gating_checklist=""))
    iid = commanded(kit)
    assert kit.resolve(iid, by="alice").resolved_at is not None


def test_a_custom_gating_checklist(make_kit: KitFactory) -> None:
    gate = ChecklistTemplate(
        "exit", "Exit criteria", (ChecklistItem("ok", "OK"), ChecklistItem("nice", "N", False))
    )
    kit = make_kit(Policy(checklists=(DECLARATION, gate), gating_checklist="exit"))
    iid = commanded(kit)
    with pytest.raises(GuardFailed, match="open required exit items: ok"):
        kit.resolve(iid, by="alice")
    kit.check(iid, "exit", "ok", by="alice")
    assert kit.resolve(iid, by="alice").resolved_at is not None


def test_templates_are_frozen_at_declaration(
    make_kit: KitFactory, kit: IncidentKit, store: MemoryStore
) -> None:
    iid = commanded(kit)
    shorter = ChecklistTemplate("resolution", "Just one", (ChecklistItem("ok", "OK"),))
    later = make_kit(Policy(checklists=(DECLARATION, shorter)), on=store)
    state = later.get(iid)
    assert state.template("resolution") == RESOLUTION
    with pytest.raises(GuardFailed, match="root-cause-identified"):
        later.resolve(iid, by="alice")


def test_automatic_declaration_items(kit: IncidentKit, clock: ManualClock) -> None:
    iid = kit.declare("API returning 500 errors", severity=Severity.SEV1, by="alice").id
    declared_at = clock.now()
    items = kit.get(iid).checklists["declaration"]
    for key in ("assign-severity", "start-mttr-timer"):
        assert items[key].state is ItemState.DONE
        assert (items[key].by, items[key].at, items[key].reason) == (
            "alice",
            declared_at,
            "automatic",
        )
    for key in ("assign-commander", "post-initial-update", "create-channel", "create-document"):
        assert items[key].state is ItemState.PENDING

    clock.advance(timedelta(minutes=1))
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "bob", by="alice")
    clock.advance(timedelta(minutes=1))
    kit.post_update(iid, "investigating", "We are investigating.", by="carol")
    items = kit.get(iid).checklists["declaration"]
    assert items["assign-commander"].state is ItemState.DONE
    assert items["assign-commander"].at == declared_at + timedelta(minutes=1)
    assert items["post-initial-update"].state is ItemState.DONE
    assert items["post-initial-update"].by == "carol"
    assert kit.get(iid).open_items("declaration") == ("create-channel", "create-document")


def test_an_automatic_item_closed_by_hand_stays_as_it_was(kit: IncidentKit) -> None:
    iid = kit.declare("API returning 500 errors", severity=Severity.SEV1, by="alice").id
    kit.not_applicable(iid, "declaration", "assign-commander", by="alice", reason="solo")
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    item = kit.get(iid).item("declaration", "assign-commander")
    assert (item.state, item.reason) == (ItemState.NOT_APPLICABLE, "solo")


@pytest.mark.parametrize("key", ["Bad Key", "", "-x", "a" * 81])
def test_template_keys_must_be_kebab_case(key: str) -> None:
    with pytest.raises(ValidationError):
        ChecklistItem(key, "text")


def test_template_item_keys_must_be_unique() -> None:
    with pytest.raises(ValidationError) as err:
        ChecklistTemplate("x", "X", (ChecklistItem("a", "A"), ChecklistItem("a", "B")))
    assert err.value.field == "items[1].key"
