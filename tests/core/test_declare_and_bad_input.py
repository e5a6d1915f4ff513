"""Declaring incidents, and bad input refused with a typed error that stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import (
    ConcurrencyConflict,
    IncidentKitError,
    NotFound,
    PolicyError,
    ValidationError,
)
from incidentkit.events import Declared, EscalationFired, NoteAdded
from incidentkit.kit import IncidentKit
from incidentkit.policy import Policy, load_policy
from incidentkit.roles import Role
from incidentkit.severity import Severity, Signals
from incidentkit.store import MemoryStore

from ._helpers import T0, KitFactory, snapshot

LA = ZoneInfo("America/Los_Angeles")
NAIVE = datetime(2024, 11, 20, 14, 30)


# --- declare -----------------------------------------------------------------


def test_channel_name_and_mttr_clock(kit: IncidentKit, clock: ManualClock) -> None:
    state = kit.declare("API returning 500 errors!", severity="SEV1", by="alice")
    assert state.channel == "#incident-2024-11-20-api-returning-500-errors"
    assert state.declared_at == clock.now() == T0
    assert state.detected_at == T0  # defaults to the declaration
    assert state.started_at is None
    first, second = (r.event for r in kit.timeline(state.id))
    assert isinstance(first, Declared) and first.declared_at == T0
    assert isinstance(second, EscalationFired) and second.action == "page"


def test_channel_date_is_in_the_policy_zone(make_kit: KitFactory) -> None:
    # 22:30 UTC on the 20th is already the 21st in Tokyo.
    kit = make_kit(Policy(zone=ZoneInfo("Asia/Tokyo")))
    state = kit.declare("Payments down", severity="SEV1", by="alice")
    assert state.channel == "#incident-2024-11-21-payments-down"


def test_long_titles_are_slugged_at_a_word_boundary(kit: IncidentKit) -> None:
    state = kit.declare(
        "Checkout service intermittently failing for customers in the EU region",
        severity="SEV3",
        by="alice",
    )
    slug = state.channel.removeprefix("#incident-2024-11-20-")
    assert slug == "checkout-service-intermittently-failing"
    assert len(slug) <= 40


def test_times_in_other_zones_are_stored_in_utc(kit: IncidentKit) -> None:
    started = datetime(2024, 11, 20, 14, 20, tzinfo=LA)
    detected = datetime(2024, 11, 20, 14, 25, tzinfo=LA)
    state = kit.declare(
        "API 500s", severity="SEV1", by="alice", started_at=started, detected_at=detected
    )
    assert state.started_at == started and state.started_at.utcoffset() == timedelta(0)
    assert state.detected_at == detected and state.detected_at.utcoffset() == timedelta(0)


def test_classification_from_signals_records_the_reasons(kit: IncidentKit) -> None:
    state = kit.declare(
        "Slow and failing", by="alice", signals=Signals(error_rate=0.2, latency_seconds=9)
    )
    assert state.severity is Severity.SEV2
    assert state.reasons == ("latency above 5 seconds", "error rate above 10%")
    declared = kit.timeline(state.id)[0].event
    assert isinstance(declared, Declared) and declared.reasons == state.reasons


def test_explicit_incident_id_is_idempotent(
    kit: IncidentKit, make_kit: KitFactory, store: MemoryStore
) -> None:
    state = kit.declare("API 500s", severity="SEV1", by="alice", incident_id="INC-42")
    assert state.id == "INC-42"
    before = snapshot(store)
    with pytest.raises(ConcurrencyConflict) as err:
        kit.declare("API 500s", severity="SEV1", by="bob", incident_id="INC-42")
    assert (err.value.incident_id, err.value.expected, err.value.actual) == ("INC-42", 0, 2)
    # Another replica gets the same answer.
    with pytest.raises(ConcurrencyConflict):
        make_kit().declare("API 500s", severity="SEV1", by="carol", incident_id="INC-42")
    assert snapshot(store) == before
    assert kit.get("INC-42").declared_by == "alice"


def test_generated_ids_are_distinct(kit: IncidentKit) -> None:
    ids = {kit.declare(f"incident {n}", severity="SEV4", by="a").id for n in range(20)}
    assert len(ids) == 20
    assert all(i.startswith("INC-20241120-") for i in ids)


# --- bad input: a typed error naming the field, nothing stored -------------------

BAD_DECLARATIONS: list[tuple[str, dict[str, Any], type[IncidentKitError], str]] = [
    ("empty title", {"title": ""}, ValidationError, "title"),
    ("blank title", {"title": "   "}, ValidationError, "title"),
    ("title not text", {"title": 42}, ValidationError, "title"),
    ("long title", {"title": "x" * 201}, ValidationError, "title"),
    ("empty by", {"by": ""}, ValidationError, "by"),
    ("blank by", {"by": "  "}, ValidationError, "by"),
    ("unknown severity", {"severity": "SEV9"}, ValidationError, "severity"),
    ("no severity", {"severity": None}, ValidationError, "severity"),
    ("naive started_at", {"started_at": NAIVE}, ValidationError, "started_at"),
    ("naive detected_at", {"detected_at": NAIVE}, ValidationError, "detected_at"),
    ("started_at not a datetime", {"started_at": "today"}, ValidationError, "started_at"),
    (
        "started after detected",
        {"started_at": T0, "detected_at": T0 - timedelta(minutes=1)},
        ValidationError,
        "started_at",
    ),
    ("detected in the future", {"detected_at": T0 + timedelta(1)}, ValidationError, "detected_at"),
    ("unknown source", {"source": "pigeon"}, ValidationError, "source"),
    ("services as one string", {"services": "api"}, ValidationError, "services"),
    ("empty service", {"services": ["api", ""]}, ValidationError, "services"),
    ("empty incident_id", {"incident_id": " "}, ValidationError, "incident_id"),
    ("long incident_id", {"incident_id": "x" * 65}, ValidationError, "incident_id"),
]


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [case[1:] for case in BAD_DECLARATIONS],
    ids=[case[0] for case in BAD_DECLARATIONS],
)
def test_bad_declarations_are_refused(
    kit: IncidentKit,
    store: MemoryStore,
    changes: dict[str, Any],
    error: type[IncidentKitError],
    field: str,
) -> None:
    arguments: dict[str, Any] = {"title": "API 500s", "severity": "SEV1", "by": "alice"}
    arguments.update(changes)
    before = snapshot(store)
    with pytest.raises(error) as err:
        kit.declare(arguments.pop("title"), **arguments)
    assert getattr(err.value, "field", None) == field
    assert field in str(err.value)
    assert snapshot(store) == before


Command = Callable[[IncidentKit, str], object]

BAD_COMMANDS: list[tuple[str, Command, type[IncidentKitError], str]] = [
    ("empty note", lambda k, i: k.add_note(i, "", by="bob"), ValidationError, "text"),
    ("blank note", lambda k, i: k.add_note(i, " \n ", by="bob"), ValidationError, "text"),
    ("note by nobody", lambda k, i: k.add_note(i, "x", by=""), ValidationError, "by"),
    ("note by None", lambda k, i: k.add_note(i, "x", by=None), ValidationError, "by"),  # type: ignore[arg-type]
    (
        "empty hypothesis",
        lambda k, i: k.record_hypothesis(i, "", by="bob"),
        ValidationError,
        "hypothesis",
    ),
    (
        "unknown conclusion",
        lambda k, i: k.record_hypothesis(i, "h", by="bob", conclusion="maybe"),
        ValidationError,
        "conclusion",
    ),
    (
        "severity without reason",
        lambda k, i: k.set_severity(i, "SEV2", by="alice", reason=""),
        ValidationError,
        "reason",
    ),
    (
        "unknown severity",
        lambda k, i: k.set_severity(i, "SEV0", by="alice", reason="x"),
        ValidationError,
        "severity",
    ),
    (
        "unknown phase",
        lambda k, i: k.enter_phase(i, "triage", by="alice"),
        ValidationError,
        "phase",
    ),
    (
        "unknown status",
        lambda k, i: k.set_status(i, "on-fire", by="alice"),
        ValidationError,
        "status",
    ),
    (
        "unknown public status",
        lambda k, i: k.post_update(i, "panicking", "x", by="carol"),
        ValidationError,
        "status",
    ),
    (
        "empty update",
        lambda k, i: k.post_update(i, "investigating", "", by="carol"),
        ValidationError,
        "message",
    ),
    (
        "skip without reason",
        lambda k, i: k.skip(i, "resolution", "fix-validated", by="bob", reason=""),
        ValidationError,
        "reason",
    ),
    ("unknown role", lambda k, i: k.assign_role(i, "wizard", "bob", by="alice"), NotFound, "role"),
    (
        "empty person",
        lambda k, i: k.assign_role(i, Role.SCRIBE, " ", by="alice"),
        ValidationError,
        "person",
    ),
    (
        "unknown checklist",
        lambda k, i: k.check(i, "nope", "x", by="bob"),
        NotFound,
        "checklist",
    ),
    (
        "unknown item",
        lambda k, i: k.check(i, "resolution", "nope", by="bob"),
        NotFound,
        "item in checklist 'resolution'",
    ),
    (
        "empty mitigation detail",
        lambda k, i: k.mark_mitigated(i, by="bob", detail=""),
        ValidationError,
        "detail",
    ),
]


@pytest.mark.parametrize(
    ("command", "error", "field"),
    [case[1:] for case in BAD_COMMANDS],
    ids=[case[0] for case in BAD_COMMANDS],
)
def test_bad_commands_are_refused(
    kit: IncidentKit,
    store: MemoryStore,
    command: Command,
    error: type[IncidentKitError],
    field: str,
) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    before = snapshot(store)
    state = kit.get(iid)
    with pytest.raises(error) as err:
        command(kit, iid)
    named = err.value.field if isinstance(err.value, ValidationError) else err.value.kind  # type: ignore[attr-defined]
    assert named == field
    assert snapshot(store) == before
    assert kit.get(iid) == state


def test_reopen_needs_a_reason(kit: IncidentKit, store: MemoryStore) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(iid, by="alice", force=True, reason="drill")
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        kit.reopen(iid, by="alice", reason=" ")
    assert err.value.field == "reason"
    assert snapshot(store) == before


def test_unknown_incident_is_not_found(kit: IncidentKit, store: MemoryStore) -> None:
    before = snapshot(store)
    for command in (
        lambda: kit.get("INC-nope"),
        lambda: kit.timeline("INC-nope"),
        lambda: kit.verify("INC-nope"),
        lambda: kit.summary("INC-nope"),
        lambda: kit.add_note("INC-nope", "x", by="a"),
    ):
        with pytest.raises(NotFound) as err:
            command()
        assert (err.value.kind, err.value.key) == ("incident", "INC-nope")
    assert snapshot(store) == before


def test_naive_datetimes_elsewhere_are_refused(kit: IncidentKit) -> None:
    with pytest.raises(ValidationError) as err:
        ManualClock(NAIVE)
    assert err.value.field == "start"
    clock = ManualClock(T0)
    with pytest.raises(ValidationError) as err:
        clock.set(NAIVE)
    assert err.value.field == "value"
    assert clock.now() == T0
    with pytest.raises(ValidationError):
        clock.advance(timedelta(seconds=-1))
    for name in ("since", "until"):
        with pytest.raises(ValidationError) as err:
            kit.incidents(**{name: NAIVE})
        assert err.value.field == name


def test_bad_listing_filters_are_refused(kit: IncidentKit) -> None:
    with pytest.raises(ValidationError) as err:
        kit.incidents(status="bogus")
    assert err.value.field == "status"
    with pytest.raises(ValidationError) as err:
        kit.incidents(status=["declared", "bogus"])
    assert err.value.field == "status"
    with pytest.raises(ValidationError) as err:
        kit.incidents(severity=["SEV7"])
    assert err.value.field == "severity"
    with pytest.raises(ValidationError) as err:
        kit.incidents(since=T0, until=T0 - timedelta(1))
    assert err.value.field == "since"
    with pytest.raises(ValidationError) as err:
        kit.incidents(limit=-1)
    assert err.value.field == "limit"


# --- bad policy files ---------------------------------------------------------------

BAD_POLICIES = [
    (
        "wrong type",
        "[roles]\ncommander_only = 'yes'\n",
        "$.roles.commander_only",
        "expected true or false",
    ),
    ("unknown key", "[roles]\nboss = 'alice'\n", "$.roles.boss", "unknown key"),
    ("unknown table", "[escalations]\nx = 1\n", "$.escalations", "unknown key"),
    ("unknown escalation key", "[escalation]\nx = 1\n", "$.escalation.x", "unknown key"),
    ("bad duration", "[phases]\nmitigate = 'a while'\n", "$.phases.mitigate", "not a duration"),
    ("negative duration", "[phases]\nassess = '-5m'\n", "$.phases.assess", "not a duration"),
    ("negative seconds", "[phases]\nresolve = -60\n", "$.phases.resolve", "must not be negative"),
    ("unknown zone", "zone = 'Europe/Atlantis'\n", "$.zone", "unknown IANA time zone"),
    (
        "bad rule condition",
        "[[severity.rules]]\nseverity = 'SEV1'\nwhen = 'moon_phase > 3'\n",
        "$.severity.rules[0].when",
        "unknown signal 'moon_phase'",
    ),
    (
        "duplicate checklist names",
        "[[checklists]]\nname = 'a'\ntitle = 'A'\nitems = [{key = 'x', text = 'X'}]\n"
        "[[checklists]]\nname = 'a'\ntitle = 'B'\nitems = [{key = 'y', text = 'Y'}]\n",
        "$.checklists[1].name",
        "'a' is defined twice",
    ),
    (
        "missing required key",
        "[[checklists]]\nname = 'a'\nitems = []\n",
        "$.checklists[0].title",
        "required key is missing",
    ),
    ("unknown gate", "gating_checklist = 'exit'\n", "$.gating_checklist", "no checklist named"),
    ("not TOML", "zone = \n", "$", "not valid TOML"),
]


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [case[1:] for case in BAD_POLICIES],
    ids=[case[0] for case in BAD_POLICIES],
)
def test_bad_policy_text_names_the_key_path(text: str, path: str, reason: str) -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_toml(text, source="ops/policy.toml")
    paths = {p for p, _ in err.value.problems}
    assert path in paths, err.value.problems
    assert any(reason in r for p, r in err.value.problems if p == path)
    assert err.value.source == "ops/policy.toml"
    assert str(err.value).startswith("invalid policy in ops/policy.toml: ")


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [case[1:] for case in BAD_POLICIES],
    ids=[case[0] for case in BAD_POLICIES],
)
def test_load_policy_names_the_file(tmp_path: Path, text: str, path: str, reason: str) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(file)
    assert err.value.source == str(file)
    assert str(file) in str(err.value) and path in str(err.value)


def test_load_policy_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(tmp_path / "nope.toml")
    assert "nope.toml" in str(err.value) and "cannot read" in str(err.value)


def test_a_good_policy_file_loads(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(
        "zone = 'America/Los_Angeles'\n"
        "[roles]\ncustom = ['security-lead']\ncommander_only = false\n"
        "[phases]\nmitigate = '10m'\ninvestigate = 'PT1H'\nresolve = 1800\n",
        encoding="utf-8",
    )
    policy = load_policy(file)
    assert policy.zone == LA
    assert policy.roles.custom == ("security-lead",) and not policy.roles.commander_only
    assert policy.phases.mitigate == timedelta(minutes=10)
    assert policy.phases.investigate == timedelta(hours=1)
    assert policy.phases.resolve == timedelta(minutes=30)
    assert policy.phases.assess == timedelta(minutes=5)  # untouched default
    assert policy.severity == Policy.default().severity


# --- record() and clocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "field"),
    [
        (["not an event"], "events[0]"),
        ([object()], "events[0]"),
        (
            [
                NoteAdded(by="importer", text="fine"),
                Declared(by="importer", title="again", severity=Severity.SEV1, declared_at=T0),
            ],
            "events[1]",
        ),
    ],
)
def test_record_refuses_what_is_not_a_later_event(
    kit: IncidentKit, store: MemoryStore, events: list[object], field: str
) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        kit.record(iid, events, by="importer")  # type: ignore[arg-type]
    assert err.value.field == field
    assert snapshot(store) == before


def test_record_appends_built_events(kit: IncidentKit) -> None:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    state = kit.record(iid, [NoteAdded(by="pager", text="imported")], by="pager")
    assert state.version == 3
    assert kit.timeline(iid)[-1].event == NoteAdded(by="pager", text="imported")


class ZonedClock:
    """A clock that returns aware times in Los Angeles, not UTC."""

    def __init__(self, now: datetime) -> None:
        self.value = now

    def now(self) -> datetime:
        return self.value


def test_a_clock_in_another_zone_is_recorded_in_utc(make_kit: KitFactory) -> None:
    kit = make_kit(at=ZonedClock(T0.astimezone(LA)))  # type: ignore[arg-type]
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    for record in kit.timeline(iid):
        assert record.recorded_at == T0 and record.recorded_at.utcoffset() == timedelta(0)
    assert kit.get(iid).declared_at.tzinfo is not None
    assert kit.verify(iid).ok


def test_a_naive_clock_is_refused(make_kit: KitFactory, store: MemoryStore) -> None:
    kit = make_kit(at=ZonedClock(NAIVE))  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as err:
        kit.declare("API 500s", severity="SEV1", by="alice")
    assert err.value.field == "clock.now()"
    assert store.incident_ids() == []
