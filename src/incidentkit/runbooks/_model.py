"""The runbook model: what a runbook file says, as typed, frozen data."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import attrs

from incidentkit.errors import RunbookError
from incidentkit.severity import Severity

__all__ = [
    "SECTIONS",
    "Alert",
    "AlertMatcher",
    "EscalationRule",
    "MatchRule",
    "MitigationOption",
    "Runbook",
    "RunbookError",
    "RunbookMatch",
    "RunbookProblem",
    "Step",
]

SECTIONS: tuple[str, ...] = (
    "Symptoms",
    "Severity",
    "Detection",
    "Triage Steps",
    "Quick Mitigation",
    "Investigation",
    "Resolution Steps",
    "Escalation",
    "Related Incidents",
    "Related Documentation",
)
"""The guide's runbook template headings, in order (``## Symptoms`` …)."""


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _frozen_str_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


@attrs.frozen
class Alert:
    """An alert as runbook matching sees it (alert intake, issue 11, will build these).

    ``labels`` and ``annotations`` are Prometheus/Alertmanager-style string
    maps (``annotations["runbook_url"]`` is the convention); ``services`` adds
    to the ``service`` label; ``text`` is free text (summary, description, the
    title of a page) searched for symptom keywords.
    """

    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_str_map)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_str_map)
    services: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    text: str = ""

    @property
    def all_services(self) -> tuple[str, ...]:
        """``services`` plus the ``service`` label, without duplicates."""
        found = list(self.services)
        label = self.labels.get("service")
        if label and label not in found:
            found.append(label)
        return tuple(found)

    @property
    def searchable(self) -> str:
        """The text symptom keywords are looked for in: ``text``, summary and description."""
        parts = [
            self.text,
            self.annotations.get("summary", ""),
            self.annotations.get("description", ""),
        ]
        return "\n".join(p for p in parts if p)


@attrs.frozen
class AlertMatcher:
    """Equality matchers on alert labels: every pair must be present (``{alertname = "X"}``)."""

    labels: Mapping[str, str] = attrs.field(converter=_frozen_str_map)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every label of the matcher has the same value in ``labels``."""
        return bool(self.labels) and all(labels.get(k) == v for k, v in self.labels.items())

    def describe(self) -> str:
        """``alertname=HighErrorRate, service=api``."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))


@attrs.frozen
class Step:
    """One numbered step of a runbook section: a stable key and the text as written."""

    key: str
    text: str


@attrs.frozen
class MitigationOption:
    """One "Option N: …" of Quick Mitigation; ``action`` names a registered mitigation action."""

    title: str
    text: str = ""
    action: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class EscalationRule:
    """ "If the issue persists > ``after`` (still unmitigated), page ``to``".

    ``to`` is a target in the on-call syntax: ``role:<role>`` or
    ``layer:<schedule layer>`` (a bare name in the file is resolved at load).
    """

    after: timedelta
    to: str


@attrs.frozen
class Runbook:
    """A loaded runbook: front-matter fields, the body's sections and their steps.

    ``sections`` maps each template heading present in the body (see
    :data:`SECTIONS`) to its text; ``extra`` keeps headings the template does
    not have. ``triage`` and ``resolution`` are the numbered steps of Triage
    Steps and Resolution Steps; ``mitigations`` the Quick Mitigation options.
    """

    id: str
    title: str
    source: str = ""
    url: str | None = None
    services: tuple[str, ...] = ()
    alerts: tuple[AlertMatcher, ...] = ()
    severity: Severity | None = None
    symptoms: tuple[str, ...] = ()
    escalation: tuple[EscalationRule, ...] = ()
    owner: str | None = None
    review_every: timedelta | None = None
    last_reviewed: date | None = None
    sections: Mapping[str, str] = attrs.field(factory=dict)
    extra: Mapping[str, str] = attrs.field(factory=dict)
    triage: tuple[Step, ...] = ()
    resolution: tuple[Step, ...] = ()
    mitigations: tuple[MitigationOption, ...] = ()

    @property
    def checklist_name(self) -> str:
        """The incident checklist its steps become: ``runbook-<id>``."""
        return f"runbook-{self.id}"

    def mitigation(self, option: int | str) -> MitigationOption:
        """Quick Mitigation option by number (1-based) or title (case-insensitive)."""
        from incidentkit.errors import NotFound

        titles = [m.title for m in self.mitigations]
        if isinstance(option, int) and not isinstance(option, bool):
            if 1 <= option <= len(self.mitigations):
                return self.mitigations[option - 1]
        elif isinstance(option, str):
            for found in self.mitigations:
                if found.title.lower() == option.strip().lower():
                    return found
        raise NotFound(f"mitigation option of runbook {self.id!r}", str(option), titles)


class MatchRule(enum.IntEnum):
    """Why a runbook matched, strongest first (the documented matching order)."""

    RUNBOOK_URL = 1
    ALERT = 2
    SERVICE = 3
    SYMPTOM = 4


@attrs.frozen
class RunbookMatch:
    """A candidate runbook for an alert: the strongest rule it matched by, and why.

    ``specificity`` orders matches of the same rule (more matcher labels,
    more keywords first); ``reasons`` lists every rule that matched.
    """

    runbook: str
    rule: MatchRule
    specificity: int
    reasons: tuple[str, ...]

    @property
    def order(self) -> tuple[int, int, str]:
        """The sort key: rule, then more specific first, then id."""
        return (int(self.rule), -self.specificity, self.runbook)


@attrs.frozen
class RunbookProblem:
    """One thing wrong with a runbook file: where (file and 1-based line), which field, why."""

    file: str
    line: int
    field: str
    reason: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning" if self.warning else "error"
        return f"{self.file}:{self.line}: {kind}: {self.field}: {self.reason}"
