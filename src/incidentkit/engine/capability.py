"""Capabilities: how a module adds events, rules, timers, notifications and a facade section.

A capability is data: a :class:`Capability` names what it contributes, and the
:class:`~incidentkit.engine.Engine` it is registered on wires each part in.
Nothing in ``kit.py``, ``events.py`` or the stores changes when one is added.

* ``events``: its event classes (registered with
  :func:`incidentkit.events.register_event`) and, in ``folds``, how each one
  changes the incident state (:func:`incidentkit.incident.register_fold`);
* ``timers``: :class:`TimerSource` s that ``tick()`` evaluates and whose
  earliest due instant goes into the summary's ``next_due_at``;
* ``routes``: pure functions from a recorded event (and the state after it)
  to the notifications it implies;
* ``follow_ups``: pure functions from the state an append leaves to the
  events that belong in the same append (the review created by the resolve
  that reaches its trigger); asked again after their own events until all
  return nothing;
* ``outbox``: pure functions from a recorded event to other outbox rows
  (a mitigation request, a status-page post);
* ``keys``: pure functions from a recorded event to the unique open keys it
  claims or releases (:class:`~incidentkit.store.KeyClaim`, an alert's dedup
  key), written in the append's transaction by a
  :class:`~incidentkit.store.KeyStore`: an append whose key another incident
  holds raises :class:`~incidentkit.errors.KeyTaken` and writes nothing;
* ``delivery``: handlers of its own outbox topics, ``(engine, row) -> None``,
  which ``deliver()`` calls after the commit (raise to retry);
* ``claims``: ``engine -> {topic: targets}``, the rows of its delivery topics
  this engine can deliver now (a worker without the plugin a row needs leaves
  it for one that has it); without it, the rows whose target is the topic;
* ``section``: a factory that builds the capability's facade section from
  the engine; it is reachable as ``kit.<name>``;
* ``commander_actions``: actions that only the incident commander may run
  once one is assigned;
* ``periodic``: hooks ``(engine, now) -> outbox rows`` that every
  ``tick()`` calls for work that belongs to no incident (a runbook's review
  reminder); each row's ``key`` must be stable for what it announces (the
  outbox key is unique), so replicas ticking at once enqueue it once;
* ``recordable``: for each of its events that a command of a person writes,
  a :class:`RecordRule` naming that command and deciding it again from the
  event, so ``kit.record()`` can accept the event under the same rules. Its
  events without a rule (timer firings, outcomes) are refused there with
  :class:`~incidentkit.errors.ReservedEvent`.

A route, an outbox planner or a key planner that returns something only for
events of certain classes says so with :func:`reacts_to`; the engine then
calls it for those events (and their subclasses) only, instead of for every
event of every append. One without it is called for every event.

The built-in on-call timers (:data:`incidentkit.oncall.capability.ONCALL`) and
mitigations (:data:`incidentkit.mitigation.capability.MITIGATION`) are
capabilities like any other.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import attrs

from incidentkit._validate import MAX_ITEMS, shown
from incidentkit.errors import ValidationError
from incidentkit.events import Event, RecordedEvent
from incidentkit.incident import FoldRule, Incident
from incidentkit.notify import Notification
from incidentkit.policy import Policy
from incidentkit.store import KeyClaim, OutboxMessage

if TYPE_CHECKING:
    from incidentkit.engine._engine import Engine
    from incidentkit.store import OutboxRow

__all__ = [
    "Capability",
    "Deliverer",
    "EventHooks",
    "FollowUp",
    "KeyPlanner",
    "Periodic",
    "Planner",
    "RecordRule",
    "Route",
    "TimerSource",
    "capability_list",
    "reacting_to",
    "reacts_to",
]

Route = Callable[[Policy, Incident, RecordedEvent], Sequence[Notification]]
"""``(policy, state after the event, the event) -> notifications``; pure."""

Planner = Callable[[Incident, RecordedEvent], Sequence[OutboxMessage]]
"""``(state after the event, the event) -> outbox rows``; pure."""

KeyPlanner = Callable[[Incident, RecordedEvent], Sequence[KeyClaim]]
"""``(state after the event, the event) -> key claims and releases``; pure."""

FollowUp = Callable[[Policy, Incident], Sequence[Event]]
"""``(policy, state after an append's events) -> events to append with them``; pure.

Must return nothing once its own events are applied (the engine asks again
after them, and refuses a follow-up that never settles).
"""

Deliverer = Callable[["Engine", "OutboxRow"], object]
"""``(engine, claimed outbox row) -> None``: deliver one row of a capability's topic."""

Periodic = Callable[["Engine", datetime], Sequence[OutboxMessage]]
"""``(engine, now) -> outbox rows``: what a tick at ``now`` enqueues outside any incident.

Called by every :meth:`Engine.tick <incidentkit.engine.Engine.tick>`; the rows
are written with :meth:`Engine.enqueue <incidentkit.engine.Engine.enqueue>`,
which skips a row whose key is already in the outbox: give each row a key
that names what it is for (``runbook-review:<id>:<due date>:<notifier>``),
never the tick's instant. Raise an :class:`~incidentkit.errors.IncidentKitError`
to report a failure in the tick's ``failures`` (as ``periodic:<capability>``).
"""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

_Hook = TypeVar("_Hook", bound=Callable[..., object])
_REACTS_TO = "__incidentkit_reacts_to__"


def reacts_to(*event_types: type[Event]) -> Callable[[_Hook], _Hook]:
    """Mark a route, outbox planner or key planner as returning nothing for other events.

    The engine then calls it only for a recorded event that is an instance of
    one of ``event_types``. The promise is the hook's to keep: for any other
    event it must return nothing (as an ``isinstance`` test at its top does).

    >>> from incidentkit.events import NoteAdded
    >>> @reacts_to(NoteAdded)
    ... def note_rows(after, record):
    ...     return []
    >>> reacting_to(note_rows)
    (<class 'incidentkit.events.NoteAdded'>,)
    """
    for index, kind in enumerate(event_types):
        if not (isinstance(kind, type) and issubclass(kind, Event)):
            raise ValidationError(f"event_types[{index}]", f"{shown(kind)} is not an Event class")
    if not event_types:
        raise ValidationError("event_types", "name at least one Event class")

    def mark(hook: _Hook) -> _Hook:
        setattr(hook, _REACTS_TO, tuple(event_types))
        return hook

    return mark


def reacting_to(hook: object) -> tuple[type[Event], ...] | None:
    """The event classes :func:`reacts_to` gave ``hook`` (``None``: called for every event)."""
    found = getattr(hook, _REACTS_TO, None)
    return found if isinstance(found, tuple) else None


def _names_tuple(value: Collection[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class TimerSource:
    """Timers computed from state + policy + now (DESIGN principle 5).

    ``due`` returns the events a tick at ``now`` records (each with a stable
    key the fold remembers, so it fires once); ``next_due`` the earliest
    instant at which ``due`` may return something, or ``None``. ``memo_key``,
    when given, names the state fields ``next_due`` reads, so the engine can
    skip recomputing it for events that change none of them (a note).

    ``reads``, when given, lists every :class:`~incidentkit.incident.Incident`
    field ``next_due`` reads (``extensions`` for a capability's own data): a
    commit that leaves each of them the same object as before the command
    reuses the previous answer for that incident without calling anything.
    Leave it empty unless the list is complete.
    """

    name: str
    due: Callable[[Incident, Policy, datetime], Sequence[Event]]
    next_due: Callable[[Incident, Policy], datetime | None]
    memo_key: Callable[[Incident], Hashable] | None = None
    reads: tuple[str, ...] = attrs.field(default=(), converter=_names_tuple)

    @reads.validator
    def _check_reads(self, _: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        fields = _incident_fields()
        for index, name in enumerate(value):
            if name not in fields:
                raise ValidationError(
                    f"reads[{index}]", f"{shown(name)} is not a field of Incident"
                )


def _incident_fields() -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(Incident))


@attrs.frozen
class RecordRule:
    """How ``record()`` checks a built event of a capability: as the command that writes it.

    ``action`` is that command's name as authorization sees it (the
    incident-commander rule and ``incidentkit_authorize``); ``decide`` is the
    command's handler, called as ``decide(engine, state, event, now)`` with
    the event's own arguments. It raises as the command does, or returns what
    the command would record, whose first event must equal the one handed in.
    """

    action: str
    decide: Callable[[Engine, Incident, Event, datetime], Sequence[Event]]


@attrs.frozen
class EventHooks:
    """The hooks an engine calls for one event class, in registration order.

    What :meth:`Engine.hooks_for <incidentkit.engine.Engine.hooks_for>` returns:
    the routes, outbox planners and key planners whose :func:`reacts_to`
    admits the class, and those without one.
    """

    routes: tuple[Route, ...]
    outbox: tuple[Planner, ...]
    keys: tuple[KeyPlanner, ...]


def _check_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or keyword.iskeyword(value):
        raise ValidationError(
            attribute.name,
            f"{shown(value)} must be a Python identifier of lower-case letters, digits and '_'",
        )


@attrs.frozen
class Capability:
    """What one capability module contributes to the engine (see the module docstring)."""

    name: str = attrs.field(validator=_check_name)
    events: tuple[type[Event], ...] = ()
    folds: Mapping[type[Event], FoldRule] = attrs.field(factory=dict)
    timers: tuple[TimerSource, ...] = ()
    routes: tuple[Route, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()
    outbox: tuple[Planner, ...] = ()
    keys: tuple[KeyPlanner, ...] = ()
    delivery: Mapping[str, Deliverer] = attrs.field(factory=dict)
    claims: Callable[[Engine], Mapping[str, Collection[str]]] | None = None
    section: Callable[[Engine], object] | None = None
    commander_actions: frozenset[str] = frozenset()
    periodic: tuple[Periodic, ...] = ()
    recordable: Mapping[type[Event], RecordRule] = attrs.field(factory=dict)


def capability_list(value: object, field: str = "capabilities") -> tuple[Capability, ...]:
    """``value`` as a tuple of :class:`Capability`; anything else is refused naming ``field``.

    A host passes them as ``IncidentKit(capabilities=[...])``: a list or tuple
    of at most 100 capabilities (not one capability, not ``None``).
    """
    if not isinstance(value, list | tuple):
        raise ValidationError(
            field, f"expected a list of incidentkit.engine.Capability, got {type(value).__name__}"
        )
    if len(value) > MAX_ITEMS:
        raise ValidationError(field, f"more than {MAX_ITEMS} entries")
    for index, item in enumerate(value):
        if not isinstance(item, Capability):
            raise ValidationError(
                f"{field}[{index}]",
                f"expected an incidentkit.engine.Capability, got {type(item).__name__}",
            )
    return tuple(value)
