"""Timeline queries, renderings and the hash chain.

* :func:`render_chat` prints the guide's chat-log form:
  ``[14:30] alice (IC): Incident declared — SEV1 — API returning 500 errors``;
* :func:`render_review` prints the post-incident review form:
  ``14:30 - Incident declared (SEV1)``;
* :func:`chain_hash` / :func:`verify_chain` chain a timeline: each row's hash
  covers its canonical JSON and the previous row's hash. Without a key it is
  plain SHA-256 (hex); with a :class:`ChainKey` it is HMAC-SHA256, written as
  ``hmac-sha256:<key id>:<hex>`` so a verifier knows which key made it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from json.encoder import encode_basestring as _json_string

import attrs
import cattrs

from incidentkit._time import ensure_aware
from incidentkit.errors import ValidationError
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
from incidentkit.serialization import dumps, event_to_dict, register_hooks

__all__ = [
    "CHAIN_KEY_ENV",
    "GENESIS_HASH",
    "KEYED_PREFIX",
    "ChainCheck",
    "ChainKey",
    "ChainProblem",
    "RecordedEvent",
    "chain_hash",
    "hash_key_id",
    "render_chat",
    "render_review",
    "row_hash",
    "to_json_rows",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The "previous hash" of an incident's first event."""


CHAIN_KEY_ENV = "INCIDENTKIT_CHAIN_KEY"
"""Environment variable holding the chain key (used when the policy sets none)."""

KEYED_PREFIX = "hmac-sha256:"
"""How a keyed row hash starts: ``hmac-sha256:<key id>:<64 hex digits>``."""

_MIN_KEY_BYTES = 16


