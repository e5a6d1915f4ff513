"""The public status app through Starlette's test client: pages, Statuspage JSON, caching, feed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import incidentkit as ik
import incidentkit.web
from incidentkit.errors import NotFound, ValidationError
from incidentkit.status.maintenance import schedule
from incidentkit.store import Store

from ._helpers import T0, Gate, TestClient

POLICY = """
[[status.pages]]
id = "main"
name = "Example status"
url = "https://status.example.com"
zone = "America/Los_Angeles"

[[status.groups]]
id = "core"
name = "Core"

[[status.components]]
id = "login"
name = "Login"
group = "core"
position = 1

[[status.components]]
id = "api"
name = "API"
group = "core"
position = 2

[[status.components]]
id = "billing"
name = "Billing"
position = 3
"""

SUMMARY_KEYS = {"page", "components", "incidents", "scheduled_maintenances", "status"}
PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description",
    "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT_KEYS = {
    "id", "name", "status", "impact", "created_at", "updated_at", "monitoring_at",
    "resolved_at", "started_at", "shortlink", "page_id", "incident_updates", "components",
}  # fmt: skip
UPDATE_KEYS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
    "affected_components", "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
COMPONENT_STATUSES = {
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
}  # fmt: skip
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
IMPACTS = {"none", "minor", "major", "critical"}
INDICATORS = {"none", "minor", "major", "critical", "maintenance"}


def status_kit(store: Store | None = None) -> ik.IncidentKit:
    return ik.IncidentKit(
        store=store,
        policy=ik.Policy.from_toml(POLICY),
        clock=ik.ManualClock(T0),
        autoload_plugins=False,
    )


@pytest.fixture(params=["memory", "sqlite"])
def kit(request: pytest.FixtureRequest) -> ik.IncidentKit:
    store = None if request.param == "memory" else request.getfixturevalue("sqlite_store")
    return status_kit(store)


def public(kit: ik.IncidentKit, **options: object) -> TestClient:
    return TestClient(incidentkit.web.public_app(kit, **options))  # type: ignore[arg-type]


def outage(kit: ik.IncidentKit, components: dict[str, str], resolve: bool = False) -> str:
    iid = kit.declare("Login API returning 500 errors", severity="SEV1", by="alice").id
    kit.status.post(
        iid,
        "investigating",
        "Users may experience login failures",
        "We are investigating.",
        by="charlie",
        components=components,
    )
    if resolve:
        assert isinstance(kit.clock, ik.ManualClock)
        kit.clock.advance(timedelta(minutes=30))
        kit.status.post(iid, "resolved", "Login restored", by="charlie")
    return iid


def _offset(value: str) -> None:
    assert datetime.fromisoformat(value).utcoffset() is not None, value


def test_summary_json_key_sets_and_enums(kit: ik.IncidentKit) -> None:
    iid = outage(kit, {"login": "partial_outage"})
    outage(kit, {"api": "degraded_performance"}, resolve=True)
    response = public(kit).get("/api/v2/summary.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert set(doc) == SUMMARY_KEYS
    assert set(doc["page"]) == PAGE_KEYS
    _offset(doc["page"]["updated_at"])
    assert doc["status"]["indicator"] in INDICATORS
    assert doc["status"] == {"indicator": "minor", "description": "Minor Service Outage"}
    for row in doc["components"]:
        assert set(row) - {"components"} == COMPONENT_KEYS
        assert row["status"] in COMPONENT_STATUSES
        assert ("components" in row) is row["group"]
    by_id = {r["id"]: r for r in doc["components"]}
    assert by_id["core"]["components"] == ["login", "api"]
    assert by_id["login"]["status"] == "partial_outage"
    assert by_id["api"]["status"] == "operational"  # the resolved incident gave it back
    # only the unresolved incident
    assert [i["id"] for i in doc["incidents"]] == [iid]
    incident = doc["incidents"][0]
    assert set(incident) == INCIDENT_KEYS
    assert incident["status"] in INCIDENT_STATUSES
    assert incident["impact"] in IMPACTS
    for key in ("created_at", "updated_at", "started_at"):
        _offset(incident[key])
    update = incident["incident_updates"][0]
    assert set(update) == UPDATE_KEYS
    assert update["affected_components"] == [
        {
            "code": "login",
            "name": "Login",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]
    assert doc["scheduled_maintenances"] == []


def test_every_document_is_served(kit: ik.IncidentKit) -> None:
    open_id = outage(kit, {"login": "major_outage"})
    done_id = outage(kit, {"billing": "partial_outage"}, resolve=True)
    c = public(kit)
    status = c.get("/api/v2/status.json").json()
    assert set(status) == {"page", "status"}
    assert status["status"]["indicator"] == "major"
    components = c.get("/api/v2/components.json").json()
    assert {r["id"] for r in components["components"]} == {"core", "login", "api", "billing"}
    everything = c.get("/api/v2/incidents.json").json()
    assert {i["id"] for i in everything["incidents"]} == {open_id, done_id}
    unresolved = c.get("/api/v2/incidents/unresolved.json").json()
    assert [i["id"] for i in unresolved["incidents"]] == [open_id]
    for name in ("scheduled-maintenances", "scheduled-maintenances/upcoming"):
        assert c.get(f"/api/v2/{name}.json").json()["scheduled_maintenances"] == []
    missing = c.get("/api/v2/subscribers.json")
    assert missing.status_code == 404
    assert "subscribers.json" in missing.json()["error"]


def test_host_maintenances_are_served(kit: ik.IncidentKit) -> None:
    planned = schedule(
        "m1",
        "Database upgrade",
        T0 + timedelta(days=1),
        T0 + timedelta(days=1, hours=2),
        ["api"],
        known=["login", "api", "billing"],
        now=T0,
    )
    c = public(kit, maintenances=lambda: [planned])
    upcoming = c.get("/api/v2/scheduled-maintenances/upcoming.json").json()
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == ["m1"]
    summary = c.get("/api/v2/summary.json").json()
    assert [m["name"] for m in summary["scheduled_maintenances"]] == ["Database upgrade"]
    assert "Database upgrade" in c.get("/").text
    assert (
        c.get("/api/v2/scheduled-maintenances/active.json").json()["scheduled_maintenances"] == []
    )


def test_stored_maintenances_are_served_without_the_host(kit: ik.IncidentKit) -> None:
    start = T0 + timedelta(hours=1)
    kit.status.maintenances.schedule(
        "Database upgrade",
        start,
        start + timedelta(hours=2),
        ["api"],
        by="dana",
        body="Logins may be slow.",
        maintenance_id="MNT-1",
    )
    c = public(kit)
    upcoming = c.get("/api/v2/scheduled-maintenances/upcoming.json").json()
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == ["MNT-1"]
    page = c.get("/").text
    assert "Database upgrade" in page and "affects API" in page and "Logins may be slow." in page
    assert isinstance(kit.clock, ik.ManualClock)
    kit.clock.set(start)
    kit.status.maintenances.start("MNT-1", by="dana")
    summary = c.get("/api/v2/summary.json").json()
    assert summary["status"]["description"] == "Service Under Maintenance"
    by_id = {r["id"]: r["status"] for r in summary["components"]}
    assert by_id["api"] == "under_maintenance"
    active = c.get("/api/v2/scheduled-maintenances/active.json").json()
    assert [m["status"] for m in active["scheduled_maintenances"]] == ["in_progress"]


def test_etag_if_none_match_and_cache_control(kit: ik.IncidentKit) -> None:
    c = public(kit, max_age=15)
    for path in ("/api/v2/summary.json", "/api/v2/status.json", "/", "/feed.atom", "/history"):
        first = c.get(path)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=15"
        assert etag.startswith('"') and etag.endswith('"')
        again = c.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert c.get(path, headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
        assert c.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    before = c.get("/api/v2/summary.json").headers["etag"]
    outage(kit, {"api": "partial_outage"})
    changed = c.get("/api/v2/summary.json", headers={"If-None-Match": before})
    assert changed.status_code == 200
    assert changed.headers["etag"] != before


def test_the_status_page_says_the_page_status_in_words(kit: ik.IncidentKit) -> None:
    c = public(kit)
    page = c.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "All Systems Operational" in page.text
    assert page.text.count("<rect") == 3 * 90  # 90-day bars for the three components
    assert "No data" not in page.text
    kit.declare("Everything down", severity="SEV1", by="alice")
    iid = outage(kit, {"login": "major_outage", "api": "major_outage", "billing": "major_outage"})
    text = c.get("/").text
    assert "Major System Outage" in text
    assert "Active incidents" in text
    assert "Users may experience login failures" in text
    assert text.count('cs-major_outage">Major outage') == 4  # 3 components, the Core group
    detail = c.get(f"/incidents/{iid}")
    assert detail.status_code == 200
    assert "We are investigating." in detail.text


def test_an_outage_shows_in_the_day_bar_and_history(kit: ik.IncidentKit) -> None:
    iid = outage(kit, {"login": "major_outage"}, resolve=True)
    c = public(kit)
    text = c.get("/").text
    assert "All Systems Operational" in text
    # 30 min of a major outage today: 1 - 30/1440 of the day, 1 - 30/(90 days) of the window
    assert 'class="b-partial"><title>' in text
    assert ": 97.92% uptime</title>" in text
    assert "99.98% uptime ·" in text
    history = c.get("/history").text
    assert iid in history and "Resolved" in history


def test_an_incident_never_posted_to_the_page_stays_private(kit: ik.IncidentKit) -> None:
    iid = kit.declare("Internal only", severity="SEV3", by="alice").id
    kit.status.post(iid, "investigating", "Looking", by="alice", audience="internal")
    c = public(kit)
    assert c.get(f"/incidents/{iid}").status_code == 404
    assert c.get("/api/v2/incidents.json").json()["incidents"] == []
    assert "Internal only" not in c.get("/history").text
    bad = c.get("/incidents/..%2Fetc")
    assert bad.status_code in (400, 404)


def test_atom_feed_lists_every_update_newest_first(kit: ik.IncidentKit) -> None:
    outage(kit, {"login": "major_outage"}, resolve=True)
    response = public(kit).get("/feed.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.fromstring(response.content)
    entries = feed.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == [
        "Login API returning 500 errors: Resolved",
        "Login API returning 500 errors: Investigating",
    ]
    assert feed.findtext("a:id", namespaces=ns) == "urn:incidentkit:status:main"
    for entry in entries:
        _offset(entry.findtext("a:updated", namespaces=ns) or "")
        assert entry.find("a:link", ns) is not None


def test_mounted_under_a_prefix_next_to_a_refusing_dashboard(kit: ik.IncidentKit) -> None:
    gate = Gate(refuse={"read"})
    host = Starlette(
        routes=[
            Mount("/status", app=incidentkit.web.public_app(kit)),
            Mount("/ik", app=incidentkit.web.app(kit, authorize=gate)),
        ]
    )
    c = TestClient(host)
    assert c.get("/ik/").status_code == 403
    page = c.get("/status/")
    assert page.status_code == 200
    assert 'href="/status/static/status.css"' in page.text
    assert 'href="/status/history"' in page.text
    assert c.get("/status/static/status.css").status_code == 200
    assert c.get("/status/api/v2/summary.json").status_code == 200
    feed = c.get("/status/feed.atom").text
    assert "http://testserver/status/feed.atom" in feed
    assert gate.asked == ["read"]  # the public app never asks


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_age": -1}, "max_age"),
        ({"max_age": True}, "max_age"),
        ({"bar_days": 0}, "bar_days"),
        ({"bar_days": 400}, "bar_days"),
        ({"maintenances": ["m1"]}, "maintenances"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        incidentkit.web.public_app(status_kit(), **options)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_unknown_page_is_refused() -> None:
    with pytest.raises(NotFound):
        incidentkit.web.public_app(status_kit(), page="nope")


def test_a_second_page_shows_only_its_components() -> None:
    kit = ik.IncidentKit(
        policy=ik.Policy.from_toml(
            POLICY
            + """
