"""``incidentkit alert ingest`` and ``incidentkit alerts`` against a SQLite file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from incidentkit import cli

from .conftest import PAYLOADS


def _run(monkeypatch: pytest.MonkeyPatch, db: Path, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv("INCIDENTKIT_DB", f"sqlite:///{db}")
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_ingest_a_file_then_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    file = str(PAYLOADS / "alertmanager-firing.json")
    code, text = _run(monkeypatch, db, "alert", "ingest", file, "--json")
    assert code == 0
    answer = json.loads(text)
    assert answer["status"] == "success" and answer["dedup_key"] == "1a30ba71cca2921f"
    assert answer["alerts"][0]["action"] == "declared"
    code, text = _run(monkeypatch, db, "alert", "ingest", file)
    assert code == 0 and "1a30ba71cca2921f: duplicate ->" in text
    code, text = _run(monkeypatch, db, "alerts", "--json")
    [row] = json.loads(text)
    assert row["incident_id"] == answer["incidents"][0] and row["source"] == "alertmanager"


def test_refused_payload_exits_2_with_every_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "i.db"
    file = str(PAYLOADS / "pagerduty-invalid.json")
    code, text = _run(monkeypatch, db, "alert", "ingest", file, "--format", "pagerduty", "--json")
    assert code == 2
    assert json.loads(text)["errors"] == [
        "$.payload.source: required",
        "$.payload.severity: must be one of critical, error, warning, info, got 'fatal'",
    ]
    code, text = _run(monkeypatch, db, "alert", "ingest", str(tmp_path / "missing.json"))
    assert code == 2 and "file" in text
    code, text = _run(monkeypatch, db, "alerts")
    assert code == 0 and "no alerts" in text


def test_heartbeat_ping_and_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    policy = tmp_path / "incidentkit.toml"
    policy.write_text('[alerts]\n[[alerts.heartbeats]]\nname = "nightly"\ntimeout = "25h"\n')
    monkeypatch.setenv("INCIDENTKIT_POLICY", str(policy))
    code, text = _run(monkeypatch, db, "heartbeat", "list", "--json")
    assert code == 0
    [row] = json.loads(text)
    assert (row["name"], row["state"], row["last_ping"]) == ("nightly", "inactive", None)
    code, text = _run(monkeypatch, db, "heartbeat", "ping", "nightly", "--json")
    assert code == 0
    pinged = json.loads(text)
    assert pinged["state"] == "healthy" and pinged["timeout_seconds"] == 25 * 3600
    code, text = _run(monkeypatch, db, "heartbeat", "list")
    assert code == 0 and text.startswith("nightly: healthy  expires ")
    code, text = _run(monkeypatch, db, "heartbeat", "ping", "other")
    assert code != 0 and "name" in text and "nightly" in text
