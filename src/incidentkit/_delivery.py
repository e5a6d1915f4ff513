"""The outbox relay behind ``IncidentKit.deliver()``.

Each claimed row is handled on its own: one notifier, one observer, one
mitigation or one channel request. A failure is retried with full-jitter
backoff (at least the receiver's ``Retry-After``) until the notifier's
``max_attempts``; a :class:`PermanentFailure` is not retried. A row that fails
for good is marked dead and, for notifications, recorded on the incident's
timeline as ``notification_failed`` (a row of no incident, ``incident_id``
``""``, is only marked dead and logged). Pluggy stops at the first raising
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

from incidentkit._calls import retry_delay, run_batch_with_timeouts, run_with_timeout
from incidentkit.engine.routing import CHANNEL_TARGET
from incidentkit.errors import (
    IncidentKitError,
    PermanentFailure,
    TransientFailure,
    ValidationError,
)
from incidentkit.events import (
    ChannelOpened,
    Event,
    MitigationCompleted,
    NotificationFailed,
)
from incidentkit.incident import Incident, fold
from incidentkit.mitigation.capability import Mitigations
from incidentkit.notify import Notification
from incidentkit.serialization import converter
from incidentkit.store import OutboxRow
from incidentkit.timers import SYSTEM_ACTOR

if TYPE_CHECKING:
    from incidentkit.engine import Engine

__all__ = ["DeliveryReport", "deliver", "handled_targets"]

log = logging.getLogger("incidentkit.delivery")

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


def _state_at(engine: Engine, incident_id: str, version: int) -> tuple[Incident, Any]:
    """The incident as it stood right after ``version``, and that version's record.

    The common case (the observer runs before anything newer was appended)
    uses the engine's cached state and reads one row; only an older version
    replays the timeline.
    """
    current = engine.load(incident_id).state
    if current.version == version:
        rows = engine.store.load(incident_id, after_version=version - 1)
        if rows and rows[0].version == version:
            return current, engine.decode(rows[0])
    records = [r for r in engine.timeline(incident_id) if r.version <= version]
    state = fold(records)
    if state is None or not records or records[-1].version != version:
        raise PermanentFailure(f"incident {incident_id} has no version {version}")
    return state, records[-1]


def _notifier_call(engine: Engine, row: OutboxRow) -> tuple[Callable[[], object], timedelta]:
    """The notifier call a notification row asks for, and its timeout."""
    spec = engine.plugins.notifiers().get(row.target)
    if spec is None:
        raise TransientFailure(f"no notifier named {row.target!r} is registered")
    notification = converter().structure(json.loads(row.payload), Notification)
    return (lambda: spec.deliver(notification)), spec.timeout


def _notification(engine: Engine, row: OutboxRow) -> None:
    fn, timeout = _notifier_call(engine, row)
    run_with_timeout(fn, timeout)


def _notify_all(engine: Engine, rows: list[OutboxRow]) -> dict[int, BaseException | None]:
    """Deliver notification rows in one thread hop; each row's error (``None``: delivered)."""
    outcome: dict[int, BaseException | None] = {}
    calls: list[tuple[Callable[[], object], timedelta]] = []
    called: list[int] = []
    for row in rows:
        try:
            calls.append(_notifier_call(engine, row))
        except Exception as err:  # a bad payload or a missing notifier: this row only
            outcome[row.id] = err
            continue
        called.append(row.id)
    for row_id, (ok, value) in zip(called, run_batch_with_timeouts(calls), strict=True):
        if ok:
            outcome[row_id] = None
        elif isinstance(value, Exception):
            outcome[row_id] = value
        else:  # KeyboardInterrupt, SystemExit …: not the plugin's failure to isolate
            assert isinstance(value, BaseException)
            raise value
    return outcome


def _observer(engine: Engine, row: OutboxRow) -> None:
    version = int(json.loads(row.payload)["version"])
    state, record = _state_at(engine, row.incident_id, version)
    run_with_timeout(
        lambda: engine.plugins.notify_observer(row.target, state, record), OBSERVER_TIMEOUT
    )


def _channel(engine: Engine, row: OutboxRow) -> None:
    state = engine.load(row.incident_id).state
    reference = run_with_timeout(lambda: engine.plugins.open_channel(state), CHANNEL_TIMEOUT)
    if reference is None:
        return

    def decide(current: Incident, _: datetime) -> list[Event]:
        if current.channel_opened_at is not None:
            return []  # another worker already recorded it
        return [ChannelOpened(by=SYSTEM_ACTOR, channel=reference)]

    engine.system(row.incident_id, "open_channel", decide)


def _mitigation(engine: Engine, row: OutboxRow) -> None:
    data = json.loads(row.payload)
    Mitigations(engine).run(
        row.incident_id,
        str(data["request_id"]),
        row.target,
        data.get("params") or {},
        str(data.get("by", SYSTEM_ACTOR)),
        bool(data.get("dry_run", False)),
    )


_HANDLERS: dict[str, Callable[[Engine, OutboxRow], object]] = {
    "notification": _notification,
    "event": _observer,
    "channel": _channel,
    "mitigation": _mitigation,
}


