"""The alert model: what every adapter turns a sender's payload into.

An :class:`Alert` is one signal from one monitor: its identity (``dedup_key``,
the Alertmanager ``fingerprint`` or the PagerDuty ``dedup_key``), its state
(:class:`AlertStatus`), the sender's labels and annotations, and the times.
A :class:`Payload` is what one delivery carried: its alerts, how many the
sender left out (``truncated``) and which adapter read it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError

__all__ = ["AdapterSpec", "Alert", "AlertStatus", "Payload"]


class AlertStatus(enum.StrEnum):
    """An alert's state as its sender reports it."""

    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None:
        ensure_aware(value, attribute.name)


def _dedup_key(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ValidationError(attribute.name, "must be 1 to 255 characters")


def _text_map(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValidationError(f"{attribute.name}.{key}", "labels map names to text")


@attrs.frozen(kw_only=True)
class Alert:
    """One alert as incidentkit records it (built by an adapter, see :meth:`from_payload`).

    ``dedup_key`` identifies the alert across deliveries (case-sensitive, at
    most 255 characters); ``delivery_key``, when set, identifies one
    notification about it (Alertmanager: fingerprint, ``startsAt`` and status),
    so a redelivered payload is recognised and recorded once; ``None`` (a
    PagerDuty event) makes every delivery a new trigger entry. ``ends_at`` is
    ``None`` while firing (Alertmanager's Go zero time). ``raw`` is the
    sender's JSON for this alert, kept verbatim.

    .. versionadded:: 0.3
    """

    source: str
    dedup_key: str = attrs.field(validator=_dedup_key)
    status: AlertStatus = attrs.field(converter=AlertStatus)
    summary: str = ""
    severity: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict, validator=_text_map)
    annotations: Mapping[str, str] = attrs.field(factory=dict, validator=_text_map)
    starts_at: datetime | None = attrs.field(default=None, validator=_aware)
    ends_at: datetime | None = attrs.field(default=None, validator=_aware)
    fingerprint: str | None = None
    generator_url: str | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    duration: str | None = None
    delivery_key: str | None = None
    raw: str = ""

    @classmethod
    def from_payload(
        cls, payload: object, format: str | None = None, *, now: datetime | None = None
    ) -> Payload:
        """Parse a sender's payload with the built-in adapters (see :func:`parse`)."""
        from incidentkit.intake.adapters import parse

        return parse(payload, format, now=now)


@attrs.frozen
class Payload:
    """What one delivery carried: ``alerts`` (in the sender's order) and ``truncated``.

    ``truncated`` counts the alerts the sender left out (Alertmanager's
    ``truncatedAlerts``): alerts missing from the payload are never taken as
    resolved. ``format`` names the adapter that read it; ``group_key`` is the
    sender's own group identity when it has one (Alertmanager ``groupKey``).
    """

    format: str
    alerts: tuple[Alert, ...]
    truncated: int = 0
    group_key: str | None = None


@attrs.frozen
class AdapterSpec:
    """An alert adapter a plugin registers (hook ``incidentkit_alert_adapters``).

    ``parse(payload, now)`` turns the decoded JSON into a :class:`Payload` or
    raises :class:`~incidentkit.errors.PayloadInvalid` listing every problem
    by key path; ``detect(payload)`` says whether the payload looks like this
    sender's (auto-detection tries adapters in registration order); ``now``
    is the instant to use for a missing timestamp.
    """

    name: str
    parse: Callable[[Any, datetime], Payload]
    detect: Callable[[Any], bool]
    description: str = ""
