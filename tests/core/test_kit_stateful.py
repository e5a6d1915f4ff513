"""Random command sequences against the ``IncidentKit`` facade.

After every step, for every incident: versions are 1..n, the fold of the
timeline equals ``get`` (and a fresh kit on the same store agrees), the status
path follows the transition table from the initial state, the hash chain
verifies and the stored summary matches the folded state. A refused command
appends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from incidentkit.checklists import DEFAULT_TEMPLATES
from incidentkit.clock import ManualClock
from incidentkit.engine import COMMANDER_ACTIONS
from incidentkit.errors import (
    GuardFailed,
    IncidentKitError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from incidentkit.events import (
    Conclusion,
    Declared,
    EscalationFired,
    PublicStatus,
    RecordedEvent,
    Resolved,
    TargetMissed,
)
from incidentkit.incident import Incident, fold
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import INITIAL_STATUS, TRANSITIONS, Phase, Status
from incidentkit.policy import Policy
from incidentkit.review.events import ReviewCreated
from incidentkit.roles import RolePolicy
from incidentkit.severity import Severity
from incidentkit.store import MemoryStore

from ._helpers import T0, expected_summary_fields, snapshot, summary_fields

ACTORS = st.sampled_from(["alice", "bob", "carol", "dave"])
ROLES = st.sampled_from(
    [
        "incident_commander",
        "incident_commander",
        "technical_lead",
        "communications_lead",
        "scribe",
        "security-lead",
        "ic",
        "wizard",
    ]
)
ITEMS = st.sampled_from(
    [(t.name, item.key) for t in DEFAULT_TEMPLATES for item in t.items]
    + [("resolution", "no-such-item"), ("no-such-list", "assign-severity")]
)
# Printable text: control characters are refused (see test_bad_input_hardening.py).
TEXT = st.one_of(
    st.sampled_from(["", "   "]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30),
)
REASONS = st.sampled_from(["", "verified by hand", "not relevant here", "checked"])
EXPECTED_REFUSALS = (GuardFailed, InvalidTransition, NotFound, PermissionDenied, ValidationError)


def _reachable_from_initial() -> frozenset[Status]:
    seen = {INITIAL_STATUS}
    frontier = [INITIAL_STATUS]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return frozenset(seen)


REACHABLE = _reachable_from_initial()


class KitMachine(RuleBasedStateMachine):
    incidents = Bundle("incidents")

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.clock = ManualClock(T0)
        self.policy = Policy(roles=RolePolicy(custom=("security-lead",)))
        self.kit = IncidentKit(
            store=self.store, policy=self.policy, clock=self.clock, autoload_plugins=False
        )
        self.ids: list[str] = []
        self.refused = 0
        self.accepted = 0

    # --- running a command --------------------------------------------------

    def attempt(
        self,
        incident_id: str,
        command: Callable[[], Incident],
        *,
        expect: type[IncidentKitError] | None = None,
    ) -> None:
        """Run ``command``; a refusal must leave store, timeline and state as they were."""
        before_store = snapshot(self.store)
        before_state = self.kit.get(incident_id)
        before_timeline = self.kit.timeline(incident_id)
        try:
            after = command()
        except EXPECTED_REFUSALS as err:
            if expect is not None:
                assert isinstance(err, expect), f"expected {expect.__name__}, got {err!r}"
            self.refused += 1
            assert snapshot(self.store) == before_store
            assert self.store.version(incident_id) == before_state.version
            assert self.kit.timeline(incident_id) == before_timeline
            assert self.kit.get(incident_id) == before_state
            assert summary_fields(self.kit.summary(incident_id)) == expected_summary_fields(
                before_state
            )
            return
        assert expect is None, f"expected {expect.__name__}, the command was accepted"
        self.accepted += 1
        added = self.kit.timeline(incident_id)[before_state.version :]
        assert added, "an accepted command appends at least one event"
        # One event per command, plus the timer events a severity change fires at
        # once, the targets a resolution records as missed, and the review the
        # first resolution creates in its append.
        timers = EscalationFired | TargetMissed | ReviewCreated
        assert len([r for r in added if not isinstance(r.event, timers)]) == 1, added
        assert after.version == before_state.version + len(added)
        assert self.store.version(incident_id) == after.version
        assert self.kit.get(incident_id) == after

    def actor(self, incident_id: str, by: str, as_commander: bool) -> str:
        """``by``, or the incident commander when asked to act as one (and one is assigned)."""
        commander = self.kit.get(incident_id).commander
        return commander if as_commander and commander is not None else by

    def commander_blocks(self, incident_id: str, by: str) -> bool:
        commander = self.kit.get(incident_id).commander
        return self.policy.roles.commander_only and commander is not None and commander != by

    # --- rules ---------------------------------------------------------------

    @initialize(target=incidents, by=ACTORS, severity=st.sampled_from(list(Severity)))
    def declare_first(self, by: str, severity: Severity) -> str:
        return self._declare("API returning 500 errors", by, severity)

    @precondition(lambda self: len(self.ids) < 2)
    @rule(target=incidents, title=TEXT, by=ACTORS, severity=st.sampled_from(list(Severity)))
    def declare(self, title: str, by: str, severity: Severity) -> str:
        if not title.strip():
            before = snapshot(self.store)
            with pytest.raises(ValidationError) as info:
                self.kit.declare(title, severity=severity, by=by)
            assert info.value.field == "title"
            assert snapshot(self.store) == before
            return self.ids[0]
        return self._declare(title, by, severity)

    def _declare(self, title: str, by: str, severity: Severity) -> str:
        state = self.kit.declare(title, severity=severity, by=by)
        assert state.version == 2  # declared + the first escalation step
        assert state.declared_at == self.clock.now()
        self.ids.append(state.id)
        return state.id

    @rule(seconds=st.integers(min_value=0, max_value=3 * 3600))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    @rule(iid=incidents, by=ACTORS)
    def acknowledge(self, iid: str, by: str) -> None:
        self.attempt(iid, lambda: self.kit.acknowledge(iid, by=by))

    @rule(
        iid=incidents,
        by=ACTORS,
        as_commander=st.booleans(),
        severity=st.sampled_from(list(Severity)),
        reason=REASONS,
    )
    def set_severity(
        self, iid: str, by: str, as_commander: bool, severity: Severity, reason: str
    ) -> None:
        by = self.actor(iid, by, as_commander)
        expect = PermissionDenied if self.commander_blocks(iid, by) else None
        self.attempt(
            iid,
            lambda: self.kit.set_severity(iid, severity, by=by, reason=reason),
            expect=expect,
        )

    @rule(iid=incidents, by=ACTORS, as_commander=st.booleans(), role=ROLES, person=ACTORS)
    def assign_role(self, iid: str, by: str, as_commander: bool, role: str, person: str) -> None:
        by = self.actor(iid, by, as_commander)
        if self.commander_blocks(iid, by):
            expect: type[IncidentKitError] | None = PermissionDenied
        elif role == "wizard" and self.kit.get(iid).status is not Status.CLOSED:
            expect = NotFound
        else:
            expect = None
        self.attempt(iid, lambda: self.kit.assign_role(iid, role, person, by=by), expect=expect)

    @rule(iid=incidents, by=ACTORS, as_commander=st.booleans(), role=ROLES)
    def release_role(self, iid: str, by: str, as_commander: bool, role: str) -> None:
        by = self.actor(iid, by, as_commander)
        expect = PermissionDenied if self.commander_blocks(iid, by) else None
        self.attempt(iid, lambda: self.kit.release_role(iid, role, by=by), expect=expect)

    @rule(iid=incidents, by=ACTORS, phase=st.sampled_from([*Phase, "triage"]))
    def enter_phase(self, iid: str, by: str, phase: str) -> None:
        self.attempt(iid, lambda: self.kit.enter_phase(iid, phase, by=by))

    @rule(iid=incidents, by=ACTORS, status=st.sampled_from([*Status, "bogus"]))
    def set_status(self, iid: str, by: str, status: str) -> None:
        current = self.kit.get(iid).status
        valid = (
            status in {s.value for s in Status}
            and Status(status).is_open
            and current.is_open
            and Status(status) in TRANSITIONS[current]
        )
        expect: type[IncidentKitError] | None = None
        if status == "bogus":
            expect = ValidationError
        elif not valid:
            expect = InvalidTransition
        self.attempt(iid, lambda: self.kit.set_status(iid, status, by=by), expect=expect)

    @rule(iid=incidents, by=ACTORS, text=TEXT)
    def add_note(self, iid: str, by: str, text: str) -> None:
        expect: type[IncidentKitError] | None = None
        if self.kit.get(iid).status is Status.CLOSED:
            expect = InvalidTransition
        elif not text.strip():
            expect = ValidationError
        self.attempt(iid, lambda: self.kit.add_note(iid, text, by=by), expect=expect)

    @rule(iid=incidents, by=ACTORS, text=TEXT, conclusion=st.sampled_from(list(Conclusion)))
    def record_hypothesis(self, iid: str, by: str, text: str, conclusion: Conclusion) -> None:
        self.attempt(
            iid,
            lambda: self.kit.record_hypothesis(
                iid, text, by=by, test="look", result="seen", conclusion=conclusion
            ),
        )

    @rule(
        iid=incidents,
        by=ACTORS,
        entry=ITEMS,
        how=st.sampled_from(["check", "skip", "not_applicable"]),
        reason=REASONS,
    )
    def checklist(self, iid: str, by: str, entry: tuple[str, str], how: str, reason: str) -> None:
        checklist, item = entry
        closed = self.kit.get(iid).status is Status.CLOSED
        expect: type[IncidentKitError] | None = None
        if closed:
            expect = InvalidTransition
        elif "no-such" in checklist or "no-such" in item:
            expect = NotFound
        if how == "check":
            command = lambda: self.kit.check(iid, checklist, item, by=by)  # noqa: E731
        elif how == "skip":
            if expect is None and not reason:
                expect = ValidationError
            command = lambda: self.kit.skip(iid, checklist, item, by=by, reason=reason)  # noqa: E731
        else:
            command = lambda: self.kit.not_applicable(iid, checklist, item, by=by)  # noqa: E731
        self.attempt(iid, command, expect=expect)

    @rule(iid=incidents, by=ACTORS, as_commander=st.booleans(), force=st.booleans(), reason=REASONS)
    def resolve(self, iid: str, by: str, as_commander: bool, force: bool, reason: str) -> None:
        by = self.actor(iid, by, as_commander)
        state = self.kit.get(iid)
        expect: type[IncidentKitError] | None = None
        if self.commander_blocks(iid, by):
            expect = PermissionDenied
        elif not state.is_open:
            expect = InvalidTransition
        elif state.commander is None or (state.open_items("resolution") and not force):
            expect = GuardFailed
        elif force and not reason:
            expect = ValidationError
        self.attempt(
            iid,
            lambda: self.kit.resolve(iid, by=by, summary="fixed", force=force, reason=reason),
            expect=expect,
        )
        if expect is None:
            added = [
                r.event for r in self.kit.timeline(iid) if not isinstance(r.event, ReviewCreated)
            ]
            resolved = added[-1]  # the first resolution's append also creates the review
            assert isinstance(resolved, Resolved)
            assert resolved.forced == bool(force and state.open_items("resolution"))

    @rule(iid=incidents, by=ACTORS, as_commander=st.booleans(), reason=REASONS)
    def reopen(self, iid: str, by: str, as_commander: bool, reason: str) -> None:
        by = self.actor(iid, by, as_commander)
        expect: type[IncidentKitError] | None = None
        if self.commander_blocks(iid, by):
            expect = PermissionDenied
        elif self.kit.get(iid).status is not Status.RESOLVED:
            expect = InvalidTransition
        elif not reason:
            expect = ValidationError
        self.attempt(iid, lambda: self.kit.reopen(iid, by=by, reason=reason), expect=expect)

    @rule(iid=incidents, by=ACTORS, as_commander=st.booleans())
    def close(self, iid: str, by: str, as_commander: bool) -> None:
        by = self.actor(iid, by, as_commander)
        state = self.kit.get(iid)
        expect: type[IncidentKitError] | None = None
        if self.commander_blocks(iid, by):
            expect = PermissionDenied
        elif state.status is not Status.RESOLVED:
            expect = InvalidTransition
        self.attempt(iid, lambda: self.kit.close(iid, by=by), expect=expect)

    @rule(iid=incidents, by=ACTORS, reopen=st.booleans())
    def push_lifecycle(self, iid: str, by: str, reopen: bool) -> None:
        """Reach resolved, reopened and closed more often than uniform rule choice would."""
        state = self.kit.get(iid)
        commander = state.commander
        if state.is_open and commander is None:
            self.attempt(iid, lambda: self.kit.assign_role(iid, "incident_commander", by, by=by))
        elif state.is_open:
            self.attempt(
                iid,
                lambda: self.kit.resolve(iid, by=commander, force=True, reason="drill"),
            )
        elif state.status is Status.RESOLVED and reopen:
            self.attempt(iid, lambda: self.kit.reopen(iid, by=commander or by, reason="came back"))
        elif state.status is Status.RESOLVED:
            self.attempt(iid, lambda: self.kit.close(iid, by=commander or by))

    @rule(
        iid=incidents,
        by=ACTORS,
        status=st.sampled_from([*PublicStatus, "on fire"]),
        message=TEXT,
    )
    def post_update(self, iid: str, by: str, status: str, message: str) -> None:
        self.attempt(iid, lambda: self.kit.post_update(iid, status, message, by=by))

    @rule(iid=incidents, by=ACTORS, detail=TEXT)
    def mark_mitigated(self, iid: str, by: str, detail: str) -> None:
        self.attempt(iid, lambda: self.kit.mark_mitigated(iid, by=by, detail=detail))

    # --- invariants ----------------------------------------------------------

    @invariant()
    def timelines_are_consistent(self) -> None:
        fresh = IncidentKit(
            store=self.store, policy=self.policy, clock=self.clock, autoload_plugins=False
        )
        for incident_id in self.ids:
            records = self.kit.timeline(incident_id)
            assert [r.version for r in records] == list(range(1, len(records) + 1))
            assert isinstance(records[0].event, Declared)
            state = self.kit.get(incident_id)
            assert fold(records) == state
            assert fresh.get(incident_id) == state
            assert state.version == len(records) == self.store.version(incident_id)
            self._check_status_path(records)

            assert self.kit.verify(incident_id).ok
            assert summary_fields(self.kit.summary(incident_id)) == expected_summary_fields(state)

    def teardown(self) -> None:
        for incident_id in self.ids:
            for tag in {r.event.tag for r in self.kit.timeline(incident_id)}:
                event(f"recorded {tag}")
            event(f"final status {self.kit.get(incident_id).status}")

    def _check_status_path(self, records: list[RecordedEvent]) -> None:
        state = None
        for record in records:
            previous = state.status if state is not None else None
            state = fold([record], state)
            assert state is not None
            assert state.status in TRANSITIONS
            assert state.status in REACHABLE
            if previous is None:
                assert state.status is INITIAL_STATUS
            elif state.status is not previous:
                assert state.status in TRANSITIONS[previous], (previous, state.status)


KitMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestKitMachine = KitMachine.TestCase


def test_commander_actions_are_the_documented_ones() -> None:
    assert {"set_severity", "assign_role", "release_role", "resolve", "reopen", "close"} == set(
        COMMANDER_ACTIONS
    )
