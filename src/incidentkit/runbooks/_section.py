"""``kit.runbooks``: load, match, attach, mitigate, and the evergreen review ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import attrs

from incidentkit.checklists import ItemState
from incidentkit.engine import Engine
from incidentkit.errors import ConcurrencyConflict, NotFound, StoreError
from incidentkit.events import Event, RecordedEvent
from incidentkit.incident import Incident, actor
from incidentkit.lifecycle import Status
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.runbooks._match import RunbookIndex
from incidentkit.runbooks._model import Alert, Runbook, RunbookMatch, RunbookProblem
from incidentkit.runbooks._parse import Checker, load_directory
from incidentkit.runbooks.capability import (
    RunbookReviewDue,
    RunbookReviewed,
    attachments,
    decide_attach,
)
from incidentkit.serialization import converter, dumps, event_to_json
from incidentkit.severity import Severity
from incidentkit.store import OutboxMessage, StoredEvent, SummaryQuery
from incidentkit.timeline import GENESIS_HASH, chain_hash
from incidentkit.timers import SYSTEM_ACTOR

__all__ = ["ReviewStatus", "RunbookUsage", "Runbooks", "ledger_id"]


@attrs.frozen
class ReviewStatus:
    """A runbook's evergreen state: last review, the next due date, reminders sent."""

    runbook: str
    last_reviewed: date | None
    next_due: date | None
    reminded: tuple[date, ...] = ()


@attrs.frozen
class RunbookUsage:
    """How a runbook was used, from the store: feeds its review.

    ``attached`` counts incidents it was attached to, ``matched`` those where
    it was attached because it matched (with a recorded reason);
    ``skipped`` and ``done`` count, per step key, how often the step was
    skipped or done; ``incidents`` are the related incidents (newest first).
    """

    runbook: str
    attached: int
    matched: int
    skipped: dict[str, int] = attrs.field(factory=dict)
    done: dict[str, int] = attrs.field(factory=dict)
    incidents: tuple[str, ...] = ()


def ledger_id(runbook: str) -> str:
    """The store stream of a runbook's evergreen ledger: ``runbook.<id>`` (not an incident)."""
    return f"runbook.{runbook}"


