"""Drills: a scripted incident on a manual clock, notifications captured, and a report.

A drill script (TOML) declares an incident at ``start`` and plays
``actions`` at offsets from it, ticking every ``step`` until ``duration``::

    title = "Drill: login failures"
    severity = "SEV1"
    start = 2024-11-20T22:30:00Z
    duration = "30m"

    [[actions]]
    at = "3m"
    do = "acknowledge"
    by = "alice"

    [[actions]]
    at = "10m"
    do = "update"
    by = "alice"
    text = "Investigating elevated login failures"

``do`` is one of ``acknowledge``, ``update``, ``note``, ``check`` (with
``checklist`` and ``item``), ``mitigate`` and ``resolve``. The drill runs on
its own in-memory store with the real policy and schedules; notifications are
captured, never sent, and nothing reaches the production store unless the
host asks (``record_into``): then the drill's timeline is copied, once it
has run, into that store under its ``DRILL-`` id, with no outbox rows and no
timer due, so nothing is ever sent for it and production metrics leave it
out by default (:func:`incidentkit.metrics.is_drill`). The drill incident's
first timeline entry after the declaration is the note ``DRILL: …``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from incidentkit._validate import parse_toml
from incidentkit.errors import IncidentKitError, PolicyError, ValidationError
from incidentkit.events import Acknowledged, EscalationFired, TargetMissed
from incidentkit.metrics import DRILL_PREFIX
from incidentkit.people.paging import plan_pages
from incidentkit.policy import Policy
from incidentkit.serialization import converter, structure_input
from incidentkit.severity import Severity

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit
    from incidentkit.store import Store

__all__ = ["DrillAction", "DrillDo", "DrillPage", "DrillReport", "DrillScript", "run_drill"]

DRILL_NOTE = "DRILL: scripted exercise; notifications captured, not sent"


class DrillDo(enum.StrEnum):
    """What a drill action does."""

    ACKNOWLEDGE = "acknowledge"
    UPDATE = "update"
    NOTE = "note"
    CHECK = "check"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"


@attrs.frozen
class DrillAction:
    """At ``at`` after the start, ``by`` does ``do``."""

    at: timedelta
    do: DrillDo = attrs.field(converter=DrillDo)
    by: str
    text: str = ""
    checklist: str = ""
    item: str = ""


def _actions(value: Iterable[DrillAction]) -> tuple[DrillAction, ...]:
    return tuple(value)


def _severity(value: Severity | str) -> Severity:
    return Severity.parse(value)


def _services(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class DrillScript:
    """A scripted incident (see the module docstring)."""

    title: str
    severity: Severity = attrs.field(converter=_severity)
    start: datetime
    duration: timedelta = timedelta(minutes=30)
    step: timedelta = timedelta(minutes=1)
    declared_by: str = "drill"
    services: tuple[str, ...] = attrs.field(default=(), converter=_services)
    actions: tuple[DrillAction, ...] = attrs.field(default=(), converter=_actions)

    def __attrs_post_init__(self) -> None:
        if not self.title.strip():
            raise PolicyError([("$.title", "a drill needs a title")])
        if self.step <= timedelta(0):
            raise PolicyError([("$.step", "must be a positive duration")])
        if self.duration <= timedelta(0) or self.duration > timedelta(days=7):
            raise PolicyError([("$.duration", "must be positive and at most 7 days")])
        for i, action in enumerate(self.actions):
            if action.at < timedelta(0) or action.at > self.duration:
                raise PolicyError([(f"$.actions[{i}].at", "must fall within the drill")])
            if action.do is DrillDo.CHECK and not (action.checklist and action.item):
                raise PolicyError([(f"$.actions[{i}]", "check needs checklist and item")])

    @classmethod
    def from_toml(cls, text: str, *, source: str | None = None) -> DrillScript:
        """Parse a drill script.

        :raises PolicyError: naming each bad key path.
        """
        data = parse_toml(text, source=source)
        return structure_input(converter(), data, cls, source=source)

    @classmethod
    def load(cls, path: str | Path) -> DrillScript:
        """Read a drill script file.

        :raises PolicyError: naming the file, each bad key path and the reason.
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as err:
            raise PolicyError([("$", f"cannot read: {err.strerror}")], source=str(file)) from err
        return cls.from_toml(text, source=str(file))


