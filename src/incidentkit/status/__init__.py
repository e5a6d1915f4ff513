"""Communications: status pages, components, audiences, templates, uptime and SLAs.

* :mod:`incidentkit.status.model` — the Statuspage vocabulary, components and
  pages, :func:`~incidentkit.status.model.page_status` and
  :func:`~incidentkit.status.model.derive_impact`;
* :mod:`incidentkit.status.config` — the policy's ``[status]`` table;
* :mod:`incidentkit.status.templates` — the guide's three forms;
* :mod:`incidentkit.status.uptime` — uptime and SLA accounting;
* :mod:`incidentkit.status.render` — Statuspage-compatible JSON;
* :mod:`incidentkit.status.maintenance` — scheduled maintenance as pure rules;
* :mod:`incidentkit.status.stored` — ``kit.status.maintenances``, the
  maintenances kept in the store;
* :mod:`incidentkit.status.capability` — ``kit.status``
  (:class:`~incidentkit.status.capability.StatusPages`).
"""

from incidentkit.status._cli import STATUS_COMMANDS, add_status_parsers, run_status
from incidentkit.status.config import (
    DEFAULT_AUDIENCES,
    DEFAULT_WEIGHTS,
    SlaTarget,
    StatusConfig,
    Subscriber,
    Templates,
    UptimeConfig,
)
from incidentkit.status.model import (
    DEFAULT_LABELS,
    Component,
    ComponentChange,
    ComponentGroup,
    ComponentMark,
    ComponentState,
    ComponentStatus,
    Impact,
    IncidentUpdate,
    Indicator,
    MaintenanceStatus,
    PageLabel,
    PageStatus,
    PublicIncident,
    StatusPage,
    derive_impact,
    page_status,
)
from incidentkit.status.templates import CustomerReport
from incidentkit.status.uptime import DayBar, Interval, SlaResult, UptimeResult

__all__ = [
    "DEFAULT_AUDIENCES",
    "DEFAULT_LABELS",
    "DEFAULT_WEIGHTS",
    "STATUS_COMMANDS",
    "Component",
    "ComponentChange",
    "ComponentGroup",
    "ComponentMark",
    "ComponentState",
    "ComponentStatus",
    "CustomerReport",
    "DayBar",
    "Impact",
    "IncidentUpdate",
    "Indicator",
    "Interval",
    "MaintenanceStatus",
    "PageLabel",
    "PageStatus",
    "PublicIncident",
    "SlaResult",
    "SlaTarget",
    "StatusConfig",
    "StatusPage",
    "Subscriber",
    "Templates",
    "UptimeConfig",
    "UptimeResult",
    "add_status_parsers",
    "derive_impact",
    "page_status",
    "run_status",
]
