"""Status pages as data: components, groups, pages, and the status vocabulary.

The enums are Atlassian Statuspage's, value for value (``wave2-specs.md``
§2.1), so the JSON renderers in :mod:`incidentkit.status.render` can be read
by an existing Statuspage client. :func:`page_status` (the page-level
indicator and label) and :func:`derive_impact` (an incident's impact from
its affected components) are pure functions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from incidentkit import _validate as check
from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
from incidentkit.events import PublicStatus

__all__ = [
    "DEFAULT_LABELS",
    "Component",
    "ComponentChange",
    "ComponentGroup",
    "ComponentMark",
    "ComponentState",
    "ComponentStatus",
    "Impact",
    "IncidentUpdate",
    "Indicator",
    "MaintenanceStatus",
    "PageLabel",
    "PageStatus",
    "PublicIncident",
    "StatusPage",
    "derive_impact",
    "page_status",
]


class ComponentStatus(enum.StrEnum):
    """A component's status (Statuspage's five values)."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


class Impact(enum.StrEnum):
    """An incident's impact: Statuspage's four values, least to most severe."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 (none) … 3 (critical)."""
        return list(Impact).index(self)


class Indicator(enum.StrEnum):
    """The page-level indicator: an :class:`Impact` value, or ``maintenance``.

    ``maintenance`` is the indicator of "Service Under Maintenance"
    (wave2-specs §2.1, "Decided for incidentkit").
    """

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


class MaintenanceStatus(enum.StrEnum):
    """A scheduled maintenance's status."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


class PageLabel(enum.StrEnum):
    """The seven page-level situations; :data:`DEFAULT_LABELS` says how each reads."""

    ALL_OPERATIONAL = "all_operational"
    MAJOR_OUTAGE = "major_outage"
    PARTIAL_OUTAGE = "partial_outage"
    MINOR_OUTAGE = "minor_outage"
    DEGRADED = "degraded"
    PARTIALLY_DEGRADED = "partially_degraded"
    MAINTENANCE = "maintenance"


DEFAULT_LABELS: Mapping[PageLabel, str] = {
    PageLabel.ALL_OPERATIONAL: "All Systems Operational",
    PageLabel.MAJOR_OUTAGE: "Major System Outage",
    PageLabel.PARTIAL_OUTAGE: "Partial System Outage",
    PageLabel.MINOR_OUTAGE: "Minor Service Outage",
    PageLabel.DEGRADED: "Degraded System Service",
    PageLabel.PARTIALLY_DEGRADED: "Partially Degraded Service",
    PageLabel.MAINTENANCE: "Service Under Maintenance",
}
"""Statuspage's seven labels; a host overrides any of them (``[status.labels]``)."""

_INDICATOR: Mapping[PageLabel, Indicator] = {
    PageLabel.ALL_OPERATIONAL: Indicator.NONE,
    PageLabel.MAJOR_OUTAGE: Indicator.CRITICAL,
    PageLabel.PARTIAL_OUTAGE: Indicator.MAJOR,
    PageLabel.MINOR_OUTAGE: Indicator.MINOR,
    PageLabel.DEGRADED: Indicator.MINOR,
    PageLabel.PARTIALLY_DEGRADED: Indicator.MINOR,
    PageLabel.MAINTENANCE: Indicator.MAINTENANCE,
}

_BY_IMPACT: Mapping[Impact, PageLabel] = {
    Impact.MINOR: PageLabel.MINOR_OUTAGE,
    Impact.MAJOR: PageLabel.PARTIAL_OUTAGE,
    Impact.CRITICAL: PageLabel.MAJOR_OUTAGE,
}


@attrs.frozen
class PageStatus:
    """The page-level status: ``indicator`` and its human ``description``."""

    indicator: Indicator
    description: str
    label: PageLabel


def _label(statuses: list[ComponentStatus]) -> PageLabel:
    """The situation of some component statuses (major > partial > degraded > maintenance)."""
    for status, all_label, some_label in (
        (ComponentStatus.MAJOR_OUTAGE, PageLabel.MAJOR_OUTAGE, PageLabel.PARTIAL_OUTAGE),
        (ComponentStatus.PARTIAL_OUTAGE, PageLabel.PARTIAL_OUTAGE, PageLabel.MINOR_OUTAGE),
        (
            ComponentStatus.DEGRADED_PERFORMANCE,
            PageLabel.DEGRADED,
            PageLabel.PARTIALLY_DEGRADED,
        ),
    ):
        count = statuses.count(status)
        if count:
            every = count == len(statuses)
            if status is ComponentStatus.DEGRADED_PERFORMANCE and len(statuses) == 1:
                every = False  # one degraded component: "Partially Degraded Service"
            return all_label if every else some_label
    if ComponentStatus.UNDER_MAINTENANCE in statuses:
        return PageLabel.MAINTENANCE
    return PageLabel.ALL_OPERATIONAL


