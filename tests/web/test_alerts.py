"""The alert receivers through Starlette's test client: 202 and the dedup key, 400, secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import incidentkit as ik
import incidentkit.web
from incidentkit.errors import ValidationError
from incidentkit.intake import AlertStatus

from ._helpers import T0, TestClient

PAYLOADS = Path(__file__).resolve().parents[2] / "examples" / "payloads"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.fixture(params=["memory", "sqlite"])
def kit(request: pytest.FixtureRequest) -> ik.IncidentKit:
    store = None if request.param == "memory" else request.getfixturevalue("sqlite_store")
    return ik.IncidentKit(store=store, clock=ik.ManualClock(T0), autoload_plugins=False)


def receivers(kit: ik.IncidentKit, **options: Any) -> TestClient:
    return TestClient(incidentkit.web.alerts_app(kit, **options))


def incidents(kit: ik.IncidentKit) -> list[str]:
    return [s.incident_id for s in kit.incidents()]


def test_alertmanager_webhook_answers_202_and_dedups(kit: ik.IncidentKit) -> None:
    c = receivers(kit)
    first = c.post("/alertmanager", content=payload("alertmanager-firing.json"))
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "success"
    assert body["dedup_key"]
    assert body["incidents"] == incidents(kit)
    assert len(body["incidents"]) == 1
    again = c.post("/alertmanager", content=payload("alertmanager-firing.json"))
    assert again.status_code == 202
    assert again.json()["incidents"] == body["incidents"]
    assert len(incidents(kit)) == 1  # the same alert twice is one incident
    assert kit.alerts.holder(body["dedup_key"]) == body["incidents"][0]


def test_grafana_webhook(kit: ik.IncidentKit) -> None:
    response = receivers(kit).post("/grafana", content=payload("grafana-firing.json"))
    assert response.status_code == 202, response.text
    assert response.json()["dedup_key"]
    assert len(incidents(kit)) == 1


@pytest.mark.parametrize("path", ["/pagerduty", "/v2/enqueue"])
def test_pagerduty_events_v2_echoes_the_dedup_key(kit: ik.IncidentKit, path: str) -> None:
    event = json.loads(payload("pagerduty-trigger.json"))
    event["dedup_key"] = "login-api-500s"
    response = receivers(kit).post(path, json=event)
    assert response.status_code == 202
    assert response.json()["dedup_key"] == "login-api-500s"
    assert response.json()["message"] == "Event processed"
    resolve = {"routing_key": event["routing_key"], "event_action": "resolve"}
    resolve["dedup_key"] = "login-api-500s"
    resolved = receivers(kit).post(path, json=resolve)
    assert resolved.status_code == 202
    assert resolved.json()["incidents"] == response.json()["incidents"]
    latest = kit.alerts.recent(1)[0]
    assert (latest.dedup_key, latest.status) == ("login-api-500s", AlertStatus.RESOLVED)


def test_malformed_payloads_answer_400_with_every_problem(kit: ik.IncidentKit) -> None:
    c = receivers(kit)
    refused = c.post("/pagerduty", content=payload("pagerduty-invalid.json"))
    assert refused.status_code == 400
    body = refused.json()
    assert body["status"] == "invalid event"
    assert any("source" in e for e in body["errors"])
    assert any("severity" in e for e in body["errors"])
    assert len(body["errors"]) >= 2
    wrong_version = json.loads(payload("alertmanager-firing.json"))
    wrong_version["version"] = "3"
    old = c.post("/alertmanager", json=wrong_version)
    assert old.status_code == 400
    assert any(e.startswith("$.version") for e in old.json()["errors"])
    for body_bytes in (b"not json", b"\xff\xfe", b"[]", b""):
        response = c.post("/alertmanager", content=body_bytes)
        assert response.status_code == 400, body_bytes
        assert response.json()["errors"]
    grafana_as_pd = c.post("/pagerduty", content=payload("grafana-firing.json"))
    assert grafana_as_pd.status_code == 400
    assert incidents(kit) == []  # nothing recorded


def test_too_large_and_wrong_method(kit: ik.IncidentKit) -> None:
    c = receivers(kit)
    big = c.post("/alertmanager", content=b"{}", headers={"Content-Length": str(5 * 1024 * 1024)})
    assert big.status_code == 413
    assert c.get("/alertmanager").status_code == 405
    assert c.post("/nope", content=b"{}").status_code == 404


def test_shared_secret(kit: ik.IncidentKit) -> None:
    c = receivers(kit, secret="s3cret-token")
    body = payload("alertmanager-firing.json")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        refused = c.post("/alertmanager", content=body, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["errors"] == ["Authorization: missing or wrong shared secret"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert incidents(kit) == []
    ok = c.post("/alertmanager", content=body, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 202
    assert len(incidents(kit)) == 1


def test_hmac_signature(kit: ik.IncidentKit) -> None:
    c = receivers(kit, hmac_key="k3y", signature_header="X-Grafana-Alerting-Signature")
    body = payload("grafana-firing.json")
    digest = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert incidentkit.web.sign("k3y", body) == f"sha256={digest}"
    missing = c.post("/grafana", content=body)
    assert missing.status_code == 401
    assert "missing" in missing.json()["message"]
    forged = c.post("/grafana", content=body, headers={"X-Grafana-Alerting-Signature": "0" * 64})
    assert forged.status_code == 401
    altered = c.post(
        "/grafana",
        content=body.replace(b"firing", b"resolved", 1),
        headers={"X-Grafana-Alerting-Signature": digest},
    )
    assert altered.status_code == 401
    assert incidents(kit) == []
    ok = c.post("/grafana", content=body, headers={"X-Grafana-Alerting-Signature": digest})
    assert ok.status_code == 202  # bare hex, as Grafana sends it
    prefixed = c.post(
        "/grafana", content=body, headers={"X-Grafana-Alerting-Signature": f"sha256={digest}"}
    )
    assert prefixed.status_code == 202


def test_secret_and_hmac_together(kit: ik.IncidentKit) -> None:
    c = receivers(kit, secret="t", hmac_key=b"k")
    body = payload("alertmanager-firing.json")
    only_secret = c.post("/alertmanager", content=body, headers={"Authorization": "Bearer t"})
    assert only_secret.status_code == 401
    both = c.post(
        "/alertmanager",
        content=body,
        headers={
            "Authorization": "Bearer t",
            "X-Incidentkit-Signature": incidentkit.web.sign(b"k", body),
        },
    )
    assert both.status_code == 202


def test_mounted_next_to_the_dashboard(kit: ik.IncidentKit) -> None:
    host = Starlette(
        routes=[
            Mount("/alerts", app=incidentkit.web.alerts_app(kit)),
            Mount("", app=incidentkit.web.app(kit, authorize=lambda request, action: False)),
        ]
    )
    c = TestClient(host)
    assert c.get("/").status_code == 403
    response = c.post("/alerts/alertmanager", content=payload("alertmanager-firing.json"))
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"secret": ""}, "secret"),
        ({"secret": 3}, "secret"),
        ({"hmac_key": b""}, "hmac_key"),
        ({"hmac_key": 7}, "hmac_key"),
        ({"signature_header": " "}, "signature_header"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    with pytest.raises(ValidationError) as caught:
        incidentkit.web.alerts_app(kit, **options)
    assert caught.value.field == field
