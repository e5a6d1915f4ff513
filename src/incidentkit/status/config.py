"""The ``[status]`` table of a policy file: pages, components, audiences, templates, uptime, SLAs.

.. code-block:: toml

    [status]
    audiences = ["public", "internal", "customers", "support", "executives"]
    cadence_audiences = ["public"]       # updates that satisfy the update cadence
    contact = "support@example.com"

    [[status.pages]]
    id = "main"
    name = "Example status"
    zone = "America/Los_Angeles"
    audience = "public"                  # the updates this page shows

    [[status.groups]]
    id = "core"
    name = "Core"

    [[status.components]]
    id = "login"
    name = "Login"
    group = "core"
    start_date = "2024-01-01T00:00:00Z"

    [status.labels]
    partially_degraded = "Some services are slow"

    [status.uptime]
    weights = { major_outage = 1.0, partial_outage = 0.3, degraded_performance = 0.0 }
    maintenance = "excluded"             # or "up"
    zone = "America/New_York"            # day bars and calendar months

    [[status.sla]]
    component = "login"                  # or group = "core"; neither: every component
    target = 99.95                       # percent per period
    period = "month"

Every reference (a component's group and page, a page's audience, an SLA's
component) is checked when the policy loads, and refused with its key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from incidentkit import _validate as check
from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.status.model import (
    Component,
    ComponentGroup,
    ComponentStatus,
    PageLabel,
    StatusPage,
)
from incidentkit.status.templates import check_templates

__all__ = [
    "DEFAULT_AUDIENCES",
    "DEFAULT_WEIGHTS",
    "SlaTarget",
    "StatusConfig",
    "Subscriber",
    "Templates",
    "UptimeConfig",
]

DEFAULT_AUDIENCES: tuple[str, ...] = ("public", "internal", "customers", "support", "executives")
"""The audiences a policy has when it names none (the guide's status page, incident
channel and customer e-mail, plus support and executives)."""

DEFAULT_WEIGHTS: Mapping[ComponentStatus, float] = {
    ComponentStatus.MAJOR_OUTAGE: 1.0,
    ComponentStatus.PARTIAL_OUTAGE: 1.0,
    ComponentStatus.DEGRADED_PERFORMANCE: 0.0,
    ComponentStatus.OPERATIONAL: 0.0,
    ComponentStatus.UNDER_MAINTENANCE: 0.0,
}
"""How much of each minute in a status counts as down: incident.io's rule (a partial
outage is down, degraded performance is up). Instatus counts ``partial_outage = 0.3``."""


def _weights(_: object, attribute: attrs.Attribute[Any], value: Mapping[Any, float]) -> None:
    for key, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValidationError(f"{attribute.name}.{key}", f"expected a number, got {weight!r}")
        if not 0.0 <= weight <= 1.0:
            raise ValidationError(f"{attribute.name}.{key}", f"must be from 0 to 1, got {weight!r}")


def _maintenance_rule(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("excluded", "up"):
        raise ValidationError(attribute.name, f"must be 'excluded' or 'up', got {value!r}")


@attrs.frozen
class UptimeConfig:
    """How uptime is counted (``[status.uptime]``).

    ``weights``: the fraction of a minute in each status that is down (statuses
    not named keep :data:`DEFAULT_WEIGHTS`). ``maintenance``: ``"excluded"``
    (the default) takes maintenance out of the denominator, ``"up"`` counts it
    as up. ``zone``: where days and calendar months begin.
    """

    weights: Mapping[ComponentStatus, float] = attrs.field(factory=dict, validator=_weights)
    maintenance: str = attrs.field(default="excluded", validator=_maintenance_rule)
    zone: ZoneInfo = attrs.field(default=ZoneInfo("UTC"))

    def weight(self, status: ComponentStatus) -> float:
        """The down fraction of ``status``."""
        return float(self.weights.get(status, DEFAULT_WEIGHTS[status]))


def _percent(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise ValidationError(
            attribute.name, f"must be a percentage above 0, up to 100, got {value!r}"
        )


def _period(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("month", "90d", "30d", "7d", "24h"):
        raise ValidationError(
            attribute.name, f"must be 'month', '90d', '30d', '7d' or '24h', got {value!r}"
        )


@attrs.frozen
class SlaTarget:
    """An uptime promise: ``target`` percent per ``period`` for a component, a group, or all."""

    target: float = attrs.field(validator=_percent)
    component: str | None = None
    group: str | None = None
    period: str = attrs.field(default="month", validator=_period)


def _channel(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("email", "webhook"):
        raise ValidationError(attribute.name, f"must be 'email' or 'webhook', got {value!r}")


@attrs.frozen
class Subscriber:
    """Someone told of the page's updates by e-mail or webhook (``[[status.subscribers]]``).

    ``components``: the components whose incidents and maintenances they hear
    about (empty: everything on ``page``). ``notifier`` names the registered
    notifier that delivers to them (it receives one notification per
    subscriber, with the ``address`` as its only target).
    """

    id: str = attrs.field(validator=lambda _, a, v: check.name(v, a.name))
    channel: str = attrs.field(validator=_channel)
    address: str = attrs.field(validator=lambda _, a, v: check.name(v, a.name))
    components: frozenset[str] = frozenset()
    page: str = "main"
    notifier: str = "subscribers"

    def wants(self, page: str, components: frozenset[str]) -> bool:
        """True when an update on ``page`` touching ``components`` is for this subscriber."""
        if page != self.page:
            return False
        return not self.components or bool(self.components & components)


@attrs.frozen
class Templates:
    """``string.Template`` texts replacing the built-in forms (``[status.templates]``).

    Their placeholders are checked when the policy loads
    (:mod:`incidentkit.status.templates`).
    """

    status_update: str | None = None
    internal_line: str | None = None
    customer_report: str | None = None
    customer_subject: str | None = None


def _positive_durations(
    _: object, attribute: attrs.Attribute[Any], value: tuple[timedelta, ...]
) -> None:
    for index, delta in enumerate(value):
        if delta <= timedelta(0):
            raise ValidationError(f"{attribute.name}[{index}]", "must be a positive duration")


def _unique_names(_: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise ValidationError(attribute.name, "needs at least one audience")
    for index, name in enumerate(value):
        check.name(name, f"{attribute.name}[{index}]")
        if name in value[:index]:
            raise ValidationError(f"{attribute.name}[{index}]", f"{name!r} is listed twice")


@attrs.frozen
class StatusConfig:
    """Status pages, components and communication rules (the policy's ``status`` field).

    ``audiences`` is the open set of audiences an update may name;
    ``cadence_audiences`` are those whose updates satisfy the severity's
    update cadence (default: the audiences the pages show, ``public``), so an
    update for support alone does not. ``labels``
    overrides the page-level descriptions. ``maintenance_reminders``: how
    long before a maintenance starts its subscribers are reminded.
    ``contact`` and ``signature`` end the customer report.
    """

    pages: tuple[StatusPage, ...] = (StatusPage("main", "Status"),)
    groups: tuple[ComponentGroup, ...] = ()
    components: tuple[Component, ...] = ()
    audiences: tuple[str, ...] = attrs.field(default=DEFAULT_AUDIENCES, validator=_unique_names)
    cadence_audiences: tuple[str, ...] | None = None
    labels: Mapping[PageLabel, str] = attrs.field(factory=dict)
    templates: Templates = attrs.field(factory=Templates)
    uptime: UptimeConfig = attrs.field(factory=UptimeConfig)
    sla: tuple[SlaTarget, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()
    maintenance_reminders: tuple[timedelta, ...] = attrs.field(
        default=(timedelta(hours=24), timedelta(hours=1)), validator=_positive_durations
    )
    contact: str = "support@example.com"
    signature: str = "Engineering Team"

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        problems += _duplicates("pages", [p.id for p in self.pages])
        problems += _duplicates("groups", [g.id for g in self.groups])
        problems += _duplicates("components", [c.id for c in self.components])
        pages = {p.id for p in self.pages}
        groups = {g.id for g in self.groups}
        components = {c.id for c in self.components}
        for index, page in enumerate(self.pages):
            if page.audience not in self.audiences:
                problems.append(
                    (
                        f"pages[{index}].audience",
                        _unknown("audience", page.audience, self.audiences),
                    )
                )
        for index, component in enumerate(self.components):
            if component.group is not None and component.group not in groups:
                problems.append(
                    (
                        f"components[{index}].group",
                        _unknown("group", component.group, sorted(groups)),
                    )
                )
            if component.page not in pages:
                problems.append(
                    (f"components[{index}].page", _unknown("page", component.page, sorted(pages)))
                )
            if component.id in groups:
                problems.append(
                    (f"components[{index}].id", f"{component.id!r} is also a group's id")
                )
        for index, audience in enumerate(self.cadence_audiences or ()):
            if audience not in self.audiences:
                problems.append(
                    (f"cadence_audiences[{index}]", _unknown("audience", audience, self.audiences))
                )
        for index, target in enumerate(self.sla):
            if target.component is not None and target.group is not None:
                problems.append((f"sla[{index}]", "name a component or a group, not both"))
            if target.component is not None and target.component not in components:
                problems.append(
                    (
                        f"sla[{index}].component",
                        _unknown("component", target.component, sorted(components)),
                    )
                )
            if target.group is not None and target.group not in groups:
                problems.append(
                    (f"sla[{index}].group", _unknown("group", target.group, sorted(groups)))
                )
        problems += _duplicates("subscribers", [s.id for s in self.subscribers])
        for index, subscriber in enumerate(self.subscribers):
            if subscriber.page not in pages:
                problems.append(
                    (f"subscribers[{index}].page", _unknown("page", subscriber.page, sorted(pages)))
                )
            for name in sorted(subscriber.components - components):
                problems.append(
                    (
                        f"subscribers[{index}].components",
                        _unknown("component", name, sorted(components)),
                    )
                )
        if problems:
            raise PolicyError(problems)
        check_templates(self.templates)

    def counts_for_cadence(self, audience: str) -> bool:
        """True when an update for ``audience`` satisfies the update cadence."""
        if self.cadence_audiences is None:
            return any(p.audience == audience for p in self.pages)
        return audience in self.cadence_audiences

    def page(self, page_id: str | None = None) -> StatusPage:
        """The page called ``page_id`` (default: the first)."""
        if page_id is None:
            return self.pages[0]
        for page in self.pages:
            if page.id == page_id:
                return page
        raise NotFound("status page", page_id, [p.id for p in self.pages])

    def component(self, component_id: str) -> Component:
        """The component called ``component_id``."""
        for component in self.components:
            if component.id == component_id:
                return component
        raise NotFound("component", component_id, [c.id for c in self.components])

    def members(self, group_id: str) -> tuple[Component, ...]:
        """The components of group ``group_id``, by position."""
        return tuple(
            sorted(
                (c for c in self.components if c.group == group_id),
                key=lambda c: (c.position, c.id),
            )
        )


def _duplicates(field: str, ids: list[str]) -> list[tuple[str, str]]:
    return [
        (f"{field}[{index}].id", f"{ident!r} is defined twice")
        for index, ident in enumerate(ids)
        if ident in ids[:index]
    ]


def _unknown(noun: str, value: object, known: Any) -> str:
    return f"no {noun} {value!r} (known: {', '.join(known) or 'none'})"
