"""The review document: 5,000 pinned timeline events and 200 action items, against a string join.

The incident is built through the kit (notes, then the review's action items
and pins), so the state and the timeline are the real ones. The subject is
:func:`incidentkit.review.render.render_markdown` on the loaded state and
timeline; the baseline is a plain ``"\\n".join`` of the same timeline and
action-item rows (the same cells, formatted the same way) in the same run. The
baseline's rows must appear, in order, in the document, or the ratio is moot.
Issue 13's target: the document within 3× the join.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from _harness import Result, compare, report, scaled

import incidentkit as ik
from incidentkit.events import RecordedEvent
from incidentkit.incident import Incident
from incidentkit.review import Review
from incidentkit.review.render import render_markdown
from incidentkit.severity import Severity

EVENTS = scaled(5_000, 1_000)
ITEMS = scaled(200, 50)
T0 = datetime(2024, 11, 20, 22, 30, tzinfo=UTC)


def build(events: int = EVENTS, items: int = ITEMS) -> tuple[ik.IncidentKit, str]:
    """A resolved incident: ``events`` pinned timeline events (then the pins), ``items`` items."""
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    inc = kit.declare("Login Service Degradation", severity=Severity.SEV1, by="alice").id
    kit.assign_role(inc, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(inc, by="alice", force=True, reason="benchmark")
    for n in range(items):
        kit.reviews.add_action(
            inc,
            f"Action {n}: add connection pool metrics",
            owner=f"owner{n % 7}",
            priority=("P0", "P1", "P2")[n % 3],
            type=("detective", "preventive", "corrective")[n % 3],
            due=date(2024, 11, 22) + timedelta(days=n % 30),
            by="alice",
        )
    version = kit.get(inc).version
    while version < events:
        version = kit.add_note(inc, f"note {version}: pool at | 98% |", by="bob").version
    for start in range(1, events + 1, 100):  # at most 100 versions a call
        kit.reviews.pin(inc, list(range(start, min(start + 100, events + 1))), by="alice")
    return kit, inc


def inputs(kit: ik.IncidentKit, inc: str) -> tuple[Incident, Review, list[RecordedEvent]]:
    state = kit.get(inc)
    review = kit.reviews.get(inc)
    return state, review, kit.timeline(inc)


def joined(kit: ik.IncidentKit, review: Review, timeline: list[RecordedEvent]) -> str:
    """The baseline: the document's timeline and action-item rows, and nothing else."""
    zone = kit.policy.zone
    by_version = {r.version: r for r in timeline}
    rows = []
    for pin in review.pins:
        record = by_version[pin.version]
        text = record.event.describe().replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| {record.recorded_at.astimezone(zone).strftime('%H:%M')} | {text} "
            f"| v{pin.version} | {pin.hash[:12]} |"
        )
    for item in review.items:
        title = item.title.replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| {item.id} | {title} | {item.type.value} | @{item.owner} "
            f"| {item.priority.value} | {item.due.strftime('%b')} {item.due.day} "
            f"| {item.status.value} |  |"
        )
    return "\n".join(rows)


def check_same(document: str, baseline: str) -> int:
    """Every baseline row is a line of the document, in the same order; returns the count."""
    lines = document.splitlines()
    position = 0
    rows = baseline.splitlines()
    for row in rows:
        try:
            position = lines.index(row, position) + 1
        except ValueError:
            raise AssertionError(f"the document disagrees with the baseline at {row!r}") from None
    return len(rows)


def main() -> None:
    kit, inc = build()
    state, review, timeline = inputs(kit, inc)
    policy = kit.policy
    document = render_markdown(state, review, timeline, policy)
    assert document == render_markdown(state, review, timeline, policy)  # deterministic
    rows = check_same(document, joined(kit, review, timeline))

    subject, baseline = compare(
        lambda: render_markdown(state, review, timeline, policy),
        lambda: joined(kit, review, timeline),
        repeats=7,
    )
    result = Result(
        f"review document, {len(review.pins)} events + {len(review.items)} items: "
        "render ÷ string join",
        subject,
        baseline,
        measures="render_markdown of the loaded state and timeline (the first N events pinned)",
        against="a plain join of the same timeline and action-item rows",
        limit=3.0,
        issue="issue 13",
        notes={"rows": rows, "document_kb": round(len(document.encode()) / 1024, 1)},
    )
    report("review", [result])
    kit.shutdown()


if __name__ == "__main__":
    main()
