"""``kit.people``: the directory, dry runs, schedule gaps, drills and on-call health."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from incidentkit._time import ensure_aware
from incidentkit.errors import NotFound, ValidationError
from incidentkit.events import Acknowledged
from incidentkit.lifecycle import Status
from incidentkit.metrics import is_drill
from incidentkit.oncall.compensation import RateCard
from incidentkit.oncall.duties import HandoffReport, handoff_report
from incidentkit.oncall.schedule import Shift
from incidentkit.people.capability import PersonPaged
from incidentkit.people.config import Person
from incidentkit.people.drill import DrillReport, DrillScript, run_drill
from incidentkit.people.health import AckRecord, HealthReport, PageRecord, on_call_health
from incidentkit.people.paging import Gap, PlannedPage, find_gaps, who_would_be_paged
from incidentkit.review import Review
from incidentkit.runbooks.capability import RunbookAttached
from incidentkit.severity import Severity
from incidentkit.store import Store, SummaryQuery

if TYPE_CHECKING:
    from incidentkit.engine import Engine

__all__ = ["People"]

_TICK = timedelta(microseconds=1)


class People:
    """``kit.people``: read-only questions about people and paging, plus drills.

    Nothing here writes to the kit's store: :meth:`who_would_be_paged` and
    :meth:`gaps` compute from the policy, :meth:`drill` runs on a throwaway
    store (and records the drill only where the host asks), :meth:`health`
    reads the timelines.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def directory(self) -> tuple[Person, ...]:
        """Everyone in ``[people]``, in order."""
        return self._engine.policy.people.persons

    def person(self, person_id: str) -> Person:
        """The person ``person_id``.

        :raises NotFound: when the directory does not list them.
        """
        return self._engine.policy.people.person(person_id)

    def who_would_be_paged(
        self, severity: Severity | str, at: datetime, *, service: str | None = None
    ) -> tuple[PlannedPage, ...]:
        """Minute by minute, who a ``severity`` incident at ``at`` pages if nobody acknowledges.

        Overrides and DST are resolved at each step's fire time; nothing is recorded.
        """
        return who_would_be_paged(self._engine.policy, severity, at, service=service)

    def gaps(self, start: datetime | None = None, days: int = 90) -> tuple[Gap, ...]:
        """Intervals of the next ``days`` (from ``start``, default now) a paged layer is empty."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
            raise ValidationError("days", f"must be a whole number from 1 to 3660, got {days!r}")
        begin = self._engine.now() if start is None else ensure_aware(start, "start")
        return find_gaps(self._engine.policy, begin, begin + timedelta(days=days))

    def drill(self, script: DrillScript, *, store: Store | None = None) -> DrillReport:
        """Run a drill against this kit's policy on its own store; nothing is sent.

        Nothing is stored here either unless the host passes ``store`` (say
        ``kit.store``): then the drill's timeline is recorded there under its
        ``DRILL-`` id, with no outbox rows and no timer due, and metrics and
        :meth:`health` leave it out unless asked (``include_drills=True``).

        :raises ValidationError: ``script`` not a drill script, ``store`` not
            a store or already holding this drill's id (the store unchanged).
        """
        return run_drill(self._engine.policy, script, record_into=store)

    def handoff(self, person: str, at: datetime | None = None) -> HandoffReport:
        """The handoff report of ``person``'s shift containing ``at`` (default now), or the
        last one that ended before it: open incidents, open review action items, and the
        runbooks attached during the shift, with the guide's after-shift checklist.

        :raises NotFound: when ``person`` held no shift in the 35 days up to ``at``.
        """
        at = self._engine.now() if at is None else ensure_aware(at, "at")
        shifts = [
            shift
            for schedule in self._engine.policy.oncall.schedules
            for shift in schedule.shifts(at - timedelta(days=35), at + _TICK, person=person)
            if shift.start <= at
        ]
        if not shifts:
            raise NotFound("shift", person)
        return self.shift_handoff(max(shifts, key=lambda s: s.end), at)

    def shift_handoff(self, shift: Shift, at: datetime | None = None) -> HandoffReport:
        """The handoff report of ``shift`` as at ``at`` (default: its end).

        What :meth:`handoff` reports for the shift it finds, and what the
        end-of-shift message carries.
        """
        if not isinstance(shift, Shift):
            raise ValidationError("shift", f"expected a Shift, got {type(shift).__name__}")
        person = shift.person
        end = shift.end if at is None else min(shift.end, ensure_aware(at, "at"))
        store = self._engine.store
        open_statuses = [s for s in Status if s.is_open]
        still_open = [
            summary
            for summary in store.summaries(SummaryQuery(statuses=open_statuses))
            if not is_drill(summary.incident_id)
        ]
        items: list[str] = []
        runbooks: list[str] = []
        for summary in store.summaries(SummaryQuery(until=end)):
            state = self._engine.load(summary.incident_id).state
            review = state.extensions.get("review")
            if isinstance(review, Review):
                items.extend(
                    f"{state.id}: {item.title} ({item.owner}, due {item.due.isoformat()})"
                    for item in review.items
                    if item.status.is_open
                )
            if summary.status.is_open or (summary.resolved_at or end) >= shift.start:
                for record in self._engine.timeline(summary.incident_id):
                    if (
                        isinstance(record.event, RunbookAttached)
                        and shift.start <= record.recorded_at < end
                    ):
                        runbooks.append(f"{record.event.runbook} on {state.id}")
        return handoff_report(person, end, still_open, (), items, runbooks)

    def health(
        self,
        start: datetime,
        end: datetime,
        *,
        card: RateCard | None = None,
        include_drills: bool = False,
    ) -> HealthReport:
        """On-call health over ``[start, end)`` from the schedules and the recorded pages.

        Pages of drills recorded in the store (ids starting ``DRILL-``) are
        left out unless ``include_drills``.
        """
        start = ensure_aware(start, "start")
        end = ensure_aware(end, "end")
        if end <= start:
            raise ValidationError("end", "must be after start")
        policy = self._engine.policy
        shifts: list[Shift] = []
        for schedule in policy.oncall.schedules:
            shifts.extend(schedule.shifts(start, end))
        pages: list[PageRecord] = []
        acks: list[AckRecord] = []
        for summary in self._engine.store.summaries(SummaryQuery(until=end)):
            if is_drill(summary.incident_id) and not include_drills:
                continue
            for record in self._engine.timeline(summary.incident_id):
                event = record.event
                if isinstance(event, PersonPaged):
                    page = f"{event.key.split(':', 1)[0]}:{event.loop}:{event.step}:{event.repeat}"
                    pages.append(PageRecord(record.incident_id, event.person, event.due_at, page))
                elif isinstance(event, Acknowledged):
                    acks.append(AckRecord(record.incident_id, event.by, record.recorded_at))
        return on_call_health(policy.people, shifts, pages, acks, start, end, card=card)
