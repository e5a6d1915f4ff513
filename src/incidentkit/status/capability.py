"""The status capability: ``kit.status``, its notifications, subscriber delivery and uptime.

Every command goes through ``engine.run`` with an action named
``status_<command>``, so it is authorized (the ``incidentkit_authorize``
hooks see it), idempotent by ``idempotency_key`` and recorded on the
incident's hash-chained timeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from incidentkit.engine import Capability, Engine, make_notification, reacts_to
from incidentkit.errors import NotFound, PermanentFailure, ValidationError
from incidentkit.events import (
    Declared,
    Event,
    NoteAdded,
    PublicStatus,
    RecordedEvent,
    Resolved,
    RoleAssigned,
    UpdatePosted,
)
from incidentkit.incident import Incident, actor
from incidentkit.notify import Notification, NotificationKind, Urgency
from incidentkit.policy import Policy
from incidentkit.roles import Role, role_label
from incidentkit.serialization import dumps
from incidentkit.status import _rules
from incidentkit.status import render as json_docs
from incidentkit.status.config import StatusConfig, Subscriber
from incidentkit.status.events import (
    STATUS_EVENTS,
    StatementRecorded,
    StatusUpdatePosted,
    SubscriberNotified,
)
from incidentkit.status.maintenance import Maintenance, maintenance_json
from incidentkit.status.model import (
    Component,
    ComponentMark,
    ComponentState,
    ComponentStatus,
    Impact,
    IncidentUpdate,
    MaintenanceStatus,
    PageStatus,
    PublicIncident,
    page_status,
)
from incidentkit.status.stored import Maintenances
from incidentkit.status.templates import CustomerReport, customer_date, human_duration, render
from incidentkit.status.uptime import (
    DayBar,
    Interval,
    SlaResult,
    UptimeResult,
    day_bars,
    intervals_from_marks,
    merge,
    month_bounds,
    sla_result,
    uptime,
    window_bounds,
)
from incidentkit.store import OutboxMessage, OutboxRow, SummaryQuery
from incidentkit.timers import SYSTEM_ACTOR

__all__ = ["EMOJI", "STATUS", "SlaReport", "StatusPages", "render_update"]

TOPIC = "status_subscribers"
EMOJI: Mapping[PublicStatus, str] = {
    PublicStatus.INVESTIGATING: "🔴",
    PublicStatus.IDENTIFIED: "🟡",
    PublicStatus.MONITORING: "🔵",
    PublicStatus.RESOLVED: "🟢",
    PublicStatus.POSTMORTEM: "📝",
}
"""The emoji that starts a status page update (the guide's red, yellow and green)."""

_ROLE_NAMES = {
    Role.INCIDENT_COMMANDER.value: "Incident Commander",
    Role.TECHNICAL_LEAD.value: "Technical Lead",
    Role.COMMUNICATIONS_LEAD.value: "Communications Lead",
    Role.SCRIBE.value: "Scribe",
}


def _zone(config: StatusConfig, page: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if page is not None:
        for candidate in config.pages:
            if candidate.id == page:
                return candidate.zone
    return fallback


def render_update(
    update: IncidentUpdate | StatusUpdatePosted,
    at: datetime,
    zone: ZoneInfo,
    template: str | None = None,
    *,
    incident_id: str = "",
    impact: Impact = Impact.NONE,
) -> str:
    """The guide's status page update: emoji, status, headline, body, "Last updated"."""
    local = at.astimezone(zone)
    values = {
        "emoji": EMOJI[update.status],
        "status": update.status.value.capitalize(),
        "headline": update.headline,
        "body": update.body,
        "updated": f"{local:%Y-%m-%d %H:%M %Z}",
        "incident_id": incident_id,
        "page": update.page or "",
        "impact": impact.value,
    }
    return render("status_update", values, template)


# --- routes and planners -------------------------------------------------------


@reacts_to(StatusUpdatePosted)
def status_notifications(
    policy: Policy, after: Incident, record: RecordedEvent
) -> Sequence[Notification]:
    """An update goes to the notifiers subscribed to its audience, rendered as the page shows it."""
    event = record.event
    if not isinstance(event, StatusUpdatePosted):
        return []
    config = policy.status
    zone = _zone(config, event.page, policy.zone)
    impact = _rules.record_of(after).impact
    text = render_update(
        event,
        record.recorded_at,
        zone,
        config.templates.status_update,
        incident_id=after.id,
        impact=impact,
    )
    note = make_notification(after, record, NotificationKind.STATUS_UPDATE, text, Urgency.LOW)
    return [attrs.evolve(note, audience=event.audience)]


@reacts_to(StatusUpdatePosted)
def subscriber_rows(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
    """One row per update that appeared on a page: its delivery tells each subscriber once."""
    event = record.event
    if not isinstance(event, StatusUpdatePosted) or event.page is None:
        return []
    return [
        OutboxMessage(
            key=f"{record.key}:subscribers",
            incident_id=after.id,
            topic=TOPIC,
            target=TOPIC,
            payload=dumps({"update_id": event.update_id, "version": record.version}),
            available_at=record.recorded_at,
        )
    ]


def subscribers_for(
    config: StatusConfig, record: PublicIncident, update: IncidentUpdate
) -> tuple[Subscriber, ...]:
    """The subscribers an update is for: its page, and a component the incident affected."""
    if update.page is None:
        return ()
    affected = frozenset(record.peak) | {c.component for c in update.changes}
    return tuple(s for s in config.subscribers if s.wants(update.page, affected))


def deliver_subscribers(engine: Engine, row: OutboxRow) -> None:
    """Tell every subscriber of the update not told yet; each one told is recorded.

    A failure raises, so the row is retried; the subscribers already told
    are skipped on the retry (their :class:`SubscriberNotified` is on the
    timeline), and each notification carries the key
    ``<update>:<subscriber>`` for receivers that drop duplicates.
    """
    payload = json.loads(row.payload)
    update_id = str(payload["update_id"])
    state = engine.load(row.incident_id).state
    record = _rules.record_of(state)
    update = next((u for u in record.updates if u.id == update_id), None)
    if update is None:
        raise PermanentFailure(f"{row.incident_id}: no status update {update_id}")
    config = engine.policy.status
    notifiers = engine.plugins.notifiers()
    zone = _zone(config, update.page, engine.policy.zone)
    text = render_update(
        update,
        update.created_at,
        zone,
        config.templates.status_update,
        incident_id=state.id,
        impact=record.impact,
    )
    for subscriber in subscribers_for(config, record, update):
        if (update_id, subscriber.id) in record.notified:
            continue
        spec = notifiers.get(subscriber.notifier)
        if spec is None:
            raise PermanentFailure(
                f"no notifier {subscriber.notifier!r} for subscriber {subscriber.id!r}"
            )
        note = Notification(
            key=f"{update_id}:{subscriber.id}",
            kind=NotificationKind.STATUS_UPDATE,
            incident=_ref(state),
            text=text,
            created_at=update.created_at,
            targets=(subscriber.address,),
            audience=update.audience,
        )
        spec.deliver(note)
        told = subscriber.id

        def decide(current: Incident, _: datetime, told: str = told) -> list[Event]:
            if (update_id, told) in _rules.record_of(current).notified:
                return []
            return [SubscriberNotified(by=SYSTEM_ACTOR, update_id=update_id, subscriber=told)]

        engine.system(row.incident_id, "status_subscriber", decide)


def _ref(state: Incident) -> Any:
    from incidentkit.engine.routing import incident_ref

    return incident_ref(state)


# --- the section -----------------------------------------------------------------


@attrs.frozen
class SlaReport:
    """An SLA target's current period and the breached periods before it."""

    target: float
    scope: str
    current: SlaResult
    breaches: tuple[SlaResult, ...]


class StatusPages:
    """``kit.status``: components, incident updates for audiences, pages, reports, uptime."""

    maintenances: Maintenances
    """Scheduled maintenances kept in the store (:class:`.stored.Maintenances`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.maintenances = Maintenances(engine)
        # incident id -> (version folded, the state when it has a public side, else None)
        self._seen: dict[str, tuple[int, Incident | None]] = {}

    @property
    def config(self) -> StatusConfig:
        """The policy's ``[status]`` table."""
        return self._engine.policy.status

    def _run(
        self, incident_id: str, command: str, by: str, decide: Any, key: str | None
    ) -> Incident:
        who = actor(by)
        return self._engine.run(
            incident_id,
            f"status_{command}",
            who,
            lambda state, now: decide(state, who),
            idempotency_key=key,
        ).state

    # --- reading ----------------------------------------------------------------

    def _states(self) -> list[Incident]:
        """The incidents with a public side (updates or component changes).

        One read of the summaries; an incident is loaded again only when its
        version moved since this section last folded it, so a page read on a
        store of many incidents costs a summary scan, not a load of each.
        """
        engine = self._engine
        seen = self._seen
        fresh: dict[str, tuple[int, Incident | None]] = {}
        found = []
        for summary in engine.store.summaries(SummaryQuery()):
            known = seen.get(summary.incident_id)
            if known is None or known[0] < summary.version:
                state = engine.load(summary.incident_id).state
                record = _rules.record_of(state)
                known = (state.version, state if record.updates or record.history else None)
            fresh[summary.incident_id] = known
            if known[1] is not None:
                found.append(known[1])
        self._seen = fresh
        return found

    def marks(self) -> list[ComponentMark]:
        """Every component status change on every timeline and stored maintenance, in time order."""
        return self._marks(self._states())

    def _marks(self, states: Sequence[Incident]) -> list[ComponentMark]:
        found = [m for state in states for m in _rules.record_of(state).history]
        if self.config.components:
            found += self.maintenances.marks()
        found.sort(key=lambda m: (m.at, m.source, m.version))
        return found

    def current(self, at: datetime | None = None) -> dict[str, ComponentStatus]:
        """Each component's status now: the worst that any timeline last gave it."""
        return _current(self.marks(), at)

    def components(self, page: str | None = None) -> tuple[ComponentState, ...]:
        """The page's components with their current status, by position."""
        return self._components(page, self._states())

    def _components(
        self, page: str | None, incidents: Sequence[Incident]
    ) -> tuple[ComponentState, ...]:
        chosen = self.config.page(page)
        marks = self._marks(incidents)
        current = _current(marks, None)
        updated: dict[str, datetime] = {}
        for mark in marks:
            updated[mark.component] = mark.at
        return tuple(
            ComponentState(c, current.get(c.id, ComponentStatus.OPERATIONAL), updated.get(c.id))
            for c in sorted(self.config.components, key=lambda c: (c.position, c.id))
            if c.page == chosen.id
        )

    def incidents(self) -> list[Incident]:
        """Every incident with something posted for a page or an audience."""
        return _posted(self._states())

    def record(self, incident_id: str) -> PublicIncident:
        """The incident's public record: updates, component changes, impact, statements."""
        return _rules.record_of(self._engine.load(incident_id).state)

    def page(self, page: str | None = None) -> PageStatus:
        """The page-level indicator and description now (labels from ``[status.labels]``)."""
        chosen = self.config.page(page)
        public = self._states()
        states = self._components(chosen.id, public)
        impact = json_docs.worst_unresolved(_posted(public), chosen)
        return page_status(
            [s.status for s in states], incident_impact=impact, labels=self.config.labels
        )

    # --- commands ---------------------------------------------------------------

    def post(
        self,
        incident_id: str,
        status: PublicStatus | str,
        headline: str,
        body: str = "",
        *,
        by: str,
        audience: str = "public",
        components: Mapping[str, ComponentStatus | str] | None = None,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Post an incident update for ``audience``, with the component changes it announces.

        An update for a page's audience appears on that page and goes to
        its subscribers; every update goes to the notifiers subscribed to its
        audience. A ``resolved`` update sets the components the incident left
        degraded back to operational, unless it names them.
        """
        config = self.config
        current = self.current()
        return self._run(
            incident_id,
            "post",
            by,
            lambda s, who: _rules.decide_post(
                s,
                config,
                status=status,
                headline=headline,
                body=body,
                audience=audience,
                components=components if components is not None else {},
                current=current,
                by=who,
            ),
            idempotency_key,
        )

    def update_component(
        self,
        incident_id: str,
        component: str,
        status: ComponentStatus | str,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Set one component's status, recorded on the timeline of the incident causing it."""
        return self.set_components(
            incident_id, {component: status}, by=by, reason=reason, idempotency_key=idempotency_key
        )

    def set_components(
        self,
        incident_id: str,
        components: Mapping[str, ComponentStatus | str],
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Set several components' statuses without posting an update."""
        config = self.config
        current = self.current()
        return self._run(
            incident_id,
            "components",
            by,
            lambda s, who: _rules.decide_components(
                s, config, components=components, current=current, reason=reason, by=who
            ),
            idempotency_key,
        )

    def override_impact(
        self,
        incident_id: str,
        impact: Impact | str | None,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Set the incident's impact by hand (``None``: derive it from the components again)."""
        return self._run(
            incident_id,
            "impact",
            by,
            lambda s, who: _rules.decide_impact(s, impact=impact, reason=reason, by=who),
            idempotency_key,
        )

    def record_statement(
        self,
        incident_id: str,
        field: str,
        text: str,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Record a fact for the customer report: ``title``, ``summary``, ``cause``,
        ``actions`` or ``impact`` (e.g. "Approximately 15% of login attempts failed")."""
        return self._run(
            incident_id,
            "statement",
            by,
            lambda s, who: _rules.decide_statement(s, field=field, text=text, by=who),
            idempotency_key,
        )

    # --- the three forms ----------------------------------------------------------

    def render_update(self, incident_id: str, update_id: str | None = None) -> str:
        """An update as the status page shows it (default: the latest on a page)."""
        state = self._engine.load(incident_id).state
        record = _rules.record_of(state)
        if update_id is None:
            shown = [u for u in record.updates if u.page is not None]
            if not shown:
                raise NotFound("status page update", incident_id)
            update = shown[-1]
        else:
            found = [u for u in record.updates if u.id == update_id]
            if not found:
                raise NotFound("status update", update_id, [u.id for u in record.updates])
            update = found[0]
        zone = _zone(self.config, update.page, self._engine.policy.zone)
        return render_update(
            update,
            update.created_at,
            zone,
            self.config.templates.status_update,
            incident_id=state.id,
            impact=record.impact,
        )

    def channel_log(self, incident_id: str, zone: ZoneInfo | str | None = None) -> list[str]:
        """The incident channel's log lines (``[14:35] @bob (TL): …``), one per event shown."""
        state = self._engine.load(incident_id).state
        tz = _parse_zone(zone) if zone is not None else self._engine.policy.zone
        roles = {person: role_label(role) for role, person in state.roles.items()}
        lines = []
        template = self.config.templates.internal_line
        for rec in self._engine.timeline(incident_id):
            text = _channel_text(rec.event)
            if text is None:
                continue
            by = rec.event.by
            values = {
                "time": f"{rec.recorded_at.astimezone(tz):%H:%M}",
                "by": by,
                "role": f" ({roles[by]})" if by in roles else "",
                "text": text,
                "incident_id": state.id,
            }
            lines.append(render("internal_line", values, template))
        return lines

    def customer_report(
        self, incident_id: str, zone: ZoneInfo | str | None = None
    ) -> CustomerReport:
        """The customer incident report e-mail, from the incident's state and statements.

        The window runs from the start of impact (``started_at``, else the
        declaration) to the resolution, in ``zone`` (default: the first
        page's); time to identify ends at the first confirmed hypothesis or
        ``identified`` update, time to fix at the resolution.

        :raises ValidationError: the incident is not resolved, or a statement
            the report needs (``summary``, ``cause``, ``impact``) is missing.
        """
        state = self._engine.load(incident_id).state
        record = _rules.record_of(state)
        config = self.config
        tz = _parse_zone(zone) if zone is not None else config.page().zone
        start = state.started_at or state.declared_at
        end = state.resolved_at or record.resolved_at
        if end is None:
            raise ValidationError("incident_id", f"{state.id} is not resolved yet")
        missing = [f for f in ("summary", "cause", "impact") if f not in record.statements]
        if missing:
            raise ValidationError(
                "statements",
                f"{state.id} has no {', '.join(missing)} statement (kit.status.record_statement)",
            )
        identified = state.identified_at or record.identified_at or end
        day, first, last = customer_date(start, end, tz)
        actions = record.statements.get("actions", "")
        values = {
            "date": day,
            "start": first,
            "end": last,
            "zone": f"{end.astimezone(tz):%Z}",
            "summary": record.statements["summary"],
            "cause": record.statements["cause"],
            "time_to_identify": human_duration(identified - start),
            "time_to_fix": human_duration(end - start),
            "actions": f" {actions}" if actions else "",
            "impact": record.statements["impact"],
            "contact": config.contact,
            "signature": config.signature,
            "title": record.statements.get("title", state.title),
            "incident_id": state.id,
        }
        subject = render("customer_subject", values, config.templates.customer_subject)
        text = render("customer_report", values, config.templates.customer_report)
        return CustomerReport(state.id, subject, text)

    # --- Statuspage JSON ----------------------------------------------------------

    def json(
        self,
        document: str,
        page: str | None = None,
        *,
        maintenances: Sequence[Maintenance] = (),
    ) -> dict[str, Any]:
        """A Statuspage document: ``summary``, ``status``, ``components``, ``incidents``,
        ``incidents/unresolved``, ``scheduled-maintenances`` (``/upcoming``, ``/active``).

        The maintenances are the stored ones (:attr:`maintenances`) and any
        the host passes as ``maintenances`` (one of those replaces a stored
        one of the same id): ``upcoming`` lists the scheduled ones, ``active``
        those in progress or verifying, and the summary both.
        """
        chosen = self.config.page(page)
        given = {m.id for m in maintenances}
        if self.config.components:
            stored = [m for m in self.maintenances.all() if m.id not in given]
            maintenances = [*stored, *maintenances]
        now = self._engine.now()
        public = self._states()
        states = self._components(chosen.id, public)
        incidents = _posted(public)
        names = {c.id: c.name for c in self.config.components}
        mine = [m for m in maintenances if m.page == chosen.id]
        upcoming = [m for m in mine if m.status is MaintenanceStatus.SCHEDULED]
        active = [m for m in mine if m.active]

        def rows(chosen_ones: Sequence[Maintenance]) -> list[dict[str, Any]]:
            ordered = sorted(chosen_ones, key=lambda m: (m.scheduled_for, m.id))
            return [maintenance_json(m, chosen, names) for m in ordered]

        match document:
            case "summary":
                return json_docs.summary_json(
                    self.config, chosen, states, incidents, now, rows([*active, *upcoming])
                )
            case "status":
                return json_docs.status_json(self.config, chosen, states, incidents, now)
            case "components":
                return json_docs.components_json(self.config, chosen, states, now)
            case "incidents":
                return json_docs.incidents_json(chosen, states, incidents, now)
            case "incidents/unresolved":
                return json_docs.unresolved_json(chosen, states, incidents, now)
            case "scheduled-maintenances":
                page_doc = json_docs.page_json(chosen, now)
                return {"page": page_doc, "scheduled_maintenances": rows(mine)}
            case "scheduled-maintenances/upcoming":
                page_doc = json_docs.page_json(chosen, now)
                return {"page": page_doc, "scheduled_maintenances": rows(upcoming)}
            case "scheduled-maintenances/active":
                page_doc = json_docs.page_json(chosen, now)
                return {"page": page_doc, "scheduled_maintenances": rows(active)}
        known = (
            "summary, status, components, incidents, incidents/unresolved, "
            "scheduled-maintenances, scheduled-maintenances/upcoming, "
            "scheduled-maintenances/active"
        )
        raise ValidationError("document", f"unknown document {document!r} (known: {known})")

    # --- uptime and SLA ----------------------------------------------------------

    def _scope(self, component: str | None, group: str | None) -> tuple[tuple[Component, ...], str]:
        config = self.config
        if component is not None and group is not None:
            raise ValidationError("group", "give a component or a group, not both")
        if component is not None:
            return (config.component(component),), component
        if group is not None:
            if group not in {g.id for g in config.groups}:
                raise NotFound("component group", group, [g.id for g in config.groups])
            members = tuple(c for c in config.members(group) if c.uptime)
            return members, group
        return tuple(c for c in config.components if c.uptime), "all"

    def intervals(
        self, component: str | None = None, *, group: str | None = None, at: datetime | None = None
    ) -> tuple[list[Interval], datetime | None]:
        """The merged intervals of a component (or of a group: down when any member is)
        and the time tracking began (``None``: the whole window)."""
        members, _ = self._scope(component, group)
        now = at if at is not None else self._engine.now()
        found = intervals_from_marks(self.marks(), now)
        ids = {c.id for c in members}
        chosen = [i for key, own in found.items() if key in ids for i in own]
        starts = [c.start_date for c in members]
        tracked: datetime | None
        if not members:
            tracked = now
        elif any(s is None for s in starts):
            tracked = None
        else:
            tracked = min(s for s in starts if s is not None)
        return merge(chosen), tracked

    def uptime(
        self,
        component: str | None = None,
        *,
        group: str | None = None,
        window: str = "90d",
        at: datetime | None = None,
    ) -> UptimeResult:
        """Uptime over a rolling window (``24h``, ``7d``, ``30d``, ``90d``) or a month
        (``YYYY-MM``, in ``[status.uptime] zone``) of a component, a group or all."""
        now = at if at is not None else self._engine.now()
        start, end = self._window(window, now)
        merged, tracked = self.intervals(component, group=group, at=min(end, now))
        return uptime(merged, start, min(end, now), config=self.config.uptime, tracked_from=tracked)

    def _window(self, window: str, now: datetime) -> tuple[datetime, datetime]:
        if len(window) == 7 and window[4] == "-" and window[:4].isdigit() and window[5:].isdigit():
            return month_bounds(int(window[:4]), int(window[5:]), self.config.uptime.zone)
        return window_bounds(window, now)

    def bars(
        self,
        component: str | None = None,
        *,
        group: str | None = None,
        days: int = 90,
        at: datetime | None = None,
    ) -> tuple[DayBar, ...]:
        """One uptime bar per local day (``[status.uptime] zone``), the last ``days`` days."""
        now = at if at is not None else self._engine.now()
        zone = self.config.uptime.zone
        last = now.astimezone(zone).date()
        first = last - timedelta(days=days - 1)
        merged, tracked = self.intervals(component, group=group, at=now)
        clipped = [Interval(i.start, min(i.end, now), i.status) for i in merged if i.start < now]
        return day_bars(
            clipped,
            first,
            last,
            zone,
            config=self.config.uptime,
            tracked_from=_later(tracked, None),
        )

    def sla(self, *, at: datetime | None = None, months: int = 12) -> tuple[SlaReport, ...]:
        """Each ``[[status.sla]]`` target: the current period and the breached months before."""
        now = at if at is not None else self._engine.now()
        zone = self.config.uptime.zone
        reports = []
        for target in self.config.sla:
            scope = target.component or target.group or "all"
            if target.period == "month":
                local = now.astimezone(zone)
                periods = [_month_back(local.year, local.month, back) for back in range(months + 1)]
                results = [
                    self.uptime(
                        target.component, group=target.group, window=f"{y:04d}-{m:02d}", at=now
                    )
                    for y, m in periods
                ]
            else:
                results = [
                    self.uptime(target.component, group=target.group, window=target.period, at=now)
                ]
            checked = [sla_result(r, target) for r in results]
            breaches = tuple(c for c in checked[1:] if c.met is False)
            reports.append(SlaReport(target.target, scope, checked[0], breaches))
        return tuple(reports)


def _posted(states: Sequence[Incident]) -> list[Incident]:
    return [s for s in states if _rules.record_of(s).updates]


def _current(marks: Sequence[ComponentMark], at: datetime | None) -> dict[str, ComponentStatus]:
    """Each component's worst status among the latest mark of every source (up to ``at``)."""
    chosen = [m for m in marks if at is None or m.at <= at]
    latest: dict[tuple[str, str], ComponentMark] = {}
    for mark in chosen:
        latest[(mark.component, mark.source)] = mark
    found: dict[str, ComponentStatus] = {}
    for (component, _), mark in latest.items():
        before = found.get(component)
        if before is None or _rules._worse(mark.status, before):
            found[component] = mark.status
    return found


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    found = [x for x in (a, b) if x is not None]
    return max(found) if found else None


def _month_back(year: int, month: int, back: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) - back
    return index // 12, index % 12 + 1


def _parse_zone(zone: ZoneInfo | str) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError("zone", f"unknown time zone {zone!r}") from None


def _channel_text(event: Event) -> str | None:
    match event:
        case Declared():
            return f"Incident declared - {event.severity} - {event.title}"
        case StatusUpdatePosted() if event.page is not None:
            if event.status is PublicStatus.RESOLVED:
                return "Status page updated to resolved"
            return "Status page updated"
        case StatusUpdatePosted():
            return f"Update for {event.audience} posted ({event.status}): {event.headline}"
        case UpdatePosted():
            return f"Status update ({event.status}): {event.message}"
        case NoteAdded():
            return event.text
        case RoleAssigned():
            return f"@{event.person} you're {_ROLE_NAMES.get(event.role, event.role)}"
        case Resolved():
            return "Declaring incident resolved"
        case StatementRecorded() | SubscriberNotified():
            return None
    if event.by == SYSTEM_ACTOR:
        return None
    return event.describe()


def maintenance_work(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
    """The periodic hook: auto-transitions due at ``now``, then the reminders and any
    announcement not yet enqueued (keys name the maintenance, so replicas enqueue once).

    A policy without components can have no maintenance, so nothing is read.
    """
    if not engine.policy.status.components:
        return []
    section = engine.sections.get("status")
    if not isinstance(section, StatusPages):
        return []
    section.maintenances.advance(now)
    return section.maintenances.due(now)


STATUS = Capability(
    name="status",
    events=STATUS_EVENTS,
    folds={event: _rules.fold for event in STATUS_EVENTS},
    routes=(status_notifications,),
    outbox=(subscriber_rows,),
    delivery={TOPIC: deliver_subscribers},
    claims=lambda engine: {TOPIC: {TOPIC}},
    section=StatusPages,
    periodic=(maintenance_work,),
)
"""The built-in status capability (always registered)."""
