"""Fixtures every test directory shares, built on incidentkit's own pytest plugin.

The plugin (``incidentkit.testing.plugin``, loaded through its ``pytest11``
entry point) provides ``manual_clock``, ``memory_store``, ``sqlite_store``,
``postgres_store``, ``capturing_notifier`` and ``recording_action``; the
shorter names here are what the suites were written against.
"""

from __future__ import annotations

import pytest

from incidentkit.clock import ManualClock
from incidentkit.store import MemoryStore


@pytest.fixture
def clock(manual_clock: ManualClock) -> ManualClock:
    """A manual clock at the guide's example instant (``incidentkit.testing.SAMPLE_TIME``)."""
    return manual_clock


@pytest.fixture
def store(memory_store: MemoryStore) -> MemoryStore:
    """A fresh, migrated in-memory store."""
    return memory_store
