"""Input checks shared by the SQL stores, run before any transaction opens.

A store refuses bad input with a typed error naming the field and writes
nothing; doing the checks up front keeps transactions short.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from incidentkit import ids
from incidentkit._time import EARLIEST, LATEST, ensure_aware
from incidentkit._validate import MAX_LIMIT, incident_ref, integer, shown
from incidentkit.errors import StoreError, ValidationError
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store._base import (
    IncidentSummary,
    KeyClaim,
    OutboxMessage,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
)

__all__ = [
    "check_append",
    "check_aware",
    "check_claim",
    "check_command",
    "check_command_id",
    "check_incident_id",
    "check_key_text",
    "check_keys",
    "check_mark",
    "check_mark_value",
    "check_query",
    "check_targets",
    "claimable",
    "enum_values",
    "summary_times",
]

SUMMARY_TIME_FIELDS = (
    "started_at",
    "detected_at",
    "declared_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "next_due_at",
)

_summary_times = operator.attrgetter(*SUMMARY_TIME_FIELDS)

check_aware = ensure_aware
"""Return a value in UTC; refuse naive, non-datetime or out-of-range values naming the field."""


def check_incident_id(incident_id: object) -> str:
    """Refuse an incident id that is not a non-empty, bounded, encodable name.

    Reads take any such name, so an id stored before the safe alphabet still
    loads; an append takes only ids of the alphabet (:mod:`incidentkit.ids`).
    """
    return incident_ref(incident_id)


def summary_times(summary: IncidentSummary) -> list[datetime | None]:
    """The summary's timestamps in :data:`SUMMARY_TIME_FIELDS` order, checked aware."""
    values: list[datetime | None] = list(_summary_times(summary))
    for index, value in enumerate(values):
        # An aware UTC time in range is what check_aware would return unchanged.
        if value is not None and not (
            type(value) is datetime and value.tzinfo is UTC and EARLIEST <= value < LATEST
        ):
            values[index] = check_aware(value, f"summary.{SUMMARY_TIME_FIELDS[index]}")
    return values


def check_append(
    incident_id: str,
    events: Sequence[StoredEvent],
    expected_version: int,
    outbox: Sequence[OutboxMessage],
    summary: IncidentSummary | None,
    *,
    times: bool = True,
) -> None:
    """Refuse an append whose rows cannot be written as one contiguous batch.

    ``times=False`` leaves the summary's timestamps to the caller, a store
    that checks each while encoding the row, before its transaction opens.
    """
    ids.check_incident_id(incident_id)
    if (
        not isinstance(expected_version, int)
        or isinstance(expected_version, bool)
        or expected_version < 0
    ):
        raise ValidationError("expected_version", "expected an integer >= 0")
    for offset, event in enumerate(events, start=1):
        if event.incident_id != incident_id or event.version != expected_version + offset:
            raise StoreError(
                f"event {event.incident_id}@{event.version} does not follow "
                f"{incident_id}@{expected_version + offset - 1}"
            )
        at = event.recorded_at
        if not (type(at) is datetime and at.tzinfo is UTC and EARLIEST <= at < LATEST):
            check_aware(at, f"events[{offset - 1}].recorded_at")
    for index, message in enumerate(outbox):
        at = message.available_at
        if not (type(at) is datetime and at.tzinfo is UTC and EARLIEST <= at < LATEST):
            check_aware(at, f"outbox[{index}].available_at")
    if summary is not None:
        if summary.incident_id != incident_id:
            raise ValidationError(
                "summary.incident_id", f"{summary.incident_id!r} is not {incident_id!r}"
            )
        if times:
            summary_times(summary)


COMMAND_ID_MAX = 200
"""The longest command id (idempotency key) a store accepts, the same on every store."""


