"""``incidentkit serve`` in a subprocess on 127.0.0.1: pages, timers in-process, SIGTERM."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[str]) -> bytes:
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.communicate()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bytes(response.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)


@pytest.mark.slow
def test_serve_runs_the_dashboard_and_the_timers_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'incidents.db'}"
    # A SEV1 declared an hour ago and never acknowledged: its escalation is overdue.
    past = datetime.now(UTC) - timedelta(hours=1)
    with ik.IncidentKit.open(url, clock=ik.ManualClock(past), autoload_plugins=False) as kit:
        kit.declare(
            "Login API returning 500 errors", severity="SEV1", by="alice", incident_id="INC-42"
        )
        before = kit.store.version("INC-42")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "incidentkit.cli",
            "--db",
            url,
            "serve",
            "--port",
            str(port),
            "--interval",
            "1s",
            "--root-path",
            "/ik",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # as behind a proxy that strips the prefix: links still carry it
        page = wait_for(f"http://127.0.0.1:{port}/", proc).decode()
        assert "INC-42" in page and 'href="/ik/incidents/INC-42"' in page
        status = wait_for(f"http://127.0.0.1:{port}/status/", proc).decode()
        assert "All Systems Operational" in status and 'href="/ik/status/history"' in status
        alert = urllib.request.Request(
            f"http://127.0.0.1:{port}/alerts/pagerduty",
            data=b'{"routing_key": "r", "event_action": "trigger", "dedup_key": "k1",'
            b' "payload": {"summary": "disk full", "source": "db-1", "severity": "error"}}',
            method="POST",
        )
        with urllib.request.urlopen(alert, timeout=30) as answer:
            assert answer.status == 202
            assert b'"dedup_key":"k1"' in answer.read()
        deadline_reached = False
        while not deadline_reached:
            with ik.IncidentKit.open(url, autoload_plugins=False) as kit:
                if kit.store.version("INC-42") > before:
                    break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "incidentkit serve: http://127.0.0.1" in out and "incidentkit serve: stopped" in out
    with ik.IncidentKit.open(url, autoload_plugins=False) as kit:
        fired = [r.event.tag for r in kit.timeline("INC-42")[before:]]
    assert "escalation_fired" in fired or "target_missed" in fired, fired


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--host", "0.0.0.0"], "--allow-remote"),
        (["serve", "--host", "example.com"], "not an IP address"),
        (["serve", "--port", "70000"], "not a port"),
        (["serve", "--root-path", "ik/"], "--root-path"),
        (["serve", "--interval", "soon"], "--interval"),
    ],
)
def test_serve_refuses_bad_options_before_listening(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    err = io.StringIO()
    code = main(["--db", f"sqlite:///{tmp_path / 'x.db'}", *argv], out=io.StringIO(), err=err)
    assert code == 2
    assert message in err.getvalue()


def test_served_app_mounts_status_and_alerts_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from starlette.testclient import TestClient

    from incidentkit.web import sign
    from incidentkit.web._cli import ALERTS_HMAC_ENV, ALERTS_SECRET_ENV, served_app

    monkeypatch.setenv(ALERTS_SECRET_ENV, "tok")
    monkeypatch.setenv(ALERTS_HMAC_ENV, "key")
    kit = ik.IncidentKit(clock=ik.ManualClock(datetime(2024, 1, 1, tzinfo=UTC)))
    c = TestClient(served_app(kit))
    assert c.get("/").status_code == 200
    assert c.get("/status/api/v2/status.json").json()["status"]["indicator"] == "none"
    body = b'{"routing_key": "r", "event_action": "trigger", "dedup_key": "k1",'
    body += b' "payload": {"summary": "disk full", "source": "db-1", "severity": "error"}}'
    assert c.post("/alerts/pagerduty", content=body).status_code == 401
    headers = {"Authorization": "Bearer tok", "X-Incidentkit-Signature": sign("key", body)}
    assert c.post("/alerts/pagerduty", content=body, headers=headers).status_code == 202
    assert len(kit.incidents()) == 1
