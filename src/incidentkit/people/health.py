"""On-call health per person and team: pages, interruptions by hour band, hours on call, fairness.

:func:`on_call_health` is pure: it takes the shifts of the period, the
pages people received and the acknowledgements, and counts for each person

* ``pages``: contacts received (a push, an SMS and a call are three);
* ``interruptions``: distinct pages (one per incident, loop, step and repeat
  that reached the person), split into business, off and sleep hours by the
  local time of the first contact **in the person's own zone**
  (:class:`~incidentkit.people.config.HourBands`);
* ``incidents``: incidents that paged them or that they acknowledged;
* acknowledgement times (from their first contact to their acknowledgement);
* ``hours_on_call``: the union of their shifts on any layer, clipped to the period;
* ``pay``: the total from the existing pay rules (:func:`~incidentkit.oncall.compute_pay`)
  when a rate card is given.

Fairness across the rotation is the Gini coefficient of hours on call and of
interruptions (0: perfectly even) and the max/min ratio of hours on call.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
from incidentkit.oncall.compensation import RateCard, ResponseInterval, compute_pay
from incidentkit.oncall.schedule import Shift
from incidentkit.people.config import PeopleConfig
from incidentkit.serialization import converter

__all__ = [
    "AckRecord",
    "HealthReport",
    "PageRecord",
    "PersonHealth",
    "TeamHealth",
    "gini",
    "on_call_health",
]


@attrs.frozen
class PageRecord:
    """One contact of ``person`` at ``at`` for incident ``incident_id`` (a ``PersonPaged``)."""

    incident_id: str
    person: str
    at: datetime
    page: str = ""
    """What the contact belongs to (loop, step, repeat): contacts of one page share it."""


@attrs.frozen
class AckRecord:
    """``person`` acknowledged ``incident_id`` at ``at``."""

    incident_id: str
    person: str
    at: datetime


@attrs.frozen
class PersonHealth:
    """One person's numbers over the period."""

    person: str
    zone: str
    teams: tuple[str, ...]
    pages: int
    interruptions: int
    business_hours: int
    off_hours: int
    sleep_hours: int
    incidents: int
    ack_seconds: tuple[float, ...]
    hours_on_call: float
    pay: Decimal | None = None

    @property
    def mean_ack_seconds(self) -> float | None:
        """The mean acknowledgement time in seconds (``None``: no acknowledgement)."""
        return sum(self.ack_seconds) / len(self.ack_seconds) if self.ack_seconds else None


@attrs.frozen
class TeamHealth:
    """A team's totals (members from the directory)."""

    team: str
    members: tuple[str, ...]
    pages: int
    interruptions: int
    sleep_hours: int
    hours_on_call: float
    gini_hours: float


@attrs.frozen
class HealthReport:
    """On-call health for ``[start, end)``."""

    start: datetime
    end: datetime
    people: tuple[PersonHealth, ...]
    teams: tuple[TeamHealth, ...]
    gini_hours: float
    gini_interruptions: float
    max_min_hours: float | None

    def to_json(self) -> str:
        """The report as JSON (the serialization converter's shapes)."""
        return json.dumps(converter().unstructure(self), indent=2, sort_keys=True)

    def to_table(self) -> str:
        """A plain-text table, one row per person, then the fairness figures."""
        head = (
            f"{'person':<14}{'pages':>6}{'intr':>6}{'biz':>5}{'off':>5}{'sleep':>6}"
            f"{'inc':>5}{'ack(s)':>8}{'hours':>9}{'pay':>10}"
        )
        lines = [head]
        for p in self.people:
            ack = f"{p.mean_ack_seconds:.0f}" if p.mean_ack_seconds is not None else "-"
            pay = f"{p.pay}" if p.pay is not None else "-"
            lines.append(
                f"{p.person:<14}{p.pages:>6}{p.interruptions:>6}{p.business_hours:>5}"
                f"{p.off_hours:>5}{p.sleep_hours:>6}{p.incidents:>5}{ack:>8}"
                f"{p.hours_on_call:>9.1f}{pay:>10}"
            )
        ratio = f"{self.max_min_hours:.2f}" if self.max_min_hours is not None else "-"
        lines.append(
            f"fairness: gini(hours) {self.gini_hours:.3f}, gini(interruptions) "
            f"{self.gini_interruptions:.3f}, max/min hours {ratio}"
        )
        return "\n".join(lines)

    def chart(self, out: str | Path) -> Path:
        """Draw the report into ``out`` (``.png`` or ``.svg``) and return the path.

        Per person: interruptions stacked by business, off and sleep hours (in
        their own zone), beside their hours on call; the fairness figures are
        in the title. Needs the ``charts`` extra (matplotlib).

        :raises ValidationError: (``out``) a suffix other than ``.png``/``.svg``.
        :raises ImportError: matplotlib is not installed (install ``incidentkit[charts]``).
        """
        from incidentkit.metrics.charts import chart_file, pyplot, save_figure

        path, fmt = chart_file(out)
        plt = pyplot()
        names = [p.person for p in self.people]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6), dpi=100)
        bottom = [0] * len(names)
        for label, color, values in (
            ("business hours", "#2e86c1", [p.business_hours for p in self.people]),
            ("off hours", "#f39c12", [p.off_hours for p in self.people]),
            ("sleep hours", "#c0392b", [p.sleep_hours for p in self.people]),
        ):
            left.bar(names, values, bottom=bottom, label=label, color=color)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        left.set_ylabel("interruptions")
        left.set_title("Interruptions in each person's zone")
        left.legend()
        right.bar(names, [p.hours_on_call for p in self.people], color="#7f8c8d")
        right.set_ylabel("hours on call")
        ratio = f"{self.max_min_hours:.2f}" if self.max_min_hours is not None else "-"
        right.set_title(f"Hours on call (gini {self.gini_hours:.2f}, max/min {ratio})")
        for ax in (left, right):
            ax.grid(axis="y", alpha=0.3)
            ax.tick_params(axis="x", labelrotation=45)
        fig.suptitle(f"On-call health {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}")
        fig.tight_layout()
        save_figure(fig, path, fmt)
        return path


