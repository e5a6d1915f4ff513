"""Alert intake as a capability: alerts become incidents with PagerDuty's dedup semantics.

The rules (``research/wave2-specs.md`` §1):

* **Dedup, enforced by the store.** An incident that an alert opened or
  joined holds the alert's dedup key open (a :class:`~incidentkit.store.KeyClaim`
  in namespace ``"alert"``, written in the same transaction as its events;
  the store's unique index on open keys refuses a second holder). The same
  key while the incident is open appends to it; when the incident resolves
  or closes, its keys are released, so the next trigger opens a new incident.
  Of concurrent triggers of one key exactly one declares; the others see
  :class:`~incidentkit.errors.KeyTaken` and append to the winner.
* **Idempotent on redelivery.** An alert whose ``delivery_key`` the incident
  already recorded (Alertmanager: fingerprint, ``startsAt``, status) appends
  nothing.
* **Late resolve.** A resolve for a key no open incident holds is recorded on
  the latest incident that held it, and creates nothing; a resolve for a
  key never seen is a no-op.
* **Grouping.** Alerts whose labels render the same ``[alerts] group_by`` key
  join the incident that opened the group while it is open and within
  ``group_window`` of the group's first alert (the group key is held open in
  namespace ``"alert-group"``); afterwards :class:`AlertGroupClosed` is
  recorded and the next such alert opens a new incident.
* **Per-alert resolve.** A resolved alert keeps the incident open while
  another of its alerts fires; when the last one resolves,
  ``[alerts] on_all_resolved`` applies (mitigate, resolve or a note).
* **Flapping.** An alert that changes state ``flap_transitions`` times within
  ``flap_window`` (counting its changes on the incident it last opened) is
  marked flapping (:class:`AlertFlapping`) and no longer auto-mitigates or
  auto-resolves its incident, so it keeps that incident open instead of
  opening one per cycle: a flapping alert opens at most two incidents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from incidentkit.engine import Capability, Engine, reacts_to
from incidentkit.events import Closed, Event, RecordedEvent, Resolved
from incidentkit.incident import Incident
from incidentkit.intake.events import (
    AlertFlapping,
    AlertGroupClosed,
    AlertReceived,
    AlertsTruncated,
    alerts_state,
    fold_flapping,
    fold_group_closed,
    fold_received,
    fold_truncated,
)
from incidentkit.store import KeyClaim, OutboxMessage

__all__ = ["ALERTS", "GROUP_NAMESPACE", "KEY_NAMESPACE", "alert_keys", "detect"]

KEY_NAMESPACE = "alert"
"""The :class:`~incidentkit.store.KeyClaim` namespace of alert dedup keys."""

GROUP_NAMESPACE = "alert-group"
"""The :class:`~incidentkit.store.KeyClaim` namespace of open grouping keys."""


@reacts_to(AlertReceived, AlertGroupClosed, Resolved, Closed)
def alert_keys(state: Incident, record: RecordedEvent) -> Sequence[KeyClaim]:
    """The keys an event claims or releases (the capability's key planner); pure.

    An alert recorded on an open incident claims its dedup key (and the group
    key when it opened the group); a closed group releases the group key; a
    resolution or closure releases every key the incident holds.
    """
    event = record.event
    if isinstance(event, AlertReceived):
        if not state.is_open or event.late:
            return ()
        claims = [KeyClaim(KEY_NAMESPACE, event.alert.dedup_key, state.id)]
        if event.opens_group and event.group_key is not None:
            claims.append(KeyClaim(GROUP_NAMESPACE, event.group_key, state.id))
        return claims
    if isinstance(event, AlertGroupClosed):
        return (KeyClaim(GROUP_NAMESPACE, event.group_key, state.id, release=True),)
    if isinstance(event, Resolved | Closed):
        current = alerts_state(state)
        if not current.order:
            return ()
        claims = [KeyClaim(KEY_NAMESPACE, key, state.id, release=True) for key in current.order]
        if current.group_key is not None:
            claims.append(KeyClaim(GROUP_NAMESPACE, current.group_key, state.id, release=True))
        return claims
    return ()


def group_window_end(state: Incident, window: timedelta) -> datetime | None:
    """When the incident's open group stops taking alerts (``None``: no open group)."""
    current = alerts_state(state)
    if not current.group_open or current.group_started is None:
        return None
    return current.group_started + window


def _events() -> tuple[type[Event], ...]:
    return (AlertReceived, AlertsTruncated, AlertGroupClosed, AlertFlapping)


def detect(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
    """The periodic hook: evaluate heartbeats and release alerts whose silence ended.

    Its work is alerts through the dedup path (which records what it
    declares), so it enqueues no outbox rows of its own.
    """
    from incidentkit.intake.section import Alerts

    section = engine.sections.get("alerts")
    if isinstance(section, Alerts):
        section.check(now)
    return ()


def _section(engine: object) -> object:
    from incidentkit.engine import Engine
    from incidentkit.intake.section import Alerts

    assert isinstance(engine, Engine)
    return Alerts(engine)


ALERTS = Capability(
    name="alerts",
    events=_events(),
    folds={
        AlertReceived: fold_received,
        AlertsTruncated: fold_truncated,
        AlertGroupClosed: fold_group_closed,
        AlertFlapping: fold_flapping,
    },
    keys=(alert_keys,),
    periodic=(detect,),
    section=_section,
)
"""The alert intake capability; its section is ``kit.alerts`` (:class:`Alerts`)."""
