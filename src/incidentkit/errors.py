"""The exceptions incidentkit raises.

Every error derives from :class:`IncidentKitError`. Each carries its context as
attributes and builds its own message, so callers can branch on data rather
than parse text.

Two families are kept apart:

* **definition errors** (:class:`PolicyError`): a policy, schedule or table is
  wrong; found when it is loaded, before anything runs;
* **run-time errors**: a command was refused (:class:`InvalidTransition`,
  :class:`GuardFailed`, :class:`PermissionDenied`, :class:`ValidationError`),
  lost a race (:class:`ConcurrencyConflict`), named something unknown
  (:class:`NotFound`) or met a broken store or plugin
  (:class:`StoreError`, :class:`PluginError`). :class:`OutcomeUnknown` is
  the one store error after which the write may have happened: retry with
  the same ``idempotency_key`` to learn which;
* **delivery outcomes** a notifier or action raises
  (:class:`PermanentFailure`, :class:`TransientFailure`), a refused call
  through an open circuit breaker (:class:`CircuitOpen`) and a missing
  optional dependency (:class:`MissingExtra`).

The old homes (``incidentkit.notify.TransientFailure``,
``incidentkit.mitigation.CircuitOpen``, ``incidentkit.oncall.MissingExtra``)
re-export the same classes.

A refused command never appends anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "ChainKeyError",
    "CheckpointError",
    "CircuitOpen",
    "ConcurrencyConflict",
    "DuplicateCommand",
    "GuardFailed",
    "IncidentKitError",
    "IntegrityError",
    "InvalidTransition",
    "KeyTaken",
    "MissingExtra",
    "NotFound",
    "OutcomeUnknown",
    "PayloadInvalid",
    "PermanentFailure",
    "PermissionDenied",
    "PluginError",
    "PolicyError",
    "ReservedEvent",
    "RunbookError",
    "SignatureInvalid",
    "StoreError",
    "TransientFailure",
    "UnsupportedPayload",
    "ValidationError",
]


class IncidentKitError(Exception):
    """Root of every error raised by incidentkit."""


class ValidationError(IncidentKitError, ValueError):
    """An input value was refused.

    ``field`` names the offending input (``"started_at"``, ``"title"``,
    ``"$.severity.levels[2].response_target"``) and ``reason`` says why.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid {field}: {reason}")


class ReservedEvent(ValidationError):
    """An event that only the kit itself writes (a timer firing, a delivery outcome,
    a capability's event that no command records) was handed to a public write
    path such as ``IncidentKit.record``.

    ``field`` is its position (``"events[2]"``) and ``tag`` its event kind.
    """

    def __init__(self, field: str, tag: str, reason: str) -> None:
        self.tag = tag
        super().__init__(field, f"{tag!r} events are written only by the kit ({reason})")


class PayloadInvalid(ValidationError):
    """An alert payload was refused: every problem, by key path (a host answers 400).

    ``problems`` lists ``(path, reason)`` pairs such as
    ``("$.alerts[0].startsAt", "not an RFC 3339 date-time")``; ``field`` is the
    first problem's path and ``source`` names the adapter that refused it.
    """

    def __init__(self, source: str, problems: Iterable[tuple[str, str]]) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems) or (("$", "refused"),)
        self.source = source
        super().__init__(self.problems[0][0], self.problems[0][1])
        lines = "; ".join(f"{path}: {reason}" for path, reason in self.problems)
        self.args = (f"invalid {source} payload: {lines}",)


class UnsupportedPayload(PayloadInvalid):
    """A payload no adapter understands (an unknown format or Alertmanager version)."""


class KeyTaken(IncidentKitError):
    """An append claimed an open key that another incident holds; nothing was written.

    ``namespace`` and ``key`` name the key (see :class:`incidentkit.store.KeyClaim`)
    and ``holder`` the incident that holds it open.
    """

    def __init__(self, namespace: str, key: str, holder: str) -> None:
        self.namespace = namespace
        self.key = key
        self.holder = holder
        super().__init__(f"{namespace} key {key!r} is held open by incident {holder}")


