"""Statuspage-compatible JSON (``/api/v2/*.json``) as pure renderers.

Each function returns the document as plain ``dict``/``list`` data with
Atlassian Statuspage's key sets and enums (wave2-specs §2.1), ready for
``json.dumps``; the web app serves them. Timestamps are ISO 8601 with the
offset of the page's zone. Only the updates that appeared on the page are
shown (an update for support never does).

Times never come from the clock: a row or page with no time of its own
(a component that never changed and has no start date, a page nothing has
happened on) shows the page's earliest known time, the earliest component
``start_date`` or component change on the page, or :data:`EPOCH` when the
page knows none. So an unchanged page renders byte-identical JSON at any
``now``, and its ``ETag`` keeps matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from incidentkit.events import PublicStatus
from incidentkit.incident import Incident
from incidentkit.status._rules import record_of
from incidentkit.status.config import StatusConfig
from incidentkit.status.model import ComponentState, Impact, StatusPage, page_status

__all__ = [
    "EPOCH",
    "UNRESOLVED",
    "component_json",
    "components_json",
    "incident_json",
    "incidents_json",
    "page_json",
    "status_json",
    "summary_json",
    "unresolved_json",
]

JSON = dict[str, Any]

UNRESOLVED = frozenset(
    {PublicStatus.INVESTIGATING, PublicStatus.IDENTIFIED, PublicStatus.MONITORING}
)
"""The statuses of an unresolved incident (``incidents/unresolved.json``)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The time shown when a page knows no time at all (stable, unlike ``now``)."""


def _earliest(page: StatusPage, states: Sequence[ComponentState]) -> datetime:
    mine = [s for s in states if s.component.page == page.id]
    times = [s.component.start_date for s in mine if s.component.start_date]
    times += [s.updated_at for s in mine if s.updated_at]
    return min(times, default=EPOCH)


def _at(value: datetime | None, page: StatusPage) -> str | None:
    if value is None:
        return None
    return value.astimezone(page.zone).isoformat(timespec="milliseconds")


def page_json(page: StatusPage, updated_at: datetime) -> JSON:
    """The ``page`` object every document starts with."""
    return {
        "id": page.id,
        "name": page.name,
        "url": page.url,
        "time_zone": page.zone.key,
        "updated_at": _at(updated_at, page),
    }


def component_json(state: ComponentState, page: StatusPage, now: datetime) -> JSON:
    """One component row (``group: false``).

    ``now`` is the fallback for a component with neither a change nor a
    start date; the documents pass the page's earliest known time.
    """
    component = state.component
    start = component.start_date
    return {
        "id": component.id,
        "name": component.name,
        "status": state.status.value,
        "created_at": _at(start or state.updated_at or now, page),
        "updated_at": _at(state.updated_at or start or now, page),
        "position": component.position,
        "description": component.description,
        "showcase": component.showcase,
        "start_date": start.astimezone(page.zone).date().isoformat() if start else None,
        "group_id": component.group,
        "page_id": page.id,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def _rows(
    config: StatusConfig, page: StatusPage, states: Sequence[ComponentState], now: datetime
) -> list[JSON]:
    mine = [s for s in states if s.component.page == page.id]
    since = _earliest(page, states)
    rows = [component_json(s, page, since) for s in mine]
    for group in config.groups:
        members = [s for s in mine if s.component.group == group.id]
        if not members:
            continue
        updated = max((m.updated_at for m in members if m.updated_at), default=None)
        status = max((m.status for m in members), key=_severity)
        rows.append(
            {
                "id": group.id,
                "name": group.name,
                "status": status.value,
                "created_at": _at(updated or since, page),
                "updated_at": _at(updated or since, page),
                "position": group.position,
                "description": group.description,
                "showcase": False,
                "start_date": None,
                "group_id": None,
                "page_id": page.id,
                "group": True,
                "only_show_if_degraded": False,
                "components": [m.component.id for m in members],
            }
        )
    rows.sort(key=lambda r: (r["position"], r["id"]))
    return rows


_ORDER = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)


def _severity(status: Any) -> int:
    return _ORDER.index(str(status))


def incident_json(
    state: Incident, page: StatusPage, states: Sequence[ComponentState]
) -> JSON | None:
    """One incident as the page shows it (``None`` when nothing of it appeared there)."""
    record = record_of(state)
    updates = [u for u in record.updates if u.page == page.id]
    if not updates or record.status is None:
        return None
    by_id = {s.component.id: s for s in states}
    affected = [by_id[c] for c in record.peak if c in by_id and by_id[c].component.page == page.id]
    last = updates[-1].created_at
    return {
        "id": state.id,
        "name": record.statements.get("title", state.title),
        "status": record.status.value,
        "impact": record.impact.value,
        "created_at": _at(record.created_at, page),
        "updated_at": _at(last, page),
        "monitoring_at": _at(record.monitoring_at, page),
        "resolved_at": _at(record.resolved_at, page),
        "started_at": _at(state.started_at or state.declared_at, page),
        "shortlink": f"{page.url.rstrip('/')}/incidents/{state.id}" if page.url else "",
        "page_id": page.id,
        "incident_updates": [
            {
                "id": u.id,
                "status": u.status.value,
                "body": f"{u.headline}\n\n{u.body}" if u.body else u.headline,
                "incident_id": state.id,
                "created_at": _at(u.created_at, page),
                "updated_at": _at(u.created_at, page),
                "display_at": _at(u.created_at, page),
                "affected_components": [
                    {
                        "code": c.component,
                        "name": c.name,
                        "old_status": c.old_status.value,
                        "new_status": c.new_status.value,
                    }
                    for c in u.changes
                ],
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in reversed(updates)
        ],
        "components": [component_json(s, page, last) for s in affected],
    }


def _incidents(
    incidents: Sequence[Incident],
    page: StatusPage,
    states: Sequence[ComponentState],
    *,
    unresolved: bool,
    limit: int = 50,
) -> list[JSON]:
    found = [incident_json(s, page, states) for s in incidents]
    rows = [r for r in found if r is not None]
    if unresolved:
        rows = [r for r in rows if PublicStatus(r["status"]) in UNRESOLVED]
    rows.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=True)
    return rows[:limit]


def worst_unresolved(incidents: Sequence[Incident], page: StatusPage) -> Impact:
    """The worst impact set by hand on the page's unresolved incidents.

    A derived impact is not counted: it comes from the components, which
    the page status already reads. An override (an incident whose impact
    the components do not show, such as one on a page without components)
    raises the page status to it.
    """
    impacts = [
        record_of(s).impact_override or Impact.NONE
        for s in incidents
        if record_of(s).status in UNRESOLVED
        and any(u.page == page.id for u in record_of(s).updates)
    ]
    return max(impacts, key=lambda i: i.rank, default=Impact.NONE)


def status_json(
    config: StatusConfig,
    page: StatusPage,
    states: Sequence[ComponentState],
    incidents: Sequence[Incident],
    now: datetime,
) -> JSON:
    """``status.json``: the page and its indicator and description."""
    mine = [s.status for s in states if s.component.page == page.id]
    status = page_status(
        mine, incident_impact=worst_unresolved(incidents, page), labels=config.labels
    )
    return {
        "page": page_json(page, _updated(states, incidents, page, now)),
        "status": {"indicator": status.indicator.value, "description": status.description},
    }


def _updated(
    states: Sequence[ComponentState], incidents: Sequence[Incident], page: StatusPage, now: datetime
) -> datetime:
    times = [s.updated_at for s in states if s.updated_at and s.component.page == page.id]
    times += [u.created_at for i in incidents for u in record_of(i).updates if u.page == page.id]
    return max(times, default=_earliest(page, states))


def components_json(
    config: StatusConfig, page: StatusPage, states: Sequence[ComponentState], now: datetime
) -> JSON:
    """``components.json``: every component and group row of the page."""
    return {
        "page": page_json(page, _updated(states, (), page, now)),
        "components": _rows(config, page, states, now),
    }


def incidents_json(
    page: StatusPage, states: Sequence[ComponentState], incidents: Sequence[Incident], now: datetime
) -> JSON:
    """``incidents.json``: the 50 most recent incidents, resolved ones included."""
    return {
        "page": page_json(page, _updated(states, incidents, page, now)),
        "incidents": _incidents(incidents, page, states, unresolved=False),
    }


def unresolved_json(
    page: StatusPage, states: Sequence[ComponentState], incidents: Sequence[Incident], now: datetime
) -> JSON:
    """``incidents/unresolved.json``: investigating, identified or monitoring only."""
    return {
        "page": page_json(page, _updated(states, incidents, page, now)),
        "incidents": _incidents(incidents, page, states, unresolved=True, limit=10_000),
    }


def summary_json(
    config: StatusConfig,
    page: StatusPage,
    states: Sequence[ComponentState],
    incidents: Sequence[Incident],
    now: datetime,
    maintenances: Sequence[JSON] = (),
) -> JSON:
    """``summary.json``: page, components, unresolved incidents, maintenances, status."""
    status = status_json(config, page, states, incidents, now)
    return {
        "page": status["page"],
        "components": _rows(config, page, states, now),
        "incidents": _incidents(incidents, page, states, unresolved=True, limit=10_000),
        "scheduled_maintenances": list(maintenances),
        "status": status["status"],
    }
