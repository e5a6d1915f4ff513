"""Pure handlers and fold rules of the status capability."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from incidentkit import _validate as check
from incidentkit.checklists import DECLARATION, RECOVERY, ItemState
from incidentkit.errors import InvalidTransition, ValidationError
from incidentkit.events import Event, PublicStatus, RecordedEvent
from incidentkit.incident import Incident, ItemStatus, evolve_state, parse_enum
from incidentkit.lifecycle import Status
from incidentkit.status.config import StatusConfig
from incidentkit.status.events import (
    ComponentsChanged,
    ImpactOverridden,
    StatementRecorded,
    StatusUpdatePosted,
    SubscriberNotified,
)
from incidentkit.status.model import (
    ComponentChange,
    ComponentMark,
    ComponentStatus,
    Impact,
    IncidentUpdate,
    PublicIncident,
)

NAME = "status"
STATEMENT_FIELDS = ("title", "summary", "cause", "actions", "impact")
"""The customer statements an incident may record (see the customer report)."""


def record_of(state: Incident) -> PublicIncident:
    """The incident's public side (empty when nothing was posted)."""
    found = state.extensions.get(NAME)
    return found if isinstance(found, PublicIncident) else PublicIncident()


def _with(state: Incident, record: PublicIncident) -> Incident:
    return evolve_state(state, extensions={**state.extensions, NAME: record})


def _tick(state: Incident, checklist: str, key: str, by: str, at: datetime) -> Incident:
    items = state.checklists.get(checklist)
    if items is None or key not in items or items[key].state is not ItemState.PENDING:
        return state
    updated = {**items, key: ItemStatus(ItemState.DONE, by, at, "automatic")}
    return evolve_state(state, checklists={**state.checklists, checklist: updated})


def _marks(
    record: PublicIncident, changes: Sequence[ComponentChange], rec: RecordedEvent
) -> PublicIncident:
    marks = tuple(
        ComponentMark(rec.recorded_at, c.component, c.new_status, rec.incident_id, rec.version)
        for c in changes
    )
    current = {**record.components, **{c.component: c.new_status for c in changes}}
    peak = dict(record.peak)
    for change in changes:
        before = peak.get(change.component)
        if before is None or _worse(change.new_status, before):
            peak[change.component] = change.new_status
    return attrs.evolve(record, history=(*record.history, *marks), components=current, peak=peak)


_ORDER = (
    ComponentStatus.OPERATIONAL,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
)


def _worse(a: ComponentStatus, b: ComponentStatus) -> bool:
    return _ORDER.index(a) > _ORDER.index(b)


def _resolved_at(record: PublicIncident, status: PublicStatus, at: datetime) -> datetime | None:
    """Set by ``resolved``, kept by ``postmortem``, cleared when the incident goes back."""
    if status is PublicStatus.RESOLVED:
        return at
    if status is PublicStatus.POSTMORTEM:
        return record.resolved_at
    return None


def fold(state: Incident, rec: RecordedEvent) -> Incident:
    """How each status event changes the incident (its public record in ``extensions``)."""
    event = rec.event
    record = record_of(state)
    at = rec.recorded_at
    match event:
        case StatusUpdatePosted():
            update = IncidentUpdate(
                id=event.update_id,
                status=event.status,
                headline=event.headline,
                body=event.body,
                audience=event.audience,
                page=event.page,
                created_at=at,
                by=event.by,
                changes=event.changes,
            )
            record = _marks(
                attrs.evolve(record, updates=(*record.updates, update)), event.changes, rec
            )
            if event.page is not None:
                record = attrs.evolve(
                    record,
                    status=event.status,
                    created_at=record.created_at or at,
                    identified_at=record.identified_at
                    or (at if event.status is PublicStatus.IDENTIFIED else None),
                    monitoring_at=record.monitoring_at
                    or (at if event.status is PublicStatus.MONITORING else None),
                    resolved_at=_resolved_at(record, event.status, at),
                )
            state = _with(state, record)
            if event.counts_for_cadence:
                state = evolve_state(state, last_update_at=at, public_status=event.status)
                state = _tick(state, DECLARATION.name, "post-initial-update", event.by, at)
            if event.page is not None and event.status is PublicStatus.RESOLVED:
                state = _tick(state, RECOVERY.name, "status-page-resolved", event.by, at)
            return state
        case ComponentsChanged():
            return _with(state, _marks(record, event.changes, rec))
        case ImpactOverridden():
            return _with(state, attrs.evolve(record, impact_override=event.impact))
        case SubscriberNotified():
            told = record.notified | {(event.update_id, event.subscriber)}
            return _with(state, attrs.evolve(record, notified=told))
        case StatementRecorded():
            statements = {**record.statements, event.field: event.text}
            return _with(state, attrs.evolve(record, statements=statements))
    return state


# --- decisions -----------------------------------------------------------------


