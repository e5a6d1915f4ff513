"""Summary filtering shared by stores that filter in Python."""

from __future__ import annotations

from datetime import UTC, datetime

from incidentkit.store._base import IncidentSummary, SummaryQuery

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def matches(summary: IncidentSummary, query: SummaryQuery) -> bool:
    """True when ``summary`` passes every filter set on ``query``."""
    if query.statuses is not None and summary.status not in query.statuses:
        return False
    if query.severities is not None and summary.severity not in query.severities:
        return False
    if query.service is not None and query.service not in summary.services:
        return False
    declared = summary.declared_at
    if query.since is not None and (declared is None or declared < query.since):
        return False
    if query.until is not None and (declared is None or declared >= query.until):
        return False
    return not (
        query.due_before is not None
        and (summary.next_due_at is None or summary.next_due_at > query.due_before)
    )


def sort_key(summary: IncidentSummary) -> tuple[datetime, str]:
    """Order by declaration time, then id."""
    return (summary.declared_at or _EPOCH, summary.incident_id)
