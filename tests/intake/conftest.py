"""Fixtures for alert intake: a kit on each store, and payload builders."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from incidentkit import IncidentKit, ManualClock
from incidentkit.store import Store

PAYLOADS = Path(__file__).resolve().parents[2] / "examples" / "payloads"
T0 = datetime(2023, 2, 6, 13, 10, tzinfo=UTC)

AM_SAMPLE: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "oncall",
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {"alertname": "ProbeFailure", "severity": "critical"},
    "commonAnnotations": {"summary": "Probe failed for the login API"},
    "externalURL": "http://am:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ProbeFailure",
                "severity": "critical",
                "instance": "login-1",
                "service": "login",
            },
            "annotations": {"summary": "Probe failed for the login API"},
            "startsAt": "2023-02-06T13:08:45.828Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom:9090/graph?g0.expr=probe_success",
            "fingerprint": "1a30ba71cca2921f",
        }
    ],
}


def am_alert(fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    """One Alertmanager alert of the ProbeFailure group."""
    alert = copy.deepcopy(AM_SAMPLE["alerts"][0])
    alert["fingerprint"] = fingerprint
    alert["status"] = status
    alert["labels"] = {**alert["labels"], "instance": fingerprint, **labels}
    if status == "resolved":
        alert["endsAt"] = "2023-02-06T13:20:00Z"
    return dict(alert)


def am_payload(*alerts: dict[str, Any], truncated: int = 0) -> str:
    """An Alertmanager v4 payload of ``alerts`` as JSON text."""
    body = copy.deepcopy(AM_SAMPLE)
    body["alerts"] = list(alerts)
    body["truncatedAlerts"] = truncated
    firing = any(a["status"] == "firing" for a in alerts)
    body["status"] = "firing" if firing else "resolved"
    return json.dumps(body)


def pd_event(action: str = "trigger", key: str | None = "K", **payload: Any) -> dict[str, Any]:
    """A PagerDuty Events v2 event."""
    event: dict[str, Any] = {
        "routing_key": "samplekeyhere0123456789abcdef012",
        "event_action": action,
    }
    if key is not None:
        event["dedup_key"] = key
    if action == "trigger":
        event["payload"] = {
            "summary": "Login API returning 500 errors",
            "source": "api-1",
            "severity": "critical",
            **payload,
        }
    return event


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def kit_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Each built-in store (PostgreSQL when ``INCIDENTKIT_TEST_POSTGRES_DSN`` is set)."""
    name = request.param
    yield request.getfixturevalue(f"{name}_store")


@pytest.fixture
def kit(kit_store: Store) -> IncidentKit:
    """A kit at T0 on each store."""
    return IncidentKit(store=kit_store, clock=ManualClock(T0), autoload_plugins=False)