def _record_failure(engine: Engine, row: OutboxRow, error: str) -> None:
    """Put a dead row on the timeline: a failed notification, or a mitigation that never ran."""
    if row.topic not in ("notification", "mitigation") or not row.incident_id:
        return  # a row of no incident (a runbook review reminder): the log says it died

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
        engine.system(row.incident_id, "record_failure", decide)
    except IncidentKitError as err:  # the row is dead either way; say so in the log
        log.error("could not record failure of %s on %s: %s", row.key, row.incident_id, err)


def _check_lease(engine: Engine, lease: timedelta) -> None:
    """Refuse a lease that a handler could outlive (its row would be handed out twice)."""
    bounds = [
        (f"notifier {spec.name!r}", spec.timeout) for spec in engine.plugins.notifiers().values()
    ]
    # execute and verify each run under the action's timeout
    bounds += [
        (f"mitigation action {action.name!r}", 2 * action.timeout)
        for action in engine.plugins.mitigation_actions().values()
    ]
    if engine.plugins.observers():
        bounds.append(("event observers", OBSERVER_TIMEOUT))
    if engine.plugins.opens_channels():
        bounds.append(("channel opening", CHANNEL_TIMEOUT))
    for what, longest in bounds:
        if longest >= lease:
            raise ValidationError(
                "lease",
                f"must be longer than the {longest.total_seconds():g}s that {what} may take, "
                "or a slow call could outlive its lease and run twice",
            )


def handled_targets(engine: Engine) -> dict[str, set[str]]:
    """What this engine's plugins can deliver, per outbox topic (what ``claim`` may hand it).

    A worker never claims a row for a notifier, observer or action it lacks:
    that row stays untouched for a worker that has the plugin.
    """
    plugins = engine.plugins
    return {
        "notification": set(plugins.notifiers()),
        "event": set(plugins.observers()),
        "mitigation": set(plugins.mitigation_actions()),
        "channel": {CHANNEL_TARGET} if plugins.opens_channels() else set(),
        **engine.delivery_targets(),
    }


def deliver(
    engine: Engine,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    worker: str,
    rng: random.Random,
) -> DeliveryReport:
    """Claim due outbox rows and hand each to its plugin; see the module docstring."""
    _check_lease(engine, lease)
    rows = engine.store.claim(now, limit, lease, worker, targets=handled_targets(engine))
    delivered = retried = dead = 0
    errors: list[str] = []
    # Notification rows are handed to their notifiers a run of consecutive
    # rows at a time, on one pooled thread (one hop per run, not per call);
    # the rows delivered are marked done together, in one transaction per
    # pass, so a crash re-sends at most the rows of the pass in flight.
    notified: dict[int, BaseException | None] = {}
    done: list[OutboxRow] = []
    try:
        for index, row in enumerate(rows):
            if row.topic == "notification" and row.id not in notified:
                run: list[OutboxRow] = []
                for later in rows[index:]:
                    if later.topic != "notification":
                        break
                    run.append(later)
                notified.update(_notify_all(engine, run))
            handler = _HANDLERS.get(row.topic) or engine.deliverers.get(row.topic)
            max_attempts = DEFAULT_MAX_ATTEMPTS
            spec = (
                engine.plugins.notifiers().get(row.target) if row.topic == "notification" else None
            )
            if spec is not None:
                max_attempts = spec.max_attempts
            try:
                if handler is None:
                    raise PermanentFailure(f"unknown outbox topic {row.topic!r}")
                if row.topic == "notification":
                    failure = notified[row.id]
                    if failure is not None:
                        raise failure
                else:
                    handler(engine, row)
            except PermanentFailure as err:
                message = f"{type(err).__name__}: {err}"
            except Exception as err:  # a plugin may raise anything; isolate it
                message = f"{type(err).__name__}: {err}"
                if row.attempts < max_attempts:
                    delay = retry_delay(row.attempts, rng=rng)
                    retry_after = getattr(err, "retry_after", None)
                    if isinstance(retry_after, timedelta) and retry_after > delay:
                        delay = retry_after
                    if not engine.store.fail(row.id, message, engine.now() + delay, worker=worker):
                        log.warning("lost the lease on %s before recording the failure", row.key)
                        continue
                    retried += 1
                    errors.append(f"{row.key}: {message}")
                    log.warning(
                        "delivery of %s failed (attempt %d): %s", row.key, row.attempts, message
                    )
                    continue
            else:
                done.append(row)
                continue
            if not engine.store.fail(row.id, message, None, worker=worker):
                log.warning("lost the lease on %s before recording the failure", row.key)
                continue
            dead += 1
            errors.append(f"{row.key}: {message}")
            log.error(
                "delivery of %s failed for good after %d attempts: %s",
                row.key,
                row.attempts,
                message,
            )
            _record_failure(engine, row, message)
    finally:
        delivered = _complete(engine, done, worker)
    return DeliveryReport(len(rows), delivered, retried, dead, tuple(errors))


def _complete(engine: Engine, rows: list[OutboxRow], worker: str) -> int:
    """Mark ``rows`` done (in one transaction where the store can); how many applied."""
    if not rows:
        return 0
    many = getattr(engine.store, "complete_many", None)
    if many is not None:
        applied: list[bool] = many([row.id for row in rows], worker=worker)
    else:  # a store without the batch call: one transaction per row
        applied = [engine.store.complete(row.id, worker=worker) for row in rows]
    for row, ok in zip(rows, applied, strict=True):
        if not ok:  # another worker re-claimed it after our lease expired: at-least-once
            log.warning("lost the lease on %s; it may be delivered again", row.key)
    return sum(applied)
