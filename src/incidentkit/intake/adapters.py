"""The built-in alert adapters: Alertmanager v4, Grafana, PagerDuty Events v2, generic JSON.

Each adapter reads decoded JSON (or the raw bytes/text of a request body)
and returns a :class:`~incidentkit.intake.model.Payload`, or raises
:class:`~incidentkit.errors.PayloadInvalid` listing *every* problem by key
path, so a host answers 400 with all of them at once. Nothing else escapes:
a payload that is not JSON, too deep, or of the wrong shape is a
``PayloadInvalid`` too.

The shapes follow the senders' own code and documentation (see
``research/wave2-specs.md`` §1.1–1.3): Alertmanager's ``version`` must be
``"4"`` (else :class:`~incidentkit.errors.UnsupportedPayload`), its zero
``endsAt`` means "no end"; PagerDuty's ``dedup_key`` is at most 255
characters, required for ``acknowledge`` and ``resolve``, and generated for a
``trigger`` without one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from dateutil.parser import isoparse

from incidentkit._time import EARLIEST, LATEST
from incidentkit._validate import MAX_NESTING, nesting_too_deep, shown
from incidentkit.errors import PayloadInvalid, UnsupportedPayload
from incidentkit.intake.model import AdapterSpec, Alert, AlertStatus, Payload

__all__ = [
    "ALERTMANAGER",
    "BUILTIN_ADAPTERS",
    "GENERIC",
    "GRAFANA",
    "MAX_PAYLOAD_BYTES",
    "PAGERDUTY",
    "decode",
    "detect",
    "parse",
    "parse_alertmanager",
    "parse_generic",
    "parse_grafana",
    "parse_pagerduty",
]

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""The largest request body :func:`decode` reads (4 MiB)."""

MAX_ALERTS = 1000
"""The most alerts one payload may carry."""

_MAX_TEXT = 64 * 1024
_PD_SEVERITIES = ("critical", "error", "warning", "info")
_PD_ACTIONS = ("trigger", "acknowledge", "resolve")
_GO_ZERO = "0001-01-01T00:00:00Z"
_FRACTION = re.compile(r"(\.\d{6})\d+")
_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
"""The common form senders write, which ``datetime.fromisoformat`` reads as ``isoparse`` does
(checked against it; an offset's minutes must be below 60, which ``fromisoformat`` allows)."""


class _Problems:
    """Collects ``(path, reason)`` pairs; :meth:`raise_if_any` raises them together."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append((path, reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise PayloadInvalid(self.source, self.items)

    # typed readers: each returns the value or None after recording a problem

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        limit: int = _MAX_TEXT,
    ) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(f"{path}.{key}", "required")
            return None
        if not isinstance(value, str):
            self.add(f"{path}.{key}", f"expected a string, got {_kind(value)}")
            return None
        if len(value) > limit:
            self.add(f"{path}.{key}", f"longer than {limit} characters")
            return None
        if "\0" in value or not _encodable(value):
            self.add(f"{path}.{key}", "not valid text (NUL or unpaired surrogate)")
            return None
        return value

    def text_map(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(f"{path}.{key}", f"expected an object of strings, got {_kind(value)}")
            return {}
        clean: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(item, str) or len(item) > _MAX_TEXT or not _encodable(item):
                self.add(f"{path}.{key}.{name}", f"expected a string, got {_kind(item)}")
            elif not _encodable(str(name)) or "\0" in item:
                self.add(f"{path}.{key}.{name}", "not valid text")
            else:
                clean[str(name)] = item
        return clean

    def time(
        self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> datetime | None:
        text = self.text(data, key, path, required=required, limit=64)
        if text is None:
            return None
        return self.time_text(text, f"{path}.{key}")

    def time_text(self, text: str, path: str) -> datetime | None:
        parsed = _rfc3339(text)
        if parsed is None:
            try:
                parsed = isoparse(_FRACTION.sub(r"\1", text))
            except (ValueError, OverflowError):
                self.add(path, f"not an RFC 3339 date-time: {shown(text, 40)}")
                return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.add(path, "has no time zone offset")
            return None
        try:
            utc = parsed.astimezone(EARLIEST.tzinfo)
        except (OverflowError, ValueError):
            utc = None
        if utc is None or not EARLIEST <= utc < LATEST:
            self.add(path, f"out of range: {shown(text, 40)}")
            return None
        return utc


def _rfc3339(text: str) -> datetime | None:
    """``text`` in the common RFC 3339 form, read by the C parser (``None``: not that form).

    Anything else (or what the C parser refuses, say 24:00) goes to ``isoparse``
    as before, so the accepted texts and their values are unchanged.
    """
    if _RFC3339.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _number(value: object) -> float | None:
    """A finite number from a number or numeric text; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            return None
        if value.strip().endswith("%"):
            number /= 100
    else:
        return None
    return number if math.isfinite(number) else None


