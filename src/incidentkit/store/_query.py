"""Summary queries: built from a caller's filters, and matched by stores that filter in Python."""

from __future__ import annotations

from datetime import UTC, datetime

from incidentkit import _validate as check
from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store._base import IncidentSummary, SummaryQuery


def summary_query(
    *,
    status: object = None,
    severity: object = None,
    service: object = None,
    since: object = None,
    until: object = None,
    open_only: object = False,
    limit: object = None,
) -> SummaryQuery:
    """Check a listing's filters (each refusal names its argument) and build the query."""
    statuses: set[Status] | None = None
    if status is not None:
        statuses = set()
        for value in check.one_or_many(status, "status"):
            try:
                statuses.add(Status(value))  # type: ignore[arg-type]
            except (ValueError, TypeError):
                known = ", ".join(s.value for s in Status)
                raise ValidationError(
                    "status", f"unknown status {check.shown(value)} (known: {known})"
                ) from None
    if check.boolean(open_only, "open_only"):
        opened = {s for s in Status if s.is_open}
        statuses = opened if statuses is None else statuses & opened
    severities: set[Severity] | None = None
    if severity is not None:
        severities = {Severity.parse(s) for s in check.one_or_many(severity, "severity")}  # type: ignore[arg-type]
    lower = ensure_aware(since, "since") if since is not None else None
    upper = ensure_aware(until, "until") if until is not None else None
    if lower and upper and lower > upper:
        raise ValidationError("since", "is after until")
    return SummaryQuery(
        statuses=statuses,
        severities=severities,
        service=None if service is None else check.name(service, "service"),
        since=lower,
        until=upper,
        limit=None if limit is None else check.integer(limit, "limit", 0, check.MAX_LIMIT),
    )


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
