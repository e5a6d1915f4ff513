"""On-call duties: the guide's shift checklists and the handoff report.

The checklists are data, ``(key, text)`` pairs with stable kebab-case keys,
so a host can track them like any other checklist. :func:`handoff_report`
builds what the outgoing person hands to the next one: open incidents,
notes, action items and the after-shift checklist, rendered as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from incidentkit._time import ensure_aware, format_duration
from incidentkit.errors import ValidationError
from incidentkit.store import IncidentSummary

__all__ = [
    "AFTER_SHIFT",
    "BEFORE_SHIFT",
    "DURING_SHIFT",
    "HandoffReport",
    "handoff_report",
    "render_checklist",
    "shift_start_message",
]

BEFORE_SHIFT: tuple[tuple[str, str], ...] = (
    ("review-recent-incidents", "Review recent incidents"),
    ("check-open-action-items", "Check open action items"),
    ("test-alert-delivery", "Test alert delivery (phone, Slack, email)"),
    ("review-runbooks", "Review runbooks"),
    ("charge-devices", "Ensure laptop/phone charged"),
    ("stable-internet", "Have stable internet access"),
)
"""The guide's "Before Your Shift" checklist."""

DURING_SHIFT: tuple[tuple[str, str], ...] = (
    ("respond-within-sla", "Respond to alerts within SLA"),
    ("declare-incidents", "Declare incidents when appropriate"),
    ("act-as-incident-commander", "Act as Incident Commander"),
    ("document-incidents", "Document all incidents"),
    ("escalate-when-needed", "Escalate when needed"),
    ("keep-laptop-nearby", "Keep laptop nearby"),
)
"""The guide's "During Your Shift" checklist."""

AFTER_SHIFT: tuple[tuple[str, str], ...] = (
    ("hand-off-ongoing-issues", "Hand off any ongoing issues"),
    ("update-runbooks", "Update runbooks based on learnings"),
    ("complete-incident-reports", "Complete incident reports"),
    ("create-follow-up-tickets", "Create tickets for follow-up work"),
)
"""The guide's "After Your Shift" checklist."""


def _md(text: str) -> str:
    """Keep one line of user text from breaking the Markdown around it."""
    return " ".join(text.split()).replace("|", "\\|")


@attrs.frozen
class HandoffReport:
    """What the outgoing on-call person hands over at the end of a shift."""

    person: str
    shift_end: datetime
    open_incidents: tuple[IncidentSummary, ...]
    notes: tuple[str, ...]
    action_items: tuple[str, ...]
    checklist: tuple[tuple[str, str], ...] = AFTER_SHIFT
    runbooks: tuple[str, ...] = ()
    """Runbooks attached during the shift (``"<runbook> on <incident>"``)."""

    def render(self) -> str:
        """The report as Markdown (times in UTC; incident ages measured at ``shift_end``)."""
        end = self.shift_end.strftime("%Y-%m-%d %H:%M UTC")
        lines = [f"# On-call handoff: {_md(self.person)}", "", f"Shift ended {end}.", ""]
        lines.append(f"## Open incidents ({len(self.open_incidents)})")
        lines.append("")
        if self.open_incidents:
            lines.append("| Incident | Severity | Status | Title | Open for |")
            lines.append("|---|---|---|---|---|")
            for inc in self.open_incidents:
                since = inc.declared_at or inc.started_at or inc.detected_at
                age = format_duration(self.shift_end - since) if since else "-"
                lines.append(
                    f"| {_md(inc.incident_id)} | {inc.severity} | {inc.status} | "
                    f"{_md(inc.title)} | {age} |"
                )
        else:
            lines.append("None.")
        lines.append("")
        lines.append("## Notes")
        lines.append("")
        lines.extend([f"- {_md(n)}" for n in self.notes] or ["None."])
        lines.append("")
        lines.append("## Action items")
        lines.append("")
        lines.extend([f"- [ ] {_md(a)}" for a in self.action_items] or ["None."])
        lines.append("")
        if self.runbooks:
            lines.append("## Runbooks touched during the shift")
            lines.append("")
            lines.extend(f"- {_md(r)}" for r in self.runbooks)
            lines.append("")
        lines.append("## After-shift checklist")
        lines.append("")
        lines.extend(f"- [ ] {text}" for _, text in self.checklist)
        return "\n".join(lines) + "\n"


def render_checklist(title: str, items: Sequence[tuple[str, str]]) -> str:
    """``items`` as a Markdown checklist under the heading ``title``."""
    return "\n".join([f"## {_md(title)}", "", *(f"- [ ] {text}" for _, text in items)]) + "\n"


def shift_start_message(
    person: str, schedule: str, layer: str, start: datetime, end: datetime
) -> str:
    """What ``person`` is handed as their ``layer`` shift of ``schedule`` starts (Markdown).

    The guide's before-shift and during-shift checklists, times in UTC.
    """
    begin = ensure_aware(start, "start").strftime("%Y-%m-%d %H:%M UTC")
    until = ensure_aware(end, "end").strftime("%Y-%m-%d %H:%M UTC")
    head = f"# On-call shift: {_md(person)}, {_md(schedule)}/{_md(layer)}"
    lines = [head, "", f"Your shift runs from {begin} to {until}.", ""]
    body = render_checklist("Before your shift", BEFORE_SHIFT)
    return (
        "\n".join(lines) + "\n" + body + "\n" + render_checklist("During your shift", DURING_SHIFT)
    )


def handoff_report(
    person: str,
    shift_end: datetime,
    open_incidents: Sequence[IncidentSummary],
    notes: Sequence[str],
    action_items: Sequence[str] = (),
    runbooks: Sequence[str] = (),
) -> HandoffReport:
    """Build the handoff report for ``person``'s shift ending at ``shift_end``.

    Open incidents are listed most severe first, then oldest first.

    :raises ValidationError: for an empty ``person``, a naive ``shift_end``,
        or an incident in ``open_incidents`` that is no longer open.
    """
    if not isinstance(person, str) or not person.strip():
        raise ValidationError("person", "must be a non-empty name")
    end = ensure_aware(shift_end, "shift_end")
    for i, inc in enumerate(open_incidents):
        if not inc.status.is_open:
            raise ValidationError(
                f"open_incidents[{i}]", f"incident {inc.incident_id} is {inc.status}, not open"
            )
    ordered = sorted(
        open_incidents,
        key=lambda inc: (inc.severity.rank, inc.declared_at or end, inc.incident_id),
    )
    return HandoffReport(
        person=person,
        shift_end=end,
        open_incidents=tuple(ordered),
        notes=tuple(notes),
        action_items=tuple(action_items),
        runbooks=tuple(runbooks),
    )
