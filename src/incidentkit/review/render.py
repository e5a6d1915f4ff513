"""The review document, rendered from the review's state and the incident's timeline.

:func:`render_markdown` and :func:`render_html` follow the guide's
post-incident document template (Summary, Duration, Severity, Impact,
Timeline, Root Cause (5 Whys), Resolution, Action Items, Lessons Learned).
Both are pure functions of their arguments, so the same state renders
byte-identical output. A policy may replace the layout with a
:class:`string.Template` (``[review] markdown_template`` / ``html_template``)
whose placeholders are the section bodies: ``$title``, ``$incident``,
``$status``, ``$summary``, ``$duration``, ``$severity``, ``$impact``,
``$timeline``, ``$root_cause``, ``$resolution``, ``$action_items``,
``$lessons``, ``$customer``, ``$related``, ``$runbooks`` (the runbooks
attached to the incident, as a "Runbooks Used" section; empty when none was).
"""

from __future__ import annotations

import html
import string
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from incidentkit.errors import ValidationError
from incidentkit.events import RecordedEvent
from incidentkit.incident import Incident
from incidentkit.policy import Policy
from incidentkit.review.model import LessonKind, Review, TextField

__all__ = ["RelatedIncident", "render_html", "render_markdown", "sections"]

DEFAULT_MARKDOWN = """# Incident Report: $title

$incident · review $status

## Summary
$summary

**Duration**: $duration
**Severity**: $severity
**Impact**: $impact

## Timeline
$timeline

## Root Cause (5 Whys)
$root_cause

## Resolution
$resolution

## Action Items
$action_items

## Lessons Learned
$lessons

## Customer-Facing Summary
$customer

## Related Incidents
$related
$runbooks"""


@attrs.frozen
class RelatedIncident:
    """Another incident sharing a service, a contributing-factor category or a runbook."""

    incident_id: str
    title: str
    reasons: tuple[str, ...]


def _clock(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def duration(state: Incident, review: Review, zone: ZoneInfo) -> str:
    """``40 minutes (14:30 – 15:10 PST)``: from the start (or detection) to the resolution."""
    start = state.started_at or state.detected_at
    end = state.resolved_at or review.trigger_at
    minutes = round((end - start).total_seconds() / 60)
    if minutes >= 120:
        length = f"{minutes // 60} hours {minutes % 60} minutes"
    else:
        length = f"{minutes} minute{'s' if minutes != 1 else ''}"
    label = end.astimezone(zone).tzname() or zone.key
    return f"{length} ({_clock(start, zone)} – {_clock(end, zone)} {label})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def sections(
    state: Incident,
    review: Review,
    timeline: Sequence[RecordedEvent],
    policy: Policy,
    related: Sequence[RelatedIncident] = (),
) -> dict[str, str]:
    """Every section body, as Markdown."""
    zone = policy.zone
    by_version = {r.version: r for r in timeline}
    level = policy.severity.level(state.severity)
    rows = ["| Time | Event | Version | Hash |", "|------|-------|---------|------|"]
    for pin in review.pins:
        record = by_version.get(pin.version)
        if record is None:
            rows.append(f"| — | (missing from the timeline) | v{pin.version} | {pin.hash[:12]} |")
            continue
        note = "" if record.hash == pin.hash else " (changed since pinned)"
        rows.append(
            f"| {_clock(record.recorded_at, zone)} | {_cell(record.event.describe())}{note} "
            f"| v{pin.version} | {pin.hash[:12]} |"
        )
    timeline_md = "\n".join(rows) if review.pins else "(no events pinned)"
    causes: list[str] = []
    for chain in review.chains:
        causes.append(f"### {chain.name}\n")
        causes.append(f"Problem: {chain.problem}\n")
        for number, why in enumerate(chain.whys, start=1):
            cited = ", ".join(e.describe() for e in why.evidence)
            causes.append(f"{number}. Why? {why.text}" + (f" (evidence: {cited})" if cited else ""))
        if chain.conclusion:
            causes.append(f"\nRoot cause: {chain.conclusion}")
        causes.append("")
    if review.factors:
        causes.append("### Contributing factors\n")
        for factor in review.factors:
            cited = ", ".join(e.describe() for e in factor.evidence)
            tail = f" (evidence: {cited})" if cited else ""
            causes.append(f"- {factor.id} [{factor.category}] {factor.text}{tail}")
    items = [
        "| ID | Action | Type | Owner | Priority | Due Date | Status | Tracker |",
        "|----|--------|------|-------|----------|----------|--------|---------|",
    ]
    for item in review.items:
        status = item.status.value + (f": {item.reason}" if item.reason else "")
        ref = item.external_ref
        tracker = f"{ref.provider} {ref.key}" if ref else ""
        items.append(
            f"| {item.id} | {_cell(item.title)} | {item.type.value} | @{item.owner} "
            f"| {item.priority.value} | {item.due.strftime('%b')} {item.due.day} "
            f"| {_cell(status)} | {tracker} |"
        )
    lessons: list[str] = []
    for kind, heading in (
        (LessonKind.WENT_WELL, "What went well"),
        (LessonKind.COULD_IMPROVE, "What could be improved"),
        (LessonKind.LUCKY, "Where we got lucky"),
    ):
        found = review.lessons_of(kind)
        if found:
            lessons.append(f"### {heading}\n")
            lessons.extend(f"- {text}" for text in found)
            lessons.append("")
    if review.decisions:
        lessons.append("### Decisions not to act\n")
        lessons.extend(f"- {d} — {r}" for d, r in review.decisions)
    texts = review.texts
    customer = [
        f"**{heading}**: {texts[field]}"
        for field, heading in (
            (TextField.CUSTOMER_SUMMARY, "Summary"),
            (TextField.CUSTOMER_WHAT_HAPPENED, "What happened"),
            (TextField.CUSTOMER_NEXT_STEPS, "What we are doing about it"),
        )
        if texts.get(field)
    ]
    return {
        "title": state.title,
        "incident": state.id,
        "status": review.status.value,
        "summary": texts.get(TextField.SUMMARY, ""),
        "duration": duration(state, review, zone),
        "severity": f"{state.severity} ({level.name})",
        "impact": texts.get(TextField.IMPACT, ""),
        "timeline": timeline_md,
        "root_cause": "\n".join(causes).strip() or "(none recorded)",
        "resolution": texts.get(TextField.RESOLUTION, "") or state.resolution_summary,
        "action_items": "\n".join(items) if review.items else "(none)",
        "lessons": "\n".join(lessons).strip() or "(none recorded)",
        "customer": "\n\n".join(customer) or "(none)",
        "runbooks": _runbooks(state),
        "related": "\n".join(
            f"- {r.incident_id}: {r.title} ({'; '.join(r.reasons)})" for r in related
        )
        or "(none)",
    }


