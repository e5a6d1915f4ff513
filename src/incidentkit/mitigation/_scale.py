"""Scale a resource through a host callback, and switch on maintenance mode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import attrs

from incidentkit.errors import ValidationError
from incidentkit.mitigation._base import ActionPlugin, Verify, non_empty
from incidentkit.mitigation._model import MitigationContext, MitigationResult

__all__ = [
    "MaintenanceModeAction",
    "MaintenanceParams",
    "ScaleAction",
    "ScaleParams",
]


@attrs.frozen
class ScaleParams:
    """Scale ``resource`` to ``replicas``, or by ``delta`` (exactly one of the two).

    >>> ScaleParams("api", replicas=6)
    ScaleParams(resource='api', replicas=6, delta=None)
    >>> ScaleParams("api", replicas=6, delta=2)
    Traceback (most recent call last):
    ...
    incidentkit.errors.ValidationError: invalid delta: give replicas or delta, not both
    """

    resource: str
    replicas: int | None = None
    delta: int | None = None

    def __attrs_post_init__(self) -> None:
        non_empty(self.resource, "resource", limit=253)
        if self.replicas is None and self.delta is None:
            raise ValidationError("replicas", "give replicas (an absolute count) or delta")
        if self.replicas is not None and self.delta is not None:
            raise ValidationError("delta", "give replicas or delta, not both")
        if self.replicas is not None and self.replicas < 0:
            raise ValidationError("replicas", f"must be >= 0, got {self.replicas}")
        if self.delta == 0:
            raise ValidationError("delta", "must not be 0")


class ScaleAction(ActionPlugin):
    """Scale a resource by calling the host's ``callback(params) -> description``.

    The callback does the work (a Kubernetes patch, an autoscaling API call)
    and returns a short description of what it did, which becomes the
    result's detail. It raises to fail.

    >>> scaled = []
    >>> action = ScaleAction(lambda p: scaled.append(p) or f"{p.resource} -> {p.replicas}")
    >>> action.execute(None, ScaleParams("api", replicas=6)).detail
    'api -> 6'
    """

    params_type = ScaleParams
    description = "Scale a resource up or down."

    def __init__(
        self,
        callback: Callable[[ScaleParams], str],
        *,
        name: str = "scale",
        timeout: timedelta = timedelta(minutes=2),
        verify: Verify | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(name=name, timeout=timeout, verify=verify, description=description)
        if not callable(callback):
            raise ValidationError("callback", "expected a callable (params) -> str")
        self.callback = callback

    def execute(self, context: MitigationContext | None, params: ScaleParams) -> MitigationResult:
        """Call the callback."""
        detail = self.callback(params)
        change = (
            f"replicas={params.replicas}"
            if params.replicas is not None
            else f"delta={params.delta:+d}"
        )
        return MitigationResult.applied(
            str(detail) if detail else f"scaled {params.resource} ({change})",
            resource=params.resource,
            change=change,
        )


@attrs.frozen
class MaintenanceParams:
    """The maintenance page: a message (required) and an estimated duration."""

    message: str
    estimated_duration: timedelta | None = None

    def __attrs_post_init__(self) -> None:
        non_empty(self.message, "message", limit=1000)
        if self.estimated_duration is not None and self.estimated_duration <= timedelta(0):
            raise ValidationError("estimated_duration", "must be positive")


class MaintenanceModeAction(ActionPlugin):
    """Switch on maintenance mode through the host's ``callback(params)``.

    The callback may return a description of what it did (or ``None``).
    """

    params_type = MaintenanceParams
    description = "Enable maintenance mode to stop traffic, with a message for users."

    def __init__(
        self,
        callback: Callable[[MaintenanceParams], str | None],
        *,
        name: str = "maintenance_mode",
        timeout: timedelta = timedelta(seconds=60),
        verify: Verify | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(name=name, timeout=timeout, verify=verify, description=description)
        if not callable(callback):
            raise ValidationError("callback", "expected a callable (params) -> str | None")
        self.callback = callback

    def execute(self, context: MitigationContext, params: MaintenanceParams) -> MitigationResult:
        """Call the callback."""
        detail = self.callback(params)
        data = {"message": params.message}
        if params.estimated_duration is not None:
            data["estimated_duration_s"] = str(int(params.estimated_duration.total_seconds()))
        return MitigationResult.applied(str(detail) if detail else "maintenance mode on", **data)
