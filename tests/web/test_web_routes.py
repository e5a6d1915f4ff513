"""Every route of the dashboard through Starlette's test client."""

from __future__ import annotations

import html
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import incidentkit as ik
import incidentkit.web
from incidentkit.errors import ValidationError
from incidentkit.oncall import Layer, OnCallConfig, Rotation, Schedule
from incidentkit.people import ContactMethod, PeopleConfig, Person

from ._helpers import RESOLUTION, Gate, TestClient, client, make_kit, post, refused, token

RUNBOOK = """\
+++
id = "high-error-rate"
title = "High error rate runbook"
services = ["login-api"]
severity = "SEV2"
owner = "alice"
review_every = "90d"
last_reviewed = 2024-11-01
+++
# Runbook: High error rate

## Symptoms
- API returning 500s

## Triage Steps
1. Check the error-rate dashboard
"""


@pytest.fixture
def kit() -> ik.IncidentKit:
    return make_kit()


def declared(kit: ik.IncidentKit, **extra: object) -> str:
    return kit.declare(
        "Login API returning 500 errors",
        severity="SEV1",
        by="alice",
        services=["login-api"],
        **extra,
    ).id  # type: ignore[arg-type]


def test_core_import_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, incidentkit, incidentkit.cli, incidentkit.chatops, incidentkit.web;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'jinja2')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_ships_its_templates_and_static_files() -> None:
    root = Path(incidentkit.web.__file__).parent
    assert (root / "templates" / "incident.html").is_file()
    assert (root / "static" / "style.css").is_file()
    assert (root / "static" / "live.js").is_file()


def test_bad_app_arguments_are_refused(kit: ik.IncidentKit) -> None:
    for kwargs, field in [
        ({"authorize": "yes"}, "authorize"),
        ({"authorize": incidentkit.web.allow_all, "actor": 3}, "actor"),
        ({"authorize": incidentkit.web.allow_all, "refresh_seconds": 0}, "refresh_seconds"),
        ({"authorize": incidentkit.web.allow_all, "refresh_seconds": True}, "refresh_seconds"),
        (
            {"authorize": incidentkit.web.allow_all, "slack_signing_secret": ""},
            "slack_signing_secret",
        ),
    ]:
        with pytest.raises(ValidationError) as caught:
            incidentkit.web.app(kit, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field


def test_the_incident_list_filters_and_searches(kit: ik.IncidentKit) -> None:
    a = declared(kit)
    b = kit.declare("Checkout slow", severity="SEV3", by="bob", services=["checkout"]).id
    kit.assign_role(b, "incident_commander", "bob", by="bob")
    kit.resolve(b, by="bob", force=True, reason="test")
    c = client(kit)
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert a in page.text and b in page.text
    assert b not in c.get("/?status=open").text and a in c.get("/?status=open").text
    assert a not in c.get("/?status=resolved").text
    assert b not in c.get("/?severity=SEV1").text
    assert a not in c.get("/?service=checkout").text
    assert a not in c.get("/?q=checkout").text and b in c.get("/?q=CHECKOUT").text
    assert a in c.get("/?since=2024-11-20&until=2024-11-20").text
    assert a not in c.get("/?since=2024-11-21").text


@pytest.mark.parametrize(
    "query",
    ["status=bogus", "severity=SEV9", "since=yesterday", "since=2024-11-22&until=2024-11-20"],
)
def test_malformed_filters_answer_400(kit: ik.IncidentKit, query: str) -> None:
    response = client(kit).get(f"/?{query}")
    assert response.status_code == 400
    assert "invalid" in response.text


def test_declare_through_the_form(kit: ik.IncidentKit) -> None:
    c = client(kit)
    response = post(
        c,
        "/incidents",
        title="API returning 500 errors",
        severity="SEV1",
        services="api, web",
        by="alice",
        command_id="abc123",
    )
    assert response.status_code == 303
    iid = response.headers["location"].rsplit("/", 1)[1]
    state = kit.get(iid)
    assert state.severity is ik.Severity.SEV1 and state.services == ("api", "web")
    # the same command id again is the same command, not a second incident
    again = post(
        c,
        "/incidents",
        title="API returning 500 errors",
        severity="SEV1",
        services="api, web",
        by="alice",
        command_id="abc123",
    )
    assert again.headers["location"] == response.headers["location"]
    assert len(kit.incidents()) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"severity": "SEV1", "by": "alice"}, "title"),
        ({"title": "x", "severity": "SEV9", "by": "alice"}, "severity"),
        ({"title": "x", "severity": "SEV1"}, "by"),
        (
            {"title": "x", "severity": "SEV1", "by": "alice", "command_id": "no spaces!"},
            "command_id",
        ),
    ],
)
def test_a_malformed_declaration_is_400_and_stores_nothing(
    kit: ik.IncidentKit, fields: dict[str, str], field: str
) -> None:
    response = post(client(kit), "/incidents", **fields)
    assert response.status_code == 400
    assert field in response.text
    assert kit.incidents() == []


