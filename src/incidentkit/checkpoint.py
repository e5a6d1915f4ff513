"""Checkpoints and verification: is the stored timeline what the kit wrote?

:func:`verify_incident` / :func:`verify_incidents` check each incident's hash
chain, that its summary agrees with the chain (version, head hash, the
recorded fields), and optionally that nothing a :class:`Checkpoint` saw has
changed since; :func:`make_checkpoint` builds a checkpoint. ``IncidentKit``'s
``verify``, ``verify_all`` and ``checkpoint`` call these with its engine.

A checkpoint plays the part of a transparency log's signed tree head: it
records, for each incident, the last version and that version's row hash, a
root hash over all of them, the time, and (when a chain key is set) an
HMAC-SHA256 signature. The host stores it somewhere the database's writers
cannot reach (object storage with retention, a ticket, a git repository);
``kit.verify_all(against=checkpoint)`` later reports any incident that has
since disappeared, gone back to a lower version, or whose chain at the
checkpointed version no longer has the recorded hash. Rows appended after
the checkpoint are legitimate growth and are checked by the chain (and the
key) alone.

The JSON document (``Checkpoint.to_json`` / :func:`checkpoint_from_json`)::

    {"format": "incidentkit.checkpoint/1",
     "created_at": "2024-11-20T23:00:00+00:00",
     "incident_count": 1,
     "root_hash": "<sha256 hex>",
     "incidents": [{"incident_id": "INC-A", "version": 9, "head_hash": "..."}],
     "key_id": "<16 hex digits or null>",
     "signature": "<hmac-sha256 hex or null>"}

``root_hash`` is SHA-256 over the canonical JSON of the
``[incident_id, version, head_hash]`` triples sorted by incident id;
``signature`` is HMAC-SHA256 with the chain key over the canonical JSON of
every other field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from incidentkit._time import ensure_aware
from incidentkit.engine import Engine
from incidentkit.errors import (
    CheckpointError,
    IncidentKitError,
    IntegrityError,
    NotFound,
    PolicyError,
    ValidationError,
)
from incidentkit.events import RecordedEvent
from incidentkit.incident import Incident, apply
from incidentkit.serialization import converter, dumps, structure_input
from incidentkit.store import IncidentSummary, StoredEvent, SummaryQuery
from incidentkit.timeline import ChainCheck, ChainKey, ChainProblem, verify_chain

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointEntry",
    "checkpoint_from_json",
    "make_checkpoint",
    "timeline_and_check",
    "verify_incident",
    "verify_incidents",
]

CHECKPOINT_FORMAT = "incidentkit.checkpoint/1"
"""The ``format`` value of the checkpoints this release writes and reads."""

_SIGNING_PURPOSE = "incidentkit checkpoint"


def _positive(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(attribute.name, f"expected an integer >= 1, got {value!r}")


def _non_empty(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(attribute.name, "expected a non-empty string")


@attrs.frozen
class CheckpointEntry:
    """One incident's head: its last version and that row's hash."""

    incident_id: str = attrs.field(validator=_non_empty)
    version: int = attrs.field(validator=_positive)
    head_hash: str = attrs.field(validator=_non_empty)


def root_hash(entries: Sequence[CheckpointEntry]) -> str:
    """SHA-256 (hex) over the canonical JSON of the entries sorted by incident id."""
    triples = sorted([e.incident_id, e.version, e.head_hash] for e in entries)
    return hashlib.sha256(dumps(triples).encode()).hexdigest()


@attrs.frozen
class Checkpoint:
    """A signed head of the whole store; see the module docstring.

    Build one with :meth:`IncidentKit.checkpoint`, store :meth:`to_json`
    elsewhere, read it back with :func:`checkpoint_from_json`.
    """

    format: str
    created_at: datetime
    incident_count: int
    root_hash: str
    incidents: tuple[CheckpointEntry, ...]
    key_id: str | None = None
    signature: str | None = None

    @classmethod
    def build(
        cls, entries: Sequence[CheckpointEntry], created_at: datetime, key: ChainKey | None
    ) -> Checkpoint:
        """A checkpoint over ``entries``, signed with ``key`` when given."""
        ordered = tuple(sorted(entries, key=lambda e: e.incident_id))
        unsigned = cls(
            format=CHECKPOINT_FORMAT,
            created_at=ensure_aware(created_at, "created_at"),
            incident_count=len(ordered),
            root_hash=root_hash(ordered),
            incidents=ordered,
            key_id=None if key is None else key.key_id,
        )
        if key is None:
            return unsigned
        return attrs.evolve(unsigned, signature=key.sign(_SIGNING_PURPOSE, unsigned._signed()))

    def _signed(self) -> str:
        data = converter().unstructure(self)
        data.pop("signature")
        return dumps(data)

    def entry(self, incident_id: str) -> CheckpointEntry | None:
        """The entry for ``incident_id``, or ``None`` when it is not in the checkpoint."""
        for entry in self.incidents:
            if entry.incident_id == incident_id:
                return entry
        return None

    def check(self, key: ChainKey | None) -> None:
        """Refuse a checkpoint that is inconsistent or not signed by ``key``.

        A kit with a chain key accepts only checkpoints signed with that key;
        a kit without one accepts only unsigned checkpoints.

        :raises CheckpointError: naming the field (``$.root_hash``, ``$.signature`` …).
        """
        if self.format != CHECKPOINT_FORMAT:
            raise CheckpointError(
                "$.format", f"expected {CHECKPOINT_FORMAT!r}, got {self.format!r}"
            )
        seen: set[str] = set()
        for index, entry in enumerate(self.incidents):
            if entry.incident_id in seen:
                raise CheckpointError(
                    f"$.incidents[{index}].incident_id", f"{entry.incident_id!r} appears twice"
                )
            seen.add(entry.incident_id)
        if self.incident_count != len(self.incidents):
            raise CheckpointError(
                "$.incident_count",
                f"says {self.incident_count}, but the checkpoint lists {len(self.incidents)}",
            )
        if not hmac.compare_digest(self.root_hash, root_hash(self.incidents)):
            raise CheckpointError("$.root_hash", "does not match the listed incidents")
        if key is None:
            if self.key_id is not None or self.signature is not None:
                raise CheckpointError(
                    "$.key_id",
                    f"the checkpoint is signed with key id {self.key_id}, but no chain key is "
                    "configured to check it",
                )
            return
        if self.key_id is None or self.signature is None:
            raise CheckpointError(
                "$.signature",
                f"the checkpoint is unsigned, but a chain key (key id {key.key_id}) is "
                "configured; make a new checkpoint with the key",
            )
        if self.key_id != key.key_id:
            raise CheckpointError(
                "$.key_id",
                f"the checkpoint is signed with key id {self.key_id}, the configured key is "
                f"{key.key_id}",
            )
        expected = key.sign(_SIGNING_PURPOSE, self._signed())
        if not hmac.compare_digest(self.signature, expected):
            raise CheckpointError("$.signature", "does not match the checkpoint's content")

    def to_json(self) -> str:
        """The checkpoint as an indented JSON document."""
        return json.dumps(converter().unstructure(self), indent=2, sort_keys=True)


def checkpoint_from_json(text: str | bytes) -> Checkpoint:
    """Read a checkpoint document (structure only; :meth:`Checkpoint.check` verifies it).

    :raises CheckpointError: not JSON, a missing or unknown key, or a bad value,
        naming the field.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError("$", f"not JSON: {err}") from err
    if not isinstance(data, dict):
        raise CheckpointError("$", "expected a JSON object")
    try:
        return structure_input(converter(), data, Checkpoint)
    except PolicyError as err:
        path, reason = err.problems[0] if err.problems else ("$", str(err))
        raise CheckpointError(path, reason) from err


