"""Pages reach people through their rules: the guide's SEV1, exactly once with two replicas."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import attrs
import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.notify import NotificationKind, Urgency
from incidentkit.people import ContactMethod, NotificationRule, PeopleConfig, Person, QuietHours
from incidentkit.people.capability import CommanderByPolicy, NobodyOnCall, PersonPaged
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore, Store
from incidentkit.testing import CapturingNotifier

from ._helpers import T0, minutes, people_policy, person

GUIDE_PAGES = [
    ("alice", "push", 0),
    ("alice", "sms", 2),
    ("alice", "phone", 5),
    ("bob", "push", 5),
    ("bob", "sms", 7),
    ("bob", "phone", 10),
]


def paged(kit: IncidentKit, incident_id: str) -> list[tuple[str, str | None, float]]:
    return [
        (r.event.person, r.event.channel, (r.event.due_at - T0).total_seconds() / 60)
        for r in kit.timeline(incident_id)
        if isinstance(r.event, PersonPaged)
    ]


def replicas_tick(store: Store, policy: Policy, *, ack_at: int | None = None) -> list[Any]:
    """Two kits on one store tick (and deliver) every 30 s for 15 minutes, in lockstep."""
    clock = ManualClock(T0)
    first = IncidentKit(store, policy, clock, autoload_plugins=False)
    incident_id = first.declare("Login failures", severity="SEV1", by="mon").id
    barrier = threading.Barrier(2)
    captures = [CapturingNotifier("capture"), CapturingNotifier("capture")]
    errors: list[BaseException] = []

    def replica(n: int) -> None:
        own = ManualClock(T0)
        kit = IncidentKit(store, policy, own, plugins=[captures[n]], autoload_plugins=False)
        try:
            for step in range(31):
                barrier.wait(timeout=60)
                own.set(T0 + timedelta(seconds=30 * step))
                if n == 0 and ack_at is not None and step == ack_at * 2:
                    kit.acknowledge(incident_id, by="alice")
                barrier.wait(timeout=60)
                kit.tick()
                kit.deliver()
        except BaseException as err:
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return [incident_id, first, [n for c in captures for n in c.delivered]]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sev1_nobody_acknowledges_each_contact_once_with_two_replicas(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store = request.getfixturevalue(f"{backend}_store")
    incident_id, kit, delivered = replicas_tick(store, people_policy())
    assert paged(kit, incident_id) == [(p, c, float(m)) for p, c, m in GUIDE_PAGES]
    pages = [n for n in delivered if n.person is not None]
    got = Counter((n.person, n.channel) for n in pages)
    assert got == Counter((p, c) for p, c, _ in GUIDE_PAGES)  # each delivered exactly once
    assert all(n.kind is NotificationKind.PAGE and n.urgency is Urgency.HIGH for n in pages)
    push = next(n for n in pages if (n.person, n.channel) == ("bob", "push"))
    assert push.reason.startswith("step 2 of sev1: layer:secondary of platform")
    assert push.address == "bob-device" and push.targets == ("bob",)
    # The team page of the on-call capability is not sent on top of the people's pages.
    assert not [n for n in delivered if n.person is None and n.kind is NotificationKind.PAGE]


def test_acknowledgement_at_minute_3_stops_the_phone_call_and_the_escalation(
    sqlite_store: Store,
) -> None:
    incident_id, kit, delivered = replicas_tick(sqlite_store, people_policy(), ack_at=3)
    assert paged(kit, incident_id) == [("alice", "push", 0.0), ("alice", "sms", 2.0)]
    assert Counter((n.person, n.channel) for n in delivered if n.person) == Counter(
        {("alice", "push"): 1, ("alice", "sms"): 1}
    )
    assert kit.get(incident_id).paged == ("alice",)


def run_minutes(policy: Policy, until: int, severity: str = "SEV1", **declare: Any) -> Any:
    clock = ManualClock(T0)
    capture = CapturingNotifier("capture")
    kit = IncidentKit(MemoryStore(), policy, clock, plugins=[capture], autoload_plugins=False)
    incident_id = kit.declare("Login failures", severity=severity, by="mon", **declare).id
    for m in range(until + 1):
        clock.set(T0 + minutes(m))
        kit.tick()
        kit.deliver()
    return kit, incident_id, capture


def test_a_gap_in_the_schedule_pages_the_fallback_and_records_nobody_on_call() -> None:
    policy = people_policy(gap=(T0 - minutes(60), T0 + timedelta(hours=5)), fallback=("mgr",))
    kit, incident_id, capture = run_minutes(policy, 6)
    timeline = kit.timeline(incident_id)
    nobody = [r.event for r in timeline if isinstance(r.event, NobodyOnCall)]
    assert [(e.target, e.step, e.fallback, e.due_at) for e in nobody] == [
        ("layer:primary", 0, ("mgr",), T0)
    ]
    assert paged(kit, incident_id) == [
        ("mgr", "push", 0.0),
        ("mgr", "sms", 2.0),
        ("mgr", "phone", 5.0),
        ("bob", "push", 5.0),
    ]
    fallback = [n for n in capture.delivered if n.person == "mgr"]
    assert fallback[0].reason.startswith("step 1: nobody on call for layer:primary; fallback")
    notice = [n for n in capture.delivered if n.reason == "nobody on call for layer:primary"]
    assert len(notice) == 1 and notice[0].targets == ("mgr",)


def test_oncall_gaps_names_a_six_hour_gap_and_nothing_else() -> None:
    start, end = T0, T0 + timedelta(hours=6)
    policy = people_policy(gap=(start, end), fallback=("mgr",))
    kit = IncidentKit(MemoryStore(), policy, ManualClock(T0 - timedelta(days=1)))
    gaps = kit.people.gaps(days=7)
    assert [(g.schedule, g.layer, g.start, g.end) for g in gaps] == [
        ("platform", "primary", start, end)
    ]
    assert gaps[0].duration == timedelta(hours=6)
    assert IncidentKit(MemoryStore(), people_policy()).people.gaps(T0) == ()


def test_the_acknowledging_primary_becomes_commander_with_the_reason() -> None:
    policy = people_policy(commander="acknowledger")
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    incident_id = kit.declare("Login failures", severity="SEV1", by="mon").id
    clock.set(T0 + minutes(1))
    kit.acknowledge(incident_id, by="alice")
    kit.tick()
    state = kit.get(incident_id)
    assert state.commander == "alice"
    why = [r.event for r in kit.timeline(incident_id) if isinstance(r.event, CommanderByPolicy)]
    assert [(e.person, e.reason) for e in why] == [("alice", "acknowledged as primary of platform")]
    kit.tick(T0 + minutes(2))
    timeline = kit.timeline(incident_id)
    assert len([r for r in timeline if isinstance(r.event, CommanderByPolicy)]) == 1


def test_a_secondary_acknowledging_is_not_made_commander_by_the_primary_rule() -> None:
    kit, incident_id, _ = run_minutes(people_policy(commander="acknowledger"), 0)
    kit.acknowledge(incident_id, by="bob")
    kit.tick()
    assert kit.get(incident_id).commander is None


def test_the_first_page_target_becomes_commander() -> None:
    kit, incident_id, _ = run_minutes(people_policy(commander="first_page"), 1)
    assert kit.get(incident_id).commander == "alice"


def test_a_method_naming_a_notifier_goes_only_to_that_notifier() -> None:
    ana = Person(
        "alice",
        contacts=(ContactMethod("push", "dev", notifier="pager"),),
    )
    policy = attrs.evolve(people_policy(), people=PeopleConfig(persons=(ana,)))
    clock = ManualClock(T0)
    pager, other = CapturingNotifier("pager"), CapturingNotifier("other")
    kit = IncidentKit(MemoryStore(), policy, clock, plugins=[pager, other], autoload_plugins=False)
    kit.declare("x", severity="SEV1", by="mon")
    kit.tick()
    kit.deliver()
    assert [(n.person, n.channel) for n in pager.delivered if n.person] == [("alice", "push")]
    assert [n for n in other.delivered if n.person == "alice"] == []


def test_someone_the_directory_does_not_list_is_paged_through_every_notifier() -> None:
    policy = attrs.evolve(people_policy(), people=PeopleConfig(persons=(person("bob"),)))
    _, _, capture = run_minutes(policy, 0)
    alice = [n for n in capture.delivered if n.person == "alice"]
    assert len(alice) == 1 and alice[0].channel is None


def test_low_urgency_waits_for_the_end_of_quiet_hours_in_the_persons_zone() -> None:
    quiet = QuietHours(start=__import__("datetime").time(22), end=__import__("datetime").time(7))
    alice = person("alice", "America/New_York", quiet_hours=quiet)
    policy = attrs.evolve(people_policy(), people=PeopleConfig(persons=(alice,)))
    # SEV3 notifies the primary (low urgency: e-mail). 22:30 UTC is 17:30 in New York.
    pages = IncidentKit(MemoryStore(), policy).people.who_would_be_paged("SEV3", T0)
    assert [(p.person, p.channel, p.at) for p in pages] == [("alice", "email", T0)]
    late = T0 + timedelta(hours=5)  # 22:30 in New York: quiet until 07:00 local (12:00 UTC)
    pages = IncidentKit(MemoryStore(), policy).people.who_would_be_paged("SEV3", late)
    assert [(p.channel, p.at) for p in pages] == [("email", T0.replace(day=21, hour=12, minute=0))]


def test_num_loops_repeats_the_policy_and_ends_with_the_final_fallback() -> None:
    policy = people_policy(
        num_loops=2, loop_after=minutes(10), final_fallback=True, fallback=("mgr",)
    )
    pages = IncidentKit(MemoryStore(), policy).people.who_would_be_paged("SEV1", T0)
    firsts = [(p.person, p.loop, (p.at - T0) / minutes(1)) for p in pages if p.channel == "push"]
    # Loop length: the last step (5 min) + loop_after (10 min) = 15 min.
    assert firsts == [
        ("alice", 0, 0),
        ("bob", 0, 5),
        ("alice", 1, 15),
        ("bob", 1, 20),
        ("mgr", 2, 30),
    ]
    kit, incident_id, _ = run_minutes(policy, 40)
    assert [(p, c, m) for p, c, m in paged(kit, incident_id) if c == "push"] == [
        (p, "push", float(m)) for p, _, m in firsts
    ]


def test_a_directory_role_can_be_an_escalation_target() -> None:
    from incidentkit.oncall import EscalationPolicies, EscalationPolicy, EscalationStep, Target

    dba = person("dana", roles=("database_admin",))
    base = people_policy()
    escalation = EscalationPolicies(
        (EscalationPolicy("sev1", (EscalationStep((Target.role("database_admin"),)),), ["SEV1"]),)
    )
    policy = attrs.evolve(
        base,
        oncall=attrs.evolve(base.oncall, escalation=escalation),
        people=PeopleConfig(persons=(dba,)),
    )
    pages = IncidentKit(MemoryStore(), policy).people.who_would_be_paged("SEV1", T0)
    assert {p.person for p in pages} == {"dana"}
    assert pages[0].reason.startswith("step 1 of sev1: role:database_admin")


def test_rules_can_be_custom() -> None:
    rules = (NotificationRule("high", "sms", minutes(1)),)
    alice = person("alice", rules=rules)
    policy = attrs.evolve(people_policy(), people=PeopleConfig(persons=(alice,)))
    pages = IncidentKit(MemoryStore(), policy).people.who_would_be_paged("SEV1", T0)
    assert [(p.person, p.channel, p.at) for p in pages if p.person == "alice"] == [
        ("alice", "sms", T0 + minutes(1))
    ]


PEOPLE_TOML = """
[people]
fallback = ["mgr"]
commander = "acknowledger"