def _runbooks(state: Incident) -> str:
    """The "Runbooks Used" section: each attached runbook with why it was attached."""
    from incidentkit.runbooks.capability import attachments

    used = attachments(state)
    if not used:
        return ""
    lines = ["", "## Runbooks Used"]
    for attached in used:
        why = f" ({'; '.join(attached.reasons)})" if attached.reasons else ""
        lines.append(f"- {attached.title} (`{attached.runbook}`){why}")
    return "\n".join(lines) + "\n"


def _fill(template: str, values: dict[str, str], field: str) -> str:
    try:
        return string.Template(template).substitute(values)
    except (KeyError, ValueError) as err:
        raise ValidationError(field, f"bad template placeholder: {err}") from None


def render_markdown(
    state: Incident,
    review: Review,
    timeline: Sequence[RecordedEvent],
    policy: Policy,
    related: Sequence[RelatedIncident] = (),
) -> str:
    """The review document as Markdown."""
    template = policy.review.markdown_template or DEFAULT_MARKDOWN
    values = sections(state, review, timeline, policy, related)
    return _fill(template, values, "review.markdown_template")


def _md_to_html(markdown: str) -> str:
    """The small Markdown subset the document uses, as HTML (headings, lists, tables, bold)."""
    out: list[str] = []
    in_list = in_table = False
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if in_list and not line.startswith("- ") and not line[:1].isdigit():
            out.append("</ul>")
            in_list = False
        if in_table and not line.startswith("|"):
            out.append("</table>")
            in_table = False
        if not line:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
            if set(line) <= set("|-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append(
                "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"
            )
        elif line.startswith("- ") or (line[:1].isdigit() and ". " in line[:4]):
            if not in_list:
                out.append("<ul>")
                in_list = True
            text = line[2:] if line.startswith("- ") else line
            out.append(f"<li>{html.escape(text)}</li>")
        else:
            text = html.escape(line)
            while text.count("**") >= 2:
                text = text.replace("**", "<strong>", 1).replace("**", "</strong>", 1)
            out.append(f"<p>{text}</p>")
    if in_list:
        out.append("</ul>")
    if in_table:
        out.append("</table>")
    return "\n".join(out)


def render_html(
    state: Incident,
    review: Review,
    timeline: Sequence[RecordedEvent],
    policy: Policy,
    related: Sequence[RelatedIncident] = (),
) -> str:
    """The review document as a standalone HTML page (no external resources)."""
    values = sections(state, review, timeline, policy, related)
    if policy.review.html_template:
        escaped = {k: _md_to_html(v) for k, v in values.items()}
        return _fill(policy.review.html_template, escaped, "review.html_template")
    body = _md_to_html(_fill(DEFAULT_MARKDOWN, values, "review.markdown_template"))
    title = html.escape(f"Incident Report: {state.title}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