@attrs.frozen(repr=False)
class ChainKey:
    """A secret for HMAC-SHA256 chain hashes and checkpoint signatures.

    ``key_id`` (16 hex digits) is derived from the secret with HMAC, so it
    names the key in hashes, results and checkpoints without revealing it.
    The ``repr`` shows only the id, and the converter refuses to write or
    read one (the secret never reaches JSON).

    >>> key = ChainKey.from_text("correct horse battery staple", "chain_key")
    >>> key
    ChainKey(key_id='14dbcea588372fb5')
    """

    secret: bytes
    key_id: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        digest = hmac.new(self.secret, b"incidentkit chain key id", hashlib.sha256).hexdigest()
        object.__setattr__(self, "key_id", digest[:16])

    @classmethod
    def from_text(cls, value: object, field: str) -> ChainKey:
        """A key from text (its UTF-8 bytes, at least 16); refuse others naming ``field``."""
        if not isinstance(value, str):
            raise ValidationError(field, f"expected a string, got {type(value).__name__}")
        try:
            secret = value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValidationError(field, f"not encodable as UTF-8: {err.reason}") from err
        if len(secret) < _MIN_KEY_BYTES:
            raise ValidationError(
                field, f"a chain key needs at least {_MIN_KEY_BYTES} bytes, got {len(secret)}"
            )
        return cls(secret)

    @classmethod
    def configured(
        cls, policy_key: str | None, environ: Mapping[str, str] | None = None
    ) -> ChainKey | None:
        """The key from the policy's ``integrity.chain_key`` or ``$INCIDENTKIT_CHAIN_KEY``.

        ``None`` when neither is set; when both are, they must be the same key.

        :raises ValidationError: a key is too short, or the two differ.
        """
        env = (os.environ if environ is None else environ).get(CHAIN_KEY_ENV)
        from_env = None if env is None else cls.from_text(env, f"${CHAIN_KEY_ENV}")
        from_policy = (
            None if policy_key is None else cls.from_text(policy_key, "integrity.chain_key")
        )
        if from_env is not None and from_policy is not None and from_env != from_policy:
            raise ValidationError(
                f"${CHAIN_KEY_ENV}",
                f"differs from the policy's integrity.chain_key (key ids {from_env.key_id} and "
                f"{from_policy.key_id}); set one of them",
            )
        return from_policy or from_env

    def sign(self, purpose: str, text: str) -> str:
        """HMAC-SHA256 (hex) over ``purpose`` and ``text`` (domain-separated)."""
        return hmac.new(self.secret, f"{purpose}\n{text}".encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"ChainKey(key_id={self.key_id!r})"


def _never_serialized(*_: object) -> object:
    raise ValidationError(
        "ChainKey.secret",
        f"a chain key is never serialized; give it as integrity.chain_key or ${CHAIN_KEY_ENV}",
    )


def _refuse_chain_keys(converter: cattrs.Converter) -> None:
    converter.register_unstructure_hook(ChainKey, _never_serialized)
    converter.register_structure_hook(ChainKey, _never_serialized)


register_hooks(_refuse_chain_keys)


def hash_key_id(digest: str) -> str | None:
    """The key id a stored row hash was made with (``None``: plain SHA-256)."""
    if digest.startswith(KEYED_PREFIX):
        return digest[len(KEYED_PREFIX) :].partition(":")[0]
    return None


def chain_hash(
    previous: str,
    incident_id: str,
    version: int,
    recorded_at: datetime,
    payload: str,
    key: ChainKey | None = None,
) -> str:
    """The row hash over the previous hash and this row's canonical JSON.

    SHA-256 in hex without ``key``; ``hmac-sha256:<key id>:<hex>`` with it.
    """
    at = ensure_aware(recorded_at, "recorded_at").isoformat()
    return row_hash(previous, incident_id, version, at, payload, key)


def row_hash(
    previous: str,
    incident_id: str,
    version: int,
    at: str,
    payload: str,
    key: ChainKey | None = None,
) -> str:
    """:func:`chain_hash` with ``recorded_at`` given as its UTC ISO 8601 text.

    The engine formats a command's one instant once for all its events.
    """
    if type(incident_id) is str and type(payload) is str and type(version) is int:
        # The canonical JSON ``dumps`` writes for the dict below (sorted keys, no
        # spaces, UTF-8 kept), assembled from its parts: the payload, already
        # canonical JSON, is escaped once as a JSON string instead of being put
        # into a dict and sorted and encoded again. Byte-identical to ``dumps``.
        row = (
            f'{{"incident_id":{_json_string(incident_id)},"payload":{_json_string(payload)},'
            f'"recorded_at":{_json_string(at)},"version":{version}}}'
        )
    else:
        row = dumps(
            {"incident_id": incident_id, "version": version, "recorded_at": at, "payload": payload}
        )
    message = f"{previous}\n{row}"
    if key is None:
        return hashlib.sha256(message.encode()).hexdigest()
    mac = hmac.new(key.secret, message.encode(), hashlib.sha256).hexdigest()
    return f"{KEYED_PREFIX}{key.key_id}:{mac}"


class ChainProblem(enum.StrEnum):
    """What :meth:`IncidentKit.verify` found wrong (``ChainCheck.problem``)."""

    VERSION_GAP = "version_gap"
    """A version is missing or out of order in the chain."""
    HASH_MISMATCH = "hash_mismatch"
    """A row's stored hash is not the hash of its content and the previous hash."""
    UNKEYED_AFTER_KEYED = "unkeyed_after_keyed"
    """A plain SHA-256 row follows a keyed row (a downgrade)."""
    UNKEYED = "unkeyed"
    """A plain SHA-256 row while the policy sets ``integrity.require_key``."""
    WRONG_KEY = "wrong_key"
    """A row was keyed with a key other than the verifier's (the key ids differ)."""
    NO_KEY = "no_key"
    """A row is keyed but the verifier has no chain key."""
    SUMMARY_MISSING = "summary_missing"
    """The incident has events but no summary row."""
    SUMMARY_MISMATCH = "summary_mismatch"
    """The summary's version, head hash or a recorded field disagrees with the chain."""
    EVENTS_MISSING = "events_missing"
    """The incident has a summary but no events."""
    UNREADABLE = "unreadable"
    """A row verifies but cannot be decoded or applied."""
    MISSING_SINCE_CHECKPOINT = "missing_since_checkpoint"
    """An incident in the checkpoint is gone."""
    ROLLED_BACK = "rolled_back"
    """The incident's version is lower than the checkpoint's."""
    REWRITTEN = "rewritten"
    """The chain's hash at the checkpointed version differs from the checkpoint's."""


@attrs.frozen
class ChainCheck:
    """The outcome of verifying one incident's hash chain.

    ``ok`` is True when every row verifies (and the summary, and the
    checkpoint when one was given, agree); otherwise ``broken_version`` is
    the first version found wrong, ``problem`` says what kind of wrong and
    ``reason`` says it in words. ``version`` and ``head_hash`` are the
    chain's last verified version and hash; ``key_id`` names the key of the
    keyed rows (``None``: all plain SHA-256) and ``unkeyed`` counts the rows
    hashed without a key.
    """

    incident_id: str
    ok: bool
    events: int
    broken_version: int | None = None
    reason: str = ""
    problem: ChainProblem | None = None
    version: int = 0
    head_hash: str | None = None
    key_id: str | None = None
    unkeyed: int = 0

    def __bool__(self) -> bool:
        return self.ok


def verify_chain(
    incident_id: str,
    rows: Iterable[tuple[int, datetime, str, str]],
    *,
    key: ChainKey | None = None,
    require_key: bool = False,
) -> ChainCheck:
    """Check ``(version, recorded_at, payload, hash)`` rows in version order.

    Plain SHA-256 rows verify with or without ``key`` (unless
    ``require_key``); keyed rows need the key whose id they carry, and a plain
    row may not follow a keyed one.
    """
    previous = GENESIS_HASH
    count = 0
    unkeyed = 0
    expected_version = 1
    keyed_id: str | None = None

    def broken(version: int, problem: ChainProblem, reason: str) -> ChainCheck:
        return ChainCheck(
            incident_id,
            False,
            count,
            version,
            reason,
            problem,
            expected_version - 1,
            None if previous == GENESIS_HASH else previous,
            keyed_id,
            unkeyed,
        )

    for version, recorded_at, payload, stored in rows:
        count += 1
        if version != expected_version:
            return broken(
                version,
                ChainProblem.VERSION_GAP,
                f"expected version {expected_version}",
            )
        row_key = hash_key_id(stored)
        if row_key is None:
            if keyed_id is not None:
                return broken(
                    version,
                    ChainProblem.UNKEYED_AFTER_KEYED,
                    f"plain SHA-256 row after rows keyed with key id {keyed_id}",
                )
            if require_key:
                return broken(
                    version, ChainProblem.UNKEYED, "plain SHA-256 row, but a chain key is required"
                )
            computed = chain_hash(previous, incident_id, version, recorded_at, payload)
        elif key is None:
            return broken(
                version,
                ChainProblem.NO_KEY,
                f"row keyed with key id {row_key}, but no chain key is configured "
                f"(set ${CHAIN_KEY_ENV} or integrity.chain_key)",
            )
        elif row_key != key.key_id:
            return broken(
                version,
                ChainProblem.WRONG_KEY,
                f"row keyed with key id {row_key}, but the configured key is {key.key_id}",
            )
        else:
            computed = chain_hash(previous, incident_id, version, recorded_at, payload, key)
        if not hmac.compare_digest(computed, stored):
            return broken(version, ChainProblem.HASH_MISMATCH, "hash does not match the row")
        if row_key is None:
            unkeyed += 1
        else:
            keyed_id = row_key
        previous = stored
        expected_version += 1
    return ChainCheck(
        incident_id,
        True,
        count,
        version=expected_version - 1,
        head_hash=None if previous == GENESIS_HASH else previous,
        key_id=keyed_id,
        unkeyed=unkeyed,
    )


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
