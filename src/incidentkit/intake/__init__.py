"""Alert intake: alerts from Alertmanager, Grafana, PagerDuty-style senders become incidents.

``kit.alerts`` (:class:`incidentkit.intake.section.Alerts`) ingests payloads
with PagerDuty's dedup semantics, enforced by the store (see
:mod:`incidentkit.intake.capability`). The model
(:mod:`incidentkit.intake.model`), the adapters
(:mod:`incidentkit.intake.adapters`) and the ``[alerts]`` policy table
(:mod:`incidentkit.intake.config`) are importable on their own; heartbeat
monitors (:mod:`incidentkit.intake.heartbeat`), silences and maintenance
windows (:mod:`incidentkit.intake.silence`) and user reports are part of
``kit.alerts``.
"""

from incidentkit.intake._cli import add_alerts_parser, run_alerts
from incidentkit.intake.adapters import BUILTIN_ADAPTERS, decode, detect, parse
from incidentkit.intake.config import (
    AlertAction,
    AlertRule,
    AlertsConfig,
    HeartbeatMonitor,
    OnAllResolved,
    Silence,
    render_group_key,
)
from incidentkit.intake.heartbeat import HeartbeatState, HeartbeatStatus
from incidentkit.intake.model import AdapterSpec, Alert, AlertStatus, Payload
from incidentkit.intake.silence import HeldAlert

__all__ = [
    "BUILTIN_ADAPTERS",
    "AdapterSpec",
    "Alert",
    "AlertAction",
    "AlertRule",
    "AlertStatus",
    "AlertsConfig",
    "HeartbeatMonitor",
    "HeartbeatState",
    "HeartbeatStatus",
    "HeldAlert",
    "OnAllResolved",
    "Payload",
    "Silence",
    "add_alerts_parser",
    "decode",
    "detect",
    "parse",
    "render_group_key",
    "run_alerts",
]