# --- verification ----------------------------------------------------------------

#: Summary fields that are a fold of the timeline alone (``next_due_at`` also
#: depends on the policy, so a policy change legitimately moves it).
_RECORDED_FIELDS = tuple(
    f.name for f in attrs.fields(IncidentSummary) if f.name not in ("next_due_at",)
)


def verify_incident(
    engine: Engine, incident_id: str, *, against: Checkpoint | None = None
) -> ChainCheck:
    """Check one incident: its hash chain, its summary, and ``against`` a checkpoint.

    The chain is checked with the engine's chain key (and the policy's
    ``integrity.require_key``); the summary must be the fold of the chain
    (same version, head hash and recorded fields); with ``against``, nothing
    the checkpoint saw may be gone, shorter or different now. The result names
    the first broken version and the kind of problem; a chain made with
    another key, or keyed while the engine has none, is a failed check saying
    so (``problem`` ``wrong_key`` / ``no_key``).

    :raises NotFound: the incident has neither events nor a summary (and is
        not in ``against``).
    :raises CheckpointError: ``against`` is inconsistent or not signed with the engine's key.
    """
    if against is not None:
        against.check(engine.chain_key)
    return _verify(engine, incident_id, against)


def verify_incidents(engine: Engine, *, against: Checkpoint | None = None) -> list[ChainCheck]:
    """:func:`verify_incident` for every incident with events or a summary (or in ``against``)."""
    if against is not None:
        against.check(engine.chain_key)
    ids = set(engine.store.incident_ids())
    ids.update(s.incident_id for s in engine.store.summaries(SummaryQuery()))
    if against is not None:
        ids.update(e.incident_id for e in against.incidents)
    return [_verify(engine, incident_id, against) for incident_id in sorted(ids)]


def make_checkpoint(engine: Engine) -> Checkpoint:
    """A head of every incident in the engine's store, signed with its chain key if any.

    Every incident is verified first: a checkpoint never vouches for a
    timeline that does not verify.

    :raises IntegrityError: some incident does not verify; no checkpoint is made.
    """
    now = engine.now()
    checks = verify_incidents(engine)
    broken = [c for c in checks if not c.ok]
    if broken:
        raise IntegrityError(broken)
    entries = [
        CheckpointEntry(c.incident_id, c.version, c.head_hash)
        for c in checks
        if c.head_hash is not None
    ]
    return Checkpoint.build(entries, now, engine.chain_key)


