"""Mitigation actions, the built-in ones, circuit breakers and health checks.

Every built-in action is an ordinary pluggy plugin object: construct it with
its configuration and hand it to the kit
(``IncidentKit(plugins=[RollbackAction([...]), FeatureFlagAction(client)])``).
:func:`execute_action` runs one action: typed parameters, dry runs, a
timeout and verification.
"""

from incidentkit.mitigation._base import ActionPlugin, Verify
from incidentkit.mitigation._breaker import (
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    CircuitBreakerAction,
    CircuitBreakerParams,
    CircuitBreakerRegistry,
    CircuitOpen,
)
from incidentkit.mitigation._execute import execute_action, structure_params
from incidentkit.mitigation._flags import (
    FeatureFlagAction,
    FeatureFlagClient,
    FeatureFlagParams,
    InMemoryFlagClient,
    JsonFileFlagClient,
)
from incidentkit.mitigation._health import HttpHealthCheck
from incidentkit.mitigation._model import (
    MitigationAction,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
)
from incidentkit.mitigation._rollback import RollbackAction, RollbackParams
from incidentkit.mitigation._scale import (
    MaintenanceModeAction,
    MaintenanceParams,
    ScaleAction,
    ScaleParams,
)

__all__ = [
    "ActionPlugin",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerAction",
    "CircuitBreakerParams",
    "CircuitBreakerRegistry",
    "CircuitOpen",
    "FeatureFlagAction",
    "FeatureFlagClient",
    "FeatureFlagParams",
    "HttpHealthCheck",
    "InMemoryFlagClient",
    "JsonFileFlagClient",
    "MaintenanceModeAction",
    "MaintenanceParams",
    "MitigationAction",
    "MitigationContext",
    "MitigationOutcome",
    "MitigationResult",
    "RollbackAction",
    "RollbackParams",
    "ScaleAction",
    "ScaleParams",
    "Verify",
    "execute_action",
    "structure_params",
]
