"""``kit.alerts``: ingest alert payloads into incidents, and read what came in.

See :mod:`incidentkit.intake.capability` for the rules.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Sequence, Sized
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from incidentkit import _validate as check
from incidentkit.engine import Engine
from incidentkit.errors import (
    GuardFailed,
    IncidentKitError,
    InvalidTransition,
    KeyTaken,
    NotFound,
    StoreError,
    ValidationError,
)
from incidentkit.events import Event, RecordedEvent, Source
from incidentkit.incident import (
    Incident,
    apply,
    decide_declare,
    decide_mark_mitigated,
    decide_note,
    decide_resolve,
)
from incidentkit.intake.adapters import BUILTIN_ADAPTERS, parse_with_adapter, repeatable
from incidentkit.intake.capability import GROUP_NAMESPACE, KEY_NAMESPACE, group_window_end
from incidentkit.intake.config import (
    AlertAction,
    AlertsConfig,
    HeartbeatMonitor,
    OnAllResolved,
    Silence,
    render_group_key,
)
from incidentkit.intake.events import (
    AlertFlapping,
    AlertGroupClosed,
    AlertReceived,
    AlertsTruncated,
    alerts_state,
)
from incidentkit.intake.heartbeat import (
    HEARTBEAT_NAMESPACE,
    HeartbeatState,
    HeartbeatStatus,
    decode_mark,
    encode_mark,
    expected_state,
    expiry_summary,
)
from incidentkit.intake.model import AdapterSpec, Alert, AlertStatus, Payload
from incidentkit.intake.silence import HeldAlert, Silences
from incidentkit.lifecycle import Status
from incidentkit.serialization import parse_duration
from incidentkit.severity import Severity, Signals
from incidentkit.store import KeyStore, MarkStore, SummaryQuery, require_marks

log = logging.getLogger("incidentkit.intake")

__all__ = ["NO_GROUP", "Alerts", "IngestResult", "Outcome", "RecentAlert"]

_ATTEMPTS = 16


@attrs.frozen
class Outcome:
    """What became of one alert of a payload.

    ``action`` is ``"declared"`` (it opened ``incident_id``), ``"appended"``
    (recorded on an open incident), ``"duplicate"`` (already recorded:
    nothing appended), ``"late"`` (a resolve recorded on the latest resolved
    incident), ``"reopened"`` (a flapping alert reopened its incident),
    ``"ignored"`` (a rule said so), ``"unattached"`` (an attach-only alert
    with no open incident), ``"silenced"`` (a maintenance window or silence,
    named by ``silenced_by``, held it back: recorded, no incident, no page)
    or ``"noop"`` (a resolve or acknowledgement of an unknown key).
    """

    dedup_key: str
    action: str
    incident_id: str | None = None
    silenced_by: str | None = None


@attrs.frozen
class IngestResult:
    """What :meth:`Alerts.ingest` did, and what to answer the sender.

    :meth:`response` is the body (PagerDuty Events v2's
    ``{"status": "success", "message": "Event processed", "dedup_key": …}``);
    ``http_status`` the status code (202).
    """

    format: str
    outcomes: tuple[Outcome, ...]
    truncated: int = 0
    http_status: int = 202

    @property
    def incident_ids(self) -> tuple[str, ...]:
        """The incidents the payload touched, in order, without repeats."""
        return tuple(dict.fromkeys(o.incident_id for o in self.outcomes if o.incident_id))

    @property
    def dedup_key(self) -> str | None:
        """The first alert's dedup key (PagerDuty echoes it; a generated one is returned)."""
        return self.outcomes[0].dedup_key if self.outcomes else None

    def response(self) -> dict[str, Any]:
        """The JSON body to answer the sender with (PagerDuty Events v2 compatible)."""
        body: dict[str, Any] = {"status": "success", "message": "Event processed"}
        if self.dedup_key is not None:
            body["dedup_key"] = self.dedup_key
        body["incidents"] = list(self.incident_ids)
        return body


@attrs.frozen
class RecentAlert:
    """One alert as :meth:`Alerts.recent` lists it, with its incident."""

    incident_id: str
    dedup_key: str
    summary: str
    status: AlertStatus
    received_at: datetime
    source: str