@attrs.frozen
class DrillPage:
    """A page of the drill: ``person`` at ``at`` by ``channel``, for ``reason``."""

    at: datetime
    person: str
    channel: str | None
    reason: str


@attrs.frozen
class DrillReport:
    """What the drill showed."""

    title: str
    severity: Severity
    start: datetime
    end: datetime
    incident_id: str
    pages: tuple[DrillPage, ...]
    escalations: tuple[str, ...]
    captured: int
    targets_met: tuple[str, ...]
    targets_missed: tuple[str, ...]
    open_items: tuple[str, ...]
    would_have_fired: tuple[DrillPage, ...]
    failures: tuple[str, ...] = ()

    def render(self) -> str:
        """The report as Markdown (times as minutes after the start)."""

        def when(at: datetime) -> str:
            return f"+{int((at - self.start).total_seconds() // 60)}m"

        lines = [f"# Drill report: {self.title}", "", f"{self.severity}, {self.incident_id}.", ""]
        lines.append("## Pages")
        lines.extend(
            f"- {when(p.at)} {p.person} by {p.channel or 'all notifiers'}: {p.reason}"
            for p in self.pages
        )
        if not self.pages:
            lines.append("- none")
        lines.append("")
        lines.append("## Escalation steps fired")
        lines.extend(f"- {e}" for e in self.escalations or ("none",))
        lines.append("")
        lines.append("## Response targets")
        lines.extend(f"- met: {t}" for t in self.targets_met)
        lines.extend(f"- missed: {t}" for t in self.targets_missed)
        lines.append("")
        lines.append("## Checklist items left open")
        lines.extend(f"- {i}" for i in self.open_items or ("none",))
        lines.append("")
        lines.append("## Would have fired without the acknowledgement")
        lines.extend(
            f"- {when(p.at)} {p.person} by {p.channel or 'all notifiers'}"
            for p in self.would_have_fired
        )
        if not self.would_have_fired:
            lines.append("- none")
        if self.failures:
            lines.append("")
            lines.append("## Script steps refused")
            lines.extend(f"- {f}" for f in self.failures)
        lines.append("")
        lines.append(f"{self.captured} notifications captured, none sent.")
        return "\n".join(lines) + "\n"


def _drill_policy(policy: Policy) -> Policy:
    """The policy with every contact method's notifier cleared: the capture takes them all."""
    persons = tuple(
        attrs.evolve(p, contacts=tuple(attrs.evolve(c, notifier=None) for c in p.contacts))
        for p in policy.people.persons
    )
    return attrs.evolve(policy, people=attrs.evolve(policy.people, persons=persons))


def _act(kit: IncidentKit, incident_id: str, action: DrillAction) -> None:
    match action.do:
        case DrillDo.ACKNOWLEDGE:
            kit.acknowledge(incident_id, by=action.by)
        case DrillDo.UPDATE:
            kit.post_update(incident_id, "investigating", action.text or "update", by=action.by)
        case DrillDo.NOTE:
            kit.add_note(incident_id, action.text or "note", by=action.by)
        case DrillDo.CHECK:
            kit.check(incident_id, action.checklist, action.item, by=action.by)
        case DrillDo.MITIGATE:
            kit.mark_mitigated(incident_id, by=action.by, detail=action.text or "mitigated")
        case DrillDo.RESOLVE:
            kit.resolve(incident_id, by=action.by, summary=action.text, force=True, reason="drill")


def _record(source: Store, target: Store, incident_id: str) -> None:
    """Copy the drill's timeline into ``target``: no outbox rows, no timer due there."""
    from incidentkit.errors import ConcurrencyConflict

    summary = source.summary(incident_id)
    assert summary is not None
    try:
        target.append(
            incident_id,
            source.load(incident_id),
            0,
            summary=attrs.evolve(summary, next_due_at=None),
        )
    except ConcurrencyConflict as err:
        raise ValidationError("store", f"already holds a drill {incident_id}") from err