def decode(body: object, source: str = "payload") -> Any:
    """Decoded JSON from a request body (bytes or text), or the value itself when decoded.

    :raises PayloadInvalid: not UTF-8, not JSON, larger than
        :data:`MAX_PAYLOAD_BYTES` or nested too deep.
    """
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise PayloadInvalid(source, [("$", f"larger than {MAX_PAYLOAD_BYTES} bytes")])
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise PayloadInvalid(source, [("$", f"not UTF-8: {err.reason}")]) from None
    if isinstance(body, str):
        if len(body) > MAX_PAYLOAD_BYTES:
            raise PayloadInvalid(source, [("$", f"larger than {MAX_PAYLOAD_BYTES} characters")])
        text = body
        try:
            body = json.loads(text)
        except RecursionError:
            raise PayloadInvalid(source, [("$", "nested too deep")]) from None
        except ValueError as err:
            raise PayloadInvalid(source, [("$", f"not JSON: {err}")]) from None
        if text.count("{") + text.count("[") <= MAX_NESTING:
            # Each level of nesting opens a bracket: with no more brackets than
            # levels allowed (those in strings count too), none is too deep.
            return body
    deep = nesting_too_deep(body)
    if deep is not None:
        raise PayloadInvalid(source, [(deep, "nested too deep")])
    return body