def error_response(err: ValidationError) -> dict[str, Any]:
    """The 400 body for a refused payload: ``{"status", "message", "errors": [...]}``."""
    problems = getattr(err, "problems", ((err.field, err.reason),))
    return {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [f"{path}: {reason}" for path, reason in problems],
    }


class _Retry(Exception):
    """The key moved between the look-up and the append: look again."""


class _Unset:
    """``group=NO_GROUP``: the alert joins no group whatever ``[alerts] group_by`` says."""


NO_GROUP = _Unset()


PARSED_MEMO = 1_024
"""How many parsed bodies :meth:`Alerts.parse` remembers (the least recently used goes first)."""

_MEMO_BODY = 65_536
"""Bodies longer than this are parsed every time (the memo stays small)."""


class Alerts:
    """The alert intake section, ``kit.alerts`` (see :mod:`incidentkit.intake.capability`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._adapters: dict[str, AdapterSpec] = {a.name: a for a in BUILTIN_ADAPTERS}
        self._runbooks: Any = None
        self._checked: KeyStore | None = None
        self._parsed: dict[tuple[str | None, bytes | str], Payload] = {}
        self._parsed_lock = threading.Lock()
        self._silences = Silences(
            lambda: engine.store, lambda: self.config.silences, lambda: _stored_maintenances(engine)
        )
        for spec in engine.plugins.alert_adapters():
            if spec.name in self._adapters and spec not in BUILTIN_ADAPTERS:
                raise ValidationError(
                    "incidentkit_alert_adapters", f"adapter {spec.name!r} is registered twice"
                )
            self._adapters.setdefault(spec.name, spec)

    @property
    def config(self) -> AlertsConfig:
        """The policy's ``[alerts]`` table."""
        return self._engine.policy.alerts

    @property
    def adapters(self) -> tuple[str, ...]:
        """The adapter names, in detection order (plugins' before the generic one)."""
        names = [n for n in self._adapters if n != "generic"]
        return (*names, "generic")

    def use_runbooks(self, runbooks: object) -> None:
        """Attach matching runbooks on declaration through ``runbooks.attach_matching``."""
        self._runbooks = runbooks

    def _store(self) -> KeyStore:
        store = self._engine.store
        if self._checked is store:  # a Protocol isinstance check is slow: once per store
            return self._checked
        if not isinstance(store, KeyStore):
            raise StoreError(
                f"{store.url}: alert intake needs a store with unique open keys "
                "(key_holder and append(keys=...)); the built-in stores have them"
            )
        self._checked = store
        return store

    # --- reading ------------------------------------------------------------

    def parse(self, payload: object, format: str | None = None) -> Payload:
        """Parse ``payload`` (bytes, text or decoded JSON) without recording anything.

        A body (bytes or text) parsed before by a built-in adapter is not
        parsed again: senders repeat the same body (Alertmanager's repeat
        interval, HA pairs, retries), so the last :data:`PARSED_MEMO` bodies
        used are remembered with what they gave. A body whose reading depends
        on when it came (an alert that took its start from the time of
        arrival, a PagerDuty trigger given a generated key) is never
        remembered, and neither is anything a plugin adapter read. The
        payload returned may be the remembered one: it is frozen, its maps
        are not to be changed.
        """
        now = self._engine.now()
        key: tuple[str | None, bytes | str] | None = None
        if isinstance(payload, bytes | str) and len(payload) <= _MEMO_BODY:
            key = (format, payload)
            with self._parsed_lock:
                found = self._parsed.pop(key, None)
                if found is not None:
                    self._parsed[key] = found  # the most recently used goes last
                    return found
        ordered = [self._adapters[n] for n in self.adapters]
        adapter, parsed = parse_with_adapter(payload, format, now=now, adapters=ordered)
        if key is not None and repeatable(adapter, parsed, now):
            with self._parsed_lock:
                if len(self._parsed) >= PARSED_MEMO:
                    del self._parsed[next(iter(self._parsed))]  # the least recently used
                self._parsed[key] = parsed
        return parsed

    def holder(self, dedup_key: str) -> str | None:
        """The open incident holding ``dedup_key``, or ``None``."""
        return self._store().key_holder(
            KEY_NAMESPACE, check.text(dedup_key, "dedup_key", max_length=255)
        )

    def recent(self, limit: int = 50) -> list[RecentAlert]:
        """The latest alerts (newest first) of the most recently declared incidents."""
        limit = check.integer(limit, "limit", 1, 10_000)
        found: list[RecentAlert] = []
        summaries = self._engine.store.summaries(SummaryQuery())
        for summary in reversed(summaries):
            try:
                records = self._engine.timeline(summary.incident_id)
            except (NotFound, StoreError):
                continue
            for record in reversed(records):
                event = record.event
                if isinstance(event, AlertReceived):
                    found.append(
                        RecentAlert(
                            record.incident_id,
                            event.alert.dedup_key,
                            event.alert.summary,
                            event.alert.status,
                            record.recorded_at,
                            event.alert.source,
                        )
                    )
            if len(found) >= limit:
                break
        found.sort(key=lambda a: a.received_at, reverse=True)
        return found[:limit]

    # --- ingest ---------------------------------------------------------------

    def ingest(
        self,
        payload: object,
        format: str | None = None,
        *,
        started_at: datetime | None = None,
    ) -> IngestResult:
        """Parse a sender's payload and record each alert under the intake rules.

        ``payload`` is the request body (bytes or text) or decoded JSON;
        ``format`` names the adapter (``None``: detected). ``started_at``
        backdates the impact start of an incident the payload declares
        (it must not be after the detection).

        :raises PayloadInvalid: the payload was refused (answer 400 with
            :func:`error_response`); nothing was recorded.
        """
        parsed = self.parse(payload, format)
        if started_at is not None:
            from incidentkit._time import ensure_aware

            started_at = ensure_aware(started_at, "started_at")
        # Firing alerts first, earliest start first: the declaring one sets detected_at.
        order = sorted(
            range(len(parsed.alerts)),
            key=lambda i: (
                parsed.alerts[i].status is not AlertStatus.FIRING,
                parsed.alerts[i].starts_at or _LAST,
            ),
        )
        outcomes: dict[int, Outcome] = {}
        for index in order:
            outcomes[index] = self._one(parsed.alerts[index], started_at)
        if parsed.truncated:
            self._warn_truncated(parsed, [outcomes[i] for i in range(len(parsed.alerts))])
        return IngestResult(
            parsed.format,
            tuple(outcomes[i] for i in range(len(parsed.alerts))),
            parsed.truncated,
        )

    def _warn_truncated(self, parsed: Payload, outcomes: Iterable[Outcome]) -> None:
        listed = list(outcomes)
        fresh = {o.incident_id for o in listed if o.action != "duplicate"}
        event = AlertsTruncated(
            by=parsed.format,
            truncated=parsed.truncated,
            source=parsed.format,
            group_key=parsed.group_key,
        )

        def warn(state: Incident, now: datetime) -> list[Event]:
            # A redelivered truncated payload (every alert a duplicate) warns once.
            if state.id not in fresh and alerts_state(state).truncations:
                return []
            return [event]

        for incident_id in dict.fromkeys(o.incident_id for o in listed if o.incident_id):
            self._engine.system(incident_id, "ingest_alert", warn)

    def _one(
        self,
        alert: Alert,
        started_at: datetime | None,
        *,
        group: str | _Unset | None = None,
        window: timedelta | None = None,
        source: Source = Source.ALERT,
        silenceable: bool = True,
    ) -> Outcome:
        config = self.config
        rule = config.rule_for(alert.labels)
        action = rule.action if rule is not None else config.default_action
        if action is AlertAction.IGNORE:
            return Outcome(alert.dedup_key, "ignored")
        store = self._store()
        if group is None:
            group = render_group_key(config.group_by, alert.labels)
        elif isinstance(group, _Unset):
            group = None
        for _ in range(_ATTEMPTS):
            try:
                holder = store.key_holder(KEY_NAMESPACE, alert.dedup_key)
                if holder is not None:
                    return self._append(holder, alert, group, "appended")
                if alert.status is not AlertStatus.FIRING:
                    last = store.key_holder(KEY_NAMESPACE, alert.dedup_key, released=True)
                    if last is None:
                        self._silences.resolved(alert)
                        return Outcome(alert.dedup_key, "noop")
                    return self._append(last, alert, group, "late", late=True)
                last = store.key_holder(KEY_NAMESPACE, alert.dedup_key, released=True)
                if last is not None and self._engine.load(last).state.is_open:
                    return self._append(last, alert, group, "appended")  # reopened by hand
                silence = (
                    self._silences.covering(alert, self._engine.now()) if silenceable else None
                )
                if silence is not None:
                    self._silences.hold(alert, silence, self._engine.now())
                    return Outcome(alert.dedup_key, "silenced", silenced_by=silence.name)
                if group is not None:
                    owner = store.key_holder(GROUP_NAMESPACE, group)
                    if owner is not None:
                        joined = self._join(owner, alert, group, window)
                        if joined is not None:
                            return joined
                        continue  # the window closed: declare afresh
                if action is AlertAction.ATTACH:
                    return Outcome(alert.dedup_key, "unattached")
                history = self._history(last, alert)
                return self._declare(alert, group, started_at, rule, history, source)
            except (KeyTaken, _Retry):
                continue
        raise StoreError(f"alert {alert.dedup_key!r}: its key kept moving; nothing more recorded")

    # --- heartbeats -------------------------------------------------------

    def _marks(self) -> MarkStore:
        return require_marks(self._engine.store, "heartbeats")

    def _monitor(self, name: object) -> HeartbeatMonitor:
        monitor = self.config.heartbeat(name) if isinstance(name, str) else None
        if monitor is None:
            known = ", ".join(m.name for m in self.config.heartbeats) or "none"
            raise ValidationError(
                "name", f"no heartbeat monitor {name!r} in [alerts] heartbeats (known: {known})"
            )
        return monitor

    def heartbeat(self, name: str) -> HeartbeatStatus:
        """The stored state of the monitor ``name`` (``inactive`` until its first ping)."""
        monitor = self._monitor(name)
        text = self._marks().mark(HEARTBEAT_NAMESPACE, monitor.name)
        if text is None:
            return HeartbeatStatus(monitor.name, HeartbeatState.INACTIVE, monitor.timeout)
        last, state = decode_mark(monitor.name, text)
        return HeartbeatStatus(monitor.name, state, monitor.timeout, last, last + monitor.timeout)

    def heartbeats(self) -> list[HeartbeatStatus]:
        """Every configured monitor's stored state, in policy order."""
        return [self.heartbeat(m.name) for m in self.config.heartbeats]

    def heartbeat_ping(self, name: str) -> HeartbeatStatus:
        """Record a ping of the monitor ``name`` now; a ping of an expired monitor closes its alert.

        :raises ValidationError: no monitor of that name is configured
            (``[alerts] heartbeats``); nothing is recorded.
        """
        monitor = self._monitor(name)
        marks = self._marks()
        now = self._engine.now()
        for _ in range(_ATTEMPTS):
            text = marks.mark(HEARTBEAT_NAMESPACE, monitor.name)
            state = HeartbeatState.HEALTHY
            if text is not None:
                last, state = decode_mark(monitor.name, text)
                if last > now:  # a replica with a clock ahead pinged: keep the latest
                    break
            if marks.put_mark(
                HEARTBEAT_NAMESPACE, monitor.name, encode_mark(now, state), expected=text
            ):
                break
        else:
            raise StoreError(f"heartbeat {monitor.name!r}: its mark kept changing; ping lost")
        self._evaluate(monitor, now)
        return self.heartbeat(monitor.name)

    def _evaluate(self, monitor: HeartbeatMonitor, at: datetime) -> Outcome | None:
        """Make the monitor's transition due at ``at``; the replica that wins the mark alerts."""
        marks = self._marks()
        for _ in range(_ATTEMPTS):
            text = marks.mark(HEARTBEAT_NAMESPACE, monitor.name)
            if text is None:
                return None  # never pinged: inactive and silent
            last, stored = decode_mark(monitor.name, text)
            wanted = expected_state(monitor, last, at)
            if wanted is stored:
                return None
            after = encode_mark(last, wanted)
            if not marks.put_mark(HEARTBEAT_NAMESPACE, monitor.name, after, expected=text):
                continue  # another replica (or a ping) moved it: decide again
            try:
                return self._one(self._heartbeat_alert(monitor, last, wanted, at), None)
            except IncidentKitError:
                # Put the mark back so the next tick tries again.
                marks.put_mark(HEARTBEAT_NAMESPACE, monitor.name, text, expected=after)
                raise
        raise StoreError(f"heartbeat {monitor.name!r}: its mark kept changing")

    def _heartbeat_alert(
        self, monitor: HeartbeatMonitor, last: datetime, state: HeartbeatState, at: datetime
    ) -> Alert:
        expired = last + monitor.timeout
        firing = state is HeartbeatState.UNHEALTHY
        labels = {"alertname": "HeartbeatExpired", "heartbeat": monitor.name}
        if monitor.service:
            labels["service"] = monitor.service
        details = f"Last heartbeat: {last.astimezone(UTC):%a %b %e %H:%M:%S UTC %Y}"
        annotations = {"details": details}
        if monitor.details:
            annotations["description"] = monitor.details
        return Alert(
            source="heartbeat",
            dedup_key=monitor.dedup_key,
            status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
            summary=expiry_summary(monitor.name),
            severity=monitor.severity,
            labels=labels,
            annotations=annotations,
            starts_at=expired if firing else None,
            ends_at=None if firing else min(last, at),
            delivery_key=f"{monitor.dedup_key}:{last.isoformat()}:{state.value}",
        )

    def check(self, at: datetime | None = None) -> list[Outcome]:
        """Evaluate every heartbeat and release alerts whose silence ended (``tick()`` calls it).

        Safe on any number of replicas at once: each heartbeat transition is
        a compare-and-set of its mark, and the alert it raises goes through
        the dedup path (key ``heartbeat:<name>``).
        """
        at = at if at is not None else self._engine.now()
        outcomes: list[Outcome] = []
        if self.config.heartbeats:
            for monitor in self.config.heartbeats:
                outcome = self._evaluate(monitor, at)
                if outcome is not None:
                    outcomes.append(outcome)
        for held in self._silences.due(at):
            holder = self._store().key_holder(KEY_NAMESPACE, held.alert.dedup_key)
            if holder is not None:  # the sender repeated it after the window: declared already
                self._silences.released(held.alert.dedup_key, holder)
                continue
            outcome = self._one(held.alert, None)
            if outcome.action != "silenced":
                self._silences.released(held.alert.dedup_key, outcome.incident_id)
            outcomes.append(outcome)
        return outcomes

    # --- silences and maintenance windows -----------------------------------

    def silence(
        self,
        name: str,
        *,
        ends_at: datetime,
        starts_at: datetime | None = None,
        services: Sequence[str] = (),
        match: dict[str, str] | None = None,
        reason: str = "",
    ) -> Silence:
        """Silence alerts of ``services`` and/or labels ``match`` until ``ends_at``.

        From ``starts_at`` (default: now).

        Stored for every replica. Alerts it covers are recorded as held
        (:meth:`held`), open no incident and page nobody; still firing when it
        ends, they declare at the next ``tick()``.

        :raises ValidationError: a bad field (named), or the name is taken.
        """
        from incidentkit._time import ensure_aware

        start = (
            ensure_aware(starts_at, "starts_at") if starts_at is not None else self._engine.now()
        )
        made = Silence(
            name=name,
            starts_at=start,
            ends_at=ensure_aware(ends_at, "ends_at"),
            services=check.names(services, "services") if services else (),
            match=dict(match or {}),
            reason=check.text(reason, "reason", max_length=2000, allow_empty=True),
        )
        return self._silences.add(made)

    def end_silence(self, name: str) -> Silence:
        """End the silence ``name`` (made by :meth:`silence`) now."""
        return self._silences.end(check.text(name, "name", max_length=100), self._engine.now())

    def silences(self, at: datetime | None = None) -> list[Silence]:
        """Every silence: the policy's, the API's and the status maintenances in force at ``at``."""
        return self._silences.all(at if at is not None else self._engine.now())

    def held(self) -> list[HeldAlert]:
        """The alerts silences held back (firing, resolved, or released after the window)."""
        return self._silences.held()

    def use_maintenances(self, maintenances: Any) -> None:
        """Also treat the host's maintenances as silences of their components.

        The maintenances stored through ``kit.status.maintenances`` silence
        their components without this. ``maintenances`` is a callable
        returning :class:`~incidentkit.status.maintenance.Maintenance`
        records (read when an alert arrives) or a fixed sequence of them (one
        of them replaces a stored maintenance of the same id); ``None`` stops
        reading the host's.
        """
        if maintenances is None or callable(maintenances):
            self._silences.use_maintenances(maintenances)
        else:
            fixed = tuple(maintenances)
            self._silences.use_maintenances(lambda: fixed)

    # --- user reports and internal discovery -------------------------------

    def report(
        self,
        *,
        reporter: str,
        text: str,
        service: str,
        contact: str = "",
        symptom: str | None = None,
        severity: str | None = None,
        internal: bool = False,
    ) -> Outcome:
        """Record a user's report (or, with ``internal``, an engineer's discovery).

        Reports of the same ``service`` and ``symptom`` (default: the service
        alone) within ``[alerts] reporter_window`` of the first one join one
        incident (the guide's "multiple users reporting issues"); later ones
        open a new incident. The incident's source is ``user_report`` (or
        ``internal``). ``severity`` is a sender severity label mapped by
        ``severity_map`` (default: the policy's default severity).

        :raises ValidationError: a bad field, named; nothing recorded.
        """
        reporter = check.text(reporter, "reporter", max_length=200)
        text = check.text(text, "text", max_length=4000)
        [service] = check.names([service], "service")
        contact = check.text(contact, "contact", max_length=200, allow_empty=True)
        symptom = check.text(symptom or service, "symptom", max_length=100)
        if severity is not None:
            severity = check.text(severity, "severity", max_length=40)
        now = self._engine.now()
        kind = "internal" if internal else "user-report"
        labels = {"alertname": "UserReport", "service": service, "symptom": symptom}
        annotations = {"reporter": reporter, "description": text}
        if contact:
            annotations["contact"] = contact
        alert = Alert(
            source=kind,
            dedup_key=f"{kind}:{secrets.token_hex(8)}",
            status=AlertStatus.FIRING,
            summary=" ".join(text.split())[:200],
            severity=severity,
            labels=labels,
            annotations=annotations,
            starts_at=now,
        )
        return self._one(
            alert,
            None,
            group=f"{kind}:{service}/{symptom}",
            window=self.config.reporter_window,
            source=Source.INTERNAL if internal else Source.USER_REPORT,
            silenceable=False,
        )

    # --- the decisions ------------------------------------------------------

    def _received(self, alert: Alert, group: str | None, **kw: Any) -> AlertReceived:
        return AlertReceived(by=_actor(alert), alert=alert, group_key=group, **kw)

    def _append(
        self, incident_id: str, alert: Alert, group: str | None, action: str, *, late: bool = False
    ) -> Outcome:
        result: dict[str, str] = {"action": action}
        known = self._engine.cache.get(incident_id)
        if (
            known is not None
            and alert.delivery_key is not None
            and alert.delivery_key in alerts_state(known.state).deliveries
        ):
            # A redelivery this kit has seen recorded: a timeline keeps it for good, so
            # the answer needs no append and no load (still authorized as one). A
            # refusal on the cached state goes the full way, which asks again on
            # fresh state before it is final.
            try:
                self._engine.authorize(_actor(alert), "ingest_alert", known.state)
            except IncidentKitError:
                pass
            else:
                return Outcome(alert.dedup_key, "duplicate", incident_id)

        def decide(state: Incident, now: datetime) -> list[Event]:
            current = alerts_state(state)
            if alert.delivery_key is not None and alert.delivery_key in current.deliveries:
                result["action"] = "duplicate"
                return []
            if state.status is Status.CLOSED:
                result["action"] = "duplicate" if late else result["action"]
                if late:
                    return []
                raise _Retry()
            if not late and not state.is_open:
                raise _Retry()  # resolved since the look-up: its keys are released
            events: list[Event] = [self._received(alert, group, late=late)]
            return events + self._after(state, events, now)

        self._engine.run(incident_id, "ingest_alert", _actor(alert), decide)
        return Outcome(alert.dedup_key, result["action"], incident_id)

    def _join(
        self, incident_id: str, alert: Alert, group: str, window: timedelta | None = None
    ) -> Outcome | None:
        """Join the group's incident within its window; else close the group (``None``)."""
        window = window if window is not None else self.config.group_window
        joined: dict[str, bool] = {}

        def decide(state: Incident, now: datetime) -> list[Event]:
            deliveries = alerts_state(state).deliveries
            if alert.delivery_key is not None and alert.delivery_key in deliveries:
                joined["duplicate"] = True
                return []
            end = group_window_end(state, window)
            if end is None or not state.is_open:
                joined["closed"] = True
                return []
            if now >= end:
                joined["closed"] = True
                return [AlertGroupClosed(by=_actor(alert), group_key=group, window_end=end)]
            events: list[Event] = [self._received(alert, group)]
            return events + self._after(state, events, now)

        self._engine.run(incident_id, "ingest_alert", _actor(alert), decide)
        if joined.get("closed"):
            return None
        action = "duplicate" if joined.get("duplicate") else "appended"
        return Outcome(alert.dedup_key, action, incident_id)

    def _after(self, state: Incident, events: Sequence[Event], now: datetime) -> list[Event]:
        """What the kit records after ``events``: flapping, and the all-resolved policy."""
        after = state
        for event in events:
            after = apply(after, RecordedEvent(after.id, after.version + 1, now, event))
        config = self.config
        current = alerts_state(after)
        extra: list[Event] = []
        received = [e for e in events if isinstance(e, AlertReceived)]
        flapping = False
        for event in received:
            entry = current.alerts[event.alert.dedup_key]
            recent = [t for t in entry.changes if now - t <= config.flap_window]
            if entry.flapping:
                flapping = True
            elif len(recent) >= config.flap_transitions:
                extra.append(
                    AlertFlapping(
                        by=_actor(event.alert),
                        dedup_key=entry.dedup_key,
                        transitions=len(recent),
                    )
                )
                flapping = True
        resolving = any(e.alert.status is AlertStatus.RESOLVED for e in received)
        if not resolving or current.firing or not after.is_open:
            return extra
        who = _actor(received[-1].alert)
        text = f"all {len(current.order)} alert(s) resolved"
        if flapping:
            return [*extra, *decide_note(after, text=f"{text} (flapping: left open)", by=who)]
        policy_action = config.on_all_resolved
        if policy_action is OnAllResolved.NOTE:
            return [*extra, *decide_note(after, text=text, by=who)]
        if policy_action is OnAllResolved.RESOLVE:
            try:
                return [
                    *extra,
                    *decide_resolve(
                        after,
                        self._engine.policy,
                        now,
                        by=who,
                        summary=_AUTO_RESOLVED,
                        force=True,
                        reason=f"the sender resolved {text.removeprefix('all ')}",
                    ),
                ]
            except (GuardFailed, InvalidTransition) as err:
                note = f"{text}; not resolved automatically: {err}"
                mitigated: list[Event] = []
                if after.mitigated_at is None:
                    mitigated = list(
                        decide_mark_mitigated(after, by=who, detail=text, action="alerts-resolved")
                    )
                return [*extra, *mitigated, *decide_note(after, text=note[:2000], by=who)]
        if after.mitigated_at is not None:
            return extra
        return [
            *extra,
            *decide_mark_mitigated(after, by=who, detail=text, action="alerts-resolved"),
        ]

    def _history(self, last: str | None, alert: Alert) -> tuple[datetime, ...]:
        """The alert's state changes on its previous incident within the flap window."""
        if last is None:
            return ()
        entry = alerts_state(self._engine.load(last).state).alerts.get(alert.dedup_key)
        if entry is None:
            return ()
        now = self._engine.now()
        return tuple(t for t in entry.changes if now - t <= self.config.flap_window)

    def _declare(
        self,
        alert: Alert,
        group: str | None,
        started_at: datetime | None,
        rule: Any,
        history: tuple[datetime, ...] = (),
        source: Source = Source.ALERT,
    ) -> Outcome:
        engine = self._engine
        policy = engine.policy
        severity, reasons = self._severity(alert, rule)
        title = " ".join((alert.summary or alert.dedup_key).split())[: check.MAX_TITLE_LENGTH]
        services: tuple[str, ...] = ()
        service = alert.labels.get("service")
        if service:
            try:
                services = check.names([service], "services")
            except ValidationError:
                services = ()

        def decide(new_id: str, now: datetime) -> list[Event]:
            detected = alert.starts_at if alert.starts_at and alert.starts_at <= now else now
            start = started_at if started_at is not None else _impact_start(alert, detected)
            if start is not None and start > detected:
                raise ValidationError("started_at", "is after the alert's detection (startsAt)")
            declared = decide_declare(
                policy,
                now,
                incident_id=new_id,
                title=title or alert.dedup_key[: check.MAX_TITLE_LENGTH],
                severity=severity,
                by=_actor(alert),
                source=source,
                started_at=start,
                detected_at=detected,
                services=services,
                description=alert.annotations.get("description", "")[:4000],
                reasons=reasons,
            )
            received = self._received(alert, group, opens_group=group is not None, history=history)
            return [*declared, received]

        state = engine.create_new(
            lambda: f"INC-{engine.now():%Y%m%d}-{secrets.token_hex(3).upper()}",
            _actor(alert),
            decide,
        ).state
        if self._runbooks is not None:
            self._attach_runbooks(state, alert)
        return Outcome(alert.dedup_key, "declared", state.id)

    def _attach_runbooks(self, state: Incident, alert: Alert) -> None:
        if isinstance(self._runbooks, Sized) and not len(self._runbooks):
            return  # no runbook loaded: nothing could match
        try:
            from incidentkit.runbooks import Alert as RunbookAlert

            self._runbooks.attach_strongest(
                state.id,
                RunbookAlert(
                    labels=dict(alert.labels),
                    annotations=dict(alert.annotations),
                    services=state.services,
                    text=alert.summary,
                ),
                by=_actor(alert),
                idempotency_key=f"alert-runbooks:{state.id}",
            )
        except IncidentKitError as error:  # a runbook that cannot attach never loses the alert
            log.warning("%s: matching runbooks not attached: %s", state.id, error)

    def _severity(self, alert: Alert, rule: Any) -> tuple[Severity, tuple[str, ...]]:
        """The rule's severity; else classified signals; else the label map; else the default."""
        policy = self._engine.policy
        if rule is not None and rule.severity is not None:
            return rule.severity, ("alert rule",)
        signals: Signals | None = rule.signals if rule is not None else None
        if signals is None:
            signals = _signals_of(alert)
        if signals is not None:
            result = policy.severity.classify(signals)
            if result.matched:
                return result.severity, tuple(result.reasons)
        mapped = self.config.severity_map.get((alert.severity or "").lower())
        if mapped is not None:
            return mapped, (f"alert severity {alert.severity!r}",)
        return policy.severity.default_severity, ("no alert severity",)