class Runbooks:
    """``kit.runbooks``: the runbook library of this kit and its commands.

    :meth:`load` reads a directory (refused whole on any error); :meth:`match`
    ranks runbooks for an alert; :meth:`attach` turns a runbook's steps into
    an incident checklist; :meth:`mitigate` runs a Quick Mitigation option
    (dry run, then for real); :meth:`tick` sends evergreen review reminders.
    Runbook escalation rules and evergreen reminders both fire from the
    kit's own ``tick()`` (this section registers :meth:`tick` as an engine sweep).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._runbooks: dict[str, Runbook] = {}
        self._index = RunbookIndex(())
        self.warnings: tuple[RunbookProblem, ...] = ()
        # runbook id -> a date before which its review is surely not due: another
        # replica's reminder or review only moves the due date later.
        self._not_before: dict[str, date] = {}
        engine.sweeps["runbooks"] = self.tick  # evergreen reminders run with the kit's tick()
        directory = engine.policy.runbooks.directory
        if directory is not None:
            self.load(directory)  # at start: a bad directory stops the kit, listing every problem

    # --- the library ---------------------------------------------------------

    def checker(self) -> Checker:
        """What runbooks are validated against: this kit's policy and registered actions."""
        return Checker(self._engine.policy, self._engine.plugins.mitigation_actions())

    def check(
        self, directory: str | Path
    ) -> tuple[tuple[Runbook, ...], tuple[RunbookProblem, ...]]:
        """Validate a directory without loading it: ``(runbooks, warnings)``.

        :raises RunbookError: listing every error with file and line.
        """
        return load_directory(directory, self.checker())

    def load(self, directory: str | Path) -> tuple[Runbook, ...]:
        """Replace the library with the runbooks of ``directory`` (all or nothing)."""
        runbooks, warnings = self.check(directory)
        self.use(runbooks)
        self.warnings = warnings
        return runbooks

    def use(self, runbooks: Sequence[Runbook]) -> None:
        """Replace the library with already-loaded runbooks (ids must be unique)."""
        by_id: dict[str, Runbook] = {}
        for runbook in runbooks:
            if runbook.id in by_id:
                from incidentkit.errors import ValidationError

                raise ValidationError("runbooks", f"{runbook.id!r} appears twice")
            by_id[runbook.id] = runbook
        self._runbooks = dict(sorted(by_id.items()))
        self._index = RunbookIndex(self._runbooks.values())
        self._not_before = {}
        self.warnings = ()

    @property
    def all(self) -> tuple[Runbook, ...]:
        """The loaded runbooks, ordered by id."""
        return tuple(self._runbooks.values())

    def get(self, runbook_id: str) -> Runbook:
        """The loaded runbook ``runbook_id``; :class:`NotFound` lists the known ids."""
        found = self._runbooks.get(runbook_id)
        if found is None:
            raise NotFound("runbook", runbook_id, sorted(self._runbooks))
        return found

    def match(self, alert: Alert) -> list[RunbookMatch]:
        """The runbooks for ``alert``, strongest first, each with its reasons.

        The order: the ``runbook_url`` annotation, alert label matchers,
        services, symptom keywords; then more specific first, then by id.
        """
        if not isinstance(alert, Alert):
            from incidentkit.errors import ValidationError

            raise ValidationError("alert", f"expected an Alert, got {type(alert).__name__}")
        return self._index.match(alert)

    # --- commands on incidents ----------------------------------------------

    def attach(
        self,
        incident_id: str,
        runbook_id: str,
        *,
        by: str,
        reasons: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> Incident:
        """Attach a runbook: its triage and resolution steps become checklist ``runbook-<id>``.

        Attaching a runbook that is already attached appends nothing.
        """
        runbook = self.get(runbook_id)
        who = actor(by)
        return self._engine.run(
            incident_id,
            "attach_runbook",
            who,
            lambda s, _: decide_attach(s, runbook, by=who, reasons=reasons),
            idempotency_key=idempotency_key,
        ).state

    def attach_matching(
        self, incident_id: str, alert: Alert, *, by: str
    ) -> tuple[Incident, list[RunbookMatch]]:
        """Attach the strongest match for ``alert`` (what alert intake calls on declaration).

        Returns the state and every match; with no match nothing is appended.
        """
        matches = self.match(alert)
        if not matches:
            return self._engine.load(incident_id).state, matches
        best = matches[0]
        return self.attach(incident_id, best.runbook, by=by, reasons=best.reasons), matches

    def mitigate(
        self,
        incident_id: str,
        runbook_id: str,
        option: int | str,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """Run Quick Mitigation ``option`` (number or title): a dry run, then for real.

        Both go through ``kit.mitigations.request`` inline, with the option's
        typed parameters: the dry run records on the timeline exactly what
        would run, then the action runs and its outcome is recorded. With
        ``idempotency_key``, a repeated call runs nothing again.
        """
        from incidentkit.errors import ValidationError
        from incidentkit.mitigation.capability import Mitigations

        runbook = self.get(runbook_id)
        chosen = runbook.mitigation(option)
        if chosen.action is None:
            raise ValidationError(
                "option", f"{chosen.title!r} of runbook {runbook.id!r} names no action"
            )
        mitigations = Mitigations(self._engine)
        keys = (
            (None, None)
            if idempotency_key is None
            else (
                f"{idempotency_key}-dry",
                f"{idempotency_key}-run",
            )
        )
        params = dict(chosen.params)
        mitigations.request(
            incident_id,
            chosen.action,
            by=by,
            params=params,
            dry_run=True,
            inline=True,
            idempotency_key=keys[0],
        )
        return mitigations.request(
            incident_id,
            chosen.action,
            by=by,
            params=params,
            inline=True,
            idempotency_key=keys[1],
        )

    # --- usage and related incidents -------------------------------------------

    def usage(self, runbook_id: str) -> RunbookUsage:
        """How often the runbook was attached (and matched) and which steps were skipped."""
        self.get(runbook_id)
        attached = matched = 0
        skipped: Counter[str] = Counter()
        done: Counter[str] = Counter()
        related: list[tuple[datetime, str]] = []
        for summary in self._engine.store.summaries(SummaryQuery()):
            state = self._engine.load(summary.incident_id).state
            found = [a for a in attachments(state) if a.runbook == runbook_id]
            if not found:
                continue
            attached += 1
            matched += bool(found[0].reasons)
            related.append((state.declared_at, state.id))
            for key, item in state.checklists.get(found[0].checklist, {}).items():
                if item.state is ItemState.SKIPPED:
                    skipped[key] += 1
                elif item.state is ItemState.DONE:
                    done[key] += 1
        related.sort(reverse=True)
        return RunbookUsage(
            runbook_id, attached, matched, dict(skipped), dict(done), tuple(i for _, i in related)
        )

    def related(self, runbook_id: str) -> tuple[str, ...]:
        """The incidents the runbook was attached to, newest first."""
        return self.usage(runbook_id).incidents

    # --- evergreen -------------------------------------------------------------

    def _ledger(self, runbook_id: str) -> tuple[list[Event], int, str]:
        rows = self._engine.store.load(ledger_id(runbook_id))
        events = [self._engine.decode(row).event for row in rows]
        if events and not isinstance(events[0], RunbookReviewDue | RunbookReviewed):
            raise StoreError(
                f"{ledger_id(runbook_id)} is an incident's timeline, not the review ledger "
                f"of runbook {runbook_id!r}; rename the incident or the runbook"
            )
        version = rows[-1].version if rows else 0
        head = rows[-1].hash if rows else GENESIS_HASH
        return events, version, head

    def review_status(self, runbook_id: str) -> ReviewStatus:
        """When the runbook was last reviewed and when the next review is due."""
        runbook = self.get(runbook_id)
        events, _, _ = self._ledger(runbook_id)
        return self._status(runbook, events)

    def _status(self, runbook: Runbook, events: Sequence[Event]) -> ReviewStatus:
        reviewed = [e.on for e in events if isinstance(e, RunbookReviewed)]
        dates = [d for d in (runbook.last_reviewed, *reviewed) if d is not None]
        last = max(dates) if dates else None
        reminded = tuple(e.due_on for e in events if isinstance(e, RunbookReviewDue))
        every = runbook.review_every
        if every is None or (last is None and not reminded):
            return ReviewStatus(runbook.id, last, None, reminded)
        if last is not None:
            due, after = last + every, [d for d in reminded if d > last]
        else:  # never reviewed: the first reminder starts the cycle
            due, after = reminded[0], list(reminded)
        while after and due <= max(after):
            due += every
        return ReviewStatus(runbook.id, last, due, reminded)

    def _append(
        self, runbook: Runbook, event: Event, now: datetime, outbox: bool
    ) -> RecordedEvent | None:
        """Append ``event`` to the ledger unless it is no longer due; retried on a lost race."""
        store = self._engine.store
        stream = ledger_id(runbook.id)
        for _ in range(10):
            events, version, head = self._ledger(runbook.id)
            if isinstance(event, RunbookReviewDue):
                status = self._status(runbook, events)
                if event.due_on in status.reminded:
                    return None  # another replica recorded it
            payload = event_to_json(event)
            digest = chain_hash(head, stream, version + 1, now, payload)
            row = StoredEvent(stream, version + 1, event.tag, payload, now, digest)
            record = RecordedEvent(stream, version + 1, now, event, digest)
            rows = self._reminder_rows(runbook, record) if outbox else []
            try:
                store.append(stream, [row], version, outbox=rows)
            except ConcurrencyConflict:
                continue
            return record
        raise ConcurrencyConflict(stream, version, store.version(stream))

    def _reminder_rows(self, runbook: Runbook, record: RecordedEvent) -> list[OutboxMessage]:
        event = record.event
        assert isinstance(event, RunbookReviewDue)
        ref = IncidentRef(
            id=record.incident_id,
            title=f"Runbook review: {runbook.title}",
            severity=runbook.severity or Severity.SEV4,
            status=Status.DECLARED,
            url=runbook.url,
            services=runbook.services,
        )
        text = (
            f"Runbook {runbook.id} ({runbook.title}) is due for review since "
            f"{event.due_on.isoformat()}; source: {runbook.source or '-'}"
        )
        notification = Notification(
            key=f"runbooks:review:{runbook.id}:{event.due_on.isoformat()}",
            kind=NotificationKind.REMINDER,
            incident=ref,
            text=text,
            created_at=record.recorded_at,
            urgency=Urgency.LOW,
            targets=(event.owner,) if event.owner else (),
        )
        payload = dumps(converter().unstructure(notification))
        return [
            OutboxMessage(
                key=f"{notification.key}:{name}",
                incident_id=record.incident_id,
                topic="notification",
                target=name,
                payload=payload,
                available_at=record.recorded_at,
            )
            for name, spec in self._engine.plugins.notifiers().items()
            if spec.wants(NotificationKind.REMINDER)
        ]

    def tick(self, at: datetime | None = None) -> tuple[RecordedEvent, ...]:
        """Evergreen: remind each owner whose runbook's review is due, once per due date.

        The reminder is recorded on the runbook's ledger (``runbook.<id>``)
        with its notification rows in one append, so replicas ticking at once
        record it once. Dates are in the policy's zone.
        """
        from incidentkit._time import ensure_aware

        now = ensure_aware(at, "at") if at is not None else self._engine.now()
        today = now.astimezone(self._engine.policy.zone).date()
        fired: list[RecordedEvent] = []
        for runbook in self._runbooks.values():
            if runbook.review_every is None:
                continue
            skip_until = self._not_before.get(runbook.id)
            if skip_until is not None and today < skip_until:
                continue  # no store read on most ticks
            events, _, _ = self._ledger(runbook.id)
            status = self._status(runbook, events)
            due = status.next_due
            if due is None and status.last_reviewed is None:
                due = today  # never reviewed: due now
            if due is not None and due > today:
                self._not_before[runbook.id] = due
            if due is None or due > today:
                continue
            assert runbook.review_every is not None
            while due + runbook.review_every <= today:  # missed periods collapse into one
                due += runbook.review_every
            event = RunbookReviewDue(
                by=SYSTEM_ACTOR, runbook=runbook.id, due_on=due, owner=runbook.owner
            )
            record = self._append(runbook, event, now, outbox=True)
            if record is not None:
                fired.append(record)
            self._not_before.pop(runbook.id, None)
        return tuple(fired)

    def mark_reviewed(self, runbook_id: str, *, by: str, on: date | None = None) -> ReviewStatus:
        """Record a review (``on`` defaults to today); the next review is due from it."""
        runbook = self.get(runbook_id)
        now = self._engine.now()
        day = on if on is not None else now.astimezone(self._engine.policy.zone).date()
        self._append(runbook, RunbookReviewed(by=actor(by), runbook=runbook.id, on=day), now, False)
        return self.review_status(runbook_id)
