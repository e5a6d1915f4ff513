"""Maintenance windows and silences: which alerts page nobody, and what they held back.

A :class:`~incidentkit.intake.config.Silence` comes from three places, in
this order: the policy (``[[alerts.silences]]``), the API
(:meth:`Silences.add`, kept in store marks so every replica sees it) and the
status capability's maintenances: those stored through
``kit.status.maintenances`` and any a host passes
(:meth:`Silences.use_maintenances`); a maintenance window of components
``{"db"}`` silences alerts whose ``service`` label is ``db``.

A firing alert that would open an incident inside a silence opens none: it
is recorded as *held* (a mark in namespace ``"silenced"`` under its dedup
key, naming the silence) and pages nobody. A resolve of a held alert marks
it resolved. The first ``tick()`` at or after the silence's end takes each
held alert that is still firing through intake again, so an alert still
firing after the window declares (as would the sender's next repeat).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from incidentkit.errors import StoreError, ValidationError
from incidentkit.intake.config import Silence
from incidentkit.intake.heartbeat import SILENCE_NAMESPACE, SILENCED_NAMESPACE
from incidentkit.intake.model import Alert
from incidentkit.serialization import converter
from incidentkit.store import MarkStore, Store

__all__ = ["HeldAlert", "Silences"]

_ATTEMPTS = 16
T = TypeVar("T")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@attrs.frozen
class HeldAlert:
    """An alert a silence held back: ``status`` is ``firing``, ``resolved`` or ``released``.

    ``released`` means it went through intake again after ``ends_at``
    (``incident_id``: the incident it opened or joined, if any).
    """

    alert: Alert
    silence: str
    ends_at: datetime
    held_at: datetime
    status: str = "firing"
    incident_id: str | None = None


class Silences:
    """The silences in force and the alerts they hold (``kit.alerts.silences``' engine)."""

    def __init__(
        self,
        store: Callable[[], Store],
        config: Callable[[], tuple[Silence, ...]],
        stored_maintenances: Callable[[], Iterable[Any]] | None = None,
    ):
        self._store = store
        self._config = config
        self._stored_maintenances = stored_maintenances
        self._checked: MarkStore | None = None
        self._maintenances: Callable[[], Iterable[Any]] | None = None

    def use_maintenances(self, maintenances: Callable[[], Iterable[Any]] | None) -> None:
        """Also read the host's maintenances (a callable returning them) as silences.

        The maintenances stored through ``kit.status.maintenances`` are read
        in any case; one of the host's replaces a stored one of the same id.
        """
        self._maintenances = maintenances

    def _all_maintenances(self) -> list[Any]:
        given = list(self._maintenances()) if self._maintenances is not None else []
        ids = {m.id for m in given}
        stored = list(self._stored_maintenances()) if self._stored_maintenances else []
        return [*(m for m in stored if m.id not in ids), *given]

    def _marks(self, required: bool) -> MarkStore | None:
        store = self._store()
        if store is self._checked:  # a Protocol isinstance check is slow: once per store
            return self._checked
        if isinstance(store, MarkStore):
            self._checked = store
            return store
        if required:
            raise StoreError(
                f"{store.url}: silences and heartbeats need a store with marks "
                "(mark and put_mark); the built-in stores have them"
            )
        return None

    # --- the silences -------------------------------------------------------

    def stored(self) -> list[Silence]:
        """The silences made through the API (:meth:`add`), by name."""
        marks = self._marks(required=False)
        if marks is None:
            return []
        return [_decode(Silence, text) for text in marks.marks(SILENCE_NAMESPACE).values()]

    def maintenance_silences(self, at: datetime) -> list[Silence]:
        """The status maintenances in force at ``at``, as silences of their components."""
        maintenances = self._all_maintenances()
        if not maintenances:
            return []
        from incidentkit.status.maintenance import active_windows

        found = []
        for window in active_windows(maintenances, at):
            if not window.components or window.end <= window.start:
                continue
            name = "maintenance." + _UNSAFE.sub("-", window.maintenance_id)[:80]
            found.append(
                Silence(
                    name=name,
                    starts_at=window.start,
                    ends_at=window.end,
                    services=tuple(sorted(window.components)),
                    reason=f"status maintenance {window.maintenance_id}",
                )
            )
        return found

    def all(self, at: datetime) -> list[Silence]:
        """Every silence known at ``at``: the policy's, the API's, then maintenances."""
        return [*self._config(), *self.stored(), *self.maintenance_silences(at)]

    def covering(self, alert: Alert, at: datetime) -> Silence | None:
        """The first silence that covers ``alert`` arriving ``at``, or ``None``."""
        return next((s for s in self.all(at) if s.covers(alert.labels, at)), None)

    def add(self, silence: Silence) -> Silence:
        """Store ``silence`` for every replica; a name already used is refused."""
        if any(s.name == silence.name for s in self._config()):
            raise ValidationError("name", f"the policy already has a silence {silence.name!r}")
        marks = self._marks(required=True)
        assert marks is not None
        if not marks.put_mark(SILENCE_NAMESPACE, silence.name, _encode(silence), expected=None):
            raise ValidationError("name", f"a silence {silence.name!r} exists already")
        return silence

    def end(self, name: str, at: datetime) -> Silence:
        """End the stored silence ``name`` at ``at`` (the held alerts go on at the next tick)."""
        marks = self._marks(required=True)
        assert marks is not None
        for _ in range(_ATTEMPTS):
            text = marks.mark(SILENCE_NAMESPACE, name)
            if text is None:
                raise ValidationError("name", f"no silence {name!r} made through the API")
            silence = _decode(Silence, text)
            end = max(at, silence.starts_at + timedelta(microseconds=1))
            if end >= silence.ends_at:
                return silence
            ended = attrs.evolve(silence, ends_at=end)
            if marks.put_mark(SILENCE_NAMESPACE, name, _encode(ended), expected=text):
                return ended
        raise StoreError(f"silence {name!r}: it kept changing; not ended")

    # --- the alerts they hold -------------------------------------------------

    def held(self) -> list[HeldAlert]:
        """Every alert a silence held back, by dedup key."""
        marks = self._marks(required=False)
        if marks is None:
            return []
        return [_decode(HeldAlert, text) for text in marks.marks(SILENCED_NAMESPACE).values()]

    def hold(self, alert: Alert, silence: Silence, at: datetime) -> HeldAlert:
        """Record that ``silence`` held ``alert`` back at ``at``."""
        held = HeldAlert(alert, silence.name, silence.ends_at, at)
        self._update(alert.dedup_key, lambda _: held)
        return held

    def resolved(self, alert: Alert) -> None:
        """A resolve of a held alert: it will not declare when its silence ends."""
        self._update(
            alert.dedup_key,
            lambda old: (
                None
                if old is None or old.status != "firing"
                else attrs.evolve(old, status="resolved")
            ),
        )

    def released(self, dedup_key: str, incident_id: str | None) -> None:
        """The held alert went through intake again (it opened or joined ``incident_id``)."""
        self._update(
            dedup_key,
            lambda old: (
                None
                if old is None or old.status == "released"
                else attrs.evolve(old, status="released", incident_id=incident_id)
            ),
        )

    def due(self, at: datetime) -> list[HeldAlert]:
        """The held alerts still firing whose silence ended (or was ended) by ``at``."""
        firing = [h for h in self.held() if h.status == "firing"]
        if not firing:
            return []
        ends = {s.name: s.ends_at for s in self.all(at)}
        return [h for h in firing if min(h.ends_at, ends.get(h.silence, at)) <= at]

    def _update(self, key: str, change: Callable[[HeldAlert | None], HeldAlert | None]) -> None:
        marks = self._marks(required=change(None) is not None)
        if marks is None:
            return
        for _ in range(_ATTEMPTS):
            text = marks.mark(SILENCED_NAMESPACE, key)
            old = None if text is None else _decode(HeldAlert, text)
            new = change(old)
            if new is None:
                return
            if marks.put_mark(SILENCED_NAMESPACE, key, _encode(new), expected=text):
                return
        raise StoreError(f"held alert {key!r}: its mark kept changing")


def _encode(value: object) -> str:
    return json.dumps(converter().unstructure(value), sort_keys=True)


def _decode(cls: type[T], text: str) -> T:
    try:
        return converter().structure(json.loads(text), cls)
    except Exception as err:  # a mark another version wrote: say which
        raise StoreError(f"unreadable {cls.__name__} mark {text[:80]!r}: {err}") from err
