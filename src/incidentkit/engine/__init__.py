"""The command engine and the capability mechanism (DESIGN principle 7).

:class:`Engine` runs every write: load the incident, authorize, decide with a
pure handler, commit the events with their outbox rows and summary, and decide
again after losing a version race. A capability module contributes its
events, fold rules, timers, notification routes, outbox planners and a facade
section through one :class:`Capability` value; see
:mod:`incidentkit.engine.capability`.
"""

from incidentkit.engine._cache import Loaded, StateCache
from incidentkit.engine._engine import (
    COMMANDER_ACTIONS,
    OUTBOX_ANCHOR,
    CommandResult,
    Decide,
    Engine,
    Handler,
    TickReport,
)
from incidentkit.engine._loop import run_forever
from incidentkit.engine.capability import (
    Capability,
    Deliverer,
    EventHooks,
    FollowUp,
    KeyPlanner,
    Periodic,
    Planner,
    RecordRule,
    Route,
    TimerSource,
    reacting_to,
    reacts_to,
)
from incidentkit.engine.routing import (
    CHANNEL_TARGET,
    core_notifications,
    headline,
    incident_ref,
    make_notification,
    plan_rows,
)

__all__ = [
    "CHANNEL_TARGET",
    "COMMANDER_ACTIONS",
    "OUTBOX_ANCHOR",
    "Capability",
    "CommandResult",
    "Decide",
    "Deliverer",
    "Engine",
    "EventHooks",
    "FollowUp",
    "Handler",
    "KeyPlanner",
    "Loaded",
    "Periodic",
    "Planner",
    "RecordRule",
    "Route",
    "StateCache",
    "TickReport",
    "TimerSource",
    "core_notifications",
    "headline",
    "incident_ref",
    "make_notification",
    "plan_rows",
    "reacting_to",
    "reacts_to",
    "run_forever",
]
