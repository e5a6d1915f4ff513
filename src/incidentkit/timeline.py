"""Timeline queries, renderings and the hash chain.

* :func:`render_chat` prints the guide's chat-log form:
  ``[14:30] alice (IC): Incident declared — SEV1 — API returning 500 errors``;
* :func:`render_review` prints the post-incident review form:
  ``14:30 - Incident declared (SEV1)``;
* :func:`chain_hash` / :func:`verify_chain` make a timeline tamper-evident:
  each row's hash covers its canonical JSON and the previous row's hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit.events import (
    ChecklistItemChanged,
    Declared,
    Event,
    RecordedEvent,
    RoleAssigned,
    RoleHandedOver,
    RoleReleased,
)
from incidentkit.roles import Role, role_label
from incidentkit.serialization import dumps, event_to_dict

__all__ = [
    "GENESIS_HASH",
    "ChainCheck",
    "RecordedEvent",
    "chain_hash",
    "render_chat",
    "render_review",
    "to_json_rows",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The "previous hash" of an incident's first event."""


def chain_hash(
    previous: str, incident_id: str, version: int, recorded_at: datetime, payload: str
) -> str:
    """SHA-256 over the previous hash and this row's canonical JSON (hex)."""
    row = dumps(
        {
            "incident_id": incident_id,
            "version": version,
            "recorded_at": ensure_aware(recorded_at, "recorded_at").isoformat(),
            "payload": payload,
        }
    )
    return hashlib.sha256(f"{previous}\n{row}".encode()).hexdigest()


@attrs.frozen
class ChainCheck:
    """The outcome of verifying one incident's hash chain.

    ``ok`` is True when every row verifies; otherwise ``broken_version`` is
    the first version whose hash does not match and ``reason`` says why.
    """

    incident_id: str
    ok: bool
    events: int
    broken_version: int | None = None
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def verify_chain(incident_id: str, rows: Iterable[tuple[int, datetime, str, str]]) -> ChainCheck:
    """Check ``(version, recorded_at, payload, hash)`` rows in version order."""
    previous = GENESIS_HASH
    count = 0
    expected_version = 1
    for version, recorded_at, payload, stored in rows:
        count += 1
        if version != expected_version:
            return ChainCheck(
                incident_id, False, count, version, f"expected version {expected_version}"
            )
        computed = chain_hash(previous, incident_id, version, recorded_at, payload)
        if computed != stored:
            return ChainCheck(incident_id, False, count, version, "hash does not match the row")
        previous = stored
        expected_version += 1
    return ChainCheck(incident_id, True, count)


def _roles_by_person(records: Sequence[RecordedEvent]) -> list[Mapping[str, list[str]]]:
    """For each record, the roles each person held just before it (for labels)."""
    holding: dict[str, str] = {}
    snapshots: list[Mapping[str, list[str]]] = []
    for record in records:
        event = record.event
        by_person: dict[str, list[str]] = {}
        for role, person in holding.items():
            by_person.setdefault(person, []).append(role)
        snapshots.append(by_person)
        if isinstance(event, RoleAssigned):
            holding[event.role] = event.person
        elif isinstance(event, RoleHandedOver):
            holding[event.role] = event.to_person
        elif isinstance(event, RoleReleased):
            holding.pop(event.role, None)
    return snapshots


def _first_commander(records: Sequence[RecordedEvent]) -> str | None:
    for record in records:
        event = record.event
        if isinstance(event, RoleAssigned) and event.role == Role.INCIDENT_COMMANDER.value:
            return event.person
    return None


def _label(event: Event, roles: Mapping[str, list[str]], commander: str | None) -> str:
    held = roles.get(event.by, [])
    if isinstance(event, Declared) and event.by == commander:
        held = [Role.INCIDENT_COMMANDER.value]
    if not held:
        return event.by
    return f"{event.by} ({'/'.join(role_label(r) for r in held)})"


def render_chat(
    records: Sequence[RecordedEvent],
    *,
    zone: tzinfo | None = None,
    include_checklists: bool = False,
) -> list[str]:
    """The timeline as chat lines, ``[HH:MM] actor (ROLE): text``, in ``zone`` (UTC default).

    A declarer who becomes the first incident commander is labelled IC on
    the declaration line, as in the guide.
    Checklist ticks are left out unless ``include_checklists``.
    """
    lines: list[str] = []
    commander = _first_commander(records)
    for record, roles in zip(records, _roles_by_person(records), strict=True):
        event = record.event
        if isinstance(event, ChecklistItemChanged) and not include_checklists:
            continue
        when = record.recorded_at.astimezone(zone) if zone else record.recorded_at
        lines.append(f"[{when:%H:%M}] {_label(event, roles, commander)}: {event.describe()}")
    return lines


def render_review(records: Sequence[RecordedEvent], *, zone: tzinfo | None = None) -> list[str]:
    """The timeline in the review form ``HH:MM - text`` (checklist ticks left out)."""
    lines: list[str] = []
    for record in records:
        event = record.event
        if isinstance(event, ChecklistItemChanged):
            continue
        when = record.recorded_at.astimezone(zone) if zone else record.recorded_at
        text = event.describe()
        if isinstance(event, Declared):
            text = f"Incident declared ({event.severity}): {event.title}"
        lines.append(f"{when:%H:%M} - {text}")
    return lines


def to_json_rows(records: Sequence[RecordedEvent]) -> list[dict[str, object]]:
    """JSON-ready rows: incident id, version, recorded_at, hash and the event with its type."""
    return [
        {
            "incident_id": r.incident_id,
            "version": r.version,
            "recorded_at": r.recorded_at.isoformat(),
            "hash": r.hash,
            "event": event_to_dict(r.event),
        }
        for r in records
    ]