def gini(values: Sequence[float]) -> float:
    """The Gini coefficient of ``values`` (0 for none, or when all are zero)."""
    n = len(values)
    total = sum(values)
    if n == 0 or total == 0:
        return 0.0
    ordered = sorted(values)
    weighted = sum((i + 1) * v for i, v in enumerate(ordered))
    return (2 * weighted) / (n * total) - (n + 1) / n


def _union_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    total = 0.0
    end: datetime | None = None
    start: datetime | None = None
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if end is None or start is None or s > end:
            if end is not None and start is not None:
                total += (end - start).total_seconds()
            start, end = s, e
        else:
            end = max(end, e)
    if end is not None and start is not None:
        total += (end - start).total_seconds()
    return total


def on_call_health(
    people: PeopleConfig,
    shifts: Sequence[Shift],
    pages: Sequence[PageRecord],
    acks: Sequence[AckRecord],
    start: datetime,
    end: datetime,
    *,
    card: RateCard | None = None,
) -> HealthReport:
    """Per-person and per-team health over ``[start, end)`` (see the module docstring).

    Pages and acknowledgements outside the period are left out.

    :raises ValidationError: for naive bounds or ``end <= start``.
    """
    start = ensure_aware(start, "start")
    end = ensure_aware(end, "end")
    if end <= start:
        raise ValidationError("end", "must be after start")
    intervals: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for shift in shifts:
        s, e = max(shift.start, start), min(shift.end, end)
        if s < e:
            intervals[shift.person].append((s, e))
    in_period = [p for p in pages if start <= p.at < end]
    by_person: dict[str, list[PageRecord]] = defaultdict(list)
    for page in in_period:
        by_person[page.person].append(page)
    first_contact: dict[tuple[str, str], datetime] = {}
    for page in sorted(in_period, key=lambda p: p.at):
        first_contact.setdefault((page.person, page.incident_id), page.at)
    acked: dict[str, list[AckRecord]] = defaultdict(list)
    for ack in acks:
        if start <= ack.at < end:
            acked[ack.person].append(ack)
    everyone = sorted({*people.ids, *intervals, *by_person, *acked})
    pay: dict[str, Decimal] = {}
    if card is not None:
        responses = [
            ResponseInterval(a.person, first_contact.get((a.person, a.incident_id), a.at), a.at)
            for rows in acked.values()
            for a in rows
        ]
        all_shifts = [s for s in shifts if s.start < end and s.end > start]
        for statement in compute_pay(all_shifts, responses, card, start, end):
            pay[statement.person] = statement.total
    report: list[PersonHealth] = []
    for person in everyone:
        zone = people.zone_of(person)
        mine = by_person.get(person, [])
        firsts: dict[tuple[str, str], datetime] = {}
        for page in sorted(mine, key=lambda p: p.at):
            firsts.setdefault((page.incident_id, page.page), page.at)
        bands = {"business": 0, "off": 0, "sleep": 0}
        for at in firsts.values():
            bands[people.hours.band(at.astimezone(zone))] += 1
        ack_seconds = tuple(
            (a.at - first_contact[(person, a.incident_id)]).total_seconds()
            for a in acked.get(person, [])
            if (person, a.incident_id) in first_contact
        )
        incidents = {p.incident_id for p in mine} | {a.incident_id for a in acked.get(person, [])}
        found = people.find(person)
        report.append(
            PersonHealth(
                person=person,
                zone=zone.key,
                teams=found.teams if found is not None else (),
                pages=len(mine),
                interruptions=len(firsts),
                business_hours=bands["business"],
                off_hours=bands["off"],
                sleep_hours=bands["sleep"],
                incidents=len(incidents),
                ack_seconds=ack_seconds,
                hours_on_call=_union_seconds(intervals.get(person, [])) / 3600,
                pay=pay.get(person) if card is not None else None,
            )
        )
    rotation = [p for p in report if p.person in intervals]
    hours = [p.hours_on_call for p in rotation]
    positive = [h for h in hours if h > 0]
    teams: list[TeamHealth] = []
    for team in sorted({t for p in people.persons for t in p.teams}):
        members = [p for p in report if team in p.teams]
        teams.append(
            TeamHealth(
                team=team,
                members=tuple(p.person for p in members),
                pages=sum(p.pages for p in members),
                interruptions=sum(p.interruptions for p in members),
                sleep_hours=sum(p.sleep_hours for p in members),
                hours_on_call=sum(p.hours_on_call for p in members),
                gini_hours=gini([p.hours_on_call for p in members]),
            )
        )
    return HealthReport(
        start=start,
        end=end,
        people=tuple(report),
        teams=tuple(teams),
        gini_hours=gini(hours),
        gini_interruptions=gini([float(p.interruptions) for p in rotation]),
        max_min_hours=max(positive) / min(positive) if positive else None,
    )
