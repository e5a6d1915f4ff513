"""Running one mitigation action: typed parameters, dry runs, a timeout, verification."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError

from incidentkit._calls import run_with_timeout
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.mitigation._model import (
    MitigationAction,
    MitigationContext,
    MitigationOutcome,
    MitigationResult,
)
from incidentkit.serialization import _problems, dumps

__all__ = ["execute_action", "structure_params"]

_DETAIL_MAX = 2000


def _param_problems(err: BaseException, path: str) -> list[tuple[str, str]]:
    """Like the converter's key paths, but a validator's ``ValidationError(field)`` names its field.

    A class-level validator (``__attrs_post_init__``) is not tied to one
    attribute by cattrs, so its error would otherwise be reported at ``$``.
    """
    if isinstance(err, ClassValidationError):
        noted, others = err.group_exceptions()
        found: list[tuple[str, str]] = []
        for sub, note in noted:
            if isinstance(sub, ValidationError) and sub.field == "value":
                found.append((f"{path}.{note.name}", sub.reason))
            elif isinstance(sub, KeyError):  # the converter would say "$.x.x"
                found.append((f"{path}.{note.name}", "required key is missing"))
            else:
                found.extend(_problems(sub, f"{path}.{note.name}"))
        for sub in others:
            if isinstance(sub, ValidationError) and not sub.field.startswith("$"):
                found.append((f"{path}.{sub.field}", sub.reason))
            else:
                found.extend(_problems(sub, path))
        return found
    if isinstance(err, ValidationError) and not err.field.startswith("$"):
        return [(f"{path}.{err.field}", err.reason)]
    return _problems(err, path)


def structure_params(
    action: MitigationAction, params: Mapping[str, Any] | object | None, converter: cattrs.Converter
) -> Any:
    """Turn the caller's mapping into ``action.params_type``, refusing bad input by field.

    An instance of ``params_type`` passes through unchanged; ``None`` means
    no parameters (``{}``).

    :raises PolicyError: with problems such as ``("$.replicas", "must be >= 0")``
        and ``source`` naming the action. Nothing has run.
    """
    cls = action.params_type
    if isinstance(params, cls):
        return params
    data: object = {} if params is None else params
    source = f"params of mitigation {action.name!r}"
    if not isinstance(data, Mapping):
        raise PolicyError([("$", f"expected a mapping, got {type(data).__name__}")], source)
    try:
        return converter.structure(dict(data), cls)
    except Exception as err:
        raise PolicyError(_param_problems(err, "$"), source=source) from err


def _describe(params: object) -> str:
    try:
        return dumps(attrs.asdict(params, recurse=True, value_serializer=_plain))  # type: ignore[arg-type]
    except (TypeError, ValueError, attrs.exceptions.NotAnAttrsClassError):
        return repr(params)


def _plain(_inst: object, _field: object, value: object) -> object:
    if isinstance(value, str | int | float | bool | type(None) | list | dict | tuple):
        return value
    return str(value)


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else "…" + text[-(_DETAIL_MAX - 1) :]


def _bounded(
    name: str,
    step: str,
    fn: Callable[[], MitigationResult],
    action: MitigationAction,
) -> MitigationResult:
    """Run ``fn`` within the action's timeout; turn any failure into a FAILED result."""
    try:
        result = run_with_timeout(fn, action.timeout)
    except TimeoutError:
        return MitigationResult.failed(
            f"{name} {step} did not finish within {action.timeout}; abandoned", step=step
        )
    except Exception as err:
        return MitigationResult.failed(
            _clip(f"{name} {step} raised {type(err).__name__}: {err}"),
            step=step,
            error=type(err).__name__,
        )
    if not isinstance(result, MitigationResult):
        return MitigationResult.failed(
            f"{name} {step} returned {type(result).__name__}, not a MitigationResult", step=step
        )
    return result


def execute_action(
    action: MitigationAction,
    context: MitigationContext,
    params: Mapping[str, Any] | object | None,
    converter: cattrs.Converter,
) -> MitigationResult:
    """Run ``action`` once: structure ``params``, honour dry runs, bound the time, verify.

    1. ``params`` (a mapping, or an instance of ``action.params_type``) is
       structured into ``action.params_type``; bad parameters raise
       :class:`~incidentkit.errors.PolicyError` naming each field, before
       anything runs.
    2. When ``context.dry_run`` is set, nothing runs: the result is
       ``DRY_RUN`` describing the call.
    3. ``action.execute`` runs on a pooled daemon thread bounded by
       ``action.timeout``; an exception, a timeout or a wrong return value
       becomes a ``FAILED`` result (never raised).
    4. When it was applied and ``action.verify`` exists, the verification runs
       (same bound); the result's ``verified`` says whether it passed and
       ``detail`` gains the verification's detail.

    >>> import attrs
    >>> from datetime import datetime, timezone
    >>> from incidentkit.serialization import make_converter
    >>> @attrs.frozen
    ... class Greet:
    ...     who: str
    >>> hello = MitigationAction("hello", Greet,
    ...     lambda ctx, p: MitigationResult.applied(f"hello {p.who}"))
    >>> ctx = MitigationContext("INC-1", "alice", datetime(2024, 11, 20, tzinfo=timezone.utc))
    >>> execute_action(hello, ctx, {"who": "bob"}, make_converter()).detail
    'hello bob'
    >>> execute_action(hello, attrs.evolve(ctx, dry_run=True), {"who": "bob"},
    ...                make_converter()).outcome
    <MitigationOutcome.DRY_RUN: 'dry_run'>
    """
    typed = structure_params(action, params, converter)
    if context.dry_run:
        described = _describe(typed)
        return MitigationResult.dry_run(
            f"dry run: would run {action.name} with {described}", params=described
        )
    result = _bounded(action.name, "execute", lambda: action.execute(context, typed), action)
    verify = action.verify
    if result.outcome is not MitigationOutcome.APPLIED or verify is None:
        return result
    check = _bounded(action.name, "verification", lambda: verify(context, typed), action)
    passed = check.outcome is MitigationOutcome.APPLIED
    detail = f"{result.detail}; verification {'passed' if passed else 'failed'}"
    if check.detail:
        detail += f": {check.detail}"
    data = {**result.data, **{f"verify_{k}": v for k, v in check.data.items()}}
    return attrs.evolve(result, detail=_clip(detail), data=data, verified=passed)