class PolicyError(IncidentKitError, ValueError):
    """A policy, schedule or transition table is malformed (definition time).

    ``problems`` lists ``(path, reason)`` pairs; ``path`` is a key path such as
    ``$.severity.levels[2].response_target`` and ``source`` names the file when
    the policy came from one.
    """

    def __init__(self, problems: Iterable[tuple[str, str]], source: str | None = None) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "; ".join(f"{path}: {reason}" for path, reason in self.problems)
        super().__init__(f"invalid policy{where}: {lines}")


class RunbookError(IncidentKitError, ValueError):
    """A runbook directory was refused at load time; nothing of it was loaded.

    ``problems`` lists every error, each a
    :class:`~incidentkit.runbooks.RunbookProblem` with its ``file``, 1-based
    ``line``, ``field`` and ``reason``.
    """

    def __init__(self, problems: Iterable[Any]) -> None:
        self.problems: tuple[Any, ...] = tuple(problems)
        lines = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the runbooks: {lines}")


class InvalidTransition(IncidentKitError):
    """A command is not allowed from the incident's current state."""

    def __init__(
        self,
        incident_id: str,
        action: str,
        current: str,
        allowed: Sequence[str] = (),
    ) -> None:
        self.incident_id = incident_id
        self.action = action
        self.current = current
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "nothing"
        super().__init__(
            f"cannot {action} incident {incident_id} while it is {current!r} "
            f"(allowed: {allowed_text})"
        )


class GuardFailed(IncidentKitError):
    """A command's preconditions do not hold; ``reasons`` lists each one."""

    def __init__(self, incident_id: str, action: str, reasons: Sequence[str]) -> None:
        self.incident_id = incident_id
        self.action = action
        self.reasons = tuple(reasons)
        super().__init__(f"cannot {action} incident {incident_id}: " + "; ".join(self.reasons))


class PermissionDenied(IncidentKitError, PermissionError):
    """The actor may not perform the action on the incident."""

    def __init__(self, incident_id: str, actor: str, action: str, reason: str) -> None:
        self.incident_id = incident_id
        self.actor = actor
        self.action = action
        self.reason = reason
        super().__init__(f"{actor} may not {action} incident {incident_id}: {reason}")


class ConcurrencyConflict(IncidentKitError):
    """An append expected a version that is no longer the latest.

    Nothing was written. Reload the incident and retry the command.
    """

    def __init__(self, incident_id: str, expected: int, actual: int) -> None:
        self.incident_id = incident_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"incident {incident_id} is at version {actual}, not the expected {expected}"
        )


class NotFound(IncidentKitError, LookupError):
    """A named thing (incident, role, checklist item, plugin …) does not exist."""

    def __init__(self, kind: str, key: str, known: Sequence[str] = ()) -> None:
        self.kind = kind
        self.key = key
        self.known = tuple(known)
        hint = f" (known: {', '.join(self.known)})" if self.known else ""
        super().__init__(f"no {kind} {key!r}{hint}")


class StoreError(IncidentKitError):
    """The store failed or holds data it cannot read; nothing partial was written."""


class OutcomeUnknown(StoreError):
    """An append may or may not have been committed (the connection died after COMMIT left).

    Nothing can be promised either way. ``command_id`` names the command (the
    ``idempotency_key`` the caller gave, or the one the kit generated): call
    the same command again with ``idempotency_key=command_id`` and the kit
    returns what it committed, or runs it once if it did not.
    """

    def __init__(self, incident_id: str, reason: str, command_id: str | None = None) -> None:
        self.incident_id = incident_id
        self.reason = reason
        self.command_id = command_id
        retry = (
            f"; retry with idempotency_key={command_id!r} to get the committed result"
            if command_id
            else "; reload the incident before retrying"
        )
        super().__init__(f"outcome unknown for incident {incident_id}: {reason}{retry}")


