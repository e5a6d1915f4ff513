"""Chat-ops: the guide's chat commands, parsed and run by any bot.

:func:`parse` turns the text after a slash command into a typed command
(pure, no I/O); :func:`execute` runs one against a kit and returns a
:class:`Reply` a bot renders in its own format. Neither needs the web stack;
the Slack endpoint of :mod:`incidentkit.web` is one such bot.

The grammar (a leading ``/incident`` is optional; values with spaces go in
double quotes, ``\\"`` escapes a quote)::

    declare severity=1 "API returning 500 errors" [service=api …]
    ack [INC-42]
    assign @bob tl [INC-42]          (ic, tl, comms, scribe or a role name)
    sev 2 ["reason"] [INC-42]
    status identified "Root cause found" [INC-42]
    note Seeing 15% error rate       (the rest of the line, or one quoted text)
    resolve "Pool size raised to 20" [INC-42]
    help [command]

A command other than ``declare`` and ``help`` acts on the incident named by
its trailing ``INC-…`` id, or else on the incident the bot finds for the
channel. Bad input raises :class:`~incidentkit.errors.ValidationError`
naming the part of the command (``"command"``, ``"severity"``, ``"role"``,
``"text"`` …) and never any other exception.

>>> parse('/incident declare severity=1 "API returning 500 errors"')
Declare(title='API returning 500 errors', severity=<Severity.SEV1: 'SEV1'>, services=())
>>> parse("assign @bob tl")
Assign(person='bob', role='technical_lead', incident_id=None)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from incidentkit.errors import IncidentKitError, NotFound, ValidationError
from incidentkit.events import PublicStatus
from incidentkit.ids import INCIDENT_ID_PATTERN
from incidentkit.lifecycle import TRANSITIONS, Status
from incidentkit.roles import Role
from incidentkit.severity import Severity

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = [
    "COMMANDS",
    "MAX_COMMAND_LENGTH",
    "ROLE_ALIASES",
    "Acknowledge",
    "Assign",
    "ChatCommand",
    "Declare",
    "Help",
    "Note",
    "Reply",
    "ReplyStyle",
    "Resolve",
    "SetSeverity",
    "SetStatus",
    "execute",
    "help_text",
    "parse",
    "tokenize",
]

MAX_COMMAND_LENGTH = 4000
"""The longest command text accepted (Slack sends at most 4,000 characters)."""

ROLE_ALIASES: dict[str, str] = {
    "ic": Role.INCIDENT_COMMANDER.value,
    "commander": Role.INCIDENT_COMMANDER.value,
    "tl": Role.TECHNICAL_LEAD.value,
    "lead": Role.TECHNICAL_LEAD.value,
    "cl": Role.COMMUNICATIONS_LEAD.value,
    "comms": Role.COMMUNICATIONS_LEAD.value,
    "scribe": Role.SCRIBE.value,
}
"""Short role names accepted by ``assign`` (besides the role values themselves)."""

COMMANDS: dict[str, str] = {
    "declare": 'declare severity=1 "title" [service=NAME …] — declare an incident',
    "ack": "ack [INC-ID] — acknowledge (stops escalation)",
    "assign": "assign @person ROLE [INC-ID] — ROLE is ic, tl, comms or scribe",
    "sev": 'sev N ["reason"] [INC-ID] — raise or lower the severity',
    "status": 'status investigating|identified|monitoring "message" [INC-ID] — post an update',
    "note": "note TEXT — add a note to the timeline",
    "resolve": 'resolve "summary" [INC-ID] — resolve the incident',
    "help": "help [COMMAND] — this text",
}
"""Every command with its one-line usage, in the order ``help`` lists them."""


@attrs.frozen
class Declare:
    """``declare severity=N "title"``: declare a new incident."""

    title: str
    severity: Severity
    services: tuple[str, ...] = ()


@attrs.frozen
class Acknowledge:
    """``ack``: acknowledge the incident."""

    incident_id: str | None = None


@attrs.frozen
class Assign:
    """``assign @person role``: assign (or hand over) a role."""

    person: str
    role: str
    incident_id: str | None = None


@attrs.frozen
class SetSeverity:
    """``sev N``: change the severity (the reason defaults to ``"changed from chat"``)."""

    severity: Severity
    reason: str = "changed from chat"
    incident_id: str | None = None


@attrs.frozen
class SetStatus:
    """``status identified "…"``: post a stakeholder update (and move the status forward)."""

    status: PublicStatus
    message: str
    incident_id: str | None = None


@attrs.frozen
class Note:
    """``note …``: add a note."""

    text: str
    incident_id: str | None = None


@attrs.frozen
class Resolve:
    """``resolve "summary"``: resolve the incident."""

    summary: str = ""
    incident_id: str | None = None


@attrs.frozen
class Help:
    """``help [command]``."""

    topic: str = ""


ChatCommand = Declare | Acknowledge | Assign | SetSeverity | SetStatus | Note | Resolve | Help
"""Any parsed chat command."""


class ReplyStyle(enum.StrEnum):
    """How a bot should present a reply (never conveyed by colour alone)."""

    OK = "ok"
    ERROR = "error"
    INFO = "info"


@attrs.frozen
class Reply:
    """What a bot answers: a title line, detail lines, and whether everyone sees it."""

    style: ReplyStyle
    title: str
    lines: tuple[str, ...] = ()
    public: bool = False
    incident_id: str | None = None


def tokenize(text: str) -> list[str]:
    """Split a command line on blanks, keeping ``"double quoted"`` parts whole.

    Inside quotes ``\\"`` is a quote and ``\\\\`` a backslash; curly quotes
    (“…”, as chat clients type them) count as quotes.

    :raises ValidationError: (``text``) for an unterminated quote.
    """
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        current: list[str] = []
        quoted = False
        while i < n and not text[i].isspace():
            if text[i] == '"':
                quoted = True
                i += 1
                while True:
                    if i >= n:
                        raise ValidationError("text", "unterminated quote")
                    if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\':
                        current.append(text[i + 1])
                        i += 2
                    elif text[i] == '"':
                        i += 1
                        break
                    else:
                        current.append(text[i])
                        i += 1
            else:
                current.append(text[i])
                i += 1
        tokens.append(_Quoted("".join(current)) if quoted else "".join(current))
    return tokens


class _Quoted(str):
    """A token that was (partly) quoted: text, never an incident id."""

    __slots__ = ()


def _split_id(args: list[str]) -> tuple[list[str], str | None]:
    last = args[-1] if args else ""
    if (
        not isinstance(last, _Quoted)
        and last.upper().startswith("INC-")
        and INCIDENT_ID_PATTERN.fullmatch(last)
    ):
        return args[:-1], args[-1]
    return args, None


def _text(args: Sequence[str], field: str, *, required: bool) -> str:
    value = " ".join(args).strip()
    if required and not value:
        raise ValidationError(field, "is empty")
    return value


def _severity(value: str, field: str = "severity") -> Severity:
    try:
        return Severity.parse(value, field)
    except ValidationError:
        raise
    except (TypeError, ValueError) as err:  # pragma: no cover - Severity.parse raises typed errors
        raise ValidationError(field, str(err)) from None


def _no_more(args: Sequence[str], command: str) -> None:
    if args:
        raise ValidationError("arguments", f"{command} takes no more arguments, got {args[0]!r}")


def _declare(args: list[str]) -> Declare:
    severity: Severity | None = None
    services: list[str] = []
    title: list[str] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        lowered = key.lower()
        if sep and lowered in ("severity", "sev"):
            if severity is not None:
                raise ValidationError("severity", "given twice")
            severity = _severity(value)
        elif sep and lowered in ("service", "services"):
            for name in value.split(","):
                if not name.strip():
                    raise ValidationError("service", "is empty")
                services.append(name.strip())
        else:
            title.append(arg)
    if severity is None:
        raise ValidationError("severity", 'missing: declare severity=1 "title"')
    return Declare(
        title=_text(title, "title", required=True), severity=severity, services=tuple(services)
    )


def _assign(args: list[str], incident_id: str | None) -> Assign:
    if len(args) != 2:
        raise ValidationError("arguments", "expected: assign @person ROLE")
    person, role = args
    person = person.removeprefix("@").strip()
    if not person:
        raise ValidationError("person", "is empty")
    if any(ch.isspace() for ch in person):
        raise ValidationError("person", "must be one word")
    lowered = role.lower()
    if lowered in ROLE_ALIASES:
        role_value = ROLE_ALIASES[lowered]
    elif lowered in {r.value for r in Role}:
        role_value = lowered
    else:
        known = ", ".join([*ROLE_ALIASES, *(r.value for r in Role)])
        raise ValidationError("role", f"unknown role {role!r} (known: {known})")
    return Assign(person=person, role=role_value, incident_id=incident_id)


def _status(args: list[str], incident_id: str | None) -> SetStatus:
    if not args:
        raise ValidationError("status", 'missing: status identified "message"')
    word = args[0].lower()
    if word == PublicStatus.RESOLVED.value:
        raise ValidationError("status", 'use resolve "summary" to resolve')
    try:
        status = PublicStatus(word)
    except ValueError:
        known = ", ".join(s.value for s in PublicStatus if s is not PublicStatus.RESOLVED)
        raise ValidationError("status", f"unknown status {args[0]!r} (known: {known})") from None
    return SetStatus(
        status=status, message=_text(args[1:], "message", required=True), incident_id=incident_id
    )


def parse(text: str) -> ChatCommand:
    """Parse one chat command (with or without the leading ``/incident``).

    :raises ValidationError: naming the part that is wrong; nothing else is raised.
    """
    if not isinstance(text, str):
        raise ValidationError("text", f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_COMMAND_LENGTH:
        raise ValidationError("text", f"longer than {MAX_COMMAND_LENGTH} characters")
    if "\x00" in text:
        raise ValidationError("text", "contains a NUL character")
    tokens = tokenize(text)
    if tokens and tokens[0].lower() == "/incident":
        tokens = tokens[1:]
    if not tokens:
        return Help()
    name, args = tokens[0].lower(), tokens[1:]
    if name == "help":
        if len(args) > 1:
            raise ValidationError("arguments", "expected: help [COMMAND]")
        topic = args[0].lower() if args else ""
        if topic and topic not in COMMANDS:
            raise ValidationError("command", f"unknown command {topic!r} (known: {_known()})")
        return Help(topic)
    if name == "declare":
        return _declare(args)
    args, incident_id = _split_id(args)
    if name in ("ack", "acknowledge"):
        _no_more(args, "ack")
        return Acknowledge(incident_id)
    if name == "assign":
        return _assign(args, incident_id)
    if name in ("sev", "severity"):
        if not args:
            raise ValidationError("severity", "missing: sev 2")
        reason = _text(args[1:], "reason", required=False) or "changed from chat"
        return SetSeverity(_severity(args[0]), reason, incident_id)
    if name == "status":
        return _status(args, incident_id)
    if name == "note":
        return Note(_text(args, "text", required=True), incident_id)
    if name == "resolve":
        return Resolve(_text(args, "summary", required=False), incident_id)
    raise ValidationError("command", f"unknown command {tokens[0]!r} (known: {_known()})")


def _known() -> str:
    return ", ".join(COMMANDS)


def help_text(topic: str = "") -> tuple[str, ...]:
    """The usage lines (of one command when ``topic`` names it)."""
    if topic:
        return (f"/incident {COMMANDS[topic]}",)
    return tuple(f"/incident {usage}" for usage in COMMANDS.values())


_FORWARD = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)


def execute(
    kit: IncidentKit,
    command: ChatCommand,
    *,
    by: str,
    incident_id: str | None = None,
    idempotency_key: str | None = None,
) -> Reply:
    """Run ``command`` as ``by`` and say what happened.

    ``incident_id`` is the incident of the channel (used when the command
    names none). A refused command (permission, lifecycle, a guard, bad
    input) becomes an error :class:`Reply` carrying the kit's message; other
    errors propagate.
    """
    if isinstance(command, Help):
        return Reply(ReplyStyle.INFO, "incidentkit commands", help_text(command.topic))
    try:
        return _execute(kit, command, by, incident_id, idempotency_key)
    except IncidentKitError as err:
        return Reply(ReplyStyle.ERROR, "Refused", (str(err),), incident_id=incident_id)


def _execute(
    kit: IncidentKit,
    command: ChatCommand,
    by: str,
    channel_incident: str | None,
    key: str | None,
) -> Reply:
    if isinstance(command, Declare):
        state = kit.declare(
            command.title,
            severity=command.severity,
            by=by,
            services=command.services,
            idempotency_key=key,
        )
        lines = (f"{state.severity.value} · declared by {by}", f"Channel {state.channel}")
        return Reply(ReplyStyle.OK, f"{state.id} declared: {state.title}", lines, True, state.id)
    target = getattr(command, "incident_id", None) or channel_incident
    if target is None:
        raise ValidationError(
            "incident_id", "no incident in this channel: name one, e.g. ack INC-42"
        )
    if isinstance(command, Acknowledge):
        kit.acknowledge(target, by=by, idempotency_key=key)
        title = f"{target} acknowledged by {by}"
    elif isinstance(command, Assign):
        kit.assign_role(target, command.role, command.person, by=by, idempotency_key=key)
        title = f"{target}: {command.person} is {command.role.replace('_', ' ')}"
    elif isinstance(command, SetSeverity):
        kit.set_severity(
            target, command.severity, by=by, reason=command.reason, idempotency_key=key
        )
        title = f"{target} is now {command.severity.value}"
    elif isinstance(command, SetStatus):
        state = kit.get(target)
        wanted = Status(command.status.value)
        if (
            wanted in _FORWARD
            and wanted in TRANSITIONS.get(state.status, frozenset())
            and _FORWARD.index(wanted) > _rank(state.status)
        ):
            kit.set_status(target, wanted, by=by)
        kit.post_update(target, command.status, command.message, by=by, idempotency_key=key)
        title = f"{target} update: {command.status.value}"
        return Reply(ReplyStyle.OK, title, (command.message,), True, target)
    elif isinstance(command, Note):
        kit.add_note(target, command.text, by=by, idempotency_key=key)
        return Reply(ReplyStyle.OK, f"{target}: note added", (command.text,), False, target)
    elif isinstance(command, Resolve):
        missing = kit.can_resolve(target)
        if missing:
            return Reply(
                ReplyStyle.ERROR,
                f"{target} cannot be resolved yet",
                tuple(missing),
                False,
                target,
            )
        kit.resolve(target, by=by, summary=command.summary, idempotency_key=key)
        title = f"{target} resolved by {by}"
    else:  # pragma: no cover - the union is exhausted above
        raise NotFound("command", type(command).__name__, list(COMMANDS))
    return Reply(ReplyStyle.OK, title, (), True, target)


def _rank(status: Status) -> int:
    return _FORWARD.index(status) if status in _FORWARD else -1
