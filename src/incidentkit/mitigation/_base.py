"""Shared pieces of the built-in mitigation actions: one plugin object per configured action."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from incidentkit._names import check_name
from incidentkit.errors import ValidationError
from incidentkit.mitigation._model import MitigationAction, MitigationContext, MitigationResult
from incidentkit.plugins import hookimpl

__all__ = ["ActionPlugin", "Verify", "non_empty"]

Verify = Callable[[MitigationContext, Any], MitigationResult]
"""A verification: called with the context and the typed params after the action applied."""


def non_empty(value: object, field: str, *, limit: int = 500) -> str:
    """Return ``value`` stripped when it is a non-empty string of at most ``limit`` chars."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty string")
    if len(value) > limit:
        raise ValidationError(field, f"must be at most {limit} characters")
    return value


class ActionPlugin(abc.ABC):
    """Base of the built-in actions: a pluggy plugin providing one :class:`MitigationAction`.

    Subclasses set :attr:`params_type` and implement :meth:`execute`; ``verify``
    (for example an :class:`HttpHealthCheck`) checks the effect afterwards.
    """

    params_type: type[Any]
    description: str = ""

    def __init__(
        self,
        *,
        name: str,
        timeout: timedelta,
        verify: Verify | None = None,
        description: str | None = None,
    ) -> None:
        self.name = check_name(name)
        if not isinstance(timeout, timedelta) or timeout <= timedelta(0):
            raise ValidationError("timeout", f"expected a positive timedelta, got {timeout!r}")
        self.timeout = timeout
        if verify is not None and not callable(verify):
            raise ValidationError("verify", "expected a callable (context, params) -> result")
        self.verify = verify
        if description is not None:
            self.description = description

    @abc.abstractmethod
    def execute(self, context: MitigationContext, params: Any) -> MitigationResult:
        """Apply the mitigation (called by :func:`execute_action`, never on a dry run)."""

    def action(self) -> MitigationAction:
        """The :class:`MitigationAction` this plugin registers."""
        return MitigationAction(
            name=self.name,
            params_type=self.params_type,
            execute=self.execute,
            description=self.description,
            verify=self.verify,
            timeout=self.timeout,
        )

    @hookimpl
    def incidentkit_mitigation_actions(self) -> list[MitigationAction]:
        """Register this action."""
        return [self.action()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
