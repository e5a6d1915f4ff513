"""Shift duties: the guide's checklists handed to the person at shift start and end.

The people capability's periodic hook (:func:`shift_duties`) runs on every
``kit.tick()``. For each shift of each layer of each schedule that started
or ended in the last :data:`DUTY_WINDOW` up to the tick, it enqueues one
message to the person holding it:

* at the start, the guide's before-shift and during-shift checklists
  (:func:`incidentkit.oncall.duties.shift_start_message`);
* at the end, the after-shift checklist with the handoff report of the shift
  (``kit.people.shift_handoff``: open incidents, open action items, runbooks
  attached during the shift).

Each message is an outbox row of no incident keyed by the boundary
(``shift-duty:<start|end>:<schedule>:<layer>:<person>:<instant>:<notifier>``),
so replicas ticking at once enqueue it once and a later tick never again.
It goes to the notifiers the person's low-urgency contact methods name
(with that method's channel and address), or, when they name none (or the
directory does not list the person), to every notifier that takes reminders.
A kit without a ``[people]`` section sends no duties.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from incidentkit.lifecycle import Status
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.oncall.duties import shift_start_message
from incidentkit.oncall.schedule import Shift
from incidentkit.serialization import converter, dumps
from incidentkit.severity import Severity
from incidentkit.store import OutboxMessage

if TYPE_CHECKING:
    from incidentkit.engine import Engine

__all__ = ["DUTY_WINDOW", "NO_INCIDENT", "ShiftBoundary", "boundaries", "duty_key", "shift_duties"]

DUTY_WINDOW = timedelta(hours=6)
"""How far back a tick looks for shift boundaries it has not handed duties for yet."""

NO_INCIDENT = ""
"""The ``incident_id`` of a duty's outbox row: it belongs to no incident."""

_TICK = timedelta(microseconds=1)


@attrs.frozen
class ShiftBoundary:
    """``shift`` starts (``starting``) or ends at ``at``."""

    shift: Shift
    starting: bool

    @property
    def at(self) -> datetime:
        """The instant of the boundary."""
        return self.shift.start if self.starting else self.shift.end

    @property
    def key(self) -> str:
        """The boundary's key, without the notifier."""
        return duty_key(self.shift, self.starting)


def duty_key(shift: Shift, starting: bool) -> str:
    """``shift-duty:<start|end>:<schedule>:<layer>:<person>:<instant in µs>``."""
    at = shift.start if starting else shift.end
    phase = "start" if starting else "end"
    micros = int(at.timestamp() * 1_000_000)
    return f"shift-duty:{phase}:{shift.schedule}:{shift.layer}:{shift.person}:{micros}"


def boundaries(engine: Engine, now: datetime) -> tuple[ShiftBoundary, ...]:
    """The shift starts and ends in ``(now - DUTY_WINDOW, now]``, in time order."""
    since = now - DUTY_WINDOW
    found: list[ShiftBoundary] = []
    for schedule in engine.policy.oncall.schedules:
        for shift in schedule.shifts(since, now + _TICK):
            if since < shift.start <= now:
                found.append(ShiftBoundary(shift, True))
            if since < shift.end <= now:
                found.append(ShiftBoundary(shift, False))
    found.sort(key=lambda b: (b.at, b.starting, b.key))
    return tuple(found)


def _routes(engine: Engine, person: str) -> list[tuple[str, str | None, str | None]]:
    """``(notifier, channel, address)`` a duty message to ``person`` goes through."""
    found = engine.policy.people.find(person)
    named: list[tuple[str, str | None, str | None]] = []
    if found is not None:
        for _, method in found.effective_rules(Urgency.LOW):
            if method.notifier is not None:
                named.append((method.notifier, method.kind.value, method.address))
    if named:
        return list({n[0]: n for n in named}.values())
    return [
        (name, None, None)
        for name, spec in engine.plugins.notifiers().items()
        if spec.wants(NotificationKind.REMINDER)
    ]


def _text(engine: Engine, boundary: ShiftBoundary) -> str:
    shift = boundary.shift
    if boundary.starting:
        return shift_start_message(
            shift.person, shift.schedule, shift.layer, shift.start, shift.end
        )
    from incidentkit.people.section import People

    section = engine.sections.get("people")
    people = section if isinstance(section, People) else People(engine)
    head = f"Your {shift.schedule}/{shift.layer} shift ended; hand over what is open.\n\n"
    return head + people.shift_handoff(shift).render()


def _rows(engine: Engine, boundary: ShiftBoundary, now: datetime) -> list[OutboxMessage]:
    shift = boundary.shift
    routes = _routes(engine, shift.person)
    if not routes:
        return []
    phase = "starts" if boundary.starting else "ends"
    ref = IncidentRef(
        id=f"shift.{shift.schedule}.{shift.layer}",
        title=f"On-call shift {phase}: {shift.schedule}/{shift.layer} ({shift.person})",
        severity=Severity.SEV4,
        status=Status.DECLARED,
    )
    note = Notification(
        key=boundary.key,
        kind=NotificationKind.REMINDER,
        incident=ref,
        text=_text(engine, boundary),
        created_at=now,
        urgency=Urgency.LOW,
        targets=(shift.person,),
        person=shift.person,
        reason=f"{shift.layer} shift of {shift.schedule} {phase}",
    )
    rows: list[OutboxMessage] = []
    for notifier, channel, address in routes:
        own = attrs.evolve(note, notifier=notifier, channel=channel, address=address)
        rows.append(
            OutboxMessage(
                key=f"{boundary.key}:{notifier}",
                incident_id=NO_INCIDENT,
                topic="notification",
                target=notifier,
                payload=dumps(converter().unstructure(own)),
                available_at=now,
            )
        )
    return rows


def shift_duties(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
    """The periodic hook: duty messages of the shift boundaries of the last hours.

    A boundary whose rows are all stored already is skipped before its
    message (and, at a shift's end, its handoff report) is built.
    """
    if not engine.policy.people.enabled:
        return []
    rows: list[OutboxMessage] = []
    for boundary in boundaries(engine, now):
        wanted = {f"{boundary.key}:{name}" for name, _, _ in _routes(engine, boundary.shift.person)}
        if not wanted or len(engine.known_keys(NO_INCIDENT, wanted)) == len(wanted):
            continue
        known = engine.known_keys(NO_INCIDENT, wanted)
        rows.extend(r for r in _rows(engine, boundary, now) if r.key not in known)
    return rows