def timeline_and_check(engine: Engine, incident_id: str) -> tuple[list[RecordedEvent], ChainCheck]:
    """The incident's recorded events and :func:`verify_incident` of them, from one read.

    What a page showing both needs: one load and one decode of the rows
    instead of one each for ``timeline`` and ``verify``.

    :raises NotFound: the incident has no events.
    :raises StoreError: a row does not parse (as ``Engine.timeline``).
    """
    rows = engine.store.load(incident_id)
    if not rows:
        raise NotFound("incident", incident_id)
    records = [engine.decode(row) for row in rows]
    return records, _verify(engine, incident_id, None, rows, records)


def _verify(
    engine: Engine,
    incident_id: str,
    against: Checkpoint | None,
    rows: Sequence[StoredEvent] | None = None,
    records: Sequence[RecordedEvent] | None = None,
) -> ChainCheck:
    """``rows`` (and their decoded ``records``), when given, are the incident's rows just read."""
    if rows is None:
        rows = engine.store.load(incident_id)
    summary = engine.store.summary(incident_id)
    entry = against.entry(incident_id) if against is not None else None
    if not rows and summary is None and entry is None:
        raise NotFound("incident", incident_id)
    check = verify_chain(
        incident_id,
        ((r.version, r.recorded_at, r.payload, r.hash) for r in rows),
        key=engine.chain_key,
        require_key=engine.policy.integrity.require_key,
    )
    if check.ok and (rows or summary is not None):
        check = _check_summary(engine, check, rows, summary, records)
    if check.ok and entry is not None:
        check = _check_against(check, rows, entry)
    return check


def _broken(check: ChainCheck, version: int, problem: ChainProblem, reason: str) -> ChainCheck:
    return attrs.evolve(check, ok=False, broken_version=version, problem=problem, reason=reason)


def _check_summary(
    engine: Engine,
    check: ChainCheck,
    rows: Sequence[StoredEvent],
    summary: IncidentSummary | None,
    records: Sequence[RecordedEvent] | None = None,
) -> ChainCheck:
    """The summary must be the fold of the chain: same version, head hash and fields.

    ``records``, when given, are ``rows`` decoded (they are not decoded again).
    """
    if not rows:
        assert summary is not None
        return _broken(
            check,
            1,
            ChainProblem.EVENTS_MISSING,
            f"the summary says version {summary.version}, but the incident has no events",
        )
    if summary is None:
        return _broken(
            check,
            check.version,
            ChainProblem.SUMMARY_MISSING,
            "the incident has events but no summary",
        )
    if summary.version > check.version:
        return _broken(
            check,
            check.version + 1,
            ChainProblem.SUMMARY_MISMATCH,
            f"the summary says version {summary.version}, but the chain ends at "
            f"{check.version} (rows missing from the end)",
        )
    if summary.version < check.version:
        return _broken(
            check,
            summary.version + 1,
            ChainProblem.SUMMARY_MISMATCH,
            f"the chain goes on to version {check.version} past the summary's version "
            f"{summary.version} (rows appended outside the kit)",
        )
    if summary.head_hash != check.head_hash:
        return _broken(
            check,
            check.version,
            ChainProblem.SUMMARY_MISMATCH,
            "the summary records no head hash"
            if summary.head_hash is None
            else "the summary's head hash does not match the chain's",
        )
    state: Incident | None = None
    for index, row in enumerate(rows):
        try:
            state = apply(state, engine.decode(row) if records is None else records[index])
        except (IncidentKitError, ValueError) as err:
            return _broken(check, row.version, ChainProblem.UNREADABLE, str(err))
    assert state is not None
    folded = engine.summary(state, check.head_hash)
    for name in _RECORDED_FIELDS:
        stored, expected = getattr(summary, name), getattr(folded, name)
        if stored != expected:
            return _broken(
                check,
                check.version,
                ChainProblem.SUMMARY_MISMATCH,
                f"the summary's {name} is {stored!r}, the timeline says {expected!r}",
            )
    return check


def _check_against(
    check: ChainCheck, rows: Sequence[StoredEvent], entry: CheckpointEntry
) -> ChainCheck:
    """Nothing the checkpoint saw may be gone, shorter or different now."""
    if not rows:
        return _broken(
            check,
            1,
            ChainProblem.MISSING_SINCE_CHECKPOINT,
            f"the checkpoint has it at version {entry.version}; it is gone",
        )
    if check.version < entry.version:
        return _broken(
            check,
            check.version + 1,
            ChainProblem.ROLLED_BACK,
            f"the checkpoint has it at version {entry.version}; it is at {check.version} now",
        )
    if rows[entry.version - 1].hash != entry.head_hash:
        return _broken(
            check,
            entry.version,
            ChainProblem.REWRITTEN,
            f"the hash at version {entry.version} differs from the checkpoint's: "
            "rewritten since the checkpoint",
        )
    return check
