"""The ``[alerts]`` table of a policy file: which alerts declare, at what severity, and grouping.

.. code-block:: toml

    [alerts]
    group_by = "{alertname}/{service}"   # a key template over labels ("": no grouping)
    group_window = "5m"                  # a timedelta: "5m", "PT5M" or 300 (seconds)
    on_all_resolved = "mitigate"         # or "resolve" or "note"
    flap_transitions = 4                 # this many state changes of one alert ...
    flap_window = "30m"                  # ... within this window is flapping
    reporter_window = "15m"              # user reports of one service within it group

    [alerts.severity_map]                # the sender's severity label -> incidentkit severity
    critical = "SEV1"
    error = "SEV2"
    warning = "SEV3"
    info = "SEV4"

    [[alerts.rules]]                     # the first matching rule decides
    match = { team = "batch" }           # label = value (all must hold)
    action = "attach"                    # "declare", "attach" (joins only) or "ignore"

    [[alerts.rules]]
    match = { alertname = "ErrorRateHigh" }
    action = "declare"
    signals = { error_rate = 0.15 }      # classified by [severity] rules, reasons recorded

    [[alerts.heartbeats]]                # a job that must ping at least this often
    name = "nightly-backup"
    timeout = "25h"                      # 5 min to 9000 h, whole minutes
    service = "backup"                   # the service label of its expiry alert
    severity = "error"                   # the sender severity label (severity_map)

    [[alerts.silences]]                  # a maintenance window or silence
    name = "db-upgrade"
    starts_at = 2024-11-21T02:00:00Z
    ends_at = 2024-11-21T04:00:00Z
    services = ["db"]                    # the alert's service label is one of these ...
    match = { env = "prod" }             # ... and has these labels (at least one of the two)
    reason = "PostgreSQL 16 upgrade"

An alert no rule matches is declared (``default_action``). Its severity is,
in order: the rule's ``severity``; else the classification of the rule's
``signals`` or of the alert's own ``metric``/``value`` when the metric names a
:class:`~incidentkit.severity.Signals` field and a severity rule matches; else
``severity_map`` of the sender's severity label; else the policy's
``default_severity``.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from incidentkit.errors import ValidationError
from incidentkit.severity import Severity, Signals

__all__ = [
    "HEARTBEAT_MAX",
    "HEARTBEAT_MIN",
    "AlertAction",
    "AlertRule",
    "AlertsConfig",
    "HeartbeatMonitor",
    "OnAllResolved",
    "Silence",
    "render_group_key",
]


class AlertAction(enum.StrEnum):
    """What an alert matching a rule does."""

    DECLARE = "declare"
    ATTACH = "attach"
    IGNORE = "ignore"


class OnAllResolved(enum.StrEnum):
    """What happens to an incident when the last of its alerts resolves."""

    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    NOTE = "note"


def _labels(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise ValidationError(f"{attribute.name}.{key}", "must map a label name to text")


@attrs.frozen
class AlertRule:
    """One auto-declaration rule: alerts whose labels all ``match`` take ``action``."""

    match: Mapping[str, str] = attrs.field(factory=dict, validator=_labels)
    action: AlertAction = AlertAction.DECLARE
    severity: Severity | None = None
    signals: Signals | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every ``match`` label has that value in ``labels``."""
        return all(labels.get(k) == v for k, v in self.match.items())


