"""The alert intake's timeline events (tags prefixed ``alerts_``) and the state they fold into.

* :class:`AlertReceived` — an alert was recorded on the incident (a trigger,
  a resolve, an acknowledgement); ``opens_group`` when it opened the group.
* :class:`AlertsTruncated` — the sender left alerts out of a payload
  (Alertmanager ``truncatedAlerts``); none of them is taken as resolved.
* :class:`AlertGroupClosed` — the grouping window ended: the next alert
  with the group's key opens a new incident.
* :class:`AlertFlapping` — one alert changed state ``transitions`` times
  within the flap window: it keeps the incident instead of opening new ones,
  and the incident is no longer auto-mitigated or auto-resolved by it.

The state lives in ``Incident.extensions["alerts"]`` (:class:`AlertsState`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

import attrs

from incidentkit.events import Event, RecordedEvent, register_event
from incidentkit.incident import Incident
from incidentkit.intake.model import Alert, AlertStatus

__all__ = [
    "AlertEntry",
    "AlertFlapping",
    "AlertGroupClosed",
    "AlertReceived",
    "AlertsState",
    "AlertsTruncated",
    "alerts_state",
]


@attrs.frozen(kw_only=True)
class AlertReceived(Event):
    """An alert recorded on the incident; ``group_key`` is its grouping key, if any."""

    tag: ClassVar[str] = "alerts_received"
    alert: Alert
    group_key: str | None = None
    opens_group: bool = False
    late: bool = False
    history: tuple[datetime, ...] = ()


@attrs.frozen(kw_only=True)
class AlertsTruncated(Event):
    """A payload said ``truncated`` alerts were left out; they are not taken as resolved."""

    tag: ClassVar[str] = "alerts_truncated"
    truncated: int
    source: str
    group_key: str | None = None


@attrs.frozen(kw_only=True)
class AlertGroupClosed(Event):
    """The grouping window of ``group_key`` ended (``window_end``)."""

    tag: ClassVar[str] = "alerts_group_closed"
    group_key: str
    window_end: datetime


@attrs.frozen(kw_only=True)
class AlertFlapping(Event):
    """Alert ``dedup_key`` changed state ``transitions`` times within the flap window."""

    tag: ClassVar[str] = "alerts_flapping"
    dedup_key: str
    transitions: int


for _event in (AlertReceived, AlertsTruncated, AlertGroupClosed, AlertFlapping):
    register_event(_event)  # at import, so stored alert events always decode


@attrs.frozen
class AlertEntry:
    """One alert of an incident: its last state and when it changed."""

    dedup_key: str
    summary: str
    status: AlertStatus
    first_at: datetime
    last_at: datetime
    starts_at: datetime | None = None
    triggers: int = 0
    changes: tuple[datetime, ...] = ()
    flapping: bool = False


@attrs.frozen
class AlertsState:
    """``Incident.extensions["alerts"]``: the incident's alerts, its group and what was seen.

    ``keys`` are the dedup keys the incident holds (released when it resolves);
    ``deliveries`` the delivery keys already recorded (a redelivery is a no-op).
    """

    alerts: Mapping[str, AlertEntry] = attrs.field(factory=dict)
    order: tuple[str, ...] = ()
    deliveries: frozenset[str] = frozenset()
    group_key: str | None = None
    group_started: datetime | None = None
    group_open: bool = False
    received: int = 0
    truncations: int = 0

    @property
    def firing(self) -> tuple[str, ...]:
        """The dedup keys of alerts still firing (or acknowledged), in arrival order."""
        return tuple(
            key for key in self.order if self.alerts[key].status is not AlertStatus.RESOLVED
        )


def alerts_state(state: Incident) -> AlertsState:
    """The incident's :class:`AlertsState` (empty when no alert was recorded)."""
    value = state.extensions.get("alerts")
    return value if isinstance(value, AlertsState) else AlertsState()


def _put(state: Incident, value: AlertsState) -> Incident:
    return attrs.evolve(state, extensions={**state.extensions, "alerts": value})


def fold_received(state: Incident, record: RecordedEvent) -> Incident:
    """Record the alert: its entry, its delivery key, the group it opened."""
    event = record.event
    assert isinstance(event, AlertReceived)
    alert = event.alert
    current = alerts_state(state)
    at = record.recorded_at
    entry = current.alerts.get(alert.dedup_key)
    firing = alert.status is AlertStatus.FIRING
    if entry is None:
        entry = AlertEntry(
            alert.dedup_key,
            alert.summary,
            alert.status,
            at,
            at,
            alert.starts_at,
            triggers=1 if firing else 0,
            changes=(*event.history[-63:], at),
        )
        order = (*current.order, alert.dedup_key)
    else:
        changed = (entry.status is AlertStatus.RESOLVED) != (alert.status is AlertStatus.RESOLVED)
        entry = attrs.evolve(
            entry,
            status=alert.status,
            last_at=at,
            triggers=entry.triggers + (1 if firing else 0),
            changes=(*entry.changes, at)[-64:] if changed else entry.changes,
        )
        order = current.order
    deliveries = current.deliveries
    if alert.delivery_key is not None:
        deliveries = deliveries | {alert.delivery_key}
    value = attrs.evolve(
        current,
        alerts={**current.alerts, alert.dedup_key: entry},
        order=order,
        deliveries=deliveries,
        received=current.received + 1,
    )
    if event.opens_group and event.group_key is not None:
        value = attrs.evolve(value, group_key=event.group_key, group_started=at, group_open=True)
    return _put(state, value)


def fold_truncated(state: Incident, record: RecordedEvent) -> Incident:
    """Count the truncation warning."""
    current = alerts_state(state)
    return _put(state, attrs.evolve(current, truncations=current.truncations + 1))


def fold_group_closed(state: Incident, record: RecordedEvent) -> Incident:
    """The group takes no more alerts."""
    return _put(state, attrs.evolve(alerts_state(state), group_open=False))


def fold_flapping(state: Incident, record: RecordedEvent) -> Incident:
    """Mark the alert as flapping."""
    event = record.event
    assert isinstance(event, AlertFlapping)
    current = alerts_state(state)
    entry = current.alerts.get(event.dedup_key)
    if entry is None:
        return state
    alerts = {**current.alerts, event.dedup_key: attrs.evolve(entry, flapping=True)}
    return _put(state, attrs.evolve(current, alerts=alerts))
