"""Mitigation actions and the built-in ones."""

from incidentkit.mitigation._model import (
    MitigationAction,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
)

__all__ = [
    "MitigationAction",
    "MitigationContext",
    "MitigationOutcome",
    "MitigationResult",
]
