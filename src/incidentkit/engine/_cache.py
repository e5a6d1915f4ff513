"""The engine's bounded cache of folded incident states."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

import attrs

from incidentkit.incident import Incident

__all__ = ["Loaded", "StateCache"]


@attrs.frozen
class Loaded:
    """An incident's folded state and the hash of its newest event (the chain head)."""

    state: Incident
    head_hash: str
    dues: tuple[datetime | None, ...] | None = None
    """Each timer source's ``next_due`` for ``state``, in registration order (``None``: unknown)."""


class StateCache:
    """The newest known state of the most recently used incidents (a bounded LRU).

    Thread-safe. A slower reader never replaces a newer state that a
    concurrent commit stored: the cache never goes backwards.
    """

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[str, Loaded] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, incident_id: str) -> Loaded | None:
        with self._lock:
            entry = self._entries.get(incident_id)
            if entry is not None:
                self._entries.move_to_end(incident_id)
            return entry

    def put(self, incident_id: str, entry: Loaded) -> None:
        with self._lock:
            current = self._entries.get(incident_id)
            if current is None or current.state.version <= entry.state.version:
                self._entries[incident_id] = entry
            self._entries.move_to_end(incident_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, incident_id: str) -> None:
        with self._lock:
            self._entries.pop(incident_id, None)