[[people.persons]]
id = "mgr"
zone = "Europe/Lisbon"
contacts = [{ kind = "sms", address = "+351" }]
rules = [{ urgency = "high", contact = "sms", delay = "1m" }]
quiet_hours = { start = "22:00", end = "07:00" }
"""


def test_the_people_section_loads_from_toml() -> None:
    policy = Policy.from_toml(PEOPLE_TOML)
    mgr = policy.people.person("mgr")
    assert mgr.zone.key == "Europe/Lisbon" and mgr.rules is not None
    assert mgr.rules[0].delay == minutes(1)
    assert policy.people.fallback == ("mgr",)


@pytest.mark.parametrize(
    ("toml", "path"),
    [
        ("[people]\nnum_loops = 0\n", "$.people.num_loops"),
        ('[people]\ncommander = "boss"\n', "$.people.commander"),
        ("[people]\nbogus = 1\n", "$.people.bogus"),
        ('[[people.persons]]\nid = "a"\nzone = "Mars/Base"\n', "$.people.persons[0].zone"),
        (
            '[[people.persons]]\nid = "a"\ncontacts = [{ kind = "pager", address = "x" }]\n',
            "$.people.persons[0].contacts[0].kind",
        ),
        (
            '[[people.persons]]\nid = "a"\nrules = [{ urgency = "high", contact = "sms" }]\n',
            "$.people.persons[0].rules[0].contact",
        ),
        ('[[people.persons]]\nid = "a"\n[[people.persons]]\nid = "a"\n', "$.people.persons[1].id"),
        ('[people]\nfallback = ["ghost"]\n[[people.persons]]\nid = "a"\n', "$.people.fallback[0]"),
        ('[people.service_schedules]\napi = "nope"\n', "$.people.service_schedules.api"),
    ],
)
def test_a_bad_people_section_is_refused_naming_the_key_path(toml: str, path: str) -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_toml(toml)
    assert any(p.startswith(path) for p, _ in err.value.problems), err.value.problems


def test_bad_dry_run_input_is_refused_naming_the_field() -> None:
    kit = IncidentKit(MemoryStore(), people_policy())
    with pytest.raises(ValidationError) as err:
        kit.people.who_would_be_paged("SEV9", T0)
    assert err.value.field == "severity"
    with pytest.raises(ValidationError) as err:
        kit.people.who_would_be_paged("SEV1", T0.replace(tzinfo=None))
    assert err.value.field == "at"
    with pytest.raises(ValidationError) as err:
        kit.people.gaps(T0, days=0)
    assert err.value.field == "days"
    assert kit.incidents() == []


def test_an_expired_acknowledgement_renotifies_the_acknowledger_then_resumes() -> None:
    from incidentkit.people.capability import AcknowledgementExpired

    policy = people_policy(ack_timeout={"SEV1": minutes(10)})
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    incident_id = kit.declare("Login failures", severity="SEV1", by="mon").id
    for m in range(21):  # the second acknowledgement would expire at minute 26
        clock.set(T0 + minutes(m))
        if m == 3:
            kit.acknowledge(incident_id, by="alice")
        if m == 16:
            kit.acknowledge(incident_id, by="alice")  # allowed again once it expired
        kit.tick()
    expired = [
        r.event for r in kit.timeline(incident_id) if isinstance(r.event, AcknowledgementExpired)
    ]
    assert [(e.person, e.acknowledged_at, e.due_at) for e in expired] == [
        ("alice", T0 + minutes(3), T0 + minutes(13))
    ]
    assert sorted(paged(kit, incident_id), key=lambda p: (p[2], p[0], p[1] or "")) == [
        ("alice", "push", 0.0),
        ("alice", "sms", 2.0),
        ("alice", "push", 13.0),  # re-notified
        ("alice", "phone", 15.0),  # the escalation resumes, 10 minutes later
        ("alice", "sms", 15.0),  # re-notification's SMS
        ("bob", "push", 15.0),
    ]
    renotified = [
        r.event
        for r in kit.timeline(incident_id)
        if isinstance(r.event, PersonPaged) and "expired" in r.event.reason
    ]
    assert [e.channel for e in renotified] == ["push", "sms"]
    assert kit.get(incident_id).escalation_acked_at == T0 + minutes(16)


def test_ack_timeout_must_be_positive() -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_toml('[people.ack_timeout]\nSEV1 = "0m"\n')
    assert err.value.problems[0][0].startswith("$.people.ack_timeout")


def test_an_expired_acknowledgement_renotifies_the_latest_acknowledger() -> None:
    from incidentkit.people.capability import AcknowledgementExpired

    policy = people_policy(ack_timeout={"SEV1": minutes(10)})
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    incident_id = kit.declare("Login failures", severity="SEV1", by="mon").id
    for m in range(31):
        clock.set(T0 + minutes(m))
        if m == 3:
            kit.acknowledge(incident_id, by="alice")
        if m == 16:
            kit.acknowledge(incident_id, by="bob")  # bob takes over after alice's expired
        kit.tick()
    expired = [
        r.event for r in kit.timeline(incident_id) if isinstance(r.event, AcknowledgementExpired)
    ]
    assert [(e.person, e.acknowledged_at) for e in expired] == [
        ("alice", T0 + minutes(3)),
        ("bob", T0 + minutes(16)),
    ]
    renotified = [
        (r.event.person, (r.event.due_at - T0).total_seconds() / 60)
        for r in kit.timeline(incident_id)
        if isinstance(r.event, PersonPaged) and "expired" in r.event.reason
    ]
    assert ("bob", 26.0) in renotified
    assert ("alice", 26.0) not in renotified
    state = kit.get(incident_id)
    assert state.acknowledged_by == "alice"  # the first acknowledgement is the MTTA milestone
    assert state.escalation_acked_by is None  # bob's expired at minute 26
