"""Mitigations as a capability: requests go through the outbox, outcomes onto the timeline.

``kit.mitigations`` (a :class:`Mitigations` section) requests an action with
typed parameters, records one done by hand, and runs a pending request; the
planner here writes the outbox row of a request in the same transaction, so a
crash between the request and the action leaves the request visibly pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from incidentkit import _validate as check
from incidentkit.engine import Capability, Engine, RecordRule, reacts_to
from incidentkit.errors import NotFound
from incidentkit.events import Event, MitigationCompleted, MitigationRequested, RecordedEvent
from incidentkit.incident import (
    Incident,
    actor,
    decide_mark_mitigated,
    decide_request_mitigation,
    ensure_params,
)
from incidentkit.mitigation._execute import execute_action, structure_params
from incidentkit.mitigation._model import MitigationContext
from incidentkit.serialization import converter, dumps
from incidentkit.store import OutboxMessage
from incidentkit.timers import SYSTEM_ACTOR

__all__ = ["MITIGATION", "Mitigations", "mitigation_rows", "typed_params"]


def typed_params(engine: Engine, action: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` checked against ``action``'s spec, then back to plain JSON data.

    :raises NotFound: when no registered action has that name.
    :raises ValidationError: naming the parameter that does not fit.
    """
    actions = engine.plugins.mitigation_actions()
    spec = actions.get(check.name(action, "action"))
    if spec is None:
        raise NotFound("mitigation action", action, sorted(actions))
    typed = structure_params(spec, ensure_params(params), converter())
    plain: dict[str, Any] = converter().unstructure(typed)
    return plain


@reacts_to(MitigationRequested)
def mitigation_rows(after: Incident, record: RecordedEvent) -> Sequence[OutboxMessage]:
    """The outbox row that runs a requested (not inline) mitigation after commit."""
    event = record.event
    if not isinstance(event, MitigationRequested) or event.inline:
        return []
    payload = {
        "request_id": event.request_id,
        "params": dict(event.params),
        "dry_run": event.dry_run,
        "by": event.by,
    }
    return [
        OutboxMessage(
            key=f"{record.key}:mitigation",
            incident_id=after.id,
            topic="mitigation",
            target=event.action,
            payload=dumps(payload),
            available_at=record.recorded_at,
        )
    ]


class Mitigations:
    """``kit.mitigations``: request, record and run mitigation actions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def request(
        self,
        incident_id: str,
        action: str,
        *,
        by: str,
        params: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        inline: bool = False,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Request a mitigation action (rollback, feature flag, scale, circuit breaker …).

        The request is recorded first; the action runs through the outbox on
        the next ``deliver()`` (or at once, in this call, with ``inline=True``)
        and its outcome (applied, failed or dry run, with detail) is recorded
        after. Bad ``params`` are refused, naming the field, before anything
        is recorded.
        """
        engine = self._engine
        plain = typed_params(engine, action, params)
        who = actor(by)
        result = engine.run(
            incident_id,
            "mitigate",
            who,
            lambda s, _: decide_request_mitigation(
                s, by=who, action=action, params=plain, dry_run=dry_run, inline=inline
            ),
            idempotency_key=idempotency_key,
        )
        if inline:
            request = result.records[0].event
            assert isinstance(request, MitigationRequested)
            return self.run(incident_id, request.request_id, action, plain, who, dry_run)
        return result.state

    def mark_applied(
        self,
        incident_id: str,
        *,
        by: str,
        detail: str,
        action: str = "manual",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Record a mitigation done outside the kit (a hand-run deploy, a config change).

        Authorized as ``mitigate``; stored with its command id as ``mark_mitigated``.
        """
        return self._engine.run(
            incident_id,
            "mitigate",
            by,
            lambda s, _: decide_mark_mitigated(s, by=actor(by), detail=detail, action=action),
            idempotency_key=idempotency_key,
            command="mark_mitigated",
        ).state

    def run(
        self,
        incident_id: str,
        request_id: str,
        action_name: str,
        params: Any,
        requested_by: str,
        dry_run: bool,
    ) -> Incident:
        """Execute a pending request and record how it ended (once per request)."""
        engine = self._engine
        action = engine.plugins.mitigation_actions().get(action_name)
        if action is None:
            known = sorted(engine.plugins.mitigation_actions())
            raise NotFound("mitigation action", action_name, known)
        current = engine.load(incident_id).state
        if request_id not in current.pending_mitigations:
            return current  # already run and recorded: never run an action twice
        context = MitigationContext(incident_id, requested_by, engine.now(), dry_run, request_id)
        result = execute_action(action, context, params, converter())
        detail = result.detail
        outcome = result.outcome.value
        if result.verified is False:
            outcome = "unverified"  # applied, but the health check did not confirm it
        if result.verified is not None:
            detail = f"{detail} (verified: {'yes' if result.verified else 'no'})".strip()

        def decide(state: Incident, _: datetime) -> list[Event]:
            if request_id not in state.pending_mitigations:
                return []  # another worker already recorded the outcome
            return [
                MitigationCompleted(
                    by=SYSTEM_ACTOR,
                    request_id=request_id,
                    action=action_name,
                    outcome=outcome,
                    detail=detail,
                )
            ]

        return engine.system(incident_id, "mitigate", decide).state


def _recorded_request(engine: Engine, state: Incident, event: Event, _: datetime) -> list[Event]:
    """What :meth:`Mitigations.request` records for the request ``event`` describes.

    Never inline: only ``request(inline=True)`` runs the action in the same call.
    """
    assert isinstance(event, MitigationRequested)
    plain = typed_params(engine, event.action, event.params)
    return decide_request_mitigation(
        state, by=event.by, action=event.action, params=plain, dry_run=event.dry_run, inline=False
    )


def _recorded_outcome(_: Engine, state: Incident, event: Event, __: datetime) -> list[Event]:
    """What :meth:`Mitigations.mark_applied` records; a pending request's outcome is the kit's."""
    assert isinstance(event, MitigationCompleted)
    return decide_mark_mitigated(state, by=event.by, detail=event.detail, action=event.action)


MITIGATION = Capability(
    name="mitigations",
    events=(MitigationRequested, MitigationCompleted),
    outbox=(mitigation_rows,),
    section=Mitigations,
    recordable={
        MitigationRequested: RecordRule("mitigate", _recorded_request),
        MitigationCompleted: RecordRule("mitigate", _recorded_outcome),
    },
)
"""The built-in mitigation capability (always registered)."""