def run_drill(
    policy: Policy, script: DrillScript, *, record_into: Store | None = None
) -> DrillReport:
    """Run ``script`` against ``policy`` on a manual clock and a throwaway store.

    With ``record_into``, the drill incident's timeline is then copied into
    that store (its summary with no timer due, and no outbox row), marked by
    its ``DRILL-`` id.

    :raises ValidationError: when ``script`` is not a :class:`DrillScript`,
        ``record_into`` is not a store, or it already holds the drill's id
        (``record_into``; the store is left unchanged).
    """
    from incidentkit.clock import ManualClock
    from incidentkit.engine.facade import declare_incident
    from incidentkit.events import Source
    from incidentkit.kit import IncidentKit
    from incidentkit.people.capability import PersonPaged
    from incidentkit.store import MemoryStore, Store
    from incidentkit.testing import CapturingNotifier

    if not isinstance(script, DrillScript):
        raise ValidationError("script", f"expected a DrillScript, got {type(script).__name__}")
    if record_into is not None and not isinstance(record_into, Store):
        raise ValidationError("store", f"expected a Store, got {type(record_into).__name__}")
    drill_id = f"{DRILL_PREFIX}{script.start:%Y%m%d-%H%M}"
    if record_into is not None and record_into.version(drill_id) != 0:
        raise ValidationError(
            "store", f"already holds a drill {drill_id}; start it at another minute"
        )
    clock = ManualClock(script.start)
    capture = CapturingNotifier("drill")
    kit = IncidentKit(
        MemoryStore(), _drill_policy(policy), clock, plugins=[capture], autoload_plugins=False
    )
    with kit:
        state = declare_incident(
            kit.engine,
            kit.runbooks,
            lambda _: drill_id,
            title=script.title,
            severity=script.severity,
            by=script.declared_by,
            source=Source.MANUAL,
            started_at=None,
            detected_at=None,
            services=script.services,
            description="",
            signals=None,
            incident_id=drill_id,
            idempotency_key=None,
            labels=None,
            annotations=None,
            drill=True,  # kit.declare refuses DRILL- ids; a drill is where they come from
        )
        incident_id = state.id
        kit.add_note(incident_id, DRILL_NOTE, by=script.declared_by)
        pending = sorted(script.actions, key=lambda a: a.at)
        failures: list[str] = []
        t = timedelta(0)
        while t <= script.duration:
            clock.set(script.start + t)
            while pending and pending[0].at <= t:
                action = pending.pop(0)
                try:
                    _act(kit, incident_id, action)
                except IncidentKitError as err:
                    failures.append(f"+{action.at} {action.do}: {err}")
            kit.tick()
            kit.deliver()
            t += script.step
        final = kit.get(incident_id)
        timeline = kit.timeline(incident_id)
        if record_into is not None:
            _record(kit.store, record_into, incident_id)

    pages = tuple(
        DrillPage(r.event.due_at, r.event.person, r.event.channel, r.event.reason)
        for r in timeline
        if isinstance(r.event, PersonPaged)
    )
    escalations = tuple(
        f"+{int((r.event.due_at - script.start).total_seconds() // 60)}m step "
        f"{r.event.step + 1} {r.event.action} {', '.join(r.event.targets) or '-'}"
        for r in timeline
        if isinstance(r.event, EscalationFired)
    )
    missed = tuple(r.event.target for r in timeline if isinstance(r.event, TargetMissed))
    acked = next((r.recorded_at for r in timeline if isinstance(r.event, Acknowledged)), None)
    met: list[str] = []
    if acked is not None and not any(m.startswith("acknowledge") for m in missed):
        met.append(f"acknowledged after {int((acked - final.declared_at).total_seconds())} s")
    open_items = tuple(
        f"{template.name}:{key}"
        for template in final.templates
        for key in final.open_items(template.name)
    )
    would: tuple[DrillPage, ...] = ()
    if acked is not None:
        plan = plan_pages(
            policy,
            script.severity,
            final.severity_since or final.declared_at,
            services=script.services,
        )
        would = tuple(
            DrillPage(p.at, p.person, p.channel, p.reason)
            for p in plan.pages
            if p.at >= acked and p.at <= script.start + script.duration
        )
    return DrillReport(
        title=script.title,
        severity=script.severity,
        start=script.start,
        end=script.start + script.duration,
        incident_id=incident_id,
        pages=pages,
        escalations=escalations,
        captured=len(capture.delivered),
        targets_met=tuple(met),
        targets_missed=missed,
        open_items=open_items,
        would_have_fired=would,
        failures=tuple(failures),
    )
