"""On-call: rotations, schedules, overrides, escalation policies, duties, pay, iCalendar.

Everything here is pure: schedules answer who is on call at an instant,
escalation and reminder calculators say what is due given what already
fired. :meth:`incidentkit.IncidentKit.tick` calls them and records what fired.

The iCalendar export and holiday calendars need optional extras
(``incidentkit[ical]``, ``incidentkit[holidays]``); they are imported only
when used.
"""

from incidentkit.oncall._cli import add_oncall_parser, run_oncall
from incidentkit.oncall._localtime import resolve_local
from incidentkit.oncall._optional import MissingExtra
from incidentkit.oncall.compensation import (
    PayKind,
    PayLine,
    PayStatement,
    RateCard,
    ResponseInterval,
    compute_pay,
)
from incidentkit.oncall.config import OnCallConfig, configure_oncall_converter, load_oncall
from incidentkit.oncall.duties import (
    AFTER_SHIFT,
    BEFORE_SHIFT,
    DURING_SHIFT,
    HandoffReport,
    handoff_report,
)
from incidentkit.oncall.escalation import (
    Action,
    DueReminder,
    DueStep,
    EscalationPolicies,
    EscalationPolicy,
    EscalationStep,
    Target,
    TargetKind,
    due_reminders,
    due_steps,
    firings,
    next_due_at,
    next_reminder_at,
    resolve_targets,
)
from incidentkit.oncall.ical import shift_uid, to_ical
from incidentkit.oncall.rotation import Every, Rotation, RotationShift, Weekday
from incidentkit.oncall.schedule import Layer, LayerHolder, OnCall, Override, Schedule, Shift

__all__ = [
    "AFTER_SHIFT",
    "BEFORE_SHIFT",
    "DURING_SHIFT",
    "Action",
    "DueReminder",
    "DueStep",
    "EscalationPolicies",
    "EscalationPolicy",
    "EscalationStep",
    "Every",
    "HandoffReport",
    "Layer",
    "LayerHolder",
    "MissingExtra",
    "OnCall",
    "OnCallConfig",
    "Override",
    "PayKind",
    "PayLine",
    "PayStatement",
    "RateCard",
    "ResponseInterval",
    "Rotation",
    "RotationShift",
    "Schedule",
    "Shift",
    "Target",
    "TargetKind",
    "Weekday",
    "add_oncall_parser",
    "compute_pay",
    "configure_oncall_converter",
    "due_reminders",
    "due_steps",
    "firings",
    "handoff_report",
    "load_oncall",
    "next_due_at",
    "next_reminder_at",
    "resolve_local",
    "resolve_targets",
    "run_oncall",
    "shift_uid",
    "to_ical",
]
