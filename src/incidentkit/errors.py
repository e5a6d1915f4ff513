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
  (:class:`StoreError`, :class:`PluginError`).

A refused command never appends anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ChainKeyError",
    "CheckpointError",
    "ConcurrencyConflict",
    "GuardFailed",
    "IncidentKitError",
    "IntegrityError",
    "InvalidTransition",
    "NotFound",
    "PermanentFailure",
    "PermissionDenied",
    "PluginError",
    "PolicyError",
    "StoreError",
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


class PluginError(IncidentKitError):
    """A plugin is malformed or clashes with another; ``plugin`` names it."""

    def __init__(self, plugin: str, reason: str) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(f"plugin {plugin}: {reason}")


class PermanentFailure(IncidentKitError):
    """Raised by a notifier or action when retrying cannot help (bad address, 4xx)."""


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
