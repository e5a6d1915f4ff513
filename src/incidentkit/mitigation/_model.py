"""The mitigation model: named actions with typed parameters and results."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

__all__ = [
    "MitigationAction",
    "MitigationContext",
    "MitigationOutcome",
    "MitigationResult",
]


class MitigationOutcome(enum.StrEnum):
    """How a mitigation ended."""

    APPLIED = "applied"
    FAILED = "failed"
    DRY_RUN = "dry_run"


@attrs.frozen
class MitigationContext:
    """What an action learns about the call: who, which incident, when, dry-run or not.

    ``request_id`` identifies the request on the timeline; it is the same on
    every retry, so an action may use it as an idempotency key with the
    system it drives.
    """

    incident_id: str
    requested_by: str
    now: datetime
    dry_run: bool = False
    request_id: str = ""


@attrs.frozen
class MitigationResult:
    """What an action reports back; ``detail`` is free text shown on the timeline.

    ``verified`` is ``None`` when no verification ran, ``True`` when the
    action's ``verify`` (a health check) confirmed it worked and ``False``
    when it did not; an applied but unverified mitigation keeps its outcome.
    """

    outcome: MitigationOutcome
    detail: str = ""
    data: Mapping[str, str] = attrs.field(factory=dict)
    verified: bool | None = None

    @classmethod
    def applied(cls, detail: str = "", **data: str) -> MitigationResult:
        """An action that did what was asked."""
        return cls(MitigationOutcome.APPLIED, detail, data)

    @classmethod
    def failed(cls, detail: str, **data: str) -> MitigationResult:
        """An action that tried and failed."""
        return cls(MitigationOutcome.FAILED, detail, data)

    @classmethod
    def dry_run(cls, detail: str, **data: str) -> MitigationResult:
        """What an action would have done; nothing ran."""
        return cls(MitigationOutcome.DRY_RUN, detail, data)


@attrs.frozen
class MitigationAction:
    """A mitigation registered through ``incidentkit_mitigation_actions()``.

    ``params_type`` is an attrs class; the kit structures the caller's mapping
    into it with the one cattrs converter, so bad parameters are refused with
    the field's name before anything runs. ``verify`` optionally checks that
    the mitigation worked (a health check) and returns a result of its own.
    """

    name: str
    params_type: type[Any]
    execute: Callable[[MitigationContext, Any], MitigationResult]
    description: str = ""
    verify: Callable[[MitigationContext, Any], MitigationResult] | None = None
    timeout: timedelta = timedelta(seconds=60)