def _template(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        for _, name, spec, conv in string.Formatter().parse(value):
            if name is not None and (not name or spec or conv):
                raise ValueError(f"bad field {{{name}}}")
    except ValueError as err:
        raise ValidationError(
            attribute.name, f"not a key template of {{label}} names: {err}"
        ) from None


def _positive(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError(attribute.name, f"must be a positive duration, got {value!r}")


def _at_least_two(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValidationError(attribute.name, f"must be a whole number >= 2, got {value!r}")


def _severity_map(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, Any]) -> None:
    for key, item in value.items():
        if not isinstance(item, Severity):
            raise ValidationError(f"{attribute.name}.{key}", f"not a severity: {item!r}")


HEARTBEAT_MIN = timedelta(minutes=5)
"""The shortest heartbeat timeout (GoAlert's bound)."""

HEARTBEAT_MAX = timedelta(hours=9000)
"""The longest heartbeat timeout (GoAlert's bound)."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValidationError(
            attribute.name,
            f"expected 1 to 100 of [A-Za-z0-9_.-] (first alphanumeric), got {value!r}",
        )


def _timeout(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not isinstance(value, timedelta) or not HEARTBEAT_MIN <= value <= HEARTBEAT_MAX:
        raise ValidationError(
            attribute.name, f"must be from 5 minutes to 9000 hours, got {value!r}"
        )
    if value % timedelta(minutes=1):
        raise ValidationError(attribute.name, f"must be whole minutes, got {value!r}")


@attrs.frozen
class HeartbeatMonitor:
    """A job that must ping within ``timeout`` (``kit.alerts.heartbeat_ping(name)``).

    GoAlert's semantics: a monitor never pinged is ``inactive`` and silent; it
    expires when ``now >= last ping + timeout`` (GoAlert's ``>=``, so at
    exactly the timeout it is expired); each expiry raises one alert, dedup
    key ``heartbeat:<name>``, summary ``Heartbeat monitor '<name>' expired.``,
    which the next ping closes. ``service`` becomes the alert's ``service``
    label; ``severity`` its sender severity label (mapped by ``severity_map``).
    """

    name: str = attrs.field(validator=_name)
    timeout: timedelta = attrs.field(validator=_timeout)
    service: str | None = None
    severity: str = "critical"
    details: str = ""

    @property
    def dedup_key(self) -> str:
        """The expiry alert's dedup key, ``heartbeat:<name>``."""
        return f"heartbeat:{self.name}"


def _aware(_: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(attribute.name, f"must be a time with a UTC offset, got {value!r}")


@attrs.frozen
class Silence:
    """A maintenance window or silence: alerts it covers in ``[starts_at, ends_at)`` page nobody.

    An alert is covered when its ``service`` label is one of ``services``
    (when given) and it has every label of ``match`` (when given); a silence
    names at least one of them. The window is half-open: ``starts_at`` is in,
    ``ends_at`` is out.
    """

    name: str = attrs.field(validator=_name)
    starts_at: datetime = attrs.field(validator=_aware)
    ends_at: datetime = attrs.field(validator=_aware)
    services: tuple[str, ...] = ()
    match: Mapping[str, str] = attrs.field(factory=dict, validator=_labels)
    reason: str = ""

    def __attrs_post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise ValidationError("ends_at", "must be after starts_at")
        if not self.services and not self.match:
            raise ValidationError("services", "a silence names services or labels to match")
        for index, service in enumerate(self.services):
            if not isinstance(service, str) or not service:
                raise ValidationError(f"services[{index}]", f"not a service name: {service!r}")

    def covers(self, labels: Mapping[str, str], at: datetime) -> bool:
        """Whether an alert with ``labels`` arriving ``at`` is silenced by this window."""
        if not self.starts_at <= at < self.ends_at:
            return False
        if self.services and labels.get("service") not in self.services:
            return False
        return all(labels.get(k) == v for k, v in self.match.items())


def _unique(_: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(value):
        if item.name in seen:
            raise ValidationError(f"{attribute.name}[{index}].name", f"{item.name!r} is repeated")
        seen.add(item.name)


DEFAULT_SEVERITY_MAP: Mapping[str, Severity] = {
    "critical": Severity.SEV1,
    "error": Severity.SEV2,
    "warning": Severity.SEV3,
    "info": Severity.SEV4,
}


@attrs.frozen
class AlertsConfig:
    """How alerts become incidents (policy table ``[alerts]``, see the module docstring).

    ``group_window`` is a :class:`~datetime.timedelta` (never a bare number
    of unknown unit): an alert with the same grouping key joins the group's
    incident while it is open and within the window from the group's first
    alert; later, it opens a new incident.
    """

    group_by: str = attrs.field(default="{alertname}", validator=_template)
    group_window: timedelta = attrs.field(default=timedelta(minutes=5), validator=_positive)
    on_all_resolved: OnAllResolved = OnAllResolved.MITIGATE
    flap_transitions: int = attrs.field(default=4, validator=_at_least_two)
    flap_window: timedelta = attrs.field(default=timedelta(minutes=30), validator=_positive)
    reporter_window: timedelta = attrs.field(default=timedelta(minutes=15), validator=_positive)
    default_action: AlertAction = AlertAction.DECLARE
    severity_map: Mapping[str, Severity] = attrs.field(
        factory=lambda: dict(DEFAULT_SEVERITY_MAP), validator=_severity_map
    )
    rules: tuple[AlertRule, ...] = ()
    heartbeats: tuple[HeartbeatMonitor, ...] = attrs.field(default=(), validator=_unique)
    silences: tuple[Silence, ...] = attrs.field(default=(), validator=_unique)

    def heartbeat(self, name: str) -> HeartbeatMonitor | None:
        """The heartbeat monitor called ``name``, or ``None``."""
        return next((m for m in self.heartbeats if m.name == name), None)

    def rule_for(self, labels: Mapping[str, str]) -> AlertRule | None:
        """The first rule that matches ``labels`` (``None``: the default action applies)."""
        return next((rule for rule in self.rules if rule.matches(labels)), None)


def render_group_key(template: str, labels: Mapping[str, str]) -> str | None:
    """The grouping key of ``labels`` under ``template``; ``None`` when a label is missing.

    >>> render_group_key("{alertname}/{service}", {"alertname": "Errors", "service": "api"})
    'Errors/api'
    >>> render_group_key("{alertname}/{service}", {"alertname": "Errors"}) is None
    True
    """
    if not template:
        return None
    parts: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            if name not in labels:
                return None
            parts.append(labels[name])
    return "".join(parts)
