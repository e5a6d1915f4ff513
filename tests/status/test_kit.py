"""kit.status on a real kit: acceptance tests 3, 4, 11 and 12 of wave2-specs §2.3,
audiences, the recovery checklist, impact overrides and refused input."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

import incidentkit as ik
from incidentkit.status import Impact, Indicator
from incidentkit.testing import CapturingNotifier

from ._login import T0, at, login_incident, make_kit

ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")
COMPONENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT_KEYS = {
    "id",
    "name",
    "status",
    "impact",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "started_at",
    "shortlink",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE_KEYS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}


def declare(kit: ik.IncidentKit, severity: ik.Severity = ik.Severity.SEV2) -> str:
    return kit.declare("API returning 500 errors", severity=severity, by="alice").id


def test_4_incident_update_carries_affected_components() -> None:
    kit = make_kit()
    iid = declare(kit)
    kit.status.post(
        iid, "identified", "API errors", by="charlie", components={"api": "partial_outage"}
    )
    doc = kit.status.json("incidents")
    incident = doc["incidents"][0]
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": "api", "name": "API", "old_status": "operational", "new_status": "partial_outage"}
    ]
    assert incident["impact"] == "major"
    assert incident["monitoring_at"] is None and incident["resolved_at"] is None
    kit.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    kit.status.post(iid, "monitoring", "Fix deployed", by="charlie")
    first_monitoring = kit.status.json("incidents")["incidents"][0]["monitoring_at"]
    kit.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    kit.status.post(iid, "monitoring", "Still watching", by="charlie")
    assert kit.status.json("incidents")["incidents"][0]["monitoring_at"] == first_monitoring
    assert first_monitoring == "2024-11-20T14:35:00.000-08:00"
    kit.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    kit.status.post(iid, "resolved", "Fixed", by="charlie")
    incident = kit.status.json("incidents")["incidents"][0]
    assert incident["resolved_at"] == "2024-11-20T14:45:00.000-08:00"
    newest = incident["incident_updates"][0]
    # resolving put the API back to operational, recorded in the update
    assert newest["affected_components"] == [
        {"code": "api", "name": "API", "old_status": "partial_outage", "new_status": "operational"}
    ]
    assert incident["impact"] == "major"  # the peak stays the incident's impact
    assert kit.status.current() == {"api": ik.status.ComponentStatus.OPERATIONAL}
    tags = [r.event.tag for r in kit.timeline(iid)]
    assert tags.count("status_update_posted") == 4


def test_3_summary_json_shape() -> None:
    kit = make_kit()
    open_id = declare(kit)
    kit.status.post(
        open_id,
        "investigating",
        "Logins failing",
        by="charlie",
        components={"login": "major_outage"},
    )
    done = declare(kit)
    kit.status.post(
        done, "resolved", "Billing fixed", by="charlie", components={"billing": "operational"}
    )
    summary = json.loads(json.dumps(kit.status.json("summary")))
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert set(summary["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
    assert [i["id"] for i in summary["incidents"]] == [open_id]
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert summary["status"]["indicator"] in {i.value for i in Indicator}
    for row in summary["components"]:
        keys = set(row)
        assert keys == (COMPONENT_KEYS | {"components"} if row["group"] else COMPONENT_KEYS)
        assert ISO_WITH_OFFSET.fullmatch(row["updated_at"])
    group = next(r for r in summary["components"] if r["group"])
    assert (group["id"], group["components"], group["status"]) == (
        "core",
        ["login", "api"],
        "major_outage",
    )
    incident = summary["incidents"][0]
    assert set(incident) == INCIDENT_KEYS
    assert set(incident["incident_updates"][0]) == UPDATE_KEYS
    for key in ("created_at", "updated_at", "started_at"):
        assert ISO_WITH_OFFSET.fullmatch(incident[key])
    assert incident["status"] in {"investigating", "identified", "monitoring"}
    assert incident["impact"] in {i.value for i in Impact}
    assert set(kit.status.json("status")) == {"page", "status"}
    assert [i["id"] for i in kit.status.json("incidents/unresolved")["incidents"]] == [open_id]
    assert {i["id"] for i in kit.status.json("incidents")["incidents"]} == {open_id, done}
    with pytest.raises(ik.ValidationError) as err:
        kit.status.json("history")
    assert err.value.field == "document"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> ik.Store:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


def test_audiences_reach_only_their_notifiers(store: ik.Store) -> None:
    public = CapturingNotifier("public-slack", audiences=["public"])
    support = CapturingNotifier("support-channel", audiences=["support"])
    plain = CapturingNotifier("plain-webhook")  # no audiences: the default audience only
    kit = make_kit(store, plugins=[public, support, plain])
    iid = declare(kit)
    kit.status.post(
        iid, "investigating", "Refunds for affected users", by="dana", audience="support"
    )
    kit.status.post(
        iid, "investigating", "Logins failing", by="charlie", components={"login": "partial_outage"}
    )
    kit.deliver()

    def updates(notifier: CapturingNotifier) -> list[str]:
        found = notifier.delivered
        return [x.text.splitlines()[0] for x in found if x.kind.value == "status_update"]

    assert updates(support) == ["🔴 Investigating: Refunds for affected users"]
    assert updates(public) == ["🔴 Investigating: Logins failing"]
    assert updates(plain) == ["🔴 Investigating: Logins failing"]
    assert [x.audience for x in support.delivered if x.kind.value == "status_update"] == ["support"]
    # notifications with no audience (the declaration) reach every notifier
    assert all(any(x.kind.value == "notify" for x in n.delivered) for n in (public, support, plain))
    # the core post_update's audience is honoured too
    kit.post_update(
        iid, ik.PublicStatus.IDENTIFIED, "pool exhausted", by="charlie", audience="support"
    )
    kit.deliver()
    assert [x.text for x in public.delivered if x.kind.value == "status_update"][-1].startswith(
        "🔴"
    )
    assert support.delivered[-1].text == "identified: pool exhausted"


def test_11_update_cadence_counts_only_its_audiences() -> None:
    kit = make_kit()
    iid = declare(kit, ik.Severity.SEV1)
    kit.status.post(iid, "investigating", "Logins failing", by="charlie")
    t0 = kit.get(iid).last_update_at
    assert t0 == T0

    def reminders(minutes: int) -> list[ik.RecordedEvent]:
        fired = kit.tick(T0 + timedelta(minutes=minutes)).fired
        return [r for r in fired if r.event.tag == "reminder_fired" and r.incident_id == iid]

    assert len(reminders(15)) == 1
    assert reminders(15) == []
    kit.clock.set(at(20))  # type: ignore[attr-defined]
    kit.status.post(iid, "investigating", "Refund macro ready", by="dana", audience="support")
    assert kit.get(iid).last_update_at == t0  # a support update is not a status update
    kit.status.post(iid, "identified", "Pool exhausted", by="charlie")
    assert kit.get(iid).last_update_at == at(20)
    assert reminders(30) == []  # the clock was reset at 20
    assert len(reminders(35)) == 1


def test_12_subscribers_of_the_affected_components_are_told_once() -> None:
    extra = """
