"""``kit.runbooks``: load, match, attach, mitigate, and evergreen reviews."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import attrs

from incidentkit._validate import MAX_ITEMS, shown
from incidentkit.checklists import ItemState
from incidentkit.engine import Engine
from incidentkit.errors import NotFound, ValidationError
from incidentkit.incident import Incident, actor
from incidentkit.lifecycle import Status
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.runbooks._match import RunbookIndex
from incidentkit.runbooks._model import Alert, Runbook, RunbookMatch, RunbookProblem
from incidentkit.runbooks._parse import Checker, load_directory
from incidentkit.runbooks.capability import attachments, decide_attach
from incidentkit.serialization import converter, dumps
from incidentkit.severity import Severity, Signals
from incidentkit.store import OutboxMessage, SummaryQuery

__all__ = [
    "ReviewStatus",
    "RunbookUsage",
    "Runbooks",
    "declaration_alert",
    "describe_usage",
    "reminder_key",
    "review_status",
]


@attrs.frozen
class ReviewStatus:
    """A runbook's evergreen state on a given day (see :func:`review_status`).

    ``next_due`` is when the review falls due (``None``: no ``review_every``);
    ``overdue`` says it is past, and ``due_on`` is then the due date the
    reminder is for; ``owner`` is who is reminded.
    """

    runbook: str
    last_reviewed: date | None
    next_due: date | None
    overdue: bool = False
    due_on: date | None = None
    owner: str | None = None


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


class Runbooks:
    """``kit.runbooks``: the runbook library of this kit and its commands.

    :meth:`load` reads a directory (refused whole on any error); :meth:`match`
    ranks runbooks for an alert; :meth:`attach` turns a runbook's steps into
    an incident checklist; :meth:`mitigate` runs a Quick Mitigation option
    (dry run, then for real). Runbook escalation rules fire from the kit's
    ``tick()``; evergreen reviews are computed from the files
    (:meth:`review_status`, :meth:`overdue`) and :meth:`remind` enqueues each
    owner's reminder once per due date as an outbox row of no incident.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._runbooks: dict[str, Runbook] = {}
        self._index = RunbookIndex(())
        self._settled: tuple[date, tuple[str, ...]] | None = None
        self.warnings: tuple[RunbookProblem, ...] = ()
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
                raise ValidationError("runbooks", f"{runbook.id!r} appears twice")
            by_id[runbook.id] = runbook
        self._runbooks = dict(sorted(by_id.items()))
        self._index = RunbookIndex(self._runbooks.values())
        self._settled = None
        self.warnings = ()

    @property
    def all(self) -> tuple[Runbook, ...]:
        """The loaded runbooks, ordered by id."""
        return tuple(self._runbooks.values())

    def __len__(self) -> int:
        """How many runbooks are loaded."""
        return len(self._runbooks)

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

    def attach_strongest(
        self,
        incident_id: str,
        alert: Alert,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> tuple[Incident, list[RunbookMatch]]:
        """Attach every match of the strongest rule ``alert`` matched by; ``(state, attached)``.

        Several runbooks matched under the best rule (two label matchers of
        the same alert) are all attached, in match order; weaker candidates
        (a service match when a label matcher matched) are not. Runbooks
        already attached append nothing. No match: nothing is appended.
        """
        matches = self.match(alert)
        best = [m for m in matches if m.rule == matches[0].rule] if matches else []
        state = None
        for n, found in enumerate(best):
            key = None if idempotency_key is None else f"{idempotency_key}:runbook:{n}"
            state = self.attach(
                incident_id, found.runbook, by=by, reasons=found.reasons, idempotency_key=key
            )
        return (state if state is not None else self._engine.load(incident_id).state), best

    def declared(
        self,
        incident_id: str,
        alert: Alert,
        *,
        by: str,
        idempotency_key: str | None = None,
    ) -> Incident:
        """What a declaration calls: auto-attach when the policy's ``[runbooks] auto_attach`` is on.

        This is the contract for alert intake: once the incident is declared
        from an alert, call ``kit.runbooks.declared(incident_id,
        Alert(labels=…, annotations=…, services=…, text=…), by=…)``. With
        ``auto_attach = true`` it runs :meth:`attach_strongest` (each attach
        is the ``attach_runbook`` command of ``by``, on the timeline with its
        reasons); otherwise, or with no match, it appends nothing. Returns
        the incident's state.
        """
        if not isinstance(alert, Alert):
            raise ValidationError("alert", f"expected an Alert, got {type(alert).__name__}")
        if not self._engine.policy.runbooks.auto_attach or not self._runbooks:
            return self._engine.load(incident_id).state
        return self.attach_strongest(incident_id, alert, by=by, idempotency_key=idempotency_key)[0]

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

    def _today(self, at: datetime | None) -> tuple[datetime, date]:
        from incidentkit._time import ensure_aware

        now = ensure_aware(at, "at") if at is not None else self._engine.now()
        return now, now.astimezone(self._engine.policy.zone).date()

    def review_status(self, runbook_id: str, *, at: datetime | None = None) -> ReviewStatus:
        """When the runbook's review is due, and whether it is overdue at ``at`` (default now).

        Computed from the runbook file alone (``review_every``, ``last_reviewed``,
        dates in the policy's zone); nothing is read from or written to the store.
        """
        return review_status(self.get(runbook_id), self._today(at)[1])

    def reviews(self, *, at: datetime | None = None) -> tuple[ReviewStatus, ...]:
        """:meth:`review_status` of every loaded runbook, ordered by id."""
        today = self._today(at)[1]
        return tuple(review_status(r, today) for r in self._runbooks.values())

    def overdue(self, *, at: datetime | None = None) -> tuple[ReviewStatus, ...]:
        """The loaded runbooks whose review is overdue at ``at``, ordered by id."""
        return tuple(s for s in self.reviews(at=at) if s.overdue)

    def remind(self, at: datetime | None = None) -> tuple[ReviewStatus, ...]:
        """Evergreen: enqueue a reminder to the owner of each overdue runbook, once per due date.

        The kit's ``tick()`` does the same (the capability's periodic hook);
        call this from a host that does not tick. Each reminder is one outbox
        row per notifier that wants reminders, keyed
        ``runbook-review:<id>:<due date>:<notifier>``; the outbox key is
        unique, so replicas reminding at once enqueue each reminder once, and
        :meth:`~incidentkit.IncidentKit.deliver` sends it. The rows belong to
        no incident (their ``incident_id`` is ``""``): nothing is added to any
        incident's timeline. The reminder's text carries the runbook's
        :meth:`usage` (attachments, skipped steps, related incidents) for the
        review. Returns the reviews whose reminder this call enqueued (a
        concurrent replica may report the same one).
        """
        now = self._today(at)[0]
        rows = self.reminders(now)
        enqueued = set(self._engine.enqueue(rows))
        fresh = {m.key.rsplit(":", 1)[0] for m in rows if m.key in enqueued}
        today = self._today(now)[1]
        return tuple(
            status
            for status in (review_status(r, today) for r in self._runbooks.values())
            if status.due_on is not None and reminder_key(status.runbook, status.due_on) in fresh
        )

    def reminders(self, now: datetime) -> list[OutboxMessage]:
        """The outbox rows of the review reminders due at ``now`` not yet in the outbox.

        What the capability's periodic hook hands ``tick()``; a reminder
        already enqueued is left out before its usage is read from the store.
        Once every reminder due on a day is known to be stored, later calls
        that day return at once (outbox rows are never deleted; loading a
        library starts over).
        """
        now, today = self._today(now)
        notifiers = tuple(
            name
            for name, spec in self._engine.plugins.notifiers().items()
            if spec.wants(NotificationKind.REMINDER)
        )
        settled = (today, notifiers)
        if self._settled == settled:
            return []
        due = [s for s in (review_status(r, today) for r in self._runbooks.values()) if s.overdue]
        if not due or not notifiers:
            self._settled = settled
            return []
        wanted = {
            f"{reminder_key(s.runbook, s.due_on)}:{name}": s
            for s in due
            if s.due_on is not None
            for name in notifiers
        }
        known = self._engine.known_keys(NO_INCIDENT, wanted)
        if len(known) == len(wanted):
            self._settled = settled
            return []
        rows: list[OutboxMessage] = []
        for status in dict.fromkeys(s for k, s in wanted.items() if k not in known):
            runbook = self._runbooks[status.runbook]
            rows.extend(
                m
                for m in self._reminder_rows(runbook, status, now, notifiers)
                if m.key not in known
            )
        return rows

    def _reminder_rows(
        self, runbook: Runbook, status: ReviewStatus, now: datetime, notifiers: Sequence[str]
    ) -> list[OutboxMessage]:
        assert status.due_on is not None
        ref = IncidentRef(
            id=f"runbook.{runbook.id}",
            title=f"Runbook review: {runbook.title}",
            severity=runbook.severity or Severity.SEV4,
            status=Status.DECLARED,
            url=runbook.url,
            services=runbook.services,
        )
        text = (
            f"Runbook {runbook.id} ({runbook.title}) is due for review since "
            f"{status.due_on.isoformat()}; source: {runbook.source or '-'}; "
            f"{describe_usage(self.usage(runbook.id))}"
        )
        notification = Notification(
            key=reminder_key(runbook.id, status.due_on),
            kind=NotificationKind.REMINDER,
            incident=ref,
            text=text,
            created_at=now,
            urgency=Urgency.LOW,
            targets=(runbook.owner,) if runbook.owner else (),
        )
        payload = dumps(converter().unstructure(notification))
        return [
            OutboxMessage(
                key=f"{notification.key}:{name}",
                incident_id=NO_INCIDENT,
                topic="notification",
                target=name,
                payload=payload,
                available_at=now,
            )
            for name in notifiers
        ]


NO_INCIDENT = ""
"""The ``incident_id`` of an outbox row that belongs to no incident (a review reminder)."""

EPOCH = date(1970, 1, 1)
"""Where the review periods of a never-reviewed runbook start (the same on every replica)."""


def declaration_alert(
    *,
    title: str = "",
    description: str = "",
    services: Sequence[str] = (),
    signals: Signals | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Alert:
    """The :class:`Alert` a declaration is matched as: its labels, annotations and services.

    Its text is the title and description, plus a phrase per observed
    signal (``error_rate`` → "error rate", ``latency_seconds`` → "latency",
    ``database_unavailable`` → "database", ``security_breach`` → "breach" …)
    so the symptom keywords of the six common runbooks find them.

    :raises ValidationError: (``labels``, ``annotations``) not a table of
        strings, naming the bad key.
    """
    # title, description and services are the declaration's, checked by its
    # command; here anything but text is left out of the match.
    words = [w for w in (title, description) if isinstance(w, str)]
    given: Sequence[object] = services if isinstance(services, list | tuple) else ()
    named = tuple(s for s in given if isinstance(s, str))
    if isinstance(signals, Signals):
        for field, phrase in _SIGNAL_PHRASES:
            value = getattr(signals, field)
            if value is not None and value is not False:
                words.append(phrase)
    return Alert(
        labels=_string_map(labels, "labels"),
        annotations=_string_map(annotations, "annotations"),
        services=named,
        text="\n".join(w for w in words if w),
    )


_SIGNAL_PHRASES: tuple[tuple[str, str], ...] = (
    ("error_rate", "error rate"),
    ("all_requests_failing", "error rate"),
    ("latency_seconds", "latency"),
    ("slow_endpoints", "latency"),
    ("replication_lag_seconds", "database"),
    ("database_unavailable", "database"),
    ("security_breach", "breach"),
    ("payments_broken", "payments"),
)
"""Signals field → the symptom phrase it adds to a declaration's alert text."""


def _string_map(value: object, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"expected a table of strings, got {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise ValidationError(field, f"more than {MAX_ITEMS} entries")
    found: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(field, f"key {shown(key)} is not a non-empty string")
        if not isinstance(item, str):
            raise ValidationError(f"{field}.{key}", f"expected a string, got {shown(item)}")
        found[key] = item
    return found


def describe_usage(usage: RunbookUsage) -> str:
    """The usage line of a review reminder: attachments, matches, skipped steps, incidents."""
    parts = [f"attached to {usage.attached} incident(s), {usage.matched} by matching"]
    if usage.skipped:
        skipped = ", ".join(f"{k} x{n}" for k, n in sorted(usage.skipped.items()))
        parts.append(f"steps skipped: {skipped}")
    if usage.incidents:
        shown = ", ".join(usage.incidents[:5])
        more = f" and {len(usage.incidents) - 5} more" if len(usage.incidents) > 5 else ""
        parts.append(f"related incidents: {shown}{more}")
    return "; ".join(parts)


def reminder_key(runbook_id: str, due_on: date) -> str:
    """The idempotency key of a review reminder: ``runbook-review:<id>:<due date>``."""
    return f"runbook-review:{runbook_id}:{due_on.isoformat()}"


def review_status(runbook: Runbook, today: date) -> ReviewStatus:
    """The runbook's review state on ``today``, from its file alone (pure).

    The review falls due every ``review_every`` from ``last_reviewed``
    (``next_due`` is ``last_reviewed + review_every``). When overdue,
    ``due_on`` is the latest due date on or before ``today`` (missed periods
    collapse into one): a reminder is sent once per ``due_on``. A runbook
    never reviewed is overdue at once; its periods count from 1970-01-01, so
    every replica computes the same ``due_on``.
    """
    every = runbook.review_every
    last = runbook.last_reviewed
    if every is None:
        return ReviewStatus(runbook.id, last, None, owner=runbook.owner)
    days = max(1, every.days)
    if last is None:
        due_on = EPOCH + timedelta(days=((today - EPOCH).days // days) * days)
        return ReviewStatus(runbook.id, None, due_on, True, due_on, runbook.owner)
    first = last + timedelta(days=days)
    if today < first:
        return ReviewStatus(runbook.id, last, first, owner=runbook.owner)
    due_on = first + timedelta(days=((today - first).days // days) * days)
    return ReviewStatus(runbook.id, last, first, True, due_on, runbook.owner)
