"""Builders shared by the metrics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary

T0 = datetime(2024, 11, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def summary(
    incident_id: str,
    *,
    severity: Severity = Severity.SEV2,
    services: tuple[str, ...] = ("api",),
    started: float | None = 0,
    detected: float | None = 1,
    declared: float | None = 2,
    acknowledged: float | None = 3,
    mitigated: float | None = 10,
    resolved: float | None = 20,
) -> IncidentSummary:
    """A summary whose timestamps are minutes after T0 (``None`` leaves one out)."""

    def ts(value: float | None) -> datetime | None:
        return None if value is None else at(value)

    return IncidentSummary(
        incident_id=incident_id,
        version=1,
        title=f"incident {incident_id}",
        status=Status.RESOLVED if resolved is not None else Status.INVESTIGATING,
        severity=severity,
        services=services,
        started_at=ts(started),
        detected_at=ts(detected),
        declared_at=ts(declared),
        acknowledged_at=ts(acknowledged),
        mitigated_at=ts(mitigated),
        resolved_at=ts(resolved),
    )


# The guide's login incident, 2024-11-20, in PST (UTC−8, no DST in November):
# started 14:29 (impact began a minute before the alert), alert fired 14:30
# (detected), on-call paged and acknowledged 14:31, declared SEV1 14:32, fix
# deployed 14:42 (first successful mitigation), resolved 14:51.
# In UTC that is 22:29, 22:30, 22:31, 22:32, 22:42 and 22:51.
LOGIN = IncidentSummary(
    incident_id="INC-LOGIN",
    version=14,
    title="Login API returning 500 errors",
    status=Status.RESOLVED,
    severity=Severity.SEV1,
    services=("login",),
    started_at=datetime(2024, 11, 20, 22, 29, tzinfo=UTC),
    detected_at=datetime(2024, 11, 20, 22, 30, tzinfo=UTC),
    declared_at=datetime(2024, 11, 20, 22, 32, tzinfo=UTC),
    acknowledged_at=datetime(2024, 11, 20, 22, 31, tzinfo=UTC),
    mitigated_at=datetime(2024, 11, 20, 22, 42, tzinfo=UTC),
    resolved_at=datetime(2024, 11, 20, 22, 51, tzinfo=UTC),
)
