"""Runbooks: the guide's runbook template as data, matched to alerts, run during incidents.

A runbook is a Markdown file with TOML front matter (see the Runbooks guide):
:func:`load_directory` reads and validates a directory of them, the
:class:`RunbookIndex` matches an :class:`Alert` to them in the documented
order, and ``kit.runbooks`` (:class:`Runbooks`) attaches them to incidents
(their steps become a checklist; automatically on declaration with
``[runbooks] auto_attach``), runs their quick mitigations, fires their
escalation rules from ``tick()`` and reminds owners to review them from
``tick()`` too (through the outbox, on no incident's timeline).
"""

from incidentkit.runbooks._cli import add_runbooks_parser, run_runbooks
from incidentkit.runbooks._defaults import DEFAULT_RUNBOOKS, write_defaults
from incidentkit.runbooks._match import RunbookIndex, scan
from incidentkit.runbooks._model import (
    SECTIONS,
    Alert,
    AlertMatcher,
    EscalationRule,
    MatchRule,
    MitigationOption,
    Runbook,
    RunbookError,
    RunbookMatch,
    RunbookProblem,
    Step,
)
from incidentkit.runbooks._parse import Checker, load_directory, parse_runbook
from incidentkit.runbooks._section import (
    ReviewStatus,
    Runbooks,
    RunbookUsage,
    declaration_alert,
    describe_usage,
    reminder_key,
    review_status,
)
from incidentkit.runbooks.capability import (
    RUNBOOKS,
    Attachment,
    RunbookAttached,
    RunbookEscalated,
    RunbooksState,
)

__all__ = [
    "DEFAULT_RUNBOOKS",
    "RUNBOOKS",
    "SECTIONS",
    "Alert",
    "AlertMatcher",
    "Attachment",
    "Checker",
    "EscalationRule",
    "MatchRule",
    "MitigationOption",
    "ReviewStatus",
    "Runbook",
    "RunbookAttached",
    "RunbookError",
    "RunbookEscalated",
    "RunbookIndex",
    "RunbookMatch",
    "RunbookProblem",
    "RunbookUsage",
    "Runbooks",
    "RunbooksState",
    "Step",
    "add_runbooks_parser",
    "declaration_alert",
    "describe_usage",
    "load_directory",
    "parse_runbook",
    "reminder_key",
    "review_status",
    "run_runbooks",
    "scan",
    "write_defaults",
]