def check_command_id(value: object, field: str) -> str:
    """Return ``value`` if it can be a command id: 1 to 200 characters of UTF-8 text, no NUL."""
    reason = f"expected 1 to {COMMAND_ID_MAX} characters of text without NUL"
    if not isinstance(value, str) or not value or len(value) > COMMAND_ID_MAX or "\0" in value:
        raise ValidationError(field, f"{reason}, got {shown(value, 80)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValidationError(field, f"not valid Unicode text ({err.reason})") from err
    return value


KEY_MAX = 400
"""The longest key (and namespace) a :class:`~incidentkit.store.KeyClaim` may name."""


def check_key_text(value: object, field: str) -> str:
    """Return ``value`` if it can be a key or namespace: 1 to 400 characters, no NUL."""
    if not isinstance(value, str) or not value or len(value) > KEY_MAX or "\0" in value:
        raise ValidationError(
            field, f"expected 1 to {KEY_MAX} characters of text without NUL, got {shown(value, 80)}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValidationError(field, f"not valid Unicode text ({err.reason})") from err
    return value


def check_keys(incident_id: str, keys: Sequence[object]) -> list[KeyClaim]:
    """The claims of one append, each a :class:`KeyClaim` for ``incident_id``."""
    checked: list[KeyClaim] = []
    for index, claim in enumerate(keys):
        if not isinstance(claim, KeyClaim):
            raise ValidationError(f"keys[{index}]", f"expected a KeyClaim, got {shown(claim)}")
        check_key_text(claim.namespace, f"keys[{index}].namespace")
        check_key_text(claim.key, f"keys[{index}].key")
        if claim.incident_id != incident_id:
            raise ValidationError(
                f"keys[{index}].incident_id",
                f"{shown(claim.incident_id)} is not the appended incident {incident_id!r}",
            )
        checked.append(claim)
    return checked


def check_command(
    incident_id: str,
    events: Sequence[StoredEvent],
    expected_version: int,
    command: StoredCommand | None,
) -> None:
    """Refuse a command record that does not describe this append."""
    if command is None:
        return
    if not isinstance(command, StoredCommand):
        raise ValidationError("command", f"expected a StoredCommand, got {command!r}")
    check_command_id(command.command_id, "command.command_id")
    if not isinstance(command.action, str) or not command.action:
        raise ValidationError("command.action", "expected a non-empty string")
    if command.incident_id != incident_id:
        raise ValidationError(
            "command.incident_id", f"{command.incident_id!r} is not {incident_id!r}"
        )
    if command.events != len(events) or command.version != expected_version + len(events):
        raise ValidationError(
            "command.version",
            f"{command.version} (events={command.events}) does not describe "
            f"{len(events)} events after version {expected_version}",
        )


def check_claim(now: datetime, limit: int, lease: timedelta) -> datetime:
    """Check claim arguments; return ``now`` in UTC."""
    utc_now = check_aware(now, "now")
    integer(limit, "limit", 0, MAX_LIMIT)
    if not isinstance(lease, timedelta) or lease <= timedelta(0):
        raise ValidationError("lease", "expected a positive timedelta")
    return utc_now


def check_targets(
    targets: Mapping[str, Collection[str]] | None,
) -> dict[str, frozenset[str]] | None:
    """Check a claim's ``targets`` (topic -> targets); return it as plain sets.

    Topics with no targets are dropped: nothing of theirs can be claimed.
    """
    if targets is None:
        return None
    if not isinstance(targets, Mapping):
        raise ValidationError("targets", f"expected a mapping, got {type(targets).__name__}")
    checked: dict[str, frozenset[str]] = {}
    for topic, names in targets.items():
        if not isinstance(topic, str):
            raise ValidationError("targets", f"topics must be strings, got {topic!r}")
        if isinstance(names, str) or not isinstance(names, Collection):
            raise ValidationError(
                f"targets[{topic!r}]", "expected a collection of target names, not one string"
            )
        if not all(isinstance(name, str) for name in names):
            raise ValidationError(f"targets[{topic!r}]", "target names must be strings")
        if names:
            checked[topic] = frozenset(names)
    return checked


def claimable(targets: Mapping[str, frozenset[str]] | None, topic: str, target: str) -> bool:
    """Whether a row of ``topic`` and ``target`` is one the claimer can handle."""
    return targets is None or target in targets.get(topic, frozenset())


def check_query(query: SummaryQuery) -> None:
    """Check a summary query's bounds and limit."""
    for name in ("since", "until", "due_before"):
        value = getattr(query, name)
        if value is not None:
            check_aware(value, f"query.{name}")
    if query.limit is not None:
        integer(query.limit, "query.limit", 0, MAX_LIMIT)


def enum_values(
    kind: type[Status] | type[Severity], values: Collection[object], field: str
) -> list[str]:
    """The distinct enum values of ``values`` (strings or members), refusing unknown ones."""
    try:
        return sorted({kind(v).value for v in values})  # type: ignore[arg-type]
    except (ValueError, TypeError) as err:
        raise ValidationError(field, str(err)) from err


MARK_VALUE_MAX = 65_536
"""The longest value a mark (:class:`~incidentkit.store.MarkStore`) may hold."""

_MARK_NAMESPACE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def check_mark(namespace: object, name: object) -> tuple[str, str]:
    """Return ``(namespace, name)`` if they can name a mark; else a typed error naming the field."""
    if not isinstance(namespace, str) or not _MARK_NAMESPACE.fullmatch(namespace):
        raise ValidationError(
            "namespace", f"expected [a-z][a-z0-9_-]{{0,39}}, got {shown(namespace, 80)}"
        )
    return namespace, check_key_text(name, "name")


def check_mark_value(value: object, field: str) -> str:
    """Return ``value`` if a mark can hold it: text of at most 65,536 characters, no NUL."""
    if not isinstance(value, str) or len(value) > MARK_VALUE_MAX or "\0" in value:
        raise ValidationError(
            field,
            f"expected text of at most {MARK_VALUE_MAX} characters without NUL, "
            f"got {shown(value, 80)}",
        )
    return value
