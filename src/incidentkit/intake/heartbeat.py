"""Heartbeat monitors, silences and user reports: the pure part of ``kit.alerts``' detection.

A heartbeat's state belongs to no incident: its last ping and whether its
expiry alert is raised live in a store mark (namespace ``"heartbeat"``,
:class:`~incidentkit.store.MarkStore`), written by compare-and-set so that of
replicas evaluating one monitor at once exactly one makes each transition.
The rules (GoAlert's, ``research/wave2-specs.md`` §1.5):

* never pinged: ``inactive``, and silent however long ago it was configured;
* pinged at ``last``: ``unhealthy`` once ``now >= last + timeout`` (``>=``,
  as GoAlert; Grafana OnCall's strict ``<`` would fire one instant later),
  else ``healthy``;
* the healthy → unhealthy transition raises one alert (dedup key
  ``heartbeat:<name>``); unhealthy → healthy (a ping) resolves it.

>>> from datetime import UTC, datetime, timedelta
>>> from incidentkit.intake.config import HeartbeatMonitor
>>> monitor = HeartbeatMonitor("x", timedelta(minutes=5))
>>> t0 = datetime(2024, 11, 20, 22, 0, tzinfo=UTC)
>>> expected_state(monitor, None, t0 + timedelta(hours=1)).value
'inactive'
>>> expected_state(monitor, t0, t0 + timedelta(minutes=4, seconds=59)).value
'healthy'
>>> expected_state(monitor, t0, t0 + timedelta(minutes=5)).value
'unhealthy'
"""

from __future__ import annotations

import enum
import json
from datetime import datetime, timedelta

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import StoreError
from incidentkit.intake.config import HeartbeatMonitor

__all__ = [
    "HEARTBEAT_NAMESPACE",
    "SILENCED_NAMESPACE",
    "SILENCE_NAMESPACE",
    "HeartbeatState",
    "HeartbeatStatus",
    "decode_mark",
    "encode_mark",
    "expected_state",
    "expiry_summary",
]

HEARTBEAT_NAMESPACE = "heartbeat"
"""The mark namespace of heartbeat monitors' last pings."""

SILENCE_NAMESPACE = "silence"
"""The mark namespace of silences made through ``kit.alerts.silence``."""

SILENCED_NAMESPACE = "silenced"
"""The mark namespace of alerts a silence held back (by dedup key)."""


class HeartbeatState(enum.StrEnum):
    """A heartbeat monitor's state (GoAlert's)."""

    INACTIVE = "inactive"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@attrs.frozen
class HeartbeatStatus:
    """What :meth:`~incidentkit.intake.section.Alerts.heartbeat` reports for one monitor.

    ``state`` is the stored state (what the last transition made it);
    ``expires_at`` is ``last_ping + timeout`` (``None``: never pinged).
    """

    name: str
    state: HeartbeatState
    timeout: timedelta
    last_ping: datetime | None = None
    expires_at: datetime | None = None


def expected_state(
    monitor: HeartbeatMonitor, last: datetime | None, now: datetime
) -> HeartbeatState:
    """The state a monitor last pinged at ``last`` should be in at ``now``; pure."""
    if last is None:
        return HeartbeatState.INACTIVE
    if now >= last + monitor.timeout:
        return HeartbeatState.UNHEALTHY
    return HeartbeatState.HEALTHY


def encode_mark(last: datetime, state: HeartbeatState) -> str:
    """The mark text of a monitor pinged at ``last`` in ``state``."""
    return json.dumps({"last": ensure_aware(last, "last").isoformat(), "state": state.value})


def decode_mark(name: str, text: str) -> tuple[datetime, HeartbeatState]:
    """``(last ping, state)`` from a mark written by :func:`encode_mark`."""
    try:
        body = json.loads(text)
        last = datetime.fromisoformat(body["last"])
        state = HeartbeatState(body["state"])
    except (TypeError, ValueError, KeyError) as err:
        raise StoreError(f"heartbeat {name!r}: unreadable mark {text[:80]!r}: {err}") from err
    return ensure_aware(last, "last"), state


def expiry_summary(name: str) -> str:
    """The expiry alert's summary: ``Heartbeat monitor '<name>' expired.`` (GoAlert's)."""
    return f"Heartbeat monitor '{name}' expired."