def test_csrf_is_required_on_every_form(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    before = kit.store.version(iid)
    c = client(kit)
    token(c)
    for path in [
        "/incidents",
        *(
            f"/incidents/{iid}/{cmd}"
            for cmd in ("acknowledge", "assign", "note", "update", "check", "resolve")
        ),
    ]:
        missing = c.post(path, data={"by": "alice", "text": "x"})
        assert missing.status_code == 403 and "CSRF" in missing.text, path
        wrong = c.post(path, data={"by": "alice", "text": "x", "csrf_token": "x" * 43})
        assert wrong.status_code == 403, path
    fresh = TestClient(c.app)  # no cookie at all
    assert fresh.post(f"/incidents/{iid}/note", data={"csrf_token": "x" * 43}).status_code == 403
    assert kit.store.version(iid) == before
    assert len(kit.incidents()) == 1


def test_a_form_must_be_a_form(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    c = client(kit)
    token(c)
    assert (
        c.post(
            f"/incidents/{iid}/note", content=b"{}", headers={"content-type": "application/json"}
        ).status_code
        == 415
    )
    big = c.post(f"/incidents/{iid}/note", data={"text": "x" * 70_000})
    assert big.status_code == 413


def test_refused_authorization_is_403_everywhere(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    before = kit.store.version(iid)
    gate = Gate(refuse=set(incidentkit.web.ACTIONS))
    c = client(kit, gate)
    for path in ["/", f"/incidents/{iid}", f"/incidents/{iid}/version", "/oncall", "/metrics"]:
        assert c.get(path).status_code == 403, path
    open_gate = client(kit)
    tok = token(open_gate)
    c.cookies.set("incidentkit_csrf", tok)
    for path, action in [
        ("/incidents", "declare"),
        (f"/incidents/{iid}/acknowledge", "acknowledge"),
        (f"/incidents/{iid}/assign", "assign_role"),
        (f"/incidents/{iid}/note", "add_note"),
        (f"/incidents/{iid}/update", "post_update"),
        (f"/incidents/{iid}/check", "check"),
        (f"/incidents/{iid}/resolve", "resolve"),
    ]:
        gate.asked.clear()
        response = c.post(
            path,
            data={"csrf_token": tok, "by": "alice", "text": "x", "title": "t", "severity": "SEV1"},
        )
        assert response.status_code == 403, path
        assert gate.asked == [action]
    assert kit.store.version(iid) == before
    assert len(kit.incidents()) == 1


def test_only_the_refused_action_is_refused(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    c = client(kit, Gate(refuse={"resolve"}))
    assert c.get(f"/incidents/{iid}").status_code == 200
    assert post(c, f"/incidents/{iid}/note", text="hello", by="bob").status_code == 303
    assert post(c, f"/incidents/{iid}/resolve", by="alice").status_code == 403


def test_an_async_authorize_is_awaited(kit: ik.IncidentKit) -> None:
    async def deny(request: object, action: str) -> bool:
        return action != "read"

    assert client(kit, deny).get("/").status_code == 403  # type: ignore[arg-type]


def test_the_actor_comes_from_the_host_when_it_says(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    c = client(kit, actor=lambda request: "sso-user")
    assert 'name="by"' not in c.get(f"/incidents/{iid}").text
    assert post(c, f"/incidents/{iid}/note", text="from sso", by="ignored").status_code == 303
    assert kit.timeline(iid)[-1].event.by == "sso-user"


def test_the_login_incident_walks_to_resolved_through_the_forms(kit: ik.IncidentKit) -> None:
    c = client(kit)
    response = post(
        c, "/incidents", title="Login API returning 500 errors", severity="SEV1", by="alice"
    )
    iid = response.headers["location"].rsplit("/", 1)[1]
    steps = [
        ("acknowledge", {"by": "alice"}),
        ("assign", {"role": "incident_commander", "person": "alice", "by": "alice"}),
        ("assign", {"role": "technical_lead", "person": "bob", "by": "alice"}),
        ("note", {"text": "Checking dashboards... seeing 15% error rate", "by": "bob"}),
        (
            "update",
            {
                "status": "investigating",
                "message": "We are investigating login failures.",
                "by": "alice",
            },
        ),
        *[
            ("check", {"checklist": "resolution", "item": item, "by": "alice"})
            for item in RESOLUTION
        ],
        ("resolve", {"summary": "Connection pool size raised from 10 to 20", "by": "alice"}),
    ]
    for command, fields in steps:
        response = post(c, f"/incidents/{iid}/{command}", **fields)
        assert response.status_code == 303, (command, refused(response.text))
    state = kit.get(iid)
    assert state.status is ik.Status.RESOLVED
    assert state.roles["technical_lead"] == "bob"
    page = c.get(f"/incidents/{iid}").text
    assert "Connection pool size raised" in page and "Hash chain verified" in page
    assert "live.js" not in page  # a resolved incident does not poll


def test_a_refused_command_shows_the_reason_and_keeps_the_page(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    c = client(kit)
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    response = post(c, f"/incidents/{iid}/resolve", by="alice")
    assert response.status_code == 409
    assert refused(response.text) and "Resolve" in response.text
    response = post(
        c, f"/incidents/{iid}/assign", role="technical_lead", person="bob", by="mallory"
    )
    assert response.status_code == 403
    response = post(c, f"/incidents/{iid}/check", checklist="resolution", item="nope", by="alice")
    assert response.status_code == 404
    response = post(c, f"/incidents/{iid}/update", status="fixed", message="x", by="alice")
    assert response.status_code == 400
    response = post(c, f"/incidents/{iid}/note", text="", by="alice")
    assert response.status_code == 400
    assert post(c, f"/incidents/{iid}/frobnicate", by="alice").status_code == 404
    assert post(c, "/incidents/INC-missing/note", text="x", by="alice").status_code == 404
    assert post(c, "/incidents/bad:id/note", text="x", by="alice").status_code in (400, 404)


def test_the_incident_page_shows_every_part(kit: ik.IncidentKit, tmp_path: Path) -> None:
    iid = declared(kit)
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    kit.record_hypothesis(
        iid, "Database connection pool exhausted", by="bob", conclusion=ik.Conclusion.CONFIRMED
    )
    kit.mark_mitigated(iid, by="bob", detail="pool size 10 → 20", action="deploy")
    kit.post_update(iid, ik.PublicStatus.IDENTIFIED, "Root cause found", by="alice")
    (tmp_path / "rb.md").write_text(RUNBOOK, encoding="utf-8")
    kit.runbooks.load(tmp_path)
    kit.runbooks.attach(iid, "high-error-rate", by="alice")
    for item in RESOLUTION:
        kit.check(iid, "resolution", item, by="alice")
    kit.resolve(iid, by="alice", summary="done")
    page = client(kit).get(f"/incidents/{iid}")
    text = page.text
    assert page.status_code == 200
    for part in [
        "Roles",
        "Checklists",
        "Hypotheses",
        "Database connection pool exhausted",
        "Mitigations",
        "pool size 10 → 20",
        "Status updates",
        "Root cause found",
        "Runbooks",
        "Review",
        "Timeline",
        "Hash chain verified",
    ]:
        assert part in text, part
    timeline = text[text.index('id="tl-h"') :]
    assert timeline.index("Incident declared") < timeline.index("Root cause found")
    assert timeline.index("Root cause found") < timeline.index("Incident resolved")
    assert "High error rate runbook" in text
    assert "<main" in text and "<nav" in text and "<header" in text and "<footer" in text


def test_a_tampered_timeline_shows_where_the_chain_breaks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    with make_kit(url) as kit:
        iid = declared(kit, incident_id="INC-A")
        for n in range(4):
            kit.add_note(iid, f"note {n}", by="bob")
    conn = sqlite3.connect(tmp_path / "incidents.db")
    with conn:
        conn.execute(
            "UPDATE incidentkit_events SET payload = replace(payload, 'note 2', 'note X') "
            "WHERE incident_id = 'INC-A'"
        )
    conn.close()
    with make_kit(url) as kit:
        broken = kit.verify("INC-A").broken_version
        assert broken is not None
        text = client(kit).get("/incidents/INC-A").text
    assert f"Chain broken at #{broken}" in text
    assert "Hash chain verified" not in text


def test_the_version_endpoint_feeds_live_refresh(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    c = client(kit)
    first = c.get(f"/incidents/{iid}/version").json()
    kit.add_note(iid, "new", by="bob")
    second = c.get(f"/incidents/{iid}/version").json()
    assert second["version"] == first["version"] + 1 and second["status"] == "declared"
    assert c.get("/incidents/INC-none/version").status_code == 404
    page = c.get(f"/incidents/{iid}").text
    assert "live.js" in page and f'data-version="{second["version"]}"' in page


def test_oncall_now_and_next() -> None:
    policy = ik.Policy.from_mapping(
        {
            "oncall": {
                "schedules": [
                    {
                        "name": "platform",
                        "layers": [
                            {
                                "name": "primary",
                                "rotations": [
                                    {
                                        "name": "weekly",
                                        "participants": ["alice", "bob"],
                                        "start": "2024-11-18T09:00:00+00:00",
                                        "zone": "UTC",
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        }
    )
    kit = ik.IncidentKit(policy=policy, clock=ik.ManualClock(ik.testing.SAMPLE_TIME))
    text = client(kit).get("/oncall").text
    row = text[text.index("<td>platform</td>") :]
    assert row.index("alice") < row.index("bob")
    assert "2024-11-25 09:00 UTC" in row


def test_metrics_are_svg_charts(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    kit.clock.advance(timedelta(minutes=3))  # type: ignore[attr-defined]
    kit.acknowledge(iid, by="alice")
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    kit.resolve(iid, by="alice", force=True, reason="test")
    text = client(kit).get("/metrics").text
    assert text.count("<svg") == 3
    assert "MTTA by month" in text and "MTTR by month" in text and "MTBF per service" in text
    assert "2024-11" in text


def test_mounted_under_a_prefix_every_link_carries_it(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    host = Starlette(
        routes=[Mount("/ik", incidentkit.web.app(kit, authorize=incidentkit.web.allow_all))]
    )
    c = TestClient(host)
    page = c.get("/ik/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for attr in ('href="/', 'src="/', 'action="/'):
        at = 0
        while (at := page.text.find(attr, at)) != -1:
            assert page.text.startswith(attr + "ik/", at) or page.text.startswith(
                attr + 'ik"', at
            ), page.text[at : at + 40]
            at += 1
    assert c.get("/ik/static/style.css").status_code == 200
    assert f'href="/ik/incidents/{iid}"' in page.text
    tok = c.cookies.get("incidentkit_csrf")
    response = c.post(
        f"/ik/incidents/{iid}/note",
        data={"csrf_token": tok, "by": "bob", "text": "hi"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == f"/ik/incidents/{iid}"


def test_mounted_in_flask_through_a2wsgi(kit: ik.IncidentKit) -> None:
    from a2wsgi import ASGIMiddleware
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    iid = declared(kit)
    flask_app = Flask("host")

    @flask_app.get("/")
    def home() -> str:
        return "host home"

    flask_app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app,
        {"/ik": ASGIMiddleware(incidentkit.web.app(kit, authorize=incidentkit.web.allow_all))},
    )
    c = flask_app.test_client()
    assert c.get("/").get_data(as_text=True) == "host home"
    page = c.get("/ik/", buffered=True)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'href="/ik/incidents/{iid}"' in text and 'href="/ik/static/style.css"' in text
    assert c.get(f"/ik/incidents/{iid}", buffered=True).status_code == 200
    css = c.get("/ik/static/style.css", buffered=True)
    assert css.status_code == 200 and b"font" in css.get_data()
    tok = c.get_cookie("incidentkit_csrf", path="/ik")
    assert tok is not None
    response = c.post(
        f"/ik/incidents/{iid}/note",
        data={"csrf_token": tok.value, "by": "bob", "text": "via flask"},
        buffered=True,
    )
    assert response.status_code == 303
    assert kit.timeline(iid)[-1].event.describe().endswith("via flask")


def _paging_kit() -> ik.IncidentKit:
    utc = ZoneInfo("UTC")
    start = datetime(2024, 11, 18, 9, tzinfo=UTC)
    rota = Schedule(
        "platform",
        (
            Layer("primary", (Rotation(("alice", "dave"), start, utc),)),
            Layer("secondary", (Rotation(("bob", "erin"), start, utc),)),
        ),
    )
    persons = tuple(
        Person(
            pid,
            pid.title(),
            utc,
            (ContactMethod("push", f"{pid}-device"), ContactMethod("sms", f"+1555{pid}")),
        )
        for pid in ("alice", "bob", "dave", "erin")
    )
    base = ik.Policy.default()
    policy = attrs.evolve(
        base,
        oncall=OnCallConfig((rota,), base.oncall.escalation),
        people=PeopleConfig(persons=persons),
    )
    return ik.IncidentKit(policy=policy, clock=ik.ManualClock(ik.testing.SAMPLE_TIME))


def test_escalation_dry_run_lists_the_pages_minute_by_minute() -> None:
    kit = _paging_kit()
    gate = Gate()
    c = client(kit, gate)
    assert 'href="/oncall/dry-run"' in c.get("/oncall").text
    at = "2024-11-20T22:30"
    response = c.get("/oncall/dry-run", params={"severity": "sev1", "at": at})
    assert response.status_code == 200
    assert gate.asked[-1] == "read"
    body = response.text
    expected = kit.people.who_would_be_paged("SEV1", datetime.fromisoformat(at + "+00:00"))
    assert expected, "the guide's SEV1 pages someone"
    assert expected[0].person == "alice" and expected[0].channel == "push"
    table = body[body.index("<tbody>") : body.index("</tbody>")]
    rows = table.split("<tr>")[1:]
    assert len(rows) == len(expected)
    start = datetime.fromisoformat(at + "+00:00")
    for row, page in zip(rows, expected, strict=True):
        minute = int((page.at - start).total_seconds() // 60)
        assert f"<td>+{minute}m</td>" in row
        assert f"<td>{page.person}</td>" in row
        assert f"<td>{page.channel or 'all notifiers'}</td>" in row
        assert f"<td>{page.step + 1}</td>" in row  # numbered from 1, as the reason says
        assert html.escape(page.reason) in row
    # The guide's SEV1: the primary by push then SMS, the secondary from minute 5.
    assert [r.split("</td>")[2].split("<td>")[-1] for r in rows] == [
        "alice",
        "alice",
        "bob",
        "bob",
    ]
    assert "<td>+5m</td>" in rows[2] and "<td>2</td>" in rows[2]
    assert kit.incidents() == []  # a dry run records nothing


def test_escalation_dry_run_form_alone_and_refusals() -> None:
    kit = _paging_kit()
    c = client(kit)
    empty = c.get("/oncall/dry-run")
    assert empty.status_code == 200 and "<tbody>" not in empty.text
    assert 'name="severity"' in empty.text
    bad_severity = c.get("/oncall/dry-run", params={"severity": "SEV9"})
    assert bad_severity.status_code == 400 and "invalid severity" in bad_severity.text
    bad_at = c.get("/oncall/dry-run", params={"severity": "SEV1", "at": "yesterday"})
    assert bad_at.status_code == 400 and "invalid at" in bad_at.text
    long_service = c.get("/oncall/dry-run", params={"severity": "SEV1", "service": "x" * 300})
    assert long_service.status_code == 400 and "invalid service" in long_service.text
    refused = client(kit, Gate({"read"})).get("/oncall/dry-run", params={"severity": "SEV1"})
    assert refused.status_code == 403


def test_a_200_event_timeline_lists_every_event_in_sequence(kit: ik.IncidentKit) -> None:
    iid = declared(kit)
    while len(kit.timeline(iid)) < 200:
        kit.add_note(iid, f"shard {len(kit.timeline(iid))} checked", by="bob")
    text = client(kit).get(f"/incidents/{iid}").text
    timeline = text[text.index('id="tl-h"') :]
    versions = [int(v) for v in re.findall(r'<li value="(\d+)"', timeline)]
    assert versions == list(range(1, 201))
    assert "Hash chain verified (200 events)" in text
