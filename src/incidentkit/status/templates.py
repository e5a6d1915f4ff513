"""The guide's three forms of communication as :class:`string.Template` texts.

* the **status page update** (emoji, status, headline, body, "Last updated" in
  the page's zone);
* the **internal channel log line** (``[14:35] @bob (TL): …``);
* the **customer incident report** e-mail (what happened, what we did,
  impact, apology, contact) with its subject line.

A policy may replace any of them (``[status.templates]``); a template that
uses a placeholder not listed here is refused when the policy loads, not
when an update is sent. Rendering substitutes every placeholder (values
missing from the facts are refused by the caller before rendering).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from incidentkit.errors import PolicyError

__all__ = [
    "CUSTOMER_REPORT",
    "CUSTOMER_SUBJECT",
    "INTERNAL_LINE",
    "PLACEHOLDERS",
    "STATUS_UPDATE",
    "CustomerReport",
    "check_templates",
    "customer_date",
    "human_duration",
    "render",
]

STATUS_UPDATE = """\
${emoji} ${status}: ${headline}

${body}

Last updated: ${updated}"""
"""The guide's status page update."""

INTERNAL_LINE = "[${time}] @${by}${role}: ${text}"
"""The guide's incident channel line; ``role`` is `` (IC)``, `` (TL)``, … or empty."""

CUSTOMER_SUBJECT = "Incident Report - ${title}"
"""The subject of the customer report."""

CUSTOMER_REPORT = """\
Dear Valued Customer,

On ${date}, between ${start} and ${end}, ${summary}

What happened:
${cause}

What we did:
Our engineering team identified the issue within ${time_to_identify} and \
deployed a fix within ${time_to_fix}.${actions}

Impact:
${impact}

We sincerely apologize for this disruption and have taken steps to prevent recurrence.

If you have any questions, please contact ${contact}.

Best regards,
${signature}"""
"""The guide's customer incident report e-mail."""

PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "status_update": frozenset(
        {"emoji", "status", "headline", "body", "updated", "incident_id", "page", "impact"}
    ),
    "internal_line": frozenset({"time", "by", "role", "text", "incident_id"}),
    "customer_subject": frozenset({"title", "incident_id", "date"}),
    "customer_report": frozenset(
        {
            "date",
            "start",
            "end",
            "zone",
            "summary",
            "cause",
            "time_to_identify",
            "time_to_fix",
            "actions",
            "impact",
            "contact",
            "signature",
            "title",
            "incident_id",
        }
    ),
}
"""The placeholders each form may use."""

DEFAULTS: Mapping[str, str] = {
    "status_update": STATUS_UPDATE,
    "internal_line": INTERNAL_LINE,
    "customer_subject": CUSTOMER_SUBJECT,
    "customer_report": CUSTOMER_REPORT,
}


@attrs.frozen
class CustomerReport:
    """A rendered customer incident report: its subject line and its text."""

    incident_id: str
    subject: str
    text: str


def _problems(form: str, text: object) -> list[tuple[str, str]]:
    where = f"templates.{form}"
    if not isinstance(text, str):
        return [(where, f"expected text, got {type(text).__name__}")]
    template = string.Template(text)
    if not template.is_valid():
        return [(where, "has a '$' that starts no placeholder (write '$$' for a dollar sign)")]
    known = PLACEHOLDERS[form]
    unknown = sorted(set(template.get_identifiers()) - known)
    if unknown:
        listed = ", ".join(f"${{{name}}}" for name in unknown)
        return [(where, f"unknown placeholder {listed} (known: {', '.join(sorted(known))})")]
    return []


def check_templates(templates: object) -> None:
    """Refuse the texts of a :class:`~incidentkit.status.config.Templates` with unknown
    placeholders, naming each form's key path.

    :raises PolicyError: e.g. ``templates.customer_report: unknown placeholder ${eta}``.
    """
    problems: list[tuple[str, str]] = []
    for form in PLACEHOLDERS:
        text = getattr(templates, form)
        if text is not None:
            problems.extend(_problems(form, text))
    if problems:
        raise PolicyError(problems)


def render(form: str, values: Mapping[str, str], override: str | None = None) -> str:
    """Render ``form`` (its default or ``override``) with ``values`` for every placeholder."""
    text = DEFAULTS[form] if override is None else override
    return string.Template(text).substitute(values)


def human_duration(delta: timedelta) -> str:
    """``5 minutes``, ``1 hour 10 minutes``, ``less than a minute`` (rounded to the minute).

    >>> human_duration(timedelta(minutes=40))
    '40 minutes'
    """
    minutes = round(delta.total_seconds() / 60)
    if minutes < 1:
        return "less than a minute"
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def customer_date(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, str, str]:
    """``("November 20, 2024", "14:30", "15:10 PST")`` for a window, in ``zone``.

    Both ends carry their zone abbreviation when they differ (a window
    across a daylight-saving change); a window across midnight names the
    end's date too.
    """
    a, b = start.astimezone(zone), end.astimezone(zone)
    day = f"{a:%B} {a.day}, {a.year}"
    first, last = f"{a:%H:%M}", f"{b:%H:%M} {b:%Z}"
    if a.tzname() != b.tzname():
        first = f"{first} {a:%Z}"
    if a.date() != b.date():
        last = f"{b:%B} {b.day}, {b.year} {last}"
    return day, first, last
