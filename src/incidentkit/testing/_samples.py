"""Sample values for contract suites and tests."""

from __future__ import annotations

from datetime import UTC, datetime

from incidentkit.lifecycle import Status
from incidentkit.mitigation import MitigationContext
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.severity import Severity

__all__ = ["SAMPLE_TIME", "sample_context", "sample_notification"]

SAMPLE_TIME = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)


def sample_notification(
    kind: NotificationKind = NotificationKind.PAGE,
    *,
    key: str | None = None,
    incident_id: str = "INC-1",
    severity: Severity = Severity.SEV1,
) -> Notification:
    """A well-formed notification of ``kind`` (key ``"<incident>:1:<kind>"`` by default).

    >>> sample_notification().key
    'INC-1:1:page'
    """
    return Notification(
        key=key if key is not None else f"{incident_id}:1:{kind.value}",
        kind=kind,
        incident=IncidentRef(
            id=incident_id,
            title="API returning 500 errors",
            severity=severity,
            status=Status.RESOLVED if kind is NotificationKind.RESOLVED else Status.DECLARED,
            commander="alice",
            channel="#incident-2024-11-20-api-500s",
            url=None,
            services=("api",),
        ),
        text=f"{severity.value} {kind.value}: API returning 500 errors <&> ünïcödé",
        created_at=SAMPLE_TIME,
        urgency=Urgency.HIGH if kind is NotificationKind.PAGE else Urgency.LOW,
        targets=("alice",),
    )


def sample_context(*, dry_run: bool = False, incident_id: str = "INC-1") -> MitigationContext:
    """A mitigation context for ``incident_id`` requested by ``alice``."""
    return MitigationContext(
        incident_id=incident_id, requested_by="alice", now=SAMPLE_TIME, dry_run=dry_run
    )
