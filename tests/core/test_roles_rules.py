"""Roles: assignment, hand-over, release, the incident-commander rule, custom roles."""

from __future__ import annotations

import pytest

from incidentkit.errors import GuardFailed, NotFound, PermissionDenied
from incidentkit.events import RoleAssigned, RoleHandedOver, RoleReleased
from incidentkit.kit import IncidentKit
from incidentkit.policy import Policy
from incidentkit.roles import Role, RolePolicy, role_label
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore

from ._helpers import KitFactory, snapshot

IC = Role.INCIDENT_COMMANDER


def declare(kit: IncidentKit) -> str:
    return kit.declare("API returning 500 errors", severity=Severity.SEV2, by="alice").id


def last_event(kit: IncidentKit, incident_id: str) -> object:
    return kit.timeline(incident_id)[-1].event


def test_assign_records_who_got_which_role(kit: IncidentKit) -> None:
    iid = declare(kit)
    state = kit.assign_role(iid, IC, "alice", by="alice")
    assert state.commander == "alice"
    assert last_event(kit, iid) == RoleAssigned(by="alice", role=IC.value, person="alice")


def test_hand_over_records_from_whom_to_whom(kit: IncidentKit) -> None:
    iid = declare(kit)
    kit.assign_role(iid, IC, "alice", by="alice")
    state = kit.assign_role(iid, IC, "bob", by="alice")
    assert state.commander == "bob"
    assert last_event(kit, iid) == RoleHandedOver(
        by="alice", role=IC.value, from_person="alice", to_person="bob"
    )
    # The new commander now holds the IC powers; the old one lost them.
    with pytest.raises(PermissionDenied):
        kit.set_severity(iid, Severity.SEV1, by="alice", reason="worse")
    assert kit.set_severity(iid, Severity.SEV1, by="bob", reason="worse").severity is Severity.SEV1


def test_release_leaves_the_role_vacant(kit: IncidentKit) -> None:
    iid = declare(kit)
    kit.assign_role(iid, Role.SCRIBE, "dave", by="alice")
    state = kit.release_role(iid, Role.SCRIBE, by="alice")
    assert state.holder(Role.SCRIBE) is None
    assert last_event(kit, iid) == RoleReleased(by="alice", role="scribe", person="dave")
    with pytest.raises(GuardFailed, match="scribe is not held"):
        kit.release_role(iid, Role.SCRIBE, by="alice")


def test_one_person_may_hold_several_roles(kit: IncidentKit) -> None:
    iid = declare(kit)
    kit.assign_role(iid, IC, "alice", by="alice")
    state = kit.assign_role(iid, Role.SCRIBE, "alice", by="alice")
    assert set(state.roles_of("alice")) == {IC.value, "scribe"}
    with pytest.raises(GuardFailed, match="already holds"):
        kit.assign_role(iid, Role.SCRIBE, "alice", by="alice")


def test_role_aliases_and_labels() -> None:
    roles = RolePolicy()
    assert roles.parse("IC") == roles.parse("ic") == IC.value
    assert roles.parse("tl") == Role.TECHNICAL_LEAD.value
    assert roles.parse("Comms") == Role.COMMUNICATIONS_LEAD.value
    assert [role_label(r) for r in roles.names] == ["IC", "TL", "Comms", "Scribe"]
    assert role_label("security-lead") == "security-lead"


def test_cannot_resolve_without_a_commander(kit: IncidentKit, store: MemoryStore) -> None:
    iid = declare(kit)
    before = snapshot(store)
    for force in (False, True):
        with pytest.raises(GuardFailed) as err:
            kit.resolve(iid, by="alice", force=force, reason="drill")
        assert "no incident commander is assigned" in err.value.reasons
    assert snapshot(store) == before


def test_resolve_without_commander_when_policy_allows(make_kit: KitFactory) -> None:
    kit = make_kit(Policy(roles=RolePolicy(require_commander_to_resolve=False)))
    iid = declare(kit)
    state = kit.resolve(iid, by="carol", force=True, reason="drill")
    assert state.resolved_at is not None


