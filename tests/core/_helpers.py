"""Helpers shared by the core tests (not fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from incidentkit.incident import Incident
from incidentkit.kit import IncidentKit
from incidentkit.store import IncidentSummary, MemoryStore
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
"""14:30 PST on Wednesday 20 November 2024, the guide's example."""

KitFactory = Callable[..., IncidentKit]
"""The ``make_kit`` fixture: ``make_kit(policy=None, *, on=store, at=clock, **kit_kwargs)``."""


def snapshot(store: MemoryStore) -> tuple[object, ...]:
    """Everything a MemoryStore holds, for 'nothing was stored' comparisons."""
    return (
        {key: list(rows) for key, rows in store._events.items()},
        dict(store._summaries),
        dict(store._outbox),
        set(store._keys),
        dict(store._commands),
        store._next_id,
    )


def summary_fields(summary: IncidentSummary) -> dict[str, Any]:
    """A summary's fields except ``next_due_at`` (timers are not the core's business)."""
    fields = attrs.asdict(summary, recurse=False)
    fields.pop("next_due_at")
    return fields


def expected_summary_fields(state: Incident) -> dict[str, Any]:
    """What the stored summary must say for a folded state."""
    return {
        "incident_id": state.id,
        "version": state.version,
        "title": state.title,
        "status": state.status,
        "severity": state.severity,
        "services": state.services,
        "started_at": state.started_at,
        "detected_at": state.detected_at,
        "declared_at": state.declared_at,
        "acknowledged_at": state.acknowledged_at,
        "mitigated_at": state.mitigated_at,
        "resolved_at": state.resolved_at,
        "closed_at": state.closed_at,
    }