class DuplicateCommand(IncidentKitError):
    """A store refused an append whose command id it already holds; nothing was written.

    Raised by :meth:`Store.append <incidentkit.store.Store.append>`; the kit
    catches it and returns what the earlier append of that command committed.
    """

    def __init__(self, command_id: str) -> None:
        self.command_id = command_id
        super().__init__(f"command {command_id!r} was already recorded; nothing was written")


class PluginError(IncidentKitError):
    """A plugin is malformed or clashes with another; ``plugin`` names it."""

    def __init__(self, plugin: str, reason: str) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(f"plugin {plugin}: {reason}")


class PermanentFailure(IncidentKitError):
    """Raised by a notifier or action when retrying cannot help (bad address, 4xx)."""


class TransientFailure(IncidentKitError):
    """A delivery failed in a way that retrying may fix (429, 5xx, a refused connection).

    ``retry_after`` is the delay the receiver asked for (an HTTP ``Retry-After``
    header), or ``None``; the relay waits at least that long before the next
    attempt. ``status`` is the HTTP or SMTP status code when there was one.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: timedelta | None = None,
        status: int | None = None,
    ) -> None:
        self.reason = reason
        self.retry_after = retry_after
        self.status = status
        hint = f" (retry after {retry_after.total_seconds():g}s)" if retry_after else ""
        super().__init__(f"{reason}{hint}")


class CircuitOpen(IncidentKitError):
    """A call was refused because the breaker ``name`` is open.

    ``retry_at`` is when the breaker lets a trial call through, or ``None``
    when it was opened by hand (it stays open until closed).
    """

    def __init__(self, name: str, retry_at: datetime | None) -> None:
        self.name = name
        self.retry_at = retry_at
        when = f"until {retry_at.isoformat()}" if retry_at else "until closed by hand"
        super().__init__(f"circuit breaker {name!r} is open {when}")


class MissingExtra(IncidentKitError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the {module!r} package: pip install 'incidentkit[{extra}]'"
        )


class SignatureInvalid(ValidationError):
    """A received webhook is refused: forged, altered, replayed or malformed.

    ``field`` names the header (``X-Incidentkit-Signature``,
    ``X-Incidentkit-Timestamp``, ``Idempotency-Key`` …) or ``body``; a host
    answers it with HTTP 400, never 500.
    """


class CheckpointError(ValidationError):
    """A checkpoint document is malformed, inconsistent or wrongly signed.

    ``field`` is the key path in the document (``$.incidents[0].version``,
    ``$.signature``) and ``reason`` says what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.args = (f"invalid checkpoint {field}: {reason}",)


class ChainKeyError(IncidentKitError):
    """This kit's chain key cannot extend an incident's chain (missing or another key).

    Nothing is appended: a replica without the key (or with another one) would
    otherwise write rows that every keyed verifier reports as broken.
    """

    def __init__(self, incident_id: str, chain_key_id: str, own_key_id: str | None) -> None:
        self.incident_id = incident_id
        self.chain_key_id = chain_key_id
        self.own_key_id = own_key_id
        mine = f"key id {own_key_id}" if own_key_id else "no chain key"
        super().__init__(
            f"incident {incident_id} is chained with key id {chain_key_id}, but this kit has "
            f"{mine}; nothing was written"
        )


class IntegrityError(IncidentKitError):
    """The stored timeline does not verify, so the kit refuses to vouch for it.

    Raised by :meth:`~incidentkit.IncidentKit.checkpoint`; ``checks`` holds the
    failing :class:`~incidentkit.timeline.ChainCheck` results.
    """

    def __init__(self, checks: Sequence[object]) -> None:
        self.checks = tuple(checks)
        names = "; ".join(
            f"{getattr(c, 'incident_id', '?')} at version {getattr(c, 'broken_version', '?')}: "
            f"{getattr(c, 'reason', c)}"
            for c in self.checks[:3]
        )
        super().__init__(f"{len(self.checks)} incident(s) do not verify: {names}")