_AUTO_RESOLVED = "all alerts resolved"
_LAST = datetime.max.replace(tzinfo=UTC)


def _actor(alert: Alert) -> str:
    return alert.source[:100] or "alerts"


def _signals_of(alert: Alert) -> Signals | None:
    """``Signals(<metric>=<value>)`` when the alert's metric names a numeric signal."""
    if alert.metric not in _NUMERIC_SIGNALS or alert.value is None:
        return None
    values: dict[str, Any] = {alert.metric: alert.value}
    try:
        return Signals(**values)
    except (TypeError, ValueError):
        return None


_NUMERIC_SIGNALS = ("error_rate", "latency_seconds", "affected_share", "replication_lag_seconds")


def _impact_start(alert: Alert, detected: datetime) -> datetime | None:
    """The alert's start minus its ``duration`` (the rule's "for" clause), when given."""
    if alert.duration is None:
        return None
    try:
        held = parse_duration(alert.duration, "duration")
    except ValidationError:
        return None
    if held <= timedelta(0):
        return None
    try:
        return detected - held
    except OverflowError:
        return None


def _stored_maintenances(engine: Engine) -> list[Any]:
    """The maintenances kept through ``kit.status.maintenances`` (none without components)."""
    if not engine.policy.status.components:
        return []
    from incidentkit.status.stored import stored_maintenances

    return list(stored_maintenances(engine.store))