def _require_open(state: Incident, what: str) -> None:
    if state.status is Status.CLOSED:
        raise InvalidTransition(state.id, what, state.status.value, ())


def parse_components(
    config: StatusConfig, components: Mapping[str, object], field: str = "components"
) -> dict[str, ComponentStatus]:
    """``{component id: status}`` checked against the policy's components and the enum."""
    if not isinstance(components, Mapping):
        raise ValidationError(
            field, f"expected a table of component id → status, got {check.shown(components)}"
        )
    if len(components) > check.MAX_ITEMS:
        raise ValidationError(field, f"more than {check.MAX_ITEMS} entries")
    known = [c.id for c in config.components]
    parsed: dict[str, ComponentStatus] = {}
    for key, value in components.items():
        if key not in known:
            raise ValidationError(
                f"{field}.{key}",
                f"no component {check.shown(key)} (known: {', '.join(known) or 'none'})",
            )
        parsed[key] = parse_enum(ComponentStatus, value, f"{field}.{key}", "component status")
    return parsed


def _changes(
    config: StatusConfig,
    wanted: Mapping[str, ComponentStatus],
    current: Mapping[str, ComponentStatus],
) -> tuple[ComponentChange, ...]:
    changes = []
    for component_id, new in wanted.items():
        old = current.get(component_id, ComponentStatus.OPERATIONAL)
        if old is not new:
            name = config.component(component_id).name
            changes.append(ComponentChange(component_id, name, old, new))
    return tuple(changes)


def check_audience(config: StatusConfig, audience: object) -> str:
    """``audience`` when the policy defines it; otherwise a :class:`ValidationError`."""
    check.name(audience, "audience")
    assert isinstance(audience, str)
    if audience not in config.audiences:
        raise ValidationError(
            "audience", f"unknown audience {audience!r} (known: {', '.join(config.audiences)})"
        )
    return audience


def decide_post(
    state: Incident,
    config: StatusConfig,
    *,
    status: PublicStatus | str,
    headline: object,
    body: object,
    audience: object,
    components: Mapping[str, object],
    current: Mapping[str, ComponentStatus],
    by: str,
) -> list[Event]:
    """Post an incident update for ``audience``, changing the named components.

    A resolved update on a page sets the components this incident left
    degraded back to operational unless it names them.
    """
    _require_open(state, "post a status update on")
    public = parse_enum(PublicStatus, status, "status", "incident status")
    title = check.title(headline, "headline")
    text = check.text(body, "body", allow_empty=True)
    who = check_audience(config, audience)
    wanted = parse_components(config, components)
    page = next((p.id for p in config.pages if p.audience == who), None)
    record = record_of(state)
    if page is not None and public is PublicStatus.RESOLVED:
        for component_id, own in record.components.items():
            if component_id not in wanted and own is not ComponentStatus.OPERATIONAL:
                wanted[component_id] = ComponentStatus.OPERATIONAL  # no change if already
    return [
        StatusUpdatePosted(
            by=by,
            update_id=f"{state.id}-u{len(record.updates) + 1}",
            status=public,
            headline=title,
            body=text,
            audience=who,
            page=page,
            changes=_changes(config, wanted, current),
            counts_for_cadence=config.counts_for_cadence(who),
        )
    ]


def decide_components(
    state: Incident,
    config: StatusConfig,
    *,
    components: Mapping[str, object],
    current: Mapping[str, ComponentStatus],
    reason: object,
    by: str,
) -> list[Event]:
    """Change component statuses without an update; nothing when none changes."""
    _require_open(state, "change components on")
    wanted = parse_components(config, components)
    changes = _changes(config, wanted, current)
    if not changes:
        return []
    why = check.text(reason, "reason", allow_empty=True)
    return [ComponentsChanged(by=by, changes=changes, reason=why)]


def decide_impact(
    state: Incident, *, impact: Impact | str | None, reason: object, by: str
) -> list[Event]:
    """Override the derived impact (``None``: derive it again); the override is recorded."""
    _require_open(state, "set the impact of")
    parsed = None if impact is None else parse_enum(Impact, impact, "impact")
    if record_of(state).impact_override is parsed:
        return []
    why = check.text(reason, "reason", allow_empty=True)
    return [ImpactOverridden(by=by, impact=parsed, reason=why)]


def decide_statement(state: Incident, *, field: object, text: object, by: str) -> list[Event]:
    """Record a fact for the customer report (the same text again records nothing)."""
    _require_open(state, "record a customer statement on")
    if field not in STATEMENT_FIELDS:
        raise ValidationError(
            "field",
            f"unknown statement {check.shown(field)} (known: {', '.join(STATEMENT_FIELDS)})",
        )
    assert isinstance(field, str)
    said = check.text(text, "text")
    if record_of(state).statements.get(field) == said:
        return []
    return [StatementRecorded(by=by, field=field, text=said)]
