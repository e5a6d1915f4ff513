"""incidentkit: run incident response from your own service.

Declare incidents with a severity, staff the roles, move through the response
phases, keep an append-only timeline, resolve only when the criteria hold, and
plug in notifiers, stores and mitigations through pluggy hooks.

>>> import incidentkit as ik
>>> ik.Severity.SEV1.is_worse_than(ik.Severity.SEV2)
True
"""

from __future__ import annotations

from typing import Any

from incidentkit import metrics
from incidentkit._delivery import DeliveryReport
from incidentkit.business_days import BusinessDays
from incidentkit.checklists import ChecklistItem, ChecklistTemplate, ItemState
from incidentkit.clock import Clock, ManualClock, SystemClock
from incidentkit.engine import TickReport
from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    GuardFailed,
    IncidentKitError,
    InvalidTransition,
    MissingExtra,
    NotFound,
    OutcomeUnknown,
    PermanentFailure,
    PermissionDenied,
    PluginError,
    PolicyError,
    ReservedEvent,
    SignatureInvalid,
    StoreError,
    ValidationError,
)
from incidentkit.events import (
    Conclusion,
    Event,
    PublicStatus,
    RecordedEvent,
    Source,
)
from incidentkit.incident import Incident, ItemStatus
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import Phase, Status
from incidentkit.mitigation import (
    CircuitBreaker,
    CircuitBreakerAction,
    CircuitBreakerRegistry,
    CircuitOpen,
    FeatureFlagAction,
    FeatureFlagClient,
    HttpHealthCheck,
    InMemoryFlagClient,
    JsonFileFlagClient,
    MaintenanceModeAction,
    MitigationAction,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
    RollbackAction,
    ScaleAction,
)
from incidentkit.notify import (
    EmailNotifier,
    IncidentRef,
    LogNotifier,
    Notification,
    NotificationKind,
    NotifierSpec,
    SlackWebhookNotifier,
    TransientFailure,
    Urgency,
    WebhookNotifier,
)
from incidentkit.oncall import (
    EscalationPolicies,
    EscalationPolicy,
    EscalationStep,
    Layer,
    OnCallConfig,
    Override,
    Rotation,
    Schedule,
    Target,
)
from incidentkit.plugins import hookimpl
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import PhaseTargets, Policy, load_policy
from incidentkit.roles import Role, RolePolicy
from incidentkit.severity import (
    Classification,
    FeatureScope,
    Paging,
    Rule,
    Severity,
    SeverityLevel,
    SeverityPolicy,
    Signals,
)
from incidentkit.store import IncidentSummary, MemoryStore, Store, SummaryQuery
from incidentkit.timeline import ChainCheck

__all__ = [
    "BusinessDays",
    "ChainCheck",
    "ChecklistItem",
    "ChecklistTemplate",
    "CircuitBreaker",
    "CircuitBreakerAction",
    "CircuitBreakerRegistry",
    "CircuitOpen",
    "Classification",
    "Clock",
    "Conclusion",
    "ConcurrencyConflict",
    "DeliveryReport",
    "DuplicateCommand",
    "EmailNotifier",
    "EscalationPolicies",
    "EscalationPolicy",
    "EscalationStep",
    "Event",
    "FeatureFlagAction",
    "FeatureFlagClient",
    "FeatureScope",
    "GuardFailed",
    "HttpHealthCheck",
    "InMemoryFlagClient",
    "Incident",
    "IncidentKit",
    "IncidentKitError",
    "IncidentRef",
    "IncidentSummary",
    "InvalidTransition",
    "ItemState",
    "ItemStatus",
    "JsonFileFlagClient",
    "Layer",
    "LogNotifier",
    "MaintenanceModeAction",
    "ManualClock",
    "MemoryStore",
    "MissingExtra",
    "MitigationAction",
    "MitigationContext",
    "MitigationOutcome",
    "MitigationResult",
    "NotFound",
    "Notification",
    "NotificationKind",
    "NotifierSpec",
    "OnCallConfig",
    "OutcomeUnknown",
    "Override",
    "Paging",
    "PermanentFailure",
    "PermissionDenied",
    "Phase",
    "PhaseTargets",
    "PluginError",
    "PluginManager",
    "Policy",
    "PolicyError",
    "PublicStatus",
    "RecordedEvent",
    "ReservedEvent",
    "Role",
    "RolePolicy",
    "RollbackAction",
    "Rotation",
    "Rule",
    "ScaleAction",
    "Schedule",
    "Severity",
    "SeverityLevel",
    "SeverityPolicy",
    "Signals",
    "SignatureInvalid",
    "SlackWebhookNotifier",
    "Source",
    "Status",
    "Store",
    "StoreError",
    "SummaryQuery",
    "SystemClock",
    "Target",
    "TickReport",
    "TransientFailure",
    "Urgency",
    "ValidationError",
    "WebhookNotifier",
    "hookimpl",
    "load_policy",
    "metrics",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("incidentkit")
    raise AttributeError(f"module 'incidentkit' has no attribute {name!r}")
