"""The outbox relay behind ``IncidentKit.deliver()``.

Each claimed row is handled on its own: one notifier, one observer, one
mitigation or one channel request. A failure is retried with full-jitter
backoff (at least the receiver's ``Retry-After``) until the notifier's
``max_attempts``; a :class:`PermanentFailure` is not retried. A row that fails
for good is marked dead and, for notifications, recorded on the incident's
timeline as ``notification_failed``. Pluggy stops at the first raising
implementation, so delivery never relies on one broadcast hook call.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from incidentkit.errors import IncidentKitError, NotFound, PermanentFailure, ValidationError
from incidentkit.events import (
    ChannelOpened,
    Event,
    MitigationCompleted,
    NotificationFailed,
)
from incidentkit.incident import Incident, fold
from incidentkit.mitigation import MitigationContext
from incidentkit.mitigation._execute import execute_action
from incidentkit.notify import Notification, TransientFailure, run_with_timeout
from incidentkit.notify._delivery import retry_delay
from incidentkit.serialization import converter
from incidentkit.store import OutboxRow
from incidentkit.timers import SYSTEM_ACTOR

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["DeliveryReport", "deliver"]

log = logging.getLogger("incidentkit.delivery")

CHANNEL_TARGET = "incidentkit_open_channel"
"""The outbox target of channel requests (the ``incidentkit_open_channel`` hook)."""

DEFAULT_MAX_ATTEMPTS = 8
OBSERVER_TIMEOUT = timedelta(seconds=10)
CHANNEL_TIMEOUT = timedelta(seconds=30)


@attrs.frozen
class DeliveryReport:
    """What one ``deliver()`` pass did: rows claimed, done, to be retried, dead."""

    claimed: int
    delivered: int
    retried: int
    dead: int
    errors: tuple[str, ...] = ()


def _state_at(kit: IncidentKit, incident_id: str, version: int) -> tuple[Incident, Any]:
    """The incident as it stood right after ``version``, and that version's record.

    The common case (the observer runs before anything newer was appended)
    uses the kit's cached state and reads one row; only an older version
    replays the timeline.
    """
    current = kit.get(incident_id)
    if current.version == version:
        rows = kit.store.load(incident_id, after_version=version - 1)
        if rows and rows[0].version == version:
            return current, kit._decode(rows[0])
    records = [r for r in kit.timeline(incident_id) if r.version <= version]
    state = fold(records)
    if state is None or not records or records[-1].version != version:
        raise PermanentFailure(f"incident {incident_id} has no version {version}")
    return state, records[-1]


def _notification(kit: IncidentKit, row: OutboxRow) -> None:
    spec = kit.plugins.notifiers().get(row.target)
    if spec is None:
        raise TransientFailure(f"no notifier named {row.target!r} is registered")
    notification = converter().structure(json.loads(row.payload), Notification)
    run_with_timeout(lambda: spec.deliver(notification), spec.timeout)


def _observer(kit: IncidentKit, row: OutboxRow) -> None:
    version = int(json.loads(row.payload)["version"])
    state, record = _state_at(kit, row.incident_id, version)
    run_with_timeout(
        lambda: kit.plugins.notify_observer(row.target, state, record), OBSERVER_TIMEOUT
    )


def _channel(kit: IncidentKit, row: OutboxRow) -> None:
    state = kit.get(row.incident_id)
    reference = run_with_timeout(lambda: kit.plugins.open_channel(state), CHANNEL_TIMEOUT)
    if reference is None:
        return

    def decide(current: Incident, _: datetime) -> list[Event]:
        if current.channel_opened_at is not None:
            return []  # another worker already recorded it
        return [ChannelOpened(by=SYSTEM_ACTOR, channel=reference)]

    kit._system(row.incident_id, "open_channel", decide)


def run_mitigation(
    kit: IncidentKit,
    incident_id: str,
    request_id: str,
    action_name: str,
    params: Any,
    requested_by: str,
    dry_run: bool,
) -> Incident:
    """Execute a requested mitigation and record how it ended (once per request)."""
    action = kit.plugins.mitigation_actions().get(action_name)
    if action is None:
        known = sorted(kit.plugins.mitigation_actions())
        raise NotFound("mitigation action", action_name, known)
    if request_id not in kit.get(incident_id).pending_mitigations:
        return kit.get(incident_id)  # already run and recorded: never run an action twice
    context = MitigationContext(incident_id, requested_by, kit._now(), dry_run, request_id)
    result = execute_action(action, context, params, converter())
    detail = result.detail
    outcome = result.outcome.value
    if result.verified is False:
        outcome = "unverified"  # applied, but the health check did not confirm it
    if result.verified is not None:
        detail = f"{detail} (verified: {'yes' if result.verified else 'no'})".strip()

    def decide(state: Incident, _: datetime) -> list[Event]:
        if request_id not in state.pending_mitigations:
            return []  # another worker already recorded the outcome
        return [
            MitigationCompleted(
                by=SYSTEM_ACTOR,
                request_id=request_id,
                action=action_name,
                outcome=outcome,
                detail=detail,
            )
        ]

    return kit._system(incident_id, "mitigate", decide)[0]


def _mitigation(kit: IncidentKit, row: OutboxRow) -> None:
    data = json.loads(row.payload)
    run_mitigation(
        kit,
        row.incident_id,
        str(data["request_id"]),
        row.target,
        data.get("params") or {},
        str(data.get("by", SYSTEM_ACTOR)),
        bool(data.get("dry_run", False)),
    )


_HANDLERS: dict[str, Callable[[IncidentKit, OutboxRow], object]] = {
    "notification": _notification,
    "event": _observer,
    "channel": _channel,
    "mitigation": _mitigation,
}


def _record_failure(kit: IncidentKit, row: OutboxRow, error: str) -> None:
    """Put a dead row on the timeline: a failed notification, or a mitigation that never ran."""
    if row.topic not in ("notification", "mitigation"):
        return

    def decide(state: Incident, __: datetime) -> list[Event]:
        if row.topic == "mitigation":
            request_id = str(json.loads(row.payload).get("request_id", ""))
            if request_id not in state.pending_mitigations:
                return []
            return [
                MitigationCompleted(
                    by=SYSTEM_ACTOR,
                    request_id=request_id,
                    action=row.target,
                    outcome="failed",
                    detail=f"not run after {row.attempts} attempts: {error[:400]}",
                )
            ]
        return [
            NotificationFailed(
                by=SYSTEM_ACTOR,
                notifier=row.target,
                key=row.key,
                attempts=row.attempts,
                error=error[:500],
            )
        ]

    try:
        kit._system(row.incident_id, "record_failure", decide)
    except IncidentKitError as err:  # the row is dead either way; say so in the log
        log.error("could not record failure of %s on %s: %s", row.key, row.incident_id, err)


def _check_lease(kit: IncidentKit, lease: timedelta) -> None:
    """Refuse a lease that a handler could outlive (its row would be handed out twice)."""
    bounds = [
        (f"notifier {spec.name!r}", spec.timeout) for spec in kit.plugins.notifiers().values()
    ]
    # execute and verify each run under the action's timeout
    bounds += [
        (f"mitigation action {action.name!r}", 2 * action.timeout)
        for action in kit.plugins.mitigation_actions().values()
    ]
    if kit.plugins.observers():
        bounds.append(("event observers", OBSERVER_TIMEOUT))
    if kit.plugins.opens_channels():
        bounds.append(("channel opening", CHANNEL_TIMEOUT))
    for what, longest in bounds:
        if longest >= lease:
            raise ValidationError(
                "lease",
                f"must be longer than the {longest.total_seconds():g}s that {what} may take, "
                "or a slow call could outlive its lease and run twice",
            )


def handled_targets(kit: IncidentKit) -> dict[str, set[str]]:
    """What this kit's plugins can deliver, per outbox topic (what ``claim`` may hand it).

    A worker never claims a row for a notifier, observer or action it lacks:
    that row stays untouched for a worker that has the plugin.
    """
    return {
        "notification": set(kit.plugins.notifiers()),
        "event": set(kit.plugins.observers()),
        "mitigation": set(kit.plugins.mitigation_actions()),
        "channel": {CHANNEL_TARGET} if kit.plugins.opens_channels() else set(),
    }


def deliver(
    kit: IncidentKit,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    worker: str,
    rng: random.Random,
) -> DeliveryReport:
    """Claim due outbox rows and hand each to its plugin; see the module docstring."""
    _check_lease(kit, lease)
    rows = kit.store.claim(now, limit, lease, worker, targets=handled_targets(kit))
    delivered = retried = dead = 0
    errors: list[str] = []
    for row in rows:
        handler = _HANDLERS.get(row.topic)
        max_attempts = DEFAULT_MAX_ATTEMPTS
        spec = kit.plugins.notifiers().get(row.target) if row.topic == "notification" else None
        if spec is not None:
            max_attempts = spec.max_attempts
        try:
            if handler is None:
                raise PermanentFailure(f"unknown outbox topic {row.topic!r}")
            handler(kit, row)
        except PermanentFailure as err:
            message = f"{type(err).__name__}: {err}"
        except Exception as err:  # a plugin may raise anything; isolate it
            message = f"{type(err).__name__}: {err}"
            if row.attempts < max_attempts:
                delay = retry_delay(row.attempts, rng=rng)
                retry_after = getattr(err, "retry_after", None)
                if isinstance(retry_after, timedelta) and retry_after > delay:
                    delay = retry_after
                if not kit.store.fail(row.id, message, kit._now() + delay, worker=worker):
                    log.warning("lost the lease on %s before recording the failure", row.key)
                    continue
                retried += 1
                errors.append(f"{row.key}: {message}")
                log.warning(
                    "delivery of %s failed (attempt %d): %s", row.key, row.attempts, message
                )
                continue
        else:
            if kit.store.complete(row.id, worker=worker):
                delivered += 1
            else:  # another worker re-claimed it after our lease expired: at-least-once
                log.warning("lost the lease on %s; it may be delivered again", row.key)
            continue
        if not kit.store.fail(row.id, message, None, worker=worker):
            log.warning("lost the lease on %s before recording the failure", row.key)
            continue
        dead += 1
        errors.append(f"{row.key}: {message}")
        log.error(
            "delivery of %s failed for good after %d attempts: %s", row.key, row.attempts, message
        )
        _record_failure(kit, row, message)
    return DeliveryReport(len(rows), delivered, retried, dead, tuple(errors))
