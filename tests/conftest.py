"""Fixtures every test directory shares, built on incidentkit's own pytest plugin.

The plugin (``incidentkit.testing.plugin``, loaded through its ``pytest11``
entry point) provides ``manual_clock``, ``memory_store``, ``sqlite_store``,
``postgres_store``, ``capturing_notifier`` and ``recording_action``; the
shorter names here are what the suites were written against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from incidentkit.clock import ManualClock
from incidentkit.engine import Engine, EventHooks, reacting_to
from incidentkit.events import Event, RecordedEvent
from incidentkit.store import MemoryStore


@pytest.fixture
def clock(manual_clock: ManualClock) -> ManualClock:
    """A manual clock at the guide's example instant (``incidentkit.testing.SAMPLE_TIME``)."""
    return manual_clock


@pytest.fixture
def store(memory_store: MemoryStore) -> MemoryStore:
    """A fresh, migrated in-memory store."""
    return memory_store


def _keeping_promise(hook: Callable[..., Any]) -> Callable[..., Any]:
    """``hook`` called for every event, failing the test if it breaks its ``reacts_to``."""
    wanted = reacting_to(hook)
    if wanted is None:
        return hook

    def guarded(*args: Any) -> Any:
        out = hook(*args)
        record = args[-1]
        assert isinstance(record, RecordedEvent)
        if out and not isinstance(record.event, wanted):
            raise AssertionError(
                f"{hook.__qualname__} is marked reacts_to{tuple(w.__name__ for w in wanted)} "
                f"but returned {out!r} for {type(record.event).__name__}"
            )
        return out

    return guarded


@pytest.fixture(autouse=True)
def _hooks_keep_their_reacts_to_promise(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs each route and planner for every event, as if none were marked.

    The engine skips a hook marked with ``reacts_to`` for other events; here it
    is called anyway and must return nothing, so the whole suite checks each
    built-in mark against what the hook really does (the skipping itself is
    tested in ``tests/core/test_reacts_to.py``).
    """

    def every_hook(self: Engine, event: Event) -> EventHooks:
        return EventHooks(
            tuple(map(_keeping_promise, self._routes)),
            tuple(map(_keeping_promise, self._planners)),
            tuple(map(_keeping_promise, self._key_planners)),
        )

    monkeypatch.setattr(Engine, "hooks_for", every_hook)