def _object(data: object, source: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PayloadInvalid(source, [("$", f"expected a JSON object, got {_kind(data)}")])
    return data


def _measure(alert_labels: Mapping[str, str], annotations: Mapping[str, str]) -> dict[str, Any]:
    """The guide's metric / value / threshold / duration, from annotations then labels."""
    found: dict[str, Any] = {}
    for key in ("metric", "duration"):
        value = annotations.get(key, alert_labels.get(key))
        found[key] = value
    for key in ("value", "threshold"):
        found[key] = _number(annotations.get(key, alert_labels.get(key)))
    return found


# --- Alertmanager and Grafana ---------------------------------------------------


def _envelope_alerts(
    data: Mapping[str, Any], problems: _Problems, now: datetime, *, grafana: bool
) -> tuple[list[Alert], int]:
    status = data.get("status")
    if status not in ("firing", "resolved"):
        problems.add("$.status", f"must be 'firing' or 'resolved', got {shown(status, 40)}")
    truncated = data.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        problems.add("$.truncatedAlerts", f"expected a whole number >= 0, got {_kind(truncated)}")
        truncated = 0
    problems.text(data, "groupKey", "$")
    common_annotations = problems.text_map(data, "commonAnnotations", "$")
    problems.text_map(data, "commonLabels", "$")
    problems.text_map(data, "groupLabels", "$")
    items = data.get("alerts")
    if not isinstance(items, list):
        problems.add("$.alerts", f"expected an array, got {_kind(items)}")
        return [], truncated
    if len(items) > MAX_ALERTS:
        problems.add("$.alerts", f"more than {MAX_ALERTS} alerts")
        return [], truncated
    source = "grafana" if grafana else "alertmanager"
    alerts: list[Alert] = []
    for index, item in enumerate(items):
        path = f"$.alerts[{index}]"
        if not isinstance(item, Mapping):
            problems.add(path, f"expected an object, got {_kind(item)}")
            continue
        before = len(problems.items)
        state = item.get("status")
        if state not in ("firing", "resolved"):
            problems.add(
                f"{path}.status", f"must be 'firing' or 'resolved', got {shown(state, 40)}"
            )
        if item.get("labels") is None:
            problems.add(f"{path}.labels", "required")
        labels = problems.text_map(item, "labels", path)
        annotations = problems.text_map(item, "annotations", path)
        starts_text = problems.text(item, "startsAt", path, required=True, limit=64)
        starts = (
            None if starts_text is None else problems.time_text(starts_text, f"{path}.startsAt")
        )
        ends_text = problems.text(item, "endsAt", path, limit=64)
        ends = None
        if ends_text is not None and not ends_text.startswith("0001-01-01"):
            ends = problems.time_text(ends_text, f"{path}.endsAt")
        generator = problems.text(item, "generatorURL", path, limit=8192)
        fingerprint = problems.text(item, "fingerprint", path, limit=255)
        value = None
        if grafana:
            for key in ("silenceURL", "dashboardURL", "panelURL", "valueString"):
                problems.text(item, key, path, limit=8192)
            values = item.get("values")
            if values is not None and not isinstance(values, Mapping):
                problems.add(f"{path}.values", f"expected an object, got {_kind(values)}")
            elif isinstance(values, Mapping):
                numbers = [_number(v) for v in values.values()]
                value = next((n for n in numbers if n is not None), None)
        if len(problems.items) > before:
            continue
        if fingerprint is None or not fingerprint:
            fingerprint = hashlib.sha256(_canonical(labels).encode()).hexdigest()[:16]
        measure = _measure(labels, annotations)
        if value is not None and measure["value"] is None:
            measure["value"] = value
        summary = (
            annotations.get("summary")
            or common_annotations.get("summary")
            or annotations.get("description")
            or labels.get("alertname")
            or fingerprint
        )
        alerts.append(
            Alert(
                source=source,
                dedup_key=fingerprint,
                status=AlertStatus(str(state)),
                summary=summary,
                severity=labels.get("severity"),
                labels=labels,
                annotations=annotations,
                starts_at=starts,
                ends_at=ends,
                fingerprint=fingerprint,
                generator_url=generator,
                metric=measure["metric"],
                value=measure["value"],
                threshold=measure["threshold"],
                duration=measure["duration"],
                delivery_key=f"{fingerprint}:{starts.isoformat() if starts else ''}:{state}",
                raw=_canonical(item),
            )
        )
    return alerts, truncated


def parse_alertmanager(data: object, now: datetime) -> Payload:
    """An Alertmanager webhook payload (``version`` ``"4"``) as a :class:`Payload`.

    :raises UnsupportedPayload: ``version`` is not ``"4"``.
    :raises PayloadInvalid: every other problem, by key path.
    """
    body = _object(data, "alertmanager")
    version = body.get("version")
    if version != "4":
        raise UnsupportedPayload(
            "alertmanager",
            [("$.version", f"Alertmanager webhook version '4' expected, got {shown(version, 20)}")],
        )
    problems = _Problems("alertmanager")
    alerts, truncated = _envelope_alerts(body, problems, now, grafana=False)
    problems.raise_if_any()
    group = body.get("groupKey")
    return Payload(
        "alertmanager", tuple(alerts), truncated, group if isinstance(group, str) else None
    )


def parse_grafana(data: object, now: datetime) -> Payload:
    """A Grafana-managed alerting webhook payload as a :class:`Payload`.

    :raises PayloadInvalid: every problem, by key path.
    """
    body = _object(data, "grafana")
    problems = _Problems("grafana")
    org = body.get("orgId")
    if org is not None and (isinstance(org, bool) or not isinstance(org, int)):
        problems.add("$.orgId", f"expected a whole number, got {_kind(org)}")
    for key in ("title", "state", "message", "receiver", "externalURL"):
        problems.text(body, key, "$")
    alerts, truncated = _envelope_alerts(body, problems, now, grafana=True)
    problems.raise_if_any()
    group = body.get("groupKey")
    return Payload("grafana", tuple(alerts), truncated, group if isinstance(group, str) else None)


# --- PagerDuty Events v2 -----------------------------------------------------------


def parse_pagerduty(data: object, now: datetime) -> Payload:
    """A PagerDuty Events API v2 event as a :class:`Payload` of one alert.

    ``trigger`` → firing, ``acknowledge`` → acknowledged, ``resolve`` →
    resolved. A trigger without ``dedup_key`` gets a generated one (returned
    in the response).

    :raises PayloadInvalid: every problem, by key path (the Events API's 400).
    """
    body = _object(data, "pagerduty")
    problems = _Problems("pagerduty")
    problems.text(body, "routing_key", "$", required=True, limit=255)
    action = body.get("event_action")
    if action not in _PD_ACTIONS:
        problems.add(
            "$.event_action", f"must be one of {', '.join(_PD_ACTIONS)}, got {shown(action, 40)}"
        )
    key = body.get("dedup_key")
    if key is not None and not isinstance(key, str):
        problems.add("$.dedup_key", f"expected a string, got {_kind(key)}")
        key = None
    elif isinstance(key, str) and len(key) > 255:
        problems.add("$.dedup_key", "longer than 255 characters")
        key = None
    elif isinstance(key, str) and (not _encodable(key) or "\0" in key):
        problems.add("$.dedup_key", "not valid text")
        key = None
    if (
        action in ("acknowledge", "resolve")
        and not key
        and "$.dedup_key" not in dict(problems.items)
    ):
        problems.add("$.dedup_key", f"required for {action}")
    problems.text(body, "client", "$", limit=1024)
    problems.text(body, "client_url", "$", limit=8192)
    for name, required in (("links", "href"), ("images", "src")):
        entries = body.get(name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.add(f"$.{name}", f"expected an array, got {_kind(entries)}")
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                problems.add(f"$.{name}[{index}]", f"expected an object, got {_kind(entry)}")
            else:
                problems.text(entry, required, f"$.{name}[{index}]", required=True, limit=8192)
    inner = body.get("payload")
    summary = source = severity = None
    when: datetime | None = None
    details: Mapping[str, Any] = {}
    labels: dict[str, str] = {}
    if action == "trigger" or inner is not None:
        if not isinstance(inner, Mapping):
            problems.add("$.payload", f"required object for trigger, got {_kind(inner)}")
        else:
            summary = problems.text(inner, "summary", "$.payload", required=True, limit=1024)
            source = problems.text(inner, "source", "$.payload", required=True, limit=1024)
            severity = inner.get("severity")
            if severity is None:
                problems.add("$.payload.severity", "required")
            elif severity not in _PD_SEVERITIES:
                problems.add(
                    "$.payload.severity",
                    f"must be one of {', '.join(_PD_SEVERITIES)}, got {shown(severity, 40)}",
                )
            when = problems.time(inner, "timestamp", "$.payload")
            for name in ("component", "group", "class"):
                text = problems.text(inner, name, "$.payload", limit=1024)
                if text is not None:
                    labels[name] = text
            custom = inner.get("custom_details")
            if custom is not None and not isinstance(custom, Mapping):
                problems.add("$.payload.custom_details", f"expected an object, got {_kind(custom)}")
            elif isinstance(custom, Mapping):
                details = custom
    problems.raise_if_any()
    if source is not None:
        labels["source"] = source
    annotations = {k: v for k, v in details.items() if isinstance(v, str)}
    metric = details.get("metric")
    duration = details.get("duration")
    status = {
        "trigger": AlertStatus.FIRING,
        "acknowledge": AlertStatus.ACKNOWLEDGED,
        "resolve": AlertStatus.RESOLVED,
    }[str(action)]
    alert = Alert(
        source="pagerduty",
        dedup_key=key or secrets.token_hex(16),
        status=status,
        summary=summary or "",
        severity=str(severity) if severity is not None else None,
        labels=labels,
        annotations=annotations,
        starts_at=(when or now) if status is AlertStatus.FIRING else when,
        metric=metric if isinstance(metric, str) else None,
        value=_number(details.get("value")),
        threshold=_number(details.get("threshold")),
        duration=duration if isinstance(duration, str) else None,
        delivery_key=None,
        raw=_canonical(body),
    )
    return Payload("pagerduty", (alert,))


# --- generic JSON ------------------------------------------------------------------------


def parse_generic(data: object, now: datetime) -> Payload:
    """Any other sender: one alert object, or ``{"alerts": [...]}`` of them.

    An alert object has ``key`` (the dedup key; required), ``status``
    (``firing`` or ``resolved``; default firing), ``summary``, ``severity``,
    ``labels``, ``annotations``, ``starts_at``/``ends_at`` (RFC 3339),
    ``source``, ``metric``, ``value``, ``threshold`` and ``duration``.

    :raises PayloadInvalid: every problem, by key path.
    """
    body = _object(data, "generic")
    problems = _Problems("generic")
    if "alerts" in body:
        items = body.get("alerts")
        if not isinstance(items, list):
            raise PayloadInvalid(
                "generic", [("$.alerts", f"expected an array, got {_kind(items)}")]
            )
        if len(items) > MAX_ALERTS:
            raise PayloadInvalid("generic", [("$.alerts", f"more than {MAX_ALERTS} alerts")])
        entries: Iterable[tuple[str, object]] = (
            (f"$.alerts[{i}]", item) for i, item in enumerate(items)
        )
    else:
        entries = [("$", body)]
    alerts: list[Alert] = []
    for path, item in entries:
        if not isinstance(item, Mapping):
            problems.add(path, f"expected an object, got {_kind(item)}")
            continue
        before = len(problems.items)
        key = problems.text(item, "key", path, required=True, limit=255)
        if key == "":
            problems.add(f"{path}.key", "must not be empty")
        state = item.get("status", "firing")
        if state not in ("firing", "resolved"):
            problems.add(
                f"{path}.status", f"must be 'firing' or 'resolved', got {shown(state, 40)}"
            )
        summary = problems.text(item, "summary", path, limit=1024)
        severity = problems.text(item, "severity", path, limit=64)
        origin = problems.text(item, "source", path, limit=255)
        labels = problems.text_map(item, "labels", path)
        annotations = problems.text_map(item, "annotations", path)
        starts = problems.time(item, "starts_at", path)
        ends = problems.time(item, "ends_at", path)
        metric = problems.text(item, "metric", path, limit=255)
        duration = problems.text(item, "duration", path, limit=64)
        numbers: dict[str, float | None] = {}
        for name in ("value", "threshold"):
            raw = item.get(name)
            numbers[name] = _number(raw)
            if raw is not None and numbers[name] is None:
                problems.add(f"{path}.{name}", f"expected a finite number, got {_kind(raw)}")
        if len(problems.items) > before or not key:
            continue
        status = AlertStatus(str(state))
        alerts.append(
            Alert(
                source=origin or "generic",
                dedup_key=key,
                status=status,
                summary=summary or labels.get("alertname") or key,
                severity=severity or labels.get("severity"),
                labels=labels,
                annotations=annotations,
                starts_at=starts or (now if status is AlertStatus.FIRING else None),
                ends_at=ends,
                metric=metric,
                value=numbers["value"],
                threshold=numbers["threshold"],
                duration=duration,
                delivery_key=(
                    f"{key}:{starts.isoformat()}:{state}" if starts is not None else None
                ),
                raw=_canonical(item),
            )
        )
    problems.raise_if_any()
    return Payload("generic", tuple(alerts))


# --- registry and detection --------------------------------------------------------


def _is_alertmanager(data: Any) -> bool:
    return isinstance(data, Mapping) and "version" in data and "orgId" not in data


def _is_grafana(data: Any) -> bool:
    if not isinstance(data, Mapping) or "alerts" not in data:
        return False
    if "orgId" in data:
        return True
    items = data.get("alerts")
    return isinstance(items, list) and any(
        isinstance(a, Mapping) and ("silenceURL" in a or "dashboardURL" in a or "values" in a)
        for a in items
    )


def _is_pagerduty(data: Any) -> bool:
    return isinstance(data, Mapping) and "event_action" in data


def _always(data: Any) -> bool:
    return True


ALERTMANAGER = AdapterSpec(
    "alertmanager", parse_alertmanager, _is_alertmanager, "Prometheus Alertmanager webhook v4"
)
GRAFANA = AdapterSpec("grafana", parse_grafana, _is_grafana, "Grafana-managed alerting webhook")
PAGERDUTY = AdapterSpec("pagerduty", parse_pagerduty, _is_pagerduty, "PagerDuty Events API v2")
GENERIC = AdapterSpec("generic", parse_generic, _always, "incidentkit's generic alert JSON")

BUILTIN_ADAPTERS: tuple[AdapterSpec, ...] = (GRAFANA, PAGERDUTY, ALERTMANAGER, GENERIC)
"""The built-in adapters in detection order (Grafana before Alertmanager: same envelope)."""


def detect(data: Any, adapters: Iterable[AdapterSpec] = BUILTIN_ADAPTERS) -> AdapterSpec:
    """The first adapter whose ``detect`` accepts ``data`` (the generic one takes anything)."""
    chosen = list(adapters)
    for adapter in chosen:
        if adapter.detect(data):
            return adapter
    raise UnsupportedPayload("payload", [("$", "no adapter recognises this payload")])


def parse(
    payload: object,
    format: str | None = None,
    *,
    now: datetime | None = None,
    adapters: Iterable[AdapterSpec] = BUILTIN_ADAPTERS,
) -> Payload:
    """Decode and parse ``payload`` with the adapter named ``format`` (``None``: detect).

    :raises UnsupportedPayload: ``format`` names no adapter, or none recognises it.
    :raises PayloadInvalid: the adapter refused it, listing every problem.
    """
    return parse_with_adapter(payload, format, now=now, adapters=adapters)[1]


def parse_with_adapter(
    payload: object,
    format: str | None = None,
    *,
    now: datetime | None = None,
    adapters: Iterable[AdapterSpec] = BUILTIN_ADAPTERS,
) -> tuple[AdapterSpec, Payload]:
    """:func:`parse`, and the adapter that read the payload."""
    from incidentkit._time import utc_now

    chosen = list(adapters)
    when = now if now is not None else utc_now()
    data = decode(payload)
    if format is None:
        adapter = detect(data, chosen)
    else:
        named = {a.name: a for a in chosen}
        if format not in named:
            raise UnsupportedPayload(
                "payload",
                [("format", f"no adapter named {shown(format, 40)} (known: {', '.join(named)})")],
            )
        adapter = named[format]
    run: Callable[[Any, datetime], Payload] = adapter.parse
    return adapter, run(data, when)


def repeatable(adapter: AdapterSpec, parsed: Payload, now: datetime) -> bool:
    """Whether reading the same body again gives an equal payload, at any time.

    Only a built-in adapter's reading is known to: none of its alerts may
    have taken its start from ``now`` (a firing alert without one), and no
    PagerDuty trigger may have had its dedup key generated (a random one
    each time, so each such trigger is a new alert).
    """
    if not any(adapter is builtin for builtin in BUILTIN_ADAPTERS):
        return False
    for alert in parsed.alerts:
        if alert.starts_at is not None and alert.starts_at == now:
            return False  # perhaps the arrival time (a start equal to it by chance is re-read)
    if adapter is PAGERDUTY:
        return all(json.loads(alert.raw).get("dedup_key") for alert in parsed.alerts)
    return True