@pytest.mark.parametrize(
    "command",
    [
        lambda kit, iid: kit.set_severity(iid, Severity.SEV1, by="bob", reason="worse"),
        lambda kit, iid: kit.assign_role(iid, Role.SCRIBE, "bob", by="bob"),
        lambda kit, iid: kit.assign_role(iid, IC, "bob", by="bob"),
        lambda kit, iid: kit.release_role(iid, Role.TECHNICAL_LEAD, by="bob"),
        lambda kit, iid: kit.resolve(iid, by="bob", force=True, reason="done"),
        lambda kit, iid: kit.close(iid, by="bob"),
    ],
    ids=["severity", "assign", "take-command", "release", "resolve", "close"],
)
def test_only_the_commander_may_run_commander_commands(
    kit: IncidentKit, store: MemoryStore, command: object
) -> None:
    iid = declare(kit)
    kit.assign_role(iid, IC, "alice", by="alice")
    kit.assign_role(iid, Role.TECHNICAL_LEAD, "bob", by="alice")
    before = snapshot(store)
    with pytest.raises(PermissionDenied) as err:
        command(kit, iid)  # type: ignore[operator]
    assert err.value.actor == "bob"
    assert "alice" in err.value.reason
    assert snapshot(store) == before


def test_before_a_commander_is_assigned_anyone_may(kit: IncidentKit) -> None:
    iid = declare(kit)
    kit.set_severity(iid, Severity.SEV1, by="bob", reason="worse than thought")
    state = kit.assign_role(iid, IC, "bob", by="bob")
    assert state.commander == "bob"


def test_anyone_may_add_notes_and_hypotheses(kit: IncidentKit) -> None:
    iid = declare(kit)
    kit.assign_role(iid, IC, "alice", by="alice")
    kit.add_note(iid, "seeing 15% errors", by="zoe")
    state = kit.record_hypothesis(iid, "pool exhausted", by="yann", conclusion="confirmed")
    assert [h.by for h in state.hypotheses] == ["yann"]
    assert state.identified_at is not None
    kit.post_update(iid, "investigating", "looking", by="zoe")
    kit.acknowledge(iid, by="zoe")


def test_commander_only_false_relaxes_the_rule(make_kit: KitFactory) -> None:
    kit = make_kit(Policy(roles=RolePolicy(commander_only=False)))
    iid = declare(kit)
    kit.assign_role(iid, IC, "alice", by="alice")
    kit.set_severity(iid, Severity.SEV1, by="bob", reason="worse")
    kit.assign_role(iid, Role.SCRIBE, "bob", by="bob")
    kit.release_role(iid, Role.SCRIBE, by="carol")
    state = kit.resolve(iid, by="bob", force=True, reason="done")
    assert state.resolved_at is not None
    assert kit.close(iid, by="carol", force=True, reason="drill").closed_at is not None


def test_custom_roles_from_policy(make_kit: KitFactory) -> None:
    policy = Policy.from_toml('[roles]\ncustom = ["security-lead", "customer_liaison"]\n')
    kit = make_kit(policy)
    iid = declare(kit)
    state = kit.assign_role(iid, "security-lead", "sam", by="alice")
    assert state.holder("security-lead") == "sam"
    assert policy.roles.names[-2:] == ("security-lead", "customer_liaison")


def test_unknown_role_is_not_found_listing_the_known_ones(
    make_kit: KitFactory, store: MemoryStore
) -> None:
    kit = make_kit(Policy(roles=RolePolicy(custom=("security-lead",))))
    iid = declare(kit)
    before = snapshot(store)
    with pytest.raises(NotFound) as err:
        kit.assign_role(iid, "wizard", "bob", by="alice")
    assert err.value.key == "wizard"
    assert err.value.known == (
        "incident_commander",
        "technical_lead",
        "communications_lead",
        "scribe",
        "security-lead",
    )
    with pytest.raises(NotFound):
        kit.release_role(iid, "wizard", by="alice")
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "custom", [("Security Lead",), ("incident_commander",), ("a", "a"), ("-x",)]
)
def test_bad_custom_role_names_are_refused(custom: tuple[str, ...]) -> None:
    from incidentkit.errors import ValidationError

    with pytest.raises(ValidationError):
        RolePolicy(custom=custom)