[[status.pages]]
id = "partners"
name = "Partner status"
audience = "customers"

[[status.components]]
id = "partner-api"
name = "Partner API"
page = "partners"
"""
        ),
        clock=ik.ManualClock(T0),
        autoload_plugins=False,
    )
    c = public(kit, page="partners")
    doc = c.get("/api/v2/components.json").json()
    assert [r["id"] for r in doc["components"]] == ["partner-api"]
    assert "Partner status" in c.get("/").text


def test_an_unchanged_page_renders_the_same_json_at_any_now(kit: ik.IncidentKit) -> None:
    from incidentkit.status import render

    config = kit.status.config
    page = config.page("main")
    states = kit.status.components()
    first = render.summary_json(config, page, states, (), T0)
    later = render.summary_json(config, page, states, (), T0 + timedelta(days=3, minutes=7))
    assert json.dumps(first, sort_keys=True) == json.dumps(later, sort_keys=True)
    login = next(r for r in first["components"] if r["id"] == "login")
    assert login["created_at"] == render.EPOCH.astimezone(page.zone).isoformat(
        timespec="milliseconds"
    )


def test_the_public_app_answers_304_under_a_moving_clock(kit: ik.IncidentKit) -> None:
    assert isinstance(kit.clock, ik.ManualClock)
    c = public(kit)
    for path in ("/api/v2/summary.json", "/api/v2/components.json", "/api/v2/status.json"):
        first = c.get(path)
        kit.clock.advance(timedelta(minutes=11))
        again = c.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, path
    outage(kit, {"api": "partial_outage"})
    body = c.get("/api/v2/summary.json")
    kit.clock.advance(timedelta(hours=2))
    later = c.get("/api/v2/summary.json")
    assert later.content == body.content
    assert (
        c.get("/api/v2/summary.json", headers={"If-None-Match": body.headers["etag"]}).status_code
        == 304
    )