[[status.subscribers]]
id = "ops-api"
channel = "webhook"
address = "https://ops.example.com/hook"
components = ["api"]
notifier = "subs"

[[status.subscribers]]
id = "cfo"
channel = "email"
address = "cfo@example.com"
notifier = "subs"

[[status.subscribers]]
id = "billing-team"
channel = "email"
address = "billing@example.com"
components = ["billing"]
notifier = "subs"
"""
    subs = CapturingNotifier("subs", audiences=["nobody"])  # reached only as the subscriber hook
    kit = make_kit(plugins=[subs], extra=extra.replace("nobody", "public"))
    iid = declare(kit)
    kit.status.set_components(iid, {"api": "major_outage"}, by="bob")
    kit.deliver()
    subs.clear()
    kit.status.post(iid, "resolved", "API restored", by="charlie")
    kit.deliver()
    told = sorted(
        n.targets for n in subs.delivered if n.key.endswith((":ops-api", ":cfo", ":billing-team"))
    )
    assert told == [("cfo@example.com",), ("https://ops.example.com/hook",)]
    kit.deliver()
    assert (
        len(
            [
                n
                for n in subs.delivered
                if ":" in n.key and n.key.split(":")[-1] in {"ops-api", "cfo"}
            ]
        )
        == 2
    )
    notified = [r.event for r in kit.timeline(iid) if r.event.tag == "status_subscriber_notified"]
    assert sorted(e.subscriber for e in notified) == ["cfo", "ops-api"]


def test_a_resolved_public_update_ticks_the_recovery_item() -> None:
    kit = make_kit()
    iid = declare(kit)
    kit.status.post(iid, "resolved", "Fixed for support", by="dana", audience="support")
    assert kit.get(iid).checklists["recovery"]["status-page-resolved"].state.value == "pending"
    kit.status.post(iid, "resolved", "Fixed", by="charlie")
    item = kit.get(iid).checklists["recovery"]["status-page-resolved"]
    assert (item.state.value, item.by, item.reason) == ("done", "charlie", "automatic")


def test_impact_is_derived_and_an_override_is_recorded() -> None:
    kit = make_kit()
    iid = declare(kit)
    kit.status.post(
        iid,
        "investigating",
        "Slow logins",
        by="charlie",
        components={"login": "degraded_performance"},
    )
    assert kit.status.record(iid).impact is Impact.MINOR
    kit.status.override_impact(iid, "critical", by="alice", reason="all EU customers")
    assert kit.status.record(iid).impact is Impact.CRITICAL
    last = kit.timeline(iid)[-1].event
    assert (last.tag, last.by) == ("status_impact_overridden", "alice")
    assert kit.status.page().indicator is Indicator.CRITICAL
    kit.status.override_impact(iid, None, by="alice")
    assert kit.status.record(iid).impact is Impact.MINOR
    assert kit.status.page().description == "Partially Degraded Service"


def test_login_incident_page_goes_back_to_operational() -> None:
    kit = make_kit()
    login_incident(kit)
    assert kit.status.page().description == "All Systems Operational"
    states = {s.component.id: s.status.value for s in kit.status.components()}
    assert states == {"login": "operational", "api": "operational", "billing": "operational"}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda k, i: k.status.post(
                i, "investigating", "x", by="c", components={"db": "major_outage"}
            ),
            "components.db",
        ),
        (
            lambda k, i: k.status.post(i, "investigating", "x", by="c", components={"api": "down"}),
            "components.api",
        ),
        (lambda k, i: k.status.post(i, "fixed", "x", by="c"), "status"),
        (lambda k, i: k.status.post(i, "investigating", "", by="c"), "headline"),
        (lambda k, i: k.status.post(i, "investigating", "x", by="c", audience="press"), "audience"),
        (
            lambda k, i: k.status.post(i, "investigating", "x", by="c", components=["api"]),
            "components",
        ),
        (lambda k, i: k.status.update_component(i, "api", "broken", by="c"), "components.api"),
        (lambda k, i: k.status.override_impact(i, "huge", by="c"), "impact"),
        (lambda k, i: k.status.record_statement(i, "eta", "soon", by="c"), "field"),
        (lambda k, i: k.status.customer_report(i), "incident_id"),
        (lambda k, i: k.status.customer_report(i, zone="Mars/Olympus"), "zone"),
        (lambda k, i: k.status.uptime("api", window="5y"), "window"),
        (lambda k, i: k.status.uptime("api", group="core"), "group"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_appended(call, field) -> None:  # type: ignore[no-untyped-def]
    kit = make_kit()
    iid = declare(kit)
    before = kit.get(iid).version
    with pytest.raises(ik.ValidationError) as err:
        call(kit, iid)
    assert err.value.field == field
    assert kit.get(iid).version == before


def test_unknown_ids_are_not_found() -> None:
    kit = make_kit()
    with pytest.raises(ik.NotFound):
        kit.status.page("nope")
    with pytest.raises(ik.NotFound):
        kit.status.uptime("nope")


def test_a_repeated_command_appends_nothing() -> None:
    kit = make_kit()
    iid = declare(kit)
    kit.status.update_component(iid, "api", "major_outage", by="bob")
    version = kit.get(iid).version
    kit.status.update_component(iid, "api", "major_outage", by="bob")
    kit.status.record_statement(iid, "impact", "15% of logins", by="c")
    kit.status.record_statement(iid, "impact", "15% of logins", by="c")
    assert kit.get(iid).version == version + 1
    first = kit.status.post(iid, "investigating", "x", by="c", idempotency_key="k1")
    again = kit.status.post(iid, "investigating", "x", by="c", idempotency_key="k1")
    assert first.version == again.version


def test_uptime_through_the_kit() -> None:
    extra = """
[status.uptime]
zone = "America/Los_Angeles"

[[status.sla]]
component = "login"
target = 99.95
"""
    kit = make_kit(extra=extra)
    login_incident(kit)  # login partial outage 14:35 - 15:10 (35 min)
    now = T0 + timedelta(days=1)
    day = kit.status.uptime("login", window="24h", at=now)
    assert day.down == timedelta(minutes=35)
    assert day.percent == pytest.approx(100 * (1 - 35 / 1440))
    assert kit.status.uptime("api", window="24h", at=now).percent == 100.0
    group = kit.status.uptime(group="core", window="24h", at=now)
    assert group.down == timedelta(minutes=35)
    month = kit.status.uptime("login", window="2024-11", at=now)
    assert month.start.isoformat() == "2024-11-01T07:00:00+00:00"
    bars = kit.status.bars("login", days=3, at=now)
    assert [b.result.down for b in bars] == [timedelta(0), timedelta(minutes=35), timedelta(0)]
    (report,) = kit.status.sla(at=now)
    assert (report.scope, report.current.met) == ("login", False)
    assert report.current.remaining < timedelta(0)
