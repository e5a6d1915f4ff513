"""Every script in examples/scripts runs and prints what its docstring promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "examples" / "scripts").glob("*.py"))

EXPECTED = {
    "alert_receiver.py": [
        "[22:30] alertmanager: Incident declared — SEV2 — Login API error rate high",
        "[22:31] alertmanager: alert fired again: 15%",
        "[22:47] incidentkit: Escalation: page layer:primary",
        "ALERT-login-5xx: SEV2, reasons: error rate above 10%",
    ],
    "intake_server.py": [
        "alertmanager-firing.json: 202 success 1a30ba71cca2921f",
        "pagerduty-trigger.json: 202 success srv01/HTTP",
        "pagerduty-invalid.json: 400 invalid event ['$.payload.source: required', "
        "\"$.payload.severity: must be one of critical, error, warning, info, got 'fatal'\"]",
        "SEV1 Login API probe failing: mitigated, 5 events",
        "SEV2 Checkout error rate above 10%: open, 3 events",
    ],
    "oncall_schedule.py": [
        "primary  bo  2025-03-31T08:00:00+00:00 → 2025-04-07T08:00:00+00:00",
        "on call at 2025-03-31 08:30Z: primary=bo, secondary=di",
    ],
}


def test_every_script_has_expectations() -> None:
    assert {script.name for script in SCRIPTS} == set(EXPECTED)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_runs(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for line in EXPECTED[script.name]:
        assert line in lines, (line, done.stdout)


def test_alert_receiver_on_a_sqlite_file(tmp_path: Path) -> None:
    script = SCRIPTS[0].parent / "alert_receiver.py"
    url = f"sqlite:///{tmp_path}/alerts.db"
    done = subprocess.run(
        [sys.executable, str(script), url], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "ALERT-login-5xx: SEV2, reasons: error rate above 10%" in done.stdout