def page_status(
    statuses: Iterable[ComponentStatus | str],
    *,
    incident_impact: Impact | str = Impact.NONE,
    labels: Mapping[PageLabel, str] | None = None,
) -> PageStatus:
    """The page-level indicator and label of the components' statuses (pure).

    * every component ``major_outage`` → critical, "Major System Outage";
    * some ``major_outage``, or every one ``partial_outage`` → major, "Partial System Outage";
    * some ``partial_outage`` → minor, "Minor Service Outage";
    * every one ``degraded_performance`` → minor, "Degraded System Service";
    * some ``degraded_performance`` → minor, "Partially Degraded Service";
    * any ``under_maintenance`` → maintenance, "Service Under Maintenance";
    * otherwise (no components included) → none, "All Systems Operational".

    ``incident_impact`` is the worst impact set by hand on the page's unresolved incidents:
    when it is worse than what the components say (a page without
    components, an incident that changed none), the page shows it. ``labels``
    overrides the descriptions.

    >>> page_status(["partial_outage", "operational"]).description
    'Minor Service Outage'
    """
    parsed = [_enum(ComponentStatus, s, f"statuses[{i}]") for i, s in enumerate(statuses)]
    impact = _enum(Impact, incident_impact, "incident_impact")
    label = _label(parsed)
    by_incident = _BY_IMPACT.get(impact)
    if by_incident is not None:
        own = _INDICATOR[label]
        own_rank = -1 if own is Indicator.MAINTENANCE else Impact(own.value).rank
        if impact.rank > own_rank:
            label = by_incident
    text = {**DEFAULT_LABELS, **(labels or {})}[label]
    return PageStatus(_INDICATOR[label], text, label)


_IMPACT_OF: Mapping[ComponentStatus, Impact] = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}


def derive_impact(statuses: Iterable[ComponentStatus | str]) -> Impact:
    """An incident's impact from the worst status of its affected components.

    degraded → minor, partial outage → major, major outage → critical;
    operational, maintenance or no components → none.

    >>> derive_impact(["degraded_performance", "partial_outage"])
    <Impact.MAJOR: 'major'>
    """
    found = [_IMPACT_OF[_enum(ComponentStatus, s, "statuses")] for s in statuses]
    return max(found, key=lambda i: i.rank, default=Impact.NONE)


def _enum(kind: type[Any], value: object, field: str) -> Any:
    try:
        return kind(value)
    except (ValueError, TypeError):
        known = ", ".join(str(m.value) for m in kind)
        raise ValidationError(
            field, f"unknown value {check.shown(value)} (known: {known})"
        ) from None


def _id(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    check.name(value, attribute.name)
    if any(c.isspace() for c in value) or "/" in value:
        raise ValidationError(attribute.name, f"{value!r} must not contain spaces or '/'")


def _aware_or_none(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        ensure_aware(value, attribute.name)


@attrs.frozen
class ComponentGroup:
    """A group of components, shown as one row with its children on the page."""

    id: str = attrs.field(validator=_id)
    name: str
    description: str | None = None
    position: int = 0


@attrs.frozen
class Component:
    """A part of the service whose status the page shows.

    ``start_date`` is when it began to be tracked (uptime never counts time
    before it); ``only_show_if_degraded`` hides it while operational;
    ``uptime`` excludes it from uptime figures when false.
    """

    id: str = attrs.field(validator=_id)
    name: str
    description: str | None = None
    position: int = 0
    group: str | None = None
    page: str = "main"
    only_show_if_degraded: bool = False
    showcase: bool = True
    start_date: datetime | None = attrs.field(default=None, validator=_aware_or_none)
    uptime: bool = True


@attrs.frozen
class StatusPage:
    """A status page: its audience (whose updates it shows), zone and address."""

    id: str = attrs.field(validator=_id)
    name: str
    url: str = ""
    zone: ZoneInfo = attrs.field(default=ZoneInfo("UTC"))
    audience: str = "public"


@attrs.frozen
class ComponentChange:
    """One component's status change, as an incident update carries it."""

    component: str
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


@attrs.frozen
class ComponentMark:
    """From ``at`` on, ``component`` is in ``status`` (set by an incident's or maintenance's event).

    The marks of every timeline, in time order, are the components' history:
    the current status and the uptime intervals come from them.
    """

    at: datetime
    component: str
    status: ComponentStatus
    source: str
    version: int


@attrs.frozen
class IncidentUpdate:
    """One posted update, as the incident's public record keeps it."""

    id: str
    status: PublicStatus
    headline: str
    body: str
    audience: str
    page: str | None
    created_at: datetime
    by: str
    changes: tuple[ComponentChange, ...] = ()


@attrs.frozen
class PublicIncident:
    """What the status capability folds from an incident's timeline.

    ``status`` and the timestamps follow the updates that appeared on a page;
    ``components`` is the status this incident last set on each component,
    ``peak`` the worst; ``history`` every change in order; ``statements``
    the customer report's facts.
    """

    updates: tuple[IncidentUpdate, ...] = ()
    components: Mapping[str, ComponentStatus] = attrs.field(factory=dict)
    peak: Mapping[str, ComponentStatus] = attrs.field(factory=dict)
    history: tuple[ComponentMark, ...] = ()
    impact_override: Impact | None = None
    statements: Mapping[str, str] = attrs.field(factory=dict)
    status: PublicStatus | None = None
    created_at: datetime | None = None
    identified_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    notified: frozenset[tuple[str, str]] = frozenset()

    @property
    def derived_impact(self) -> Impact:
        """The impact the components say (their worst status during the incident)."""
        return derive_impact(self.peak.values())

    @property
    def impact(self) -> Impact:
        """The override when one is recorded, else :attr:`derived_impact`."""
        return self.impact_override if self.impact_override is not None else self.derived_impact

    @property
    def public(self) -> bool:
        """True once an update appeared on a page."""
        return self.status is not None


@attrs.frozen
class ComponentState:
    """A component with its current status and when that status was set (``None``: never)."""

    component: Component
    status: ComponentStatus
    updated_at: datetime | None = None
