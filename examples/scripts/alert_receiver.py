"""An alert webhook receiver: classify the alert, declare once, escalate, deliver.

Run it: ``python examples/scripts/alert_receiver.py [sqlite:///alerts.db]``
(default: an in-memory store). Replays three deliveries of the same alert,
as a monitoring system retrying its webhook would, on a manual clock.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import incidentkit as ik
from incidentkit.testing import CapturingNotifier
from incidentkit.timeline import render_chat


def on_alert(kit: ik.IncidentKit, alert: dict[str, str | float]) -> ik.Incident:
    """Declare an incident for an alert, once per dedup key; later deliveries add a note."""
    error_rate = float(alert["error_rate"])
    signals = ik.Signals(error_rate=error_rate)
    incident_id = f"ALERT-{alert['dedup_key']}"
    try:
        return kit.declare(
            str(alert["summary"]),
            signals=signals,
            by="alertmanager",
            source=ik.Source.ALERT,
            services=[str(alert["service"])],
            incident_id=incident_id,
        )
    except ik.ConcurrencyConflict:  # already declared by an earlier delivery or replica
        return kit.add_note(incident_id, f"alert fired again: {error_rate:.0%}", by="alertmanager")


def main(url: str) -> int:
    clock = ik.ManualClock(datetime(2024, 11, 20, 22, 30, tzinfo=UTC))
    pager = CapturingNotifier(name="pager")
    kit = ik.IncidentKit.open(url, clock=clock, plugins=[pager], autoload_plugins=False)
    alert: dict[str, str | float] = {
        "dedup_key": "login-5xx",
        "summary": "Login API error rate high",
        "service": "login-api",
        "error_rate": 0.15,
    }
    for minutes in (0, 1, 2):
        clock.set(datetime(2024, 11, 20, 22, 30 + minutes, tzinfo=UTC))
        incident = on_alert(kit, alert)
        kit.tick()
        kit.deliver()
    clock.advance(timedelta(minutes=15))
    kit.tick()
    kit.deliver()
    for line in render_chat(kit.timeline(incident.id)):
        print(line)
    state = kit.get(incident.id)
    print(f"{state.id}: {state.severity}, reasons: {', '.join(state.reasons)}")
    print("delivered:", ", ".join(f"{n.kind}→{'/'.join(n.targets)}" for n in pager.delivered))
    kit.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "memory://"))
