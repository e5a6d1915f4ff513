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

An alert no rule matches is declared (``default_action``). Its severity is,
in order: the rule's ``severity``; else the classification of the rule's
``signals`` or of the alert's own ``metric``/``value`` when the metric names a
:class:`~incidentkit.severity.Signals` field and a severity rule matches; else
``severity_map`` of the sender's severity label; else the policy's
``default_severity``.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from incidentkit.errors import ValidationError
from incidentkit.severity import Severity, Signals

__all__ = ["AlertAction", "AlertRule", "AlertsConfig", "OnAllResolved", "render_group_key"]


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
