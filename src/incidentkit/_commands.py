"""The incident commands of :class:`~incidentkit.kit.IncidentKit`, each naming its pure handler.

:class:`IncidentCommands` is the core capability's facade section: every
method validates nothing itself and binds its arguments to a handler of
:mod:`incidentkit.incident` (or delegates to a section), then runs it
through the :class:`~incidentkit.engine.Engine`. ``IncidentKit`` inherits
these methods; this module holds no state and no engine logic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from incidentkit.checklists import ItemState
from incidentkit.engine.facade import declare_incident
from incidentkit.events import Conclusion, Event, PublicStatus, Source
from incidentkit.incident import (
    Incident,
    decide_acknowledge,
    decide_assign_role,
    decide_checklist,
    decide_close,
    decide_enter_phase,
    decide_hypothesis,
    decide_note,
    decide_post_update,
    decide_release_role,
    decide_reopen,
    decide_resolve,
    decide_set_severity,
    decide_set_status,
)
from incidentkit.lifecycle import Phase, Status
from incidentkit.roles import Role
from incidentkit.severity import Severity, Signals

if TYPE_CHECKING:
    from incidentkit.engine import Engine
    from incidentkit.mitigation.capability import Mitigations
    from incidentkit.policy import Policy
    from incidentkit.runbooks import Runbooks

__all__ = ["IncidentCommands"]


class IncidentCommands:
    """Declare, staff, update, check, resolve and close incidents (inherited by ``IncidentKit``)."""

    engine: Engine
    policy: Policy
    runbooks: Runbooks
    mitigations: Mitigations
    _id_factory: Callable[[datetime], str]

    def _command(
        self,
        action: str,
        incident_id: str,
        by: object,
        key: str | None,
        handler: Callable[..., Sequence[Event]],
        *,
        timed: bool = False,
    ) -> Incident:
        """Run the pure ``handler(state[, now], by=…)`` (its other arguments bound) as ``action``.

        ``timed`` handlers also take the command's ``now``.
        """

        def decide(state: Incident, now: datetime, who: str) -> Sequence[Event]:
            return handler(state, now=now, by=who) if timed else handler(state, by=who)

        return self.engine.command(incident_id, action, by, decide, idempotency_key=key).state

    def declare(
        self,
        title: str,
        *,
        severity: Severity | str | None = None,
        by: str,
        source: Source = Source.MANUAL,
        started_at: datetime | None = None,
        detected_at: datetime | None = None,
        services: Sequence[str] = (),
        description: str = "",
        signals: Signals | None = None,
        incident_id: str | None = None,
        idempotency_key: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Incident:
        """Declare an incident; returns its state.

        Give ``severity``, or ``signals`` to classify (the reasons are recorded).
        ``incident_id`` makes declaration idempotent across replicas: a second
        declare with the same id raises :class:`ConcurrencyConflict`; ids
        starting ``DRILL-`` are refused (they are drills', which metrics leave
        out). With
        ``[runbooks] auto_attach = true`` the strongest matching runbooks are
        attached right after (``labels`` and ``annotations`` are the alert's,
        matched with the services, title, description and signals; see
        :meth:`Runbooks.declared <incidentkit.runbooks.Runbooks.declared>`).
        """
        return declare_incident(
            self.engine,
            self.runbooks,
            self._id_factory,
            title=title,
            severity=severity,
            by=by,
            source=source,
            started_at=started_at,
            detected_at=detected_at,
            services=services,
            description=description,
            signals=signals,
            incident_id=incident_id,
            idempotency_key=idempotency_key,
            labels=labels,
            annotations=annotations,
        )

    def acknowledge(
        self, incident_id: str, *, by: str, idempotency_key: str | None = None
    ) -> Incident:
        """Acknowledge the incident (stops escalation)."""
        return self._command("acknowledge", incident_id, by, idempotency_key, decide_acknowledge)

    def set_severity(
        self,
        incident_id: str,
        severity: Severity | str,
        *,
        by: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Raise or lower severity, with a reason.

        Escalation restarts under the new severity's policy: its immediate
        steps (a SEV1 page) fire in the same append.
        """

        handler = partial(decide_set_severity, policy=self.policy, severity=severity, reason=reason)
        return self._command("set_severity", incident_id, by, idempotency_key, handler, timed=True)

    def assign_role(
        self,
        incident_id: str,
        role: Role | str,
        person: str,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Assign a role, or hand it over when someone else holds it."""
        handler = partial(decide_assign_role, policy=self.policy, role=role, person=person)
        return self._command("assign_role", incident_id, by, idempotency_key, handler)

    def release_role(
        self, incident_id: str, role: Role | str, *, by: str, idempotency_key: str | None = None
    ) -> Incident:
        """Leave a role vacant."""
        handler = partial(decide_release_role, policy=self.policy, role=role)
        return self._command("release_role", incident_id, by, idempotency_key, handler)

    def enter_phase(
        self, incident_id: str, phase: Phase | str, *, by: str, idempotency_key: str | None = None
    ) -> Incident:
        """Move the response into a phase."""
        handler = partial(decide_enter_phase, phase=phase)
        return self._command("enter_phase", incident_id, by, idempotency_key, handler)

    def set_status(
        self,
        incident_id: str,
        status: Status | str,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Move between open statuses (see :data:`incidentkit.lifecycle.TRANSITIONS`)."""
        handler = partial(decide_set_status, status=status, reason=reason)
        return self._command("set_status", incident_id, by, idempotency_key, handler)

    def add_note(
        self, incident_id: str, text: str, *, by: str, idempotency_key: str | None = None
    ) -> Incident:
        """Add a note to the timeline."""
        handler = partial(decide_note, text=text)
        return self._command("add_note", incident_id, by, idempotency_key, handler)

    def record_hypothesis(
        self,
        incident_id: str,
        hypothesis: str,
        *,
        by: str,
        test: str = "",
        result: str = "",
        conclusion: Conclusion | str = Conclusion.INCONCLUSIVE,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Record a hypothesis, how it was tested, the result and the conclusion."""
        handler = partial(
            decide_hypothesis,
            hypothesis=hypothesis,
            test=test,
            result=result,
            conclusion=conclusion,
        )
        return self._command("record_hypothesis", incident_id, by, idempotency_key, handler)

    def post_update(
        self,
        incident_id: str,
        status: PublicStatus | str,
        message: str,
        *,
        by: str,
        audience: str = "public",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Post a stakeholder update (investigating, identified, monitoring, resolved).

        It resets the update cadence only when ``audience`` is one the policy's
        ``[status] cadence_audiences`` names (default: the status pages' audiences).
        """
        handler = partial(
            decide_post_update,
            status=status,
            message=message,
            audience=audience,
            policy=self.policy,
        )
        return self._command("post_update", incident_id, by, idempotency_key, handler)

    def check(
        self,
        incident_id: str,
        checklist: str,
        item: str,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Mark a checklist item done."""
        handler = partial(
            decide_checklist, checklist=checklist, item=item, new_state=ItemState.DONE
        )
        return self._command("check", incident_id, by, idempotency_key, handler)

    def skip(
        self,
        incident_id: str,
        checklist: str,
        item: str,
        *,
        by: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Skip a checklist item; a reason is required."""
        handler = partial(
            decide_checklist,
            checklist=checklist,
            item=item,
            new_state=ItemState.SKIPPED,
            reason=reason,
        )
        return self._command("skip", incident_id, by, idempotency_key, handler)

    def not_applicable(
        self,
        incident_id: str,
        checklist: str,
        item: str,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Mark a checklist item not applicable."""
        handler = partial(
            decide_checklist,
            checklist=checklist,
            item=item,
            new_state=ItemState.NOT_APPLICABLE,
            reason=reason,
        )
        return self._command("not_applicable", incident_id, by, idempotency_key, handler)

    def resolve(
        self,
        incident_id: str,
        *,
        by: str,
        summary: str = "",
        force: bool = False,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Resolve; refused with :class:`GuardFailed` while required criteria are open.

        ``force=True`` with a ``reason`` overrides the open criteria; both are
        recorded on the timeline. Targets missed since the last tick are
        recorded in the same append, before the resolution.
        """
        handler = partial(
            decide_resolve, policy=self.policy, summary=summary, force=force, reason=reason
        )
        return self._command("resolve", incident_id, by, idempotency_key, handler, timed=True)

    def reopen(
        self, incident_id: str, *, by: str, reason: str, idempotency_key: str | None = None
    ) -> Incident:
        """Reopen a resolved incident."""
        handler = partial(decide_reopen, reason=reason)
        return self._command("reopen", incident_id, by, idempotency_key, handler)

    def close(
        self,
        incident_id: str,
        *,
        by: str,
        reason: str = "",
        force: bool = False,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Close a resolved incident; refused with :class:`GuardFailed` while
        required items of ``policy.closing_checklist`` (recovery) are open.

        ``force=True`` with a ``reason`` overrides them; both are recorded.
        """
        handler = partial(decide_close, policy=self.policy, reason=reason, force=force)
        return self._command("close", incident_id, by, idempotency_key, handler)

    def mark_mitigated(
        self,
        incident_id: str,
        *,
        by: str,
        detail: str,
        action: str = "manual",
        idempotency_key: str | None = None,
    ) -> Incident:
        """Record a mitigation done outside the kit (a hand-run deploy, a config change).

        The first applied mitigation sets ``mitigated_at`` (the MTTM milestone).
        Same as ``kit.mitigations.mark_applied``.
        """
        return self.mitigations.mark_applied(
            incident_id, by=by, detail=detail, action=action, idempotency_key=idempotency_key
        )
